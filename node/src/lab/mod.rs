//! `etcdlab lab`: one command starts a local cluster of real members (child processes of this
//! binary running `etcd --experimental-fault-injection`), follows their Raft events, and serves
//! the lab's control API and page.
//!
//! [`ports`] picks the members' ports (the documented defaults when free); [`members`] starts,
//! kills, restarts, pauses, partitions and heals the members and follows their event streams
//! into the merged, cursor-numbered stream of [`events`]; [`api`] serves `GET /api/cluster`,
//! `GET /api/events`, `POST /api/faults`, `/api/kv`, `/api/freeze`, `/api/thaw` and the
//! visualizer at `/`, and [`lesson_api`] what lessons observe and set up (`--sample`). `etcdlab lab kill|restart|pause|resume|campaign|partition|heal|freeze|thaw`
//! sends the same from another terminal through [`http`], the small HTTP/1.1 client that
//! `etcdlab events` uses too. `etcdlab viz` (`crate::viz`) serves the same API and page over the
//! members of a cluster it did not start.

pub(crate) mod api;
mod events;
pub mod http;
mod lesson_api;
pub(crate) mod members;
mod ports;
pub mod tls;

use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use serde_json::{Value, json};

use self::members::Members;

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
    /// Run the members with client and peer TLS (certificates made in the data dir's `pki/`).
    #[arg(long)]
    pub tls: bool,
    /// Address of the lab's page and control API.
    #[arg(long = "ui-addr", default_value = DEFAULT_UI_ADDR)]
    pub ui_addr: SocketAddr,
    /// Client port of the first member; member N listens on base + 10000·(N-1), its peer port
    /// one above (free ports instead where those are taken).
    #[arg(long = "base-port", default_value_t = 2379)]
    pub base_port: u16,
    /// Heartbeat interval in milliseconds (etcd's --heartbeat-interval).
    #[arg(long = "heartbeat-interval", default_value_t = 100)]
    pub heartbeat_interval: u64,
    /// Election timeout in milliseconds (etcd's --election-timeout).
    #[arg(long = "election-timeout", default_value_t = 1000)]
    pub election_timeout: u64,
    /// Timings a human can follow: 1000 ms heartbeats, 5000 ms election timeout.
    #[arg(long, conflicts_with_all = ["heartbeat_interval", "election_timeout"])]
    pub slow: bool,
    /// Load a data set once the cluster has a leader: `kubernetes` (a small cluster's
    /// /registry keys: pods, nodes, configmaps, secrets, namespaces, services).
    #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(etcdlab_core::lesson::sample::SAMPLES))]
    pub sample: Option<String>,
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
    /// Pause a member: it keeps its process but stops ticking and processing
    Pause { member: String },
    /// Resume a paused member
    Resume { member: String },
    /// Make a member start an election now, as if its election timeout had run out
    Campaign { member: String },
    /// Cut the cluster into groups: `etcdlab lab partition m1 / m2 m3`
    Partition {
        /// Member names, groups separated by a `/` argument
        #[arg(required = true, num_args = 1..)]
        groups: Vec<String>,
    },
    /// Remove the partition and every link fault
    Heal,
    /// Pause every member: no events, no term change, until thaw
    Freeze,
    /// Resume every member
    Thaw,
}

pub fn main(args: Vec<OsString>) -> ExitCode {
    let mut flags = match crate::tool::parse::<LabFlags>(args) {
        Ok(flags) => flags,
        Err(code) => return code,
    };
    if flags.slow {
        flags.heartbeat_interval = 1000;
        flags.election_timeout = 5000;
    }
    match flags.action.clone() {
        Some(action) => crate::tool::run("etcdlab lab", act(flags.ui_addr, action)),
        None => crate::tool::run("etcdlab lab", run(flags)),
    }
}

/// `etcdlab lab partition m1 / m2 m3` → `[["m1"],["m2","m3"]]`.
fn partition_groups(args: &[String]) -> Vec<Vec<String>> {
    let mut groups = vec![Vec::new()];
    for arg in args {
        for (i, part) in arg.split('/').enumerate() {
            if i > 0 {
                groups.push(Vec::new());
            }
            if !part.trim().is_empty() {
                groups
                    .last_mut()
                    .expect("one group")
                    .push(part.trim().to_string());
            }
        }
    }
    groups.retain(|g| !g.is_empty());
    groups
}

