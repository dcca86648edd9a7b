//! The `protobuf` format: the response message's wire encoding, written raw. The endpoint
//! lists are not single messages, so etcdctl has no protobuf form for them (nor for most lease
//! answers, see below).

use prost::Message;

use super::{Rendered, Report};

pub(super) fn render(report: &Report) -> Option<Rendered> {
    let bytes = match report {
        Report::Get(r) => r.encode_to_vec(),
        Report::Put(r) => r.encode_to_vec(),
        Report::Del(r) => r.encode_to_vec(),
        Report::Txn(r) => r.encode_to_vec(),
        Report::MemberList(r) => r.encode_to_vec(),
        Report::MemberAdd(r) => r.encode_to_vec(),
        Report::MemberRemove(_, r) => r.encode_to_vec(),
        Report::MemberUpdate(_, r) => r.encode_to_vec(),
        Report::MemberPromote(_, r) => r.encode_to_vec(),
        Report::Alarm(r) => r.encode_to_vec(),
        Report::MoveLeader { response, .. } => response.encode_to_vec(),
        Report::Auth(r) => r.encoded.clone(),
        // etcdctl rebuilds the message from clientv3's response, which has no watch id.
        Report::Watch { response, .. } => etcdlab_core::proto::etcdserverpb::WatchResponse {
            watch_id: 0,
            cancel_reason: String::new(),
            fragment: false,
            ..(*response).clone()
        }
        .encode_to_vec(),
        Report::LeaseRevoke(_, r) => r.encode_to_vec(),
        // etcdctl hands clientv3's own lease structs to the protobuf printer, which cannot
        // marshal them; only a revoke answers with etcd's message.
        Report::EndpointHealth(_)
        | Report::EndpointStatus(_)
        | Report::EndpointHashKv(_)
        | Report::LeaseGrant(_)
        | Report::LeaseKeepAlive(_)
        | Report::LeaseTimeToLive(..)
        | Report::LeaseList(_) => {
            return None;
        }
    };
    Some(Rendered::stdout(bytes))
}
