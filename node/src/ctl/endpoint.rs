//! `endpoint health|status|hashkv`: one answer per endpoint — of `--endpoints`, or with
//! `--cluster` of every member's client URLs from the member list. Health checks run at once
//! and are reported in the order they finish; status and hash ask each endpoint in turn, report
//! the ones that answered and exit 1 if any did not, as etcdctl does.

use std::time::Instant;

use etcdlab_core::proto::etcdserverpb::{
    HashKvRequest, MemberListRequest, RangeRequest, RangeResponse, StatusRequest,
};
use futures::StreamExt;
use futures::stream::FuturesUnordered;

use super::cli::{Command, Flag, Invocation, Kind};
use super::global::{self, Global};
use super::print::{Health, Report, stderr};
use super::{CtlError, CtlResult, exit, gotext};
use crate::rpc::etcdserverpb::cluster_client::ClusterClient;
use crate::rpc::etcdserverpb::kv_client::KvClient;
use crate::rpc::etcdserverpb::maintenance_client::MaintenanceClient;

const CLUSTER: Flag = Flag::switch("cluster", "use all endpoints from the cluster member list");
const HASH_REV: Flag = Flag::new(
    "rev",
    Kind::Int,
    "0",
    "maximum revision to hash (default: all revisions)",
);

pub static ENDPOINT: Command = Command::new("endpoint <subcommand>", "Endpoint related commands")
    .persistent(&[CLUSTER])
    .subcommands(&[&HASHKV, &HEALTH, &STATUS]);

static HEALTH: Command = Command::new(
    "health",
    "Checks the healthiness of endpoints specified in `--endpoints` flag",
)
.run(|inv| Box::pin(health(inv)));

static STATUS: Command = Command::new(
    "status",
    "Prints out the status of endpoints specified in `--endpoints` flag",
)
.long(
    "When --write-out is set to simple, this command prints out comma-separated status lists for each endpoint.
The items in the lists are endpoint, ID, version, db size, is leader, is learner, raft term, raft index, raft applied index, errors.
",
)
.run(|inv| Box::pin(status(inv)));

static HASHKV: Command = Command::new(
    "hashkv",
    "Prints the KV history hash for each endpoint in --endpoints",
)
.persistent(&[HASH_REV])
.run(|inv| Box::pin(hashkv(inv)));

/// The endpoints to visit: `--endpoints` as given, or with `--cluster` every member's client
/// URLs.
async fn endpoints(inv: &Invocation, g: &Global) -> Result<Vec<String>, CtlError> {
    if !inv.bool(&CLUSTER) {
        return Ok(inv.list(&global::ENDPOINTS));
    }
    let client = g
        .client()
        .map_err(|e| CtlError::new(exit::ERROR, e.message))?;
    let members = client
        .request(async |channel| {
            ClusterClient::new(channel)
                .member_list(MemberListRequest::default())
                .await
        })
        .await
        .map_err(|e| {
            CtlError::new(
                exit::ERROR,
                format!(
                    "failed to fetch endpoints from etcd cluster member list: {}",
                    e.message
                ),
            )
        })?;
    Ok(members
        .members
        .into_iter()
        .flat_map(|m| m.client_ur_ls)
        .collect())
}

/// etcdctl 3.4's check: a linearizable read of the key `health`, which needs a quorum; being
/// refused permission still proves the round trip.
async fn health(inv: Invocation) -> CtlResult {
    let g = Global::from(&inv)?;
    let endpoints = endpoints(&inv, &g).await?;
    let clients = endpoints
        .iter()
        .map(|e| g.client_of(vec![e.clone()]).map(|c| (e, c)))
        .collect::<Result<Vec<_>, _>>()?;
    let mut checks: FuturesUnordered<_> = clients
        .into_iter()
        .map(|(endpoint, client)| async move {
            let started = Instant::now();
            let read = client
                .request(async |channel| {
                    let request = RangeRequest {
                        key: b"health".to_vec(),
                        ..Default::default()
                    };
                    match KvClient::new(channel).range(request).await {
                        Err(s) if s.code() == tonic::Code::PermissionDenied => {
                            Ok(tonic::Response::new(RangeResponse::default()))
                        }
                        other => other,
                    }
                })
                .await;
            Health {
                endpoint: endpoint.clone(),
                healthy: read.is_ok(),
                took: gotext::duration(started.elapsed()),
                error: read.err().map(|e| e.message).unwrap_or_default(),
            }
        })
        .collect();
    let mut results = Vec::new();
    while let Some(result) = checks.next().await {
        results.push(result);
    }
    drop(checks);
    g.printer().print(&Report::EndpointHealth(&results))?;
    if results.iter().any(|h| !h.error.is_empty()) {
        return Err(CtlError::new(exit::ERROR, "unhealthy cluster"));
    }
    Ok(())
}

async fn status(inv: Invocation) -> CtlResult {
    let g = Global::from(&inv)?;
    let client = g.client()?;
    let mut statuses = Vec::new();
    let mut failed = false;
    for endpoint in endpoints(&inv, &g).await? {
        let answer = client
            .request_to(&endpoint, async |channel| {
                MaintenanceClient::new(channel)
                    .status(StatusRequest {})
                    .await
            })
            .await;
        match answer {
            Ok(status) => statuses.push((endpoint, status)),
            Err(e) => {
                stderr(&format!(
                    "Failed to get the status of endpoint {endpoint} ({})\n",
                    e.message
                ));
                failed = true;
            }
        }
    }
    g.printer().print(&Report::EndpointStatus(&statuses))?;
    if failed {
        return Err(CtlError::silent(exit::ERROR));
    }
    Ok(())
}

async fn hashkv(inv: Invocation) -> CtlResult {
    let g = Global::from(&inv)?;
    let client = g.client()?;
    let revision = inv.int(&HASH_REV);
    let mut hashes = Vec::new();
    let mut last_error = None;
    for endpoint in endpoints(&inv, &g).await? {
        let answer = client
            .request_to(&endpoint, async |channel| {
                MaintenanceClient::new(channel)
                    .hash_kv(HashKvRequest { revision })
                    .await
            })
            .await;
        match answer {
            Ok(hash) => hashes.push((endpoint, hash)),
            Err(e) => {
                stderr(&format!(
                    "Failed to get the hash of endpoint {endpoint} ({})\n",
                    e.message
                ));
                last_error = Some(e);
            }
        }
    }
    g.printer().print(&Report::EndpointHashKv(&hashes))?;
    match last_error {
        Some(e) => Err(e),
        None => Ok(()),
    }
}
