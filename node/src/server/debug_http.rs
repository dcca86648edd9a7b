//! The member's HTTP debug endpoints, served on the client URLs beside gRPC (the events
//! stream also on `--listen-metrics-urls`):
//!
//! - `GET /debug/raft/events`: this member's Raft events from now on, one JSON object each
//!   (the schema of `etcdlab_core::events`). A WebSocket upgrade gets one text message per
//!   event; a plain GET (e.g. `curl ...?format=jsonl`) gets newline-delimited JSON. A
//!   subscriber that falls [`EVENT_BUFFER`](super::member_loop::EVENT_BUFFER) readies behind
//!   gets one last `{"notice":"lagged","dropped":N}` (N events) and is disconnected:
//!   consensus never waits for it.
//! - `POST /debug/faults`: injects or clears a fault (only with
//!   `--experimental-fault-injection`); the body is exactly one of `{"partition":[["m1"],
//!   ["m2","m3"]]}`, `{"heal":true}`, `{"link":{"to":"m2","drop":0.3,"delay_ms":50}}`,
//!   `{"pause":true}`, `{"resume":true}`, `{"disk_delay_ms":20}`, `{"campaign":true}`, or `{}`
//!   to read the faults in force. Members are named by `--name` or hex id. The answer is the
//!   faults in force, or a 400/403 with the reason.

