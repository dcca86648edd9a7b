//! `etcdserverpb.Watch`: watches on a key, a range or a prefix, from now or from a past revision.
//!
//! Each gRPC stream is one task that owns its watchers. Nothing is pushed from the write path:
//! the member loop announces every new applied revision ([`MemberHandle::applied_revision`]),
//! and the task then reads the changes after its watchers' positions from the database (the
//! core's [`watch::changes_since`]), one read shared by all watchers of the stream and, through
//! the member's [`ChangeFeed`], by all streams at the same position. A watcher
//! replaying history and one following live writes take the same path, so every event arrives
//! once and in revision order, whoever leads. A slow client holds back only its own stream: the
//! member never waits for it, its watchers fall behind and catch up from the store later — or,
//! when a compaction overtook them, get etcd's compacted response and are cancelled.
//!
//! Responses follow etcd's: a `created` response per watcher before its events, `canceled` for
//! cancels and refusals (an empty range, a duplicate id, a negative start revision), progress
//! notifications (a stream-wide one with watch id -1 on request, and per watcher every
//! `--experimental-watch-progress-notify-interval` while nothing else was sent), and
//! `fragment`ed responses for watchers that asked, when a response exceeds the request limit.
//! While auth is enabled, a watcher on keys its user may not read is refused the same way.

use std::collections::BTreeMap;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use etcdlab_core::mvcc::watch::{self, ChangeBatch};
use etcdlab_core::mvcc::{KeyRange, MvccError};
use etcdlab_core::proto::etcdserverpb::watch_create_request::FilterType;
use etcdlab_core::proto::etcdserverpb::watch_request::RequestUnion;
use etcdlab_core::proto::etcdserverpb::{WatchCreateRequest, WatchRequest, WatchResponse};
use etcdlab_core::proto::mvccpb::Event;
use etcdlab_core::proto::mvccpb::event::EventType;
use futures::Stream;
use prost::Message as _;
use redb::ReadableDatabase;
use tokio::sync::mpsc;
use tonic::{Request, Response, Status, Streaming};

use super::auth::{AuthGate, Freshness};
use super::errors;
use super::member_loop::MemberHandle;
use super::watch_feed::ChangeFeed;
use crate::rpc::etcdserverpb::watch_server::Watch;
use etcdlab_core::auth::Access;

/// Responses queued for a client before the stream waits for it.
const SEND_BUFFER: usize = 64;
/// The watch id of responses about the whole stream (etcd's `InvalidWatchID`).
const STREAM_WIDE: i64 = -1;
/// How often a stream whose client required a leader checks there still is one.
const LEADER_CHECK: Duration = Duration::from_secs(1);

pub struct WatchService {
    member: MemberHandle,
    feed: Arc<ChangeFeed>,
    max_request_bytes: usize,
    progress_interval: Duration,
}

impl WatchService {
    pub fn new(
        member: MemberHandle,
        max_request_bytes: usize,
        progress_interval: Duration,
    ) -> Self {
        WatchService {
            feed: Arc::new(ChangeFeed::new(member.clone())),
            member,
            max_request_bytes,
            progress_interval,
        }
    }
}

type ResponseStream = Pin<Box<dyn Stream<Item = Result<WatchResponse, Status>> + Send>>;

#[tonic::async_trait]
impl Watch for WatchService {
    type WatchStream = ResponseStream;

