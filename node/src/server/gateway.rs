//! etcd's HTTP/JSON gateway on the client URLs: `POST /v3/kv/range`, `/v3/kv/put`,
//! `/v3/watch`, `/v3/lease/grant`, `/v3/auth/authenticate`, ... with a JSON body, answered in
//! JSON — so `curl` and HTTP-only clients work without gRPC.
//!
//! Like etcd's (grpc-gateway), the gateway is a translation in front of the gRPC services, not
//! a second implementation: each path names a gRPC method ([`ROUTES`]); the JSON body becomes
//! that method's request message through the protos' descriptors (proto3 JSON: field names as
//! in the protos or camel-cased, bytes in base64, 64-bit integers as strings or numbers, enums
//! by name or number), goes to the same tonic services in-process (with the `Authorization`
//! header as the auth `token`), and the answer comes back as JSON with the protos' field names,
//! 64-bit integers as strings and zero values left out — etcd 3.4's shapes. Errors are
//! `{"error","message","code"}` with the HTTP status grpc-gateway gives the gRPC code. Streaming
//! methods (`/v3/watch`, `/v3/lease/keepalive`, `/v3/election/observe`) send one
//! `{"result":...}` line per message.

use std::sync::OnceLock;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use bytes::{Buf, BufMut, Bytes, BytesMut};
use futures::StreamExt;
use http_body_util::BodyExt;
use prost_reflect::{DescriptorPool, DynamicMessage, MessageDescriptor, SerializeOptions};
use serde_json::{Value, json};
use tonic::service::Routes;
use tower::ServiceExt;

/// HTTP path → gRPC method, as etcd 3.4's gateway maps them.
const ROUTES: &[(&str, &str)] = &[
    ("/v3/kv/range", "etcdserverpb.KV/Range"),
    ("/v3/kv/put", "etcdserverpb.KV/Put"),
    ("/v3/kv/deleterange", "etcdserverpb.KV/DeleteRange"),
    ("/v3/kv/txn", "etcdserverpb.KV/Txn"),
    ("/v3/kv/compaction", "etcdserverpb.KV/Compact"),
    ("/v3/watch", "etcdserverpb.Watch/Watch"),
    ("/v3/lease/grant", "etcdserverpb.Lease/LeaseGrant"),
    ("/v3/lease/revoke", "etcdserverpb.Lease/LeaseRevoke"),
    ("/v3/kv/lease/revoke", "etcdserverpb.Lease/LeaseRevoke"),
    ("/v3/lease/keepalive", "etcdserverpb.Lease/LeaseKeepAlive"),
    ("/v3/lease/timetolive", "etcdserverpb.Lease/LeaseTimeToLive"),
    (
        "/v3/kv/lease/timetolive",
        "etcdserverpb.Lease/LeaseTimeToLive",
    ),
    ("/v3/lease/leases", "etcdserverpb.Lease/LeaseLeases"),
    ("/v3/kv/lease/leases", "etcdserverpb.Lease/LeaseLeases"),
    ("/v3/cluster/member/add", "etcdserverpb.Cluster/MemberAdd"),
    (
        "/v3/cluster/member/remove",
        "etcdserverpb.Cluster/MemberRemove",
    ),
    (
        "/v3/cluster/member/update",
        "etcdserverpb.Cluster/MemberUpdate",
    ),
    ("/v3/cluster/member/list", "etcdserverpb.Cluster/MemberList"),
    (
        "/v3/cluster/member/promote",
        "etcdserverpb.Cluster/MemberPromote",
    ),
    ("/v3/maintenance/alarm", "etcdserverpb.Maintenance/Alarm"),
    ("/v3/maintenance/status", "etcdserverpb.Maintenance/Status"),
    (
        "/v3/maintenance/defragment",
        "etcdserverpb.Maintenance/Defragment",
    ),
    ("/v3/maintenance/hash", "etcdserverpb.Maintenance/HashKV"),
    (
        "/v3/maintenance/snapshot",
        "etcdserverpb.Maintenance/Snapshot",
    ),
    (
        "/v3/maintenance/transfer-leadership",
        "etcdserverpb.Maintenance/MoveLeader",
    ),
    ("/v3/auth/enable", "etcdserverpb.Auth/AuthEnable"),
    ("/v3/auth/disable", "etcdserverpb.Auth/AuthDisable"),
    ("/v3/auth/authenticate", "etcdserverpb.Auth/Authenticate"),
    ("/v3/auth/user/add", "etcdserverpb.Auth/UserAdd"),
    ("/v3/auth/user/get", "etcdserverpb.Auth/UserGet"),
    ("/v3/auth/user/list", "etcdserverpb.Auth/UserList"),
    ("/v3/auth/user/delete", "etcdserverpb.Auth/UserDelete"),
    (
        "/v3/auth/user/changepw",
        "etcdserverpb.Auth/UserChangePassword",
    ),
    ("/v3/auth/user/grant", "etcdserverpb.Auth/UserGrantRole"),
    ("/v3/auth/user/revoke", "etcdserverpb.Auth/UserRevokeRole"),
    ("/v3/auth/role/add", "etcdserverpb.Auth/RoleAdd"),
    ("/v3/auth/role/get", "etcdserverpb.Auth/RoleGet"),
    ("/v3/auth/role/list", "etcdserverpb.Auth/RoleList"),
    ("/v3/auth/role/delete", "etcdserverpb.Auth/RoleDelete"),
    (
        "/v3/auth/role/grant",
        "etcdserverpb.Auth/RoleGrantPermission",
    ),
    (
        "/v3/auth/role/revoke",
        "etcdserverpb.Auth/RoleRevokePermission",
    ),
    ("/v3/lock/lock", "v3lockpb.Lock/Lock"),
    ("/v3/lock/unlock", "v3lockpb.Lock/Unlock"),
    ("/v3/election/campaign", "v3electionpb.Election/Campaign"),
    ("/v3/election/proclaim", "v3electionpb.Election/Proclaim"),
    ("/v3/election/leader", "v3electionpb.Election/Leader"),
    ("/v3/election/observe", "v3electionpb.Election/Observe"),
    ("/v3/election/resign", "v3electionpb.Election/Resign"),
];

