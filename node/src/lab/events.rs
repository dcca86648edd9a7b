//! The lab's merged event stream: every member's `/debug/raft/events` (followed by
//! [`super::members`]) and the lab's own `member_started` / `member_stopped` events, in
//! arrival order, each given a lab-wide `cursor` (1, 2, 3, ...) written into the event as an
//! extra top-level field.
//!
//! [`EventHub`] keeps the last [`HISTORY`] events so a client can resume with
//! `?since=<cursor>`, and fans new ones out over a broadcast channel: a subscriber that falls
//! [`LIVE_BUFFER`] events behind is dropped with a notice and never slows the lab.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use serde_json::{Map, Value};
use tokio::sync::broadcast;

/// How many events the lab remembers for `?since=`.
pub const HISTORY: usize = 100_000;
/// How far a live subscriber may fall behind before it is dropped.
pub const LIVE_BUFFER: usize = 8192;

/// One event as served: its cursor and its JSON text (with the cursor in it).
pub type Entry = (u64, Arc<str>);

pub struct EventHub {
    history: Mutex<History>,
    live: broadcast::Sender<Entry>,
}

struct History {
    next_cursor: u64,
    entries: VecDeque<Entry>,
}

impl Default for EventHub {
    fn default() -> Self {
        EventHub {
            history: Mutex::new(History {
                next_cursor: 1,
                entries: VecDeque::new(),
            }),
            live: broadcast::channel(LIVE_BUFFER).0,
        }
    }
}

impl EventHub {
    fn lock(&self) -> std::sync::MutexGuard<'_, History> {
        self.history.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds an event (a JSON object) at the end of the stream; returns its cursor.
    pub fn push(&self, mut event: Map<String, Value>) -> u64 {
        let mut history = self.lock();
        let cursor = history.next_cursor;
        history.next_cursor += 1;
        event.insert("cursor".into(), Value::from(cursor));
        let text: Arc<str> = Value::Object(event).to_string().into();
        if history.entries.len() >= HISTORY {
            history.entries.pop_front();
        }
        history.entries.push_back((cursor, text.clone()));
        // Sent under the lock, so live order is cursor order; nobody listening is fine.
        let _ = self.live.send((cursor, text));
        cursor
    }

    /// The remembered events after `since`, oldest first.
    pub fn history_after(&self, since: u64) -> Vec<Entry> {
        let history = self.lock();
        let skip = history.entries.partition_point(|(c, _)| *c <= since);
        history.entries.iter().skip(skip).cloned().collect()
    }

    /// The cursor of the latest event (0 before the first).
    pub fn cursor(&self) -> u64 {
        self.lock().next_cursor - 1
    }

    /// Every event after `since`, oldest first; `None` when some of them were forgotten.
    pub fn all_after(&self, since: u64) -> Option<Vec<Entry>> {
        let history = self.lock();
        let oldest = history
            .entries
            .front()
            .map_or(history.next_cursor, |(cursor, _)| *cursor);
        if since + 1 < oldest {
            return None;
        }
        let skip = history.entries.partition_point(|(c, _)| *c <= since);
        Some(history.entries.iter().skip(skip).cloned().collect())
    }

    /// A subscription: the remembered events after `since` (none for `None`: from now on),
    /// then every later one from the receiver, with no gap and no repeat.
    pub fn subscribe(&self, since: Option<u64>) -> Subscription {
        let history = self.lock();
        let receiver = self.live.subscribe();
        let backlog: VecDeque<Entry> = match since {
            Some(since) => {
                let skip = history.entries.partition_point(|(c, _)| *c <= since);
                history.entries.iter().skip(skip).cloned().collect()
            }
            None => VecDeque::new(),
        };
        let last = history.next_cursor - 1;
        Subscription {
            backlog,
            receiver,
            last_sent: since.unwrap_or(last).min(last),
            ended: false,
        }
    }
}

/// One client's view of the stream.
pub struct Subscription {
    backlog: VecDeque<Entry>,
    receiver: broadcast::Receiver<Entry>,
    last_sent: u64,
    ended: bool,
}

impl Subscription {
    /// The next line to send, or `None` when the stream is over (after a lag notice).
    pub async fn next(&mut self) -> Option<Arc<str>> {
        if self.ended {
            return None;
        }
        if let Some((cursor, text)) = self.backlog.pop_front() {
            self.last_sent = cursor;
            return Some(text);
        }
        loop {
            match self.receiver.recv().await {
                Ok((cursor, _)) if cursor <= self.last_sent => continue,
                Ok((cursor, text)) => {
                    self.last_sent = cursor;
                    return Some(text);
                }
                Err(broadcast::error::RecvError::Lagged(dropped)) => {
                    self.ended = true;
                    let notice = serde_json::json!({
                        "notice": "lagged",
                        "dropped": dropped,
                        "resume_after": self.last_sent,
                    });
                    return Some(notice.to_string().into());
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(n: u64) -> Map<String, Value> {
        serde_json::json!({ "n": n }).as_object().unwrap().clone()
    }

    #[tokio::test]
    async fn a_subscription_resumes_after_its_cursor_then_goes_live() {
        let hub = EventHub::default();
        for n in 1..=3 {
            hub.push(event(n));
        }
        let mut sub = hub.subscribe(Some(1));
        hub.push(event(4));
        let mut seen = Vec::new();
        for _ in 0..3 {
            let line = sub.next().await.unwrap();
            let value: Value = serde_json::from_str(&line).unwrap();
            seen.push((
                value["n"].as_u64().unwrap(),
                value["cursor"].as_u64().unwrap(),
            ));
        }
        assert_eq!(seen, vec![(2, 2), (3, 3), (4, 4)]);
        assert_eq!(hub.history_after(3).len(), 1);
        assert_eq!(hub.cursor(), 4);
        assert_eq!(hub.all_after(3).map(|e| e.len()), Some(1));
        assert_eq!(hub.all_after(0).map(|e| e.len()), Some(4));
        let mut fresh = hub.subscribe(None);
        hub.push(event(5));
        assert!(fresh.next().await.unwrap().contains("\"cursor\":5"));
    }

    #[test]
    fn events_no_longer_remembered_are_not_passed_over() {
        let hub = EventHub::default();
        for n in 0..(HISTORY as u64 + 2) {
            hub.push(event(n));
        }
        assert_eq!(hub.all_after(1), None, "cursors 1 and 2 are forgotten");
        assert_eq!(hub.all_after(2).map(|e| e.len()), Some(HISTORY));
    }

    #[tokio::test]
    async fn a_slow_subscriber_gets_a_notice_and_is_dropped() {
        let hub = EventHub::default();
        let mut sub = hub.subscribe(None);
        for n in 0..(LIVE_BUFFER as u64 + 10) {
            hub.push(event(n));
        }
        let line = sub.next().await.unwrap();
        assert!(line.contains("\"notice\":\"lagged\""), "{line}");
        assert!(sub.next().await.is_none());
    }
}
