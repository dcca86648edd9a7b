//! The Maintenance service's commands: `alarm list|disarm`, `move-leader` (find the leader
//! among the endpoints, ask it to hand over) and `snapshot save` (stream the backend into a
//! file); `snapshot status|restore` work offline on a file, through [`crate::utl`].

use clap::{Args, FromArgMatches};
use etcdlab_core::proto::etcdserverpb::alarm_request::AlarmAction;
use etcdlab_core::proto::etcdserverpb::{
    AlarmRequest, MoveLeaderRequest, SnapshotRequest, SnapshotResponse, StatusRequest,
};

use super::cli::{Command, Flag, Invocation, Kind};
use super::global::{COMMAND_TIMEOUT, Global};
use super::print::{Report, stdout};
use super::{CtlError, CtlResult, exit, gotext};
use crate::rpc::etcdserverpb::maintenance_client::MaintenanceClient;
use crate::utl::{RestoreArgs, SnapshotCommand};

pub static ALARM: Command = Command::new("alarm <subcommand>", "Alarm related commands")
    .subcommands(&[&ALARM_DISARM, &ALARM_LIST]);

static ALARM_DISARM: Command = Command::new("disarm", "Disarms all alarms")
    .run(|inv| Box::pin(alarm(inv, "disarm", AlarmAction::Deactivate)));

static ALARM_LIST: Command = Command::new("list", "Lists all alarms")
    .run(|inv| Box::pin(alarm(inv, "list", AlarmAction::Get)));

pub static MOVE_LEADER: Command = Command::new(
    "move-leader <transferee-member-id>",
    "Transfers leadership to another etcd cluster member.",
)
.run(|inv| Box::pin(move_leader(inv)));

pub static SNAPSHOT: Command = Command::new("snapshot <subcommand>", "Manages etcd node snapshots")
    .subcommands(&[&SNAPSHOT_RESTORE, &SNAPSHOT_SAVE, &SNAPSHOT_STATUS]);

static SNAPSHOT_SAVE: Command = Command::new(
    "save <filename>",
    "Stores an etcd node backend snapshot to a given file",
)
.run(|inv| Box::pin(snapshot_save(inv)));

static SNAPSHOT_STATUS: Command = Command::new(
    "status <filename>",
    "Gets backend snapshot status of a given file",
)
.long(
    "When --write-out is set to simple, this command prints out comma-separated status lists for each endpoint.
The items in the lists are hash, revision, total keys, total size.
",
)
.run(|inv| Box::pin(snapshot_status(inv)));

const DATA_DIR: Flag = Flag::new("data-dir", Kind::Text, "", "Path to the data directory");
const WAL_DIR: Flag = Flag::new(
    "wal-dir",
    Kind::Text,
    "",
    "Path to the WAL directory (use --data-dir if none given)",
);
const RESTORE_FLAGS: &[Flag] = &[
    DATA_DIR,
    WAL_DIR,
    Flag::new(
        "initial-cluster",
        Kind::Text,
        "default=http://localhost:2380",
        "Initial cluster configuration for restore bootstrap",
    ),
    Flag::new(
        "initial-cluster-token",
        Kind::Text,
        "etcd-cluster",
        "Initial cluster token for the etcd cluster during restore bootstrap",
    ),
    Flag::new(
        "initial-advertise-peer-urls",
        Kind::Text,
        "http://localhost:2380",
        "List of this member's peer URLs to advertise to the rest of the cluster",
    ),
    Flag::new(
        "name",
        Kind::Text,
        "default",
        "Human-readable name for this member",
    ),
    Flag::switch(
        "skip-hash-check",
        "Ignore snapshot integrity hash value (required if copied from data directory)",
    ),
];

static SNAPSHOT_RESTORE: Command = Command::new(
    "restore <filename> [options]",
    "Restores an etcd member snapshot to an etcd directory",
)
.flags(RESTORE_FLAGS)
.run(|inv| Box::pin(snapshot_restore(inv)));

async fn alarm(inv: Invocation, name: &str, action: AlarmAction) -> CtlResult {
    if !inv.args.is_empty() {
        return Err(CtlError::bad_args(format!(
            "alarm {name} command accepts no arguments"
        )));
    }
    let g = Global::from(&inv)?;
    let request = AlarmRequest {
        action: action as i32,
        ..Default::default()
    };
    let response = g
        .client()?
        .request(async |channel| MaintenanceClient::new(channel).alarm(request).await)
        .await?;
    g.printer().print(&Report::Alarm(&response))
}

