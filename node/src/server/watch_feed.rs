//! The changes every watch stream of a member reads, read once and shared.
//!
//! When a write is applied, every watch stream wakes up and asks for the changes after its
//! watchers' position — with a thousand streams following live writes, a thousand identical
//! reads of the same revision. [`ChangeFeed`] answers a request for the changes from a
//! revision with one database read shared by everyone who asks for that revision while it is
//! recent: concurrent askers wait for the first one's read instead of starting their own.
//!
//! A batch is history, so a cached one stays true: a stream that finds an older, shorter batch
//! for its position delivers it and asks again from where it ends.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use etcdlab_core::mvcc::MvccError;
use etcdlab_core::mvcc::watch::{self, ChangeBatch};
use redb::ReadableDatabase;
use tokio::sync::OnceCell;

use super::member_loop::MemberHandle;

/// Most revisions read (and sent to one watcher) at once: etcd's `watchBatchMaxRevs`.
const MAX_REVISIONS_PER_READ: i64 = 1000;
/// How many recent reads are kept: streams at a handful of positions share them.
const KEPT_READS: usize = 16;

/// One read, done by whoever asked first; its result once done.
type SharedRead = Arc<OnceCell<Arc<ChangeBatch>>>;

/// The member's recent change reads, keyed by (first revision, with previous values).
pub struct ChangeFeed {
    member: MemberHandle,
    reads: Mutex<BTreeMap<(i64, bool), SharedRead>>,
}

impl ChangeFeed {
    pub fn new(member: MemberHandle) -> Self {
        ChangeFeed {
            member,
            reads: Mutex::new(BTreeMap::new()),
        }
    }

    /// The changes from revision `from` on (with the previous values if asked), at most
    /// [`MAX_REVISIONS_PER_READ`] revisions: a recent read of the same revision if there is
    /// one, else a new read shared with whoever asks meanwhile.
    pub async fn changes_since(
        &self,
        from: i64,
        with_prev_kv: bool,
    ) -> Result<Arc<ChangeBatch>, MvccError> {
        let read = {
            let mut reads = self.reads.lock().unwrap_or_else(|p| p.into_inner());
            let read = reads.entry((from, with_prev_kv)).or_default().clone();
            while reads.len() > KEPT_READS {
                reads.pop_first();
            }
            read
        };
        let batch = read
            .get_or_try_init(|| async {
                let db = self
                    .member
                    .database()
                    .map_err(|e| MvccError::Storage(e.to_string()))?;
                let batch = tokio::task::spawn_blocking(move || {
                    let txn = db
                        .begin_read()
                        .map_err(|e| MvccError::Storage(e.to_string()))?;
                    watch::changes_since(&txn, from, MAX_REVISIONS_PER_READ, with_prev_kv)
                })
                .await
                .map_err(|e| MvccError::Storage(e.to_string()))??;
                Ok::<_, MvccError>(Arc::new(batch))
            })
            .await?;
        Ok(batch.clone())
    }
}
