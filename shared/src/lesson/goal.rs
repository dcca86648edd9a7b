//! The goal vocabulary: what a lesson step asks of the cluster, and its check against an
//! [`Observation`]. Goals about change (`leader_changed`, `entry_committed_on_all`) read the
//! Raft events since the step began ([`super::stream`]), so a leader that changed and came
//! back, or an entry committed, is seen whatever the state looks like at the check; where the
//! host has no stream they compare the state with the [`Baseline`] taken when the step began.
//!
//! In a lesson file a goal without arguments is a word (`goal: leader_elected`), one with
//! arguments a one-key map (`goal: {key_equals: {key: k, value: v, on: all}}`).

use std::collections::BTreeSet;

use serde::Deserialize;

use super::command::{fill_placeholders, port_names};
use super::observation::{MemberState, Observation, ObservationRequest};
use super::scenario::ScenarioError;
use super::stream::StepEvents;

/// Where a key's value is checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyScope {
    /// Every running member.
    All,
    /// The leader.
    Leader,
    /// The member of that name.
    Member(String),
    /// A member outside the lab at that client address (`127.0.0.1:32379`), such as one
    /// started from a restored snapshot.
    Endpoint(String),
}

impl<'de> Deserialize<'de> for KeyScope {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Ok(match text.as_str() {
            "all" => KeyScope::All,
            "leader" => KeyScope::Leader,
            "" => {
                return Err(serde::de::Error::custom(
                    "`on` is all, leader or a member name",
                ));
            }
            address if address.contains(':') => KeyScope::Endpoint(address.to_string()),
            name => KeyScope::Member(name.to_string()),
        })
    }
}

fn all() -> KeyScope {
    KeyScope::All
}

/// What a step waits for.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Goal {
    /// A running member leads.
    LeaderElected,
    /// An election won since the step began (by another member, or by the same one again in
    /// a newer term).
    LeaderChanged,
    /// `key` holds `value` on every running member, on the leader, on one member, or on the
    /// member outside the lab at an address.
    KeyEquals {
        key: String,
        value: String,
        #[serde(default = "all")]
        on: KeyScope,
    },
    /// `key` exists nowhere (as the leader answers).
    KeyAbsent { key: String },
    /// Exactly `count` keys start with `prefix`.
    KeysWithPrefix { prefix: String, count: u64 },
    /// `member list` has `count` members (learners included).
    MemberCount { count: usize },
    /// `member list` has a learner of that name or peer URL (a member added but not started
    /// yet has no name).
    MemberIsLearner { member: String },
    /// Since the step began, a new entry was committed and every lab member applied it.
    EntryCommittedOnAll,
    /// A partition is in force.
    Partitioned,
    /// No group of running voters that can reach one another is a majority.
    QuorumLost,
    /// The file exists (relative to where the lesson runs).
    SnapshotFileExists { path: String },
    /// The members serve clients over TLS.
    TlsCluster,
    /// The alarm (`NOSPACE`, `CORRUPT`) is active.
    AlarmActive { alarm: String },
}

/// The cluster when a step began, for goals about change.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Baseline {
    pub leader: Option<String>,
    /// The leader's term (0 without a leader).
    pub leader_term: u64,
    /// The highest term any member reported.
    pub term: u64,
    /// The highest commit index any member reported.
    pub commit_index: u64,
    /// Where the host's event stream was (read before the state), if it has one.
    pub event_cursor: Option<u64>,
}

impl Baseline {
    pub fn of(observation: &Observation) -> Baseline {
        Baseline {
            leader: observation.leader().map(|m| m.name.clone()),
            leader_term: observation.leader().map_or(0, |m| m.term),
            event_cursor: observation.event_cursor,
            term: observation
                .members
                .iter()
                .map(|m| m.term)
                .max()
                .unwrap_or(0),
            commit_index: observation
                .members
                .iter()
                .map(|m| m.commit_index)
                .max()
                .unwrap_or(0),
        }
    }

