//! Reading an event back from its JSON: one flat pass over the object into [`EventFields`],
//! then its `kind` takes the fields it needs.
//!
//! serde's derive for an internally tagged enum flattened into its envelope buffers the whole
//! object and runs one generated visitor per kind over the copy (57 KB of the visualizer's
//! wasm). Every field name means the same type in every kind that has it, so one struct with
//! every field optional reads any event in one visitor. The JSON accepted is the JSON the
//! derived `Serialize` writes; fields no kind knows (the lab's `cursor`) are ignored, and a
//! field of another kind than the event's is ignored too but must have its usual type.

use serde::Deserialize;

use super::{EntrySummary, EventKind, RaftEvent, Role};

/// Every field an event may carry: the envelope, the `kind` tag, and the fields of all kinds.
#[derive(Deserialize)]
pub(super) struct EventFields {
    v: u32,
    seq: u64,
    ts_ms: u64,
    node: String,
    id: String,
    term: u64,
    kind: String,
    tick_ms: Option<u64>,
    election_ticks: Option<u64>,
    heartbeat_ticks: Option<u64>,
    reason: Option<String>,
    role: Option<Role>,
    leader: Option<String>,
    election_timeout_ticks: Option<u64>,
    timeout_ticks: Option<u64>,
    elapsed_ticks: Option<u64>,
    msg_id: Option<u64>,
    to: Option<String>,
    from: Option<String>,
    pre_vote: Option<bool>,
    last_index: Option<u64>,
    last_term: Option<u64>,
    prev_index: Option<u64>,
    prev_term: Option<u64>,
    first_index: Option<u64>,
    commit: Option<u64>,
    match_index: Option<u64>,
    rejected_index: Option<u64>,
    hint_index: Option<u64>,
    index: Option<u64>,
    snapshot_term: Option<u64>,
    bytes: Option<u64>,
    msg_type: Option<String>,
    entries: Option<Vec<EntrySummary>>,
    entry_term: Option<u64>,
    request: Option<String>,
    change: Option<String>,
    member: Option<String>,
    voters: Option<Vec<String>>,
    learners: Option<Vec<String>>,
    delay_ms: Option<u64>,
    request_id: Option<u64>,
    result: Option<String>,
    description: Option<String>,
}

impl TryFrom<EventFields> for RaftEvent {
    type Error = String;

    fn try_from(mut f: EventFields) -> Result<RaftEvent, String> {
        let kind = std::mem::take(&mut f.kind);
        // The field `$name` of this kind, which must be present.
        macro_rules! need {
            ($name:ident) => {
                match f.$name.take() {
                    Some(value) => value,
                    None => return Err(missing(stringify!($name), &kind)),
                }
            };
        }
        let event_kind = match kind.as_str() {
            "member_started" => EventKind::MemberStarted {
                tick_ms: need!(tick_ms),
                election_ticks: need!(election_ticks),
                heartbeat_ticks: need!(heartbeat_ticks),
            },
            "member_stopped" => EventKind::MemberStopped {
                reason: need!(reason),
            },
            "role_changed" => EventKind::RoleChanged {
                role: need!(role),
                leader: need!(leader),
                election_timeout_ticks: need!(election_timeout_ticks),
            },
            "election_timeout" => EventKind::ElectionTimeout {
                timeout_ticks: need!(timeout_ticks),
                elapsed_ticks: need!(elapsed_ticks),
            },
            "vote_requested" => EventKind::VoteRequested {
                msg_id: need!(msg_id),
                to: need!(to),
                pre_vote: need!(pre_vote),
                last_index: need!(last_index),
                last_term: need!(last_term),
            },
            "vote_granted" => EventKind::VoteGranted {
                msg_id: need!(msg_id),
                to: need!(to),
                pre_vote: need!(pre_vote),
            },
            "vote_rejected" => EventKind::VoteRejected {
                msg_id: need!(msg_id),
                to: need!(to),
                pre_vote: need!(pre_vote),
                reason: need!(reason),
            },
            "append_sent" => EventKind::AppendSent {
                msg_id: need!(msg_id),
                to: need!(to),
                prev_index: need!(prev_index),
                prev_term: need!(prev_term),
                first_index: need!(first_index),
                last_index: need!(last_index),
                commit: need!(commit),
            },
            "append_received" => EventKind::AppendReceived {
                msg_id: need!(msg_id),
                from: need!(from),
                prev_index: need!(prev_index),
                prev_term: need!(prev_term),
                first_index: need!(first_index),
                last_index: need!(last_index),
                commit: need!(commit),
            },
            "append_acked" => EventKind::AppendAcked {
                msg_id: need!(msg_id),
                to: need!(to),
                match_index: need!(match_index),
            },
            "append_rejected" => EventKind::AppendRejected {
                msg_id: need!(msg_id),
                to: need!(to),
                rejected_index: need!(rejected_index),
                hint_index: need!(hint_index),
            },
            "heartbeat_sent" => EventKind::HeartbeatSent {
                msg_id: need!(msg_id),
                to: need!(to),
                commit: need!(commit),
            },
            "heartbeat_acked" => EventKind::HeartbeatAcked {
                msg_id: need!(msg_id),
                to: need!(to),
            },
            "snapshot_sent" => EventKind::SnapshotSent {
                msg_id: need!(msg_id),
                to: need!(to),
                index: need!(index),
                snapshot_term: need!(snapshot_term),
                bytes: need!(bytes),
            },
            "message_sent" => EventKind::MessageSent {
                msg_id: need!(msg_id),
                to: need!(to),
                msg_type: need!(msg_type),
            },
            "message_received" => EventKind::MessageReceived {
                msg_id: need!(msg_id),
                from: need!(from),
                msg_type: need!(msg_type),
            },
            "entries_appended" => EventKind::EntriesAppended {
                first_index: need!(first_index),
                last_index: need!(last_index),
                entries: need!(entries),
            },
            "commit_advanced" => EventKind::CommitAdvanced {
                commit: need!(commit),
            },
            "entry_applied" => EventKind::EntryApplied {
                index: need!(index),
                entry_term: need!(entry_term),
                request: need!(request),
            },
            "snapshot_applied" => EventKind::SnapshotApplied {
                index: need!(index),
                snapshot_term: need!(snapshot_term),
            },
            "conf_change_applied" => EventKind::ConfChangeApplied {
                change: need!(change),
                member: need!(member),
                voters: need!(voters),
                learners: need!(learners),
            },
            "read_index" => EventKind::ReadIndex {
                index: need!(index),
            },
            "message_dropped" => EventKind::MessageDropped {
                msg_id: need!(msg_id),
                to: need!(to),
                reason: need!(reason),
            },
            "message_delayed" => EventKind::MessageDelayed {
                msg_id: need!(msg_id),
                to: need!(to),
                delay_ms: need!(delay_ms),
            },
            "client_request" => EventKind::ClientRequest {
                request_id: need!(request_id),
                request: need!(request),
            },
            "client_response" => EventKind::ClientResponse {
                request_id: need!(request_id),
                result: need!(result),
            },
            "fault_changed" => EventKind::FaultChanged {
                description: need!(description),
            },
            other => return Err(format!("unknown event kind `{other}`")),
        };
        Ok(RaftEvent {
            v: f.v,
            seq: f.seq,
            ts_ms: f.ts_ms,
            node: f.node,
            id: f.id,
            term: f.term,
            kind: event_kind,
        })
    }
}

fn missing(field: &str, kind: &str) -> String {
    format!("missing field `{field}` in a `{kind}` event")
}
