//! What the Raft event stream showed since a step began, for the goals about change: the
//! leaders elected (a leader that changed and came back is still seen), the highest commit
//! index reported, and the highest index each member applied. The host folds the events of
//! the step ([`crate::events::RaftEvent`]) into a [`StepEvents`] with [`StepEvents::record`]:
//! the lab over its merged stream, the page and `lesson verify` over the simulator's.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::events::{EventKind, RaftEvent, Role};

/// One election won, as a `role_changed` event to `leader` reported it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Elected {
    pub name: String,
    pub term: u64,
}

/// The events of one step, folded.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct StepEvents {
    /// The leaders elected, in the order the stream reported them.
    pub elected: Vec<Elected>,
    /// The highest commit index any member reported.
    pub commit: u64,
    /// Member name → the highest index it applied (an entry, or a snapshot up to it).
    pub applied: BTreeMap<String, u64>,
}

impl StepEvents {
    /// Folds one event in; events of other kinds change nothing.
    pub fn record(&mut self, event: &RaftEvent) {
        let applied = match &event.kind {
            EventKind::RoleChanged {
                role: Role::Leader, ..
            } => {
                self.elected.push(Elected {
                    name: event.node.clone(),
                    term: event.term,
                });
                return;
            }
            EventKind::CommitAdvanced { commit } => {
                self.commit = self.commit.max(*commit);
                return;
            }
            EventKind::EntryApplied { index, .. } | EventKind::SnapshotApplied { index, .. } => {
                *index
            }
            _ => return,
        };
        self.commit = self.commit.max(applied);
        let highest = self.applied.entry(event.node.clone()).or_default();
        *highest = (*highest).max(applied);
    }

    /// The highest index `member` applied during the step (0: none).
    pub fn applied_on(&self, member: &str) -> u64 {
        self.applied.get(member).copied().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::SCHEMA_VERSION;

    fn event(node: &str, term: u64, kind: EventKind) -> RaftEvent {
        RaftEvent {
            v: SCHEMA_VERSION,
            seq: 1,
            ts_ms: 0,
            node: node.into(),
            id: format!("{node}-id"),
            term,
            kind,
        }
    }

    #[test]
    fn elections_commits_and_applies_are_folded() {
        let mut seen = StepEvents::default();
        for e in [
            event(
                "m2",
                3,
                EventKind::RoleChanged {
                    role: Role::Leader,
                    leader: "m2-id".into(),
                    election_timeout_ticks: 10,
                },
            ),
            event(
                "m1",
                3,
                EventKind::RoleChanged {
                    role: Role::Follower,
                    leader: "m2-id".into(),
                    election_timeout_ticks: 12,
                },
            ),
            event("m2", 3, EventKind::CommitAdvanced { commit: 9 }),
            event(
                "m1",
                3,
                EventKind::EntryApplied {
                    index: 8,
                    entry_term: 3,
                    request: "put k=v".into(),
                },
            ),
            event(
                "m3",
                3,
                EventKind::SnapshotApplied {
                    index: 9,
                    snapshot_term: 3,
                },
            ),
        ] {
            seen.record(&e);
        }
        assert_eq!(
            seen.elected,
            vec![Elected {
                name: "m2".into(),
                term: 3
            }]
        );
        assert_eq!(seen.commit, 9);
        assert_eq!(
            (
                seen.applied_on("m1"),
                seen.applied_on("m2"),
                seen.applied_on("m3")
            ),
            (8, 0, 9)
        );
    }
}
