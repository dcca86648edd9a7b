//! The HTTP face of the lab and of `etcdlab viz` (one router over [`Members`], started or
//! given), JSON over HTTP on `--ui-addr`:
//!
//! - `GET /api/cluster`: every member's name, id, URLs, pid, state (`up|down|paused`), role,
//!   term, leader, commit and applied index;
//! - `GET /api/events`: all members' Raft events merged in arrival order, each with a lab-wide
//!   `cursor` — a WebSocket (one text message per event), or newline-delimited JSON with
//!   `?format=jsonl`; `?since=<cursor>` resumes after that cursor from the history, then goes
//!   live; `&follow=false` answers the history only and ends (handy for curl and tests);
//! - `POST /api/faults` with exactly one of `{"kill":"m1"}`, `{"restart":"m1"}`,
//!   `{"pause":"m1"}`, `{"resume":"m1"}`, `{"partition":[["m1"],["m2","m3"]]}`,
//!   `{"heal":true}`, `{"link":{"from":"m1","to":"m2","drop":0.3,"delay_ms":50}}`,
//!   `{"campaign":"m1"}` (that member starts an election at once); kill and restart answer 409
//!   for members we did not start (`etcdlab viz`);
//! - `POST /api/kv` `{"op":"put|get|delete","key":"k","value":"v"}` through gRPC;
//! - `POST /api/freeze` / `POST /api/thaw`: pause / resume every member;
//! - `POST /api/observe`, `/api/sample`, `/api/wipe`: what lessons check and set up (see
//!   [`lesson_api`]);
//! - `POST /api/members/{name}/kill|restart|pause|resume`: the older spelling of the faults;
//! - `GET /`: the visualizer (embedded, see `viz_assets`); `GET /status`: a plain status page
//!   that refreshes itself, for browsers without WebAssembly and for scripts.
//!
//! Answers are `{"ok":true,...}`, or `{"ok":false,"error":"<reason>"}` with 400 for a
//! malformed request or an unknown member and 409 when the cluster cannot carry it out.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::ws::{WebSocketUpgrade, rejection::WebSocketUpgradeRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

use etcdlab_core::lesson::ObservationRequest;

use super::lesson_api;
use super::members::{Members, Refusal, kv};

pub fn router(lab: Arc<Members>) -> Router {
    Router::new()
        .route("/status", get(page))
        .merge(crate::viz_assets::router())
        .route("/api/cluster", get(cluster))
        .route("/api/events", get(events))
        .route("/api/faults", post(faults))
        .route("/api/kv", post(kv_request))
        .route("/api/freeze", post(freeze))
        .route("/api/thaw", post(thaw))
        .route("/api/observe", post(observe))
        .route("/api/sample", post(sample))
        .route("/api/wipe", post(wipe))
        .route("/api/lesson/reset", post(lesson_reset))
        .route("/api/members/{name}/{verb}", post(member_verb))
        .with_state(lab)
}

async fn cluster(State(lab): State<Arc<Members>>) -> impl IntoResponse {
    let members = lab.views().await;
    Json(json!({ "members": members, "endpoints": lab.client_endpoints().join(",") }))
}

async fn events(
    State(lab): State<Arc<Members>>,
    Query(query): Query<HashMap<String, String>>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let since = match query.get("since").map(|s| s.parse::<u64>()) {
        None => None,
        Some(Ok(since)) => Some(since),
        Some(Err(_)) => {
            return refusal(Refusal::BadRequest(
                "\"since\" takes a cursor (a whole number)".into(),
            ));
        }
    };
    if query.get("follow").map(String::as_str) == Some("false") {
        let body: String = lab
            .events
            .history_after(since.unwrap_or(0))
            .iter()
            .map(|(_, text)| format!("{text}\n"))
            .collect();
        return ([("content-type", "application/x-ndjson")], body).into_response();
    }
    let subscription = lab.events.subscribe(since);
    let lines = futures::stream::unfold(subscription, |mut subscription| async move {
        let line = subscription.next().await?;
        Some((line.to_string(), subscription))
    });
    crate::line_stream::serve(upgrade, Box::pin(lines))
}

