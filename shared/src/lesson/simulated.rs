//! Which lessons the simulator ([`crate::sim`]) can run, derived from what they use: a
//! lesson is simulated when it needs no TLS and no sample, every step's goal can be seen on a
//! simulated cluster, every scenario is one the simulator does (it has no pause), and every
//! command is one [`parse_command`] understands. The page's demo and `lesson verify` both ask
//! [`support`], so they agree on which lessons run without a lab.
//!
//! Commands are read as a student types them, for the lab's default addresses: `etcdctl`
//! `put`, `get` (also `--consistency=s`), `del`, `member list`, `endpoint health` and
//! `endpoint status`, with `--endpoints`, `-w`, `--dial-timeout` and `--command-timeout`, and
//! `etcdlab lab kill|restart|campaign <member>`. Anything else (a prefix read, a lease, a
//! watch, a snapshot, a shell pipeline) needs a real lab.

use crate::sim::ClientOp;

use super::file::Lesson;
use super::goal::{Goal, KeyScope};
use super::scenario::{MemberRef, ScenarioAction};

/// A command, as the simulator carries it out.
#[derive(Clone, Debug, PartialEq)]
pub enum SimCommand {
    /// A key-value request to the first running member of `members`.
    Kv {
        op: ClientOp,
        members: Vec<String>,
        /// `--command-timeout`, in milliseconds.
        timeout_ms: Option<u64>,
    },
    /// `endpoint health` (every member answers a read: it runs and a leader is known) or
    /// `endpoint status` (every member runs).
    Endpoints { health: bool, members: Vec<String> },
    /// `member list`, answered by the first running member of `members`.
    MemberList { members: Vec<String> },
    /// `etcdlab lab <verb> <member>`.
    Lab(ScenarioAction),
}

/// The member a lesson's default address names: `127.0.0.1:2379` is m1, `:12379` m2, ...
fn member_at(endpoint: &str) -> Result<String, String> {
    let address = endpoint
        .strip_prefix("http://")
        .unwrap_or(endpoint)
        .trim_end_matches('/');
    let port = address
        .strip_prefix("127.0.0.1:")
        .and_then(|p| p.parse::<u32>().ok())
        .filter(|p| *p >= 2379 && (p - 2379) % 10_000 == 0)
        .ok_or_else(|| format!("{endpoint} is not one of the lab's default addresses"))?;
    Ok(format!("m{}", (port - 2379) / 10_000 + 1))
}

/// `3s`, `500ms` → milliseconds.
fn duration_ms(text: &str) -> Result<u64, String> {
    let (number, unit) = match text.strip_suffix("ms") {
        Some(number) => (number, 1),
        None => (text.strip_suffix('s').unwrap_or(text), 1000),
    };
    number
        .parse::<u64>()
        .map(|n| n * unit)
        .map_err(|_| format!("{text} is not a duration"))
}

/// Parses a step's command (placeholders filled in or not) for the simulator; the error says
/// what a simulated cluster cannot do.
pub fn parse_command(text: &str) -> Result<SimCommand, String> {
    if text.contains(['|', '&', ';', '$', '\'', '"', '>', '<']) {
        return Err("a shell construct is not simulated".into());
    }
    let mut words = text.split_whitespace().peekable();
    while let Some(assignment) = words.next_if(|w| w.contains('=') && !w.starts_with('-')) {
        if assignment != "ETCDCTL_API=3" {
            return Err(format!("{assignment} is not simulated"));
        }
    }
    match words.next() {
        Some("etcdlab") => {
            let rest: Vec<&str> = words.collect();
            let action = match rest.as_slice() {
                ["lab", "kill", m] => ScenarioAction::Kill(named(m)),
                ["lab", "restart", m] => ScenarioAction::Restart(named(m)),
                ["lab", "campaign", m] => ScenarioAction::Campaign(named(m)),
                _ => return Err(format!("`etcdlab {}` is not simulated", rest.join(" "))),
            };
            Ok(SimCommand::Lab(action))
        }
        Some("etcdctl") => etcdctl(words.collect()),
        _ => Err("only etcdctl and `etcdlab lab` commands are simulated".into()),
    }
}

fn named(member: &str) -> MemberRef {
    MemberRef::Named(member.to_string())
}