    /// `request`, asking for the events since the step began as well.
    pub fn since(&self, mut request: ObservationRequest) -> ObservationRequest {
        request.events_since = self.event_cursor;
        request
    }
}

/// A goal's verdict; `NotYet` says what is missing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GoalStatus {
    Met,
    NotYet(String),
}

fn verdict(met: bool, missing: impl FnOnce() -> String) -> GoalStatus {
    if met {
        GoalStatus::Met
    } else {
        GoalStatus::NotYet(missing())
    }
}

impl Goal {
    /// What the host must read for this goal.
    pub fn request(&self) -> ObservationRequest {
        let mut request = ObservationRequest::default();
        match self {
            Goal::KeyEquals { key, on, .. } => {
                request.keys.insert(key.clone());
                if let KeyScope::Endpoint(address) = on {
                    let ports = port_names(address);
                    if ports.is_empty() {
                        request.endpoints.insert(address.clone());
                    }
                    // An address with a `{port:..}` is read once filled in ([`Goal::filled`]).
                    request.ports.extend(ports);
                }
            }
            Goal::KeyAbsent { key } => {
                request.keys.insert(key.clone());
            }
            Goal::KeysWithPrefix { prefix, .. } => {
                request.prefixes.insert(prefix.clone());
            }
            Goal::SnapshotFileExists { path } => {
                request.files.insert(path.clone());
            }
            _ => {}
        }
        request
    }

    /// The goal with the placeholders of an address outside the lab (`127.0.0.1:{port:x}`)
    /// filled in from the observation.
    pub fn filled(&self, observation: &Observation) -> Result<Goal, ScenarioError> {
        Ok(match self {
            Goal::KeyEquals {
                key,
                value,
                on: KeyScope::Endpoint(address),
            } => Goal::KeyEquals {
                key: key.clone(),
                value: value.clone(),
                on: KeyScope::Endpoint(fill_placeholders(address, observation)?),
            },
            goal => goal.clone(),
        })
    }

    /// Checks the goal against what the host saw.
    pub fn evaluate(&self, observation: &Observation, baseline: &Baseline) -> GoalStatus {
        let leader = observation.leader();
        match self {
            Goal::LeaderElected => verdict(leader.is_some(), || "no member leads yet".into()),
            Goal::LeaderChanged => match &observation.events {
                Some(events) => leader_changed_in(events, baseline),
                None => leader_changed_by_state(observation, baseline),
            },
            Goal::KeyEquals { key, value, on } => {
                let names: Vec<&str> = match on {
                    KeyScope::All => observation
                        .members
                        .iter()
                        .filter(|m| m.state == MemberState::Up)
                        .map(|m| m.name.as_str())
                        .collect(),
                    KeyScope::Leader => match leader {
                        Some(l) => vec![l.name.as_str()],
                        None => return GoalStatus::NotYet("no member leads yet".into()),
                    },
                    KeyScope::Member(name) | KeyScope::Endpoint(name) => vec![name.as_str()],
                };
                let wrong: Vec<&str> = names
                    .iter()
                    .copied()
                    .filter(|name| {
                        observation
                            .values
                            .get(*name)
                            .and_then(|values| values.get(key))
                            .and_then(Option::as_deref)
                            != Some(value.as_str())
                    })
                    .collect();
                verdict(!names.is_empty() && wrong.is_empty(), || {
                    format!("{key} is not {value:?} on {}", wrong.join(", "))
                })
            }
            Goal::KeyAbsent { key } => {
                let holders: BTreeSet<&str> = observation
                    .values
                    .iter()
                    .filter(|(_, values)| values.get(key).is_some_and(Option::is_some))
                    .map(|(name, _)| name.as_str())
                    .collect();
                let answered = observation.values.values().any(|v| v.contains_key(key));
                verdict(answered && holders.is_empty(), || {
                    format!("{key} still exists")
                })
            }
            Goal::KeysWithPrefix { prefix, count } => match observation.prefix_counts.get(prefix) {
                Some(found) => verdict(found == count, || {
                    format!("{found} keys start with {prefix}, not {count}")
                }),
                None => GoalStatus::NotYet(format!("no member answered for {prefix}")),
            },
            Goal::MemberCount { count } => {
                let found = observation.membership.len();
                verdict(found == *count, || {
                    format!("member list has {found} members, not {count}")
                })
            }
            Goal::MemberIsLearner { member } => verdict(
                observation
                    .membership
                    .iter()
                    .any(|m| m.is(member) && m.is_learner),
                || format!("member list has no learner {member}"),
            ),
            Goal::EntryCommittedOnAll => match &observation.events {
                Some(events) => committed_on_all_in(events, observation, baseline),
                None => committed_on_all_by_state(observation, baseline),
            },
            Goal::Partitioned => verdict(observation.partition.is_some(), || "no partition".into()),
            Goal::QuorumLost => verdict(!observation.has_quorum(), || {
                "a majority of voters can still reach one another".into()
            }),
            Goal::SnapshotFileExists { path } => verdict(observation.files.contains(path), || {
                format!("no file {path}")
            }),
            Goal::TlsCluster => verdict(observation.tls, || "the members serve plain http".into()),
            Goal::AlarmActive { alarm } => verdict(
                observation
                    .alarms
                    .iter()
                    .any(|a| a.eq_ignore_ascii_case(alarm)),
                || format!("no {alarm} alarm"),
            ),
        }
    }
}

