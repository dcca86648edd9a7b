//! The MVCC key space: etcd's revisioned key-value store on redb.
//!
//! Every write request gets the next *main* revision; each key it changes gets a *sub*
//! revision inside it. A key keeps `create_revision`, `mod_revision`, `version` (1 on
//! creation, +1 per put, reset by a delete) and its lease.
//!
//! Tables (all written in the caller's one redb transaction, together with the Raft applied
//! index, so a crash never applies a request twice or half):
//! - `mvcc_history`: (key, main revision) → [`StoredKeyValue`] — every version of every key,
//!   tombstones included; serves reads at old revisions and compaction.
//! - `mvcc_latest`: key → [`StoredKeyValue`] — the live version of each key; serves current
//!   reads without walking history.
//! - `mvcc_changes`: (main, sub) → key — the change log in revision order, for hashing and (with
//!   watches) replay.
//! - `mvcc_meta`: the current and the compacted revision.
//!
//! Submodules: [`range`] (key ranges and reads), [`txn`] (compares, nested ops and etcd's
//! duplicate-key rule).

mod range;
mod txn;

use prost::Message as _;
use redb::{ReadableTable, ReadableTableMetadata, TableDefinition, WriteTransaction};

use crate::proto::etcdlab::StoredKeyValue;
use crate::proto::etcdserverpb::{
    CompactionRequest, CompactionResponse, DeleteRangeRequest, DeleteRangeResponse, PutRequest,
    PutResponse, RangeRequest, RangeResponse, ResponseHeader, TxnRequest, TxnResponse,
};
use crate::proto::mvccpb::KeyValue;

pub use range::KeyRange;
pub use txn::check_txn;

pub(crate) const HISTORY: TableDefinition<(&[u8], u64), &[u8]> =
    TableDefinition::new("mvcc_history");
pub(crate) const LATEST: TableDefinition<&[u8], &[u8]> = TableDefinition::new("mvcc_latest");
pub(crate) const CHANGES: TableDefinition<(u64, u64), &[u8]> = TableDefinition::new("mvcc_changes");
pub(crate) const META: TableDefinition<&str, i64> = TableDefinition::new("mvcc_meta");
const CURRENT_REVISION: &str = "current_revision";
const COMPACT_REVISION: &str = "compact_revision";

/// Most operations a txn branch may hold, as etcd's default `--max-txn-ops`.
pub const MAX_TXN_OPS: usize = 128;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MvccError {
    #[error("etcdserver: mvcc: required revision has been compacted")]
    Compacted,
    #[error("etcdserver: mvcc: required revision is a future revision")]
    FutureRevision,
    #[error("etcdserver: key not found")]
    KeyNotFound,
    #[error("etcdserver: key is not provided")]
    EmptyKey,
    #[error("etcdserver: duplicate key given in txn request")]
    DuplicateKey,
    #[error("etcdserver: too many operations in txn request")]
    TooManyOps,
    #[error("etcdserver: value is provided")]
    ValueProvided,
    #[error("etcdserver: lease is provided")]
    LeaseProvided,
    #[error("storage: {0}")]
    Storage(String),
}

macro_rules! storage_errors {
    ($($t:ty),*) => {$(
        impl From<$t> for MvccError {
            fn from(e: $t) -> Self {
                MvccError::Storage(e.to_string())
            }
        }
    )*};
}
storage_errors!(redb::StorageError, redb::TableError, redb::TransactionError);

/// The key space's revision counters; the data lives in redb.
#[derive(Debug, Clone)]
pub struct MvccStore {
    current: i64,
    compacted: i64,
}

/// The changes of one write in progress: its main revision and the next sub revision.
struct WriteBatch {
    main: i64,
    next_sub: i64,
}

impl MvccStore {
    /// Creates the tables if needed and loads the revision counters.
    pub fn open(txn: &WriteTransaction) -> Result<MvccStore, MvccError> {
        txn.open_table(HISTORY)?;
        txn.open_table(LATEST)?;
        txn.open_table(CHANGES)?;
        let meta = txn.open_table(META)?;
        let current = meta.get(CURRENT_REVISION)?.map(|v| v.value()).unwrap_or(1);
        let compacted = meta.get(COMPACT_REVISION)?.map(|v| v.value()).unwrap_or(0);
        Ok(MvccStore { current, compacted })
    }

    /// The revision of the last write (1 on an empty store, as etcd).
    pub fn current_revision(&self) -> i64 {
        self.current
    }

    /// The revision below which history is gone (0 if never compacted).
    pub fn compact_revision(&self) -> i64 {
        self.compacted
    }

    pub fn put(
        &mut self,
        txn: &WriteTransaction,
        req: &PutRequest,
    ) -> Result<PutResponse, MvccError> {
        let mut batch = self.begin();
        let resp = self.put_in(txn, &mut batch, req)?;
        self.finish(txn, batch)?;
        Ok(resp)
    }

