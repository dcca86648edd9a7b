//! Snapshot files: a redb database holding the key space, followed by the SHA-256 of those
//! bytes (as etcd appends one to its bbolt file), so a damaged or truncated file is refused
//! before anything is restored from it.
//!
//! Written by the server's `Maintenance.Snapshot` (which `ctl snapshot save` calls), read by
//! `utl snapshot status|restore`. A file records its storage format: this build writes format
//! 3, without the live keys, which opening the file rebuilds from history; one of format 1 or
//! 2 (an older etcdlab's) is converted when opened (in the temporary copy, never in the file).

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use etcdlab_core::crc32c::CRC32C;
use etcdlab_core::mvcc::MvccStore;
use etcdlab_core::storage_format;
use redb::{Database, ReadableDatabase};
use sha2::{Digest, Sha256};

const HASH_LEN: usize = 32;

/// Page cache of the database a snapshot is copied into: its pages go to the file as they
/// fill, so a large key space is not held in memory while it is copied.
const COPY_CACHE_BYTES: usize = 16 << 20;

/// A snapshot file of a member's key space, read out in pieces as it is sent: the database (a
/// temporary copy in a file without a name), then its SHA-256, computed on the way.
pub struct Snapshot {
    copy: fs::File,
    copy_len: u64,
    /// Bytes of the copy read out so far.
    read: u64,
    /// Until the hash has been read out.
    hasher: Option<Sha256>,
}

impl Snapshot {
    /// Copies `db`'s key space (a consistent read view) into a temporary file in `dir`.
    pub fn take(db: &Database, dir: &Path) -> anyhow::Result<Snapshot> {
        let path = dir.join(format!("snapshot-{}.tmp", rand_suffix()));
        let copy = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .with_context(|| format!("creating {}", path.display()))?;
        // Open, the copy needs no name: its space is freed when it is closed.
        let _ = fs::remove_file(&path);
        {
            let mut builder = Database::builder();
            builder.set_cache_size(COPY_CACHE_BYTES);
            let out = builder.create_with_backend(UnsyncedFile(copy.try_clone()?))?;
            let src = db.begin_read()?;
            let dst = out.begin_write()?;
            storage_format::record_snapshot_file(&dst)?;
            MvccStore::copy_into(&src, &dst).map_err(|e| anyhow::anyhow!("{e}"))?;
            dst.commit()?;
        }
        Ok(Snapshot {
            copy_len: copy.metadata()?.len(),
            copy,
            read: 0,
            hasher: Some(Sha256::new()),
        })
    }

    /// The whole file's length, hash included.
    pub fn len(&self) -> u64 {
        self.copy_len + HASH_LEN as u64
    }

    /// The next at most `max` bytes of the file; empty once it has all been read.
    pub fn read_piece(&mut self, max: usize) -> std::io::Result<Vec<u8>> {
        let left = self.copy_len - self.read;
        if left > 0 {
            let mut piece = vec![0; max.min(left as usize)];
            std::os::unix::fs::FileExt::read_exact_at(&self.copy, &mut piece, self.read)?;
            self.read += piece.len() as u64;
            if let Some(hasher) = &mut self.hasher {
                hasher.update(&piece);
            }
            return Ok(piece);
        }
        // The hash is sent whole, as its own piece (etcd sends its hash that way too).
        Ok(self
            .hasher
            .take()
            .map(|hasher| hasher.finalize().to_vec())
            .unwrap_or_default())
    }
}

/// The storage of a snapshot's temporary copy: a file whose syncs do nothing, since the copy
/// is read back at once and has no name a crash could leave behind.
#[derive(Debug)]
struct UnsyncedFile(fs::File);

impl redb::StorageBackend for UnsyncedFile {
    fn len(&self) -> std::io::Result<u64> {
        Ok(self.0.metadata()?.len())
    }