/// `leader_changed` on the stream: an election won in a term after the leader's of the
/// baseline (any election, when nobody led then).
fn leader_changed_in(events: &StepEvents, baseline: &Baseline) -> GoalStatus {
    let won = events
        .elected
        .iter()
        .any(|e| baseline.leader.is_none() || e.term > baseline.leader_term);
    verdict(won, || match &baseline.leader {
        Some(name) => format!("no election won since the step began ({name} leads)"),
        None => "no member leads yet".into(),
    })
}

/// `leader_changed` on the state alone: another leader now, or the same one in a newer term.
fn leader_changed_by_state(observation: &Observation, baseline: &Baseline) -> GoalStatus {
    match observation.leader() {
        Some(l) if Some(&l.name) != baseline.leader.as_ref() || l.term > baseline.term => {
            GoalStatus::Met
        }
        Some(l) => GoalStatus::NotYet(format!("{} still leads", l.name)),
        None => GoalStatus::NotYet("no member leads yet".into()),
    }
}

/// `entry_committed_on_all` on the stream: an entry after the baseline's commit index was
/// committed, and every lab member applied it (one that went down since still did).
fn committed_on_all_in(
    events: &StepEvents,
    observation: &Observation,
    baseline: &Baseline,
) -> GoalStatus {
    let entry = baseline.commit_index + 1;
    if events.commit < entry {
        return GoalStatus::NotYet("no new entry was committed".into());
    }
    let behind: Vec<&str> = observation
        .members
        .iter()
        .filter(|m| events.applied_on(&m.name) < entry)
        .map(|m| m.name.as_str())
        .collect();
    verdict(behind.is_empty(), || {
        format!("entry {entry} not applied yet on {}", behind.join(", "))
    })
}

