//! The Raft log and Raft's durable state, kept in redb and mirrored in memory for raft-rs.
//!
//! This is etcd's own split: raft-rs reads the log through the [`raft::Storage`] trait from
//! memory (etcd's `MemoryStorage`), while every change is also written into the redb write
//! transaction the member is building (etcd's WAL). The member commits that transaction before
//! it sends any message that depends on it, so memory never runs ahead of disk for anything a
//! peer has been told.
//!
//! Unlike etcd's `MemoryStorage`, memory holds only the log's tail: the entries not yet applied
//! and the last [`MEMORY_TAIL`] applied ones (what a follower a little behind asks for). Older
//! entries, kept on disk until the log is compacted (`--snapshot-count` applied entries), are
//! read from redb when raft-rs asks for them: a follower far behind costs disk reads instead of
//! every member holding up to 100,000 entries in memory.
//!
//! Tables: `raft_entries` (index, big-endian → protobuf-encoded `Entry`) and `raft_state`
//! (name → bytes: the hard state, the conf state and the metadata of the last compaction
//! point), both byte tables (`byte_rows`).

use std::collections::VecDeque;
use std::sync::Arc;

use protobuf::Message as _;
use raft::eraftpb::{ConfState, Entry, HardState, Snapshot, SnapshotMetadata};
use raft::{GetEntriesContext, RaftState, StorageError};
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition, WriteTransaction};

use crate::byte_rows::{read_u64, u64_bytes};
use crate::error::CoreError;

pub(crate) const ENTRIES: TableDefinition<&[u8], &[u8]> = TableDefinition::new("raft_entries");
pub(crate) const STATE: TableDefinition<&[u8], &[u8]> = TableDefinition::new("raft_state");
const HARD_STATE: &str = "hard_state";
const CONF_STATE: &str = "conf_state";
const SNAPSHOT_META: &str = "snapshot_meta";

/// Applied entries kept in memory behind the applied index; older ones are read from disk.
pub const MEMORY_TAIL: u64 = 1000;

/// raft-rs storage backed by redb: the durable copy lives in the database, the working copy in
/// memory.
pub struct RaftLog {
    hard_state: HardState,
    conf_state: ConfState,
    /// Index and term of the last entry folded into a snapshot (0/0 when never compacted).
    snapshot_meta: SnapshotMetadata,
    /// The log's tail in memory, contiguous up to the last entry, from index `cached_from`.
    entries: VecDeque<Entry>,
    /// Index of `entries[0]` (the last index + 1 when empty); entries from `first_index()` up to
    /// it are on disk only.
    cached_from: u64,
    db: Arc<Database>,
}

impl RaftLog {
    /// Loads the log from `db`, creating empty tables on a fresh database.
    pub fn load(db: Arc<Database>) -> Result<RaftLog, CoreError> {
        {
            let txn = db.begin_write()?;
            txn.open_table(ENTRIES)?;
            txn.open_table(STATE)?;
            txn.commit()?;
        }
        let txn = db.begin_read()?;
        let state = txn.open_table(STATE)?;
        let read = |name: &str| -> Result<Option<Vec<u8>>, CoreError> {
            Ok(state.get(name.as_bytes())?.map(|v| v.value().to_vec()))
        };
        let hard_state = decode_or_default::<HardState>(read(HARD_STATE)?, HARD_STATE)?;
        let conf_state = decode_or_default::<ConfState>(read(CONF_STATE)?, CONF_STATE)?;
        let snapshot_meta =
            decode_or_default::<SnapshotMetadata>(read(SNAPSHOT_META)?, SNAPSHOT_META)?;
        let table = txn.open_table(ENTRIES)?;
        let first = snapshot_meta.index + 1;
        let stored_last = match table.last()? {
            Some((index, _)) => Some(read_u64(index.value()).map_err(CoreError::Corrupt)?),
            None => None,
        };
        let last = match stored_last {
            Some(index) if index >= first => index,
            _ => snapshot_meta.index,
        };
        // Only the tail is loaded: raft-rs reads older entries (those it has yet to apply
        // after a restart, or a slow follower's) through `Storage::entries`, from disk.
        let cached_from = first.max((last + 1).saturating_sub(MEMORY_TAIL));
        let entries = read_entries(&table, cached_from, last + 1, None)?.into();
        Ok(RaftLog {
            hard_state,
            conf_state,
            snapshot_meta,
            entries,
            cached_from,
            db,
        })
    }