    fn read(&self, offset: u64, out: &mut [u8]) -> std::io::Result<()> {
        std::os::unix::fs::FileExt::read_exact_at(&self.0, out, offset)
    }

    fn set_len(&self, len: u64) -> std::io::Result<()> {
        self.0.set_len(len)
    }

    fn sync_data(&self) -> std::io::Result<()> {
        Ok(())
    }

    fn write(&self, offset: u64, data: &[u8]) -> std::io::Result<()> {
        std::os::unix::fs::FileExt::write_all_at(&self.0, data, offset)
    }
}

/// A snapshot file checked and opened: its key space in a database without the hash.
pub struct OpenSnapshot {
    pub db: Database,
    /// The database bytes' size and CRC-32C, for `snapshot status`.
    pub size: u64,
    pub crc: u32,
    /// The temporary database file, removed on drop.
    path: PathBuf,
}

impl Drop for OpenSnapshot {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

/// Checks the trailing SHA-256 (unless `skip_hash_check`) and opens the key space from a
/// temporary copy.
pub fn open(file: &Path, skip_hash_check: bool) -> anyhow::Result<OpenSnapshot> {
    let path = std::env::temp_dir().join(format!(
        "etcdlab-snapshot-{}-{}.redb",
        std::process::id(),
        rand_suffix()
    ));
    match unpack(file, skip_hash_check, &path, Checksum::Crc32c) {
        Ok((db, size, crc)) => Ok(OpenSnapshot {
            db,
            size,
            crc: crc.unwrap_or_default(),
            path,
        }),
        Err(e) => {
            let _ = fs::remove_file(&path);
            Err(e)
        }
    }
}

/// Checks `file` as [`open`] does and writes its database to `db_path` (a new member's
/// database file, which `snapshot restore` then completes): the file is copied as it is, as
/// etcd restores its bbolt file, so no key is copied row by row. On an error `db_path` may be
/// left behind for the caller to remove.
pub fn restore_to(file: &Path, skip_hash_check: bool, db_path: &Path) -> anyhow::Result<()> {
    unpack(file, skip_hash_check, db_path, Checksum::None).map(drop)
}

/// Whether [`unpack`] computes the database bytes' CRC-32C (`snapshot status` prints it).
#[derive(PartialEq)]
enum Checksum {
    None,
    Crc32c,
}

/// Copies the database part of `file` to `dest` while hashing it, refuses a hash mismatch
/// (unless `skip_hash_check`), opens the copy and converts it to the current storage format;
/// the database with its size and, if asked, its CRC-32C.
fn unpack(
    file: &Path,
    skip_hash_check: bool,
    dest: &Path,
    checksum: Checksum,
) -> anyhow::Result<(Database, u64, Option<u32>)> {
    let mut input = fs::File::open(file)
        .with_context(|| format!("cannot open snapshot file {}", file.display()))?;
    let len = input.metadata()?.len();
    if len <= HASH_LEN as u64 {
        bail!(
            "{} is not an etcdlab snapshot file (too short)",
            file.display()
        );
    }
    let size = len - HASH_LEN as u64;
    let mut output =
        fs::File::create(dest).with_context(|| format!("cannot create {}", dest.display()))?;
    let mut hasher = Sha256::new();
    let mut crc = (checksum == Checksum::Crc32c).then(|| CRC32C.digest());
    let mut buffer = vec![0; 1 << 20];
    let mut left = size;
    while left > 0 {
        let piece = &mut buffer[..left.min(1 << 20) as usize];
        input.read_exact(piece)?;
        hasher.update(&*piece);
        if let Some(crc) = &mut crc {
            crc.update(piece);
        }
        output.write_all(piece)?;
        left -= piece.len() as u64;
    }
    let mut hash = [0; HASH_LEN];
    input.read_exact(&mut hash)?;
    if !skip_hash_check && hasher.finalize().as_slice() != hash {
        bail!(
            "snapshot file integrity check failed: {} is damaged, truncated or not an etcdlab snapshot",
            file.display()
        );
    }
    // Not synced here: a restore's first durable commit syncs the whole file, and a temporary
    // copy for `status` needs no sync.
    drop(output);
    let db = Database::open(dest)
        .map_err(|e| anyhow::anyhow!("{} is not an etcdlab snapshot file ({e})", file.display()))?;
    storage_format::prepare(&db)
        .map_err(|e| anyhow::anyhow!("snapshot file {}: {e}", file.display()))?;
    Ok((db, size, crc.map(|crc| crc.finalize())))
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}

/// Revision and live key count of an opened snapshot.
pub fn contents(snapshot: &OpenSnapshot) -> anyhow::Result<(i64, u64)> {
    let txn = snapshot.db.begin_write()?;
    let revision = MvccStore::open(&txn)
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .current_revision();
    txn.abort()?;
    let keys =
        MvccStore::key_count(&snapshot.db.begin_read()?).map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok((revision, keys))
}

#[cfg(test)]
mod tests {
    use etcdlab_core::proto::etcdserverpb::PutRequest;

