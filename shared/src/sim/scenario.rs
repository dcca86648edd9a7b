//! Scenarios as data: a cluster shape and a list of steps (client requests, crashes,
//! partitions, link faults, waits), serde-readable so the UI and the tests share them, and the
//! built-in ones that show Raft's classic situations.
//!
//! Where a step names a member it may also say `leader` (the running leader with the highest
//! term), `follower` (the first running follower) or `stopped` (the first crashed member),
//! resolved when the step runs.

use raft::StateRole;
use serde::{Deserialize, Serialize};

use super::network::LinkFaults;
use super::rng::Rng;
use super::{ClientOp, SimConfig, Simulator};

/// One step of a scenario.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// Lets `ms` of virtual time pass.
    Wait {
        ms: u64,
    },
    /// A client put, to `member` (any running member if absent).
    Put {
        key: String,
        value: String,
        member: Option<String>,
    },
    Get {
        key: String,
        member: Option<String>,
        /// etcd's `--consistency=s`: the member's own, possibly stale, state.
        #[serde(default)]
        serializable: bool,
    },
    Delete {
        key: String,
        member: Option<String>,
    },
    /// Put `value` if the key holds `expect` (absent when `None`).
    Cas {
        key: String,
        expect: Option<String>,
        value: String,
        member: Option<String>,
    },
    MemberAdd {
        name: String,
    },
    MemberRemove {
        member: String,
    },
    Kill {
        member: String,
    },
    Restart {
        member: String,
    },
    /// Makes the member start an election now.
    Campaign {
        member: String,
    },
    /// Members in different groups cannot talk; members in no group form one more group.
    Partition {
        groups: Vec<Vec<String>>,
    },
    /// Removes the partition and every link fault.
    Heal,
    /// Sets the faults of the link `from → to` (`None`: back to the default).
    Link {
        from: String,
        to: String,
        faults: Option<LinkFaults>,
    },
    /// Sets the faults of every link without its own.
    Faults {
        faults: LinkFaults,
    },
}

/// A named cluster shape and its steps.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Scenario {
    pub name: String,
    pub description: String,
    pub config: SimConfig,
    pub steps: Vec<Action>,
}

impl Simulator {
    /// Runs one step; a client step returns its request id.
    pub fn apply(&mut self, action: &Action) -> Result<Option<u64>, String> {
        let client = |sim: &mut Simulator, op, member: &Option<String>| {
            let target = member.as_deref().map(|m| sim.resolve(m)).transpose()?;
            Ok(Some(sim.client(op, target.as_deref())))
        };
        match action {
            Action::Wait { ms } => self.step_ms(*ms),
            Action::Put { key, value, member } => {
                let op = ClientOp::Put {
                    key: key.clone(),
                    value: value.clone(),
                };
                return client(self, op, member);
            }
            Action::Get {
                key,
                member,
                serializable,
            } => {
                let op = ClientOp::Get {
                    key: key.clone(),
                    serializable: *serializable,
                };
                return client(self, op, member);
            }
            Action::Delete { key, member } => {
                return client(self, ClientOp::Delete { key: key.clone() }, member);
            }
            Action::Cas {
                key,
                expect,
                value,
                member,
            } => {
                let op = ClientOp::Cas {
                    key: key.clone(),
                    expect: expect.clone(),
                    value: value.clone(),
                };
                return client(self, op, member);
            }
            Action::MemberAdd { name } => {
                return client(self, ClientOp::MemberAdd { name: name.clone() }, &None);
            }
            Action::MemberRemove { member } => {
                let name = self.resolve(member)?;
                return client(self, ClientOp::MemberRemove { name }, &None);
            }
            Action::Kill { member } => self.kill(&self.resolve(member)?)?,
            Action::Restart { member } => self.restart(&self.resolve(member)?)?,
            Action::Campaign { member } => self.campaign(&self.resolve(member)?)?,
            Action::Partition { groups } => {
                let groups = groups
                    .iter()
                    .map(|g| g.iter().map(|m| self.resolve(m)).collect())
                    .collect::<Result<Vec<Vec<String>>, String>>()?;
                self.partition(&groups)?;
            }
            Action::Heal => self.heal(),
            Action::Link { from, to, faults } => {
                self.set_link(&self.resolve(from)?, &self.resolve(to)?, *faults)?;
            }
            Action::Faults { faults } => self.set_faults(*faults),
        }
        Ok(None)
    }

    /// Runs every step of `scenario` (built with [`Simulator::new`] from its config).
    pub fn play(&mut self, scenario: &Scenario) -> Result<(), String> {
        for (i, step) in scenario.steps.iter().enumerate() {
            self.apply(step)
                .map_err(|e| format!("{}, step {} ({step:?}): {e}", scenario.name, i + 1))?;
        }
        Ok(())
    }