    async fn watch(
        &self,
        request: Request<Streaming<WatchRequest>>,
    ) -> Result<Response<Self::WatchStream>, Status> {
        // clientv3's `WithRequireLeader` (etcdctl sets it): refuse, and later end the stream,
        // while this member knows no leader.
        let require_leader = request
            .metadata()
            .get("hasleader")
            .is_some_and(|v| v == "true");
        if require_leader && self.member.status().leader_id == 0 {
            return Err(no_leader());
        }
        let (out, responses) = mpsc::channel(SEND_BUFFER);
        let stream = WatchStream {
            auth: AuthGate::new(self.member.clone()),
            metadata: request.metadata().clone(),
            member: self.member.clone(),
            feed: self.feed.clone(),
            out,
            watchers: BTreeMap::new(),
            next_id: 0,
            max_request_bytes: self.max_request_bytes,
        };
        tokio::spawn(stream.run(request.into_inner(), self.progress_interval, require_leader));
        let responses = futures::stream::unfold(responses, |mut rx| async move {
            rx.recv().await.map(|response| (response, rx))
        });
        Ok(Response::new(Box::pin(responses)))
    }
}

fn no_leader() -> Status {
    Status::unavailable("etcdserver: no leader")
}

/// One watcher of a stream.
struct Watcher {
    range: KeyRange,
    /// The revision of the next event it may be sent.
    next_revision: i64,
    prev_kv: bool,
    no_put: bool,
    no_delete: bool,
    progress_notify: bool,
    fragment: bool,
    /// Whether events went out since the last progress tick (etcd then skips one notification).
    sent_since_progress: bool,
}

impl Watcher {
    fn wants(&self, event: &Event) -> bool {
        let Some(kv) = &event.kv else {
            return false;
        };
        let put = event.r#type == EventType::Put as i32;
        kv.mod_revision >= self.next_revision
            && self.range.contains(&kv.key)
            && !(put && self.no_put)
            && (put || !self.no_delete)
    }
}

/// The client went away: the stream's task ends.
struct Gone;

struct WatchStream {
    member: MemberHandle,
    /// The member's shared change reads.
    feed: Arc<ChangeFeed>,
    auth: AuthGate,
    /// The stream's request metadata: its auth token is checked at every watch created.
    metadata: tonic::metadata::MetadataMap,
    out: mpsc::Sender<Result<WatchResponse, Status>>,
    watchers: BTreeMap<i64, Watcher>,
    /// The next watch id to try for a watcher whose client let the server choose.
    next_id: i64,
    max_request_bytes: usize,
}

impl WatchStream {
    async fn run(
        mut self,
        mut requests: Streaming<WatchRequest>,
        progress_interval: Duration,
        require_leader: bool,
    ) {
        let mut revisions = self.member.applied_revision();
        let start = tokio::time::Instant::now();
        let mut progress = tokio::time::interval_at(start + progress_interval, progress_interval);
        let mut leader_check = tokio::time::interval_at(start + LEADER_CHECK, LEADER_CHECK);
        let mut leaderless_checks = 0;
        let mut requests_open = true;
        loop {
            let step = tokio::select! {
                request = requests.message(), if requests_open => match request {
                    Ok(Some(request)) => self.handle(request).await,
                    // A client that closed its sending side still receives events, as etcd's.
                    Ok(None) => {
                        requests_open = false;
                        Ok(())
                    }
                    Err(_) => Err(Gone),
                },
                changed = revisions.changed() => match changed {
                    // The announced revision, not a read of the store's: a thousand streams
                    // woken by one write would each open a read transaction for it.
                    Ok(()) => {
                        let current = *revisions.borrow_and_update();
                        self.catch_up(current).await
                    }
                    Err(_) => Err(Gone),
                },
                _ = progress.tick() => self.notify_progress().await,
                _ = leader_check.tick(), if require_leader => {
                    leaderless_checks = if self.member.status().leader_id == 0 {
                        leaderless_checks + 1
                    } else {
                        0
                    };
                    if leaderless_checks >= 2 {
                        let _ = self.out.send(Err(no_leader())).await;
                        Err(Gone)
                    } else {
                        Ok(())
                    }
                }
                _ = self.out.closed() => Err(Gone),
            };
            if step.is_err() {
                return;
            }
        }
    }

