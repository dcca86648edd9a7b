//! Demo mode: no lab behind the page, so a simulated one runs beside it, in the simulator's
//! Web Worker ([`crate::sim_host`]). The core's deterministic simulator (`etcdlab_core::sim`,
//! the real member code over a simulated network) plays a scenario against the page's
//! playback clock, and its events go into the same playback and views as a lab's. The page's
//! commands, which would be requests to the lab's API, are carried out on the simulator here:
//! [`Demo::request`] takes the same paths and JSON bodies, so the terminal, the member
//! controls and the keys work unchanged.
//!
//! The seed and the scenario come from the URL (`?demo&seed=42&scenario=leader-crash`): a URL
//! replays the same run. [`Demo::digest`] fingerprints the run's first
//! [`DEMO_DIGEST_AT_MS`] of virtual time (`etcdlab demo --digest` computes the same natively).

use std::collections::BTreeMap;

use etcdlab_core::events::{RaftEvent, hex_id};
use etcdlab_core::sim::digest::{DEMO_DIGEST_AT_MS, EventLogDigest};
use etcdlab_core::sim::network::LinkFaults;
use etcdlab_core::sim::player::Player;
use etcdlab_core::sim::scenario::Scenario;
use etcdlab_core::sim::{ClientOp, Outcome, scenario};
use raft::StateRole;
use serde_json::{Value, json};

use crate::terminal;

/// The scenario a demo plays when the URL names none.
pub const DEFAULT_SCENARIO: &str = "normal_replication";
/// The seed a demo uses when the URL gives none.
pub const DEFAULT_SEED: u64 = 1;

/// A simulated cluster playing a scenario, answering the page's commands.
pub struct Demo {
    pub seed: u64,
    pub scenario: String,
    player: Player,
    digest: EventLogDigest,
    /// Frozen: virtual time stands still (the lab's freeze).
    frozen: bool,
    /// Key-value requests typed into the terminal and not answered yet: what each asked.
    asked: BTreeMap<u64, ClientOp>,
    /// Lines for the terminal: answers and scenario notes.
    lines: Vec<String>,
}

impl Demo {
    /// A demo of `scenario` (a built-in name or `random`) with `seed`; an unknown scenario
    /// falls back to the default one, with a note in the terminal.
    pub fn new(seed: u64, scenario: &str) -> Demo {
        let (scenario, note) = match scenario::named(scenario, seed) {
            Ok(s) => (s, None),
            Err(e) => (
                scenario::named(DEFAULT_SCENARIO, seed).expect("the default scenario exists"),
                Some(e),
            ),
        };
        let mut demo = Demo::play(&scenario, seed);
        demo.lines.extend(note);
        demo
    }

    /// A demo of a scenario the page built itself (the benchmark's workload). The page runs it
    /// without the simulator's safety checks: it never shows their verdict, and they slow a
    /// long run down (the run itself is the same, as the browser test's digests show).
    pub fn play(scenario: &Scenario, seed: u64) -> Demo {
        let mut scenario = scenario.clone();
        scenario.config.check_invariants = false;
        let lines = vec![format!(
            "demo: no lab here, a simulated cluster runs in the browser (seed {seed}). {}",
            scenario.description
        )];
        Demo {
            seed,
            scenario: scenario.name.clone(),
            player: Player::new(&scenario, seed),
            digest: EventLogDigest::new(DEMO_DIGEST_AT_MS),
            frozen: false,
            asked: BTreeMap::new(),
            lines,
        }
    }

    /// The simulated present, in virtual milliseconds.
    pub fn now_ms(&self) -> f64 {
        self.player.sim().now_ms() as f64
    }

    /// Runs the cluster up to the playback clock (unless frozen); returns the new events.
    pub fn run_to(&mut self, clock_ms: f64) -> Vec<RaftEvent> {
        if !self.frozen {
            let skipped = self.player.run_to(clock_ms.ceil() as u64);
            self.lines.extend(skipped);
        }
        let events = self.player.sim_mut().take_events();
        self.digest.feed(&events);
        for (request, outcome) in self.player.sim_mut().take_results() {
            if let Some(op) = self.asked.remove(&request) {
                self.lines
                    .extend(terminal::kv_answer(&kv_answer(&op, outcome)));
            }
        }
        events
    }

