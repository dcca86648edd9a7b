//! `etcdlab lab`: one command starts a local cluster of real members (child processes of this
//! binary running `etcd`), watches them, and serves the lab's control API and page.
//!
//! [`members`] starts, kills, restarts, pauses and resumes the member processes; [`api`]
//! serves `GET /api/cluster` (each member's role, term, indexes and URLs, as JSON) and
//! `POST /api/members/{name}/kill|restart|pause|resume`, plus a small status page at `/`.
//! `etcdlab lab kill|restart|pause|resume <member>` sends those from another terminal.

mod api;
mod members;

use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
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
    /// Where the members keep their data (one folder per member), kept between runs
    /// [default: $XDG_DATA_HOME/etcdlab/lab, or ~/.local/share/etcdlab/lab]
    #[arg(long = "data-dir")]
    pub data_dir: Option<PathBuf>,
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
    /// Act on a running lab (at --ui-addr) instead of starting one.
    #[command(subcommand)]
    pub action: Option<LabAction>,
}

/// Faults and repairs for a running lab, from another terminal.
#[derive(clap::Subcommand, Debug, Clone)]
pub enum LabAction {
    /// Kill a member (SIGKILL, like a crash)
    Kill { member: String },
    /// Restart a killed member on its data
    Restart { member: String },
    /// Freeze a member (SIGSTOP): it keeps its process but stops ticking and answering
    Pause { member: String },
    /// Thaw a paused member
    Resume { member: String },
}

pub fn main(args: Vec<OsString>) -> ExitCode {
    let flags = match crate::tool::parse::<LabFlags>(args) {
        Ok(flags) => flags,
        Err(code) => return code,
    };
    match flags.action.clone() {
        Some(action) => crate::tool::run("etcdlab lab", act(flags.ui_addr, action)),
        None => crate::tool::run("etcdlab lab", run(flags)),
    }
}

/// Sends one action to the running lab's API and prints its answer.
async fn act(ui_addr: SocketAddr, action: LabAction) -> anyhow::Result<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (verb, member) = match &action {
        LabAction::Kill { member } => ("kill", member),
        LabAction::Restart { member } => ("restart", member),
        LabAction::Pause { member } => ("pause", member),
        LabAction::Resume { member } => ("resume", member),
    };
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(ui_addr).await?;
        let request = format!(
            "POST /api/members/{member}/{verb} HTTP/1.1\r\nHost: {ui_addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        );
        stream.write_all(request.as_bytes()).await?;
        let mut response = String::new();
        stream.read_to_string(&mut response).await?;
        anyhow::Ok(response)
    };
    let response = tokio::time::timeout(std::time::Duration::from_secs(10), exchange)
        .await
        .map_err(|_| anyhow::anyhow!("the lab at {ui_addr} did not answer"))?
        .with_context(|| {
            format!("no lab is running at {ui_addr} (start one with `etcdlab lab`)")
        })?;
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b)
        .unwrap_or_default();
    let answer: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
    if answer["ok"] == true {
        println!("{member}: {verb} done");
        Ok(())
    } else {
        anyhow::bail!("{}", answer["error"].as_str().unwrap_or(body))
    }
}

/// The per-user default home of the lab's data.
fn default_data_dir() -> anyhow::Result<PathBuf> {
    let base = match std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(
            std::env::var_os("HOME")
                .context("neither XDG_DATA_HOME nor HOME is set; pass --data-dir")?,
        )
        .join(".local/share"),
    };
    Ok(base.join("etcdlab").join("lab"))
}

async fn run(mut flags: LabFlags) -> anyhow::Result<()> {
    if flags.data_dir.is_none() {
        flags.data_dir = Some(default_data_dir()?);
    }
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
        flags
            .data_dir
            .as_deref()
            .map(Path::display)
            .map(|d| d.to_string())
            .unwrap_or_default(),
        flags.ui_addr
    );
    let app = api::router(lab.clone());
    let server =
        axum::serve(listener, app).with_graceful_shutdown(crate::server::shutdown_signal());
    let served = server.await;
    lab.stop_all();
    served.context("serving the lab API")
}