    async fn handle(&mut self, request: WatchRequest) -> Result<(), Gone> {
        match request.request_union {
            Some(RequestUnion::CreateRequest(create)) => self.create(create).await,
            Some(RequestUnion::CancelRequest(cancel)) => {
                if self.watchers.remove(&cancel.watch_id).is_none() {
                    return Ok(());
                }
                let revision = self.current_revision()?;
                self.send(WatchResponse {
                    header: Some(self.member.header(revision)),
                    watch_id: cancel.watch_id,
                    canceled: true,
                    ..Default::default()
                })
                .await
            }
            Some(RequestUnion::ProgressRequest(_)) => {
                // Only once every watcher has been sent everything up to the revision announced.
                let revision = self.catch_up_to_now().await?;
                self.send(WatchResponse {
                    header: Some(self.member.header(revision)),
                    watch_id: STREAM_WIDE,
                    ..Default::default()
                })
                .await
            }
            None => Ok(()),
        }
    }

    async fn create(&mut self, create: WatchCreateRequest) -> Result<(), Gone> {
        let revision = self.current_revision()?;
        let refuse = |reason: String| WatchResponse {
            header: Some(self.member.header(revision)),
            watch_id: STREAM_WIDE,
            created: true,
            canceled: true,
            cancel_reason: reason,
            ..Default::default()
        };
        let key = if create.key.is_empty() {
            vec![0] // the smallest key
        } else {
            create.key.clone()
        };
        if create.start_revision < 0 {
            return self.send(refuse(MvccError::Compacted.to_string())).await;
        }
        // `range_end` "\0" is every key from `key` on; otherwise it must lie after `key`.
        if !create.range_end.is_empty() && create.range_end != [0] && key >= create.range_end {
            return self
                .send(refuse("mvcc: watcher range is empty".into()))
                .await;
        }
        // Refused as etcd does: a canceled response carrying the gRPC error's text.
        if let Err(status) = self
            .auth
            .check_range(
                &self.metadata,
                Freshness::Local,
                &key,
                &create.range_end,
                Access::Read,
            )
            .await
        {
            let reason = format!(
                "rpc error: code = {:?} desc = {}",
                status.code(),
                status.message()
            );
            return self.send(refuse(reason)).await;
        }
        let id = if create.watch_id != 0 {
            if self.watchers.contains_key(&create.watch_id) {
                return self
                    .send(refuse(
                        "mvcc: duplicate watch ID provided on the WatchStream".into(),
                    ))
                    .await;
            }
            create.watch_id
        } else {
            while self.watchers.contains_key(&self.next_id) {
                self.next_id += 1;
            }
            self.next_id += 1;
            self.next_id - 1
        };
        let filters = |f: FilterType| create.filters.contains(&(f as i32));
        self.watchers.insert(
            id,
            Watcher {
                range: KeyRange::new(&key, &create.range_end),
                next_revision: if create.start_revision == 0 {
                    revision + 1
                } else {
                    create.start_revision
                },
                prev_kv: create.prev_kv,
                no_put: filters(FilterType::Noput),
                no_delete: filters(FilterType::Nodelete),
                progress_notify: create.progress_notify,
                fragment: create.fragment,
                sent_since_progress: false,
            },
        );
        self.send(WatchResponse {
            header: Some(self.member.header(revision)),
            watch_id: id,
            created: true,
            ..Default::default()
        })
        .await?;
        // A watcher starting in the past is sent its history now.
        self.catch_up(revision).await
    }

    /// Sends every watcher the events it has not been sent, up to the current revision;
    /// returns that revision.
    async fn catch_up_to_now(&mut self) -> Result<i64, Gone> {
        loop {
            let revision = self.current_revision()?;
            self.catch_up(revision).await?;
            if self.current_revision()? == revision {
                return Ok(revision);
            }
        }
    }

