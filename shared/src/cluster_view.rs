//! The cluster as its Raft events tell it: a pure reducer from [`RaftEvent`]s to a
//! [`ClusterView`] — each member's role, term, log, commit and applied index and key-value
//! state, and the messages in flight between members. The visualizer draws it, the lessons
//! check goals against it, and time travel replays it from any point (it is `Clone`).
//!
//! Events from different members arrive merged in whatever order the network gave them: a
//! receipt may come before its send (it is remembered and matched when the send arrives),
//! and a member's own events are applied once each, in its `seq` order (repeats are skipped;
//! a `member_started` starts the count again, for a restarted process).

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use crate::events::{EntrySummary, EventKind, RaftEvent, Role};

/// Entries kept per member log in the view (the oldest are dropped beyond this).
pub const MAX_LOG_ENTRIES: usize = 500;
/// Finished flights are kept this long (ms) after they end, for animation and inspection.
pub const FLIGHT_RETENTION_MS: u64 = 10_000;
/// At most this many flights are kept.
pub const MAX_FLIGHTS: usize = 2_000;
/// Client requests remembered for the client panel.
pub const MAX_CLIENT_OPS: usize = 50;

/// Whether a member's process runs, as the view knows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MemberState {
    Up,
    Down,
    Paused,
}

/// One member as the view knows it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MemberView {
    pub name: String,
    /// Member id, hex.
    pub id: String,
    pub state: MemberState,
    pub role: Role,
    pub term: u64,
    /// The leader this member follows (hex id), if it knows one.
    pub leader: Option<String>,
    /// The candidate this member voted for in `term`, if any.
    pub voted_for: Option<String>,
    /// The log's most recent entries, in index order, contiguous.
    pub log: Vec<EntrySummary>,
    pub commit: u64,
    pub applied: u64,
    /// The key-value state machine as applied entries built it (puts and deletes).
    pub kv: BTreeMap<String, String>,
    /// The election timeout running (ticks) and when it was last reset (ms).
    pub election_timeout_ticks: u64,
    pub timer_reset_ms: u64,
    /// Milliseconds per tick, when the member (or the lab) said.
    pub tick_ms: Option<u64>,
    /// The last event applied from this member.
    pub last_seq: u64,
}

impl MemberView {
    fn new(id: &str, name: &str) -> MemberView {
        MemberView {
            name: name.to_string(),
            id: id.to_string(),
            state: MemberState::Up,
            role: Role::Follower,
            term: 0,
            leader: None,
            voted_for: None,
            log: Vec::new(),
            commit: 0,
            applied: 0,
            kv: BTreeMap::new(),
            election_timeout_ticks: 0,
            timer_reset_ms: 0,
            tick_ms: None,
            last_seq: 0,
        }
    }

    /// The last index in the view's copy of the log (0 if empty).
    pub fn last_index(&self) -> u64 {
        self.log.last().map_or(0, |e| e.index)
    }

    pub fn entry(&self, index: u64) -> Option<&EntrySummary> {
        let first = self.log.first()?.index;
        self.log.get(index.checked_sub(first)? as usize)
    }
}

/// What kind of message a flight carries, as the UI shapes it (`data-msg`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FlightKind {
    VoteRequest,
    VoteGranted,
    VoteRejected,
    Append,
    AppendAck,
    AppendReject,
    Heartbeat,
    HeartbeatAck,
    Snapshot,
    Other,
}

impl FlightKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FlightKind::VoteRequest => "vote_request",
            FlightKind::VoteGranted => "vote_granted",
            FlightKind::VoteRejected => "vote_rejected",
            FlightKind::Append => "append",
            FlightKind::AppendAck => "append_ack",
            FlightKind::AppendReject => "append_reject",
            FlightKind::Heartbeat => "heartbeat",
            FlightKind::HeartbeatAck => "heartbeat_ack",
            FlightKind::Snapshot => "snapshot",
            FlightKind::Other => "other",
        }
    }
}

/// One message between members: sent, then arrived or dropped.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Flight {
    /// Sender and receiver ids, hex.
    pub from: String,
    pub to: String,
    pub msg_id: u64,
    pub kind: FlightKind,
    /// A short description, e.g. `append [7..9] commit 6`.
    pub label: String,
    /// The term the sender was in.
    pub term: u64,
    pub sent_ms: u64,
    pub arrived_ms: Option<u64>,
    pub dropped: Option<String>,
    pub delay_ms: u64,
}

