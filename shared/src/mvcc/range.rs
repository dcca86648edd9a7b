//! Key ranges as etcd encodes them, and range reads: at the current revision from the
//! `mvcc_latest` table, at an older revision by walking `mvcc_history`; then etcd's filters,
//! sorting, limit, `more` and `count`.

use std::ops::Bound;

use redb::ReadableTable;

use super::{MvccError, decode};
use crate::proto::etcdserverpb::range_request::{SortOrder, SortTarget};
use crate::proto::etcdserverpb::{RangeRequest, RangeResponse, ResponseHeader};
use crate::proto::mvccpb::KeyValue;

/// Which keys a request names: `range_end` empty is the one key; `"\0"` means every key from
/// `key` on (and with `key` `"\0"` too, every key); otherwise `[key, range_end)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRange {
    pub start: Vec<u8>,
    /// Exclusive end; `None` for no upper bound.
    pub end: Option<Vec<u8>>,
    pub single: bool,
}

impl KeyRange {
    pub fn new(key: &[u8], range_end: &[u8]) -> KeyRange {
        if range_end.is_empty() {
            let mut end = key.to_vec();
            end.push(0);
            return KeyRange {
                start: key.to_vec(),
                end: Some(end),
                single: true,
            };
        }
        let end = if range_end == [0] {
            None
        } else {
            Some(range_end.to_vec())
        };
        KeyRange {
            start: key.to_vec(),
            end,
            single: false,
        }
    }

    pub fn contains(&self, key: &[u8]) -> bool {
        key >= self.start.as_slice() && self.end.as_deref().is_none_or(|e| key < e)
    }

    /// Whether the two ranges share a key.
    pub fn overlaps(&self, other: &KeyRange) -> bool {
        let starts_before_other_ends = other
            .end
            .as_deref()
            .is_none_or(|e| self.start.as_slice() < e);
        let other_starts_before_end = self
            .end
            .as_deref()
            .is_none_or(|e| other.start.as_slice() < e);
        starts_before_other_ends && other_starts_before_end
    }

    fn is_empty(&self) -> bool {
        self.end
            .as_deref()
            .is_some_and(|e| e <= self.start.as_slice())
    }

    fn bounds(&self) -> (Bound<&[u8]>, Bound<&[u8]>) {
        let end = match &self.end {
            Some(e) => Bound::Excluded(e.as_slice()),
            None => Bound::Unbounded,
        };
        (Bound::Included(self.start.as_slice()), end)
    }
}

/// The live key-values in `range`, in key order.
pub(super) fn live_in<T>(latest: &T, range: &KeyRange) -> Result<Vec<KeyValue>, MvccError>
where
    T: ReadableTable<&'static [u8], &'static [u8]>,
{
    if range.is_empty() {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for row in latest.range::<&[u8]>(range.bounds())? {
        let (_, v) = row?;
        if let Some(kv) = decode(v.value())?.kv {
            out.push(kv);
        }
    }
    Ok(out)
}

/// The key-values in `range` as they were at revision `rev`, in key order.
fn at_revision<T>(history: &T, range: &KeyRange, rev: i64) -> Result<Vec<KeyValue>, MvccError>
where
    T: ReadableTable<(&'static [u8], u64), &'static [u8]>,
{
    if range.is_empty() {
        return Ok(Vec::new());
    }
    let start = (range.start.as_slice(), 0u64);
    let rows = match &range.end {
        Some(end) => history.range(start..(end.as_slice(), 0u64))?,
        None => history.range(start..)?,
    };
    let mut out = Vec::new();
    // For each key, remember the newest version at or below `rev`; emit it when the key changes.
    let mut current: Option<(Vec<u8>, Option<KeyValue>)> = None;
    for row in rows {
        let (k, v) = row?;
        let (key, main) = k.value();
        if current.as_ref().is_none_or(|(ck, _)| ck.as_slice() != key) {
            if let Some((_, Some(kv))) = current.take() {
                out.push(kv);
            }
            current = Some((key.to_vec(), None));
        }
        if main as i64 <= rev {
            let stored = decode(v.value())?;
            let slot = &mut current.as_mut().expect("set above").1;
            *slot = if stored.tombstone { None } else { stored.kv };
        }
    }
    if let Some((_, Some(kv))) = current {
        out.push(kv);
    }
    Ok(out)
}

/// Serves a Range request at `req.revision` (0: current) as etcd's applier does.
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
    let rev = if req.revision <= 0 {
        current
    } else {
        req.revision
    };
    if rev > current {
        return Err(MvccError::FutureRevision);
    }
    if rev < compacted {
        return Err(MvccError::Compacted);
    }
    let range = KeyRange::new(&req.key, &req.range_end);
    let mut kvs = if rev == current {
        live_in(latest, &range)?
    } else {
        at_revision(history, &range, rev)?
    };
    let count = kvs.len() as i64;
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
    kvs.retain(|kv| {
        (req.max_mod_revision == 0 || kv.mod_revision <= req.max_mod_revision)
            && (req.min_mod_revision == 0 || kv.mod_revision >= req.min_mod_revision)
            && (req.max_create_revision == 0 || kv.create_revision <= req.max_create_revision)
            && (req.min_create_revision == 0 || kv.create_revision >= req.min_create_revision)
    });
    sort(&mut kvs, req);
    let mut more = false;
    if req.limit > 0 && kvs.len() > req.limit as usize {
        kvs.truncate(req.limit as usize);
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

/// etcd's ordering: by key ascending unless asked; a non-key target with no order means ascending.
fn sort(kvs: &mut [KeyValue], req: &RangeRequest) {
    let target = SortTarget::try_from(req.sort_target).unwrap_or(SortTarget::Key);
    let mut order = SortOrder::try_from(req.sort_order).unwrap_or(SortOrder::None);
    if target != SortTarget::Key && order == SortOrder::None {
        order = SortOrder::Ascend;
    }
    if order == SortOrder::None || (order == SortOrder::Ascend && target == SortTarget::Key) {
        return;
    }
    kvs.sort_by(|a, b| {
        let ord = match target {
            SortTarget::Key => a.key.cmp(&b.key),
            SortTarget::Version => a.version.cmp(&b.version),
            SortTarget::Create => a.create_revision.cmp(&b.create_revision),
            SortTarget::Mod => a.mod_revision.cmp(&b.mod_revision),
            SortTarget::Value => a.value.cmp(&b.value),
        };
        if order == SortOrder::Descend {
            ord.reverse()
        } else {
            ord
        }
    });
}
