//! The MVCC key space: etcd's revisioned key-value store, on redb.
//!
//! Every write request that changes something gets the next *main* revision; each change inside
//! it (a put, or one deleted key) gets a *sub* revision from 0. A key carries `create_revision`,
//! `mod_revision`, `version` (1 on creation, +1 per put; a delete ends the key, and the next put
//! creates it anew with version 1) and its lease. A request that changes nothing (deleting a
//! missing key, a read-only txn) takes no revision. The empty store is at revision 1, as etcd's.
//!
//! # Tables and key encoding
//!
//! - `mvcc_history`: `(key bytes, main revision)` → record, one row per change of a key,
//!   deletions included. redb orders tuple keys element by element, so a key's history is
//!   contiguous and "the key as it was at revision R" is one reverse seek. A key changes at most
//!   once per main revision ([`check_txn`] refuses txns that would write a key twice), so the
//!   sub revision lives in the record, not the row key.
//! - `mvcc_latest`: key → record of its live version (never a tombstone). Current reads, and
//!   writes looking up a key's previous version, use only this table, never history.
//! - `mvcc_changes`: `main ‖ sub` (8 + 8 bytes, big-endian) → key: the change log in revision
//!   order. With `mvcc_history` it is etcd's revision-keyed view: HashKV and compaction walk it,
//!   and watches can replay it.
//! - `mvcc_meta`: `b"current_revision"` and `b"compact_revision"` (absent until the first
//!   compaction; etcd's -1) → the revision as 8 bytes, big-endian with the sign bit flipped.
//! - `mvcc_lease_keys`: `lease id ‖ key` (the id as 8 bytes, big-endian with the sign bit
//!   flipped, so a lease's keys are one range in key order) → empty, for every live key attached
//!   to a lease: what a revoke deletes and `LeaseTimeToLive --keys` lists. Puts and deletes keep
//!   it in step with `mvcc_latest`; a put's lease must exist in the lease table ([`crate::lease`]).
//!
//! These are storage format 2 ([`crate::storage_format`]): every table but `mvcc_history` is a
//! `&[u8] → &[u8]` table with integers in order-preserving bytes (`byte_rows`), because
//! each distinct table type compiles redb's B-tree once more into the visualizer's wasm.
//! `mvcc_history` keeps redb's tuple key: a plain `key ‖ revision` concatenation would not keep
//! a key's history contiguous when one key is a prefix of another (the key `a` followed by the
//! 8 bytes of the number 5, at any revision, would sort between `a` at revisions 5 and 6), and
//! its range scans are the hot path.
//!
//! A record is the prost encoding of `etcdlab.StoredKeyValue` (sub revision, tombstone flag,
//! `mvccpb.KeyValue`); a deletion stores only the key, as etcd's tombstone does. Stored bytes
//! that do not decode give [`MvccError::Storage`], never a panic.
//!
//! # What one write transaction holds
//!
//! The caller owns the redb write transaction: the member applies every committed Raft entry of a
//! ready in one, together with the applied index, so a crash never applies a request twice or
//! half. Here each request adds, per change, a row to history, the change log and (put) latest
//! or (delete) a removal from latest, and then the new current revision to meta; a compaction
//! removes rows from history and the change log and records the compact revision.
//!
//! Every way a request can fail for the client (a put keeping the value of a missing key, a range
//! in a txn at a compacted or future revision, a txn that breaks etcd's rules, compaction bounds)
//! is checked before its first write, so a failed request leaves the transaction untouched and
//! the caller may go on with the next entry. Only [`MvccError::Storage`] can come mid-write; the
//! caller must then abort the transaction and [`MvccStore::open`] again, as it must whenever it
//! aborts a transaction this store wrote to (the store caches the two revision counters).
//!
//! Why this shape: current reads cost what they return (plus counting the range), history reads
//! one seek per key, compaction walks only the changes since the previous compaction, and all
//! state is in redb, so snapshots are table copies and the browser build uses redb's in-memory
//! backend unchanged.
//!
//! Submodules: `encoding` (records, etcd's revision key), `range` (key ranges and reads), `write`
//! (puts and deletes inside one revision), `txn` (checks, compares, nested ops), `compact`
//! (compaction and HashKV), `watch` (the change log read as watch events).

mod compact;
mod encoding;
mod range;
mod txn;
pub mod watch;
mod write;

use redb::{
    ReadOnlyTable, ReadTransaction, ReadableTable, ReadableTableMetadata, TableDefinition,
    TableError, WriteTransaction,
};

