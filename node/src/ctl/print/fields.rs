//! The `fields` format: one `"Name" : value` line per struct field, strings quoted as Go's
//! `%q`, a blank line after each member or endpoint. Membership changes and `move-leader` have
//! no fields form in etcdctl.

use etcdlab_core::proto::etcdserverpb::response_op::Response;
use etcdlab_core::proto::etcdserverpb::{
    DeleteRangeResponse, PutResponse, RangeResponse, ResponseHeader,
};
use etcdlab_core::proto::mvccpb::KeyValue;

use super::super::gotext::{quote, string_list};
use super::{AuthCommand, AuthReport, Rendered, Report, alarm_name, perm_type_name};

pub(super) fn render(report: &Report) -> Option<Rendered> {
    let mut out = String::new();
    match report {
        Report::Get(r) => get(&mut out, r),
        Report::Put(r) => put(&mut out, r),
        Report::Del(r) => del(&mut out, r),
        Report::Txn(r) => {
            header(&mut out, r.header.as_ref());
            line(&mut out, "Succeeded", r.succeeded);
            for op in &r.responses {
                match &op.response {
                    Some(Response::ResponseDeleteRange(d)) => del(&mut out, d),
                    Some(Response::ResponsePut(p)) => put(&mut out, p),
                    Some(Response::ResponseRange(g)) => get(&mut out, g),
                    other => line(&mut out, "Unknown", quote(format!("{other:?}").as_bytes())),
                }
            }
        }
        Report::Watch { response, .. } => {
            header(&mut out, response.header.as_ref());
            for event in &response.events {
                line(&mut out, "Type", super::event_type_name(event.r#type));
                if let Some(prev) = &event.prev_kv {
                    kv(&mut out, "Prev", prev);
                }
                kv(&mut out, "", &event.kv.clone().unwrap_or_default());
            }
        }
        Report::MemberList(r) => {
            header(&mut out, r.header.as_ref());
            for m in &r.members {
                line(&mut out, "ID", m.id);
                line(&mut out, "Name", quote(m.name.as_bytes()));
                for url in &m.peer_ur_ls {
                    line(&mut out, "PeerURL", quote(url.as_bytes()));
                }
                for url in &m.client_ur_ls {
                    line(&mut out, "ClientURL", quote(url.as_bytes()));
                }
                line(&mut out, "IsLearner", m.is_learner);
                out.push('\n');
            }
        }
        Report::EndpointHealth(results) => {
            for h in results.iter() {
                line(&mut out, "Endpoint", quote(h.endpoint.as_bytes()));
                line(&mut out, "Health", h.healthy);
                line(&mut out, "Took", &h.took);
                line(&mut out, "Error", &h.error);
                out.push('\n');
            }
        }
        Report::EndpointStatus(statuses) => {
            for (endpoint, s) in statuses.iter() {
                header(&mut out, s.header.as_ref());
                line(&mut out, "Version", quote(s.version.as_bytes()));
                line(&mut out, "DBSize", s.db_size);
                line(&mut out, "Leader", s.leader);
                line(&mut out, "IsLearner", s.is_learner);
                line(&mut out, "RaftIndex", s.raft_index);
                line(&mut out, "RaftTerm", s.raft_term);
                line(&mut out, "RaftAppliedIndex", s.raft_applied_index);
                line(&mut out, "Errors", string_list(&s.errors));
                line(&mut out, "Endpoint", quote(endpoint.as_bytes()));
                out.push('\n');
            }
        }
        Report::EndpointHashKv(hashes) => {
            for (endpoint, h) in hashes.iter() {
                header(&mut out, h.header.as_ref());
                line(&mut out, "Endpoint", quote(endpoint.as_bytes()));
                line(&mut out, "Hash", h.hash);
                out.push('\n');
            }
        }
        Report::Alarm(r) => {
            header(&mut out, r.header.as_ref());
            for a in &r.alarms {
                line(&mut out, "MemberID", a.member_id);
                line(&mut out, "AlarmType", alarm_name(a.alarm));
                out.push('\n');
            }
        }
        Report::LeaseGrant(r) => {
            header(&mut out, r.header.as_ref());
            line(&mut out, "ID", r.id);
            line(&mut out, "TTL", r.ttl);
        }
        Report::LeaseRevoke(_, r) => header(&mut out, r.header.as_ref()),
        Report::LeaseKeepAlive(r) => {
            header(&mut out, r.header.as_ref());
            line(&mut out, "ID", r.id);
            line(&mut out, "TTL", r.ttl);
        }
        Report::LeaseTimeToLive(r, _) => {
            header(&mut out, r.header.as_ref());
            line(&mut out, "ID", r.id);
            line(&mut out, "TTL", r.ttl);
            line(&mut out, "GrantedTTL", r.granted_ttl);
            for key in &r.keys {
                line(&mut out, "Key", quote(key));
            }
        }
        Report::LeaseList(r) => {
            header(&mut out, r.header.as_ref());
            for lease in &r.leases {
                line(&mut out, "ID", lease.id);
            }
        }
        Report::MemberAdd(_)
        | Report::MemberRemove(..)
        | Report::MemberUpdate(..)
        | Report::MemberPromote(..)
        | Report::MoveLeader { .. } => return None,
        Report::Auth(r) => auth(&mut out, r)?,
    }
    Some(Rendered::stdout(out))
}

/// The header of an auth change, plus the permissions of `role get` and the names of `role
/// list`; `user get` and `user list` have no fields form in etcdctl.
fn auth(out: &mut String, r: &AuthReport) -> Option<()> {
    match r.command {
        AuthCommand::UserGet { .. } | AuthCommand::UserList(_) => return None,
        _ => header(out, r.header),
    }
    match r.command {
        AuthCommand::RoleGet { perms, .. } => {
            for p in perms {
                // etcdctl's `Println` of a label ending in a space: two spaces.
                line(out, "PermType", format!(" {}", perm_type_name(p.perm_type)));
                line(out, "Key", quote(&p.key));
                line(out, "RangeEnd", quote(&p.range_end));
            }
        }
        AuthCommand::RoleList(roles) => {
            out.push_str("\"Roles\" :");
            for role in roles {
                out.push(' ');
                out.push_str(&quote(role.as_bytes()));
            }
            out.push('\n');
        }
        _ => {}
    }
    Some(())
}

/// `"Name" : value`, as Go's `fmt.Println("\"Name\" :", value)`.
fn line(out: &mut String, name: &str, value: impl std::fmt::Display) {
    out.push_str(&format!("\"{name}\" : {value}\n"));
}

fn header(out: &mut String, h: Option<&ResponseHeader>) {
    let h = h.cloned().unwrap_or_default();
    line(out, "ClusterID", h.cluster_id);
    line(out, "MemberID", h.member_id);
    line(out, "Revision", h.revision);
    line(out, "RaftTerm", h.raft_term);
}

fn kv(out: &mut String, prefix: &str, kv: &KeyValue) {
    line(out, &format!("{prefix}Key"), quote(&kv.key));
    line(out, &format!("{prefix}CreateRevision"), kv.create_revision);
    line(out, &format!("{prefix}ModRevision"), kv.mod_revision);
    line(out, &format!("{prefix}Version"), kv.version);
    line(out, &format!("{prefix}Value"), quote(&kv.value));
    line(out, &format!("{prefix}Lease"), kv.lease);
}

fn get(out: &mut String, r: &RangeResponse) {
    header(out, r.header.as_ref());
    for item in &r.kvs {
        kv(out, "", item);
    }
    line(out, "More", r.more);
    line(out, "Count", r.count);
}

fn put(out: &mut String, r: &PutResponse) {
    header(out, r.header.as_ref());
    if let Some(prev) = &r.prev_kv {
        kv(out, "Prev", prev);
    }
}

fn del(out: &mut String, r: &DeleteRangeResponse) {
    header(out, r.header.as_ref());
    line(out, "Deleted", r.deleted);
    for prev in &r.prev_kvs {
        kv(out, "Prev", prev);
    }
}
