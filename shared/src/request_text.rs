//! Raft entries and client requests in readable form, for events and timelines:
//! `put key1=value1`, `del key1..key9`, `txn if mod(k)=0 then put k=v else get k`,
//! `conf change add_node 8e9e05c52164694d`. Long keys and values are cut with `…` so one entry
//! stays one line.

use crate::proto::etcdlab::raft_request::Op;
use crate::proto::etcdserverpb::compare::{CompareResult, CompareTarget, TargetUnion};
use crate::proto::etcdserverpb::request_op::Request;
use crate::proto::etcdserverpb::{AlarmType, Compare, RequestOp, TxnRequest};

/// Characters of a key or value shown before it is cut.
const MAX_SHOWN: usize = 40;

/// A client write or internal request as one readable line.
pub fn describe(op: &Op) -> String {
    match op {
        Op::Put(r) => format!("put {}={}", shown(&r.key), shown(&r.value)),
        Op::DeleteRange(r) => format!("del {}", key_range(&r.key, &r.range_end)),
        Op::Range(r) => format!("get {}", key_range(&r.key, &r.range_end)),
        Op::Txn(t) => describe_txn(t),
        Op::Compaction(c) => format!("compact {}", c.revision),
        Op::MemberAttributes(a) => {
            format!("publish member {} ({})", a.name, a.client_urls.join(","))
        }
        Op::MemberPeerUrls(u) => format!(
            "member update {:x} peer urls {}",
            u.member_id,
            u.peer_urls.join(",")
        ),
        Op::ClusterVersion(v) => format!("cluster version {}", v.version),
        // Neither the token secret nor password hashes are shown.
        Op::AuthEnable(_) => "auth enable".into(),
        Op::AuthDisable(_) => "auth disable".into(),
        Op::UserAdd(u) => format!("user add {}", u.name),
        Op::UserDelete(u) => format!("user delete {}", u.name),
        Op::UserChangePassword(u) => format!("user passwd {}", u.name),
        Op::UserGrantRole(g) => format!("user grant-role {} {}", g.user, g.role),
        Op::UserRevokeRole(r) => format!("user revoke-role {} {}", r.name, r.role),
        Op::RoleAdd(r) => format!("role add {}", r.name),
        Op::RoleDelete(r) => format!("role delete {}", r.role),
        Op::RoleGrantPermission(g) => {
            let (kind, range) = g.perm.as_ref().map_or(("?", String::new()), |p| {
                let kind = match p.perm_type {
                    0 => "read",
                    1 => "write",
                    _ => "readwrite",
                };
                (kind, key_range(&p.key, &p.range_end))
            });
            format!("role grant-permission {} {kind} {range}", g.name)
        }
        Op::RoleRevokePermission(r) => format!(
            "role revoke-permission {} {}",
            r.role,
            key_range(&r.key, &r.range_end)
        ),
        Op::Alarm(a) => {
            let action = match a.action {
                0 => "get",
                1 => "activate",
                _ => "deactivate",
            };
            let alarm = AlarmType::try_from(a.alarm)
                .map(|t| t.as_str_name().to_string())
                .unwrap_or_else(|_| a.alarm.to_string());
            format!("alarm {action} {alarm} on {:x}", a.member_id)
        }
        Op::LeaseGrant(g) => format!("lease grant {:x} ttl {}s", g.id, g.ttl),
        Op::LeaseRevoke(r) => format!("lease revoke {:x}", r.id),
    }
}

fn describe_txn(t: &TxnRequest) -> String {
    let compares: Vec<String> = t.compare.iter().map(describe_compare).collect();
    let ops = |ops: &[RequestOp]| -> String {
        if ops.is_empty() {
            return "nothing".into();
        }
        ops.iter().map(describe_op).collect::<Vec<_>>().join("; ")
    };
    let mut text = format!("txn if {} then {}", compares.join(" and "), ops(&t.success));
    if !t.failure.is_empty() {
        text.push_str(&format!(" else {}", ops(&t.failure)));
    }
    text
}