    pub fn delete_range(
        &mut self,
        txn: &WriteTransaction,
        req: &DeleteRangeRequest,
    ) -> Result<DeleteRangeResponse, MvccError> {
        let mut batch = self.begin();
        let resp = self.delete_in(txn, &mut batch, req)?;
        self.finish(txn, batch)?;
        Ok(resp)
    }

    pub fn txn(
        &mut self,
        txn: &WriteTransaction,
        req: &TxnRequest,
    ) -> Result<TxnResponse, MvccError> {
        check_txn(req)?;
        let mut batch = self.begin();
        let resp = txn::apply(self, txn, &mut batch, req)?;
        self.finish(txn, batch)?;
        Ok(resp)
    }

    /// Drops history below `req.revision`, keeping each key's newest version at or below it
    /// (and dropping that too if it is a deletion).
    pub fn compact(
        &mut self,
        txn: &WriteTransaction,
        req: &CompactionRequest,
    ) -> Result<CompactionResponse, MvccError> {
        let rev = req.revision;
        if rev <= self.compacted {
            return Err(MvccError::Compacted);
        }
        if rev > self.current {
            return Err(MvccError::FutureRevision);
        }
        let mut history = txn.open_table(HISTORY)?;
        let mut changes = txn.open_table(CHANGES)?;
        // Walk the change log below `rev`; for each key, every version older than its newest
        // version at or below `rev` goes.
        let mut doomed: Vec<(Vec<u8>, u64, u64)> = Vec::new();
        {
            let mut newest: std::collections::HashMap<Vec<u8>, (u64, u64)> =
                std::collections::HashMap::new();
            for row in changes.range((0u64, 0u64)..=(rev as u64, u64::MAX))? {
                let (rk, key) = row?;
                let (main, sub) = rk.value();
                if let Some((old_main, old_sub)) = newest.insert(key.value().to_vec(), (main, sub))
                {
                    doomed.push((key.value().to_vec(), old_main, old_sub));
                }
            }
            for (key, (main, sub)) in newest {
                let stored = history
                    .get((key.as_slice(), main))?
                    .map(|v| decode(v.value()))
                    .transpose()?;
                if stored.is_some_and(|s| s.tombstone) {
                    doomed.push((key, main, sub));
                }
            }
        }
        for (key, main, sub) in doomed {
            history.remove((key.as_slice(), main))?;
            changes.remove((main, sub))?;
        }
        self.compacted = rev;
        txn.open_table(META)?.insert(COMPACT_REVISION, rev)?;
        Ok(CompactionResponse {
            header: Some(ResponseHeader {
                revision: self.current,
                ..Default::default()
            }),
        })
    }

    /// A range read on a read snapshot.
    pub fn range(
        txn: &redb::ReadTransaction,
        req: &RangeRequest,
    ) -> Result<RangeResponse, MvccError> {
        let meta = txn.open_table(META)?;
        let current = meta.get(CURRENT_REVISION)?.map(|v| v.value()).unwrap_or(1);
        let compacted = meta.get(COMPACT_REVISION)?.map(|v| v.value()).unwrap_or(0);
        range::read(
            &txn.open_table(LATEST)?,
            &txn.open_table(HISTORY)?,
            current,
            compacted,
            req,
        )
    }

    /// etcd's HashKV: CRC-32C over every stored revision at or below `rev` (0: current), in
    /// revision order, with the compact and current revision.
    pub fn hash_kv(txn: &redb::ReadTransaction, rev: i64) -> Result<(u32, i64, i64), MvccError> {
        let meta = txn.open_table(META)?;
        let current = meta.get(CURRENT_REVISION)?.map(|v| v.value()).unwrap_or(1);
        let compacted = meta.get(COMPACT_REVISION)?.map(|v| v.value()).unwrap_or(0);
        let upto = if rev <= 0 { current } else { rev };
        if upto > current {
            return Err(MvccError::FutureRevision);
        }
        if rev > 0 && rev < compacted {
            return Err(MvccError::Compacted);
        }
        let history = txn.open_table(HISTORY)?;
        let crc = crc::Crc::<u32>::new(&crc::CRC_32_ISCSI);
        let mut digest = crc.digest();
        digest.update(b"key");
        for row in txn
            .open_table(CHANGES)?
            .range((0u64, 0u64)..=(upto as u64, u64::MAX))?
        {
            let (rk, key) = row?;
            let (main, sub) = rk.value();
            let Some(stored) = history.get((key.value(), main))? else {
                continue;
            };
            let stored = decode(stored.value())?;
            digest.update(&main.to_be_bytes());
            digest.update(b"_");
            digest.update(&sub.to_be_bytes());
            if stored.tombstone {
                digest.update(b"t");
            }
            digest.update(&stored.kv.unwrap_or_default().encode_to_vec());
        }
        Ok((digest.finalize(), compacted, current))
    }

    /// Copies the whole key space (history, live keys, change log, counters) from a read
    /// snapshot into another database's write transaction: snapshots and restores use it.
    pub fn copy_into(src: &redb::ReadTransaction, dst: &WriteTransaction) -> Result<(), MvccError> {
        copy_table(&src.open_table(HISTORY)?, &mut dst.open_table(HISTORY)?)?;
        copy_table(&src.open_table(LATEST)?, &mut dst.open_table(LATEST)?)?;
        copy_table(&src.open_table(CHANGES)?, &mut dst.open_table(CHANGES)?)?;
        copy_table(&src.open_table(META)?, &mut dst.open_table(META)?)?;
        Ok(())
    }

