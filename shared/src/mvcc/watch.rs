//! What watches read: the key space's changes from a revision on, as etcd's watch events.
//!
//! The change log (`mvcc_changes`, in revision order) names the key of every change and the
//! history (`mvcc_history`) holds what it was, so a watcher that starts in the past and one that
//! follows live writes read the same way: every event exactly once, in revision order, whoever
//! is leader. A put is a `PUT` event with the key as written; a deletion a `DELETE` event whose
//! key-value holds only the key and the deletion's revision, as etcd sends it. The previous
//! version (`prev_kv`) is the key's newest change before the event, if that was a live value
//! still in the history.

use redb::ReadTransaction;

use super::encoding::{Record, change_key, rev_key, split_change_key};
use super::{MvccError, ReadView};
use crate::proto::mvccpb::event::EventType;
use crate::proto::mvccpb::{Event, KeyValue};

/// Changes read for watchers: the events of revisions `from..=through`, oldest first.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ChangeBatch {
    pub events: Vec<Event>,
    /// The last revision this batch covers: the store's current one, unless the batch was cut
    /// at the revision limit.
    pub through: i64,
    /// The store's current revision when read.
    pub current: i64,
}

/// The store's current revision and the revision it was last compacted to (0 if never).
pub fn revisions(txn: &ReadTransaction) -> Result<(i64, i64), MvccError> {
    Ok(match ReadView::open(txn)? {
        Some(view) => (view.current, view.compacted.max(0)),
        None => (1, 0),
    })
}

/// The events of revisions `from..` (at most `max_revisions` of them, and no further than the
/// current revision), with each event's previous version when `with_prev_kv`.
/// [`MvccError::Compacted`] when `from` lies before the compaction point: those changes are gone.
pub fn changes_since(
    txn: &ReadTransaction,
    from: i64,
    max_revisions: i64,
    with_prev_kv: bool,
) -> Result<ChangeBatch, MvccError> {
    let Some(view) = ReadView::open(txn)? else {
        return Ok(ChangeBatch {
            events: Vec::new(),
            through: 1,
            current: 1,
        });
    };
    if from < view.compacted {
        return Err(MvccError::Compacted);
    }
    let through = view
        .current
        .min(from.saturating_add(max_revisions.max(1) - 1));
    let mut events = Vec::new();
    if from <= through {
        let (first, last) = (
            change_key(rev_key(from), 0),
            change_key(rev_key(through), u64::MAX),
        );
        for row in view.changes.range(&first[..]..=&last[..])? {
            let (revision, key) = row?;
            let (main, _) = split_change_key(revision.value())?;
            let key = key.value();
            let Some(stored) = view.history.get((key, main))? else {
                return Err(MvccError::Storage(format!(
                    "change log names key {} at revision {main}, which history lacks",
                    key.escape_ascii()
                )));
            };
            let record = Record::decode(stored.value())?;
            let prev_kv = if with_prev_kv {
                previous_version(&view, key, main)?
            } else {
                None
            };
            events.push(event(record, main, prev_kv));
        }
    }
    Ok(ChangeBatch {
        events,
        through,
        current: view.current,
    })
}

fn event(record: Record, main: u64, prev_kv: Option<KeyValue>) -> Event {
    if record.tombstone {
        Event {
            r#type: EventType::Delete as i32,
            kv: Some(KeyValue {
                key: record.kv.key,
                mod_revision: main as i64,
                ..Default::default()
            }),
            prev_kv,
        }
    } else {
        Event {
            r#type: EventType::Put as i32,
            kv: Some(record.kv),
            prev_kv,
        }
    }
}

/// The key's live version just before revision `main`, if history still holds it.
fn previous_version(view: &ReadView, key: &[u8], main: u64) -> Result<Option<KeyValue>, MvccError> {
    let Some(row) = view
        .history
        .range::<(&[u8], u64)>((key, 0u64)..(key, main))?
        .next_back()
    else {
        return Ok(None);
    };
    let record = Record::decode(row?.1.value())?;
    Ok((!record.tombstone).then_some(record.kv))
}
