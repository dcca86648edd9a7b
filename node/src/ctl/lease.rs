//! `lease grant|revoke|timetolive|list|keep-alive`: leases, with etcdctl's arguments, output
//! and exit codes. Lease ids are given and shown in hex (`%016x`).
//!
//! `keep-alive` without `--once` keeps the lease alive as clientv3 does: one keep-alive now,
//! then one every third of the TTL, printing each answer, until the lease is gone (the server
//! answers TTL 0); then, in the simple format, `lease ... expired or revoked.`

use std::time::Duration;

use etcdlab_core::proto::etcdserverpb::{
    LeaseGrantRequest, LeaseKeepAliveRequest, LeaseKeepAliveResponse, LeaseLeasesRequest,
    LeaseRevokeRequest, LeaseTimeToLiveRequest,
};

use super::cli::{Command, Flag, Invocation};
use super::global::Global;
use super::print::{Format, Report, stdout};
use super::{CtlError, CtlResult, exit, gotext};
use crate::rpc::etcdserverpb::lease_client::LeaseClient;

const KEYS: Flag = Flag::switch("keys", "Get keys attached to this lease");
const ONCE: Flag = Flag::switch(
    "once",
    "Resets the keep-alive time to its original value and exits immediately",
);

pub static LEASE: Command = Command::new("lease <subcommand>", "Lease related commands")
    .subcommands(&[&GRANT, &KEEP_ALIVE, &LIST, &REVOKE, &TIMETOLIVE]);

static GRANT: Command =
    Command::new("grant <ttl>", "Creates leases").run(|inv| Box::pin(grant(inv)));

static REVOKE: Command =
    Command::new("revoke <leaseID>", "Revokes leases").run(|inv| Box::pin(revoke(inv)));

static TIMETOLIVE: Command =
    Command::new("timetolive <leaseID> [options]", "Get lease information")
        .flags(&[KEYS])
        .run(|inv| Box::pin(time_to_live(inv)));

static LIST: Command =
    Command::new("list", "List all active leases").run(|inv| Box::pin(list(inv)));

static KEEP_ALIVE: Command = Command::new(
    "keep-alive [options] <leaseID>",
    "Keeps leases alive (renew)",
)
.flags(&[ONCE])
.run(|inv| Box::pin(keep_alive(inv)));

/// The one argument, or etcdctl's complaint when there is not exactly one.
fn one_arg<'a>(inv: &'a Invocation, missing: &str) -> Result<&'a str, CtlError> {
    match inv.args.as_slice() {
        [arg] => Ok(arg),
        _ => Err(CtlError::bad_args(missing)),
    }
}

/// A lease id argument, in hex.
fn lease_id(arg: &str) -> Result<i64, CtlError> {
    gotext::parse_int(arg, 16)
        .map_err(|e| CtlError::bad_args(format!("bad lease ID arg ({e}), expecting ID in Hex")))
}

async fn grant(inv: Invocation) -> CtlResult {
    let arg = one_arg(&inv, "lease grant command needs TTL argument")?;
    let ttl =
        gotext::parse_int(arg, 10).map_err(|e| CtlError::bad_args(format!("bad TTL ({e})")))?;
    let g = Global::from(&inv)?;
    let response = g
        .client()?
        .request(async |channel| {
            LeaseClient::new(channel)
                .lease_grant(LeaseGrantRequest { ttl, id: 0 })
                .await
        })
        .await
        .map_err(|e| {
            CtlError::new(
                exit::ERROR,
                format!("failed to grant lease ({})", e.message),
            )
        })?;
    g.printer().print(&Report::LeaseGrant(&response))
}

async fn revoke(inv: Invocation) -> CtlResult {
    let id = lease_id(one_arg(&inv, "lease revoke command needs 1 argument")?)?;
    let g = Global::from(&inv)?;
    let response = g
        .client()?
        .request(async |channel| {
            LeaseClient::new(channel)
                .lease_revoke(LeaseRevokeRequest { id })
                .await
        })
        .await
        .map_err(|e| {
            CtlError::new(
                exit::ERROR,
                format!("failed to revoke lease ({})", e.message),
            )
        })?;
    g.printer().print(&Report::LeaseRevoke(id, &response))
}

async fn time_to_live(inv: Invocation) -> CtlResult {
    let arg = one_arg(&inv, "lease timetolive command needs lease ID as argument")?;
    let id = lease_id(arg)?;
    let keys = inv.bool(&KEYS);
    let g = Global::from(&inv)?;
    let response = g
        .client()?
        .request(async |channel| {
            LeaseClient::new(channel)
                .lease_time_to_live(LeaseTimeToLiveRequest { id, keys })
                .await
        })
        .await
        .map_err(bad_connection)?;
    g.printer().print(&Report::LeaseTimeToLive(&response, keys))
}

async fn list(inv: Invocation) -> CtlResult {
    let g = Global::from(&inv)?;
    let response = g
        .client()?
        .request(async |channel| {
            LeaseClient::new(channel)
                .lease_leases(LeaseLeasesRequest {})
                .await
        })
        .await
        .map_err(bad_connection)?;
    g.printer().print(&Report::LeaseList(&response))
}

async fn keep_alive(inv: Invocation) -> CtlResult {
    let arg = one_arg(&inv, "lease keep-alive command needs lease ID as argument")?;
    let id = lease_id(arg)?;
    let g = Global::from(&inv)?;
    let printer = g.printer();
    loop {
        let response = keep_alive_once(&g, id).await?;
        if response.ttl <= 0 {
            if inv.bool(&ONCE) {
                return Err(CtlError::new(
                    exit::BAD_CONNECTION,
                    "etcdserver: requested lease not found",
                ));
            }
            if g.format == Format::Simple {
                stdout(format!("lease {id:016x} expired or revoked.\n").as_bytes());
            }
            return Ok(());
        }
        printer.print(&Report::LeaseKeepAlive(&response))?;
        if inv.bool(&ONCE) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_secs(response.ttl as u64) / 3).await;
    }
}

/// One keep-alive on its own stream: the server's one answer.
pub(super) async fn keep_alive_once(
    g: &Global,
    id: i64,
) -> Result<LeaseKeepAliveResponse, CtlError> {
    g.client()?
        .request(async |channel| {
            let request = futures::stream::iter([LeaseKeepAliveRequest { id }]);
            let mut answers = LeaseClient::new(channel)
                .lease_keep_alive(request)
                .await?
                .into_inner();
            let answer = answers.message().await?.ok_or_else(|| {
                tonic::Status::unavailable("the server ended the keep-alive stream")
            })?;
            Ok(tonic::Response::new(answer))
        })
        .await
        .map_err(bad_connection)
}

/// etcdctl exits with 2 when these requests fail.
fn bad_connection(e: CtlError) -> CtlError {
    CtlError::new(exit::BAD_CONNECTION, e.message)
}
