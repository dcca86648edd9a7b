//! The `json` format: Go's `encoding/json` of etcd's gogo-protobuf structs. Field names are
//! the proto names of the struct tags (`cluster_id`, `peerURLs`), zero values are left out
//! (`omitempty`), bytes are base64, 64-bit integers are plain numbers, a oneof is the Go field
//! (`{"Response":{"ResponsePut":{...}}}`), and strings are escaped as Go escapes them.

use base64::Engine;
use etcdlab_core::proto::etcdserverpb::response_op::Response;
use etcdlab_core::proto::etcdserverpb::{
    DeleteRangeResponse, Member, PutResponse, RangeResponse, ResponseHeader, StatusResponse,
    TxnResponse,
};
use etcdlab_core::proto::mvccpb::{Event, KeyValue};
use serde_json::{Map, Value, json};

use super::{AuthCommand, Health, Rendered, Report};

pub(super) fn render(report: &Report) -> Rendered {
    let value = match report {
        Report::Get(r) => r.go_json(),
        Report::Put(r) => r.go_json(),
        Report::Del(r) => r.go_json(),
        Report::Txn(r) => r.go_json(),
        Report::MemberList(r) => object([
            ("header", r.header.as_ref().map(GoJson::go_json)),
            ("members", members(&r.members)),
        ]),
        Report::MemberAdd(r) => object([
            ("header", r.header.as_ref().map(GoJson::go_json)),
            ("member", r.member.as_ref().map(GoJson::go_json)),
            ("members", members(&r.members)),
        ]),
        Report::MemberRemove(_, r) => header_and_members(r.header.as_ref(), &r.members),
        Report::MemberUpdate(_, r) => header_and_members(r.header.as_ref(), &r.members),
        Report::MemberPromote(_, r) => header_and_members(r.header.as_ref(), &r.members),
        Report::EndpointHealth(results) => {
            Value::Array(results.iter().map(GoJson::go_json).collect())
        }
        Report::EndpointStatus(statuses) => Value::Array(
            statuses
                .iter()
                .map(|(endpoint, s)| json!({"Endpoint": endpoint, "Status": s.go_json()}))
                .collect(),
        ),
        Report::EndpointHashKv(hashes) => Value::Array(
            hashes
                .iter()
                .map(|(endpoint, h)| {
                    let body = object([
                        ("header", h.header.as_ref().map(GoJson::go_json)),
                        ("hash", non_zero(h.hash)),
                        ("compact_revision", non_zero(h.compact_revision)),
                    ]);
                    json!({"Endpoint": endpoint, "HashKV": body})
                })
                .collect(),
        ),
        Report::Alarm(r) => object([
            ("header", r.header.as_ref().map(GoJson::go_json)),
            (
                "alarms",
                non_empty(
                    r.alarms
                        .iter()
                        .map(|a| {
                            object([
                                ("memberID", non_zero(a.member_id)),
                                ("alarm", non_zero(a.alarm)),
                            ])
                        })
                        .collect(),
                ),
            ),
        ]),
        Report::MoveLeader { response, .. } => {
            object([("header", response.header.as_ref().map(GoJson::go_json))])
        }
        Report::Auth(r) => {
            let header = ("header", r.header.map(GoJson::go_json));
            let names = |list: &[String]| non_empty(list.iter().map(|n| json!(n)).collect());
            match r.command {
                AuthCommand::UserGet { roles, .. } => object([header, ("roles", names(roles))]),
                AuthCommand::UserList(users) => object([header, ("users", names(users))]),
                AuthCommand::RoleList(roles) => object([header, ("roles", names(roles))]),
                AuthCommand::RoleGet { perms, .. } => {
                    let perms = perms
                        .iter()
                        .map(|p| {
                            object([
                                ("permType", non_zero(p.perm_type)),
                                ("key", bytes(&p.key)),
                                ("range_end", bytes(&p.range_end)),
                            ])
                        })
                        .collect();
                    object([header, ("perm", non_empty(perms))])
                }
                _ => object([header]),
            }
        }
        // clientv3's WatchResponse struct: exported Go fields, no json tags of its own.
        Report::Watch { response, closed } => json!({
            "Header": response.header.map(|h| h.go_json()).unwrap_or_else(|| json!({})),
            "Events": if *closed {
                Value::Null
            } else {
                Value::Array(response.events.iter().map(GoJson::go_json).collect())
            },
            "CompactRevision": response.compact_revision,
            "Canceled": response.canceled,
            "Created": response.created,
        }),
        Report::LeaseRevoke(_, r) => object([("header", r.header.as_ref().map(GoJson::go_json))]),
        // clientv3's lease structs embed the header (its fields come first, flattened) and
        // name their own fields without omitempty.
        Report::LeaseGrant(r) => with_header(
            r.header.as_ref(),
            [
                ("ID", json!(r.id)),
                ("TTL", json!(r.ttl)),
                ("Error", json!(r.error)),
            ],
        ),
        Report::LeaseKeepAlive(r) => with_header(
            r.header.as_ref(),
            [("ID", json!(r.id)), ("TTL", json!(r.ttl))],
        ),
        Report::LeaseTimeToLive(r, _) => {
            let keys = (!r.keys.is_empty()).then(|| {
                let base64 = &base64::engine::general_purpose::STANDARD;
                Value::Array(r.keys.iter().map(|k| json!(base64.encode(k))).collect())
            });
            with_header(
                r.header.as_ref(),
                [
                    ("id", json!(r.id)),
                    ("ttl", json!(r.ttl)),
                    ("granted-ttl", json!(r.granted_ttl)),
                    ("keys", keys.unwrap_or(Value::Null)),
                ],
            )
        }
        Report::LeaseList(r) => {
            let leases = r.leases.iter().map(|l| json!({"id": l.id})).collect();
            with_header(r.header.as_ref(), [("leases", Value::Array(leases))])
        }
    };
    let mut text = encode(&value);
    text.push('\n');
    Rendered::stdout(text)
}