/// The descriptors of etcd's protos, compiled in by the build script.
fn descriptors() -> &'static DescriptorPool {
    static POOL: OnceLock<DescriptorPool> = OnceLock::new();
    POOL.get_or_init(|| {
        DescriptorPool::decode(
            include_bytes!(concat!(env!("OUT_DIR"), "/descriptors.bin")).as_slice(),
        )
        .expect("the build script's descriptor set decodes")
    })
}

/// One gateway path's method.
#[derive(Clone)]
struct Method {
    grpc_path: String,
    input: MessageDescriptor,
    output: MessageDescriptor,
    streams: bool,
}

fn method(grpc_name: &str) -> Method {
    let (service, name) = grpc_name.split_once('/').expect("service/method");
    let method = descriptors()
        .get_service_by_name(service)
        .and_then(|s| s.methods().find(|m| m.name() == name))
        .unwrap_or_else(|| panic!("{grpc_name} is in the protos"));
    Method {
        grpc_path: format!("/{grpc_name}"),
        input: method.input(),
        output: method.output(),
        streams: method.is_server_streaming(),
    }
}

/// The gateway's routes, answered by `grpc` (the member's gRPC services).
pub fn router(grpc: Routes) -> Router {
    let mut router = Router::new();
    for (path, grpc_name) in ROUTES {
        let method = method(grpc_name);
        router = router.route(
            path,
            post(move |State(grpc): State<Routes>, request: Request| {
                translate(grpc, method.clone(), request)
            }),
        );
    }
    router.with_state(grpc)
}

