//! `etcdlab utl` (also the binary invoked as `etcdutl`, and `ctl snapshot status|restore`):
//! offline tools on snapshot files, with etcdutl's syntax.
//!
//! `snapshot status FILE` prints the hash, revision, key count and size; `snapshot restore
//! FILE --data-dir ... --name ... --initial-cluster ...` makes the data dir of a new cluster's
//! member holding the snapshot's key space, with ids derived from the new flags.

use std::ffi::OsString;
use std::fs;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use etcdlab_core::Member;

use crate::ctl::print::{Format, humanize_bytes, table};
use crate::server::config::EtcdFlags;
use crate::{server, snapshot};

#[derive(Parser, Debug)]
#[command(
    name = "etcdutl",
    about = "Offline tools for etcdlab data: snapshot status and restore."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Manages etcdlab snapshot files
    Snapshot {
        #[command(subcommand)]
        command: SnapshotCommand,
    },
}

#[derive(Subcommand, Debug)]
pub enum SnapshotCommand {
    /// Gets backend snapshot status of a given file
    Status {
        file: PathBuf,
        /// set the output format (simple, table, json)
        #[arg(short = 'w', long = "write-out", default_value = "simple")]
        write_out: Format,
    },
    /// Restores an etcdlab member snapshot to a data directory for a new cluster
    Restore(RestoreArgs),
}

#[derive(clap::Args, Debug)]
pub struct RestoreArgs {
    pub file: PathBuf,
    /// Path to the data directory (default: ${name}.etcd)
    #[arg(long = "data-dir")]
    data_dir: Option<PathBuf>,
    /// Human-readable name for this member
    #[arg(long, default_value = "default")]
    name: String,
    /// Initial cluster configuration for restore bootstrap
    #[arg(
        long = "initial-cluster",
        default_value = "default=http://localhost:2380"
    )]
    initial_cluster: String,
    /// Initial cluster token for the etcd cluster during restore bootstrap
    #[arg(long = "initial-cluster-token", default_value = "etcd-cluster")]
    initial_cluster_token: String,
    /// List of this member's peer URLs to advertise to the rest of the cluster
    #[arg(
        long = "initial-advertise-peer-urls",
        default_value = "http://localhost:2380"
    )]
    initial_advertise_peer_urls: String,
    /// Ignore snapshot integrity hash value (required if copied from data directory)
    #[arg(long = "skip-hash-check")]
    skip_hash_check: bool,
}

pub fn main(args: Vec<OsString>) -> ExitCode {
    let cli = match crate::tool::parse::<Cli>(args) {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    let Command::Snapshot { command } = cli.command;
    finish(run_snapshot(command))
}

/// Prints an error the way etcdutl does and picks the exit code.
pub fn finish(result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("Error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

pub fn run_snapshot(command: SnapshotCommand) -> anyhow::Result<()> {
    match command {
        SnapshotCommand::Status { file, write_out } => status(&file, write_out),
        SnapshotCommand::Restore(args) => restore(args),
    }
}

fn status(file: &std::path::Path, format: Format) -> anyhow::Result<()> {
    let snap = snapshot::open(file, false)?;
    let (revision, keys) = snapshot::contents(&snap)?;
    let row = vec![
        format!("{:x}", snap.crc),
        revision.to_string(),
        keys.to_string(),
        humanize_bytes(snap.size),
    ];
    match format {
        Format::Table => print!(
            "{}",
            table(&["hash", "revision", "total keys", "total size"], &[row])
        ),
        Format::Json => println!(
            "{}",
            serde_json::json!({"hash": snap.crc, "revision": revision, "totalKey": keys, "totalSize": snap.size})
        ),
        _ => println!("{}", row.join(", ")),
    }
    Ok(())
}

fn restore(a: RestoreArgs) -> anyhow::Result<()> {
    let data_dir = a
        .data_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("{}.etcd", a.name)));
    if data_dir.exists() {
        bail!("data-dir {:?} exists", data_dir.display().to_string());
    }
    // The new member's identity comes from the same flags `etcd` would take.
    let flags = EtcdFlags::try_parse_from([
        "etcd",
        "--name",
        &a.name,
        "--data-dir",
        &data_dir.to_string_lossy(),
        "--initial-cluster",
        &a.initial_cluster,
        "--initial-cluster-token",
        &a.initial_cluster_token,
        "--initial-advertise-peer-urls",
        &a.initial_advertise_peer_urls,
    ])?;
    let config = flags.into_config()?;
    let (member_config, bootstrap) = server::identity(&config);
    // The snapshot's database becomes the member's; opening it adds what a member needs.
    let db_path = server::data_dir::db_path(&data_dir);
    let db = fs::create_dir_all(db_path.parent().unwrap_or(&data_dir))
        .with_context(|| format!("cannot create data dir {}", data_dir.display()))
        .and_then(|()| snapshot::restore_to(&a.file, a.skip_hash_check, &db_path))
        .and_then(|()| server::data_dir::open(&data_dir, config.backend_cache_bytes));
    let db = match db {
        Ok(db) => db,
        Err(e) => {
            let _ = fs::remove_dir_all(&data_dir);
            return Err(e);
        }
    };
    Member::open(
        db,
        member_config,
        bootstrap,
        &server::raft_logging::logger(),
    )
    .context("writing the new member")?;
    println!(
        "restored snapshot {} into {}",
        a.file.display(),
        data_dir.display()
    );
    Ok(())
}
