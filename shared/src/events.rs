//! The Raft event schema: what every member reports about consensus as it happens, in one
//! versioned serde form that the server streams (`/debug/raft/events`), the lab merges, the
//! terminal timeline prints, recordings store (one JSON object per line) and the visualizer
//! animates.
//!
//! Every event has the same envelope — `v` (schema version), `seq` (per member, increasing),
//! `ts_ms` (milliseconds since the Unix epoch, or of virtual time in a simulation), `node`
//! (member name), `id` (member id, hex), `term` (the member's term when it happened) and
//! `kind` — plus the fields of its kind, flattened beside them:
//!
//! ```json
//! {"v":1,"seq":42,"ts_ms":1764633600123,"node":"m1","id":"8e9e05c52164694d","term":3,
//!  "kind":"append_sent","msg_id":17,"to":"91bc3c398fb3c146","prev_index":7,"prev_term":3,
//!  "first_index":8,"last_index":9,"commit":7}
//! ```
//!
//! Member ids are hex strings (as etcdctl prints them): JSON numbers cannot carry 64 bits.
//! Every Raft message a member sends gets a `msg_id`, unique per sender, carried in the peer
//! transport's envelope; the receiver reports the same `msg_id` with the sender's id in `from`,
//! so a send pairs with its receipt and the UI can draw the flight.

use serde::{Deserialize, Serialize};

mod decode;

/// The schema version written in every event's `v`. Adding a kind or a field keeps it;
/// renaming or removing one bumps it.
pub const SCHEMA_VERSION: u32 = 1;

/// One thing that happened on one member.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "decode::EventFields")]
pub struct RaftEvent {
    /// Schema version ([`SCHEMA_VERSION`]).
    pub v: u32,
    /// Position in this member's stream: increases by one per event, from 1 at start-up.
    pub seq: u64,
    /// When it happened, in milliseconds since the Unix epoch (virtual time in a simulation).
    pub ts_ms: u64,
    /// The member's name (`--name`).
    pub node: String,
    /// The member's id, hex.
    pub id: String,
    /// The member's Raft term at the time.
    pub term: u64,
    #[serde(flatten)]
    pub kind: EventKind,
}

/// A member's part in Raft, as the events name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Follower,
    PreCandidate,
    Candidate,
    Leader,
    /// A non-voting member (raft-rs keeps learners in the follower state).
    Learner,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Follower => "follower",
            Role::PreCandidate => "pre_candidate",
            Role::Candidate => "candidate",
            Role::Leader => "leader",
            Role::Learner => "learner",
        }
    }
}