async fn move_leader(inv: Invocation) -> CtlResult {
    let [target] = inv.args.as_slice() else {
        return Err(CtlError::bad_args("move-leader command needs 1 argument"));
    };
    let target = gotext::parse_uint(target, 16).map_err(CtlError::bad_args)?;
    let g = Global::from(&inv)?;
    // etcdctl makes a client of all endpoints first, failing as that would.
    g.client()?;
    for endpoint in &g.endpoints {
        let client = g.client_of(vec![endpoint.clone()])?;
        let status = client
            .request(async |channel| {
                MaintenanceClient::new(channel)
                    .status(StatusRequest {})
                    .await
            })
            .await?;
        let member_id = status.header.as_ref().map_or(0, |h| h.member_id);
        if member_id != status.leader {
            continue;
        }
        let response = client
            .request(async |channel| {
                MaintenanceClient::new(channel)
                    .move_leader(MoveLeaderRequest { target_id: target })
                    .await
            })
            .await?;
        return g.printer().print(&Report::MoveLeader {
            leader: member_id,
            target,
            response: &response,
        });
    }
    Err(CtlError::bad_args(format!(
        "no leader endpoint given at {}",
        gotext::string_list(&g.endpoints)
    )))
}

/// Streams the backend into `<file>.part`, then renames it into place. As in etcdctl the
/// download has no time limit unless `--command-timeout` is given; connecting always has.
async fn snapshot_save(inv: Invocation) -> CtlResult {
    let [file] = inv.args.as_slice() else {
        return Err(CtlError::bad_args("snapshot save expects one argument"));
    };
    let g = Global::from(&inv)?;
    let client = g.client()?;
    if g.endpoints.len() != 1 {
        return Err(CtlError::new(
            exit::INTERRUPTED,
            format!(
                "snapshot must be requested to one selected node, not multiple {}",
                gotext::string_list(&g.endpoints)
            ),
        ));
    }
    let stream = client
        .request(async |channel| {
            MaintenanceClient::new(channel)
                .snapshot(SnapshotRequest {})
                .await
        })
        .await?;
    let download = download(stream, file);
    if inv.changed(&COMMAND_TIMEOUT) {
        tokio::time::timeout(inv.duration(&COMMAND_TIMEOUT), download)
            .await
            .unwrap_or_else(|_| Err(CtlError::deadline_exceeded()))
    } else {
        download.await
    }
    .map_err(|e| CtlError::new(exit::INTERRUPTED, e.message))?;
    stdout(format!("Snapshot saved at {file}\n").as_bytes());
    Ok(())
}

async fn download(mut stream: tonic::Streaming<SnapshotResponse>, file: &str) -> CtlResult {
    let part = format!("{file}.part");
    let io = |e: std::io::Error| CtlError::new(exit::ERROR, format!("could not write {part}: {e}"));
    let mut out = std::fs::File::create(&part).map_err(io)?;
    loop {
        match stream.message().await {
            Ok(Some(chunk)) => std::io::Write::write_all(&mut out, &chunk.blob).map_err(io)?,
            Ok(None) => break,
            Err(status) => {
                let _ = std::fs::remove_file(&part);
                return Err(CtlError::rpc(status));
            }
        }
    }
    out.sync_all().map_err(io)?;
    std::fs::rename(&part, file).map_err(io)
}

fn offline(command: SnapshotCommand) -> CtlResult {
    crate::utl::run_snapshot(command).map_err(|e| CtlError::new(exit::ERROR, format!("{e:#}")))
}

async fn snapshot_status(inv: Invocation) -> CtlResult {
    let [file] = inv.args.as_slice() else {
        return Err(CtlError::bad_args(
            "snapshot status requires exactly one argument",
        ));
    };
    let g = Global::from(&inv)?;
    offline(SnapshotCommand::Status {
        file: file.into(),
        write_out: g.format,
    })
}

/// Hands the restore to `etcdutl snapshot restore`, with the flags this command line gave.
async fn snapshot_restore(inv: Invocation) -> CtlResult {
    let [file] = inv.args.as_slice() else {
        return Err(CtlError::bad_args(
            "snapshot restore requires exactly one argument",
        ));
    };
    if !inv.text(&WAL_DIR).is_empty() {
        return Err(CtlError::new(
            exit::BAD_FEATURE,
            "--wal-dir is not supported by etcdlab's snapshot restore: the restored member writes no journal until it starts; start it with --wal-dir to keep its journal there",
        ));
    }
    let mut argv = vec!["restore".to_string(), file.clone()];
    for flag in RESTORE_FLAGS.iter().filter(|f| inv.changed(f)) {
        match flag.kind {
            Kind::Bool if inv.bool(flag) => argv.push(format!("--{}", flag.name)),
            Kind::Bool => {}
            _ => argv.push(format!("--{}={}", flag.name, inv.text(flag))),
        }
    }
    let matches = RestoreArgs::augment_args(clap::Command::new("restore"))
        .try_get_matches_from(argv)
        .map_err(|e| CtlError::bad_args(e.to_string()))?;
    let args =
        RestoreArgs::from_arg_matches(&matches).map_err(|e| CtlError::bad_args(e.to_string()))?;
    offline(SnapshotCommand::Restore(args))
}
