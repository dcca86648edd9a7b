//! The lab's HTTP face: `GET /api/cluster` (JSON: the members and the client endpoints),
//! `POST /api/members/{name}/kill`, `/restart`, `/pause` and `/resume`, and a status page at `/` that shows the
//! same and refreshes itself (the Yew visualizer replaces it with its issue).

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse};
use axum::routing::{get, post};
use serde_json::json;

use super::members::LabMembers;

pub fn router(lab: Arc<LabMembers>) -> Router {
    Router::new()
        .route("/", get(page))
        .route("/api/cluster", get(cluster))
        .route("/api/members/{name}/kill", post(kill))
        .route("/api/members/{name}/restart", post(restart))
        .route("/api/members/{name}/pause", post(pause))
        .route("/api/members/{name}/resume", post(resume))
        .with_state(lab)
}

async fn cluster(State(lab): State<Arc<LabMembers>>) -> impl IntoResponse {
    let members = lab.views().await;
    Json(json!({ "members": members, "endpoints": lab.client_endpoints().join(",") }))
}

async fn kill(State(lab): State<Arc<LabMembers>>, Path(name): Path<String>) -> impl IntoResponse {
    answer(lab.kill(&name))
}

async fn restart(
    State(lab): State<Arc<LabMembers>>,
    Path(name): Path<String>,
) -> impl IntoResponse {
    answer(lab.start(&name))
}

async fn pause(State(lab): State<Arc<LabMembers>>, Path(name): Path<String>) -> impl IntoResponse {
    answer(lab.pause(&name, true))
}

async fn resume(State(lab): State<Arc<LabMembers>>, Path(name): Path<String>) -> impl IntoResponse {
    answer(lab.pause(&name, false))
}

fn answer(result: anyhow::Result<()>) -> (StatusCode, Json<serde_json::Value>) {
    match result {
        Ok(()) => (StatusCode::OK, Json(json!({ "ok": true }))),
        Err(e) => (
            StatusCode::CONFLICT,
            Json(json!({ "ok": false, "error": e.to_string() })),
        ),
    }
}

/// A plain page listing the members; it reloads every second.
async fn page(State(lab): State<Arc<LabMembers>>) -> Html<String> {
    let members = lab.views().await;
    let rows: String = members
        .iter()
        .map(|m| {
            format!(
                "<tr data-node=\"{name}\" data-role=\"{role}\"><td>{name}</td><td>{id}</td><td class=\"{role}\">{role}</td>\
                 <td>{term}</td><td>{index}</td><td>{applied}</td><td>{ep}</td></tr>",
                name = m.name,
                id = m.id,
                role = m.role,
                term = m.term,
                index = m.raft_index,
                applied = m.applied_index,
                ep = m.endpoint
            )
        })
        .collect();
    let endpoints = lab.client_endpoints().join(",");
    Html(format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>etcdlab</title>\
         <meta http-equiv=\"refresh\" content=\"1\">\
         <style>body{{font-family:sans-serif;margin:2em}}td,th{{padding:.3em 1em;text-align:left}}\
         .leader{{color:#b45309;font-weight:bold}}.down{{color:#9ca3af}}</style></head><body>\
         <h1>etcdlab</h1><table><tr><th>member</th><th>id</th><th>role</th><th>term</th><th>raft index</th>\
         <th>applied</th><th>endpoint</th></tr>{rows}</table>\
         <p>Try: <code>etcdctl --endpoints {endpoints} put key1 value1</code></p>\
         <p>Kill or restart a member: <code>curl -X POST http://&lt;this address&gt;/api/members/m1/kill</code></p>\
         </body></html>"
    ))
}