/// What happened, with the fields of that kind.
///
/// Sends and receipts: every message send is one of `vote_requested`, `vote_granted`,
/// `vote_rejected`, `append_sent`, `append_acked`, `append_rejected`, `heartbeat_sent`,
/// `heartbeat_acked`, `snapshot_sent` or `message_sent` (the other Raft message types); its
/// arrival is `append_received` for appends and `message_received` for everything else.
///
/// Events are read back whole, as [`RaftEvent`]s (see `decode`).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EventKind {
    /// The member started (host event), with its timing so a UI can draw timers.
    MemberStarted {
        /// Milliseconds per Raft tick (etcd's `--heartbeat-interval`).
        tick_ms: u64,
        /// Election timeout in ticks (randomised between this and twice this).
        election_ticks: u64,
        heartbeat_ticks: u64,
    },
    /// The member is stopping (host event).
    MemberStopped {
        reason: String,
    },
    /// The member's role or its idea of the leader changed.
    RoleChanged {
        role: Role,
        /// The leader's id (hex), `"0"` when none is known.
        leader: String,
        /// The randomised election timeout now running, in ticks.
        election_timeout_ticks: u64,
    },
    /// The election timer ran out: the member starts a (pre-)election.
    ElectionTimeout {
        /// The randomised timeout that expired, in ticks.
        timeout_ticks: u64,
        /// Ticks elapsed since the timer was last reset.
        elapsed_ticks: u64,
    },
    /// A (pre-)vote request sent to `to`.
    VoteRequested {
        msg_id: u64,
        to: String,
        pre_vote: bool,
        /// The candidate's last log index and term.
        last_index: u64,
        last_term: u64,
    },
    /// A (pre-)vote granted to the candidate `to`.
    VoteGranted {
        msg_id: u64,
        to: String,
        pre_vote: bool,
    },
    /// A (pre-)vote refused to the candidate `to`.
    VoteRejected {
        msg_id: u64,
        to: String,
        pre_vote: bool,
        /// Why, in words: a stale term, a vote already given, a shorter log, a live leader.
        reason: String,
    },
    /// Log entries (or an empty probe) sent by the leader to `to`.
    AppendSent {
        msg_id: u64,
        to: String,
        /// The entry just before the ones sent, which the follower must already hold.
        prev_index: u64,
        prev_term: u64,
        /// The entries sent, `first_index..=last_index`; both 0 for an empty append.
        first_index: u64,
        last_index: u64,
        /// The leader's commit index.
        commit: u64,
    },
    /// An append arrived from the leader `from`.
    AppendReceived {
        msg_id: u64,
        from: String,
        prev_index: u64,
        prev_term: u64,
        first_index: u64,
        last_index: u64,
        commit: u64,
    },
    /// A follower's acceptance of an append, sent to the leader `to`.
    AppendAcked {
        msg_id: u64,
        to: String,
        /// The follower's log now matches the leader's up to this index.
        match_index: u64,
    },
    /// A follower's refusal of an append (its log does not hold the previous entry).
    AppendRejected {
        msg_id: u64,
        to: String,
        /// The index the follower refused at and its last index, for the leader's next try.
        rejected_index: u64,
        hint_index: u64,
    },
    HeartbeatSent {
        msg_id: u64,
        to: String,
        commit: u64,
    },
    HeartbeatAcked {
        msg_id: u64,
        to: String,
    },
    /// A snapshot of the whole state sent to a member too far behind for the log.
    SnapshotSent {
        msg_id: u64,
        to: String,
        index: u64,
        snapshot_term: u64,
        bytes: u64,
    },
    /// Any other Raft message sent (e.g. a forwarded proposal, a read-index request,
    /// a leadership transfer's `timeout_now`).
    MessageSent {
        msg_id: u64,
        to: String,
        /// The Raft message type, e.g. `MsgPropose`.
        msg_type: String,
    },
    /// A Raft message other than an append arrived from `from`.
    MessageReceived {
        msg_id: u64,
        from: String,
        msg_type: String,
    },
    /// Entries were written to this member's log (a leader's new proposals, or entries a
    /// follower took from an append). Entries at `first_index` and after that the log held
    /// before are replaced: a follower's conflicting, uncommitted tail is cut here.
    EntriesAppended {
        first_index: u64,
        last_index: u64,
        /// The entries, each with its term and readable request (at most
        /// [`MAX_LISTED_ENTRIES`]: the first ones of a larger batch).
        entries: Vec<EntrySummary>,
    },
    /// The commit index moved forward.
    CommitAdvanced {
        commit: u64,
    },
    /// A committed entry was applied to the state machine.
    EntryApplied {
        index: u64,
        entry_term: u64,
        /// The entry in readable form: `put key1=value1`, `txn ...`, `conf change ...`.
        request: String,
    },
    /// A snapshot from the leader replaced this member's state.
    SnapshotApplied {
        index: u64,
        snapshot_term: u64,
    },
    /// A membership change took effect.
    ConfChangeApplied {
        /// `add_node`, `add_learner_node` or `remove_node`.
        change: String,
        member: String,
        /// The voters and learners after it (hex ids).
        voters: Vec<String>,
        learners: Vec<String>,
    },
    /// A linearizable read point was confirmed by a quorum.
    ReadIndex {
        index: u64,
    },
    /// A message dropped by an injected fault (`--experimental-fault-injection`).
    MessageDropped {
        msg_id: u64,
        to: String,
        /// `partition`, `loss` or `paused`.
        reason: String,
    },
    /// A message held back by an injected delay.
    MessageDelayed {
        msg_id: u64,
        to: String,
        delay_ms: u64,
    },
    /// A client's request reached this member.
    ClientRequest {
        request_id: u64,
        request: String,
    },
    /// This member answered a client's request.
    ClientResponse {
        request_id: u64,
        /// `ok`, or the error the client got.
        result: String,
    },
    /// An injected fault was set or cleared on this member (host event).
    FaultChanged {
        description: String,
    },
}