/// JSON in, the gRPC call in-process, JSON out.
async fn translate(grpc: Routes, method: Method, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = match body.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) => return error(tonic::Code::InvalidArgument, &e.to_string()),
    };
    let message = match json_to_message(&method.input, &body) {
        Ok(message) => message,
        Err(reason) => return error(tonic::Code::InvalidArgument, &reason),
    };
    let call = grpc_request(&method.grpc_path, &parts.headers, &message);
    let answer = match grpc.oneshot(call).await {
        Ok(answer) => answer,
        Err(e) => return error(tonic::Code::Internal, &e.to_string()),
    };
    if let Some(status) = tonic::Status::from_header_map(answer.headers())
        && status.code() != tonic::Code::Ok
    {
        return error(status.code(), status.message());
    }
    let frames = grpc_frames(answer.into_body());
    if method.streams {
        let output = method.output.clone();
        let lines = frames.map(move |frame| {
            let line = match frame {
                Ok(bytes) => message_to_json(&output, &bytes)
                    .map(|result| json!({ "result": result }))
                    .unwrap_or_else(|reason| error_json(tonic::Code::Internal, &reason)),
                Err(status) => error_json(status.code(), status.message()),
            };
            Ok::<_, std::convert::Infallible>(format!("{line}\n"))
        });
        return (
            [(header::CONTENT_TYPE, "application/json")],
            Body::from_stream(lines),
        )
            .into_response();
    }
    futures::pin_mut!(frames);
    match frames.next().await {
        Some(Ok(bytes)) => match message_to_json(&method.output, &bytes) {
            Ok(value) => (
                [(header::CONTENT_TYPE, "application/json")],
                value.to_string(),
            )
                .into_response(),
            Err(reason) => error(tonic::Code::Internal, &reason),
        },
        Some(Err(status)) => error(status.code(), status.message()),
        None => error(tonic::Code::Internal, "no answer"),
    }
}

/// A JSON body as the method's request message, encoded (an empty body is the empty message).
fn json_to_message(input: &MessageDescriptor, body: &[u8]) -> Result<Vec<u8>, String> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Vec::new());
    }
    let mut reader = serde_json::Deserializer::from_slice(body);
    let message =
        DynamicMessage::deserialize(input.clone(), &mut reader).map_err(|e| e.to_string())?;
    reader.end().map_err(|e| e.to_string())?;
    Ok(prost::Message::encode_to_vec(&message))
}

/// An encoded answer as etcd's gateway writes it.
fn message_to_json(output: &MessageDescriptor, bytes: &[u8]) -> Result<Value, String> {
    let message = DynamicMessage::decode(output.clone(), bytes).map_err(|e| e.to_string())?;
    let options = SerializeOptions::new()
        .use_proto_field_name(true)
        .stringify_64_bit_integers(true)
        .skip_default_fields(true);
    message
        .serialize_with_options(serde_json::value::Serializer, &options)
        .map_err(|e| e.to_string())
}

/// A unary gRPC request frame for `path`, carrying the caller's token as etcd's gateway does.
fn grpc_request(path: &str, headers: &HeaderMap, message: &[u8]) -> http::Request<Body> {
    let mut frame = BytesMut::with_capacity(5 + message.len());
    frame.put_u8(0);
    frame.put_u32(message.len() as u32);
    frame.put_slice(message);
    let mut request = http::Request::builder()
        .method(http::Method::POST)
        .uri(path)
        .header(header::CONTENT_TYPE, "application/grpc")
        .header("te", "trailers");
    if let Some(token) = headers.get(header::AUTHORIZATION) {
        request = request.header("token", token);
    }
    request
        .body(Body::from(frame.freeze()))
        .expect("a well-formed request")
}