    use super::*;

    fn put(store: &mut MvccStore, txn: &redb::WriteTransaction, key: &str, value: &str) {
        let put = PutRequest {
            key: key.into(),
            value: value.into(),
            ..Default::default()
        };
        let mut tables = etcdlab_core::mvcc::KeyTables::open(txn).unwrap();
        store.put(&mut tables, &put).unwrap();
    }

    /// Writes `db`'s file followed by its SHA-256 to `file`: a snapshot file as an older
    /// etcdlab wrote it.
    fn with_hash(db_file: &Path, file: &Path) {
        let bytes = fs::read(db_file).unwrap();
        let mut out = bytes.clone();
        out.extend_from_slice(&Sha256::digest(&bytes));
        fs::write(file, out).unwrap();
    }

    #[test]
    fn a_file_of_storage_format_2_opens_with_its_own_live_keys() {
        let dir = tempfile::tempdir().unwrap();
        let db_file = dir.path().join("old.redb");
        {
            let db = Database::create(&db_file).unwrap();
            let txn = db.begin_write().unwrap();
            storage_format::record(&txn).unwrap();
            let mut store = MvccStore::open(&txn).unwrap();
            put(&mut store, &txn, "a", "1");
            put(&mut store, &txn, "a", "2");
            put(&mut store, &txn, "b", "1");
            txn.commit().unwrap();
        }
        let file = dir.path().join("old.db");
        with_hash(&db_file, &file);
        let opened = open(&file, false).unwrap();
        assert_eq!(contents(&opened).unwrap(), (4, 2));
    }

    #[test]
    fn a_taken_snapshot_reads_out_as_its_database_then_its_hash() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::create(dir.path().join("member.redb")).unwrap();
        let txn = db.begin_write().unwrap();
        storage_format::record(&txn).unwrap();
        let mut store = MvccStore::open(&txn).unwrap();
        put(&mut store, &txn, "a", "1");
        put(&mut store, &txn, "a", "2");
        txn.commit().unwrap();
        let mut snapshot = Snapshot::take(&db, dir.path()).unwrap();
        let mut bytes = Vec::new();
        loop {
            let piece = snapshot.read_piece(1000).unwrap();
            if piece.is_empty() {
                break;
            }
            bytes.extend_from_slice(&piece);
        }
        assert_eq!(bytes.len() as u64, snapshot.len());
        let (database, hash) = bytes.split_at(bytes.len() - HASH_LEN);
        assert_eq!(hash, Sha256::digest(database).as_slice());
        // The copy has no name left behind in the directory.
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["member.redb"]);
        let file = dir.path().join("saved.db");
        fs::write(&file, &bytes).unwrap();
        let opened = open(&file, false).unwrap();
        assert_eq!(contents(&opened).unwrap(), (3, 1));
    }
}