    /// A member's name from a name or `leader` / `follower` / `stopped`.
    fn resolve(&self, member: &str) -> Result<String, String> {
        let members = self.members();
        let found = match member {
            "leader" => self.leader(),
            "follower" => members
                .into_iter()
                .find(|m| m.status.is_some_and(|s| s.role == StateRole::Follower))
                .map(|m| m.name),
            "stopped" => members
                .into_iter()
                .find(|m| !m.running && !m.removed)
                .map(|m| m.name),
            name => members.into_iter().find(|m| m.name == name).map(|m| m.name),
        };
        found.ok_or(format!("no member is {member}"))
    }
}

fn wait(ms: u64) -> Action {
    Action::Wait { ms }
}

fn put(key: &str, value: &str, member: Option<&str>) -> Action {
    Action::Put {
        key: key.into(),
        value: value.into(),
        member: member.map(String::from),
    }
}

fn get(key: &str, member: Option<&str>) -> Action {
    Action::Get {
        key: key.into(),
        member: member.map(String::from),
        serializable: false,
    }
}

fn kill(member: &str) -> Action {
    Action::Kill {
        member: member.into(),
    }
}

fn restart(member: &str) -> Action {
    Action::Restart {
        member: member.into(),
    }
}

/// Time for a first leader to be elected (election timeouts are 1–2 s by default).
const ELECT: u64 = 3_000;

fn scenario(name: &str, description: &str, config: SimConfig, steps: Vec<Action>) -> Scenario {
    Scenario {
        name: name.into(),
        description: description.into(),
        config,
        steps,
    }
}

fn members(n: usize) -> SimConfig {
    SimConfig {
        members: n,
        ..SimConfig::default()
    }
}

/// The built-in scenarios.
pub fn builtin() -> Vec<Scenario> {
    vec![
        scenario(
            "normal_replication",
            "Three members elect a leader; writes replicate, commit and apply everywhere.",
            members(3),
            vec![
                wait(ELECT),
                put("k1", "v1", None),
                put("k2", "v2", None),
                put("k3", "v3", None),
                wait(500),
                get("k1", Some("follower")),
                wait(500),
            ],
        ),
        scenario(
            "leader_crash",
            "The leader crashes; the others notice the silence, elect a new leader and go on.",
            members(3),
            vec![
                wait(ELECT),
                put("k", "before", Some("leader")),
                wait(500),
                kill("leader"),
                wait(ELECT),
                put("k", "after", Some("leader")),
                wait(500),
                get("k", None),
                wait(500),
            ],
        ),
        scenario(
            "split_vote",
            "The leader crashes and both survivors campaign at once (no pre-vote): each votes \
             for itself, nobody wins that term; randomized timeouts settle it in a later term.",
            SimConfig {
                pre_vote: false,
                ..members(3)
            },
            vec![
                wait(ELECT),
                kill("leader"),
                Action::Campaign {
                    member: "follower".into(),
                },
                Action::Campaign {
                    member: "follower".into(),
                },
                wait(2 * ELECT),
                put("k", "v", Some("leader")),
                wait(500),
            ],
        ),
        scenario(
            "minority_leader",
            "The leader and one follower are cut off from the other three: the old leader takes \
             a write it can never commit, the majority elects a new leader and commits; after \
             the heal the old leader's entry is rolled back.",
            members(5),
            vec![
                wait(ELECT),
                Action::Partition {
                    groups: vec![vec!["leader".into(), "follower".into()]],
                },
                put("k", "minority", Some("leader")),
                wait(ELECT),
                put("k", "majority", Some("leader")),
                wait(500),
                Action::Heal,
                wait(ELECT),
                get("k", None),
                wait(500),
            ],
        ),
        scenario(
            "snapshot_catch_up",
            "A follower is down while the log moves on and is compacted (snapshot count 5): \
             on restart the leader sends it a snapshot instead of entries.",
            SimConfig {
                snapshot_count: 5,
                ..members(3)
            },
            {
                let mut steps = vec![wait(ELECT), kill("follower")];
                for i in 0..20 {
                    steps.push(put(&format!("k{i}"), &format!("v{i}"), Some("leader")));
                    steps.push(wait(50));
                }
                steps.extend([restart("stopped"), wait(ELECT)]);
                steps
            },
        ),
        scenario(
            "member_add_remove",
            "A fourth member joins (catching up from the leader), then a follower leaves.",
            members(3),
            vec![
                wait(ELECT),
                put("k", "v1", None),
                Action::MemberAdd { name: "m4".into() },
                wait(ELECT),
                put("k", "v2", None),
                Action::MemberRemove {
                    member: "follower".into(),
                },
                wait(ELECT),
                put("k", "v3", Some("leader")),
                wait(500),
            ],
        ),
        scenario(
            "two_member_quorum_loss",
            "Two members need both for a quorum: with one down nothing commits, the survivor \
             loses leadership; when it comes back the cluster works again.",
            members(2),
            vec![
                wait(ELECT),
                put("k", "v1", None),
                wait(500),
                kill("follower"),
                put("k", "v2", None),
                wait(2 * ELECT),
                restart("stopped"),
                wait(ELECT),
                put("k", "v3", None),
                wait(1_000),
            ],
        ),
    ]
}

