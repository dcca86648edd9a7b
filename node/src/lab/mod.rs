//! `etcdlab lab`: one command starts a local cluster of real members (child processes of this
//! binary running `etcd`), watches them, and serves the lab's control API and page.
//!
//! [`members`] starts, kills and restarts the member processes; [`api`] serves
//! `GET /api/cluster` (each member's role, term, indexes and URLs, as JSON) and
//! `POST /api/members/{name}/kill|restart`, plus a small status page at `/`.

mod api;
mod members;

use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::Parser;

use self::members::LabMembers;

/// The lab's documented default address for its page and control API.
pub const DEFAULT_UI_ADDR: &str = "127.0.0.1:8379";

/// `etcdlab lab`: a local etcd cluster to learn and break.
#[derive(Parser, Debug)]
#[command(name = "etcdlab lab")]
pub struct LabFlags {
    /// Number of members (1 to 7; 3 tolerates one failure, 5 tolerates two).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u16).range(1..=7))]
    pub size: u16,
    /// Where the members keep their data (one folder per member); kept between runs.
    #[arg(long = "data-dir", default_value = "lab.etcd")]
    pub data_dir: PathBuf,
    /// Address of the lab's page and control API.
    #[arg(long = "ui-addr", default_value = DEFAULT_UI_ADDR)]
    pub ui_addr: SocketAddr,
    /// Client port of the first member; member N listens on base + 10000·(N-1), its peer port one above.
    #[arg(long = "base-port", default_value_t = 2379)]
    pub base_port: u16,
    /// Heartbeat interval in milliseconds (etcd's --heartbeat-interval).
    #[arg(long = "heartbeat-interval", default_value_t = 100)]
    pub heartbeat_interval: u64,
    /// Election timeout in milliseconds (etcd's --election-timeout).
    #[arg(long = "election-timeout", default_value_t = 1000)]
    pub election_timeout: u64,
}

pub fn main(args: Vec<OsString>) -> ExitCode {
    let flags = match LabFlags::try_parse_from(args) {
        Ok(f) => f,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    let result = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
        .and_then(|rt| rt.block_on(run(flags)));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("etcdlab lab: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(flags: LabFlags) -> anyhow::Result<()> {
    if u32::from(flags.base_port) + 10000 * (u32::from(flags.size) - 1) + 1 > u32::from(u16::MAX) {
        anyhow::bail!(
            "--base-port {} leaves no room for {} members",
            flags.base_port,
            flags.size
        );
    }
    let lab = Arc::new(LabMembers::new(&flags)?);
    let listener = tokio::net::TcpListener::bind(flags.ui_addr)
        .await
        .with_context(|| format!("cannot listen on --ui-addr {}", flags.ui_addr))?;
    lab.start_all()?;
    let endpoints = lab.client_endpoints().join(",");
    println!(
        "etcdlab lab: {} members starting (data in {}), page and API on http://{}\n\n  \
         etcdctl --endpoints {endpoints} put key1 value1\n  \
         etcdctl --endpoints {endpoints} endpoint status -w table\n\n\
         (etcdctl is the real one or `etcdlab ctl`). Ctrl-C stops the lab.",
        flags.size,
        flags.data_dir.display(),
        flags.ui_addr
    );
    let app = api::router(lab.clone());
    let server =
        axum::serve(listener, app).with_graceful_shutdown(crate::server::shutdown_signal());
    let served = server.await;
    lab.stop_all();
    served.context("serving the lab API")
}
