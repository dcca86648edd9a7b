//! The watch fan-out workload: `--watchers` Watch streams spread over the connections, each
//! watching the prefix `bench-watch/`; once every one is created, one writer puts `--total` keys
//! under the prefix, one at a time. Every watcher must see every put exactly once. A latency is
//! one delivery: from just before its put was sent to the event's arrival at one watcher; the
//! rate is deliveries per second, from the first put to the last delivery. A missed, repeated or
//! foreign event is an error.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use etcdlab_core::proto::etcdserverpb::{WatchCreateRequest, WatchRequest, watch_request};
use etcdlab_core::proto::mvccpb::Event;
use futures::future::join_all;
use tokio::sync::{mpsc, oneshot, watch};
use tonic::transport::Channel;

use super::kv::put_request;
use super::report::Summary;
use super::{BenchFlags, REQUEST_TIMEOUT};
use crate::rpc::etcdserverpb::kv_client::KvClient;
use crate::rpc::etcdserverpb::watch_client::WatchClient;

const PREFIX: &str = "bench-watch/";
/// The end of [`PREFIX`]'s range ('/' + 1).
const PREFIX_END: &str = "bench-watch0";
/// How long the watchers together may take to be created.
const CREATE_TIMEOUT: Duration = Duration::from_secs(60);
/// How long, after the last put, the watchers may go without any delivery before the events
/// they still lack count as missed.
const DRAIN_IDLE: Duration = Duration::from_secs(10);

/// What the writer and the watchers share.
struct Shared {
    origin: Instant,
    /// When each put was sent, in nanoseconds after the origin.
    sent: Vec<AtomicU64>,
    /// Deliveries so far, all watchers together.
    delivered: AtomicU64,
}

/// What one watcher saw: its deliveries, and when the last one arrived (after the origin).
struct Watched {
    part: Summary,
    last: Duration,
}

pub(super) async fn run(flags: &BenchFlags, channels: &[Channel]) -> anyhow::Result<Summary> {
    anyhow::ensure!(flags.watchers > 0, "--watchers must be at least 1");
    let puts = usize::try_from(flags.total).context("--total is too large")?;
    let shared = Arc::new(Shared {
        origin: Instant::now(),
        sent: (0..puts).map(|_| AtomicU64::new(0)).collect(),
        delivered: AtomicU64::new(0),
    });
    let (stop, stopped) = watch::channel(false);
    let (mut ready, mut watchers) = (Vec::new(), Vec::new());
    for w in 0..flags.watchers {
        let (created, is_created) = oneshot::channel();
        let channel = channels[w % channels.len()].clone();
        let task = watcher(channel, shared.clone(), stopped.clone(), created);
        watchers.push(tokio::spawn(task));
        ready.push(is_created);
    }
    let created = tokio::time::timeout(CREATE_TIMEOUT, join_all(ready))
        .await
        .with_context(|| {
            format!(
                "the {} watchers were not created within {CREATE_TIMEOUT:?}",
                flags.watchers
            )
        })?;
    for (w, result) in created.into_iter().enumerate() {
        match result {
            Ok(Ok(())) => {}
            Ok(Err(reason)) => bail!("watcher {w}: {reason}"),
            Err(_) => bail!("watcher {w} ended before it was created"),
        }
    }

    let mut summary = Summary::default();
    let mut kv = KvClient::new(channels[0].clone());
    let value = vec![b'v'; flags.val_size];
    let origin = shared.origin;
    let first_put = origin.elapsed();
    for (n, at) in shared.sent.iter().enumerate() {
        at.store(origin.elapsed().as_nanos() as u64, Ordering::Release);
        let put = kv.put(put_request(event_key(n), &value, 0));
        match tokio::time::timeout(REQUEST_TIMEOUT, put).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => summary.error(format!("put {n}: {e}")),
            Err(_) => summary.error(format!("put {n}: no answer within {REQUEST_TIMEOUT:?}")),
        }
    }
    let last_put = origin.elapsed();

    let all = join_all(watchers);
    tokio::pin!(all);
    let (mut delivered, mut progress) = (shared.delivered.load(Ordering::Relaxed), Instant::now());
    let results = loop {
        tokio::select! {
            results = &mut all => break results,
            () = tokio::time::sleep(Duration::from_millis(200)) => {
                let now = shared.delivered.load(Ordering::Relaxed);
                if now != delivered {
                    (delivered, progress) = (now, Instant::now());
                } else if progress.elapsed() >= DRAIN_IDLE {
                    let _ = stop.send(true);
                    break all.await;
                }
            }
        }
    };
    let mut last = last_put;
    for result in results {
        let watched = result?;
        last = last.max(watched.last);
        summary.merge(watched.part);
    }
    summary.elapsed = last.saturating_sub(first_put);
    summary.extra = vec![("watchers", flags.watchers.into()), ("puts", puts.into())];
    Ok(summary)
}