/// Entries listed one by one in an `entries_appended` event; a larger batch lists its first ones.
pub const MAX_LISTED_ENTRIES: usize = 64;

/// One log entry as events show it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EntrySummary {
    pub index: u64,
    pub term: u64,
    /// Readable form, as in `entry_applied`.
    pub request: String,
}

impl EventKind {
    /// The kind's name as it appears in `kind`.
    pub fn name(&self) -> &'static str {
        match self {
            EventKind::MemberStarted { .. } => "member_started",
            EventKind::MemberStopped { .. } => "member_stopped",
            EventKind::RoleChanged { .. } => "role_changed",
            EventKind::ElectionTimeout { .. } => "election_timeout",
            EventKind::VoteRequested { .. } => "vote_requested",
            EventKind::VoteGranted { .. } => "vote_granted",
            EventKind::VoteRejected { .. } => "vote_rejected",
            EventKind::AppendSent { .. } => "append_sent",
            EventKind::AppendReceived { .. } => "append_received",
            EventKind::AppendAcked { .. } => "append_acked",
            EventKind::AppendRejected { .. } => "append_rejected",
            EventKind::HeartbeatSent { .. } => "heartbeat_sent",
            EventKind::HeartbeatAcked { .. } => "heartbeat_acked",
            EventKind::SnapshotSent { .. } => "snapshot_sent",
            EventKind::MessageSent { .. } => "message_sent",
            EventKind::MessageReceived { .. } => "message_received",
            EventKind::EntriesAppended { .. } => "entries_appended",
            EventKind::CommitAdvanced { .. } => "commit_advanced",
            EventKind::EntryApplied { .. } => "entry_applied",
            EventKind::SnapshotApplied { .. } => "snapshot_applied",
            EventKind::ConfChangeApplied { .. } => "conf_change_applied",
            EventKind::ReadIndex { .. } => "read_index",
            EventKind::MessageDropped { .. } => "message_dropped",
            EventKind::MessageDelayed { .. } => "message_delayed",
            EventKind::ClientRequest { .. } => "client_request",
            EventKind::ClientResponse { .. } => "client_response",
            EventKind::FaultChanged { .. } => "fault_changed",
        }
    }
}

/// A member id as events write it.
pub fn hex_id(id: u64) -> String {
    format!("{id:x}")
}

/// Collects a member's events with their envelope, while someone is listening.
///
/// Disabled (the default), [`EventLog::record`] costs one branch and builds nothing, so a
/// member without subscribers pays next to nothing for being observable.
#[derive(Debug)]
pub struct EventLog {
    enabled: bool,
    node: String,
    id: String,
    next_seq: u64,
    now_ms: u64,
    pending: Vec<RaftEvent>,
}

impl EventLog {
    pub fn new(node: &str, id: u64) -> EventLog {
        EventLog {
            enabled: false,
            node: node.to_string(),
            id: hex_id(id),
            next_seq: 1,
            now_ms: 0,
            pending: Vec::new(),
        }
    }

    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// Starts or stops collecting; stopping discards what was not taken yet.
    pub fn set_enabled(&mut self, enabled: bool) {
        self.enabled = enabled;
        if !enabled {
            self.pending.clear();
        }
    }

