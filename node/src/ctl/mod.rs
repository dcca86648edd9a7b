//! `etcdlab ctl`: the etcdctl v3 client, with etcdctl 3.4's syntax, output formats, messages
//! and exit codes, so course commands and scripts behave the same with either binary.
//!
//! [`global`] holds the global flags and the connection, [`kv`] get/put/del/compaction,
//! [`txn`] the txn mini-language, [`cluster`] endpoint, member, alarm and version commands,
//! [`print`] the output formats, [`v2`] what `ETCDCTL_API=2` users are told.

mod cluster;
mod global;
mod kv;
pub mod print;
mod txn;
mod v2;

use std::ffi::OsString;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use self::global::GlobalArgs;

/// etcdctl's exit codes.
pub mod exit {
    pub const ERROR: u8 = 1;
    pub const INVALID_INPUT: u8 = 3;
    pub const BAD_FEATURE: u8 = 4;
    pub const BAD_ARGS: u8 = 128;
}

/// A failed command: the message etcdctl prints after `Error: ` and its exit code.
#[derive(Debug)]
pub struct CtlError {
    pub code: u8,
    pub message: String,
}

impl CtlError {
    pub fn new(code: u8, message: impl Into<String>) -> CtlError {
        CtlError {
            code,
            message: message.into(),
        }
    }

    /// A failed gRPC call: the server's message, as etcdctl shows it.
    pub fn rpc(status: tonic::Status) -> CtlError {
        let message = match status.code() {
            tonic::Code::DeadlineExceeded => "context deadline exceeded".to_string(),
            _ => status.message().to_string(),
        };
        CtlError::new(exit::ERROR, message)
    }
}

pub type CtlResult = Result<(), CtlError>;

#[derive(Parser, Debug)]
#[command(
    name = "etcdctl",
    about = "A simple command line client for etcd3 (etcdlab's etcdctl).",
    version = "3.4.23",
    disable_version_flag = true
)]
struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Gets the key or a range of keys
    Get(kv::GetArgs),
    /// Puts the given key into the store
    Put(kv::PutArgs),
    /// Removes the specified key or range of keys [key, range_end)
    Del(kv::DelArgs),
    /// Txn processes all the requests in one transaction
    Txn(txn::TxnArgs),
    /// Compacts the event history in etcd
    Compaction(kv::CompactionArgs),
    /// Endpoint related commands
    Endpoint {
        #[command(subcommand)]
        command: cluster::EndpointCommand,
    },
    /// Membership related commands
    Member {
        #[command(subcommand)]
        command: cluster::MemberCommand,
    },
    /// Alarm related commands
    Alarm {
        #[command(subcommand)]
        command: cluster::AlarmCommand,
    },
    /// Manages etcd node snapshots
    Snapshot {
        #[command(subcommand)]
        command: kv::SnapshotCommand,
    },
    /// Transfers leadership to another etcd cluster member.
    MoveLeader { target: Vec<String> },
    /// Prints the version of etcdctl
    Version,
}

/// Entry point of `etcdlab ctl` (and of the binary invoked as `etcdctl`).
pub fn main(args: Vec<OsString>) -> ExitCode {
    if std::env::var("ETCDCTL_API").is_ok_and(|v| v.trim() == "2") {
        return v2::explain(&args);
    }
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            // etcdctl (cobra) reports unknown flags as `Error: unknown flag: --x`, exit 1.
            match (e.kind(), e.get(clap::error::ContextKind::InvalidArg)) {
                (clap::error::ErrorKind::UnknownArgument, Some(arg)) => {
                    eprintln!("Error: unknown flag: {arg}")
                }
                _ => {
                    let _ = e.print();
                }
            }
            return ExitCode::from(exit::ERROR);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("Error: {e}");
            return ExitCode::from(exit::ERROR);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("Error: {}", e.message);
            ExitCode::from(e.code)
        }
    }
}

async fn run(cli: Cli) -> CtlResult {
    let g = &cli.global;
    match cli.command {
        Command::Version => {
            println!("etcdctl version: 3.4.23\nAPI version: 3.4");
            Ok(())
        }
        Command::Get(a) => kv::get(g, a).await,
        Command::Put(a) => kv::put(g, a).await,
        Command::Del(a) => kv::del(g, a).await,
        Command::Compaction(a) => kv::compaction(g, a).await,
        Command::Snapshot { command } => kv::snapshot(g, command).await,
        Command::Txn(a) => txn::run(g, a).await,
        Command::Endpoint { command } => cluster::endpoint(g, command).await,
        Command::Member { command } => cluster::member(g, command).await,
        Command::Alarm { command } => cluster::alarm(g, command).await,
        Command::MoveLeader { target } => cluster::move_leader(g, &target).await,
    }
}
