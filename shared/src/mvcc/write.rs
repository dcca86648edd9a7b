//! One write request in progress: the key space's tables open in the caller's redb write
//! transaction ([`KeyTables`], opened once for a run of requests), the main revision the
//! request will take, and the next sub revision.
//!
//! Puts and deletes go through [`Writer`] whether they come alone or inside a txn; a request
//! that changes nothing leaves the revision where it was.

use std::ops::{Deref, DerefMut};

use redb::{ReadableTable, Table, WriteTransaction};

use crate::byte_rows::i64_bytes;

use super::encoding::{Record, change_key, rev_key};
use super::range::{self, KeyRange};
use super::{
    CHANGES, COMPACT_REVISION, CURRENT_REVISION, HISTORY, LATEST, LEASE_KEYS, META, MvccError,
    lease_key_row,
};
use crate::proto::etcdserverpb::{
    DeleteRangeRequest, DeleteRangeResponse, PutRequest, PutResponse, RangeRequest, RangeResponse,
    ResponseHeader,
};
use crate::proto::mvccpb::KeyValue;

/// The tables a write request uses, open in one write transaction. Opening a table is a
/// lookup in redb's table of tables, so a run of requests applied together (a ready's
/// committed entries) opens them once; while they are open, nothing else in the transaction
/// may open them.
pub struct KeyTables<'t> {
    pub(super) latest: Table<'t, &'static [u8], &'static [u8]>,
    pub(super) history: Table<'t, (&'static [u8], u64), &'static [u8]>,
    pub(super) changes: Table<'t, &'static [u8], &'static [u8]>,
    meta: Table<'t, &'static [u8], &'static [u8]>,
    /// The index of keys attached to leases, kept in step with `latest`.
    lease_keys: Table<'t, &'static [u8], &'static [u8]>,
    leases: Table<'t, &'static [u8], &'static [u8]>,
}

impl<'t> KeyTables<'t> {
    pub fn open(txn: &'t WriteTransaction) -> Result<KeyTables<'t>, MvccError> {
        Ok(KeyTables {
            latest: txn.open_table(LATEST)?,
            history: txn.open_table(HISTORY)?,
            changes: txn.open_table(CHANGES)?,
            meta: txn.open_table(META)?,
            lease_keys: txn.open_table(LEASE_KEYS)?,
            leases: txn.open_table(crate::lease::LEASES)?,
        })
    }
}

pub(super) struct Writer<'a, 't> {
    tables: &'a mut KeyTables<'t>,
    /// The revision before this request.
    base: i64,
    compacted: i64,
    next_sub: i64,
}

impl<'t> Deref for Writer<'_, 't> {
    type Target = KeyTables<'t>;

    fn deref(&self) -> &KeyTables<'t> {
        self.tables
    }
}

impl<'t> DerefMut for Writer<'_, 't> {
    fn deref_mut(&mut self) -> &mut KeyTables<'t> {
        self.tables
    }
}

impl<'a, 't> Writer<'a, 't> {
    pub fn begin(tables: &'a mut KeyTables<'t>, current: i64, compacted: i64) -> Writer<'a, 't> {
        Writer {
            tables,
            base: current,
            compacted,
            next_sub: 0,
        }
    }

    /// The main revision this request's changes take.
    pub fn main(&self) -> i64 {
        self.base + 1
    }

    /// The revision a read inside this request sees, and the one its response reports: the
    /// request's own once it has changed something, else the revision before it (as etcd).
    pub fn revision(&self) -> i64 {
        if self.next_sub > 0 {
            self.main()
        } else {
            self.base
        }
    }

    pub fn revision_before(&self) -> i64 {
        self.base
    }

    pub fn compacted(&self) -> i64 {
        self.compacted
    }

    /// Records the new current revision if anything changed, and returns it.
    pub fn finish(mut self) -> Result<i64, MvccError> {
        let rev = self.revision();
        if rev != self.base {
            self.meta.insert(CURRENT_REVISION, &i64_bytes(rev)[..])?;
        }
        Ok(rev)
    }

    /// Records a compaction point.
    pub fn set_compacted(&mut self, rev: i64) -> Result<(), MvccError> {
        self.meta.insert(COMPACT_REVISION, &i64_bytes(rev)[..])?;
        self.compacted = rev;
        Ok(())
    }

    pub fn get(&self, key: &[u8]) -> Result<Option<KeyValue>, MvccError> {
        match self.latest.get(key)? {
            Some(v) => Ok(Some(Record::decode_live(v.value())?)),
            None => Ok(None),
        }
    }

