//! Reading an event back from its JSON: one flat pass over the object into [`EventFields`],
//! then its `kind` takes the fields it needs.
//!
//! serde's derive for an internally tagged enum flattened into its envelope buffers the whole
//! object and runs one generated visitor per kind over the copy (57 KB of the visualizer's
//! wasm). Every field name means the same type in every kind that has it, so one table of
//! optional fields reads any event, with one reading function per field type. The JSON
//! accepted is the JSON the derived `Serialize` writes; fields no kind knows (the lab's
//! `cursor`) are ignored, and a field of another kind than the event's is ignored too but must
//! have its usual type.

use std::fmt;

use serde::de::{Deserialize, Deserializer, Error, IgnoredAny, MapAccess, Visitor};

use super::{EntrySummary, EventKind, RaftEvent, Role};

/// Declares [`EventFields`] and the reading of one field of it by name.
macro_rules! event_fields {
    ($($name:ident: $ty:ty,)*) => {
        /// Every field an event may carry, each as read (`None`: absent).
        #[derive(Default)]
        pub(super) struct EventFields {
            $($name: Option<$ty>,)*
        }

        impl EventFields {
            /// Reads the value of `key` into its field; the values of unknown keys are skipped.
            fn read<'de, A: MapAccess<'de>>(
                &mut self,
                key: &str,
                map: &mut A,
            ) -> Result<(), A::Error> {
                match key {
                    $(stringify!($name) => read_once(&mut self.$name, stringify!($name), map),)*
                    _ => map.next_value::<IgnoredAny>().map(drop),
                }
            }
        }
    };
}

// The envelope, the `kind` tag, then the fields of all kinds.
event_fields! {
    v: u32,
    seq: u64,
    ts_ms: u64,
    node: String,
    id: String,
    term: u64,
    kind: String,
    tick_ms: u64,
    election_ticks: u64,
    heartbeat_ticks: u64,
    reason: String,
    role: Role,
    leader: String,
    election_timeout_ticks: u64,
    timeout_ticks: u64,
    elapsed_ticks: u64,
    msg_id: u64,
    to: String,
    from: String,
    pre_vote: bool,
    last_index: u64,
    last_term: u64,
    prev_index: u64,
    prev_term: u64,
    first_index: u64,
    commit: u64,
    match_index: u64,
    rejected_index: u64,
    hint_index: u64,
    index: u64,
    snapshot_term: u64,
    bytes: u64,
    msg_type: String,
    entries: Vec<EntrySummary>,
    entry_term: u64,
    request: String,
    change: String,
    member: String,
    voters: Vec<String>,
    learners: Vec<String>,
    delay_ms: u64,
    request_id: u64,
    result: String,
    description: String,
}

/// Reads one field's value, refusing a second one as serde's derive does. Out of line on
/// purpose: one copy per field type rather than one per field.
#[inline(never)]
fn read_once<'de, T: Deserialize<'de>, A: MapAccess<'de>>(
    slot: &mut Option<T>,
    name: &'static str,
    map: &mut A,
) -> Result<(), A::Error> {
    if slot.is_some() {
        return Err(A::Error::duplicate_field(name));
    }
    *slot = Some(map.next_value()?);
    Ok(())
}

impl<'de> Deserialize<'de> for EventFields {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<EventFields, D::Error> {
        deserializer.deserialize_map(FieldsVisitor)
    }
}

struct FieldsVisitor;

impl<'de> Visitor<'de> for FieldsVisitor {
    type Value = EventFields;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a Raft event (a JSON object)")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<EventFields, A::Error> {
        let mut fields = EventFields::default();
        while let Some(key) = map.next_key::<String>()? {
            fields.read(&key, &mut map)?;
        }
        Ok(fields)
    }
}

impl TryFrom<EventFields> for RaftEvent {
    type Error = String;

    fn try_from(mut f: EventFields) -> Result<RaftEvent, String> {
        let Some(kind) = f.kind.take() else {
            return Err("missing field `kind`".into());
        };
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
            v: need!(v),
            seq: need!(seq),
            ts_ms: need!(ts_ms),
            node: need!(node),
            id: need!(id),
            term: need!(term),
            kind: event_kind,
        })
    }
}

fn missing(field: &str, kind: &str) -> String {
    format!("missing field `{field}` in an event of kind `{kind}`")
}
