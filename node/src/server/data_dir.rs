//! The member's data directory: `<data-dir>/member/etcdlab.redb`, one redb file holding the
//! Raft log, the key space and the member table, and beside it (or in `--wal-dir`) the Raft
//! journal `etcdlab.journal` ([`super::journal_file`]).
//!
//! Opening refuses what is not ours with a clear error instead of overwriting it: a path that
//! is a file, a real etcd member (its `member/wal` and `member/snap` with no redb file), a file
//! that is not a redb database, a directory we may not read or write, or a database in a
//! storage format newer than this build's. A database of storage format 1 (an older etcdlab)
//! is converted in place, in one write transaction ([`etcdlab_core::storage_format`]).

use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use etcdlab_core::storage_format::{self, Prepared};
use redb::Database;

pub const DB_FILE: &str = "etcdlab.redb";

/// The database's page cache by default, in MiB (`--experimental-backend-cache-mib`): enough for
/// the B-trees' inner pages and the hot keys; redb's own default (1 GiB) would keep a whole
/// key space of that size in the member's memory.
pub const DEFAULT_CACHE_MIB: usize = 16;

/// The path of the database file inside a data dir.
pub fn db_path(data_dir: &Path) -> PathBuf {
    data_dir.join("member").join(DB_FILE)
}

/// Whether the data dir already holds a member (so `--initial-cluster*` flags are ignored).
pub fn has_member(data_dir: &Path) -> bool {
    db_path(data_dir).is_file()
}

/// Opens (creating if needed) the member database in `data_dir`, with a page cache of
/// `cache_bytes`.
pub fn open(data_dir: &Path, cache_bytes: usize) -> anyhow::Result<Arc<Database>> {
    match fs::metadata(data_dir) {
        Ok(m) if !m.is_dir() => bail!(
            "--data-dir {} exists and is not a directory",
            data_dir.display()
        ),
        Ok(_) => {}
        Err(e) if e.kind() == ErrorKind::NotFound => {}
        Err(e) => bail!("cannot access --data-dir {}: {e}", data_dir.display()),
    }
    let member_dir = data_dir.join("member");
    let path = db_path(data_dir);
    if !path.exists() && (member_dir.join("wal").exists() || member_dir.join("snap").exists()) {
        bail!(
            "--data-dir {} holds a real etcd member (member/wal, member/snap), not an etcdlab one; \
             use a new directory, or restore an etcd snapshot file with `etcdlab utl snapshot restore`",
            data_dir.display()
        );
    }
    fs::create_dir_all(&member_dir)
        .with_context(|| format!("cannot create data dir {}", member_dir.display()))?;
    let mut builder = Database::builder();
    builder.set_cache_size(cache_bytes);
    let db = if path.exists() {
        builder.open(&path)
    } else {
        builder.create(&path)
    }
    .map_err(|e| describe_open_error(&path, e))?;
    match storage_format::prepare(&db).with_context(|| format!("{}", path.display()))? {
        Prepared::Migrated { from } => tracing::info!(
            "converted {} from storage format {from} to {}",
            path.display(),
            storage_format::CURRENT
        ),
        Prepared::New | Prepared::Current => {}
    }
    Ok(Arc::new(db))
}

fn describe_open_error(path: &Path, e: redb::DatabaseError) -> anyhow::Error {
    match e {
        redb::DatabaseError::DatabaseAlreadyOpen => anyhow::anyhow!(
            "{} is in use by another process (is another member running on this data dir?)",
            path.display()
        ),
        redb::DatabaseError::Storage(redb::StorageError::Io(io))
            if io.kind() == ErrorKind::PermissionDenied =>
        {
            anyhow::anyhow!("cannot open {}: permission denied", path.display())
        }
        other => anyhow::anyhow!(
            "{} is not a usable etcdlab database ({other}); is this the right --data-dir?",
            path.display()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CACHE: usize = DEFAULT_CACHE_MIB << 20;

    #[test]
    fn refuses_a_file_and_a_real_etcd_dir_and_garbage() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("file");
        fs::write(&file, b"x").unwrap();
        assert!(
            open(&file, CACHE)
                .unwrap_err()
                .to_string()
                .contains("not a directory")
        );

        let etcd_dir = tmp.path().join("etcd");
        fs::create_dir_all(etcd_dir.join("member/wal")).unwrap();
        assert!(
            open(&etcd_dir, CACHE)
                .unwrap_err()
                .to_string()
                .contains("real etcd member")
        );

        let garbage = tmp.path().join("garbage");
        fs::create_dir_all(garbage.join("member")).unwrap();
        fs::write(db_path(&garbage), vec![7u8; 8192]).unwrap();
        assert!(
            open(&garbage, CACHE)
                .unwrap_err()
                .to_string()
                .contains("not a usable etcdlab database")
        );
    }

    #[test]
    fn refuses_a_newer_storage_format_and_leaves_it_as_it_was() {
        let tmp = tempfile::tempdir().unwrap();
        drop(open(tmp.path(), CACHE).unwrap());
        // The highest format this build reads is a snapshot file's.
        let newer = etcdlab_core::storage_format::SNAPSHOT_FILE + 1;
        {
            let db = Database::open(db_path(tmp.path())).unwrap();
            let txn = db.begin_write().unwrap();
            let format: redb::TableDefinition<&[u8], &[u8]> =
                redb::TableDefinition::new("etcdlab_format");
            txn.open_table(format)
                .unwrap()
                .insert(&b"format"[..], &newer.to_be_bytes()[..])
                .unwrap();
            txn.commit().unwrap();
        }
        for _ in 0..2 {
            let error = format!("{:#}", open(tmp.path(), CACHE).unwrap_err());
            assert!(
                error.contains(&format!(
                    "storage format {newer}, written by a newer etcdlab"
                )),
                "{error}"
            );
        }
    }

    #[test]
    fn creates_then_reopens() {
        let tmp = tempfile::tempdir().unwrap();
        drop(open(tmp.path(), CACHE).unwrap());
        assert!(has_member(tmp.path()));
        drop(open(tmp.path(), CACHE).unwrap());
    }
}
