//! `etcdlab bench`: load for any etcd v3 endpoints (ours or real etcd), in the manner of etcd's
//! own benchmark tool. The workloads: put, range and txn ([`kv`]), watch fan-out ([`watch`]) and
//! lease churn ([`lease`]); each ends in one summary of throughput and latency ([`report`]).

mod driver;
mod kv;
mod lease;
mod report;
mod watch;

use std::ffi::OsString;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, ValueEnum};
use tonic::transport::{Channel, Endpoint};

/// How long a request may wait for its answer.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Parser, Debug)]
#[command(
    name = "etcdlab bench",
    about = "Benchmark etcd v3 endpoints (ours or real etcd)."
)]
struct BenchFlags {
    /// What to send: put, range, txn (a compare on the key plus a put), watch (watchers on one
    /// prefix, one writer) or lease (grant, put with the lease, keep-alive once, revoke)
    workload: Workload,
    /// gRPC endpoints, comma separated (connections go round-robin over them; the watch
    /// workload's writer uses the first)
    #[arg(long, default_value = "127.0.0.1:2379", value_delimiter = ',')]
    endpoints: Vec<String>,
    /// Concurrent clients (put, range, txn, lease)
    #[arg(long, default_value_t = 1)]
    clients: usize,
    /// gRPC connections shared by the clients (or the watchers)
    #[arg(long, default_value_t = 1)]
    conns: usize,
    /// Requests in all (watch: puts by the writer; lease: grant-to-revoke cycles)
    #[arg(long, default_value_t = 10_000)]
    total: u64,
    /// Key size in bytes
    #[arg(long = "key-size", default_value_t = 8)]
    key_size: usize,
    /// Value size in bytes
    #[arg(long = "val-size", default_value_t = 256)]
    val_size: usize,
    /// Distinct keys written (0: every request a new key); ranges read key 0
    #[arg(long = "key-space-size", default_value_t = 1)]
    key_space_size: u64,
    /// Range consistency: l (linearizable) or s (serializable)
    #[arg(long, default_value = "l")]
    consistency: Consistency,
    /// Watchers of the watch workload, each a Watch stream of its own
    #[arg(long, default_value_t = 1000)]
    watchers: usize,
    /// Print one machine-readable line (requests/s and latency percentiles in ms)
    #[arg(long)]
    json: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Workload {
    Put,
    Range,
    Txn,
    Watch,
    Lease,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Consistency {
    /// Linearizable
    L,
    /// Serializable
    S,
}

pub fn main(args: Vec<OsString>) -> ExitCode {
    match crate::tool::parse::<BenchFlags>(args) {
        Ok(flags) => crate::tool::run("etcdlab bench", run(flags)),
        Err(code) => code,
    }
}

async fn run(flags: BenchFlags) -> anyhow::Result<()> {
    anyhow::ensure!(flags.total > 0, "--total must be at least 1");
    anyhow::ensure!(flags.key_size > 0, "--key-size must be at least 1");
    // A Watch stream is answered only once its watch is created, which under a fan-out of
    // thousands can take longer than a request may: the watch workload bounds that itself.
    let request_timeout = (flags.workload != Workload::Watch).then_some(REQUEST_TIMEOUT);
    let channels = connect(&flags.endpoints, flags.conns, request_timeout).await?;
    let summary = match flags.workload {
        Workload::Put | Workload::Range | Workload::Txn => kv::run(&flags, &channels).await?,
        Workload::Watch => watch::run(&flags, &channels).await?,
        Workload::Lease => lease::run(&flags, &channels).await?,
    };
    summary.print(&flags);
    Ok(())
}

/// `conns` connections, the i-th to endpoint i modulo their number, their requests limited to
/// `request_timeout` (until the answer's headers).
async fn connect(
    endpoints: &[String],
    conns: usize,
    request_timeout: Option<Duration>,
) -> anyhow::Result<Vec<Channel>> {
    let mut channels = Vec::new();
    for i in 0..conns.max(1) {
        let ep = &endpoints[i % endpoints.len()];
        let url = if ep.contains("://") {
            ep.clone()
        } else {
            format!("http://{ep}")
        };
        let mut endpoint = Endpoint::from_shared(url)
            .with_context(|| format!("bad endpoint {ep}"))?
            .connect_timeout(Duration::from_secs(2))
            .tcp_nodelay(true);
        if let Some(timeout) = request_timeout {
            endpoint = endpoint.timeout(timeout);
        }
        let channel = endpoint
            .connect()
            .await
            .with_context(|| format!("cannot connect to {ep}"))?;
        channels.push(channel);
    }
    Ok(channels)
}