/// Sends one action to the running lab's API and prints what was done.
async fn act(ui_addr: SocketAddr, action: LabAction) -> anyhow::Result<()> {
    let (path, body, done) = match &action {
        LabAction::Kill { member } => (
            "/api/faults",
            json!({"kill": member}),
            format!("{member}: killed"),
        ),
        LabAction::Restart { member } => (
            "/api/faults",
            json!({"restart": member}),
            format!("{member}: restarted"),
        ),
        LabAction::Pause { member } => (
            "/api/faults",
            json!({"pause": member}),
            format!("{member}: paused"),
        ),
        LabAction::Resume { member } => (
            "/api/faults",
            json!({"resume": member}),
            format!("{member}: resumed"),
        ),
        LabAction::Campaign { member } => (
            "/api/faults",
            json!({"campaign": member}),
            format!("{member}: campaigning"),
        ),
        LabAction::Partition { groups } => {
            let groups = partition_groups(groups);
            let text = groups
                .iter()
                .map(|g| g.join(" "))
                .collect::<Vec<_>>()
                .join(" / ");
            (
                "/api/faults",
                json!({ "partition": groups }),
                format!("partitioned: {text}"),
            )
        }
        LabAction::Heal => ("/api/faults", json!({"heal": true}), "healed".to_string()),
        LabAction::Freeze => (
            "/api/freeze",
            json!({}),
            "frozen: every member paused".to_string(),
        ),
        LabAction::Thaw => (
            "/api/thaw",
            json!({}),
            "thawed: every member resumed".to_string(),
        ),
    };
    let addr = ui_addr.to_string();
    let (_, answer) = http::request(
        None,
        &addr,
        "POST",
        path,
        Some(&body.to_string()),
        Duration::from_secs(15),
    )
    .await
    .with_context(|| format!("no lab is running at {ui_addr} (start one with `etcdlab lab`)"))?;
    let parsed: Value = serde_json::from_str(&answer).unwrap_or_default();
    if parsed["ok"] == true {
        println!("{done}");
        Ok(())
    } else {
        anyhow::bail!("{}", parsed["error"].as_str().unwrap_or(answer.trim()))
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
    let data_dir = flags.data_dir.clone().expect("set above");
    std::fs::create_dir_all(&data_dir)
        .with_context(|| format!("cannot create the lab's data dir {}", data_dir.display()))?;
    let listener = tokio::net::TcpListener::bind(flags.ui_addr)
        .await
        .with_context(|| format!("cannot listen on --ui-addr {}", flags.ui_addr))?;
    let ports = ports::choose(&data_dir, flags.size, flags.base_port)?;
    let lab = Arc::new(Members::started(&flags, &ports)?);
    lab.start_all()?;
    let mut tasks: Vec<tokio::task::JoinHandle<()>> = lab
        .names()
        .into_iter()
        .map(|name| tokio::spawn(lab.clone().follow(name)))
        .collect();
    tasks.push(tokio::spawn(lab.clone().supervise()));
    if let Some(name) = flags.sample.clone() {
        tasks.push(tokio::spawn(load_sample_when_ready(lab.clone(), name)));
    }
    let endpoints = lab.client_endpoints().join(",");
    let endpoints = match lab.etcdctl_tls_flags() {
        Some(flags) => format!("{endpoints} {flags}"),
        None => endpoints,
    };
    println!(
        "etcdlab lab: {} members starting (data in {}); visualizer and API: open http://{}\n\
         timing: heartbeat {} ms, election timeout {} ms{}\n\n  \
         etcdctl --endpoints {endpoints} put key1 value1\n  \
         etcdctl --endpoints {endpoints} endpoint status -w table\n  \
         etcdlab events --lab http://{}\n\n\
         (etcdctl is the real one or `etcdlab ctl`). Ctrl-C stops the lab.",
        flags.size,
        Path::new(&data_dir).display(),
        flags.ui_addr,
        flags.heartbeat_interval,
        flags.election_timeout,
        if flags.slow { " (--slow)" } else { "" },
        flags.ui_addr,
    );
    let app = api::router(lab.clone());
    let server =
        axum::serve(listener, app).with_graceful_shutdown(crate::server::shutdown_signal());
    let served = server.await;
    // Close the event streams first: a member finishes its graceful stop sooner without them.
    for task in &tasks {
        task.abort();
    }
    for task in tasks {
        let _ = task.await;
    }
    lab.stop_all(Duration::from_secs(10));
    served.context("serving the lab API")
}

/// Loads the sample once a member answers (a bounded wait: 30 s), and says so.
async fn load_sample_when_ready(lab: Arc<Members>, name: String) {
    let mut last_error = String::new();
    for _ in 0..60 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        match lesson_api::load_sample(&lab, &name).await {
            Ok(count) => {
                println!("etcdlab lab: loaded the {name} sample ({count} keys under /registry/)");
                return;
            }
            Err(e) => last_error = e.to_string(),
        }
    }
    eprintln!("etcdlab lab: could not load the {name} sample: {last_error}");
}

#[cfg(test)]
mod tests {
    use super::partition_groups;

    #[test]
    fn partition_arguments_split_on_slashes() {
        let args: Vec<String> = ["m1", "/", "m2", "m3"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(partition_groups(&args), vec![vec!["m1"], vec!["m2", "m3"]]);
        let args: Vec<String> = ["m1/m2", "m3"].iter().map(|s| s.to_string()).collect();
        assert_eq!(partition_groups(&args), vec![vec!["m1"], vec!["m2", "m3"]]);
    }
}
