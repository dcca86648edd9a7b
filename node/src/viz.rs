//! `etcdlab viz --endpoints URL[,URL...]`: the lab's visualizer and API for any cluster of ours
//! that someone else runs (a deployed one, an `OurCluster` in a test), by merging its members'
//! event streams.
//!
//! The members are found from the endpoints (gRPC `MemberList` on the first that answers: names,
//! ids, client URLs), over TLS when an endpoint is `https://` or etcdctl's TLS flags are given
//! (`--cacert --cert --key --insecure-skip-tls-verify`); then everything is the lab's: [`crate::lab::members::Members::given`]
//! follows every member's `/debug/raft/events` into one merged stream and asks `Status` for
//! roles and indexes, and [`crate::lab::api::router`] serves the page at `/`, `/api/cluster`,
//! `/api/events`, `/api/kv`, `/api/faults` and `/api/freeze|thaw`. Faults go to the members'
//! `/debug/faults`, so they need `--experimental-fault-injection` (without it the member's 403
//! reason is passed on); kill and restart answer 409, as viz did not start the members.
//!
//! Each time viz connects to a member's event stream after it did not answer (and at first),
//! it records a `member_started` event (`"source":"viz"`, `seq` 0) with the timing given by
//! `--heartbeat-interval` / `--election-timeout`: the visualizer restarts a member's event
//! numbering there, as a restarted member's starts again at 1.

use std::ffi::OsString;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use etcdlab_core::events::hex_id;
use etcdlab_core::proto::etcdserverpb::MemberListRequest;

use crate::lab::api;
use crate::lab::http::host_port;
use crate::lab::members::{GivenMember, Members};
use crate::lab::tls::{self, MemberTls, TlsFlags};
use crate::rpc::etcdserverpb::cluster_client::ClusterClient;

/// The documented default address of viz's page and API (one above the lab's).
pub const DEFAULT_UI_ADDR: &str = "127.0.0.1:8380";

/// `etcdlab viz`: watch (and break) a running cluster of etcdlab members.
#[derive(Parser, Debug)]
#[command(name = "etcdlab viz")]
pub struct VizFlags {
    /// Client URLs of one or more members, comma separated (e.g. 127.0.0.1:2379 or
    /// http://10.0.0.1:2379); the others are found with MemberList.
    #[arg(long, required = true, value_delimiter = ',')]
    pub endpoints: Vec<String>,
    /// Address of the page and API.
    #[arg(long = "ui-addr", default_value = DEFAULT_UI_ADDR)]
    pub ui_addr: SocketAddr,
    /// The cluster's heartbeat interval in milliseconds (for the visualizer's timers).
    #[arg(long = "heartbeat-interval", default_value_t = 100)]
    pub heartbeat_interval: u64,
    /// The cluster's election timeout in milliseconds (for the visualizer's timers).
    #[arg(long = "election-timeout", default_value_t = 1000)]
    pub election_timeout: u64,
    #[command(flatten)]
    pub tls: TlsFlags,
}

pub fn main(args: Vec<OsString>) -> ExitCode {
    match crate::tool::parse::<VizFlags>(args) {
        Ok(flags) => crate::tool::run("etcdlab viz", run(flags)),
        Err(code) => code,
    }
}

/// The cluster's members, from the first endpoint that answers `MemberList`.
async fn discover(
    endpoints: &[String],
    tls_to_members: Option<&MemberTls>,
) -> anyhow::Result<Vec<GivenMember>> {
    let mut errors = Vec::new();
    for endpoint in endpoints.iter().map(|e| host_port(e.trim())) {
        let asked = async {
            let channel = tls::channel(tls_to_members, &endpoint, Duration::from_secs(2)).await?;
            let list = ClusterClient::new(channel)
                .member_list(MemberListRequest::default())
                .await?
                .into_inner();
            anyhow::Ok(list.members)
        };
        match asked.await {
            Ok(members) if !members.is_empty() => {
                return Ok(members
                    .into_iter()
                    .map(|m| GivenMember {
                        // A member added but not started yet has no name: its id stands in.
                        name: if m.name.is_empty() {
                            hex_id(m.id)
                        } else {
                            m.name
                        },
                        id: m.id,
                        client_url: m.client_ur_ls.into_iter().next().unwrap_or_default(),
                        peer_url: m.peer_ur_ls.into_iter().next().unwrap_or_default(),
                    })
                    .collect());
            }
            Ok(_) => errors.push(format!("{endpoint}: no members listed")),
            Err(e) => errors.push(format!("{endpoint}: {e:#}")),
        }
    }
    anyhow::bail!("no endpoint answered MemberList ({})", errors.join("; "))
}

async fn run(flags: VizFlags) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(flags.ui_addr)
        .await
        .with_context(|| format!("cannot listen on --ui-addr {}", flags.ui_addr))?;
    let tls_to_members = flags.tls.member_tls(&flags.endpoints)?;
    let given = discover(&flags.endpoints, tls_to_members.as_ref()).await?;
    let listed: Vec<String> = given
        .iter()
        .map(|m| format!("{} {}", m.name, m.client_url))
        .collect();
    let members = Arc::new(Members::given(
        given,
        tls_to_members,
        flags.heartbeat_interval,
        flags.election_timeout,
    ));
    let tasks: Vec<tokio::task::JoinHandle<()>> = members
        .names()
        .into_iter()
        .map(|name| tokio::spawn(members.clone().follow(name)))
        .collect();
    println!(
        "etcdlab viz: watching {} members ({}), page and API on http://{}\n\
         Faults need members started with --experimental-fault-injection. Ctrl-C stops viz \
         (not the cluster).",
        listed.len(),
        listed.join(", "),
        flags.ui_addr,
    );
    let app = api::router(members);
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(crate::server::shutdown_signal())
        .await;
    for task in &tasks {
        task.abort();
    }
    served.context("serving the viz API")
}
