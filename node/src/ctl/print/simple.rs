//! The `simple` format, etcdctl's default: keys and values on their own lines (`--hex`
//! escapes every byte), `OK` for a put, the deleted count for a del, comma-separated rows for
//! the member and endpoint lists, and the health lines on stderr.

use etcdlab_core::proto::authpb::Permission;
use etcdlab_core::proto::authpb::permission::Type as PermType;
use etcdlab_core::proto::etcdserverpb::response_op::Response;
use etcdlab_core::proto::etcdserverpb::{
    DeleteRangeResponse, LeaseTimeToLiveResponse, PutResponse, RangeResponse,
};
use etcdlab_core::proto::mvccpb::KeyValue;

use super::{
    AuthCommand, Rendered, Report, Rows, alarm_name, hashkv_rows, member_rows, status_rows,
};

pub(super) fn render(report: &Report, hex: bool, value_only: bool) -> Rendered {
    let kvs = KvText { hex, value_only };
    let text: String = match report {
        Report::Get(r) => return Rendered::stdout(kvs.get(r)),
        Report::Put(r) => return Rendered::stdout(kvs.put(r)),
        Report::Del(r) => return Rendered::stdout(kvs.del(r)),
        Report::Txn(r) => {
            let mut out = if r.succeeded {
                b"SUCCESS\n".to_vec()
            } else {
                b"FAILURE\n".to_vec()
            };
            for op in &r.responses {
                out.push(b'\n');
                match &op.response {
                    Some(Response::ResponseRange(g)) => out.extend(kvs.get(g)),
                    Some(Response::ResponsePut(p)) => out.extend(kvs.put(p)),
                    Some(Response::ResponseDeleteRange(d)) => out.extend(kvs.del(d)),
                    other => out.extend(format!("unexpected response {other:?}\n").into_bytes()),
                }
            }
            return Rendered::stdout(out);
        }
        Report::MemberList(r) => lines(&member_rows(r)),
        Report::Auth(r) => auth(&r.command),
        Report::MemberAdd(r) => format!(
            "Member {:16x} added to cluster {:16x}\n",
            r.member.as_ref().map_or(0, |m| m.id),
            r.header.as_ref().map_or(0, |h| h.cluster_id)
        ),
        Report::MemberRemove(id, r) => member_changed(*id, "removed from", r.header.as_ref()),
        Report::MemberUpdate(id, r) => member_changed(*id, "updated in", r.header.as_ref()),
        Report::MemberPromote(id, r) => member_changed(*id, "promoted in", r.header.as_ref()),
        Report::EndpointHealth(results) => {
            let stderr = results
                .iter()
                .map(|h| {
                    if h.error.is_empty() {
                        format!(
                            "{} is healthy: successfully committed proposal: took = {}\n",
                            h.endpoint, h.took
                        )
                    } else {
                        format!(
                            "{} is unhealthy: failed to commit proposal: {}\n",
                            h.endpoint, h.error
                        )
                    }
                })
                .collect();
            return Rendered {
                stdout: Vec::new(),
                stderr,
            };
        }
        Report::EndpointStatus(statuses) => lines(&status_rows(statuses)),
        Report::LeaseGrant(r) => format!("lease {:016x} granted with TTL({}s)\n", r.id, r.ttl),
        Report::LeaseRevoke(id, _) => format!("lease {id:016x} revoked\n"),
        Report::LeaseKeepAlive(r) => {
            format!("lease {:016x} keepalived with TTL({})\n", r.id, r.ttl)
        }
        Report::LeaseTimeToLive(r, keys) => time_to_live(r, *keys),
        Report::LeaseList(r) => {
            let ids: String = r
                .leases
                .iter()
                .map(|l| format!("{:016x}\n", l.id))
                .collect();
            format!("found {} leases\n{ids}", r.leases.len())
        }
        Report::EndpointHashKv(hashes) => lines(&hashkv_rows(hashes)),
        // Go prints each alarm with `%+v`, which is the message's compact text form.
        Report::Alarm(r) => r
            .alarms
            .iter()
            .map(|a| {
                let mut line = String::new();
                if a.member_id != 0 {
                    line.push_str(&format!("memberID:{} ", a.member_id));
                }
                if a.alarm != 0 {
                    line.push_str(&format!("alarm:{} ", alarm_name(a.alarm)));
                }
                line + "\n"
            })
            .collect(),
        Report::MoveLeader { leader, target, .. } => {
            format!("Leadership transferred from {leader:x} to {target:x}\n")
        }
        Report::Watch { response, .. } => {
            let mut out = Vec::new();
            for event in &response.events {
                out.extend(format!("{}\n", super::event_type_name(event.r#type)).into_bytes());
                if let Some(prev) = &event.prev_kv {
                    out.extend(kvs.kv(prev));
                }
                out.extend(kvs.kv(&event.kv.clone().unwrap_or_default()));
            }
            return Rendered::stdout(out);
        }
    };
    Rendered::stdout(text)
}

fn member_changed(
    id: u64,
    what: &str,
    header: Option<&etcdlab_core::proto::etcdserverpb::ResponseHeader>,
) -> String {
    format!(
        "Member {id:16x} {what} cluster {:16x}\n",
        header.map_or(0, |h| h.cluster_id)
    )
}

fn lines(rows: &Rows) -> String {
    rows.rows.iter().map(|r| r.join(", ") + "\n").collect()
}

/// Key-value results as lines, the bytes as they are (Go prints them unconverted).
struct KvText {
    hex: bool,
    value_only: bool,
}

impl KvText {
    fn get(&self, r: &RangeResponse) -> Vec<u8> {
        r.kvs.iter().flat_map(|kv| self.kv(kv)).collect()
    }

    fn put(&self, r: &PutResponse) -> Vec<u8> {
        let mut out = b"OK\n".to_vec();
        if let Some(kv) = &r.prev_kv {
            out.extend(self.kv(kv));
        }
        out
    }

    fn del(&self, r: &DeleteRangeResponse) -> Vec<u8> {
        let mut out = format!("{}\n", r.deleted).into_bytes();
        for kv in &r.prev_kvs {
            out.extend(self.kv(kv));
        }
        out
    }

    /// The key and the value on their own lines (`--print-value-only`: the value alone).
    fn kv(&self, kv: &KeyValue) -> Vec<u8> {
        let text = |bytes: &[u8]| -> Vec<u8> {
            if self.hex {
                bytes
                    .iter()
                    .flat_map(|b| format!("\\x{b:02x}").into_bytes())
                    .collect()
            } else {
                bytes.to_vec()
            }
        };
        let mut out = Vec::new();
        if !self.value_only {
            out.extend(text(&kv.key));
            out.push(b'\n');
        }
        out.extend(text(&kv.value));
        out.push(b'\n');
        out
    }
}

/// `lease timetolive`: a missing lease (TTL -1, no granted TTL) "already expired"; the keys as
/// Go prints a `[]string` with `%v`.
fn time_to_live(r: &LeaseTimeToLiveResponse, keys: bool) -> String {
    if r.granted_ttl == 0 && r.ttl == -1 {
        return format!("lease {:016x} already expired\n", r.id);
    }
    let mut text = format!(
        "lease {:016x} granted with TTL({}s), remaining({}s)",
        r.id, r.granted_ttl, r.ttl
    );
    if keys {
        let keys: Vec<String> = r
            .keys
            .iter()
            .map(|k| String::from_utf8_lossy(k).into_owned())
            .collect();
        text.push_str(&format!(", attached keys([{}])", keys.join(" ")));
    }
    text + "\n"
}

/// etcdctl's sentences for the `user` and `role` commands.
fn auth(command: &AuthCommand) -> String {
    match command {
        AuthCommand::UserAdd(user) => format!("User {user} created\n"),
        AuthCommand::UserGet { user, roles } => {
            let roles: String = roles.iter().map(|r| format!(" {r}")).collect();
            format!("User: {user}\nRoles:{roles}\n")
        }
        AuthCommand::UserList(users) => users.iter().map(|u| format!("{u}\n")).collect(),
        AuthCommand::UserDelete(user) => format!("User {user} deleted\n"),
        AuthCommand::UserPasswd => "Password updated\n".to_string(),
        AuthCommand::UserGrantRole { user, role } => {
            format!("Role {role} is granted to user {user}\n")
        }
        AuthCommand::UserRevokeRole { user, role } => {
            format!("Role {role} is revoked from user {user}\n")
        }
        AuthCommand::RoleAdd(role) => format!("Role {role} created\n"),
        AuthCommand::RoleGet { role, perms } => role_get(role, perms),
        AuthCommand::RoleList(roles) => roles.iter().map(|r| format!("{r}\n")).collect(),
        AuthCommand::RoleDelete(role) => format!("Role {role} deleted\n"),
        AuthCommand::RoleGrantPermission(role) => format!("Role {role} updated\n"),
        AuthCommand::RoleRevokePermission {
            role,
            key,
            range_end,
        } => match *range_end {
            "" => format!("Permission of key {key} is revoked from role {role}\n"),
            "\0" => {
                format!("Permission of range [{key}, <open ended> is revoked from role {role}\n")
            }
            end => format!("Permission of range [{key}, {end}) is revoked from role {role}\n"),
        },
    }
}

/// `role get`: the read, then the write permissions, a range with its prefix when it is one.
fn role_get(role: &str, perms: &[Permission]) -> String {
    let mut out = format!("Role {role}\nKV Read:\n");
    let section = |out: &mut String, wanted: PermType| {
        for p in perms
            .iter()
            .filter(|p| p.perm_type == wanted as i32 || p.perm_type == PermType::Readwrite as i32)
        {
            let key = String::from_utf8_lossy(&p.key);
            let end = String::from_utf8_lossy(&p.range_end);
            if p.range_end.is_empty() {
                out.push_str(&format!("\t{key}\n"));
                continue;
            }
            if p.range_end == [0] {
                out.push_str(&format!("\t[{key}, <open ended>"));
            } else {
                out.push_str(&format!("\t[{key}, {end})"));
            }
            if etcdlab_core::mvcc::prefix_end(&p.key) == p.range_end {
                out.push_str(&format!(" (prefix {key})"));
            }
            out.push('\n');
        }
    };
    section(&mut out, PermType::Read);
    out.push_str("KV Write:\n");
    section(&mut out, PermType::Write);
    out
}