/// The messages of a gRPC response body, then its status if it is not OK.
fn grpc_frames(
    body: tonic::body::Body,
) -> impl futures::Stream<Item = Result<Bytes, tonic::Status>> + Send {
    futures::stream::unfold(
        (body, BytesMut::new(), false),
        |(mut body, mut buffer, done)| async move {
            if done {
                return None;
            }
            loop {
                if buffer.len() >= 5 {
                    let length = u32::from_be_bytes([buffer[1], buffer[2], buffer[3], buffer[4]]);
                    let length = length as usize;
                    if buffer.len() >= 5 + length {
                        buffer.advance(5);
                        let message = buffer.split_to(length).freeze();
                        return Some((Ok(message), (body, buffer, false)));
                    }
                }
                match body.frame().await {
                    Some(Ok(frame)) => match frame.into_data() {
                        Ok(data) => buffer.extend_from_slice(&data),
                        Err(frame) => {
                            let status = frame
                                .trailers_ref()
                                .and_then(tonic::Status::from_header_map)
                                .filter(|s| s.code() != tonic::Code::Ok);
                            return status.map(|s| (Err(s), (body, buffer, true)));
                        }
                    },
                    Some(Err(e)) => {
                        let status = tonic::Status::internal(e.to_string());
                        return Some((Err(status), (body, buffer, true)));
                    }
                    None => return None,
                }
            }
        },
    )
}

fn error_json(code: tonic::Code, message: &str) -> Value {
    json!({"error": message, "message": message, "code": code as i32})
}

/// An error answer with the HTTP status grpc-gateway gives the code.
fn error(code: tonic::Code, message: &str) -> Response {
    use tonic::Code::*;
    let status = match code {
        Ok => StatusCode::OK,
        Cancelled => StatusCode::REQUEST_TIMEOUT,
        InvalidArgument | FailedPrecondition | OutOfRange => StatusCode::BAD_REQUEST,
        DeadlineExceeded => StatusCode::GATEWAY_TIMEOUT,
        NotFound => StatusCode::NOT_FOUND,
        AlreadyExists | Aborted => StatusCode::CONFLICT,
        PermissionDenied => StatusCode::FORBIDDEN,
        Unauthenticated => StatusCode::UNAUTHORIZED,
        ResourceExhausted => StatusCode::TOO_MANY_REQUESTS,
        Unimplemented => StatusCode::NOT_IMPLEMENTED,
        Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        Unknown | Internal | DataLoss => StatusCode::INTERNAL_SERVER_ERROR,
    };
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        error_json(code, message).to_string(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_names_a_method_of_the_protos() {
        for (_, grpc_name) in ROUTES {
            method(grpc_name);
        }
    }

    #[test]
    fn json_becomes_the_request_message_and_answers_read_as_etcds() {
        use etcdlab_core::proto::etcdserverpb::{RangeRequest, RangeResponse, ResponseHeader};
        use etcdlab_core::proto::mvccpb::KeyValue;
        use prost::Message as _;
        let range = method("etcdserverpb.KV/Range");
        let bytes = json_to_message(
            &range.input,
            br#"{"key":"Zm9v","range_end":"Zm9w","limit":"5","sort_target":"MOD","countOnly":true}"#,
        )
        .unwrap();
        let req = RangeRequest::decode(bytes.as_slice()).unwrap();
        assert_eq!(
            (
                req.key,
                req.range_end,
                req.limit,
                req.sort_target,
                req.count_only
            ),
            (b"foo".to_vec(), b"fop".to_vec(), 5, 3, true)
        );
        assert!(json_to_message(&range.input, br#"{"limit":"x"}"#).is_err());
        assert!(json_to_message(&range.input, b"  ").unwrap().is_empty());
        let resp = RangeResponse {
            header: Some(ResponseHeader {
                cluster_id: 1,
                member_id: 2,
                revision: 27,
                raft_term: 2,
            }),
            kvs: vec![KeyValue {
                key: b"foo".to_vec(),
                value: b"bar".to_vec(),
                create_revision: 27,
                mod_revision: 27,
                version: 1,
                lease: 0,
            }],
            more: false,
            count: 1,
        };
        let value = message_to_json(&range.output, &resp.encode_to_vec()).unwrap();
        assert_eq!(
            value.to_string(),
            r#"{"header":{"cluster_id":"1","member_id":"2","revision":"27","raft_term":"2"},"kvs":[{"key":"Zm9v","create_revision":"27","mod_revision":"27","version":"1","value":"YmFy"}],"count":"1"}"#
        );
    }
}