    /// Number of live keys.
    pub fn key_count(txn: &redb::ReadTransaction) -> Result<u64, MvccError> {
        Ok(txn.open_table(LATEST)?.len()?)
    }

    fn begin(&self) -> WriteBatch {
        WriteBatch {
            main: self.current + 1,
            next_sub: 0,
        }
    }

    /// Commits the batch's revision if it changed anything.
    fn finish(&mut self, txn: &WriteTransaction, batch: WriteBatch) -> Result<(), MvccError> {
        if batch.next_sub > 0 {
            self.current = batch.main;
            txn.open_table(META)?.insert(CURRENT_REVISION, batch.main)?;
        }
        Ok(())
    }

    /// The revision reads inside a write see: the write's own once it changed something.
    fn read_revision(&self, batch: &WriteBatch) -> i64 {
        if batch.next_sub > 0 {
            batch.main
        } else {
            self.current
        }
    }

    fn put_in(
        &self,
        txn: &WriteTransaction,
        batch: &mut WriteBatch,
        req: &PutRequest,
    ) -> Result<PutResponse, MvccError> {
        let mut latest = txn.open_table(LATEST)?;
        let prev = latest
            .get(req.key.as_slice())?
            .map(|v| decode(v.value()))
            .transpose()?
            .and_then(|s| s.kv);
        if (req.ignore_value || req.ignore_lease) && prev.is_none() {
            return Err(MvccError::KeyNotFound);
        }
        let value = match (&prev, req.ignore_value) {
            (Some(p), true) => p.value.clone(),
            _ => req.value.clone(),
        };
        let lease = match (&prev, req.ignore_lease) {
            (Some(p), true) => p.lease,
            _ => req.lease,
        };
        let kv = KeyValue {
            key: req.key.clone(),
            create_revision: prev.as_ref().map_or(batch.main, |p| p.create_revision),
            mod_revision: batch.main,
            version: prev.as_ref().map_or(1, |p| p.version + 1),
            value,
            lease,
        };
        let stored = StoredKeyValue {
            sub: batch.next_sub,
            tombstone: false,
            kv: Some(kv),
        }
        .encode_to_vec();
        latest.insert(req.key.as_slice(), stored.as_slice())?;
        self.record(txn, batch, &req.key, &stored)?;
        Ok(PutResponse {
            header: Some(ResponseHeader {
                revision: batch.main,
                ..Default::default()
            }),
            prev_kv: if req.prev_kv { prev } else { None },
        })
    }

    fn delete_in(
        &self,
        txn: &WriteTransaction,
        batch: &mut WriteBatch,
        req: &DeleteRangeRequest,
    ) -> Result<DeleteRangeResponse, MvccError> {
        let range = KeyRange::new(&req.key, &req.range_end);
        let mut latest = txn.open_table(LATEST)?;
        let victims = range::live_in(&latest, &range)?;
        for kv in &victims {
            latest.remove(kv.key.as_slice())?;
            // As etcd stores a deletion: the key alone (its revision is the history key).
            let tombstone = KeyValue {
                key: kv.key.clone(),
                ..Default::default()
            };
            let stored = StoredKeyValue {
                sub: batch.next_sub,
                tombstone: true,
                kv: Some(tombstone),
            }
            .encode_to_vec();
            self.record(txn, batch, &kv.key, &stored)?;
        }
        Ok(DeleteRangeResponse {
            header: Some(ResponseHeader {
                revision: self.read_revision(batch),
                ..Default::default()
            }),
            deleted: victims.len() as i64,
            prev_kvs: if req.prev_kv { victims } else { Vec::new() },
        })
    }

    /// Adds one change to history and the change log under the next sub revision.
    fn record(
        &self,
        txn: &WriteTransaction,
        batch: &mut WriteBatch,
        key: &[u8],
        stored: &[u8],
    ) -> Result<(), MvccError> {
        txn.open_table(HISTORY)?
            .insert((key, batch.main as u64), stored)?;
        txn.open_table(CHANGES)?
            .insert((batch.main as u64, batch.next_sub as u64), key)?;
        batch.next_sub += 1;
        Ok(())
    }
}

fn copy_table<K: redb::Key + 'static, V: redb::Value + 'static>(
    src: &impl ReadableTable<K, V>,
    dst: &mut redb::Table<'_, K, V>,
) -> Result<(), MvccError> {
    for row in src.iter()? {
        let (k, v) = row?;
        dst.insert(k.value(), v.value())?;
    }
    Ok(())
}

fn decode(bytes: &[u8]) -> Result<StoredKeyValue, MvccError> {
    StoredKeyValue::decode(bytes)
        .map_err(|e| MvccError::Storage(format!("undecodable stored key: {e}")))
}

#[cfg(test)]
mod tests;