/// `entry_committed_on_all` on the state alone: the commit index moved past the baseline's
/// and every running member applied up to it.
fn committed_on_all_by_state(observation: &Observation, baseline: &Baseline) -> GoalStatus {
    let commit = observation
        .members
        .iter()
        .map(|m| m.commit_index)
        .max()
        .unwrap_or(0);
    let behind: Vec<&str> = observation
        .members
        .iter()
        .filter(|m| m.state != MemberState::Up || m.applied_index < commit)
        .map(|m| m.name.as_str())
        .collect();
    if commit <= baseline.commit_index {
        GoalStatus::NotYet("no new entry was committed".into())
    } else {
        verdict(behind.is_empty(), || {
            format!("not applied yet on {}", behind.join(", "))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lesson::observation::{ListedMember, ObservedMember};

    fn member(name: &str, role: &str, term: u64, applied: u64) -> ObservedMember {
        ObservedMember {
            name: name.into(),
            id: format!("{name}-id"),
            state: MemberState::Up,
            role: Some(role.into()),
            term,
            leader: None,
            commit_index: applied,
            applied_index: applied,
        }
    }

    fn cluster() -> Observation {
        Observation {
            members: vec![
                member("m1", "leader", 2, 8),
                member("m2", "follower", 2, 8),
                member("m3", "follower", 2, 8),
            ],
            membership: ["m1", "m2", "m3"]
                .iter()
                .map(|n| ListedMember {
                    name: n.to_string(),
                    id: format!("{n}-id"),
                    peer_urls: vec![],
                    is_learner: false,
                })
                .collect(),
            ..Observation::default()
        }
    }

    #[test]
    fn leader_goals_follow_the_leader() {
        let mut seen = cluster();
        let baseline = Baseline::of(&seen);
        assert_eq!(
            Goal::LeaderElected.evaluate(&seen, &baseline),
            GoalStatus::Met
        );
        assert!(matches!(
            Goal::LeaderChanged.evaluate(&seen, &baseline),
            GoalStatus::NotYet(_)
        ));
        seen.members[0].state = MemberState::Down;
        assert!(matches!(
            Goal::LeaderElected.evaluate(&seen, &baseline),
            GoalStatus::NotYet(_)
        ));
        seen.members[1] = member("m2", "leader", 3, 9);
        assert_eq!(
            Goal::LeaderChanged.evaluate(&seen, &baseline),
            GoalStatus::Met
        );
    }

    #[test]
    fn key_goals_read_the_members_named() {
        let mut seen = cluster();
        for (name, value) in [("m1", Some("v")), ("m2", Some("v")), ("m3", None)] {
            seen.values
                .entry(name.into())
                .or_default()
                .insert("k".into(), value.map(str::to_string));
        }
        let goal = |on| Goal::KeyEquals {
            key: "k".into(),
            value: "v".into(),
            on,
        };
        let baseline = Baseline::of(&seen);
        assert_eq!(
            goal(KeyScope::Leader).evaluate(&seen, &baseline),
            GoalStatus::Met
        );
        assert_eq!(
            goal(KeyScope::All).evaluate(&seen, &baseline),
            GoalStatus::NotYet("k is not \"v\" on m3".into())
        );
        assert_eq!(
            goal(KeyScope::Member("m2".into())).evaluate(&seen, &baseline),
            GoalStatus::Met
        );
        assert!(matches!(
            Goal::KeyAbsent { key: "k".into() }.evaluate(&seen, &baseline),
            GoalStatus::NotYet(_)
        ));
    }

    #[test]
    fn quorum_is_lost_when_no_majority_can_talk() {
        let mut seen = cluster();
        let baseline = Baseline::of(&seen);
        assert!(seen.has_quorum());
        seen.partition = Some(vec![vec!["m1".into()], vec!["m2".into(), "m3".into()]]);
        assert!(seen.has_quorum(), "m2 and m3 are a majority");
        seen.members[2].state = MemberState::Down;
        assert_eq!(Goal::QuorumLost.evaluate(&seen, &baseline), GoalStatus::Met);
        seen.partition = None;
        assert!(seen.has_quorum(), "m1 and m2 are a majority");
    }

    #[test]
    fn a_cluster_settles_when_every_running_member_knows_the_leader() {
        let mut seen = cluster();
        assert!(!seen.settled(), "nobody knows a leader yet");
        for m in &mut seen.members {
            m.leader = Some("m1-id".into());
        }
        assert!(seen.settled());
        seen.members[2].leader = None;
        seen.members[2].state = MemberState::Down;
        assert!(seen.settled(), "a member that is down does not count");
    }

    #[test]
    fn a_committed_entry_must_reach_every_member() {
        let mut seen = cluster();
        let baseline = Baseline::of(&seen);
        assert!(matches!(
            Goal::EntryCommittedOnAll.evaluate(&seen, &baseline),
            GoalStatus::NotYet(_)
        ));
        seen.members[0].commit_index = 9;
        seen.members[0].applied_index = 9;
        assert_eq!(
            Goal::EntryCommittedOnAll.evaluate(&seen, &baseline),
            GoalStatus::NotYet("not applied yet on m2, m3".into())
        );
        for m in &mut seen.members {
            m.applied_index = 9;
        }
        assert_eq!(
            Goal::EntryCommittedOnAll.evaluate(&seen, &baseline),
            GoalStatus::Met
        );
    }

    #[test]
    fn with_the_stream_a_leader_that_changed_and_came_back_has_changed() {
        use crate::lesson::stream::{Elected, StepEvents};
        let mut seen = cluster();
        let baseline = Baseline::of(&seen);
        seen.events = Some(StepEvents::default());
        assert_eq!(
            Goal::LeaderChanged.evaluate(&seen, &baseline),
            GoalStatus::NotYet("no election won since the step began (m1 leads)".into())
        );
        // m2 won term 3, then m1 won term 4: the state at the check is the one at the start
        // (a stale read of m1's term), but the stream saw the elections.
        let events = seen.events.as_mut().unwrap();
        events.elected.push(Elected {
            name: "m2".into(),
            term: 3,
        });
        events.elected.push(Elected {
            name: "m1".into(),
            term: 4,
        });
        assert_eq!(
            Goal::LeaderChanged.evaluate(&seen, &baseline),
            GoalStatus::Met
        );
        seen.events = None;
        assert!(
            matches!(
                Goal::LeaderChanged.evaluate(&seen, &baseline),
                GoalStatus::NotYet(_)
            ),
            "the state alone cannot tell"
        );
        // The leader's own re-announcement in the baseline's term is no change.
        seen.events = Some(StepEvents {
            elected: vec![Elected {
                name: "m1".into(),
                term: 2,
            }],
            ..StepEvents::default()
        });
        assert!(matches!(
            Goal::LeaderChanged.evaluate(&seen, &baseline),
            GoalStatus::NotYet(_)
        ));
    }

    #[test]
    fn with_the_stream_an_entry_applied_everywhere_is_seen() {
        use crate::lesson::stream::StepEvents;
        let mut seen = cluster();
        let baseline = Baseline::of(&seen);
        let mut events = StepEvents {
            commit: 9,
            ..StepEvents::default()
        };
        events.applied.insert("m1".into(), 9);
        events.applied.insert("m2".into(), 9);
        seen.events = Some(events);
        assert_eq!(
            Goal::EntryCommittedOnAll.evaluate(&seen, &baseline),
            GoalStatus::NotYet("entry 9 not applied yet on m3".into())
        );
        // m3 applied it and crashed: the state shows it down, the stream shows it applied.
        seen.members[2].state = MemberState::Down;
        seen.events
            .as_mut()
            .unwrap()
            .applied
            .insert("m3".into(), 10);
        assert_eq!(
            Goal::EntryCommittedOnAll.evaluate(&seen, &baseline),
            GoalStatus::Met
        );
        seen.events = None;
        assert!(matches!(
            Goal::EntryCommittedOnAll.evaluate(&seen, &baseline),
            GoalStatus::NotYet(_)
        ));
    }

    #[test]
    fn an_address_with_a_port_placeholder_is_filled_before_it_is_read() {
        let goal = Goal::KeyEquals {
            key: "k".into(),
            value: "v".into(),
            on: KeyScope::Endpoint("127.0.0.1:{port:restored-client}".into()),
        };
        let request = goal.request();
        assert!(request.endpoints.is_empty());
        assert_eq!(
            request.ports.iter().collect::<Vec<_>>(),
            ["restored-client"]
        );
        let mut seen = cluster();
        seen.ports.insert("restored-client".into(), 40001);
        let filled = goal.filled(&seen).unwrap();
        assert_eq!(
            filled.request().endpoints.iter().collect::<Vec<_>>(),
            ["127.0.0.1:40001"]
        );
    }
}
