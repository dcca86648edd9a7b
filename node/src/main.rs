//! `etcdlab`: one binary that is an etcd-compatible member, an etcdctl-compatible client,
//! etcdutl's snapshot tools, a benchmark and a Raft lab.
//!
//! A tour of the modules:
//! - [`rpc`]: gRPC stubs for etcd's v3 services over the wire types of `etcdlab_core::proto`.
//! - [`server`]: `etcdlab etcd` — etcd's flags, the member's host loop (timer, storage, peers)
//!   around the sans-IO `etcdlab_core::Member`, and one module per gRPC service.
//! - [`ctl`]: `etcdlab ctl` — etcdctl v3 syntax and output formats, one module per command group.
//! - [`utl`]: `etcdlab utl` — snapshot status and restore, over the file format of [`snapshot`].
//! - [`bench`]: `etcdlab bench` — put/range/txn, watch fan-out and lease churn load with latency
//!   percentiles.
//! - [`certs`]: `etcdlab certs init` — a CA and member/client certificates for TLS clusters.
//! - [`lab`]: `etcdlab lab` — a local cluster of member processes, its control API and page.
//! - [`lesson`]: `etcdlab lesson` — guided lessons against the lab, instructor mode, verify.
//! - [`events_cli`]: `etcdlab events` — Raft events of a lab or of members as a terminal timeline.
//! - [`viz`]: `etcdlab viz` — the lab's visualizer and API over a cluster it did not start.
//! - [`viz_assets`]: the visualizer's built files, embedded and served by the lab and viz.
//! - [`demo`]: `etcdlab demo` — those files as a static site whose page simulates a cluster.
//!
//! How a write moves: `ctl put` → gRPC `KV.Put` ([`server::kv`]) → the member loop
//! ([`server::member_loop`]) proposes it to Raft → the core persists, replicates, commits and
//! applies it to the MVCC store in one redb transaction → the loop answers the waiting request.
//!
//! Invoked through a link named `etcd`, `etcdctl` or `etcdutl`, the binary behaves as
//! `etcdlab etcd`, `etcdlab ctl` or `etcdlab utl`, so course commands can be typed verbatim.

mod bench;
mod certs;
mod ctl;
mod demo;
mod events_cli;
mod lab;
mod lesson;
mod line_stream;
mod rpc;
mod server;
mod snapshot;
mod tls;
mod tool;
mod utl;
mod viz;
mod viz_assets;

/// mimalloc instead of glibc's allocator: a member allocates per request and per message on
/// many threads, where glibc's arenas cost about a sixth of a write's CPU time.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::ffi::OsString;
use std::path::Path;
use std::process::ExitCode;

const USAGE: &str = "\
etcdlab: an etcd-compatible member, an etcdctl-compatible client and a Raft lab in one binary

Usage:
  etcdlab etcd [etcd flags]     run one etcd member (see `etcdlab etcd --help`)
  etcdlab ctl  [etcdctl args]   etcdctl v3 client (see `etcdlab ctl --help`)
  etcdlab utl  snapshot status|restore   offline snapshot tools (etcdutl syntax)
  etcdlab lab  [--size 3]       a local cluster to learn and break (see `etcdlab lab --help`)
  etcdlab lesson list|start N   guided lessons checked against the lab (see `etcdlab lesson --help`)
  etcdlab events [--lab URL]    Raft events as a timeline (see `etcdlab events --help`)
  etcdlab viz --endpoints URL   the lab's visualizer for any cluster of ours (see `etcdlab viz --help`)
  etcdlab demo [--export DIR]   the visualizer on a cluster simulated in the page (no lab)
  etcdlab bench put|range|txn|watch|lease   load for etcd v3 endpoints, ours or real etcd
  etcdlab certs init --dir DIR --hosts H,...   a CA and certificates for a TLS cluster
  etcdlab version               print the version

Linked or copied under the names etcd, etcdctl or etcdutl, the binary acts as that tool.";

fn main() -> ExitCode {
    let mut args: Vec<OsString> = std::env::args_os().collect();
    let invoked_as = args
        .first()
        .and_then(|a| Path::new(a).file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tool = match invoked_as.as_str() {
        "etcd" | "etcdctl" | "etcdutl" => invoked_as,
        _ => {
            args.remove(0);
            match args.first().map(|a| a.to_string_lossy().into_owned()) {
                Some(sub)
                    if matches!(
                        sub.as_str(),
                        "etcd"
                            | "ctl"
                            | "utl"
                            | "lab"
                            | "lesson"
                            | "bench"
                            | "events"
                            | "viz"
                            | "certs"
                            | "demo"
                    ) =>
                {
                    sub
                }
                Some(sub) if sub == "version" || sub == "--version" => {
                    println!("etcdlab {}", env!("CARGO_PKG_VERSION"));
                    return ExitCode::SUCCESS;
                }
                Some(sub) if sub == "help" || sub == "--help" || sub == "-h" => {
                    println!("{USAGE}");
                    return ExitCode::SUCCESS;
                }
                Some(sub) => {
                    eprintln!("etcdlab: unknown command {sub:?}\n\n{USAGE}");
                    return ExitCode::from(2);
                }
                None => {
                    eprintln!("{USAGE}");
                    return ExitCode::from(2);
                }
            }
        }
    };
    // `args` now starts with the program name clap should show (etcd / etcdctl / ctl ...).
    match tool.as_str() {
        "etcd" => server::main(args),
        "etcdctl" | "ctl" => ctl::main(args),
        "lab" => lab::main(args),
        "lesson" => lesson::main(args),
        "bench" => bench::main(args),
        "events" => events_cli::main(args),
        "viz" => viz::main(args),
        "certs" => certs::main(args),
        "demo" => demo::main(args),
        _ => utl::main(args),
    }
}
