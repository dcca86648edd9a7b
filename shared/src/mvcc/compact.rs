//! Compaction (dropping history below a revision) and etcd's HashKV over what remains.

use std::collections::BTreeMap;

use prost::Message as _;
use redb::{ReadableTable, ReadableTableMetadata};

use super::encoding::{Record, change_key, etcd_revision_key, rev_key, split_change_key};
use super::range;
use super::write::Writer;
use super::{MvccError, ReadView};

fn missing_history(key: &[u8], main: u64) -> MvccError {
    MvccError::Storage(format!(
        "change log names key {} at revision {main}, which history lacks",
        key.escape_ascii()
    ))
}

/// Compacts to `rev` (already checked to lie after the current compaction point and at or
/// before the current revision): below it, each key keeps only its newest change at or below
/// `rev`, and not even that if it is a deletion — etcd's `keyIndex.compact`.
///
/// Only the change log since the previous compaction is walked: everything older is already one
/// surviving version per key, which goes only if its key changed since.
pub(super) fn compact(w: &mut Writer<'_, '_>, rev: i64) -> Result<(), MvccError> {
    let old = w.compacted();
    let mut newest: BTreeMap<Vec<u8>, (u64, u64)> = BTreeMap::new();
    let mut doomed: Vec<(Vec<u8>, u64, u64)> = Vec::new();
    for row in w
        .changes
        .range(&change_key(rev_key(old + 1), 0)[..]..=&change_key(rev_key(rev), u64::MAX)[..])?
    {
        let (revision, key) = row?;
        let (main, sub) = split_change_key(revision.value())?;
        let key = key.value().to_vec();
        if let Some((older_main, older_sub)) = newest.insert(key.clone(), (main, sub)) {
            doomed.push((key, older_main, older_sub));
        }
    }
    for (key, &(main, sub)) in &newest {
        if old >= 1 {
            // The key's survivor of the previous compaction, superseded now.
            for row in w
                .history
                .range::<(&[u8], u64)>((key.as_slice(), 0u64)..=(key.as_slice(), rev_key(old)))?
            {
                let (k, v) = row?;
                let sub = rev_key(Record::decode(v.value())?.sub);
                doomed.push((key.clone(), k.value().1, sub));
            }
        }
        let tombstone = match w.history.get((key.as_slice(), main))? {
            Some(v) => Record::decode(v.value())?.tombstone,
            None => return Err(missing_history(key, main)),
        };
        if tombstone {
            doomed.push((key.clone(), main, sub));
        }
    }
    for (key, main, sub) in doomed {
        w.history.remove((key.as_slice(), main))?;
        w.changes.remove(&change_key(main, sub)[..])?;
    }
    w.set_compacted(rev)
}

/// etcd's `HashByRev`: CRC-32C (Castagnoli) of `"key"` followed by, for every stored change at
/// or below `rev` (0: the current revision) in revision order, etcd's revision key
/// ([`etcd_revision_key`]) and the marshalled `mvccpb.KeyValue` — so the same history hashes as
/// in etcd itself. Changes at or below the compaction point count only while still their key's
/// newest version at `rev` (etcd's `kvindex.Keep`), unless no key is live at `rev` at all.
///
/// Returns the hash, the compact revision (-1 when never compacted, as etcd reports it) and the
/// current revision.
pub(super) fn hash_kv(view: &ReadView, rev: i64) -> Result<(u32, i64, i64), MvccError> {
    let (current, compacted) = (view.current, view.compacted);
    if rev > 0 && rev <= compacted {
        return Err(MvccError::Compacted);
    }
    if rev > current {
        return Err(MvccError::FutureRevision);
    }
    let upto = if rev == 0 { current } else { rev };
    let mut digest = crate::crc32c::CRC32C.digest();
    digest.update(b"key");
    if upto < 1 {
        return Ok((digest.finalize(), compacted, current));
    }
    let mut anything_live: Option<bool> = None;
    for row in view
        .changes
        .range(&change_key(0, 0)[..]..=&change_key(rev_key(upto), u64::MAX)[..])?
    {
        let (revision, key) = row?;
        let (main, sub) = split_change_key(revision.value())?;
        let key = key.value();
        let record = match view.history.get((key, main))? {
            Some(v) => Record::decode(v.value())?,
            None => return Err(missing_history(key, main)),
        };
        if (main as i64) <= compacted {
            let superseded = record.tombstone
                || view
                    .history
                    .range::<(&[u8], u64)>((key, rev_key(compacted) + 1)..=(key, rev_key(upto)))?
                    .next()
                    .is_some();
            if superseded {
                let live = match anything_live {
                    Some(live) => live,
                    None => {
                        let live = if upto == current {
                            !view.latest.is_empty()?
                        } else {
                            range::any_live_at(&view.history, upto)?
                        };
                        *anything_live.insert(live)
                    }
                };
                if live {
                    continue;
                }
            }
        }
        digest.update(&etcd_revision_key(
            main as i64,
            sub as i64,
            record.tombstone,
        ));
        digest.update(&record.kv.encode_to_vec());
    }
    Ok((digest.finalize(), compacted, current))
}
