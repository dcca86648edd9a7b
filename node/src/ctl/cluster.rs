//! `endpoint health|status|hashkv`, `member`, `alarm list`, `move-leader`: per-endpoint commands (each
//! endpoint dialled on its own, `--cluster` expands to every member's client URLs) and the
//! cluster-wide lists and changes.

use std::time::Instant;

use clap::{Args, Subcommand};
use etcdlab_core::proto::etcdserverpb::alarm_request::AlarmAction;
use etcdlab_core::proto::etcdserverpb::{
    AlarmRequest, HashKvRequest, MemberAddRequest, MemberListRequest, MemberPromoteRequest,
    MemberRemoveRequest, MemberUpdateRequest, MoveLeaderRequest, RangeRequest, StatusRequest,
};

use super::global::GlobalArgs;
use super::print::{Health, Printer, go_duration};
use super::{CtlError, CtlResult, exit};
use crate::rpc::etcdserverpb::cluster_client::ClusterClient;
use crate::rpc::etcdserverpb::kv_client::KvClient;
use crate::rpc::etcdserverpb::maintenance_client::MaintenanceClient;

#[derive(Subcommand, Debug)]
pub enum EndpointCommand {
    /// Checks the healthiness of endpoints specified in `--endpoints` flag
    Health(ClusterFlag),
    /// Prints out the status of endpoints specified in `--endpoints` flag
    Status(ClusterFlag),
    /// Prints the KV history hash for each endpoint in --endpoints
    Hashkv {
        #[command(flatten)]
        cluster: ClusterFlag,
        /// maximum revision to hash (default: all revisions)
        #[arg(long, default_value_t = 0)]
        rev: i64,
    },
}

#[derive(Args, Debug)]
pub struct ClusterFlag {
    /// use all endpoints from the cluster member list
    #[arg(long)]
    pub cluster: bool,
}

#[derive(Subcommand, Debug)]
pub enum MemberCommand {
    /// Lists all members in the cluster
    List,
    /// Adds a member into the cluster
    Add {
        /// the new member's name
        name: Vec<String>,
        /// comma separated peer URLs for the new member
        #[arg(long = "peer-urls", default_value = "")]
        peer_urls: String,
        /// indicates if the new member is raft learner
        #[arg(long)]
        learner: bool,
    },
    /// Removes a member from the cluster
    Remove { id: Vec<String> },
    /// Updates a member in the cluster
    Update {
        id: Vec<String>,
        /// comma separated peer URLs for the updated member
        #[arg(long = "peer-urls", default_value = "")]
        peer_urls: String,
    },
    /// Promotes a non-voting member in the cluster
    Promote { id: Vec<String> },
}

/// The one member id argument, in hex as etcdctl prints ids.
fn member_id(args: &[String], what: &str) -> Result<u64, CtlError> {
    let [id] = args else {
        return Err(CtlError::new(
            exit::BAD_ARGS,
            format!("member ID is not provided for {what}"),
        ));
    };
    u64::from_str_radix(id, 16).map_err(|e| {
        CtlError::new(
            exit::BAD_ARGS,
            format!("bad member ID arg ({e}), expecting ID in Hex"),
        )
    })
}

#[derive(Subcommand, Debug)]
pub enum AlarmCommand {
    /// Lists all alarms
    List,
    /// Disarms all alarms
    Disarm,
}

fn printer(g: &GlobalArgs) -> Printer {
    Printer {
        format: g.write_out,
        hex: g.hex,
        value_only: false,
    }
}

/// The endpoints to visit: the flag's, or with `--cluster` every member's client URLs.
async fn endpoints(g: &GlobalArgs, cluster: bool) -> Result<Vec<String>, CtlError> {
    if !cluster {
        return Ok(g.endpoints.clone());
    }
    let mut client = ClusterClient::new(g.connect().await?);
    let members = client
        .member_list(MemberListRequest::default())
        .await
        .map_err(CtlError::rpc)?
        .into_inner();
    Ok(members
        .members
        .into_iter()
        .flat_map(|m| m.client_ur_ls)
        .collect())
}