impl Flight {
    /// When the flight ended (arrived or dropped), if it has.
    pub fn ended_ms(&self) -> Option<u64> {
        self.arrived_ms
            .or_else(|| self.dropped.as_ref().map(|_| self.sent_ms))
    }
}

/// A client request seen by a member, and its answer once given.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ClientOp {
    /// The member that received it (hex id).
    pub member: String,
    pub request_id: u64,
    pub request: String,
    pub result: Option<String>,
    pub ts_ms: u64,
}

/// Loss and delay injected on the link from one member to another.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LinkFault {
    pub from: String,
    pub to: String,
    /// Fraction of messages dropped, 0 to 1.
    pub loss: f64,
    pub delay_ms: u64,
}

/// The whole cluster as the events so far describe it.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ClusterView {
    /// Members by hex id.
    pub members: BTreeMap<String, MemberView>,
    pub flights: Vec<Flight>,
    pub client_ops: Vec<ClientOp>,
    /// The injected partition in force: groups of hex ids (empty when none).
    pub partition: Vec<Vec<String>>,
    /// Injected link faults in force (one direction each).
    pub link_faults: Vec<LinkFault>,
    /// The latest event time seen.
    pub now_ms: u64,
    /// Receipts whose send has not arrived yet: (sender, msg_id) → arrival time.
    early_receipts: HashMap<(String, u64), u64>,
}

impl ClusterView {
    pub fn new() -> ClusterView {
        ClusterView::default()
    }

    /// The members in name order.
    pub fn members_by_name(&self) -> Vec<&MemberView> {
        let mut members: Vec<&MemberView> = self.members.values().collect();
        members.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
        members
    }

    /// A member's name from its hex id (the id itself when unknown).
    pub fn name_of<'a>(&'a self, id: &'a str) -> &'a str {
        self.members
            .get(id)
            .map(|m| m.name.as_str())
            .filter(|n| !n.is_empty())
            .unwrap_or(id)
    }

    /// The member every up member follows as leader in the highest term, if any.
    pub fn leader(&self) -> Option<&MemberView> {
        self.members
            .values()
            .filter(|m| m.state == MemberState::Up && m.role == Role::Leader)
            .max_by_key(|m| m.term)
    }

    /// Records a member as the lab's member list reports it now: its process state, and its
    /// role and term unless events already told of a later term.
    pub fn know_member(
        &mut self,
        id: &str,
        name: &str,
        state: MemberState,
        role: Option<(Role, u64)>,
    ) {
        let member = self
            .members
            .entry(id.to_string())
            .or_insert_with(|| MemberView::new(id, name));
        if !name.is_empty() {
            member.name = name.to_string();
        }
        member.state = state;
        if let Some((role, term)) = role
            && term >= member.term
        {
            member.role = role;
            member.term = term;
        }
    }

