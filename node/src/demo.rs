//! `etcdlab demo`: the visualizer without a lab. The page finds no lab behind it and runs the
//! simulator in the browser (`etcdlab_core::sim`), so its built files are a static site:
//!
//! - `etcdlab demo --export DIR` writes them into DIR, for any static file server;
//! - `etcdlab demo` serves them on 127.0.0.1 (`--addr`) and prints the address;
//! - `etcdlab demo --digest --seed N --scenario S` prints the digest of the run the page shows
//!   for that seed and scenario (its events up to a fixed virtual time), computed natively:
//!   the browser test compares the two to check that wasm runs a seed exactly as native code.

use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::Parser;
use etcdlab_core::sim::digest::{DEMO_DIGEST_AT_MS, scenario_digest};
use etcdlab_core::sim::scenario;

use crate::viz_assets::ASSETS;

/// The file an export leaves in its folder, so a later export may overwrite it (and only it).
const EXPORT_MARKER: &str = ".etcdlab-demo";

/// `etcdlab demo`: the visualizer running a simulated cluster in the page.
#[derive(Parser, Debug)]
#[command(name = "etcdlab demo")]
pub struct DemoFlags {
    /// Write the static site into this folder (created if missing; it must be empty or a
    /// previous export) instead of serving it.
    #[arg(long, value_name = "DIR", conflicts_with = "digest")]
    pub export: Option<std::path::PathBuf>,
    /// Print the digest of the page's run for --seed and --scenario instead of serving.
    #[arg(long)]
    pub digest: bool,
    /// The run's seed (with --digest).
    #[arg(long, default_value_t = 1, requires = "digest")]
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

    #[test]
    fn export_writes_the_page_and_refuses_a_foreign_folder() {
        let dir = tempfile::tempdir().unwrap();
        let site = dir.path().join("site");
        assert_eq!(export(&site).unwrap(), ASSETS.len());
        let page = std::fs::read(site.join("index.html")).unwrap();
        assert_eq!(page, ASSETS[0].bytes);
        assert!(site.join("etcdlab-viz_bg.wasm").exists());
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
