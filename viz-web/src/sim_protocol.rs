//! The messages between the page and its simulator, which runs in a Web Worker
//! (`etcdlab-sim`, [`crate::sim_host`]): JSON text over `postMessage`, so both sides read
//! them with the same serde types.
//!
//! The page starts a run ([`ToSimulator::Start`]) once the worker says it is
//! [`FromSimulator::Ready`], then asks it to advance to the playback clock and to carry out the
//! requests it would send a lab's API. Every run has a number the page chooses; answers carry
//! it, so the page can drop what an earlier run still had on its way after a reset.

use etcdlab_core::events::RaftEvent;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What a run plays.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunKind {
    /// A built-in scenario by name (or `random`) with a seed.
    Demo { seed: u64, scenario: String },
    /// Bench mode: time the benchmark's workload first, then play it.
    Bench {
        members: usize,
        seconds: u64,
        seed: u64,
    },
}

/// From the page to the simulator.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ToSimulator {
    /// Begin run number `run`.
    Start { run: u64, kind: RunKind },
    /// Run the cluster up to the playback clock (virtual milliseconds); frozen, it stays.
    Advance { clock_ms: f64 },
    /// A request to the lab's API (`/api/kv`, `/api/faults`, `/api/freeze`, `/api/thaw`).
    Request { path: String, body: Option<Value> },
    /// Begin run number `run`: a fresh cluster with the same seed and scenario.
    Reset { run: u64 },
}

/// From the simulator to the page.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FromSimulator {
    /// The worker's wasm is loaded and it listens (messages sent before are lost).
    Ready,
    /// A run began: the seed and the scenario it plays (an unknown scenario's fallback).
    Started {
        run: u64,
        seed: u64,
        scenario: String,
    },
    /// The answer to [`ToSimulator::Advance`].
    Advanced {
        run: u64,
        /// The simulated present, in virtual milliseconds.
        now_ms: f64,
        events: Vec<RaftEvent>,
        /// Lines for the terminal: answers to key-value requests, scenario notes.
        lines: Vec<String>,
        /// `"<events> <sha1>"` of the run's first events, once past the digest's horizon.
        digest: Option<String>,
        /// The members as the lab's `/api/cluster` shows them.
        cluster: Value,
    },
    /// The answer to [`ToSimulator::Request`]: the lines to print now, the members after it.
    Answered {
        run: u64,
        lines: Vec<String>,
        cluster: Value,
    },
    /// Bench mode's report line (`etcdlab demo --bench`'s).
    Bench { run: u64, report: String },
    /// A message the simulator could not carry out.
    Failed { error: String },
}

/// The JSON text of a message.
pub fn encode<T: Serialize>(message: &T) -> Result<String, String> {
    serde_json::to_string(message).map_err(|e| format!("a simulator message not written ({e})"))
}

/// A message from its JSON text, or what is wrong with the text.
pub fn decode<T: for<'de> Deserialize<'de>>(text: &str) -> Result<T, String> {
    serde_json::from_str(text).map_err(|e| format!("an unreadable simulator message ({e})"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use etcdlab_core::events::{EventKind, Role, SCHEMA_VERSION};

    #[test]
    fn messages_survive_the_trip_as_json() {
        let start = ToSimulator::Start {
            run: 2,
            kind: RunKind::Bench {
                members: 5,
                seconds: 60,
                seed: 1,
            },
        };
        assert_eq!(decode::<ToSimulator>(&encode(&start).unwrap()), Ok(start));
        let advanced = FromSimulator::Advanced {
            run: 2,
            now_ms: 1_250.0,
            events: vec![RaftEvent {
                v: SCHEMA_VERSION,
                seq: 7,
                ts_ms: 1_200,
                node: "m2".into(),
                id: "2".into(),
                term: 3,
                kind: EventKind::RoleChanged {
                    role: Role::Leader,
                    leader: "2".into(),
                    election_timeout_ticks: 10,
                },
            }],
            lines: vec!["OK".into()],
            digest: None,
            cluster: serde_json::json!({"members": []}),
        };
        assert_eq!(
            decode::<FromSimulator>(&encode(&advanced).unwrap()),
            Ok(advanced)
        );
    }

    #[test]
    fn an_unreadable_message_is_an_error() {
        let error = decode::<ToSimulator>("{\"launch\": 1}").unwrap_err();
        assert!(error.contains("unreadable simulator message"), "{error}");
    }
}
