//! `etcdlab bench`: load for any etcd v3 endpoints (ours or real etcd), in the manner of etcd's
//! own benchmark tool: N concurrent clients over M gRPC connections issue a fixed number of
//! put, range or txn requests; the summary gives throughput and latency percentiles.

use std::ffi::OsString;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::{Parser, ValueEnum};
use etcdlab_core::proto::etcdserverpb::compare::{CompareResult, CompareTarget, TargetUnion};
use etcdlab_core::proto::etcdserverpb::request_op::Request;
use etcdlab_core::proto::etcdserverpb::{Compare, PutRequest, RangeRequest, RequestOp, TxnRequest};
use tonic::transport::{Channel, Endpoint};

use crate::rpc::etcdserverpb::kv_client::KvClient;

#[derive(Parser, Debug)]
#[command(
    name = "etcdlab bench",
    about = "Benchmark etcd v3 endpoints (ours or real etcd)."
)]
struct BenchFlags {
    /// What to send: put, range or txn (a compare on the key plus a put)
    workload: Workload,
    /// gRPC endpoints, comma separated (requests go round-robin over the connections)
    #[arg(long, default_value = "127.0.0.1:2379", value_delimiter = ',')]
    endpoints: Vec<String>,
    /// Concurrent clients
    #[arg(long, default_value_t = 1)]
    clients: usize,
    /// gRPC connections shared by the clients
    #[arg(long, default_value_t = 1)]
    conns: usize,
    /// Requests in all
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
    consistency: String,
    /// Print one machine-readable line (requests/s and latency percentiles in ms)
    #[arg(long)]
    json: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Workload {
    Put,
    Range,
    Txn,
}

pub fn main(args: Vec<OsString>) -> ExitCode {
    match crate::tool::parse::<BenchFlags>(args) {
        Ok(flags) => crate::tool::run("etcdlab bench", run(flags)),
        Err(code) => code,
    }
}

async fn connect(endpoints: &[String], conns: usize) -> anyhow::Result<Vec<Channel>> {
    let mut channels = Vec::new();
    for i in 0..conns.max(1) {
        let ep = &endpoints[i % endpoints.len()];
        let url = if ep.contains("://") {
            ep.clone()
        } else {
            format!("http://{ep}")
        };
        let channel = Endpoint::from_shared(url)?
            .connect_timeout(Duration::from_secs(2))
            .timeout(Duration::from_secs(10))
            .tcp_nodelay(true)
            .connect()
            .await
            .with_context(|| format!("cannot connect to {ep}"))?;
        channels.push(channel);
    }
    Ok(channels)
}

async fn run(flags: BenchFlags) -> anyhow::Result<()> {
    let channels = connect(&flags.endpoints, flags.conns).await?;
    let flags = Arc::new(flags);
    let next = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let value = vec![b'v'; flags.val_size];
    let started = Instant::now();
    let tasks: Vec<_> = (0..flags.clients.max(1))
        .map(|c| {
            let mut kv = KvClient::new(channels[c % channels.len()].clone());
            let (flags, next, errors, value) =
                (flags.clone(), next.clone(), errors.clone(), value.clone());
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= flags.total {
                        break latencies;
                    }
                    let key = key_for(&flags, n);
                    let sent = Instant::now();
                    let ok = match flags.workload {
                        Workload::Put => kv
                            .put(PutRequest {
                                key,
                                value: value.clone(),
                                ..Default::default()
                            })
                            .await
                            .is_ok(),
                        Workload::Range => {
                            let serializable = flags.consistency == "s";
                            kv.range(RangeRequest {
                                key,
                                serializable,
                                ..Default::default()
                            })
                            .await
                            .is_ok()
                        }
                        Workload::Txn => kv.txn(txn_request(key, value.clone())).await.is_ok(),
                    };
                    if ok {
                        latencies.push(sent.elapsed());
                    } else {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await?);
    }
    let elapsed = started.elapsed();
    report(
        &flags,
        &mut latencies,
        elapsed,
        errors.load(Ordering::Relaxed),
    );
    Ok(())
}

/// The key of request `n`: key 0 for ranges, otherwise cycling through the key space.
fn key_for(flags: &BenchFlags, n: u64) -> Vec<u8> {
    let index = match flags.workload {
        Workload::Range => 0,
        _ if flags.key_space_size == 0 => n,
        _ => n % flags.key_space_size,
    };
    let mut key = format!("{index:0width$}", width = flags.key_size).into_bytes();
    key.truncate(flags.key_size.max(1));
    key
}

/// A txn that checks the key's version and writes it: one compare, one put.
fn txn_request(key: Vec<u8>, value: Vec<u8>) -> TxnRequest {
    let compare = Compare {
        result: CompareResult::Greater as i32,
        target: CompareTarget::Version as i32,
        key: key.clone(),
        target_union: Some(TargetUnion::Version(-1)),
        range_end: vec![],
    };
    let put = RequestOp {
        request: Some(Request::RequestPut(PutRequest {
            key,
            value,
            ..Default::default()
        })),
    };
    TxnRequest {
        compare: vec![compare],
        success: vec![put],
        failure: vec![],
    }
}

fn report(flags: &BenchFlags, latencies: &mut [Duration], elapsed: Duration, errors: u64) {
    latencies.sort_unstable();
    let secs = |d: Duration| d.as_secs_f64();
    let n = latencies.len();
    let rate = n as f64 / secs(elapsed);
    let pct = |p: f64| {
        if n == 0 {
            0.0
        } else {
            secs(latencies[((p / 100.0) * (n - 1) as f64).round() as usize])
        }
    };
    if flags.json {
        println!(
            "{}",
            serde_json::json!({
                "workload": format!("{:?}", flags.workload).to_lowercase(), "clients": flags.clients, "requests": n,
                "errors": errors, "seconds": secs(elapsed), "requests_per_sec": rate,
                "p50_ms": pct(50.0) * 1e3, "p90_ms": pct(90.0) * 1e3, "p99_ms": pct(99.0) * 1e3,
            })
        );
        return;
    }
    let mean = if n == 0 {
        0.0
    } else {
        latencies.iter().map(|d| secs(*d)).sum::<f64>() / n as f64
    };
    let var = if n == 0 {
        0.0
    } else {
        latencies
            .iter()
            .map(|d| (secs(*d) - mean).powi(2))
            .sum::<f64>()
            / n as f64
    };
    println!("\nSummary:");
    println!("  Total:\t{:.4} secs.", secs(elapsed));
    println!(
        "  Slowest:\t{:.4} secs.",
        latencies.last().map_or(0.0, |d| secs(*d))
    );
    println!(
        "  Fastest:\t{:.4} secs.",
        latencies.first().map_or(0.0, |d| secs(*d))
    );
    println!("  Average:\t{mean:.4} secs.");
    println!("  Stddev:\t{:.4} secs.", var.sqrt());
    println!("  Requests/sec:\t{rate:.4}");
    if errors > 0 {
        println!("  Errors:\t{errors}");
    }
    println!("\nLatency distribution:");
    for p in [10.0, 25.0, 50.0, 75.0, 90.0, 95.0, 99.0, 99.9] {
        println!("  {p}% in {:.4} secs.", pct(p));
    }
}