    /// Sets the time stamped on the events recorded from now on.
    pub fn set_now(&mut self, now_ms: u64) {
        self.now_ms = now_ms;
    }

    /// Records an event built by `kind` (called only when enabled).
    pub fn record(&mut self, term: u64, kind: impl FnOnce() -> EventKind) {
        if !self.enabled {
            return;
        }
        let event = RaftEvent {
            v: SCHEMA_VERSION,
            seq: self.next_seq,
            ts_ms: self.now_ms,
            node: self.node.clone(),
            id: self.id.clone(),
            term,
            kind: kind(),
        };
        self.next_seq += 1;
        self.pending.push(event);
    }

    /// The events recorded since the last call, oldest first.
    pub fn take(&mut self) -> Vec<RaftEvent> {
        std::mem::take(&mut self.pending)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One event of every kind, with values that exercise each field's range.
    fn one_of_each_kind() -> Vec<EventKind> {
        let to = || hex_id(0x91bc3c398fb3c146);
        vec![
            EventKind::MemberStarted {
                tick_ms: 100,
                election_ticks: 10,
                heartbeat_ticks: 1,
            },
            EventKind::MemberStopped {
                reason: "killed \"now\"\n".into(),
            },
            EventKind::RoleChanged {
                role: Role::PreCandidate,
                leader: "0".into(),
                election_timeout_ticks: 17,
            },
            EventKind::ElectionTimeout {
                timeout_ticks: 12,
                elapsed_ticks: 12,
            },
            EventKind::VoteRequested {
                msg_id: 1,
                to: to(),
                pre_vote: true,
                last_index: u64::MAX,
                last_term: 0,
            },
            EventKind::VoteGranted {
                msg_id: 2,
                to: to(),
                pre_vote: false,
            },
            EventKind::VoteRejected {
                msg_id: 3,
                to: to(),
                pre_vote: true,
                reason: "a shorter log".into(),
            },
            EventKind::AppendSent {
                msg_id: 4,
                to: to(),
                prev_index: 7,
                prev_term: 3,
                first_index: 8,
                last_index: 9,
                commit: 7,
            },
            EventKind::AppendReceived {
                msg_id: 4,
                from: hex_id(1),
                prev_index: 0,
                prev_term: 0,
                first_index: 0,
                last_index: 0,
                commit: 0,
            },
            EventKind::AppendAcked {
                msg_id: 5,
                to: to(),
                match_index: 9,
            },
            EventKind::AppendRejected {
                msg_id: 6,
                to: to(),
                rejected_index: 9,
                hint_index: 4,
            },
            EventKind::HeartbeatSent {
                msg_id: 7,
                to: to(),
                commit: 9,
            },
            EventKind::HeartbeatAcked {
                msg_id: 8,
                to: to(),
            },
            EventKind::SnapshotSent {
                msg_id: 9,
                to: to(),
                index: 1000,
                snapshot_term: 4,
                bytes: 1 << 40,
            },
            EventKind::MessageSent {
                msg_id: 10,
                to: to(),
                msg_type: "MsgPropose".into(),
            },
            EventKind::MessageReceived {
                msg_id: 10,
                from: hex_id(2),
                msg_type: "MsgTimeoutNow".into(),
            },
            EventKind::EntriesAppended {
                first_index: 10,
                last_index: 11,
                entries: vec![
                    EntrySummary {
                        index: 10,
                        term: 4,
                        request: "put k=v".into(),
                    },
                    EntrySummary {
                        index: 11,
                        term: 4,
                        request: "conf change add_node 2".into(),
                    },
                ],
            },
            EventKind::EntriesAppended {
                first_index: 12,
                last_index: 12,
                entries: vec![],
            },
            EventKind::CommitAdvanced { commit: 11 },
            EventKind::EntryApplied {
                index: 11,
                entry_term: 4,
                request: "txn é ✓".into(),
            },
            EventKind::SnapshotApplied {
                index: 1000,
                snapshot_term: 4,
            },
            EventKind::ConfChangeApplied {
                change: "add_learner_node".into(),
                member: hex_id(3),
                voters: vec![hex_id(1), hex_id(2)],
                learners: vec![hex_id(3)],
            },
            EventKind::ConfChangeApplied {
                change: "remove_node".into(),
                member: hex_id(3),
                voters: vec![hex_id(1)],
                learners: vec![],
            },
            EventKind::ReadIndex { index: 11 },
            EventKind::MessageDropped {
                msg_id: 11,
                to: to(),
                reason: "partition".into(),
            },
            EventKind::MessageDelayed {
                msg_id: 12,
                to: to(),
                delay_ms: 250,
            },
            EventKind::ClientRequest {
                request_id: 13,
                request: "get k".into(),
            },
            EventKind::ClientResponse {
                request_id: 13,
                result: "ok".into(),
            },
            EventKind::FaultChanged {
                description: String::new(),
            },
        ]
    }

    fn event(seq: u64, kind: EventKind) -> RaftEvent {
        RaftEvent {
            v: SCHEMA_VERSION,
            seq,
            ts_ms: 1_764_633_600_123,
            node: "m1".into(),
            id: hex_id(0x8e9e05c52164694d),
            term: 3,
            kind,
        }
    }

    /// Which kind an event is, as a position: this match has no wildcard, so a new kind does
    /// not compile until it gets a sample above.
    fn kind_position(kind: &EventKind) -> usize {
        match kind {
            EventKind::MemberStarted { .. } => 0,
            EventKind::MemberStopped { .. } => 1,
            EventKind::RoleChanged { .. } => 2,
            EventKind::ElectionTimeout { .. } => 3,
            EventKind::VoteRequested { .. } => 4,
            EventKind::VoteGranted { .. } => 5,
            EventKind::VoteRejected { .. } => 6,
            EventKind::AppendSent { .. } => 7,
            EventKind::AppendReceived { .. } => 8,
            EventKind::AppendAcked { .. } => 9,
            EventKind::AppendRejected { .. } => 10,
            EventKind::HeartbeatSent { .. } => 11,
            EventKind::HeartbeatAcked { .. } => 12,
            EventKind::SnapshotSent { .. } => 13,
            EventKind::MessageSent { .. } => 14,
            EventKind::MessageReceived { .. } => 15,
            EventKind::EntriesAppended { .. } => 16,
            EventKind::CommitAdvanced { .. } => 17,
            EventKind::EntryApplied { .. } => 18,
            EventKind::SnapshotApplied { .. } => 19,
            EventKind::ConfChangeApplied { .. } => 20,
            EventKind::ReadIndex { .. } => 21,
            EventKind::MessageDropped { .. } => 22,
            EventKind::MessageDelayed { .. } => 23,
            EventKind::ClientRequest { .. } => 24,
            EventKind::ClientResponse { .. } => 25,
            EventKind::FaultChanged { .. } => 26,
        }
    }

    /// The JSON of every kind is pinned (`every_kind.jsonl`, written by the derived serde code
    /// of schema version 1): writing gives exactly those lines, reading them gives the events.
    #[test]
    fn every_kind_writes_and_reads_its_pinned_json() {
        let samples = one_of_each_kind();
        let mut covered = [false; 27];
        for kind in &samples {
            covered[kind_position(kind)] = true;
        }
        assert!(covered.iter().all(|c| *c), "a kind has no sample");
        let pinned: Vec<&str> = include_str!("events/every_kind.jsonl").lines().collect();
        assert_eq!(pinned.len(), samples.len());
        for ((i, kind), line) in samples.into_iter().enumerate().zip(pinned) {
            let event = event(i as u64 + 1, kind);
            assert_eq!(serde_json::to_string(&event).unwrap(), line);
            let from_text: RaftEvent = serde_json::from_str(line).unwrap();
            assert_eq!(from_text, event);
            // The visualizer reads events through a `serde_json::Value`.
            let value: serde_json::Value = serde_json::from_str(line).unwrap();
            let from_value: RaftEvent = serde_json::from_value(value).unwrap();
            assert_eq!(from_value, event);
            assert_eq!(
                from_value.kind.name(),
                serde_json::from_str::<serde_json::Value>(line).unwrap()["kind"]
            );
        }
    }

    /// What the reader accepts besides: fields it does not know (the lab's `cursor`), in any
    /// order; and what it refuses, with an error naming the problem.
    #[test]
    fn reading_ignores_unknown_fields_and_refuses_bad_events() {
        let read = |text: &str| serde_json::from_str::<RaftEvent>(text).map_err(|e| e.to_string());
        let event = read(
            r#"{"commit":5,"cursor":9,"kind":"commit_advanced","term":2,"id":"1","node":"m1","ts_ms":0,"seq":1,"v":1,"to":"2"}"#,
        )
        .unwrap();
        assert_eq!(event.kind, EventKind::CommitAdvanced { commit: 5 });
        assert_eq!((event.seq, event.term), (1, 2));
        let envelope = r#""v":1,"seq":1,"ts_ms":0,"node":"m1","id":"1","term":2"#;
        let cases = [
            (
                r#""kind":"append_acked","msg_id":1,"to":"2""#,
                "match_index",
            ),
            (r#""kind":"no_such_kind""#, "no_such_kind"),
            (r#""commit":1"#, "kind"),
            (r#""kind":"commit_advanced","commit":"5""#, "invalid type"),
            (r#""kind":"commit_advanced","commit":-1"#, "invalid value"),
            (
                r#""kind":"commit_advanced","commit":1,"commit":2"#,
                "duplicate field",
            ),
            (
                r#""kind":"role_changed","role":"king","leader":"0","election_timeout_ticks":1"#,
                "king",
            ),
        ];
        for (fields, expected) in cases {
            let error = read(&format!("{{{envelope},{fields}}}")).unwrap_err();
            assert!(error.contains(expected), "{fields}: {error}");
        }
        let error = read(r#"{"kind":"commit_advanced","commit":1}"#).unwrap_err();
        assert!(error.contains("missing field"), "{error}");
    }

    #[test]
    fn events_serialize_flat_with_their_kind() {
        let event = RaftEvent {
            v: SCHEMA_VERSION,
            seq: 3,
            ts_ms: 1000,
            node: "m1".into(),
            id: hex_id(0x8e9e05c52164694d),
            term: 2,
            kind: EventKind::AppendAcked {
                msg_id: 9,
                to: hex_id(1),
                match_index: 7,
            },
        };
        let json = serde_json::to_string(&event).unwrap();
        assert_eq!(
            json,
            r#"{"v":1,"seq":3,"ts_ms":1000,"node":"m1","id":"8e9e05c52164694d","term":2,"kind":"append_acked","msg_id":9,"to":"1","match_index":7}"#
        );
        let back: RaftEvent = serde_json::from_str(&json).unwrap();
        assert_eq!(back, event);
        assert_eq!(back.kind.name(), "append_acked");
    }

    #[test]
    fn a_disabled_log_records_nothing_and_sequence_numbers_follow_records() {
        let mut log = EventLog::new("m1", 1);
        log.record(1, || EventKind::CommitAdvanced { commit: 1 });
        assert!(log.take().is_empty());
        log.set_enabled(true);
        log.set_now(5);
        log.record(1, || EventKind::CommitAdvanced { commit: 2 });
        log.record(1, || EventKind::CommitAdvanced { commit: 3 });
        let events = log.take();
        assert_eq!(
            events.iter().map(|e| (e.seq, e.ts_ms)).collect::<Vec<_>>(),
            vec![(1, 5), (2, 5)]
        );
        assert!(log.take().is_empty());
    }
}