    /// Applies one event.
    pub fn apply(&mut self, event: &RaftEvent) {
        self.now_ms = self.now_ms.max(event.ts_ms);
        let member = self
            .members
            .entry(event.id.clone())
            .or_insert_with(|| MemberView::new(&event.id, &event.node));
        if event.seq != 0 && event.seq <= member.last_seq {
            return;
        }
        member.last_seq = event.seq;
        member.name = event.node.clone();
        if event.term > member.term {
            member.term = event.term;
            member.voted_for = None;
        }
        let ts = event.ts_ms;
        let from = event.id.clone();
        match &event.kind {
            EventKind::MemberStarted { tick_ms, .. } => {
                member.state = MemberState::Up;
                member.tick_ms = Some(*tick_ms);
                member.timer_reset_ms = ts;
                // A new process numbers its events from 1 again.
                member.last_seq = 0;
            }
            EventKind::MemberStopped { .. } => {
                member.state = MemberState::Down;
                member.leader = None;
            }
            EventKind::RoleChanged {
                role,
                leader,
                election_timeout_ticks,
            } => {
                member.role = *role;
                member.leader = Some(leader.clone()).filter(|l| l != "0");
                member.election_timeout_ticks = *election_timeout_ticks;
                member.timer_reset_ms = ts;
            }
            EventKind::ElectionTimeout { timeout_ticks, .. } => {
                member.election_timeout_ticks = *timeout_ticks;
                member.timer_reset_ms = ts;
            }
            EventKind::VoteGranted { to, pre_vote, .. } if !pre_vote => {
                member.voted_for = Some(to.clone());
            }
            EventKind::AppendReceived { from: leader, .. } => {
                member.timer_reset_ms = ts;
                member.leader = Some(leader.clone());
            }
            EventKind::MessageReceived {
                from: leader,
                msg_type,
                ..
            } if msg_type == "MsgHeartbeat" => {
                member.timer_reset_ms = ts;
                member.leader = Some(leader.clone());
            }
            EventKind::EntriesAppended {
                first_index,
                last_index,
                entries,
            } => append_entries(member, *first_index, *last_index, entries),
            EventKind::CommitAdvanced { commit } => member.commit = member.commit.max(*commit),
            EventKind::EntryApplied { index, request, .. } => {
                member.applied = member.applied.max(*index);
                member.commit = member.commit.max(*index);
                apply_to_kv(&mut member.kv, request);
            }
            EventKind::SnapshotApplied { index, .. } => {
                member.log.retain(|e| e.index > *index);
                member.commit = member.commit.max(*index);
                member.applied = member.applied.max(*index);
            }
            EventKind::FaultChanged { description } => match description.as_str() {
                "pause" => member.state = MemberState::Paused,
                "resume" => member.state = MemberState::Up,
                "heal" => {
                    self.partition.clear();
                    self.link_faults.clear();
                }
                other => {
                    if let Some(groups) = other.strip_prefix("partition ") {
                        self.partition = groups
                            .split(" / ")
                            .map(|g| g.split_whitespace().map(String::from).collect())
                            .collect();
                    } else if let Some(fault) = parse_link_fault(&event.id, other) {
                        self.link_faults
                            .retain(|l| !(l.from == fault.from && l.to == fault.to));
                        if fault.loss > 0.0 || fault.delay_ms > 0 {
                            self.link_faults.push(fault);
                        }
                    }
                }
            },
            _ => {}
        }
        self.after_member_event(event, &from, ts);
        self.prune();
    }

    /// The parts of an event that concern more than its own member.
    fn after_member_event(&mut self, event: &RaftEvent, from: &str, ts: u64) {
        match &event.kind {
            EventKind::SnapshotApplied { .. } => {
                // The snapshot carries the leader's state machine: take the view's copy of it.
                let leader_kv = self
                    .members
                    .get(from)
                    .and_then(|m| m.leader.clone())
                    .and_then(|l| self.members.get(&l))
                    .map(|l| l.kv.clone());
                if let (Some(kv), Some(m)) = (leader_kv, self.members.get_mut(from)) {
                    m.kv = kv;
                }
            }
            EventKind::ConfChangeApplied {
                change,
                member,
                learners,
                ..
            } => {
                if change == "remove_node" {
                    self.members.remove(member);
                } else if let Some(m) = self.members.get_mut(member) {
                    if learners.contains(member) {
                        m.role = Role::Learner;
                    } else if m.role == Role::Learner {
                        m.role = Role::Follower;
                    }
                }
            }
            EventKind::AppendReceived {
                from: sender,
                msg_id,
                ..
            }
            | EventKind::MessageReceived {
                from: sender,
                msg_id,
                ..
            } => {
                match self
                    .flights
                    .iter_mut()
                    .rev()
                    .find(|f| f.from == *sender && f.msg_id == *msg_id)
                {
                    Some(flight) => flight.arrived_ms = Some(ts),
                    None => {
                        self.early_receipts.insert((sender.clone(), *msg_id), ts);
                    }
                }
            }
            EventKind::MessageDropped { msg_id, reason, .. } => {
                if let Some(flight) = self.flight_mut(from, *msg_id) {
                    flight.dropped = Some(reason.clone());
                }
            }
            EventKind::MessageDelayed {
                msg_id, delay_ms, ..
            } => {
                if let Some(flight) = self.flight_mut(from, *msg_id) {
                    flight.delay_ms = *delay_ms;
                }
            }
            EventKind::ClientRequest {
                request_id,
                request,
            } => {
                self.client_ops.push(ClientOp {
                    member: from.to_string(),
                    request_id: *request_id,
                    request: request.clone(),
                    result: None,
                    ts_ms: ts,
                });
                if self.client_ops.len() > MAX_CLIENT_OPS {
                    self.client_ops.remove(0);
                }
            }
            EventKind::ClientResponse { request_id, result } => {
                if let Some(op) = self
                    .client_ops
                    .iter_mut()
                    .rev()
                    .find(|op| op.member == from && op.request_id == *request_id)
                {
                    op.result = Some(result.clone());
                }
            }
            kind => {
                if let Some((to, msg_id, flight_kind, label)) = flight_of(kind) {
                    let arrived_ms = self.early_receipts.remove(&(from.to_string(), msg_id));
                    self.flights.push(Flight {
                        from: from.to_string(),
                        to,
                        msg_id,
                        kind: flight_kind,
                        label,
                        term: event.term,
                        sent_ms: ts,
                        arrived_ms,
                        dropped: None,
                        delay_ms: 0,
                    });
                }
            }
        }
    }

