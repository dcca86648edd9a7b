//! Key ranges as etcd encodes them, and range reads: at the current revision straight from
//! `mvcc_latest`, at an older revision from `mvcc_history` (for each key, its newest change at or
//! below the revision); then etcd's filters, sorting, `limit`, `more` and `count`.
//!
//! Everything here is generic over redb's [`ReadableTable`], so a read snapshot
//! ([`MvccStore::range`](super::MvccStore::range)) and a range inside a txn's write transaction
//! (which must see the txn's own writes) run the same code.

use std::ops::{Bound, ControlFlow};

use redb::ReadableTable;

use super::MvccError;
use super::encoding::{Record, rev_key};
use crate::proto::etcdserverpb::range_request::{SortOrder, SortTarget};
use crate::proto::etcdserverpb::{RangeRequest, RangeResponse, ResponseHeader};
use crate::proto::mvccpb::KeyValue;

/// Which keys a request names: `range_end` empty is the one key `key`; `"\0"` means every key
/// from `key` on (so `key` `"\0"` with `range_end` `"\0"` is every key); otherwise
/// `[key, range_end)`, empty when `range_end <= key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRange {
    pub start: Vec<u8>,
    /// Exclusive end; `None` for no upper bound.
    pub end: Option<Vec<u8>>,
}

/// The smallest key after every key starting with `prefix` (`"\0"`, the end of the key space,
/// when there is none), as clientv3's `GetPrefixRangeEnd`.
pub fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    vec![0]
}

impl KeyRange {
    pub fn new(key: &[u8], range_end: &[u8]) -> KeyRange {
        let end = match range_end {
            [] => {
                let mut end = key.to_vec();
                end.push(0);
                Some(end)
            }
            [0] => None,
            _ => Some(range_end.to_vec()),
        };
        KeyRange {
            start: key.to_vec(),
            end,
        }
    }

    pub fn contains(&self, key: &[u8]) -> bool {
        key >= self.start.as_slice() && self.end.as_deref().is_none_or(|e| key < e)
    }

    pub fn is_empty(&self) -> bool {
        self.end
            .as_deref()
            .is_some_and(|e| e <= self.start.as_slice())
    }

    pub(super) fn bounds(&self) -> (Bound<&[u8]>, Bound<&[u8]>) {
        let end = match &self.end {
            Some(e) => Bound::Excluded(e.as_slice()),
            None => Bound::Unbounded,
        };
        (Bound::Included(self.start.as_slice()), end)
    }
}

/// Calls `f` with each live key-value in `range` at the latest revision, in key order, until it
/// breaks.
pub(super) fn for_each_live<L>(
    latest: &L,
    range: &KeyRange,
    mut f: impl FnMut(KeyValue) -> Result<ControlFlow<()>, MvccError>,
) -> Result<(), MvccError>
where
    L: ReadableTable<&'static [u8], &'static [u8]>,
{
    if range.is_empty() {
        return Ok(());
    }
    for row in latest.range::<&[u8]>(range.bounds())? {
        let (_, v) = row?;
        if f(Record::decode_live(v.value())?)?.is_break() {
            break;
        }
    }
    Ok(())
}