fn describe_compare(c: &Compare) -> String {
    let target = match CompareTarget::try_from(c.target).unwrap_or(CompareTarget::Version) {
        CompareTarget::Version => "ver",
        CompareTarget::Create => "create",
        CompareTarget::Mod => "mod",
        CompareTarget::Value => "val",
        CompareTarget::Lease => "lease",
    };
    let op = match CompareResult::try_from(c.result).unwrap_or(CompareResult::Equal) {
        CompareResult::Equal => "=",
        CompareResult::Greater => ">",
        CompareResult::Less => "<",
        CompareResult::NotEqual => "!=",
    };
    let value = match &c.target_union {
        Some(TargetUnion::Version(v))
        | Some(TargetUnion::CreateRevision(v))
        | Some(TargetUnion::ModRevision(v))
        | Some(TargetUnion::Lease(v)) => v.to_string(),
        Some(TargetUnion::Value(v)) => format!("\"{}\"", shown(v)),
        None => "0".into(),
    };
    format!("{target}({}){op}{value}", key_range(&c.key, &c.range_end))
}

fn describe_op(op: &RequestOp) -> String {
    match &op.request {
        Some(Request::RequestPut(r)) => format!("put {}={}", shown(&r.key), shown(&r.value)),
        Some(Request::RequestRange(r)) => format!("get {}", key_range(&r.key, &r.range_end)),
        Some(Request::RequestDeleteRange(r)) => {
            format!("del {}", key_range(&r.key, &r.range_end))
        }
        Some(Request::RequestTxn(t)) => format!("({})", describe_txn(t)),
        None => "nothing".into(),
    }
}

fn key_range(key: &[u8], end: &[u8]) -> String {
    match end {
        [] => shown(key),
        [0] => format!("{}..", shown(key)),
        _ => format!("{}..{}", shown(key), shown(end)),
    }
}

/// Bytes as text: UTF-8 where it is, `\xNN` elsewhere, cut after [`MAX_SHOWN`] characters.
fn shown(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(text) => cut(text),
        // Every byte escapes to at least one character: one more than is shown is enough to
        // know whether the text is cut.
        Err(_) => cut(&bytes[..bytes.len().min(MAX_SHOWN + 1)]
            .escape_ascii()
            .to_string()),
    }
}

/// `text` up to [`MAX_SHOWN`] characters, with `…` when there was more.
fn cut(text: &str) -> String {
    match text.char_indices().nth(MAX_SHOWN) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::etcdserverpb::{PutRequest, RangeRequest};

    #[test]
    fn puts_and_txns_read_like_commands() {
        let put = PutRequest {
            key: b"key1".to_vec(),
            value: b"value1".to_vec(),
            ..Default::default()
        };
        assert_eq!(describe(&Op::Put(put.clone())), "put key1=value1");
        let txn = TxnRequest {
            compare: vec![Compare {
                key: b"k".to_vec(),
                result: CompareResult::Equal as i32,
                target: CompareTarget::Mod as i32,
                target_union: Some(TargetUnion::ModRevision(0)),
                ..Default::default()
            }],
            success: vec![RequestOp {
                request: Some(Request::RequestPut(put)),
            }],
            failure: vec![RequestOp {
                request: Some(Request::RequestRange(RangeRequest {
                    key: b"a".to_vec(),
                    range_end: vec![0],
                    ..Default::default()
                })),
            }],
        };
        assert_eq!(
            describe(&Op::Txn(txn)),
            "txn if mod(k)=0 then put key1=value1 else get a.."
        );
    }

    #[test]
    fn binary_and_long_values_stay_one_short_line() {
        let put = PutRequest {
            key: vec![0xff, b'a'],
            value: vec![b'x'; 100],
            ..Default::default()
        };
        let text = describe(&Op::Put(put));
        assert!(text.starts_with("put \\xffa="), "{text}");
        assert!(text.ends_with('…') && text.chars().count() < 60, "{text}");
    }

    #[test]
    fn text_is_cut_after_the_shown_characters_and_only_when_longer() {
        let exactly = "é".repeat(MAX_SHOWN);
        assert_eq!(shown(exactly.as_bytes()), exactly);
        let longer = format!("{exactly}z");
        assert_eq!(shown(longer.as_bytes()), format!("{exactly}…"));
        let binary = vec![0xfe; MAX_SHOWN + 10];
        assert_eq!(
            shown(&binary),
            format!("{}…", "\\xfe".repeat(MAX_SHOWN / 4))
        );
        assert_eq!(shown(&[0xfe, b'k']), "\\xfek");
    }
}