/// For the conversion of storage format 1 (`legacy`), which the browser build lacks.
#[cfg(not(target_arch = "wasm32"))]
pub(crate) use encoding::change_key;

use crate::byte_rows::{i64_bytes, read_i64, split_i64};
use crate::proto::etcdserverpb::{
    CompactionRequest, CompactionResponse, DeleteRangeRequest, DeleteRangeResponse, PutRequest,
    PutResponse, RangeRequest, RangeResponse, ResponseHeader, TxnRequest, TxnResponse,
};

pub use range::{KeyRange, prefix_end};
pub use txn::check_txn;
pub use write::KeyTables;
use write::Writer;

pub(crate) const HISTORY: TableDefinition<(&[u8], u64), &[u8]> =
    TableDefinition::new("mvcc_history");
pub(crate) const LATEST: TableDefinition<&[u8], &[u8]> = TableDefinition::new("mvcc_latest");
pub(crate) const CHANGES: TableDefinition<&[u8], &[u8]> = TableDefinition::new("mvcc_changes");
pub(crate) const META: TableDefinition<&[u8], &[u8]> = TableDefinition::new("mvcc_meta");
pub(crate) const LEASE_KEYS: TableDefinition<&[u8], &[u8]> =
    TableDefinition::new("mvcc_lease_keys");
const CURRENT_REVISION: &[u8] = b"current_revision";
const COMPACT_REVISION: &[u8] = b"compact_revision";

/// Most compares or operations one txn branch may hold: etcd's default `--max-txn-ops`.
pub const MAX_TXN_OPS: usize = 128;

/// Why a key-space request failed. The messages are etcd's, sent to clients verbatim.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MvccError {
    #[error("etcdserver: mvcc: required revision has been compacted")]
    Compacted,
    #[error("etcdserver: mvcc: required revision is a future revision")]
    FutureRevision,
    /// A put with `ignore_value`/`ignore_lease` on a missing key, or an empty txn operation.
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
    /// A put with a lease that does not exist, or a revoke of a missing lease.
    #[error("etcdserver: requested lease not found")]
    LeaseNotFound,
    #[error("etcdserver: lease already exists")]
    LeaseExists,
    #[error("etcdserver: too large lease TTL")]
    LeaseTtlTooLarge,
    /// A write while the NOSPACE alarm is raised (the backend quota was exceeded).
    #[error("etcdserver: mvcc: database space exceeded")]
    NoSpace,
    /// redb failed, or stored bytes are not what this module wrote.
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
storage_errors!(
    redb::Error,
    redb::StorageError,
    redb::TableError,
    redb::TransactionError,
    redb::CommitError
);

/// The key space. Its data lives in redb; this caches only the current and the compact revision,
/// which every write transaction given to it keeps up to date.
#[derive(Debug, Clone)]
pub struct MvccStore {
    current: i64,
    /// -1 until the first compaction, as etcd's `compactMainRev`.
    compacted: i64,
}

impl MvccStore {
    /// Creates the tables if needed and loads the revision counters.
    pub fn open(txn: &WriteTransaction) -> Result<MvccStore, MvccError> {
        txn.open_table(HISTORY)?;
        txn.open_table(LATEST)?;
        txn.open_table(CHANGES)?;
        txn.open_table(LEASE_KEYS)?;
        let (current, compacted) = counters(&txn.open_table(META)?)?;
        Ok(MvccStore { current, compacted })
    }

    /// The revision of the last change (1 on an empty store, as etcd).
    pub fn current_revision(&self) -> i64 {
        self.current
    }

    /// The revision history was last compacted to (0 if never).
    pub fn compact_revision(&self) -> i64 {
        self.compacted.max(0)
    }

    /// etcd's Put: a new version of the key under the next revision. `tables` are the key
    /// space's tables of the write transaction (opened once for a run of requests).
    pub fn put(
        &mut self,
        tables: &mut KeyTables<'_>,
        req: &PutRequest,
    ) -> Result<PutResponse, MvccError> {
        self.write_in(tables, |w| w.put(req))
    }

    /// etcd's DeleteRange: a tombstone for each live key in the range, all under one revision
    /// (none if nothing was there).
    pub fn delete_range(
        &mut self,
        tables: &mut KeyTables<'_>,
        req: &DeleteRangeRequest,
    ) -> Result<DeleteRangeResponse, MvccError> {
        self.write_in(tables, |w| w.delete_range(req))
    }