    /// The database this log lives in (the member's whole state).
    pub fn database(&self) -> &Arc<Database> {
        &self.db
    }

    /// The database itself, if this log holds the only handle to it (for compaction).
    pub fn database_mut(&mut self) -> Option<&mut Database> {
        Arc::get_mut(&mut self.db)
    }

    pub fn hard_state(&self) -> &HardState {
        &self.hard_state
    }

    pub fn conf_state(&self) -> &ConfState {
        &self.conf_state
    }

    /// Appends `ents`, replacing any conflicting suffix, as raft-rs requires.
    pub fn append(&mut self, txn: &WriteTransaction, ents: &[Entry]) -> Result<(), CoreError> {
        let Some(first) = ents.first() else {
            return Ok(());
        };
        if first.index <= self.snapshot_meta.index {
            return Err(CoreError::Corrupt(format!(
                "append at {} overlaps the compacted log (up to {})",
                first.index, self.snapshot_meta.index
            )));
        }
        let mut table = txn.open_table(ENTRIES)?;
        let last = self.last_index();
        if first.index <= last {
            // A new leader overwrote our uncommitted tail: drop it on disk and in memory.
            for index in first.index..=last {
                table.remove(&u64_bytes(index)[..])?;
            }
            if first.index < self.cached_from {
                self.entries.clear();
                self.cached_from = first.index;
            }
            self.entries
                .truncate((first.index - self.cached_from) as usize);
        } else if first.index != last + 1 {
            return Err(CoreError::Corrupt(format!(
                "append at {} leaves a gap after {last}",
                first.index
            )));
        }
        for entry in ents {
            let bytes = entry
                .write_to_bytes()
                .map_err(|e| CoreError::Encode(e.to_string()))?;
            table.insert(&u64_bytes(entry.index)[..], bytes.as_slice())?;
        }
        self.entries.extend(ents.iter().cloned());
        Ok(())
    }

    /// Lets memory drop the entries more than [`MEMORY_TAIL`] behind `applied` (they stay on
    /// disk until compaction). Call it once `applied`'s transaction is committed, so a read of
    /// the released entries finds them in the database. Drops in batches: memory holds between
    /// one and two tails of applied entries.
    pub fn release_applied(&mut self, applied: u64) {
        let keep_from = applied.saturating_sub(MEMORY_TAIL) + 1;
        if keep_from >= self.cached_from + MEMORY_TAIL {
            let drop = (keep_from - self.cached_from).min(self.entries.len() as u64);
            self.entries.drain(..drop as usize);
            self.cached_from += drop;
        }
    }

    pub fn set_hard_state(
        &mut self,
        txn: &WriteTransaction,
        hs: &HardState,
    ) -> Result<(), CoreError> {
        write_state(txn, HARD_STATE, hs)?;
        self.hard_state = hs.clone();
        Ok(())
    }

    /// Records a new commit index (from a light ready), keeping the rest of the hard state.
    pub fn set_commit(&mut self, txn: &WriteTransaction, commit: u64) -> Result<(), CoreError> {
        let mut hs = self.hard_state.clone();
        hs.commit = commit;
        self.set_hard_state(txn, &hs)
    }

    /// Drops the log up to and including `index` (already applied), remembering its term and
    /// the conf state so raft-rs can still reason about the compaction point.
    pub fn compact(&mut self, txn: &WriteTransaction, index: u64) -> Result<(), CoreError> {
        if index <= self.snapshot_meta.index || index > self.last_index() {
            return Ok(());
        }
        let term = raft::Storage::term(self, index)?;
        let mut table = txn.open_table(ENTRIES)?;
        let (first, last) = (u64_bytes(self.first_index()), u64_bytes(index));
        table.retain_in(&first[..]..=&last[..], |_, _| false)?;
        if index >= self.cached_from {
            self.entries
                .drain(..(index + 1 - self.cached_from) as usize);
            self.cached_from = index + 1;
        }
        let mut meta = SnapshotMetadata {
            index,
            term,
            ..Default::default()
        };
        meta.set_conf_state(self.conf_state.clone());
        write_state(txn, SNAPSHOT_META, &meta)?;
        self.snapshot_meta = meta;
        Ok(())
    }