    fn flight_mut(&mut self, from: &str, msg_id: u64) -> Option<&mut Flight> {
        self.flights
            .iter_mut()
            .rev()
            .find(|f| f.from == from && f.msg_id == msg_id)
    }

    /// Forgets flights that ended long ago (and the oldest beyond [`MAX_FLIGHTS`]).
    fn prune(&mut self) {
        let horizon = self.now_ms.saturating_sub(FLIGHT_RETENTION_MS);
        if self
            .flights
            .first()
            .is_some_and(|f| f.ended_ms().is_some_and(|end| end < horizon))
            || self.flights.len() > MAX_FLIGHTS
        {
            self.flights
                .retain(|f| f.ended_ms().is_none_or(|end| end >= horizon) && f.sent_ms >= horizon);
            let excess = self.flights.len().saturating_sub(MAX_FLIGHTS);
            self.flights.drain(..excess);
        }
        if self.early_receipts.len() > MAX_FLIGHTS {
            self.early_receipts.retain(|_, at| *at >= horizon);
        }
    }
}

/// The flight a send event starts: (to, msg_id, kind, label).
fn flight_of(kind: &EventKind) -> Option<(String, u64, FlightKind, String)> {
    let vote = |pre: bool| if pre { "pre-vote" } else { "vote" };
    Some(match kind {
        EventKind::VoteRequested {
            msg_id,
            to,
            pre_vote,
            last_index,
            last_term,
        } => (
            to.clone(),
            *msg_id,
            FlightKind::VoteRequest,
            format!(
                "{} request (last {last_index}@t{last_term})",
                vote(*pre_vote)
            ),
        ),
        EventKind::VoteGranted {
            msg_id,
            to,
            pre_vote,
        } => (
            to.clone(),
            *msg_id,
            FlightKind::VoteGranted,
            format!("{} granted", vote(*pre_vote)),
        ),
        EventKind::VoteRejected {
            msg_id,
            to,
            pre_vote,
            reason,
        } => (
            to.clone(),
            *msg_id,
            FlightKind::VoteRejected,
            format!("{} rejected: {reason}", vote(*pre_vote)),
        ),
        EventKind::AppendSent {
            msg_id,
            to,
            first_index,
            last_index,
            commit,
            prev_index,
            ..
        } => {
            let label = if *first_index == 0 {
                format!("append (probe after {prev_index}) commit {commit}")
            } else {
                format!("append [{first_index}..{last_index}] commit {commit}")
            };
            (to.clone(), *msg_id, FlightKind::Append, label)
        }
        EventKind::AppendAcked {
            msg_id,
            to,
            match_index,
        } => (
            to.clone(),
            *msg_id,
            FlightKind::AppendAck,
            format!("ack, matches up to {match_index}"),
        ),
        EventKind::AppendRejected {
            msg_id,
            to,
            rejected_index,
            hint_index,
        } => (
            to.clone(),
            *msg_id,
            FlightKind::AppendReject,
            format!("reject at {rejected_index}, last {hint_index}"),
        ),
        EventKind::HeartbeatSent { msg_id, to, commit } => (
            to.clone(),
            *msg_id,
            FlightKind::Heartbeat,
            format!("heartbeat commit {commit}"),
        ),
        EventKind::HeartbeatAcked { msg_id, to } => (
            to.clone(),
            *msg_id,
            FlightKind::HeartbeatAck,
            "heartbeat ack".to_string(),
        ),
        EventKind::SnapshotSent {
            msg_id,
            to,
            index,
            bytes,
            ..
        } => (
            to.clone(),
            *msg_id,
            FlightKind::Snapshot,
            format!("snapshot up to {index} ({bytes} bytes)"),
        ),
        EventKind::MessageSent {
            msg_id,
            to,
            msg_type,
        } => (to.clone(), *msg_id, FlightKind::Other, msg_type.clone()),
        _ => return None,
    })
}