    /// etcd's Txn: [`check_txn`], then compares and the chosen branch's operations as one
    /// revision.
    pub fn txn(
        &mut self,
        tables: &mut KeyTables<'_>,
        req: &TxnRequest,
    ) -> Result<TxnResponse, MvccError> {
        check_txn(req)?;
        self.write_in(tables, |w| txn::apply(w, req))
    }

    /// etcd's Compact: drops history below `req.revision`, keeping each key's newest version at
    /// or below it (not even that if it is a deletion). Synchronous; `physical` changes nothing.
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
        self.write(txn, |w| compact::compact(w, rev))?;
        self.compacted = rev;
        Ok(CompactionResponse {
            header: Some(ResponseHeader {
                revision: self.current,
                ..Default::default()
            }),
        })
    }

    /// etcd's Range on a read snapshot (serializable and linearizable reads alike: the caller
    /// decides when to read).
    pub fn range(txn: &ReadTransaction, req: &RangeRequest) -> Result<RangeResponse, MvccError> {
        match ReadView::open(txn)? {
            Some(view) => range::read(
                &view.latest,
                &view.history,
                view.current,
                view.compacted,
                req,
            ),
            None if req.revision > 1 => Err(MvccError::FutureRevision),
            None => Ok(RangeResponse {
                header: Some(ResponseHeader {
                    revision: 1,
                    ..Default::default()
                }),
                ..Default::default()
            }),
        }
    }

    /// Deletes every key attached to `lease`, all under one revision (none if no key is
    /// attached); returns the revision after. The lease revoke's half in the key space.
    pub fn delete_leased_keys(
        &mut self,
        txn: &WriteTransaction,
        lease: i64,
    ) -> Result<i64, MvccError> {
        self.write(txn, |w| {
            for key in w.leased_keys(lease)? {
                w.delete_range(&DeleteRangeRequest {
                    key,
                    ..Default::default()
                })?;
            }
            Ok(())
        })?;
        Ok(self.current)
    }

    /// The live keys attached to `lease`, in key order.
    pub fn lease_keys(txn: &ReadTransaction, lease: i64) -> Result<Vec<Vec<u8>>, MvccError> {
        match txn.open_table(LEASE_KEYS) {
            Ok(table) => keys_of(&table, lease),
            Err(TableError::TableDoesNotExist(_)) => Ok(Vec::new()),
            Err(e) => Err(e.into()),
        }
    }

    /// etcd's HashKV: a CRC-32C of the key space's history at or below `rev` (0: current), equal
    /// to the hash etcd computes for the same history; with the compact revision (-1 if never
    /// compacted, as etcd answers) and the current revision.
    pub fn hash_kv(txn: &ReadTransaction, rev: i64) -> Result<(u32, i64, i64), MvccError> {
        match ReadView::open(txn)? {
            Some(view) => compact::hash_kv(&view, rev),
            None if rev > 1 => Err(MvccError::FutureRevision),
            None => Ok((crate::crc32c::CRC32C.checksum(b"key"), -1, 1)),
        }
    }

    /// Number of live keys.
    pub fn key_count(txn: &ReadTransaction) -> Result<u64, MvccError> {
        match ReadView::open(txn)? {
            Some(view) => Ok(view.latest.len()?),
            None => Ok(0),
        }
    }

    /// Copies the key space (history, change log, counters, leases) from a read snapshot into
    /// another database's write transaction, for a snapshot file: all but the live keys, which
    /// repeat history's newest rows and are rebuilt when the file is opened
    /// ([`MvccStore::rebuild_latest`]).
    pub fn copy_into(src: &ReadTransaction, dst: &WriteTransaction) -> Result<(), MvccError> {
        copy_table(&src.open_table(HISTORY)?, &mut dst.open_table(HISTORY)?)?;
        copy_table(&src.open_table(CHANGES)?, &mut dst.open_table(CHANGES)?)?;
        copy_table(&src.open_table(META)?, &mut dst.open_table(META)?)?;
        // Leases travel with the keys attached to them (a file saved before leases has none).
        copy_optional(src, dst, LEASE_KEYS)?;
        copy_optional(src, dst, crate::lease::LEASES)?;
        Ok(())
    }

    /// Fills `mvcc_latest` from `mvcc_history`: each key's newest change, unless it is a
    /// deletion. History is in key order, each key's rows oldest first: a key's newest row is
    /// the one before the next key's first.
    pub fn rebuild_latest(txn: &WriteTransaction) -> Result<(), MvccError> {
        let history = txn.open_table(HISTORY)?;
        let mut latest = txn.open_table(LATEST)?;
        latest.retain(|_, _| false)?;
        let mut newest: Option<(Vec<u8>, Vec<u8>)> = None;
        let mut keep = |row: Option<(Vec<u8>, Vec<u8>)>| -> Result<(), MvccError> {
            match row {
                Some((key, record)) if !encoding::Record::decode(&record)?.tombstone => {
                    latest.insert(key.as_slice(), record.as_slice())?;
                    Ok(())
                }
                _ => Ok(()),
            }
        };
        for row in history.iter()? {
            let (row_key, record) = row?;
            let (key, _) = row_key.value();
            match &mut newest {
                Some((newest_key, newest_record)) if newest_key.as_slice() == key => {
                    newest_record.clear();
                    newest_record.extend_from_slice(record.value());
                }
                _ => keep(newest.replace((key.to_vec(), record.value().to_vec())))?,
            }
        }
        keep(newest)
    }

    /// Runs one request as one revision (or none, if it changed nothing).
    fn write<T>(
        &mut self,
        txn: &WriteTransaction,
        f: impl FnOnce(&mut Writer<'_, '_>) -> Result<T, MvccError>,
    ) -> Result<T, MvccError> {
        self.write_in(&mut KeyTables::open(txn)?, f)
    }

    /// [`MvccStore::write`] with the tables already open.
    fn write_in<T>(
        &mut self,
        tables: &mut KeyTables<'_>,
        f: impl FnOnce(&mut Writer<'_, '_>) -> Result<T, MvccError>,
    ) -> Result<T, MvccError> {
        let mut w = Writer::begin(tables, self.current, self.compacted);
        let out = f(&mut w)?;
        self.current = w.finish()?;
        Ok(out)
    }
}