    /// Replaces the whole log by a received snapshot's point (the state machine is loaded by
    /// the caller in the same transaction).
    pub fn apply_snapshot(
        &mut self,
        txn: &WriteTransaction,
        meta: &SnapshotMetadata,
    ) -> Result<(), CoreError> {
        let mut table = txn.open_table(ENTRIES)?;
        table.retain(|_, _| false)?;
        self.entries.clear();
        self.cached_from = meta.index + 1;
        write_state(txn, SNAPSHOT_META, meta)?;
        self.snapshot_meta = meta.clone();
        let mut hs = self.hard_state.clone();
        hs.term = hs.term.max(meta.term);
        hs.commit = meta.index;
        self.set_hard_state(txn, &hs)?;
        self.set_conf_state(txn, meta.get_conf_state())
    }

    pub fn set_conf_state(
        &mut self,
        txn: &WriteTransaction,
        cs: &ConfState,
    ) -> Result<(), CoreError> {
        write_state(txn, CONF_STATE, cs)?;
        self.conf_state = cs.clone();
        Ok(())
    }

    pub fn first_index(&self) -> u64 {
        self.snapshot_meta.index + 1
    }

    pub fn last_index(&self) -> u64 {
        self.cached_from + self.entries.len() as u64 - 1
    }

    /// Entries `low..high` that memory no longer holds, read from disk (at most `max_size`
    /// bytes, but at least one entry).
    fn entries_on_disk(
        &self,
        low: u64,
        high: u64,
        max_size: Option<u64>,
    ) -> Result<Vec<Entry>, CoreError> {
        let txn = self.db.begin_read()?;
        read_entries(&txn.open_table(ENTRIES)?, low, high, max_size)
    }
}

/// Entries `low..high` from the entries table, each checked to be at its index; stops early
/// once more than `max_size` bytes are read (but returns at least one entry).
fn read_entries(
    table: &impl ReadableTable<&'static [u8], &'static [u8]>,
    low: u64,
    high: u64,
    max_size: Option<u64>,
) -> Result<Vec<Entry>, CoreError> {
    let mut entries = Vec::new();
    let mut size = 0u64;
    let mut expected = low;
    for row in table.range(&u64_bytes(low)[..]..&u64_bytes(high)[..])? {
        let (index, bytes) = row?;
        let index = read_u64(index.value()).map_err(CoreError::Corrupt)?;
        let bytes = bytes.value();
        size += bytes.len() as u64;
        if !entries.is_empty() && max_size.is_some_and(|max| size > max) {
            return Ok(entries);
        }
        let entry = Entry::parse_from_bytes(bytes)
            .map_err(|e| CoreError::Corrupt(format!("raft entry {index}: {e}")))?;
        if entry.index != expected {
            return Err(CoreError::Corrupt(format!(
                "raft log has a gap: found entry {} where {expected} was expected",
                entry.index
            )));
        }
        expected += 1;
        entries.push(entry);
    }
    if expected != high {
        return Err(CoreError::Corrupt(format!(
            "raft log has a gap: entry {expected} is missing"
        )));
    }
    Ok(entries)
}

fn write_state(
    txn: &WriteTransaction,
    name: &str,
    msg: &impl protobuf::Message,
) -> Result<(), CoreError> {
    let bytes = msg
        .write_to_bytes()
        .map_err(|e| CoreError::Encode(e.to_string()))?;
    txn.open_table(STATE)?
        .insert(name.as_bytes(), bytes.as_slice())?;
    Ok(())
}

fn decode_or_default<M: protobuf::Message + Default>(
    bytes: Option<Vec<u8>>,
    what: &str,
) -> Result<M, CoreError> {
    match bytes {
        None => Ok(M::default()),
        Some(b) => {
            M::parse_from_bytes(&b).map_err(|e| CoreError::Corrupt(format!("raft {what}: {e}")))
        }
    }
}