pub async fn endpoint(g: &GlobalArgs, command: EndpointCommand) -> CtlResult {
    match command {
        EndpointCommand::Health(c) => health(g, endpoints(g, c.cluster).await?).await,
        EndpointCommand::Status(c) => status(g, endpoints(g, c.cluster).await?).await,
        EndpointCommand::Hashkv { cluster, rev } => {
            hashkv(g, endpoints(g, cluster.cluster).await?, rev).await
        }
    }
}

/// etcdctl 3.4's health check: a linearizable read of a key (a quorum round trip); being
/// refused permission still proves the round trip.
async fn check_health(g: &GlobalArgs, endpoint: &str) -> Result<(), String> {
    let channel = g.dial(endpoint).await.map_err(|e| e.message)?;
    let read = KvClient::new(channel)
        .range(RangeRequest {
            key: b"health".to_vec(),
            ..Default::default()
        })
        .await;
    match read {
        Ok(_) => Ok(()),
        Err(s) if s.code() == tonic::Code::PermissionDenied => Ok(()),
        Err(s) => Err(CtlError::rpc(s).message),
    }
}

async fn health(g: &GlobalArgs, endpoints: Vec<String>) -> CtlResult {
    let checks = endpoints.iter().map(|ep| async move {
        let started = Instant::now();
        let result = check_health(g, ep).await;
        Health {
            endpoint: ep.clone(),
            healthy: result.is_ok(),
            took: go_duration(started.elapsed()),
            error: result.err().unwrap_or_default(),
        }
    });
    let results = futures::future::join_all(checks).await;
    printer(g).endpoint_health(&results);
    if results.iter().all(|h| h.healthy) {
        Ok(())
    } else {
        Err(CtlError::new(exit::ERROR, "unhealthy cluster"))
    }
}

async fn status(g: &GlobalArgs, endpoints: Vec<String>) -> CtlResult {
    let mut statuses = Vec::new();
    let mut failed = false;
    for ep in endpoints {
        let answer = match g.dial(&ep).await {
            Ok(channel) => MaintenanceClient::new(channel)
                .status(StatusRequest {})
                .await
                .map_err(|s| CtlError::rpc(s).message),
            Err(e) => Err(e.message),
        };
        match answer {
            Ok(resp) => statuses.push((ep, resp.into_inner())),
            Err(e) => {
                eprintln!("Failed to get the status of endpoint {ep} ({e})");
                failed = true;
            }
        }
    }
    printer(g).endpoint_status(&statuses);
    if failed {
        std::process::exit(exit::ERROR as i32);
    }
    Ok(())
}

async fn hashkv(g: &GlobalArgs, endpoints: Vec<String>, revision: i64) -> CtlResult {
    let mut hashes = Vec::new();
    let mut failed = false;
    for ep in endpoints {
        let answer = match g.dial(&ep).await {
            Ok(channel) => MaintenanceClient::new(channel)
                .hash_kv(HashKvRequest { revision })
                .await
                .map_err(|s| CtlError::rpc(s).message),
            Err(e) => Err(e.message),
        };
        match answer {
            Ok(resp) => hashes.push((ep, resp.into_inner())),
            Err(e) => {
                eprintln!("Failed to get the hash of endpoint {ep} ({e})");
                failed = true;
            }
        }
    }
    printer(g).endpoint_hashkv(&hashes);
    if failed {
        std::process::exit(exit::ERROR as i32);
    }
    Ok(())
}

