//! `lock` and `elect`: etcdctl's distributed lock and leader election, over the server's
//! `v3lock.Lock` and `v3election.Election` services (the same keys, `<name>/<lease id>`, as
//! the client-side recipes etcdctl runs). Each holds a session: a lease of its own, kept alive
//! every third of its TTL, whose loss ends the command with etcdctl's "session expired".
//!
//! `lock name` prints the lock's key once held and keeps it until SIGINT or SIGTERM;
//! `lock name cmd args` runs the command while holding it (with `ETCD_LOCK_KEY` and
//! `ETCD_LOCK_REV`). `elect name proposal` campaigns, prints the leader key once elected and
//! resigns on a signal; `elect -l name` prints every leader and proclamation.

use std::time::Duration;

use etcdlab_core::proto::etcdserverpb::{LeaseGrantRequest, RangeRequest, RangeResponse};
use etcdlab_core::proto::mvccpb::KeyValue;
use etcdlab_core::proto::v3electionpb::{CampaignRequest, LeaderRequest, ResignRequest};
use etcdlab_core::proto::v3lockpb::{LockRequest, UnlockRequest};

use super::cli::{Command, Flag, Invocation, Kind};
use super::global::{Client, Connection, Global};
use super::print::Report;
use super::{CtlError, CtlResult, exit, lease};
use crate::rpc::etcdserverpb::kv_client::KvClient;
use crate::rpc::etcdserverpb::lease_client::LeaseClient;
use crate::rpc::v3electionpb::election_client::ElectionClient;
use crate::rpc::v3lockpb::lock_client::LockClient;

const TTL: Flag = Flag::new("ttl", Kind::Int, "10", "timeout for session");
const LISTEN: Flag = Flag::switch("listen", "observation mode").short('l');

/// The TTL of `elect`'s session (clientv3's default).
const ELECT_TTL: i64 = 60;

pub static LOCK: Command = Command::new(
    "lock <lockname> [exec-command arg1 arg2 ...]",
    "Acquires a named lock",
)
.flags(&[TTL])
.run(|inv| Box::pin(lock(inv)));

pub static ELECT: Command = Command::new(
    "elect <election-name> [proposal]",
    "Observes and participates in leader election",
)
.flags(&[LISTEN])
.run(|inv| Box::pin(elect(inv)));

async fn lock(inv: Invocation) -> CtlResult {
    let Some((name, command)) = inv.args.split_first() else {
        return Err(CtlError::bad_args(
            "lock takes a lock name argument and an optional command to execute",
        ));
    };
    let g = Global::from(&inv)?;
    let client = g.client()?;
    let session = grant(&client, inv.int(&TTL)).await?;
    let channel = client.connect().await?;
    let request = LockRequest {
        name: name.clone().into_bytes(),
        lease: session,
    };
    let mut locks = LockClient::new(channel.clone());
    let held = tokio::select! {
        held = locks.lock(request) => held.map_err(CtlError::rpc)?.into_inner(),
        () = interrupted() => return Ok(()),
    };
    // A one-off request (not the lock's connection): with `--user`, a token gone stale
    // while the lock was held is renewed.
    let unlock = async || {
        let request = UnlockRequest {
            key: held.key.clone(),
        };
        client
            .request(async |c| LockClient::new(c).unlock(request).await)
            .await
            .map(drop)
    };
    if let Some((program, args)) = command.split_first() {
        let revision = held.header.map_or(0, |h| h.revision);
        let status = std::process::Command::new(program)
            .args(args)
            .env("ETCD_LOCK_KEY", String::from_utf8_lossy(&held.key).as_ref())
            .env("ETCD_LOCK_REV", revision.to_string())
            .status();
        let unlocked = unlock().await;
        return match status {
            Ok(s) if s.success() => unlocked,
            Ok(s) => Err(CtlError::new(
                exit::ERROR,
                format!("exit status {}", s.code().unwrap_or(-1)),
            )),
            Err(e) => Err(CtlError::new(exit::ERROR, e.to_string())),
        };
    }
    let shown = get(&channel, &held.key).await?;
    if shown.kvs.is_empty() {
        return Err(CtlError::new(exit::ERROR, "lock lost on init"));
    }
    g.printer().print(&Report::Get(&shown))?;
    tokio::select! {
        () = interrupted() => unlock().await,
        () = keep_alive(&g, session) => Err(CtlError::new(exit::ERROR, "session expired")),
    }
}