/// The key of put `n`.
fn event_key(n: usize) -> Vec<u8> {
    format!("{PREFIX}{n:08}").into_bytes()
}

/// The put an event comes from, if it is one of ours.
fn event_index(event: &Event) -> Option<usize> {
    let key = &event.kv.as_ref()?.key;
    std::str::from_utf8(key.strip_prefix(PREFIX.as_bytes())?)
        .ok()?
        .parse()
        .ok()
}

/// One watcher: creates its watch (telling `created`), then takes events until it has seen
/// every put or `stop` turns true.
async fn watcher(
    channel: Channel,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
    created: oneshot::Sender<Result<(), String>>,
) -> Watched {
    let mut watched = Watched {
        part: Summary::default(),
        last: Duration::ZERO,
    };
    // The request stream stays open as long as the watcher runs: a closed one ends the watch.
    let (requests, outgoing) = mpsc::channel(1);
    let create = WatchRequest {
        request_union: Some(watch_request::RequestUnion::CreateRequest(
            WatchCreateRequest {
                key: PREFIX.into(),
                range_end: PREFIX_END.into(),
                ..Default::default()
            },
        )),
    };
    let _ = requests.send(create).await;
    let outgoing = futures::stream::unfold(outgoing, |mut rx| async move {
        rx.recv().await.map(|request| (request, rx))
    });
    let mut stream = match WatchClient::new(channel).watch(outgoing).await {
        Ok(stream) => stream.into_inner(),
        Err(e) => {
            let _ = created.send(Err(format!("cannot open a Watch stream: {e}")));
            return watched;
        }
    };
    match stream.message().await {
        Ok(Some(answer)) if answer.created && !answer.canceled => {
            let _ = created.send(Ok(()));
        }
        other => {
            let _ = created.send(Err(format!("the watch was not created: {other:?}")));
            return watched;
        }
    }
    let puts = shared.sent.len();
    let mut seen = vec![false; puts];
    let mut count = 0;
    while count < puts {
        let message = tokio::select! {
            message = stream.message() => message,
            _ = stop.changed() => break,
        };
        let now = shared.origin.elapsed();
        let answer = match message {
            Ok(Some(answer)) if !answer.canceled => answer,
            Ok(Some(answer)) => {
                watched
                    .part
                    .error(format!("watch canceled: {}", answer.cancel_reason));
                break;
            }
            Ok(None) => {
                watched.part.error("the server ended the Watch stream");
                break;
            }
            Err(e) => {
                watched.part.error(format!("Watch stream failed: {e}"));
                break;
            }
        };
        for event in &answer.events {
            match event_index(event) {
                Some(n) if n < puts && !seen[n] => {
                    seen[n] = true;
                    count += 1;
                    shared.delivered.fetch_add(1, Ordering::Relaxed);
                    let at = Duration::from_nanos(shared.sent[n].load(Ordering::Acquire));
                    watched.part.latencies.push(now.saturating_sub(at));
                    watched.last = now;
                }
                _ => watched
                    .part
                    .error(format!("unexpected or repeated event: {event:?}")),
            }
        }
    }
    if count < puts {
        let missed = puts - count;
        let reason = format!("a watcher missed {missed} of {puts} events");
        watched.part.failures(missed as u64, reason);
    }
    drop(requests);
    watched
}