pub async fn member(g: &GlobalArgs, command: MemberCommand) -> CtlResult {
    let p = printer(g);
    match command {
        MemberCommand::List => {
            let mut client = ClusterClient::new(g.connect().await?);
            let resp = client
                .member_list(MemberListRequest::default())
                .await
                .map_err(CtlError::rpc)?
                .into_inner();
            p.member_list(&resp);
        }
        MemberCommand::Add {
            name,
            peer_urls,
            learner,
        } => {
            let name = match name.as_slice() {
                [] => return Err(CtlError::new(exit::BAD_ARGS, "member name not provided")),
                [one] => one.clone(),
                many => {
                    let mut msg = "too many arguments".to_string();
                    for s in many.iter().filter(|s| s.to_lowercase().starts_with("http")) {
                        msg.push_str(&format!(", did you mean --peer-urls={s}"));
                    }
                    return Err(CtlError::new(exit::BAD_ARGS, msg));
                }
            };
            if peer_urls.is_empty() {
                return Err(CtlError::new(
                    exit::BAD_ARGS,
                    "member peer urls not provided",
                ));
            }
            let urls: Vec<String> = peer_urls.split(',').map(String::from).collect();
            let mut client = ClusterClient::new(g.connect().await?);
            let req = MemberAddRequest {
                peer_ur_ls: urls,
                is_learner: learner,
            };
            let resp = client
                .member_add(req)
                .await
                .map_err(CtlError::rpc)?
                .into_inner();
            p.member_added(&resp, &name, &peer_urls);
        }
        MemberCommand::Remove { id } => {
            let id = member_id(&id, "remove")?;
            let mut client = ClusterClient::new(g.connect().await?);
            let resp = client
                .member_remove(MemberRemoveRequest { id })
                .await
                .map_err(CtlError::rpc)?
                .into_inner();
            p.member_changed("removed from", id, resp.header.as_ref(), &resp);
        }
        MemberCommand::Update { id, peer_urls } => {
            let id = member_id(&id, "update")?;
            if peer_urls.is_empty() {
                return Err(CtlError::new(
                    exit::BAD_ARGS,
                    "member peer urls not provided",
                ));
            }
            let req = MemberUpdateRequest {
                id,
                peer_ur_ls: peer_urls.split(',').map(String::from).collect(),
            };
            let mut client = ClusterClient::new(g.connect().await?);
            let resp = client
                .member_update(req)
                .await
                .map_err(CtlError::rpc)?
                .into_inner();
            p.member_changed("updated in", id, resp.header.as_ref(), &resp);
        }
        MemberCommand::Promote { id } => {
            let id = member_id(&id, "promote")?;
            let mut client = ClusterClient::new(g.connect().await?);
            let resp = client
                .member_promote(MemberPromoteRequest { id })
                .await
                .map_err(CtlError::rpc)?
                .into_inner();
            p.member_changed("promoted in", id, resp.header.as_ref(), &resp);
        }
    }
    Ok(())
}

pub async fn alarm(g: &GlobalArgs, command: AlarmCommand) -> CtlResult {
    let mut client = MaintenanceClient::new(g.connect().await?);
    let listed = client
        .alarm(AlarmRequest::default())
        .await
        .map_err(CtlError::rpc)?
        .into_inner();
    let shown = match command {
        AlarmCommand::List => listed.alarms,
        // As etcdctl: list, then clear each one, and print what was cleared.
        AlarmCommand::Disarm => {
            let mut cleared = Vec::new();
            for alarm in listed.alarms {
                let req = AlarmRequest {
                    action: AlarmAction::Deactivate as i32,
                    member_id: alarm.member_id,
                    alarm: alarm.alarm,
                };
                cleared.extend(
                    client
                        .alarm(req)
                        .await
                        .map_err(CtlError::rpc)?
                        .into_inner()
                        .alarms,
                );
            }
            cleared
        }
    };
    for alarm in &shown {
        println!("{}", etcdlab_core::alarms::describe(alarm));
    }
    Ok(())
}

/// `move-leader <id>`: finds the leader among the endpoints and asks it to hand over.
pub async fn move_leader(g: &GlobalArgs, target: &[String]) -> CtlResult {
    let [target] = target else {
        return Err(CtlError::new(
            exit::BAD_ARGS,
            "move-leader command needs 1 argument",
        ));
    };
    let target = u64::from_str_radix(target, 16)
        .map_err(|e| CtlError::new(exit::BAD_ARGS, e.to_string()))?;
    for ep in &g.endpoints {
        let mut client = MaintenanceClient::new(g.dial(ep).await?);
        let status = client
            .status(StatusRequest {})
            .await
            .map_err(CtlError::rpc)?
            .into_inner();
        let me = status.header.map_or(0, |h| h.member_id);
        if me != status.leader {
            continue;
        }
        client
            .move_leader(MoveLeaderRequest { target_id: target })
            .await
            .map_err(CtlError::rpc)?;
        println!("Leadership transferred from {me:x} to {target:x}");
        return Ok(());
    }
    Err(CtlError::new(
        exit::BAD_ARGS,
        format!("no leader endpoint given at [{}]", g.endpoints.join(" ")),
    ))
}