impl raft::Storage for RaftLog {
    fn initial_state(&self) -> raft::Result<RaftState> {
        Ok(RaftState::new(
            self.hard_state.clone(),
            self.conf_state.clone(),
        ))
    }

    fn entries(
        &self,
        low: u64,
        high: u64,
        max_size: impl Into<Option<u64>>,
        _context: GetEntriesContext,
    ) -> raft::Result<Vec<Entry>> {
        if low <= self.snapshot_meta.index {
            return Err(raft::Error::Store(StorageError::Compacted));
        }
        if high > self.last_index() + 1 {
            return Err(raft::Error::Store(StorageError::Unavailable));
        }
        let max_size = max_size.into();
        let mut ents = Vec::new();
        if low < self.cached_from {
            let disk_high = high.min(self.cached_from);
            ents = self
                .entries_on_disk(low, disk_high, max_size)
                .map_err(|e| raft::Error::Store(StorageError::Other(Box::new(e))))?;
            if low + (ents.len() as u64) < disk_high {
                return Ok(ents); // the size limit stopped the read
            }
        }
        let from = low.max(self.cached_from) - self.cached_from;
        let to = high.max(self.cached_from) - self.cached_from;
        ents.extend(self.entries.range(from as usize..to as usize).cloned());
        raft::util::limit_size(&mut ents, max_size);
        Ok(ents)
    }

    fn term(&self, idx: u64) -> raft::Result<u64> {
        if idx == self.snapshot_meta.index {
            return Ok(self.snapshot_meta.term);
        }
        if idx < self.first_index() {
            return Err(raft::Error::Store(StorageError::Compacted));
        }
        if idx > self.last_index() {
            return Err(raft::Error::Store(StorageError::Unavailable));
        }
        if idx < self.cached_from {
            let on_disk = self
                .entries_on_disk(idx, idx + 1, None)
                .map_err(|e| raft::Error::Store(StorageError::Other(Box::new(e))))?;
            return Ok(on_disk[0].term);
        }
        Ok(self.entries[(idx - self.cached_from) as usize].term)
    }

    fn first_index(&self) -> raft::Result<u64> {
        Ok(RaftLog::first_index(self))
    }

    fn last_index(&self) -> raft::Result<u64> {
        Ok(RaftLog::last_index(self))
    }

    /// The state machine as of its applied index, for a peer whose next entry is compacted.
    fn snapshot(&self, _request_index: u64, _to: u64) -> raft::Result<Snapshot> {
        let build = || -> Result<(u64, ConfState, Vec<u8>), CoreError> {
            let txn = self.db.begin_read()?;
            let applied = crate::member::applied_index(&txn)?;
            let state = txn.open_table(STATE)?;
            let cs = state
                .get(CONF_STATE.as_bytes())?
                .map(|v| v.value().to_vec());
            let conf_state = decode_or_default::<ConfState>(cs, CONF_STATE)?;
            Ok((applied, conf_state, crate::state_snapshot::encode(&txn)?))
        };
        let (applied, conf_state, data) = build()
            .map_err(|_| raft::Error::Store(StorageError::SnapshotTemporarilyUnavailable))?;
        let mut snapshot = Snapshot {
            data: data.into(),
            ..Default::default()
        };
        let meta = snapshot.mut_metadata();
        meta.index = applied;
        meta.term = raft::Storage::term(self, applied)?;
        meta.set_conf_state(conf_state);
        Ok(snapshot)
    }
}

#[cfg(test)]
mod tests {
    use raft::Storage as _;
    use redb::backends::InMemoryBackend;

    use super::*;

    fn entry(index: u64, term: u64) -> Entry {
        let mut e = Entry::default();
        e.set_index(index);
        e.set_term(term);
        e.set_data(vec![index as u8; 100].into());
        e
    }

    /// A log of entries 1..=count (term = index / 1000 + 1), committed to an in-memory database.
    fn log_of(count: u64) -> RaftLog {
        let db = Database::builder()
            .create_with_backend(InMemoryBackend::new())
            .unwrap();
        let mut log = RaftLog::load(Arc::new(db)).unwrap();
        let entries: Vec<Entry> = (1..=count).map(|i| entry(i, i / 1000 + 1)).collect();
        let txn = log.database().begin_write().unwrap();
        log.append(&txn, &entries).unwrap();
        txn.commit().unwrap();
        log
    }

