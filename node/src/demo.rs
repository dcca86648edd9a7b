//! `etcdlab demo`: the visualizer without a lab. The page finds no lab behind it and runs the
//! simulator in the browser (`etcdlab_core::sim`), so its built files are a static site:
//!
//! - `etcdlab demo --export DIR` writes them into DIR, for any static file server;
//! - `etcdlab demo` serves them on 127.0.0.1 (`--addr`) and prints the address;
//! - `etcdlab demo --digest --seed N --scenario S` prints the digest of the run the page shows
//!   for that seed and scenario (its events up to a fixed virtual time), computed natively:
//!   the browser test compares the two to check that wasm runs a seed exactly as native code;
//! - `etcdlab demo --bench [--members 5] [--seconds 60]` times the simulator on a steady
//!   replication workload (`etcdlab_core::sim::bench`), as the page does with `?demo&bench=5`.

use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{ArgGroup, Parser};
use etcdlab_core::sim::bench::{self, BenchParams, BenchReport};
use etcdlab_core::sim::digest::{DEMO_DIGEST_AT_MS, scenario_digest};
use etcdlab_core::sim::scenario;

use crate::viz_assets::ASSETS;

/// The file an export leaves in its folder, so a later export may overwrite it (and only it).
const EXPORT_MARKER: &str = ".etcdlab-demo";

/// `etcdlab demo`: the visualizer running a simulated cluster in the page.
#[derive(Parser, Debug)]
#[command(name = "etcdlab demo", group(ArgGroup::new("run").args(["digest", "bench"])))]
pub struct DemoFlags {
    /// Write the static site into this folder (created if missing; it must be empty or a
    /// previous export) instead of serving it.
    #[arg(long, value_name = "DIR", conflicts_with = "run")]
    pub export: Option<std::path::PathBuf>,
    /// Print the digest of the page's run for --seed and --scenario instead of serving.
    #[arg(long)]
    pub digest: bool,
    /// Run the simulator as fast as it goes on a steady replication workload (a put every
    /// 100 ms of virtual time) and print virtual and wall time, the speed-up and events/s.
    #[arg(long)]
    pub bench: bool,
    /// Members of the benchmark's cluster (1 to 7).
    #[arg(long, default_value_t = 5, requires = "bench")]
    pub members: usize,
    /// Virtual seconds the benchmark simulates (1 to 3600).
    #[arg(long, default_value_t = bench::DEFAULT_SECONDS, requires = "bench")]
    pub seconds: u64,
    /// The run's seed (with --digest or --bench).
    #[arg(long, default_value_t = 1, requires = "run")]
    pub seed: u64,
    /// The run's scenario (with --digest): a built-in one or `random`.
    #[arg(long, default_value = "normal_replication", requires = "digest")]
    pub scenario: String,
    /// Address to serve the page on.
    #[arg(long, default_value = "127.0.0.1:8390")]
    pub addr: SocketAddr,
}