use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::extract::ws::{WebSocketUpgrade, rejection::WebSocketUpgradeRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use tokio::sync::broadcast::{self, error::RecvError};
use tokio::sync::watch;

use super::faults::{FaultChange, LinkFault};
use super::member_loop::{EventBatch, MemberHandle};

#[derive(Clone)]
struct DebugState {
    member: MemberHandle,
    fault_injection: bool,
    /// Turns true when the member stops: open event streams end then.
    stop: watch::Receiver<bool>,
}

/// Both endpoints, for the client URLs.
pub fn router(member: MemberHandle, fault_injection: bool, stop: watch::Receiver<bool>) -> Router {
    let faults = Router::new()
        .route("/debug/faults", post(faults))
        .with_state(DebugState {
            member: member.clone(),
            fault_injection,
            stop: stop.clone(),
        });
    events_router(member, stop).merge(faults)
}

/// `/debug/raft/events` alone, for the metrics URLs (which inject no faults).
pub fn events_router(member: MemberHandle, stop: watch::Receiver<bool>) -> Router {
    Router::new()
        .route("/debug/raft/events", get(events))
        .with_state(DebugState {
            member,
            fault_injection: false,
            stop,
        })
}

async fn events(
    State(state): State<DebugState>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let subscription = Subscription {
        receiver: state.member.subscribe(),
        stop: state.stop.clone(),
        batch: None,
        last_seq: None,
        ended: false,
    };
    let lines = futures::stream::unfold(subscription, |mut subscription| async move {
        let line = subscription.next_line().await?;
        Some((line, subscription))
    });
    crate::line_stream::serve(upgrade, Box::pin(lines))
}

/// One subscriber's events, until the member stops.
struct Subscription {
    receiver: broadcast::Receiver<EventBatch>,
    stop: watch::Receiver<bool>,
    /// The batch being written out, with the position of its next event.
    batch: Option<(EventBatch, usize)>,
    /// The sequence number of the last event written, to count what a lag dropped.
    last_seq: Option<u64>,
    /// Set after the notice that ends a lagging subscriber's stream.
    ended: bool,
}

impl Subscription {
    /// The next line: an event, or the notice that ends a lagging stream; `None` once the
    /// member stops or the notice was given.
    async fn next_line(&mut self) -> Option<String> {
        loop {
            if self.ended {
                return None;
            }
            if let Some((batch, next)) = &mut self.batch
                && let Some(event) = batch.get(*next)
            {
                *next += 1;
                self.last_seq = Some(event.seq);
                return serde_json::to_string(event).ok();
            }
            let received = tokio::select! {
                received = self.receiver.recv() => received,
                _ = self.stop.wait_for(|stopped| *stopped) => return None,
            };
            match received {
                Ok(batch) => self.batch = Some((batch, 0)),
                Err(RecvError::Lagged(batches)) => {
                    self.ended = true;
                    let dropped = self.dropped().unwrap_or(batches);
                    return Some(json!({"notice": "lagged", "dropped": dropped}).to_string());
                }
                Err(RecvError::Closed) => return None,
            }
        }
    }

    /// How many events a lag skipped, when known: the gap between the last event written and
    /// the oldest one still buffered (where the lag left the receiver).
    fn dropped(&mut self) -> Option<u64> {
        let oldest = self.receiver.try_recv().ok()?.first()?.seq;
        Some(oldest.saturating_sub(self.last_seq? + 1))
    }
}

async fn faults(State(state): State<DebugState>, body: String) -> Response {
    if !state.fault_injection {
        return refusal(
            StatusCode::FORBIDDEN,
            "fault injection is off: start the member with --experimental-fault-injection".into(),
        );
    }
    let change = match serde_json::from_str::<Value>(&body)
        .map_err(|e| format!("the body is not JSON: {e}"))
        .and_then(|v| parse_change(&v, &state.member))
    {
        Ok(change) => change,
        Err(reason) => return refusal(StatusCode::BAD_REQUEST, reason),
    };
    let answer = match change {
        Request::Campaign => {
            state.member.campaign();
            state.member.change_faults(None).await
        }
        Request::Change(change) => state.member.change_faults(change).await,
    };
    match answer {
        Ok(faults) => Json(faults).into_response(),
        Err(e) => refusal(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
    }
}

fn refusal(status: StatusCode, reason: String) -> Response {
    (status, Json(json!({ "error": reason }))).into_response()
}

enum Request {
    /// A fault change, or `None` to read the faults in force.
    Change(Option<FaultChange>),
    Campaign,
}

/// Reads one fault request, resolving member names to ids.
fn parse_change(body: &Value, member: &MemberHandle) -> Result<Request, String> {
    let object = body
        .as_object()
        .ok_or("the body must be a JSON object such as {\"heal\":true}")?;
    if object.is_empty() {
        return Ok(Request::Change(None));
    }
    if object.len() != 1 {
        return Err(format!(
            "give exactly one fault per request, not {}",
            object.keys().cloned().collect::<Vec<_>>().join(", ")
        ));
    }
    let (key, value) = object.iter().next().expect("one entry");
    let flag = |what: &str| match value {
        Value::Bool(true) => Ok(()),
        _ => Err(format!("\"{what}\" takes true")),
    };
    let change = match key.as_str() {
        "partition" => {
            let groups = value.as_array().ok_or(
                "\"partition\" takes a list of member groups, e.g. [[\"m1\"],[\"m2\",\"m3\"]]",
            )?;
            let mut ids = Vec::new();
            for group in groups {
                let names = group
                    .as_array()
                    .ok_or("each partition group is a list of member names")?;
                ids.push(
                    names
                        .iter()
                        .map(|n| resolve(n, member))
                        .collect::<Result<Vec<_>, _>>()?,
                );
            }
            FaultChange::Partition(ids)
        }
        "heal" => {
            flag("heal")?;
            FaultChange::Heal
        }
        "pause" => {
            flag("pause")?;
            FaultChange::Pause
        }
        "resume" => {
            flag("resume")?;
            FaultChange::Resume
        }
        "campaign" => {
            flag("campaign")?;
            return Ok(Request::Campaign);
        }
        "disk_delay_ms" => {
            let ms = value
                .as_u64()
                .filter(|ms| *ms <= 60_000)
                .ok_or("\"disk_delay_ms\" takes milliseconds, 0 to 60000")?;
            FaultChange::DiskDelay(Duration::from_millis(ms))
        }
        "link" => parse_link(value, member)?,
        other => {
            return Err(format!(
                "unknown fault \"{other}\": use partition, heal, link, pause, resume, disk_delay_ms or campaign"
            ));
        }
    };
    Ok(Request::Change(Some(change)))
}

fn parse_link(value: &Value, member: &MemberHandle) -> Result<FaultChange, String> {
    let link = value
        .as_object()
        .ok_or("\"link\" takes {\"to\":\"m2\",\"drop\":0.3,\"delay_ms\":50}")?;
    for key in link.keys() {
        if !["from", "to", "drop", "delay_ms"].contains(&key.as_str()) {
            return Err(format!("unknown link field \"{key}\""));
        }
    }
    if let Some(from) = link.get("from")
        && resolve(from, member)? != member.status().id
    {
        return Err("a link fault is set on the member it leaves from (\"from\")".into());
    }
    let to = resolve(link.get("to").ok_or("\"link\" needs \"to\"")?, member)?;
    let loss = match link.get("drop") {
        None => 0.0,
        Some(v) => v
            .as_f64()
            .filter(|r| (0.0..=1.0).contains(r))
            .ok_or("\"drop\" is a rate from 0 to 1")?,
    };
    let delay_ms = match link.get("delay_ms") {
        None => 0,
        Some(v) => v
            .as_u64()
            .filter(|ms| *ms <= 60_000)
            .ok_or("\"delay_ms\" takes milliseconds, 0 to 60000")?,
    };
    if to == member.status().id {
        return Err("a link goes to another member, not to this one".into());
    }
    Ok(FaultChange::Link {
        to,
        fault: LinkFault { loss, delay_ms },
    })
}

/// A member's id from its name or hex id.
fn resolve(name: &Value, member: &MemberHandle) -> Result<u64, String> {
    let name = name.as_str().ok_or("members are named by strings")?;
    let members = member.members().map_err(|e| e.to_string())?;
    members
        .iter()
        .find(|m| m.name == name || format!("{:x}", m.id) == name)
        .map(|m| m.id)
        .ok_or_else(|| format!("no member named \"{name}\" in this cluster"))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use etcdlab_core::events::{EventKind, RaftEvent, SCHEMA_VERSION};

    use super::*;

    fn batch(seqs: std::ops::RangeInclusive<u64>) -> EventBatch {
        Arc::new(
            seqs.map(|seq| RaftEvent {
                v: SCHEMA_VERSION,
                seq,
                ts_ms: 0,
                node: "m1".into(),
                id: "1".into(),
                term: 1,
                kind: EventKind::CommitAdvanced { commit: seq },
            })
            .collect(),
        )
    }

    #[tokio::test]
    async fn a_batch_goes_out_one_line_per_event_and_a_lagging_subscriber_learns_how_many_it_lost()
    {
        let (sender, receiver) = broadcast::channel(2);
        let (_running, stop) = watch::channel(false);
        let mut subscription = Subscription {
            receiver,
            stop,
            batch: None,
            last_seq: None,
            ended: false,
        };
        sender.send(batch(1..=2)).unwrap();
        let first: Value = serde_json::from_str(&subscription.next_line().await.unwrap()).unwrap();
        assert_eq!(first["seq"], 1);
        // Three more batches overflow the two the channel keeps: 3..=5 is lost.
        for seqs in [3..=5, 6..=6, 7..=8] {
            sender.send(batch(seqs)).unwrap();
        }
        let second: Value = serde_json::from_str(&subscription.next_line().await.unwrap()).unwrap();
        assert_eq!(
            second["seq"], 2,
            "the batch being written is finished first"
        );
        let notice: Value = serde_json::from_str(&subscription.next_line().await.unwrap()).unwrap();
        assert_eq!(notice, json!({"notice": "lagged", "dropped": 3}));
        assert_eq!(
            subscription.next_line().await,
            None,
            "the stream ends after the notice"
        );
    }
}