    /// Reads and sends what the watchers behind revision `current` are missing, batch by batch.
    async fn catch_up(&mut self, current: i64) -> Result<(), Gone> {
        loop {
            let behind = self
                .watchers
                .values()
                .filter(|w| w.next_revision <= current);
            let Some(from) = behind.clone().map(|w| w.next_revision).min() else {
                return Ok(());
            };
            let with_prev_kv = behind.clone().any(|w| w.prev_kv);
            match self.feed.changes_since(from, with_prev_kv).await {
                Ok(batch) => self.deliver(&batch).await?,
                Err(MvccError::Compacted) => self.cancel_compacted().await?,
                Err(e) => {
                    // A defragmentation withdrew the database, or storage failed: try again on
                    // the next revision (the watchers keep their positions).
                    tracing::debug!("watch read failed: {e}");
                    return Ok(());
                }
            }
        }
    }

    /// Sends each watcher its share of `batch` and moves it past the batch.
    async fn deliver(&mut self, batch: &ChangeBatch) -> Result<(), Gone> {
        let header = self.member.header(batch.current);
        let mut responses = Vec::new();
        for (&id, watcher) in self.watchers.iter_mut() {
            if watcher.next_revision > batch.through {
                continue;
            }
            let events: Vec<Event> = batch
                .events
                .iter()
                .filter(|e| watcher.wants(e))
                .map(|e| Event {
                    prev_kv: if watcher.prev_kv {
                        e.prev_kv.clone()
                    } else {
                        None
                    },
                    ..e.clone()
                })
                .collect();
            watcher.next_revision = batch.through + 1;
            if events.is_empty() {
                continue;
            }
            watcher.sent_since_progress = true;
            let response = WatchResponse {
                header: Some(header),
                watch_id: id,
                events,
                ..Default::default()
            };
            if watcher.fragment {
                responses.extend(fragments(response, self.max_request_bytes));
            } else {
                responses.push(response);
            }
        }
        for response in responses {
            self.send(response).await?;
        }
        Ok(())
    }

    /// Cancels the watchers whose next event lies before the compaction point, as etcd does.
    async fn cancel_compacted(&mut self) -> Result<(), Gone> {
        let (_, compacted) = self.revisions()?;
        let lost: Vec<i64> = self
            .watchers
            .iter()
            .filter(|(_, w)| w.next_revision < compacted)
            .map(|(&id, _)| id)
            .collect();
        if lost.is_empty() {
            // Compacted between two reads of the counters; the next round sees it.
            return Ok(());
        }
        for id in lost {
            self.watchers.remove(&id);
            // etcd leaves the revision out of this response's header.
            self.send(WatchResponse {
                header: Some(self.member.header(0)),
                watch_id: id,
                compact_revision: compacted,
                canceled: true,
                ..Default::default()
            })
            .await?;
        }
        Ok(())
    }

    /// Every progress interval: watchers that asked for it and were sent nothing since the
    /// last one learn the revision they are current to.
    async fn notify_progress(&mut self) -> Result<(), Gone> {
        if !self.watchers.values().any(|w| w.progress_notify) {
            return Ok(());
        }
        let revision = self.catch_up_to_now().await?;
        let due: Vec<i64> = self
            .watchers
            .iter_mut()
            .filter(|(_, w)| w.progress_notify)
            .filter_map(|(&id, w)| {
                let quiet = !w.sent_since_progress;
                w.sent_since_progress = false;
                quiet.then_some(id)
            })
            .collect();
        for id in due {
            self.send(WatchResponse {
                header: Some(self.member.header(revision)),
                watch_id: id,
                ..Default::default()
            })
            .await?;
        }
        Ok(())
    }

    fn current_revision(&self) -> Result<i64, Gone> {
        Ok(self.revisions()?.0)
    }