/// A value as Go's `json.Marshal` writes it.
pub fn encode(value: &Value) -> String {
    let mut out = Vec::new();
    let mut serializer = serde_json::Serializer::with_formatter(&mut out, GoFormatter);
    if serde::Serialize::serialize(value, &mut serializer).is_err() {
        return String::new();
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Go's string escaping: `<`, `>`, `&`, U+2028 and U+2029 as `\u` escapes, control characters
/// other than `\n`, `\r` and `\t` as `\u00XX`.
struct GoFormatter;

impl serde_json::ser::Formatter for GoFormatter {
    fn write_string_fragment<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> std::io::Result<()> {
        for c in fragment.chars() {
            match c {
                '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => write!(writer, "\\u{:04x}", c as u32)?,
                c => write!(writer, "{c}")?,
            }
        }
        Ok(())
    }

    fn write_char_escape<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        char_escape: serde_json::ser::CharEscape,
    ) -> std::io::Result<()> {
        use serde_json::ser::CharEscape;
        let text = match char_escape {
            CharEscape::Quote => "\\\"".to_string(),
            CharEscape::ReverseSolidus => "\\\\".to_string(),
            CharEscape::Solidus => "/".to_string(),
            CharEscape::LineFeed => "\\n".to_string(),
            CharEscape::CarriageReturn => "\\r".to_string(),
            CharEscape::Tab => "\\t".to_string(),
            CharEscape::Backspace => "\\u0008".to_string(),
            CharEscape::FormFeed => "\\u000c".to_string(),
            CharEscape::AsciiControl(byte) => format!("\\u{byte:04x}"),
        };
        writer.write_all(text.as_bytes())
    }
}

/// A message as Go's `encoding/json` sees its generated struct.
trait GoJson {
    fn go_json(&self) -> Value;
}

/// An object of the fields that are present (Go's `omitempty`), in struct order.
fn object<const N: usize>(fields: [(&str, Option<Value>); N]) -> Value {
    let mut map = Map::new();
    for (name, value) in fields {
        if let Some(value) = value {
            map.insert(name.to_string(), value);
        }
    }
    Value::Object(map)
}

fn non_zero<T: Default + PartialEq + Into<Value>>(n: T) -> Option<Value> {
    (n != T::default()).then(|| n.into())
}

fn non_empty(items: Vec<Value>) -> Option<Value> {
    (!items.is_empty()).then_some(Value::Array(items))
}

fn text(s: &str) -> Option<Value> {
    (!s.is_empty()).then(|| json!(s))
}

fn bytes(b: &[u8]) -> Option<Value> {
    (!b.is_empty()).then(|| json!(base64::engine::general_purpose::STANDARD.encode(b)))
}

/// The header's fields (as omitempty drops them), then `fields` as they are.
fn with_header<const N: usize>(
    header: Option<&ResponseHeader>,
    fields: [(&str, Value); N],
) -> Value {
    let mut map = match header.map(GoJson::go_json) {
        Some(Value::Object(map)) => map,
        _ => Map::new(),
    };
    for (name, value) in fields {
        map.insert(name.to_string(), value);
    }
    Value::Object(map)
}

fn members(list: &[Member]) -> Option<Value> {
    non_empty(list.iter().map(GoJson::go_json).collect())
}

fn header_and_members(header: Option<&ResponseHeader>, list: &[Member]) -> Value {
    object([
        ("header", header.map(GoJson::go_json)),
        ("members", members(list)),
    ])
}

impl GoJson for ResponseHeader {
    fn go_json(&self) -> Value {
        object([
            ("cluster_id", non_zero(self.cluster_id)),
            ("member_id", non_zero(self.member_id)),
            ("revision", non_zero(self.revision)),
            ("raft_term", non_zero(self.raft_term)),
        ])
    }
}

impl GoJson for KeyValue {
    fn go_json(&self) -> Value {
        object([
            ("key", bytes(&self.key)),
            ("create_revision", non_zero(self.create_revision)),
            ("mod_revision", non_zero(self.mod_revision)),
            ("version", non_zero(self.version)),
            ("value", bytes(&self.value)),
            ("lease", non_zero(self.lease)),
        ])
    }
}

impl GoJson for Event {
    fn go_json(&self) -> Value {
        object([
            ("type", non_zero(self.r#type)),
            ("kv", self.kv.as_ref().map(GoJson::go_json)),
            ("prev_kv", self.prev_kv.as_ref().map(GoJson::go_json)),
        ])
    }
}

impl GoJson for RangeResponse {
    fn go_json(&self) -> Value {
        object([
            ("header", self.header.as_ref().map(GoJson::go_json)),
            (
                "kvs",
                non_empty(self.kvs.iter().map(GoJson::go_json).collect()),
            ),
            ("more", non_zero(self.more)),
            ("count", non_zero(self.count)),
        ])
    }
}

impl GoJson for PutResponse {
    fn go_json(&self) -> Value {
        object([
            ("header", self.header.as_ref().map(GoJson::go_json)),
            ("prev_kv", self.prev_kv.as_ref().map(GoJson::go_json)),
        ])
    }
}

impl GoJson for DeleteRangeResponse {
    fn go_json(&self) -> Value {
        object([
            ("header", self.header.as_ref().map(GoJson::go_json)),
            ("deleted", non_zero(self.deleted)),
            (
                "prev_kvs",
                non_empty(self.prev_kvs.iter().map(GoJson::go_json).collect()),
            ),
        ])
    }
}

impl GoJson for TxnResponse {
    fn go_json(&self) -> Value {
        let responses = self
            .responses
            .iter()
            .map(|op| {
                let inner = match &op.response {
                    Some(Response::ResponseRange(r)) => json!({"ResponseRange": r.go_json()}),
                    Some(Response::ResponsePut(r)) => json!({"ResponsePut": r.go_json()}),
                    Some(Response::ResponseDeleteRange(r)) => {
                        json!({"ResponseDeleteRange": r.go_json()})
                    }
                    Some(Response::ResponseTxn(r)) => json!({"ResponseTxn": r.go_json()}),
                    None => Value::Null,
                };
                json!({"Response": inner})
            })
            .collect();
        object([
            ("header", self.header.as_ref().map(GoJson::go_json)),
            ("succeeded", non_zero(self.succeeded)),
            ("responses", non_empty(responses)),
        ])
    }
}

impl GoJson for Member {
    fn go_json(&self) -> Value {
        let urls = |list: &[String]| non_empty(list.iter().map(|u| json!(u)).collect());
        object([
            ("ID", non_zero(self.id)),
            ("name", text(&self.name)),
            ("peerURLs", urls(&self.peer_ur_ls)),
            ("clientURLs", urls(&self.client_ur_ls)),
            ("isLearner", non_zero(self.is_learner)),
        ])
    }
}

impl GoJson for StatusResponse {
    fn go_json(&self) -> Value {
        object([
            ("header", self.header.as_ref().map(GoJson::go_json)),
            ("version", text(&self.version)),
            ("dbSize", non_zero(self.db_size)),
            ("leader", non_zero(self.leader)),
            ("raftIndex", non_zero(self.raft_index)),
            ("raftTerm", non_zero(self.raft_term)),
            ("raftAppliedIndex", non_zero(self.raft_applied_index)),
            (
                "errors",
                non_empty(self.errors.iter().map(|e| json!(e)).collect()),
            ),
            ("dbSizeInUse", non_zero(self.db_size_in_use)),
            ("isLearner", non_zero(self.is_learner)),
        ])
    }
}

/// etcdctl's `epHealth` struct: `took` always present, `error` only when set.
impl GoJson for Health {
    fn go_json(&self) -> Value {
        object([
            ("endpoint", Some(json!(self.endpoint))),
            ("health", Some(json!(self.healthy))),
            ("took", Some(json!(self.took))),
            ("error", text(&self.error)),
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_escape_as_go() {
        assert_eq!(
            encode(&json!({"a": "<b>&\u{8}\u{1}\n\u{2028}é"})),
            r#"{"a":"\u003cb\u003e\u0026\u0008\u0001\n\u2028é"}"#
        );
    }

    #[test]
    fn zero_values_are_left_out() {
        let r = RangeResponse {
            header: Some(ResponseHeader {
                revision: 17,
                ..Default::default()
            }),
            kvs: vec![KeyValue {
                key: b"k".to_vec(),
                mod_revision: 2,
                ..Default::default()
            }],
            ..Default::default()
        };
        assert_eq!(
            encode(&r.go_json()),
            r#"{"header":{"revision":17},"kvs":[{"key":"aw==","mod_revision":2}]}"#
        );
    }
}
