//! What the host saw of the cluster when it checked a goal: the lab's members with their Raft
//! state, the membership as `member list` reports it, the values of the keys the goals ask
//! about on each running member, the partition in force, files, TLS and alarms.
//!
//! The host fills an [`Observation`] for an [`ObservationRequest`] (the keys, prefixes and
//! files a step's goal reads, the ports its command names, and where in the event stream the
//! step began); nothing here does I/O.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::stream::StepEvents;

/// Whether a lab member's process runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MemberState {
    Up,
    Down,
    Paused,
}

/// One lab member as the lab reports it (`GET /api/cluster`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ObservedMember {
    pub name: String,
    /// Hex id, as etcdctl prints it.
    pub id: String,
    pub state: MemberState,
    /// `leader`, `follower`, `candidate`, `pre_candidate` or `learner`; `None` when down.
    pub role: Option<String>,
    pub term: u64,
    /// The leader this member knows of (hex id), if any.
    pub leader: Option<String>,
    pub commit_index: u64,
    pub applied_index: u64,
}

/// One member of the cluster's membership (`member list`), started or not.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ListedMember {
    /// Empty until the member first started (as etcd lists an added member).
    pub name: String,
    pub id: String,
    pub peer_urls: Vec<String>,
    pub is_learner: bool,
}

impl ListedMember {
    /// Whether `member` is this member's name or one of its peer URLs.
    pub fn is(&self, member: &str) -> bool {
        (!self.name.is_empty() && self.name == member) || self.peer_urls.iter().any(|u| u == member)
    }
}

/// What a goal needs the host to read (every field may be left out).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ObservationRequest {
    /// Keys to read on every running member (serializable reads, so each answers itself).
    pub keys: BTreeSet<String>,
    /// Prefixes whose keys to count (a linearizable read).
    pub prefixes: BTreeSet<String>,
    /// Files (relative to where the lesson runs) to look for.
    pub files: BTreeSet<String>,
    /// Client addresses outside the lab to read `keys` on as well.
    pub endpoints: BTreeSet<String>,
    /// Free ports the step's command and goal name (`{port:restored-client}`): the host picks
    /// each once and gives the same one every time it is asked.
    pub ports: BTreeSet<String>,
    /// The event stream's cursor when the step began: the host folds the events after it
    /// into [`Observation::events`].
    pub events_since: Option<u64>,
}

impl ObservationRequest {
    pub fn merge(&mut self, other: ObservationRequest) {
        self.keys.extend(other.keys);
        self.prefixes.extend(other.prefixes);
        self.files.extend(other.files);
        self.endpoints.extend(other.endpoints);
        self.ports.extend(other.ports);
        self.events_since = self.events_since.or(other.events_since);
    }
}

/// The cluster as the host saw it at one moment.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Observation {
    pub members: Vec<ObservedMember>,
    /// The membership; empty when no member answered `member list`.
    pub membership: Vec<ListedMember>,
    /// Member name (or requested address outside the lab) → key → value (`None`: the key is
    /// absent), for those that answered.
    pub values: BTreeMap<String, BTreeMap<String, Option<String>>>,
    /// Prefix → number of keys under it; missing when no member answered.
    pub prefix_counts: BTreeMap<String, u64>,
    /// The partition in force: groups of member names.
    pub partition: Option<Vec<Vec<String>>>,
    /// The requested files that exist.
    pub files: BTreeSet<String>,
    /// The members serve clients over TLS.
    pub tls: bool,
    /// Where a TLS lab keeps its certificates (`ca.crt`, `apiserver-etcd-client.crt`, ...).
    pub pki_dir: Option<String>,
    /// Active alarms (`NOSPACE`, `CORRUPT`).
    pub alarms: Vec<String>,
    /// The requested ports: name → port.
    pub ports: BTreeMap<String, u16>,
    /// Where the host's event stream is now (its latest cursor); `None` when it has no stream.
    pub event_cursor: Option<u64>,
    /// The events since the request's `events_since`, folded; `None` when the host has no
    /// stream or no longer holds all of them (goals then fall back to the state).
    pub events: Option<StepEvents>,
}

impl Observation {
    /// The running leader with the highest term (an old leader cut off by a partition may
    /// still think it leads, in an older term).
    pub fn leader(&self) -> Option<&ObservedMember> {
        self.members
            .iter()
            .filter(|m| m.state == MemberState::Up && m.role.as_deref() == Some("leader"))
            .max_by_key(|m| m.term)
    }

    /// A running follower, for commands and scenarios about "a follower": the last by name,
    /// so that m1 (etcdctl's default endpoint, 127.0.0.1:2379) stays up when it can.
    pub fn follower(&self) -> Option<&ObservedMember> {
        self.members
            .iter()
            .rev()
            .find(|m| m.state == MemberState::Up && m.role.as_deref() == Some("follower"))
    }

    /// Whether the cluster has settled: a leader, and every running member knows one (a
    /// member just restarted answers "no leader" until it does).
    pub fn settled(&self) -> bool {
        self.leader().is_some()
            && self
                .members
                .iter()
                .filter(|m| m.state == MemberState::Up)
                .all(|m| m.leader.is_some())
    }

    pub fn member(&self, name: &str) -> Option<&ObservedMember> {
        self.members.iter().find(|m| m.name == name)
    }

    /// Names of the members that vote: the membership's non-learners, or every lab member
    /// when the membership is unknown.
    pub fn voters(&self) -> Vec<&str> {
        if self.membership.is_empty() {
            self.members.iter().map(|m| m.name.as_str()).collect()
        } else {
            self.membership
                .iter()
                .filter(|m| !m.is_learner)
                .map(|m| m.name.as_str())
                .collect()
        }
    }

    /// Whether some group of running voters that can reach one another is a majority.
    pub fn has_quorum(&self) -> bool {
        let voters = self.voters();
        let needed = voters.len() / 2 + 1;
        let running = |name: &str| {
            self.member(name)
                .is_some_and(|m| m.state == MemberState::Up)
        };
        let groups: Vec<Vec<&str>> = match &self.partition {
            Some(groups) => {
                let mut groups: Vec<Vec<&str>> = groups
                    .iter()
                    .map(|g| g.iter().map(String::as_str).collect())
                    .collect();
                // Members named in no group form one more group together.
                let rest: Vec<&str> = voters
                    .iter()
                    .copied()
                    .filter(|v| !groups.iter().any(|g| g.contains(v)))
                    .collect();
                groups.push(rest);
                groups
            }
            None => vec![voters.clone()],
        };
        groups.iter().any(|group| {
            group
                .iter()
                .filter(|name| voters.contains(name) && running(name))
                .count()
                >= needed
        })
    }
}