    /// The store's current and compact revision; the client is told and the stream ends if
    /// the database cannot be read at all.
    fn revisions(&self) -> Result<(i64, i64), Gone> {
        let read = || -> Result<(i64, i64), Status> {
            let db = self.member.database().map_err(errors::member)?;
            let txn = db.begin_read().map_err(errors::storage)?;
            watch::revisions(&txn).map_err(|e| errors::mvcc(&e))
        };
        match read() {
            Ok(revisions) => Ok(revisions),
            Err(status) => {
                let _ = self.out.try_send(Err(status));
                Err(Gone)
            }
        }
    }

    async fn send(&self, response: WatchResponse) -> Result<(), Gone> {
        self.out.send(Ok(response)).await.map_err(|_| Gone)
    }
}

/// Splits a response larger than `limit` bytes into pieces that fit (one event at least
/// each), all marked `fragment` but the last, for clients that reassemble them.
fn fragments(response: WatchResponse, limit: usize) -> Vec<WatchResponse> {
    if response.encoded_len() < limit || response.events.len() < 2 {
        return vec![response];
    }
    let empty = WatchResponse {
        events: Vec::new(),
        fragment: true,
        ..response.clone()
    };
    let mut pieces = vec![empty.clone()];
    for event in response.events {
        let piece = pieces.last_mut().expect("pieces start with one");
        if !piece.events.is_empty() && piece.encoded_len() + event.encoded_len() + 4 >= limit {
            pieces.push(empty.clone());
        }
        pieces.last_mut().expect("just pushed").events.push(event);
    }
    if let Some(last) = pieces.last_mut() {
        last.fragment = false;
    }
    pieces
}

#[cfg(test)]
mod tests {
    use super::*;
    use etcdlab_core::proto::mvccpb::KeyValue;

    fn put(key: &str, value_len: usize) -> Event {
        Event {
            kv: Some(KeyValue {
                key: key.into(),
                value: vec![b'x'; value_len],
                mod_revision: 2,
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn large_responses_split_into_fragments_that_keep_every_event() {
        let response = WatchResponse {
            watch_id: 7,
            events: (0..10).map(|i| put(&format!("k{i}"), 400)).collect(),
            ..Default::default()
        };
        let pieces = fragments(response.clone(), 1000);
        assert!(pieces.len() >= 4, "{} pieces", pieces.len());
        assert!(
            pieces
                .iter()
                .all(|p| p.encoded_len() < 1000 && p.watch_id == 7)
        );
        let marks: Vec<bool> = pieces.iter().map(|p| p.fragment).collect();
        assert_eq!(marks.last(), Some(&false));
        assert!(marks[..marks.len() - 1].iter().all(|&m| m));
        let events: Vec<Event> = pieces.into_iter().flat_map(|p| p.events).collect();
        assert_eq!(events, response.events);
        // Small enough, or a single event however large: sent whole.
        assert_eq!(fragments(response.clone(), 1 << 20), vec![response]);
        let single = WatchResponse {
            events: vec![put("big", 5000)],
            ..Default::default()
        };
        assert_eq!(fragments(single.clone(), 1000), vec![single]);
    }

    #[test]
    fn watchers_take_their_range_from_their_position_through_their_filters() {
        let watcher = Watcher {
            range: KeyRange::new(b"a", b"c"),
            next_revision: 5,
            prev_kv: false,
            no_put: false,
            no_delete: true,
            progress_notify: false,
            fragment: false,
            sent_since_progress: false,
        };
        let event = |key: &str, rev: i64, kind: EventType| Event {
            r#type: kind as i32,
            kv: Some(KeyValue {
                key: key.into(),
                mod_revision: rev,
                ..Default::default()
            }),
            prev_kv: None,
        };
        assert!(watcher.wants(&event("b", 5, EventType::Put)));
        assert!(
            !watcher.wants(&event("b", 4, EventType::Put)),
            "already sent"
        );
        assert!(!watcher.wants(&event("c", 6, EventType::Put)), "outside");
        assert!(
            !watcher.wants(&event("b", 6, EventType::Delete)),
            "filtered"
        );
    }
}