    /// Lines for the terminal since the last call.
    pub fn take_lines(&mut self) -> Vec<String> {
        std::mem::take(&mut self.lines)
    }

    /// `"<events> <sha1>"` of the run's events up to [`DEMO_DIGEST_AT_MS`], once past it.
    pub fn digest(&self) -> Option<String> {
        self.digest.finish(self.player.sim().now_ms())
    }

    /// A request to the lab's API (`/api/kv`, `/api/faults`, `/api/freeze`, `/api/thaw`),
    /// carried out on the simulator; the lines to print now (a key-value answer comes later,
    /// from [`Demo::take_lines`], when the simulated cluster answers).
    pub fn request(&mut self, path: &str, body: Option<&Value>) -> Vec<String> {
        let body = body.cloned().unwrap_or(Value::Null);
        let done = match path {
            "/api/kv" => return self.kv(&body),
            "/api/faults" => self.fault(&body),
            "/api/freeze" | "/api/thaw" => {
                self.frozen = path == "/api/freeze";
                Ok(())
            }
            other => Err(format!("{other} is not simulated")),
        };
        match done {
            Ok(()) => vec!["OK".into()],
            Err(e) => vec![format!("Error: {e}")],
        }
    }

    fn kv(&mut self, body: &Value) -> Vec<String> {
        let key = body["key"].as_str().unwrap_or_default().to_string();
        let op = match body["op"].as_str() {
            Some("put") => ClientOp::Put {
                key,
                value: body["value"].as_str().unwrap_or_default().to_string(),
            },
            Some("get") => ClientOp::Get {
                key,
                serializable: false,
            },
            Some("delete") => ClientOp::Delete { key },
            _ => return vec![format!("Error: unknown request {body}")],
        };
        let sim = self.player.sim_mut();
        let leader = sim.leader();
        let request = sim.client(op.clone(), leader.as_deref());
        self.asked.insert(request, op);
        vec![]
    }

    fn fault(&mut self, body: &Value) -> Result<(), String> {
        let sim = self.player.sim_mut();
        let name = |verb: &str| body[verb].as_str().map(String::from);
        if let Some(m) = name("kill") {
            sim.kill(&m)
        } else if let Some(m) = name("restart") {
            sim.restart(&m)
        } else if let Some(m) = name("campaign") {
            sim.campaign(&m)
        } else if name("pause").or(name("resume")).is_some() {
            Err("pause and resume are not simulated in the demo; kill and restart are".into())
        } else if let Some(groups) = body["partition"].as_array() {
            let groups: Vec<Vec<String>> = groups
                .iter()
                .map(|g| {
                    g.as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|m| m.as_str().map(String::from))
                        .collect()
                })
                .collect();
            sim.partition(&groups)
        } else if body["heal"] == true {
            sim.heal();
            Ok(())
        } else if let Some(link) = body.get("link") {
            let (from, to) = (
                link["from"].as_str().unwrap_or_default(),
                link["to"].as_str().unwrap_or_default(),
            );
            let loss = link["drop"].as_f64().unwrap_or(0.0);
            let delay = link["delay_ms"].as_u64().unwrap_or(0);
            let faults = (loss > 0.0 || delay > 0).then(|| LinkFaults {
                min_delay_ms: delay,
                max_delay_ms: delay,
                loss,
                ..sim.config().faults
            });
            sim.set_link(from, to, faults)
        } else {
            Err(format!("unknown fault {body}"))
        }
    }

    /// The members as the lab's `/api/cluster` shows them.
    pub fn cluster(&self) -> Value {
        let members: Vec<Value> = self
            .player
            .sim()
            .members()
            .into_iter()
            .filter(|m| !m.removed)
            .map(|m| {
                let status = m.status.as_ref();
                json!({
                    "name": m.name,
                    "id": hex_id(m.id),
                    "endpoint": format!("{}:2379", m.name),
                    "client_urls": [format!("http://{}:2379", m.name)],
                    "peer_urls": [format!("http://{}:2380", m.name)],
                    "state": if m.running { "up" } else { "down" },
                    "role": status.map(|s| role_name(s.role)),
                    "term": status.map(|s| s.term),
                    "commit_index": status.map(|s| s.commit_index),
                    "applied_index": status.map(|s| s.applied_index),
                })
            })
            .collect();
        json!({ "members": members })
    }
}

