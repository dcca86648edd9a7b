//! The member's Raft journal file, `<data-dir>/member/etcdlab.journal` (or in `--wal-dir`,
//! as etcd's WAL): the host's half of
//! [`etcdlab_core::journal`] (which owns the record format and the replay). The file is given
//! its full size in zeros once, when it is created; at start it is replayed into the database;
//! then the member writes one synced record per synced ready after the previous one, and goes
//! back to the file's beginning at each checkpoint.

use std::fs::{File, OpenOptions};
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use etcdlab_core::journal::{self, JournalStore, PREALLOCATED_BYTES};
use redb::Database;

use super::metrics::Metrics;

const JOURNAL_FILE: &str = "etcdlab.journal";

/// The journal's absolute path: in `wal_dir` (`--wal-dir`) when given, else beside the
/// database. Absolute, so that the place recorded for the journal does not depend on the
/// directory the member was started from; the directory must exist.
fn journal_path(data_dir: &Path, wal_dir: Option<&Path>) -> anyhow::Result<PathBuf> {
    let dir = match wal_dir {
        Some(dir) => dir.to_path_buf(),
        None => data_dir.join("member"),
    };
    let dir =
        std::fs::canonicalize(&dir).with_context(|| format!("cannot find {}", dir.display()))?;
    Ok(dir.join(JOURNAL_FILE))
}

/// Records `path` as the journal's place from now on. Unless the database is new, first
/// refuses a start that would leave behind the journal the member kept elsewhere (another
/// `--wal-dir`, or none) while it holds writes the database lacks (the member crashed before
/// it was moved).
fn settle_location(
    path: &Path,
    data_dir: &Path,
    db: &Database,
    new_database: bool,
) -> anyhow::Result<()> {
    let recorded = journal::recorded_location(db).context("reading the Raft journal's place")?;
    // A data dir from before the journal's place was recorded kept it beside the database.
    let former = match &recorded {
        Some(bytes) => PathBuf::from(std::ffi::OsStr::from_bytes(bytes)),
        None => journal_path(data_dir, None)?,
    };
    if former != path
        && !new_database
        && let Ok(bytes) = std::fs::read(&former)
    {
        let pending = journal::pending(db, &bytes)
            .with_context(|| format!("reading the Raft journal {}", former.display()))?;
        if pending > 0 {
            anyhow::bail!(
                "the Raft journal {} holds {pending} records the database lacks, but this start keeps the journal at {}: start the member once as before (its --wal-dir), or move the file",
                former.display(),
                path.display()
            );
        }
    }
    if recorded.as_deref() == Some(path.as_os_str().as_bytes()) {
        return Ok(());
    }
    journal::record_location(db, path.as_os_str().as_bytes())
        .context("recording the Raft journal's place")
}

/// An open journal file and where its next record goes.
pub struct JournalFile {
    file: File,
    offset: u64,
    /// Times each synced append (etcd's WAL fsync histogram).
    metrics: Arc<Metrics>,
}

/// Puts the records of the member's journal (`wal_dir`'s, or `data_dir`'s) that `db` lacks
/// back into its Raft log (after a crash), then returns the journal ready for records from its
/// beginning. A missing journal is created; so is one left beside a database that was just
/// created (`new_database`: its records belonged to a database someone deleted, and must not
/// go into this one).
pub fn recover(
    data_dir: &Path,
    wal_dir: Option<&Path>,
    db: &Arc<Database>,
    new_database: bool,
    metrics: Arc<Metrics>,
) -> anyhow::Result<JournalFile> {
    if let Some(dir) = wal_dir {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create --wal-dir {}", dir.display()))?;
    }
    let path = journal_path(data_dir, wal_dir)?;
    settle_location(&path, data_dir, db, new_database)?;
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .with_context(|| format!("cannot open the Raft journal {}", path.display()))?;
    if new_database && file.metadata().is_ok_and(|m| m.len() > 0) {
        tracing::warn!(journal = %path.display(), "a new database: starting its journal over");
        file.set_len(0)
            .with_context(|| format!("cannot empty the Raft journal {}", path.display()))?;
    }
    preallocate(&file, &path)?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)
        .with_context(|| format!("cannot read the Raft journal {}", path.display()))?;
    let records = journal::replay(db, &bytes)
        .with_context(|| format!("replaying the Raft journal {}", path.display()))?;
    if records > 0 {
        tracing::info!(journal = %path.display(), records, "replayed the Raft journal");
    }
    Ok(JournalFile {
        file,
        offset: 0,
        metrics,
    })
}

/// Writes the file's zeros up to [`PREALLOCATED_BYTES`] (a new journal's, or one cut short),
/// so that records overwrite blocks the file already has. Synced with
/// the directory entry: the name must survive a crash as well as the records.
fn preallocate(file: &File, path: &Path) -> anyhow::Result<()> {
    let len = file
        .metadata()
        .with_context(|| format!("cannot read the Raft journal {}", path.display()))?
        .len();
    if len >= PREALLOCATED_BYTES {
        return Ok(());
    }
    let zeros = vec![0; (PREALLOCATED_BYTES - len) as usize];
    file.write_all_at(&zeros, len)
        .and_then(|()| file.sync_all())
        .with_context(|| format!("cannot write the Raft journal {}", path.display()))?;
    if let Some(dir) = path.parent() {
        File::open(dir)
            .and_then(|d| d.sync_all())
            .with_context(|| format!("cannot sync {}", dir.display()))?;
    }
    Ok(())
}

impl JournalStore for JournalFile {
    fn append_durably(&mut self, record: &[u8]) -> std::io::Result<()> {
        let started = Instant::now();
        self.file.write_all_at(record, self.offset)?;
        self.file.sync_data()?;
        self.metrics.journal_synced(started.elapsed());
        self.offset += record.len() as u64;
        Ok(())
    }

    fn rewind(&mut self) {
        self.offset = 0;
    }
}
