//! The member's operational HTTP endpoints, on the client URLs beside gRPC and (all but
//! `/version`) on `--listen-metrics-urls`, as etcd serves them:
//!
//! - `GET /health`: `{"health":"true"}` (200) when the member knows a leader, no alarm is raised
//!   and a linearizable read round completes within a second; `{"health":"false"}` (503)
//!   otherwise — what load balancers and `curl` checks in the course look at.
//! - `GET /livez` (the process answers) and `GET /readyz` (as `/health`), etcd 3.5's probes:
//!   `ok` or 503.
//! - `GET /version`: `{"etcdserver":"3.4.23","etcdcluster":"3.4.0"}`.
//! - `GET /metrics`: Prometheus text ([`metrics`](super::metrics)).

use std::path::PathBuf;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use etcdlab_core::alarms;
use etcdlab_core::mvcc::MvccStore;
use redb::ReadableDatabase;

use super::maintenance::ETCD_VERSION;
use super::member_loop::MemberHandle;

/// How long `/health` waits for its read round.
const HEALTH_READ_TIMEOUT: Duration = Duration::from_secs(1);

#[derive(Clone)]
struct HealthState {
    member: MemberHandle,
    db_path: PathBuf,
}

/// Every endpoint, for the client URLs.
pub fn router(member: MemberHandle, db_path: PathBuf) -> Router {
    probes_router(member, db_path).route("/version", get(version))
}

/// The probes and `/metrics` without `/version`: what `--listen-metrics-urls` serve, as in etcd.
pub fn probes_router(member: MemberHandle, db_path: PathBuf) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/livez", get(|| async { "ok" }))
        .route("/readyz", get(ready))
        .route("/metrics", get(metrics))
        .with_state(HealthState { member, db_path })
}

/// Whether the member can serve a linearizable request now.
async fn healthy(member: &MemberHandle) -> bool {
    if member.status().leader_id == 0 {
        return false;
    }
    let no_alarm = member
        .database()
        .ok()
        .and_then(|db| db.begin_read().ok())
        .and_then(|txn| alarms::active(&txn).ok())
        .is_some_and(|raised| raised.is_empty());
    no_alarm
        && tokio::time::timeout(HEALTH_READ_TIMEOUT, member.linearizable_barrier())
            .await
            .is_ok_and(|answer| answer.is_ok())
}

async fn health(State(state): State<HealthState>) -> Response {
    let (status, body) = if healthy(&state.member).await {
        (StatusCode::OK, r#"{"health":"true"}"#)
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, r#"{"health":"false"}"#)
    };
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        body,
    )
        .into_response()
}

async fn ready(State(state): State<HealthState>) -> Response {
    if healthy(&state.member).await {
        "ok".into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready").into_response()
    }
}

async fn version() -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        format!(r#"{{"etcdserver":"{ETCD_VERSION}","etcdcluster":"3.4.0"}}"#),
    )
        .into_response()
}

async fn metrics(State(state): State<HealthState>) -> Response {
    let db_size = std::fs::metadata(&state.db_path).map_or(0, |m| m.len());
    let keys = state
        .member
        .database()
        .ok()
        .and_then(|db| db.begin_read().ok())
        .and_then(|txn| MvccStore::key_count(&txn).ok())
        .unwrap_or(0);
    let text = state
        .member
        .metrics()
        .render(&state.member.status(), db_size, keys);
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response()
}