/// Calls `f` with each key's newest change at or below `rev` in `range` (tombstones included),
/// in key order, until it breaks. One seek per key, however long its history.
pub(super) fn for_each_newest_at<H>(
    history: &H,
    range: &KeyRange,
    rev: i64,
    mut f: impl FnMut(Record) -> Result<ControlFlow<()>, MvccError>,
) -> Result<(), MvccError>
where
    H: ReadableTable<(&'static [u8], u64), &'static [u8]>,
{
    if range.is_empty() {
        return Ok(());
    }
    let upper = match &range.end {
        Some(e) => Bound::Excluded((e.as_slice(), 0u64)),
        None => Bound::Unbounded,
    };
    let mut previous: Option<Vec<u8>> = None;
    loop {
        let lower = match &previous {
            None => Bound::Included((range.start.as_slice(), 0u64)),
            Some(k) => Bound::Excluded((k.as_slice(), u64::MAX)),
        };
        let key = match history.range::<(&[u8], u64)>((lower, upper))?.next() {
            None => return Ok(()),
            Some(row) => row?.0.value().0.to_vec(),
        };
        let newest = history
            .range::<(&[u8], u64)>((key.as_slice(), 0u64)..=(key.as_slice(), rev_key(rev)))?
            .next_back();
        if let Some(row) = newest {
            let (_, v) = row?;
            if f(Record::decode(v.value())?)?.is_break() {
                return Ok(());
            }
        }
        previous = Some(key);
    }
}

/// Whether any key is live at `rev` (a key whose newest change at or below it is a put).
pub(super) fn any_live_at<H>(history: &H, rev: i64) -> Result<bool, MvccError>
where
    H: ReadableTable<(&'static [u8], u64), &'static [u8]>,
{
    let mut found = false;
    for_each_newest_at(history, &KeyRange::new(&[0], &[0]), rev, |record| {
        found = !record.tombstone;
        Ok(if found {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        })
    })?;
    Ok(found)
}

/// The matching keys: how many there are, and the first `limit` of them decoded (none when only
/// counting).
struct Matches {
    count: i64,
    kvs: Vec<KeyValue>,
}

fn matches_now<L>(
    latest: &L,
    range: &KeyRange,
    count_only: bool,
    limit: Option<usize>,
) -> Result<Matches, MvccError>
where
    L: ReadableTable<&'static [u8], &'static [u8]>,
{
    let mut out = Matches {
        count: 0,
        kvs: Vec::new(),
    };
    if range.is_empty() {
        return Ok(out);
    }
    for row in latest.range::<&[u8]>(range.bounds())? {
        let (_, v) = row?;
        out.count += 1;
        if !count_only && limit.is_none_or(|l| out.kvs.len() < l) {
            out.kvs.push(Record::decode_live(v.value())?);
        }
    }
    Ok(out)
}

fn matches_at<H>(
    history: &H,
    range: &KeyRange,
    rev: i64,
    count_only: bool,
    limit: Option<usize>,
) -> Result<Matches, MvccError>
where
    H: ReadableTable<(&'static [u8], u64), &'static [u8]>,
{
    let mut out = Matches {
        count: 0,
        kvs: Vec::new(),
    };
    for_each_newest_at(history, range, rev, |record| {
        if !record.tombstone {
            out.count += 1;
            if !count_only && limit.is_none_or(|l| out.kvs.len() < l) {
                out.kvs.push(record.kv);
            }
        }
        Ok(ControlFlow::Continue(()))
    })?;
    Ok(out)
}

/// Serves a Range request as etcd's applier does, `current` being the revision the reader sees
/// (inside a txn that has written: the txn's own) and `compacted` the compaction point (-1 when
/// never compacted, as etcd).
pub(super) fn read<L, H>(
    latest: &L,
    history: &H,
    current: i64,
    compacted: i64,
    req: &RangeRequest,
) -> Result<RangeResponse, MvccError>
where
    L: ReadableTable<&'static [u8], &'static [u8]>,
    H: ReadableTable<(&'static [u8], u64), &'static [u8]>,
{
    if req.revision > current {
        return Err(MvccError::FutureRevision);
    }
    let rev = if req.revision <= 0 {
        current
    } else {
        req.revision
    };
    // Reading at the compaction point itself is allowed: each key's newest version there
    // survives compaction.
    if rev < compacted {
        return Err(MvccError::Compacted);
    }
    let range = KeyRange::new(&req.key, &req.range_end);
    // As etcd: a requested order (even NONE-defaulted targets are not "requested") or a revision
    // filter means fetching everything, then filtering, sorting and truncating; otherwise fetch
    // one more than the limit, to know whether there is `more`.
    let fetch_all = req.sort_order != SortOrder::None as i32
        || req.min_mod_revision != 0
        || req.max_mod_revision != 0
        || req.min_create_revision != 0
        || req.max_create_revision != 0;
    let fetch_limit = match usize::try_from(req.limit) {
        Ok(l) if l > 0 && !fetch_all => Some(l.saturating_add(1)),
        _ => None,
    };
    let Matches { count, mut kvs } = if rev == current {
        matches_now(latest, &range, req.count_only, fetch_limit)?
    } else {
        matches_at(history, &range, rev, req.count_only, fetch_limit)?
    };
    let header = Some(ResponseHeader {
        revision: current,
        ..Default::default()
    });
    if req.count_only {
        return Ok(RangeResponse {
            header,
            kvs: Vec::new(),
            more: false,
            count,
        });
    }
    // `count` stays the number of keys in the range, before the revision filters (as etcd).
    kvs.retain(|kv| {
        (req.max_mod_revision == 0 || kv.mod_revision <= req.max_mod_revision)
            && (req.min_mod_revision == 0 || kv.mod_revision >= req.min_mod_revision)
            && (req.max_create_revision == 0 || kv.create_revision <= req.max_create_revision)
            && (req.min_create_revision == 0 || kv.create_revision >= req.min_create_revision)
    });
    sort(&mut kvs, req);
    let mut more = false;
    if let Ok(limit) = usize::try_from(req.limit)
        && limit > 0
        && kvs.len() > limit
    {
        kvs.truncate(limit);
        more = true;
    }
    if req.keys_only {
        for kv in &mut kvs {
            kv.value.clear();
        }
    }
    Ok(RangeResponse {
        header,
        kvs,
        more,
        count,
    })
}

/// etcd's ordering: results come in ascending key order; a target other than KEY with order NONE
/// means ASCEND. The sort is stable, so ties stay in key order.
fn sort(kvs: &mut [KeyValue], req: &RangeRequest) {
    let Ok(target) = SortTarget::try_from(req.sort_target) else {
        return;
    };
    let mut order = SortOrder::try_from(req.sort_order).unwrap_or(SortOrder::None);
    if target != SortTarget::Key && order == SortOrder::None {
        order = SortOrder::Ascend;
    }
    let descend = match order {
        SortOrder::None => return,
        SortOrder::Ascend if target == SortTarget::Key => return,
        SortOrder::Ascend => false,
        SortOrder::Descend => true,
    };
    kvs.sort_by(|a, b| {
        let ord = match target {
            SortTarget::Key => a.key.cmp(&b.key),
            SortTarget::Version => a.version.cmp(&b.version),
            SortTarget::Create => a.create_revision.cmp(&b.create_revision),
            SortTarget::Mod => a.mod_revision.cmp(&b.mod_revision),
            SortTarget::Value => a.value.cmp(&b.value),
        };
        if descend { ord.reverse() } else { ord }
    });
}