pub fn main(args: Vec<OsString>) -> ExitCode {
    let flags = match crate::tool::parse::<DemoFlags>(args) {
        Ok(flags) => flags,
        Err(code) => return code,
    };
    let done = if let Some(dir) = &flags.export {
        export(dir).map(|files| println!("wrote {files} files to {}", dir.display()))
    } else if flags.digest {
        scenario::named(&flags.scenario, flags.seed)
            .map_err(anyhow::Error::msg)
            .map(|s| println!("{}", scenario_digest(&s, flags.seed, DEMO_DIGEST_AT_MS)))
    } else if flags.bench {
        bench_report(&flags).map(|report| println!("{report}"))
    } else {
        return crate::tool::run("etcdlab demo", serve(flags.addr));
    };
    match done {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("etcdlab demo: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Times the simulator on the benchmark workload the flags describe.
fn bench_report(flags: &DemoFlags) -> anyhow::Result<BenchReport> {
    let params =
        BenchParams::new(flags.members, flags.seconds, flags.seed).map_err(anyhow::Error::msg)?;
    let clock = std::time::Instant::now();
    Ok(bench::run(params, || {
        clock.elapsed().as_secs_f64() * 1_000.0
    }))
}

/// Writes the page's files into `dir`; returns how many.
pub fn export(dir: &Path) -> anyhow::Result<usize> {
    let listing = match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .map(|e| e.map(|e| e.file_name()))
            .collect::<Result<Vec<_>, _>>()
            .with_context(|| format!("reading {}", dir.display()))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(e).with_context(|| format!("reading {}", dir.display())),
    };
    if !listing.is_empty() && !listing.iter().any(|name| name == EXPORT_MARKER) {
        bail!(
            "{} is not empty and not a previous export (no {EXPORT_MARKER} in it): give an empty or new folder",
            dir.display()
        );
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    for asset in ASSETS {
        let name = match asset.path.trim_start_matches('/') {
            "" => "index.html",
            name => name,
        };
        let path = dir.join(name);
        std::fs::write(&path, asset.bytes)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    let marker = dir.join(EXPORT_MARKER);
    std::fs::write(&marker, "written by `etcdlab demo --export`\n")
        .with_context(|| format!("writing {}", marker.display()))?;
    Ok(ASSETS.len())
}

async fn serve(addr: SocketAddr) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("listening on {addr}"))?;
    println!("etcdlab demo: open http://{addr}/ (a simulated cluster in the page; Ctrl-C stops)");
    axum::serve(listener, crate::viz_assets::router::<()>())
        .with_graceful_shutdown(crate::server::shutdown_signal())
        .await
        .context("serving the demo")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags(args: &[&str]) -> Result<DemoFlags, clap::Error> {
        DemoFlags::try_parse_from(["etcdlab demo"].iter().chain(args))
    }

    #[test]
    fn the_benchmark_reports_its_fields_and_refuses_bad_parameters() {
        let small = flags(&["--bench", "--members", "3", "--seconds", "2", "--seed", "4"]);
        let report = bench_report(&small.unwrap()).unwrap();
        assert_eq!((report.members, report.sim_ms), (3, 2_000));
        let line = report.to_string();
        for field in [
            "sim_s=2.0",
            "wall_s=",
            "speedup=",
            "events=",
            "events_per_s=",
        ] {
            assert!(line.contains(field), "{line}");
        }

        let too_many = bench_report(&flags(&["--bench", "--members", "8"]).unwrap());
        assert!(too_many.unwrap_err().to_string().contains("1 to 7 members"));
        // The benchmark's flags without --bench, or with another run, are refused.
        assert!(flags(&["--members", "3"]).is_err());
        assert!(flags(&["--seed", "3"]).is_err());
        assert!(flags(&["--bench", "--digest"]).is_err());
        assert!(flags(&["--bench", "--export", "site"]).is_err());
        assert!(flags(&["--bench", "--seconds", "ten"]).is_err());
    }

    #[test]
    fn export_writes_the_page_and_refuses_a_foreign_folder() {
        let dir = tempfile::tempdir().unwrap();
        let site = dir.path().join("site");
        assert_eq!(export(&site).unwrap(), ASSETS.len());
        let page = std::fs::read(site.join("index.html")).unwrap();
        assert_eq!(page, ASSETS[0].bytes);
        for file in [
            "etcdlab-viz.js",
            "etcdlab-viz_bg.wasm",
            "etcdlab-sim_loader.js",
            "etcdlab-sim.js",
            "etcdlab-sim_bg.wasm",
            "style.css",
        ] {
            assert!(site.join(file).exists(), "{file} not exported");
        }
        // A previous export is overwritten.
        assert_eq!(export(&site).unwrap(), ASSETS.len());

        let foreign = dir.path().join("foreign");
        std::fs::create_dir(&foreign).unwrap();
        std::fs::write(foreign.join("notes.txt"), "mine").unwrap();
        let error = export(&foreign).unwrap_err().to_string();
        assert!(error.contains("not a previous export"), "{error}");
        assert!(!foreign.join("index.html").exists());
    }
}