/// A random fault schedule of `operations` steps over a random cluster, all drawn from `seed`:
/// client requests on a few keys, crashes and restarts, partitions, link faults and heals,
/// members added and removed, then a heal, every member back and a final read of every key.
pub fn random(seed: u64, operations: usize) -> Scenario {
    let mut rng = Rng::new(seed ^ 0x5ce9_a810);
    let n = if rng.chance(0.5) { 3 } else { 5 };
    let faults = LinkFaults {
        min_delay_ms: 1,
        max_delay_ms: rng.range(1, 30),
        loss: rng.range(0, 5) as f64 / 100.0,
        duplicate: rng.range(0, 5) as f64 / 100.0,
    };
    let config = SimConfig {
        members: n,
        pre_vote: rng.chance(0.8),
        snapshot_count: [100, 10_000][rng.index(2)],
        faults,
        ..SimConfig::default()
    };
    let keys = ["a", "b", "c"];
    let name = |rng: &mut Rng| format!("m{}", rng.range(1, n as u64));
    let mut steps = vec![wait(ELECT)];
    for i in 0..operations {
        let key = keys[rng.index(keys.len())].to_string();
        let member = rng.chance(0.3).then(|| "leader".to_string());
        steps.push(match rng.range(0, 99) {
            0..=29 => Action::Put {
                key,
                value: format!("v{i}"),
                member,
            },
            30..=54 => Action::Get {
                key,
                member,
                serializable: false,
            },
            55..=59 => Action::Delete { key, member },
            60..=69 => Action::Cas {
                key,
                expect: rng
                    .chance(0.8)
                    .then(|| format!("v{}", rng.range(0, i as u64))),
                value: format!("v{i}"),
                member,
            },
            70..=73 => kill(&name(&mut rng)),
            74..=79 => restart("stopped"),
            80..=83 => {
                let mut group: Vec<String> = (1..=n).map(|m| format!("m{m}")).collect();
                group.retain(|_| rng.chance(0.5));
                Action::Partition {
                    groups: vec![group],
                }
            }
            84..=88 => Action::Heal,
            89..=92 => Action::Link {
                from: name(&mut rng),
                to: name(&mut rng),
                faults: Some(LinkFaults {
                    min_delay_ms: rng.range(1, 50),
                    max_delay_ms: rng.range(50, 300),
                    loss: rng.range(0, 50) as f64 / 100.0,
                    duplicate: rng.range(0, 20) as f64 / 100.0,
                }),
            },
            93 => Action::MemberAdd {
                name: format!("m{}", n + 1 + i),
            },
            94 => Action::MemberRemove {
                member: "follower".into(),
            },
            _ => wait(rng.range(500, 3_000)),
        });
        steps.push(wait(rng.range(0, 150)));
    }
    steps.push(Action::Heal);
    steps.extend((0..n).map(|_| restart("stopped")));
    steps.push(wait(2 * ELECT));
    steps.extend(keys.iter().map(|k| get(k, Some("leader"))));
    steps.push(wait(1_000));
    scenario(
        &format!("random_{seed}"),
        "A random fault schedule",
        config,
        steps,
    )
}

/// Steps of the random schedule that [`named`] gives for `random`.
pub const RANDOM_OPERATIONS: usize = 100;

/// The scenario a user names: a built-in one (`leader_crash`, or `leader-crash` as in a URL)
/// or `random` (a schedule of [`RANDOM_OPERATIONS`] steps drawn from `seed`).
pub fn named(name: &str, seed: u64) -> Result<Scenario, String> {
    let name = name.replace('-', "_");
    if name == "random" {
        return Ok(random(seed, RANDOM_OPERATIONS));
    }
    builtin()
        .into_iter()
        .find(|s| s.name == name)
        .ok_or_else(|| {
            let known: Vec<String> = builtin().into_iter().map(|s| s.name).collect();
            format!("no scenario {name:?}; known: {}, random", known.join(", "))
        })
}
