//! The Raft log and Raft's durable state, kept in redb and mirrored in memory for raft-rs.
//!
//! This is etcd's own split: raft-rs reads the log through the [`raft::Storage`] trait from
//! memory (etcd's `MemoryStorage`), while every change is also written into the redb write
//! transaction the member is building (etcd's WAL). The member commits that transaction before
//! it sends any message that depends on it, so memory never runs ahead of disk for anything a
//! peer has been told.
//!
//! Tables: `raft_entries` (index, big-endian → protobuf-encoded `Entry`) and `raft_state`
//! (name → bytes: the hard state, the conf state and the metadata of the last compaction
//! point), both byte tables (`byte_rows`).

use std::sync::Arc;

use protobuf::Message as _;
use raft::eraftpb::{ConfState, Entry, HardState, Snapshot, SnapshotMetadata};
use raft::{GetEntriesContext, RaftState, StorageError};
use redb::{Database, ReadableDatabase, TableDefinition, WriteTransaction};

use crate::byte_rows::{read_u64, u64_bytes};
use crate::error::CoreError;

pub(crate) const ENTRIES: TableDefinition<&[u8], &[u8]> = TableDefinition::new("raft_entries");
pub(crate) const STATE: TableDefinition<&[u8], &[u8]> = TableDefinition::new("raft_state");
const HARD_STATE: &str = "hard_state";
const CONF_STATE: &str = "conf_state";
const SNAPSHOT_META: &str = "snapshot_meta";

/// raft-rs storage backed by redb: the durable copy lives in the database, the working copy in
/// memory.
pub struct RaftLog {
    hard_state: HardState,
    conf_state: ConfState,
    /// Index and term of the last entry folded into a snapshot (0/0 when never compacted).
    snapshot_meta: SnapshotMetadata,
    /// Entries after `snapshot_meta.index`, contiguous.
    entries: Vec<Entry>,
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
        let mut entries = Vec::new();
        for row in txn
            .open_table(ENTRIES)?
            .range(&u64_bytes(snapshot_meta.index + 1)[..]..)?
        {
            let (index, bytes) = row?;
            let index = read_u64(index.value()).map_err(CoreError::Corrupt)?;
            let entry = Entry::parse_from_bytes(bytes.value())
                .map_err(|e| CoreError::Corrupt(format!("raft entry {index}: {e}")))?;
            let expected = snapshot_meta.index + 1 + entries.len() as u64;
            if entry.index != expected {
                return Err(CoreError::Corrupt(format!(
                    "raft log has a gap: found entry {} where {expected} was expected",
                    entry.index
                )));
            }
            entries.push(entry);
        }
        Ok(RaftLog {
            hard_state,
            conf_state,
            snapshot_meta,
            entries,
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
            self.entries
                .truncate((first.index - self.snapshot_meta.index - 1) as usize);
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
        self.entries.extend_from_slice(ents);
        Ok(())
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
        for i in self.first_index()..=index {
            table.remove(&u64_bytes(i)[..])?;
        }
        self.entries
            .drain(..(index - self.snapshot_meta.index) as usize);
        let mut meta = SnapshotMetadata::default();
        meta.index = index;
        meta.term = term;
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
        self.snapshot_meta.index + self.entries.len() as u64
    }
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
        let offset = self.first_index();
        let mut ents = self.entries[(low - offset) as usize..(high - offset) as usize].to_vec();
        raft::util::limit_size(&mut ents, max_size.into());
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
        Ok(self.entries[(idx - self.first_index()) as usize].term)
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
        let mut snapshot = Snapshot::default();
        snapshot.data = data.into();
        let meta = snapshot.mut_metadata();
        meta.index = applied;
        meta.term = raft::Storage::term(self, applied)?;
        meta.set_conf_state(conf_state);
        Ok(snapshot)
    }
}