/// The current and compact revision as stored (1 and -1 when absent).
fn counters(
    meta: &impl ReadableTable<&'static [u8], &'static [u8]>,
) -> Result<(i64, i64), MvccError> {
    let read = |name: &[u8], absent: i64| match meta.get(name)? {
        Some(v) => read_i64(v.value()).map_err(MvccError::Storage),
        None => Ok(absent),
    };
    Ok((read(CURRENT_REVISION, 1)?, read(COMPACT_REVISION, -1)?))
}

/// The lease index's row for `key` attached to `lease`: the lease id first, so a lease's keys
/// are one range in key order.
pub(crate) fn lease_key_row(lease: i64, key: &[u8]) -> Vec<u8> {
    [&i64_bytes(lease)[..], key].concat()
}

/// The key space's tables in a read snapshot.
struct ReadView {
    latest: ReadOnlyTable<&'static [u8], &'static [u8]>,
    history: ReadOnlyTable<(&'static [u8], u64), &'static [u8]>,
    changes: ReadOnlyTable<&'static [u8], &'static [u8]>,
    current: i64,
    compacted: i64,
}

impl ReadView {
    /// `None` if the key space was never created in this database.
    fn open(txn: &ReadTransaction) -> Result<Option<ReadView>, MvccError> {
        let meta = match txn.open_table(META) {
            Ok(meta) => meta,
            Err(TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let (current, compacted) = counters(&meta)?;
        Ok(Some(ReadView {
            latest: txn.open_table(LATEST)?,
            history: txn.open_table(HISTORY)?,
            changes: txn.open_table(CHANGES)?,
            current,
            compacted,
        }))
    }
}

/// The keys attached to `lease` in the lease index, in key order.
pub(super) fn keys_of(
    table: &impl ReadableTable<&'static [u8], &'static [u8]>,
    lease: i64,
) -> Result<Vec<Vec<u8>>, MvccError> {
    let mut keys = Vec::new();
    for row in table.range(&i64_bytes(lease)[..]..)? {
        let (k, _) = row?;
        let (owner, key) = split_i64(k.value()).map_err(MvccError::Storage)?;
        if owner != lease {
            break;
        }
        keys.push(key.to_vec());
    }
    Ok(keys)
}

/// Copies a table that an older database may lack (then there is nothing to copy).
fn copy_optional<K: redb::Key + 'static, V: redb::Value + 'static>(
    src: &ReadTransaction,
    dst: &WriteTransaction,
    table: TableDefinition<'static, K, V>,
) -> Result<(), MvccError> {
    match src.open_table(table) {
        Ok(rows) => copy_table(&rows, &mut dst.open_table(table)?),
        Err(TableError::TableDoesNotExist(_)) => Ok(()),
        Err(e) => Err(e.into()),
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

#[cfg(test)]
mod tests;