async fn elect(inv: Invocation) -> CtlResult {
    let listen = inv.bool(&LISTEN);
    let (name, proposal) = match inv.args.as_slice() {
        [name] if listen => (name, None),
        [_] => return Err(CtlError::bad_args("no proposal argument but -l not set")),
        [_, _] if listen => return Err(CtlError::bad_args("proposal given but -l is set")),
        [name, proposal] => (name, Some(proposal)),
        _ => {
            return Err(CtlError::bad_args(
                "elect takes one election name argument and an optional proposal argument",
            ));
        }
    };
    let g = Global::from(&inv)?;
    let client = g.client()?;
    let session = grant(&client, ELECT_TTL).await?;
    let channel = client.connect().await?;
    let mut election = ElectionClient::new(channel.clone());
    let Some(proposal) = proposal else {
        return observe(&g, &mut election, name).await;
    };
    let campaign = CampaignRequest {
        name: name.clone().into_bytes(),
        lease: session,
        value: proposal.clone().into_bytes(),
    };
    let elected = tokio::select! {
        elected = election.campaign(campaign) => elected.map_err(CtlError::rpc)?.into_inner(),
        () = interrupted() => return Ok(()),
    };
    let leader = elected.leader.unwrap_or_default();
    g.printer()
        .print(&Report::Get(&get(&channel, &leader.key).await?))?;
    tokio::select! {
        () = interrupted() => {}
        () = keep_alive(&g, session) => {
            return Err(CtlError::new(exit::ERROR, "elect: session expired"));
        }
    }
    // As `lock`'s unlock: a one-off request, so a stale token is renewed.
    let resign = ResignRequest {
        leader: Some(leader),
    };
    client
        .request(async |c| ElectionClient::new(c).resign(resign).await)
        .await
        .map(drop)
}

/// `elect -l`: every leader and each value it proclaims, until a signal.
async fn observe(g: &Global, election: &mut ElectionClient<Connection>, name: &str) -> CtlResult {
    let request = LeaderRequest {
        name: name.as_bytes().to_vec(),
    };
    let mut leaders = election
        .observe(request)
        .await
        .map_err(CtlError::rpc)?
        .into_inner();
    loop {
        let next = tokio::select! {
            next = leaders.message() => next,
            () = interrupted() => return Ok(()),
        };
        let Ok(Some(leader)) = next else {
            return Err(CtlError::new(exit::ERROR, "elect: observer lost"));
        };
        let shown = as_get(leader.header, leader.kv.unwrap_or_default());
        g.printer().print(&Report::Get(&shown))?;
    }
}

/// A session's lease.
async fn grant(client: &Client<'_>, ttl: i64) -> Result<i64, CtlError> {
    let response = client
        .request(async |channel| {
            LeaseClient::new(channel)
                .lease_grant(LeaseGrantRequest { ttl, id: 0 })
                .await
        })
        .await?;
    Ok(response.id)
}

/// Keeps the session's lease alive; returns when it is gone.
async fn keep_alive(g: &Global, session: i64) {
    loop {
        match lease::keep_alive_once(g, session).await {
            Ok(answer) if answer.ttl <= 0 => return,
            Ok(answer) => {
                tokio::time::sleep(Duration::from_secs(answer.ttl as u64) / 3).await;
            }
            // Unreachable for now: try again soon (the lease outlives a short outage).
            Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    }
}

async fn get(channel: &Connection, key: &[u8]) -> Result<RangeResponse, CtlError> {
    KvClient::new(channel.clone())
        .range(RangeRequest {
            key: key.to_vec(),
            ..Default::default()
        })
        .await
        .map(tonic::Response::into_inner)
        .map_err(CtlError::rpc)
}

/// A leader as `get` shows a key.
fn as_get(
    header: Option<etcdlab_core::proto::etcdserverpb::ResponseHeader>,
    kv: KeyValue,
) -> RangeResponse {
    RangeResponse {
        header,
        kvs: vec![kv],
        ..Default::default()
    }
}

/// Resolves on SIGINT or SIGTERM.
async fn interrupted() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(term) => term,
        Err(_) => return std::future::pending().await,
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
