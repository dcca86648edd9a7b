//! How one change of a key is stored, the change log's row keys, and the byte forms etcd's
//! HashKV digests.
//!
//! A change is a [`Record`], stored as the prost encoding of `etcdlab.StoredKeyValue`:
//! the sub revision, a tombstone flag, and the key's `mvccpb.KeyValue` after the change (for a
//! deletion only the key, exactly as etcd stores a tombstone). Decoding never panics: bytes that
//! are not a record, or a record without its key-value, are a [`MvccError::Storage`].

use prost::Message as _;

use super::MvccError;
use crate::byte_rows::{read_u64, split_u64, u64_bytes};
use crate::proto::etcdlab::StoredKeyValue;
use crate::proto::mvccpb::KeyValue;

/// One stored change of a key.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Record {
    /// The change's sub revision inside its main revision (`kv.mod_revision`, or for a
    /// tombstone the history row's revision).
    pub sub: i64,
    /// A deletion: the key has no value from this revision on.
    pub tombstone: bool,
    /// The key's state after the change; for a tombstone, the key alone.
    pub kv: KeyValue,
}

impl Record {
    pub fn encode(&self) -> Vec<u8> {
        StoredKeyValue {
            sub: self.sub,
            tombstone: self.tombstone,
            kv: Some(self.kv.clone()),
        }
        .encode_to_vec()
    }

    pub fn decode(bytes: &[u8]) -> Result<Record, MvccError> {
        let stored = StoredKeyValue::decode(bytes)
            .map_err(|e| MvccError::Storage(format!("undecodable mvcc record: {e}")))?;
        let kv = stored
            .kv
            .ok_or_else(|| MvccError::Storage("mvcc record without a key-value".into()))?;
        Ok(Record {
            sub: stored.sub,
            tombstone: stored.tombstone,
            kv,
        })
    }

    /// Decodes a record that must be a live key (the `mvcc_latest` table holds no tombstones).
    pub fn decode_live(bytes: &[u8]) -> Result<KeyValue, MvccError> {
        let record = Record::decode(bytes)?;
        if record.tombstone {
            return Err(MvccError::Storage(
                "tombstone in the table of live keys".into(),
            ));
        }
        Ok(record.kv)
    }
}

/// etcd's key of a revision in its `key` bucket: 8 bytes of main revision (big endian), `_`,
/// 8 bytes of sub revision, and a trailing `t` for a tombstone. HashKV digests these.
pub(super) fn etcd_revision_key(main: i64, sub: i64, tombstone: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(18);
    out.extend_from_slice(&main.to_be_bytes());
    out.push(b'_');
    out.extend_from_slice(&sub.to_be_bytes());
    if tombstone {
        out.push(b't');
    }
    out
}

/// A revision as a table key part. Revisions in tables are never negative; a negative bound
/// (only ever a caller's out-of-range request) clamps to 0.
pub(super) fn rev_key(rev: i64) -> u64 {
    u64::try_from(rev).unwrap_or(0)
}

/// The change log's row key for a change at (main, sub) revision: both big-endian
/// (`byte_rows`), so the rows are in revision order.
pub(crate) fn change_key(main: u64, sub: u64) -> [u8; 16] {
    let mut key = [0; 16];
    key[..8].copy_from_slice(&u64_bytes(main));
    key[8..].copy_from_slice(&u64_bytes(sub));
    key
}

/// The (main, sub) revision of a change log row.
pub(super) fn split_change_key(key: &[u8]) -> Result<(u64, u64), MvccError> {
    let corrupt = |e: String| MvccError::Storage(format!("change log row key: {e}"));
    let (main, rest) = split_u64(key).map_err(corrupt)?;
    Ok((main, read_u64(rest).map_err(corrupt)?))
}