async fn faults(State(lab): State<Arc<Members>>, body: String) -> Response {
    let request = match serde_json::from_str::<Value>(&body) {
        Ok(Value::Object(object)) if object.len() == 1 => object,
        Ok(Value::Object(object)) => {
            return refusal(Refusal::BadRequest(format!(
                "give exactly one fault per request, not {}",
                if object.is_empty() {
                    "none".to_string()
                } else {
                    object.keys().cloned().collect::<Vec<_>>().join(", ")
                }
            )));
        }
        Ok(_) => {
            return refusal(Refusal::BadRequest(
                "the body must be a JSON object such as {\"kill\":\"m1\"}".into(),
            ));
        }
        Err(e) => return refusal(Refusal::BadRequest(format!("the body is not JSON: {e}"))),
    };
    let (key, value) = request.into_iter().next().expect("one entry");
    let member = || {
        value.as_str().map(str::to_string).ok_or_else(|| {
            Refusal::BadRequest(format!(
                "\"{key}\" takes a member name, e.g. {{\"{key}\":\"m1\"}}"
            ))
        })
    };
    let result: Result<Value, Refusal> = match key.as_str() {
        "kill" => async { lab.kill(&member()?).map(|()| json!({})) }.await,
        "restart" => async { lab.start(&member()?).map(|()| json!({})) }.await,
        "pause" => async { lab.pause(&member()?, true).await.map(|()| json!({})) }.await,
        "resume" => async { lab.pause(&member()?, false).await.map(|()| json!({})) }.await,
        "partition" => lab
            .set_partition(Some(value.clone()))
            .await
            .map(|members| json!({ "applied_on": members })),
        "heal" if value == Value::Bool(true) => lab
            .set_partition(None)
            .await
            .map(|members| json!({ "applied_on": members })),
        "heal" => Err(Refusal::BadRequest("\"heal\" takes true".into())),
        "link" => lab
            .link(&value)
            .await
            .map(|faults| json!({ "faults": faults })),
        "campaign" => {
            async {
                lab.campaign(&member()?)
                    .await
                    .map(|faults| json!({ "faults": faults }))
            }
            .await
        }
        other => Err(Refusal::BadRequest(format!(
            "unknown fault \"{other}\": use kill, restart, pause, resume, partition, heal, link or campaign"
        ))),
    };
    answer(result)
}

async fn member_verb(
    State(lab): State<Arc<Members>>,
    Path((name, verb)): Path<(String, String)>,
) -> Response {
    let result = match verb.as_str() {
        "kill" => lab.kill(&name),
        "restart" => lab.start(&name),
        "pause" => lab.pause(&name, true).await,
        "resume" => lab.pause(&name, false).await,
        other => Err(Refusal::BadRequest(format!(
            "unknown action \"{other}\": use kill, restart, pause or resume"
        ))),
    };
    answer(result.map(|()| json!({})))
}

async fn kv_request(State(lab): State<Arc<Members>>, body: String) -> Response {
    let request = match serde_json::from_str::<Value>(&body) {
        Ok(request) => request,
        Err(e) => return refusal(Refusal::BadRequest(format!("the body is not JSON: {e}"))),
    };
    let targets = lab.kv_targets().await;
    answer(kv(lab.tls(), &targets, &request).await)
}

async fn observe(State(lab): State<Arc<Members>>, body: String) -> Response {
    match serde_json::from_str::<ObservationRequest>(&body) {
        Ok(request) => Json(lesson_api::observe(&lab, &request).await).into_response(),
        Err(e) => refusal(Refusal::BadRequest(format!(
            "the body must be {{\"keys\":[..],\"prefixes\":[..],\"files\":[..],\"endpoints\":[..]}}: {e}"
        ))),
    }
}