/// Reads a link fault as the member describes it: `link to <hex>: loss <rate> delay <ms> ms`.
fn parse_link_fault(from: &str, description: &str) -> Option<LinkFault> {
    let rest = description.strip_prefix("link to ")?;
    let (to, rest) = rest.split_once(": loss ")?;
    let (loss, rest) = rest.split_once(" delay ")?;
    Some(LinkFault {
        from: from.to_string(),
        to: to.to_string(),
        loss: loss.parse().ok()?,
        delay_ms: rest.strip_suffix(" ms")?.parse().ok()?,
    })
}

/// Writes entries into a member's log copy, cutting whatever they replace.
fn append_entries(member: &mut MemberView, first: u64, last: u64, entries: &[EntrySummary]) {
    member.log.retain(|e| e.index < first);
    if member.last_index() + 1 != first {
        // A gap (events began mid-way, or a snapshot): the view's log restarts here.
        member.log.clear();
    }
    member.log.extend(entries.iter().cloned());
    // A batch longer than the event lists: the rest shares the last listed term.
    let term = entries.last().map_or(member.term, |e| e.term);
    let mut next = member.last_index().max(first.saturating_sub(1)) + 1;
    while next <= last {
        member.log.push(EntrySummary {
            index: next,
            term,
            request: "…".into(),
        });
        next += 1;
    }
    let excess = member.log.len().saturating_sub(MAX_LOG_ENTRIES);
    member.log.drain(..excess);
}