fn etcdctl(tokens: Vec<&str>) -> Result<SimCommand, String> {
    let mut members = vec!["m1".to_string()];
    let mut timeout_ms = None;
    let mut serializable = false;
    let mut words = Vec::new();
    let mut tokens = tokens.into_iter();
    while let Some(token) = tokens.next() {
        if !token.starts_with('-') {
            words.push(token);
            continue;
        }
        let (flag, value) = match token.split_once('=') {
            Some((flag, value)) => (flag, Some(value.to_string())),
            None => (token, None),
        };
        let mut value = || {
            value
                .clone()
                .or_else(|| tokens.next().map(str::to_string))
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        match flag {
            "--endpoints" => {
                members = value()?
                    .split(',')
                    .map(member_at)
                    .collect::<Result<_, _>>()?
            }
            "-w" | "--write-out" | "--dial-timeout" => {
                value()?;
            }
            "--command-timeout" => timeout_ms = Some(duration_ms(&value()?)?),
            "--consistency" if value()? == "s" => serializable = true,
            _ => return Err(format!("etcdctl {token} is not simulated")),
        }
    }
    let kv = |op| SimCommand::Kv {
        op,
        members: members.clone(),
        timeout_ms,
    };
    match (words.as_slice(), serializable) {
        (["put", key, value], false) => Ok(kv(ClientOp::Put {
            key: key.to_string(),
            value: value.to_string(),
        })),
        (["get", key], serializable) => Ok(kv(ClientOp::Get {
            key: key.to_string(),
            serializable,
        })),
        (["del", key], false) => Ok(kv(ClientOp::Delete {
            key: key.to_string(),
        })),
        (["member", "list"], false) => Ok(SimCommand::MemberList { members }),
        (["endpoint", which @ ("health" | "status")], false) => Ok(SimCommand::Endpoints {
            health: *which == "health",
            members,
        }),
        _ => Err(format!("`etcdctl {}` is not simulated", words.join(" "))),
    }
}

/// Whether a goal can be seen on a simulated cluster (through [`super::view`]).
pub fn goal_simulated(goal: &Goal) -> bool {
    !matches!(
        goal,
        Goal::SnapshotFileExists { .. }
            | Goal::TlsCluster
            | Goal::AlarmActive { .. }
            | Goal::MemberIsLearner { .. }
            | Goal::KeyEquals {
                on: KeyScope::Endpoint(_),
                ..
            }
    )
}

/// Whether the simulator does this scenario action (it cannot pause a member).
pub fn action_simulated(action: &ScenarioAction) -> bool {
    !matches!(action, ScenarioAction::Pause(_) | ScenarioAction::Resume(_))
}

/// Whether the simulator can run the whole lesson; the error says the first thing it cannot.
pub fn support(lesson: &Lesson) -> Result<(), String> {
    if lesson.requires.tls {
        return Err("needs a TLS lab".into());
    }
    if let Some(sample) = &lesson.requires.sample {
        return Err(format!("needs the {sample} sample"));
    }
    for (i, step) in lesson.steps.iter().enumerate() {
        let number = i + 1;
        if !goal_simulated(&step.goal) {
            return Err(format!("step {number}: its goal needs a lab"));
        }
        if let Some(action) = step.scenario.iter().find(|a| !action_simulated(a)) {
            return Err(format!("step {number}: {action:?} is not simulated"));
        }
        if step.background {
            return Err(format!("step {number}: a command left running needs a lab"));
        }
        if let Some(command) = &step.command {
            parse_command(command).map_err(|e| format!("step {number}: {e}"))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lesson::catalog;

    #[test]
    fn commands_are_read_for_the_simulator() {
        assert_eq!(
            parse_command("etcdctl --endpoints 127.0.0.1:12379 get /rsm/x --consistency=s"),
            Ok(SimCommand::Kv {
                op: ClientOp::Get {
                    key: "/rsm/x".into(),
                    serializable: true
                },
                members: vec!["m2".into()],
                timeout_ms: None
            })
        );
        assert_eq!(
            parse_command(
                "ETCDCTL_API=3 etcdctl --endpoints=http://127.0.0.1:2379,127.0.0.1:22379 \
                 put k v --command-timeout=3s"
            ),
            Ok(SimCommand::Kv {
                op: ClientOp::Put {
                    key: "k".into(),
                    value: "v".into()
                },
                members: vec!["m1".into(), "m3".into()],
                timeout_ms: Some(3000)
            })
        );
        assert_eq!(
            parse_command("etcdlab lab kill {leader}"),
            Ok(SimCommand::Lab(ScenarioAction::Kill(MemberRef::Named(
                "{leader}".into()
            ))))
        );
        assert_eq!(
            parse_command("etcdctl endpoint health -w table"),
            Ok(SimCommand::Endpoints {
                health: true,
                members: vec!["m1".into()]
            })
        );
        for unsupported in [
            "etcdctl get /course --prefix --keys-only",
            "ETCDCTL_API=2 etcdctl ls /",
            "etcdctl --endpoints 127.0.0.1:2380 get k",
            "etcdlab lab pause m1",
            "LEASE=$(etcdctl lease grant 5) && etcdctl put k v",
            "etcdutl snapshot restore backup.db",
        ] {
            assert!(parse_command(unsupported).is_err(), "{unsupported}");
        }
    }

    #[test]
    fn the_lessons_the_simulator_runs_are_derived_from_what_they_use() {
        let supported: Vec<&str> = catalog::lessons()
            .unwrap()
            .iter()
            .filter(|(_, lesson)| support(lesson).is_ok())
            .map(|(file, _)| *file)
            .collect();
        assert_eq!(
            supported,
            [
                "01-key-value.yaml",
                "05-leader-election.yaml",
                "06-quorum.yaml",
                "10-endpoint-status.yaml"
            ]
        );
        let lessons = catalog::lessons().unwrap();
        let why = |n: usize| support(&lessons[n - 1].1).unwrap_err();
        assert_eq!(why(3), "needs the kubernetes sample");
        assert!(why(4).starts_with("step 3: Pause"), "{}", why(4));
        assert!(why(8).contains("its goal needs a lab"), "{}", why(8));
    }
}