async fn sample(State(lab): State<Arc<Members>>, body: String) -> Response {
    let name = serde_json::from_str::<Value>(&body)
        .ok()
        .and_then(|v| v["name"].as_str().map(str::to_string));
    let Some(name) = name else {
        return refusal(Refusal::BadRequest(
            "the body must be {\"name\":\"kubernetes\"}".into(),
        ));
    };
    answer(
        lesson_api::load_sample(&lab, &name)
            .await
            .map(|n| json!({ "loaded": n })),
    )
}

async fn wipe(State(lab): State<Arc<Members>>) -> Response {
    answer(
        lesson_api::wipe(&lab)
            .await
            .map(|n| json!({ "deleted": n })),
    )
}

async fn lesson_reset(State(lab): State<Arc<Members>>, body: String) -> Response {
    let number = serde_json::from_str::<Value>(&body)
        .ok()
        .and_then(|v| v["lesson"].as_u64());
    let lessons = match etcdlab_core::lesson::catalog::lessons() {
        Ok(lessons) => lessons,
        Err(e) => return refusal(Refusal::Conflict(e.to_string())),
    };
    let count = lessons.len();
    let Some((_, lesson)) = number
        .and_then(|n| usize::try_from(n).ok()?.checked_sub(1))
        .and_then(|i| lessons.into_iter().nth(i))
    else {
        return refusal(Refusal::BadRequest(format!(
            "the body must be {{\"lesson\":N}} with N from 1 to {count}"
        )));
    };
    answer(lesson_api::reset(&lab, &lesson).await.map(|()| json!({})))
}

async fn freeze(State(lab): State<Arc<Members>>) -> Response {
    answer(lab.pause_all(true).await.map(|m| json!({ "paused": m })))
}

async fn thaw(State(lab): State<Arc<Members>>) -> Response {
    answer(lab.pause_all(false).await.map(|m| json!({ "resumed": m })))
}

fn answer(result: Result<Value, Refusal>) -> Response {
    match result {
        Ok(mut value) => {
            if let Some(object) = value.as_object_mut() {
                object.insert("ok".into(), Value::Bool(true));
            }
            (StatusCode::OK, Json(value)).into_response()
        }
        Err(e) => refusal(e),
    }
}

fn refusal(refusal: Refusal) -> Response {
    let status = match refusal {
        Refusal::BadRequest(_) => StatusCode::BAD_REQUEST,
        Refusal::Conflict(_) => StatusCode::CONFLICT,
    };
    (
        status,
        Json(json!({ "ok": false, "error": refusal.to_string() })),
    )
        .into_response()
}

/// A plain page listing the members; it reloads every second.
async fn page(State(lab): State<Arc<Members>>) -> Html<String> {
    let members = lab.views().await;
    let rows: String = members
        .iter()
        .map(|m| {
            let role = m.role.clone().unwrap_or_else(|| m.state.clone());
            format!(
                "<tr data-node=\"{name}\" data-role=\"{role}\" data-state=\"{state}\"><td>{name}</td><td>{id}</td>\
                 <td class=\"{role}\">{role}</td><td>{state}</td>\
                 <td>{term}</td><td>{index}</td><td>{applied}</td><td>{ep}</td></tr>",
                name = m.name,
                id = m.id,
                state = m.state,
                term = m.term,
                index = m.commit_index,
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
         <h1>etcdlab</h1><table><tr><th>member</th><th>id</th><th>role</th><th>state</th><th>term</th>\
         <th>commit</th><th>applied</th><th>endpoint</th></tr>{rows}</table>\
         <p>Try: <code>etcdctl --endpoints {endpoints} put key1 value1</code></p>\
         <p>Break it: <code>etcdlab lab kill m1</code>, <code>etcdlab lab partition m1 / m2 m3</code>, \
         <code>etcdlab lab freeze</code>; watch it: <code>etcdlab events</code></p>\
         </body></html>"
    ))
}