/// Updates a key-value copy from an applied request's readable form: `put k=v`, `del k`,
/// `del a..b` (a range) and `del a..` (from a, onwards). Other requests leave it unchanged.
fn apply_to_kv(kv: &mut BTreeMap<String, String>, request: &str) {
    if let Some(rest) = request.strip_prefix("put ") {
        if let Some((key, value)) = rest.split_once('=') {
            kv.insert(key.to_string(), value.to_string());
        }
    } else if let Some(range) = request.strip_prefix("del ") {
        match range.split_once("..") {
            None => {
                kv.remove(range);
            }
            Some((start, "")) => kv.retain(|k, _| k.as_str() < start),
            Some((start, end)) => kv.retain(|k, _| k.as_str() < start || k.as_str() >= end),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::SCHEMA_VERSION;

    fn event(node: &str, seq: u64, term: u64, ts_ms: u64, kind: EventKind) -> RaftEvent {
        RaftEvent {
            v: SCHEMA_VERSION,
            seq,
            ts_ms,
            node: node.to_string(),
            id: format!("id-{node}"),
            term,
            kind,
        }
    }

    fn entry(index: u64, term: u64, request: &str) -> EntrySummary {
        EntrySummary {
            index,
            term,
            request: request.into(),
        }
    }

    fn appended(first: u64, entries: Vec<EntrySummary>) -> EventKind {
        EventKind::EntriesAppended {
            first_index: first,
            last_index: entries.last().map_or(first, |e| e.index),
            entries,
        }
    }

    /// The events of one put replicated from m1 (leader) to m2.
    fn one_put() -> Vec<RaftEvent> {
        vec![
            event(
                "m1",
                1,
                2,
                100,
                EventKind::RoleChanged {
                    role: Role::Leader,
                    leader: "id-m1".into(),
                    election_timeout_ticks: 12,
                },
            ),
            event("m1", 2, 2, 101, appended(5, vec![entry(5, 2, "put k=v")])),
            event(
                "m1",
                3,
                2,
                102,
                EventKind::AppendSent {
                    msg_id: 7,
                    to: "id-m2".into(),
                    prev_index: 4,
                    prev_term: 2,
                    first_index: 5,
                    last_index: 5,
                    commit: 4,
                },
            ),
            event(
                "m2",
                1,
                2,
                103,
                EventKind::AppendReceived {
                    msg_id: 7,
                    from: "id-m1".into(),
                    prev_index: 4,
                    prev_term: 2,
                    first_index: 5,
                    last_index: 5,
                    commit: 4,
                },
            ),
            event("m2", 2, 2, 104, appended(5, vec![entry(5, 2, "put k=v")])),
            event(
                "m2",
                3,
                2,
                105,
                EventKind::AppendAcked {
                    msg_id: 3,
                    to: "id-m1".into(),
                    match_index: 5,
                },
            ),
            event(
                "m1",
                4,
                2,
                106,
                EventKind::MessageReceived {
                    msg_id: 3,
                    from: "id-m2".into(),
                    msg_type: "MsgAppendResponse".into(),
                },
            ),
            event("m1", 5, 2, 107, EventKind::CommitAdvanced { commit: 5 }),
            event(
                "m1",
                6,
                2,
                108,
                EventKind::EntryApplied {
                    index: 5,
                    entry_term: 2,
                    request: "put k=v".into(),
                },
            ),
        ]
    }

    #[test]
    fn a_put_travels_from_the_leaders_log_to_its_state_machine() {
        let mut view = ClusterView::new();
        for e in one_put() {
            view.apply(&e);
        }
        let m1 = &view.members["id-m1"];
        let m2 = &view.members["id-m2"];
        assert_eq!(m1.role, Role::Leader);
        assert_eq!((m1.commit, m1.applied), (5, 5));
        assert_eq!(m1.kv.get("k").map(String::as_str), Some("v"));
        assert_eq!(m2.entry(5).map(|e| e.request.as_str()), Some("put k=v"));
        assert_eq!(
            (m2.commit, m2.applied),
            (0, 0),
            "m2 has not heard of the commit"
        );
        assert!(m2.kv.is_empty());
        assert_eq!(m2.leader.as_deref(), Some("id-m1"));
        assert_eq!(view.leader().map(|m| m.name.as_str()), Some("m1"));
        let kinds: Vec<_> = view
            .flights
            .iter()
            .map(|f| (f.kind, f.arrived_ms))
            .collect();
        assert_eq!(
            kinds,
            vec![
                (FlightKind::Append, Some(103)),
                (FlightKind::AppendAck, Some(106))
            ]
        );
    }

    #[test]
    fn merged_streams_in_any_order_give_the_same_view() {
        let events = one_put();
        let mut in_order = ClusterView::new();
        for e in &events {
            in_order.apply(e);
        }
        // m2's events first (its receipts precede the sends), then m1's; repeats are skipped.
        let mut shuffled = ClusterView::new();
        for e in events.iter().filter(|e| e.node == "m2") {
            shuffled.apply(e);
        }
        for e in events.iter().filter(|e| e.node == "m1") {
            shuffled.apply(e);
            shuffled.apply(e);
        }
        assert_eq!(shuffled.members, in_order.members);
        let arrivals = |v: &ClusterView| {
            v.flights
                .iter()
                .map(|f| (f.msg_id, f.arrived_ms))
                .collect::<Vec<_>>()
        };
        let mut a = arrivals(&shuffled);
        let mut b = arrivals(&in_order);
        a.sort();
        b.sort();
        assert_eq!(a, b);
    }

    #[test]
    fn a_new_leaders_entries_replace_an_uncommitted_tail() {
        let mut view = ClusterView::new();
        view.apply(&event(
            "m1",
            1,
            2,
            1,
            appended(5, vec![entry(5, 2, "put a=1"), entry(6, 2, "put lost=1")]),
        ));
        view.apply(&event(
            "m1",
            2,
            3,
            2,
            appended(6, vec![entry(6, 3, "put b=2")]),
        ));
        let log: Vec<_> = view.members["id-m1"]
            .log
            .iter()
            .map(|e| (e.index, e.term))
            .collect();
        assert_eq!(log, vec![(5, 2), (6, 3)]);
    }

    #[test]
    fn drops_pauses_stops_and_membership_show_in_the_view() {
        let mut view = ClusterView::new();
        view.apply(&event(
            "m1",
            1,
            2,
            1,
            EventKind::HeartbeatSent {
                msg_id: 1,
                to: "id-m2".into(),
                commit: 3,
            },
        ));
        view.apply(&event(
            "m1",
            2,
            2,
            1,
            EventKind::MessageDropped {
                msg_id: 1,
                to: "id-m2".into(),
                reason: "partition".into(),
            },
        ));
        assert_eq!(view.flights[0].dropped.as_deref(), Some("partition"));
        view.apply(&event(
            "m2",
            1,
            2,
            2,
            EventKind::FaultChanged {
                description: "pause".into(),
            },
        ));
        assert_eq!(view.members["id-m2"].state, MemberState::Paused);
        view.apply(&event(
            "m2",
            2,
            2,
            2,
            EventKind::FaultChanged {
                description: "partition id-m1 / id-m2 id-m3".into(),
            },
        ));
        assert_eq!(
            view.partition,
            vec![
                vec!["id-m1".to_string()],
                vec!["id-m2".into(), "id-m3".into()]
            ]
        );
        view.apply(&event(
            "m2",
            3,
            2,
            2,
            EventKind::FaultChanged {
                description: "link to id-m1: loss 1 delay 0 ms".into(),
            },
        ));
        assert_eq!(view.link_faults.len(), 1);
        assert_eq!(
            (view.link_faults[0].from.as_str(), view.link_faults[0].loss),
            ("id-m2", 1.0)
        );
        view.apply(&event(
            "m3",
            1,
            2,
            3,
            EventKind::MemberStopped {
                reason: "killed".into(),
            },
        ));
        assert_eq!(view.members["id-m3"].state, MemberState::Down);
        view.apply(&event(
            "m1",
            3,
            2,
            4,
            EventKind::ConfChangeApplied {
                change: "add_learner_node".into(),
                member: "id-m2".into(),
                voters: vec!["id-m1".into(), "id-m3".into()],
                learners: vec!["id-m2".into()],
            },
        ));
        assert_eq!(view.members["id-m2"].role, Role::Learner);
        view.apply(&event(
            "m1",
            4,
            2,
            5,
            EventKind::ConfChangeApplied {
                change: "remove_node".into(),
                member: "id-m3".into(),
                voters: vec!["id-m1".into()],
                learners: vec!["id-m2".into()],
            },
        ));
        assert!(!view.members.contains_key("id-m3"));
    }

    #[test]
    fn applied_puts_and_deletes_build_the_key_value_state() {
        let mut kv = BTreeMap::new();
        for request in [
            "put a=1",
            "put b=2",
            "put c=x=y",
            "put d=4",
            "del a",
            "del c..d",
            "txn if ver(a)=0 then put z=1",
        ] {
            apply_to_kv(&mut kv, request);
        }
        assert_eq!(
            kv.into_iter().collect::<Vec<_>>(),
            vec![("b".into(), "2".into()), ("d".into(), "4".into())]
        );
        let mut kv = BTreeMap::from([("a".to_string(), "1".to_string()), ("b".into(), "2".into())]);
        apply_to_kv(&mut kv, "del b..");
        assert_eq!(kv.len(), 1);
    }

    #[test]
    fn old_finished_flights_are_forgotten() {
        let mut view = ClusterView::new();
        for i in 0..5 {
            view.apply(&event(
                "m1",
                i + 1,
                2,
                i * 1000,
                EventKind::HeartbeatSent {
                    msg_id: i,
                    to: "id-m2".into(),
                    commit: 1,
                },
            ));
            view.apply(&event(
                "m2",
                i + 1,
                2,
                i * 1000 + 1,
                EventKind::MessageReceived {
                    msg_id: i,
                    from: "id-m1".into(),
                    msg_type: "MsgHeartbeat".into(),
                },
            ));
        }
        view.apply(&event(
            "m1",
            99,
            2,
            30_000,
            EventKind::CommitAdvanced { commit: 1 },
        ));
        assert!(view.flights.is_empty());
    }
}