    /// Whether the lease exists (0, no lease, always does).
    pub fn lease_exists(&self, lease: i64) -> Result<bool, MvccError> {
        Ok(lease == 0 || self.leases.get(&i64_bytes(lease)[..])?.is_some())
    }

    /// The live keys attached to `lease`, in key order.
    pub fn leased_keys(&self, lease: i64) -> Result<Vec<Vec<u8>>, MvccError> {
        super::keys_of(&self.lease_keys, lease)
    }

    /// Moves `key` in the lease index from lease `from` to lease `to` (0: none).
    fn reattach(&mut self, key: &[u8], from: i64, to: i64) -> Result<(), MvccError> {
        if from == to {
            return Ok(());
        }
        if from != 0 {
            self.lease_keys
                .remove(lease_key_row(from, key).as_slice())?;
        }
        if to != 0 {
            self.lease_keys
                .insert(lease_key_row(to, key).as_slice(), &[][..])?;
        }
        Ok(())
    }

    /// A range that sees this request's writes so far.
    pub fn range(&self, req: &RangeRequest) -> Result<RangeResponse, MvccError> {
        range::read(
            &self.latest,
            &self.history,
            self.revision(),
            self.compacted,
            req,
        )
    }

    pub fn put(&mut self, req: &PutRequest) -> Result<PutResponse, MvccError> {
        if req.key.is_empty() {
            return Err(MvccError::EmptyKey);
        }
        if !self.lease_exists(req.lease)? {
            return Err(MvccError::LeaseNotFound);
        }
        let prev = self.get(&req.key)?;
        if (req.ignore_value || req.ignore_lease) && prev.is_none() {
            return Err(MvccError::KeyNotFound);
        }
        let main = self.main();
        let kv = KeyValue {
            key: req.key.clone(),
            create_revision: prev.as_ref().map_or(main, |p| p.create_revision),
            mod_revision: main,
            version: prev.as_ref().map_or(1, |p| p.version + 1),
            value: match &prev {
                Some(p) if req.ignore_value => p.value.clone(),
                _ => req.value.clone(),
            },
            lease: match &prev {
                Some(p) if req.ignore_lease => p.lease,
                _ => req.lease,
            },
        };
        self.reattach(&req.key, prev.as_ref().map_or(0, |p| p.lease), kv.lease)?;
        let record = Record {
            sub: self.next_sub,
            tombstone: false,
            kv,
        }
        .encode();
        self.latest.insert(req.key.as_slice(), record.as_slice())?;
        self.record(&req.key, &record)?;
        Ok(PutResponse {
            header: Some(ResponseHeader {
                revision: main,
                ..Default::default()
            }),
            prev_kv: if req.prev_kv { prev } else { None },
        })
    }

    pub fn delete_range(
        &mut self,
        req: &DeleteRangeRequest,
    ) -> Result<DeleteRangeResponse, MvccError> {
        if req.key.is_empty() {
            return Err(MvccError::EmptyKey);
        }
        let range = KeyRange::new(&req.key, &req.range_end);
        let mut prev_kvs = Vec::new();
        if !range.is_empty() {
            for row in self.latest.range::<&[u8]>(range.bounds())? {
                prev_kvs.push(Record::decode_live(row?.1.value())?);
            }
        }
        for prev in &prev_kvs {
            let key = &prev.key;
            self.reattach(key, prev.lease, 0)?;
            self.latest.remove(key.as_slice())?;
            // As etcd stores a deletion: the key alone; the revision is in the row's key.
            let record = Record {
                sub: self.next_sub,
                tombstone: true,
                kv: KeyValue {
                    key: key.clone(),
                    ..Default::default()
                },
            }
            .encode();
            self.record(key, &record)?;
        }
        Ok(DeleteRangeResponse {
            header: Some(ResponseHeader {
                revision: self.revision(),
                ..Default::default()
            }),
            deleted: prev_kvs.len() as i64,
            prev_kvs: if req.prev_kv { prev_kvs } else { Vec::new() },
        })
    }

    /// Adds one change to the history and the change log under the next sub revision.
    fn record(&mut self, key: &[u8], record: &[u8]) -> Result<(), MvccError> {
        let main = rev_key(self.main());
        let sub = rev_key(self.next_sub);
        // The txn checks guarantee one change per key per revision; were it ever broken, the
        // history (one row per key and revision) would lose a change, so refuse instead.
        if self.history.insert((key, main), record)?.is_some() {
            return Err(MvccError::Storage(format!(
                "key {} changed twice in revision {main}",
                key.escape_ascii()
            )));
        }
        self.changes.insert(&change_key(main, sub)[..], key)?;
        self.next_sub += 1;
        Ok(())
    }
}
