//! `get`, `put`, `del`, `compaction` and `snapshot`: flags turned into etcd requests exactly
//! as etcdctl builds them (prefix and from-key ranges, sort defaults, the empty-key rules).

use clap::Args;
use etcdlab_core::proto::etcdserverpb::range_request::{SortOrder, SortTarget};
use etcdlab_core::proto::etcdserverpb::{
    CompactionRequest, DeleteRangeRequest, PutRequest, RangeRequest,
};
use std::io::Read;

use super::global::GlobalArgs;
use super::print::Printer;
use super::{CtlError, CtlResult, exit};
use crate::rpc::etcdserverpb::kv_client::KvClient;

#[derive(Args, Debug, Clone, Default)]
pub struct GetArgs {
    /// key [range_end]
    pub args: Vec<String>,
    /// Linearizable(l) or Serializable(s)
    #[arg(long, default_value = "l")]
    pub consistency: String,
    /// Order of results; ASCEND or DESCEND (ASCEND by default)
    #[arg(long, default_value = "")]
    pub order: String,
    /// Sort target; CREATE, KEY, MODIFY, VALUE, or VERSION
    #[arg(long = "sort-by", default_value = "")]
    pub sort_by: String,
    /// Maximum number of results
    #[arg(long, default_value_t = 0)]
    pub limit: i64,
    /// Get keys with matching prefix
    #[arg(long)]
    pub prefix: bool,
    /// Get keys that are greater than or equal to the given key using byte compare
    #[arg(long = "from-key")]
    pub from_key: bool,
    /// Specify the kv revision
    #[arg(long, default_value_t = 0)]
    pub rev: i64,
    /// Get only the keys
    #[arg(long = "keys-only")]
    pub keys_only: bool,
    /// Only write values when using the "simple" output format
    #[arg(long = "print-value-only")]
    pub print_value_only: bool,
}

#[derive(Args, Debug, Clone, Default)]
pub struct PutArgs {
    /// key [value] (the value may come from stdin)
    pub args: Vec<String>,
    /// lease ID (in hexadecimal) to attach to the key
    #[arg(long, default_value = "0")]
    pub lease: String,
    /// return the previous key-value pair before modification
    #[arg(long = "prev-kv")]
    pub prev_kv: bool,
    /// updates the key using its current value
    #[arg(long = "ignore-value")]
    pub ignore_value: bool,
    /// updates the key using its current lease
    #[arg(long = "ignore-lease")]
    pub ignore_lease: bool,
}

#[derive(Args, Debug, Clone, Default)]
pub struct DelArgs {
    /// key [range_end]
    pub args: Vec<String>,
    /// delete keys with matching prefix
    #[arg(long)]
    pub prefix: bool,
    /// return deleted key-value pairs
    #[arg(long = "prev-kv")]
    pub prev_kv: bool,
    /// delete keys that are greater than or equal to the given key using byte compare
    #[arg(long = "from-key")]
    pub from_key: bool,
}

#[derive(clap::Subcommand, Debug)]
pub enum SnapshotCommand {
    /// Stores an etcd node backend snapshot to a given file
    Save { file: Vec<String> },
    /// Gets backend snapshot status of a given file (as `etcdutl snapshot status`)
    Status { file: std::path::PathBuf },
    /// Restores a snapshot to a new data directory (as `etcdutl snapshot restore`)
    Restore(crate::utl::RestoreArgs),
}

#[derive(Args, Debug, Clone)]
pub struct CompactionArgs {
    /// revision
    pub revision: Option<String>,
    /// 'true' to wait for compaction to physically remove all old revisions
    #[arg(long)]
    pub physical: bool,
}

/// The smallest key after every key with `prefix` ("\0" when there is none), as clientv3 computes it.
pub fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    vec![0]
}

/// The key and range end of a `--prefix` / `--from-key` / explicit-range request.
fn key_range(
    key: &str,
    range_end: Option<&str>,
    prefix: bool,
    from_key: bool,
) -> (Vec<u8>, Vec<u8>) {
    let key = key.as_bytes().to_vec();
    if prefix {
        if key.is_empty() {
            return (vec![0], vec![0]);
        }
        let end = prefix_end(&key);
        return (key, end);
    }
    if from_key {
        return (if key.is_empty() { vec![0] } else { key }, vec![0]);
    }
    (
        key,
        range_end.map(|e| e.as_bytes().to_vec()).unwrap_or_default(),
    )
}