    fn indexes(entries: &[Entry]) -> Vec<u64> {
        entries.iter().map(|e| e.index).collect()
    }

    fn any() -> GetEntriesContext {
        GetEntriesContext::empty(false)
    }

    #[test]
    fn released_entries_are_read_back_from_disk() {
        let mut log = log_of(5000);
        log.release_applied(4800);
        // Memory keeps the last MEMORY_TAIL applied entries and everything after them.
        assert_eq!(log.cached_from, 4800 - MEMORY_TAIL + 1);
        assert_eq!((log.first_index(), log.last_index()), (1, 5000));
        assert_eq!(log.term(5).unwrap(), 1);
        assert_eq!(log.term(2500).unwrap(), 3);
        let across = log.entries(3790, 3810, None, any()).unwrap();
        assert_eq!(indexes(&across), (3790..3810).collect::<Vec<_>>());
        assert_eq!(across[0], entry(3790, 4));
        // A size limit stops the disk read, and always lets one entry through.
        let limited = log.entries(10, 4000, 1000, any()).unwrap();
        assert!(
            !limited.is_empty() && limited.len() < 20,
            "{}",
            limited.len()
        );
        assert_eq!(limited[0].index, 10);
        assert_eq!(log.entries(10, 4000, 0, any()).unwrap().len(), 1);
    }

    #[test]
    fn release_drops_in_batches_and_never_unapplied_entries() {
        let mut log = log_of(3000);
        log.release_applied(1500);
        assert_eq!(
            log.cached_from, 1,
            "fewer than two tails applied: nothing dropped yet"
        );
        log.release_applied(2500);
        assert_eq!(log.cached_from, 1501);
        log.release_applied(3000);
        assert_eq!(log.cached_from, 1501, "less than a tail more: kept");
        assert_eq!(log.entries.len(), 1500);
    }

    #[test]
    fn a_reloaded_log_holds_its_tail_and_reads_the_rest() {
        let log = log_of(2500);
        let db = log.database().clone();
        drop(log);
        let log = RaftLog::load(db).unwrap();
        assert_eq!(log.cached_from, 2501 - MEMORY_TAIL);
        assert_eq!((log.first_index(), log.last_index()), (1, 2500));
        let all = log.entries(1, 2501, None, any()).unwrap();
        assert_eq!(indexes(&all), (1..=2500).collect::<Vec<_>>());
    }

    #[test]
    fn compaction_and_conflicts_below_the_memory_tail() {
        let mut log = log_of(4000);
        log.release_applied(3500);
        let txn = log.database().begin_write().unwrap();
        log.compact(&txn, 1000).unwrap();
        txn.commit().unwrap();
        assert_eq!(log.first_index(), 1001);
        assert!(log.entries(900, 1100, None, any()).is_err());
        assert_eq!(log.term(1000).unwrap(), 2);
        assert_eq!(
            log.entries(1001, 1003, None, any()).unwrap()[0],
            entry(1001, 2)
        );
        // A new leader's entries replacing a suffix that starts on disk.
        let txn = log.database().begin_write().unwrap();
        log.append(&txn, &[entry(1500, 9), entry(1501, 9)]).unwrap();
        txn.commit().unwrap();
        assert_eq!(log.last_index(), 1501);
        assert_eq!(log.term(1501).unwrap(), 9);
        assert_eq!(log.term(1499).unwrap(), 2);
        let tail = log.entries(1498, 1502, None, any()).unwrap();
        assert_eq!(indexes(&tail), vec![1498, 1499, 1500, 1501]);
        assert_eq!(tail[2].term, 9);
    }

    #[test]
    fn a_missing_entry_on_disk_is_reported_as_corruption() {
        let mut log = log_of(3000);
        log.release_applied(3000);
        let txn = log.database().begin_write().unwrap();
        txn.open_table(ENTRIES)
            .unwrap()
            .remove(&u64_bytes(10)[..])
            .unwrap();
        txn.commit().unwrap();
        assert!(log.entries(5, 20, None, any()).is_err());
        assert!(log.term(10).is_err());
    }
}