fn role_name(role: StateRole) -> &'static str {
    match role {
        StateRole::Follower => "follower",
        StateRole::PreCandidate => "pre_candidate",
        StateRole::Candidate => "candidate",
        StateRole::Leader => "leader",
    }
}

/// The lab's `/api/kv` answer for a simulated request's outcome.
fn kv_answer(op: &ClientOp, outcome: Outcome) -> Value {
    let (op_name, key) = match op {
        ClientOp::Put { key, .. } => ("put", key.as_str()),
        ClientOp::Get { key, .. } => ("get", key.as_str()),
        ClientOp::Delete { key } => ("delete", key.as_str()),
        _ => ("other", ""),
    };
    match outcome {
        Outcome::Failed(e) => json!({ "error": e }),
        Outcome::Unknown => json!({ "error": "etcdserver: request timed out" }),
        Outcome::Value(value) => json!({
            "op": op_name, "key": key, "found": value.is_some(), "value": value,
        }),
        Outcome::Deleted(n) => json!({ "op": op_name, "key": key, "deleted": n }),
        Outcome::Done | Outcome::Swapped(_) => json!({ "op": op_name, "key": key }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs the demo's clock forward until `done` or 30 s of virtual time.
    fn run_until(demo: &mut Demo, mut done: impl FnMut(&Demo) -> bool) {
        let start = demo.now_ms();
        while !done(demo) && demo.now_ms() < start + 30_000.0 {
            demo.run_to(demo.now_ms() + 50.0);
        }
    }

    fn leader(demo: &Demo) -> Option<String> {
        demo.player.sim().leader()
    }

    #[test]
    fn terminal_requests_are_answered_like_etcdctl() {
        let mut demo = Demo::new(3, "normal-replication");
        run_until(&mut demo, |d| leader(d).is_some());
        demo.take_lines();
        let put = json!({"op": "put", "key": "greeting", "value": "hello"});
        assert!(demo.request("/api/kv", Some(&put)).is_empty());
        run_until(&mut demo, |d| !d.lines.is_empty());
        assert_eq!(demo.take_lines(), ["OK"]);
        demo.request("/api/kv", Some(&json!({"op": "get", "key": "greeting"})));
        run_until(&mut demo, |d| !d.lines.is_empty());
        assert_eq!(demo.take_lines(), ["greeting", "hello"]);
        demo.request("/api/kv", Some(&json!({"op": "delete", "key": "greeting"})));
        run_until(&mut demo, |d| !d.lines.is_empty());
        assert_eq!(demo.take_lines(), ["1"]);
    }

    #[test]
    fn faults_reach_the_simulator_and_freeze_stops_time() {
        let mut demo = Demo::new(4, "normal_replication");
        run_until(&mut demo, |d| leader(d).is_some());
        let old = leader(&demo).unwrap();
        assert_eq!(
            demo.request("/api/faults", Some(&json!({"kill": old}))),
            ["OK"]
        );
        run_until(&mut demo, |d| leader(d).is_some_and(|l| l != old));
        let cluster = demo.cluster();
        let down: Vec<&Value> = cluster["members"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["state"] == "down")
            .collect();
        assert_eq!(down.len(), 1);
        assert_eq!(down[0]["name"], old.as_str());
        let paused = demo.request("/api/faults", Some(&json!({"pause": "m1"})));
        assert!(paused[0].starts_with("Error: "), "{paused:?}");

        demo.request("/api/freeze", None);
        let now = demo.now_ms();
        demo.run_to(now + 5_000.0);
        assert_eq!(demo.now_ms(), now);
        demo.request("/api/thaw", None);
        demo.run_to(now + 5_000.0);
        assert_eq!(demo.now_ms(), now + 5_000.0);
    }

    #[test]
    fn an_unknown_scenario_falls_back_with_a_note() {
        let mut demo = Demo::new(1, "no-such-thing");
        assert_eq!(demo.scenario, DEFAULT_SCENARIO);
        assert!(demo.take_lines().iter().any(|l| l.contains("no scenario")));
    }
}