/// Builds a Range request from get's arguments, as etcdctl's `getGetOp`.
pub fn range_request(a: &GetArgs) -> Result<RangeRequest, CtlError> {
    let Some(key) = a.args.first() else {
        return Err(CtlError::new(
            exit::BAD_ARGS,
            "get command needs one argument as key and an optional argument as range_end",
        ));
    };
    if a.prefix && a.from_key {
        return Err(CtlError::new(
            exit::BAD_ARGS,
            "`--prefix` and `--from-key` cannot be set at the same time, choose one",
        ));
    }
    let serializable = match a.consistency.as_str() {
        "s" => true,
        "l" => false,
        other => {
            return Err(CtlError::new(
                exit::BAD_FEATURE,
                format!("unknown consistency flag {other:?}"),
            ));
        }
    };
    if a.args.len() > 1 && (a.prefix || a.from_key) {
        return Err(CtlError::new(
            exit::BAD_ARGS,
            "too many arguments, only accept one argument when `--prefix` or `--from-key` is set",
        ));
    }
    let order = match a.order.to_uppercase().as_str() {
        "ASCEND" => SortOrder::Ascend,
        "DESCEND" => SortOrder::Descend,
        "" => SortOrder::None,
        _ => {
            return Err(CtlError::new(
                exit::BAD_FEATURE,
                format!("bad sort order {}", a.order),
            ));
        }
    };
    let target = match a.sort_by.to_uppercase().as_str() {
        "CREATE" => SortTarget::Create,
        "KEY" | "" => SortTarget::Key,
        "MODIFY" => SortTarget::Mod,
        "VALUE" => SortTarget::Value,
        "VERSION" => SortTarget::Version,
        _ => {
            return Err(CtlError::new(
                exit::BAD_FEATURE,
                format!("bad sort target {}", a.sort_by),
            ));
        }
    };
    // clientv3 sends key-ascending as "no sort": that is the natural order.
    let order = if target == SortTarget::Key && order == SortOrder::Ascend {
        SortOrder::None
    } else {
        order
    };
    let (key, range_end) = key_range(key, a.args.get(1).map(String::as_str), a.prefix, a.from_key);
    Ok(RangeRequest {
        key,
        range_end,
        limit: a.limit,
        revision: a.rev.max(0),
        sort_order: order as i32,
        sort_target: target as i32,
        serializable,
        keys_only: a.keys_only,
        ..Default::default()
    })
}

/// Builds a Put request from put's arguments (`value` read from stdin when missing).
pub fn put_request(
    a: &PutArgs,
    stdin_value: impl FnOnce() -> Option<String>,
) -> Result<PutRequest, CtlError> {
    let (key, value) = match a.args.as_slice() {
        [key] if a.ignore_value => (key.clone(), String::new()),
        [key, value] => (key.clone(), value.clone()),
        [key] => match stdin_value() {
            Some(v) => (key.clone(), v),
            None => {
                return Err(CtlError::new(
                    exit::BAD_ARGS,
                    "put command needs 1 argument and input from stdin or 2 arguments",
                ));
            }
        },
        [] => {
            return Err(CtlError::new(
                exit::BAD_ARGS,
                "put command needs 1 argument and input from stdin or 2 arguments",
            ));
        }
        _ => {
            return Err(CtlError::new(
                exit::BAD_ARGS,
                "put command needs 1 argument and input from stdin or 2 arguments",
            ));
        }
    };
    let lease = i64::from_str_radix(&a.lease, 16).map_err(|e| {
        CtlError::new(
            exit::BAD_ARGS,
            format!("bad lease ID ({e}), expecting ID in Hex"),
        )
    })?;
    Ok(PutRequest {
        key: key.into_bytes(),
        value: value.into_bytes(),
        lease,
        prev_kv: a.prev_kv,
        ignore_value: a.ignore_value,
        ignore_lease: a.ignore_lease,
    })
}

/// Builds a DeleteRange request from del's arguments.
pub fn delete_request(a: &DelArgs) -> Result<DeleteRangeRequest, CtlError> {
    let Some(key) = a.args.first() else {
        return Err(CtlError::new(
            exit::BAD_ARGS,
            "del command needs one argument as key and an optional argument as range_end",
        ));
    };
    if a.prefix && a.from_key {
        return Err(CtlError::new(
            exit::BAD_ARGS,
            "`--prefix` and `--from-key` cannot be set at the same time, choose one",
        ));
    }
    if a.args.len() > 1 && (a.prefix || a.from_key) {
        return Err(CtlError::new(
            exit::BAD_ARGS,
            "too many arguments, only accept one argument when `--prefix` or `--from-key` is set",
        ));
    }
    let (key, range_end) = key_range(key, a.args.get(1).map(String::as_str), a.prefix, a.from_key);
    Ok(DeleteRangeRequest {
        key,
        range_end,
        prev_kv: a.prev_kv,
    })
}

fn printer(g: &GlobalArgs) -> Printer {
    Printer {
        format: g.write_out,
        hex: g.hex,
        value_only: false,
    }
}

pub async fn get(g: &GlobalArgs, a: GetArgs) -> CtlResult {
    let req = range_request(&a)?;
    let mut client = KvClient::new(g.connect().await?);
    let resp = client.range(req).await.map_err(CtlError::rpc)?.into_inner();
    let mut p = printer(g);
    if a.print_value_only {
        if !p.allows_value_only() {
            return Err(CtlError::new(
                exit::BAD_ARGS,
                "print-value-only is only for `--write-out=simple`",
            ));
        }
        p.value_only = true;
    }
    p.get(&resp)
}

pub async fn put(g: &GlobalArgs, a: PutArgs) -> CtlResult {
    let req = put_request(&a, || {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .ok()
            .filter(|_| !s.is_empty())
            .map(|_| s)
    })?;
    let mut client = KvClient::new(g.connect().await?);
    let resp = client.put(req).await.map_err(CtlError::rpc)?.into_inner();
    printer(g).put(&resp)
}

pub async fn del(g: &GlobalArgs, a: DelArgs) -> CtlResult {
    let req = delete_request(&a)?;
    let mut client = KvClient::new(g.connect().await?);
    let resp = client
        .delete_range(req)
        .await
        .map_err(CtlError::rpc)?
        .into_inner();
    printer(g).del(&resp)
}

pub async fn compaction(g: &GlobalArgs, a: CompactionArgs) -> CtlResult {
    let Some(rev) = a.revision else {
        return Err(CtlError::new(
            exit::BAD_ARGS,
            "compaction command needs 1 argument",
        ));
    };
    let revision: i64 = rev
        .parse()
        .map_err(|e| CtlError::new(exit::ERROR, format!("{e}")))?;
    let mut client = KvClient::new(g.connect().await?);
    client
        .compact(CompactionRequest {
            revision,
            physical: a.physical,
        })
        .await
        .map_err(CtlError::rpc)?;
    println!("compacted revision {revision}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_as_clientv3_builds_them() {
        assert_eq!(prefix_end(b"/a"), b"/b");
        assert_eq!(prefix_end(b"a\xff"), b"b");
        assert_eq!(prefix_end(b"\xff\xff"), vec![0]);
        let get = |args: &[&str], prefix, from_key| {
            let a = GetArgs {
                args: args.iter().map(|s| s.to_string()).collect(),
                prefix,
                from_key,
                consistency: "l".into(),
                ..Default::default()
            };
            let r = range_request(&a).unwrap();
            (r.key, r.range_end)
        };
        assert_eq!(get(&["/"], true, false), (b"/".to_vec(), b"0".to_vec()));
        assert_eq!(get(&[""], true, false), (vec![0], vec![0]));
        assert_eq!(get(&[""], false, true), (vec![0], vec![0]));
        assert_eq!(
            get(&["a", "c"], false, false),
            (b"a".to_vec(), b"c".to_vec())
        );
    }
}

pub async fn snapshot(g: &GlobalArgs, command: SnapshotCommand) -> CtlResult {
    let offline =
        |c| crate::utl::run_snapshot(c).map_err(|e| CtlError::new(exit::ERROR, format!("{e:#}")));
    match command {
        SnapshotCommand::Save { file } => {
            let [file] = file.as_slice() else {
                return Err(CtlError::new(
                    exit::BAD_ARGS,
                    "snapshot save expects one argument",
                ));
            };
            save_snapshot(g, file).await
        }
        SnapshotCommand::Status { file } => offline(crate::utl::SnapshotCommand::Status {
            file,
            write_out: g.write_out,
        }),
        SnapshotCommand::Restore(args) => offline(crate::utl::SnapshotCommand::Restore(args)),
    }
}

/// Streams a snapshot into `<file>.part`, then renames it into place.
async fn save_snapshot(g: &GlobalArgs, file: &str) -> CtlResult {
    let io = |e: std::io::Error| CtlError::new(exit::ERROR, format!("could not write {file}: {e}"));
    let channel = g.connect().await?;
    let mut client = crate::rpc::etcdserverpb::maintenance_client::MaintenanceClient::new(channel);
    let mut stream = client
        .snapshot(etcdlab_core::proto::etcdserverpb::SnapshotRequest {})
        .await
        .map_err(CtlError::rpc)?
        .into_inner();
    let part = format!("{file}.part");
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
    std::fs::rename(&part, file).map_err(io)?;
    println!("Snapshot saved at {file}");
    Ok(())
}
