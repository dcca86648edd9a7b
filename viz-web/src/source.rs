//! Where the page's data comes from: the lab's event WebSocket (`/api/events`, resumed with
//! `?since=` after a reconnect), its member list (`/api/cluster`) and its control endpoints;
//! or, with no lab behind the page, a cluster simulated beside it ([`Backend::Simulated`]).

use serde_json::Value;
use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;
use web_sys::{CloseEvent, MessageEvent, WebSocket};
use yew::Callback;

use crate::simulator::Simulator;

/// Where the page's events come from and its commands go.
pub enum Backend {
    /// A lab (or `etcdlab viz`) behind the page: its event WebSocket and HTTP API.
    Lab,
    /// No lab: a cluster simulated in a Web Worker, answering the same requests.
    Simulated(Box<Simulator>),
}

/// One line of the event stream: the lab's cursor and the event, or a notice.
pub enum StreamLine {
    Event {
        cursor: u64,
        event: etcdlab_core::events::RaftEvent,
    },
    Notice(String),
}

/// Reads a line of the lab's stream; lines of another shape are ignored.
pub fn parse_line(text: &str) -> Option<StreamLine> {
    let value: Value = serde_json::from_str(text).ok()?;
    if let Some(notice) = value.get("notice") {
        return Some(StreamLine::Notice(notice.to_string()));
    }
    let cursor = value.get("cursor").and_then(Value::as_u64).unwrap_or(0);
    let event = serde_json::from_value(value).ok()?;
    Some(StreamLine::Event { cursor, event })
}

/// Opens the event stream from `since` (0: from the lab's oldest kept event); `on_line` gets
/// every text message, `on_closed` fires once when the socket closes or fails.
pub fn connect_events(
    since: u64,
    on_line: Callback<String>,
    on_closed: Callback<()>,
) -> Option<WebSocket> {
    let location = web_sys::window()?.location();
    let scheme = if location.protocol().ok()? == "https:" {
        "wss"
    } else {
        "ws"
    };
    let url = format!(
        "{scheme}://{}/api/events?since={since}",
        location.host().ok()?
    );
    let socket = WebSocket::new(&url).ok()?;
    let onmessage = Closure::<dyn FnMut(MessageEvent)>::new(move |e: MessageEvent| {
        if let Some(text) = e.data().as_string() {
            on_line.emit(text);
        }
    });
    socket.set_onmessage(Some(onmessage.as_ref().unchecked_ref()));
    onmessage.forget();
    let onclose = Closure::<dyn FnMut(CloseEvent)>::new(move |_: CloseEvent| on_closed.emit(()));
    socket.set_onclose(Some(onclose.as_ref().unchecked_ref()));
    onclose.forget();
    Some(socket)
}

/// `GET path` as JSON.
pub async fn get_json(path: &str) -> Result<Value, String> {
    let response = gloo_net::http::Request::get(path)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    response.json::<Value>().await.map_err(|e| e.to_string())
}

/// `POST path` with a JSON body (or none); the answer as JSON (an error's body included).
pub async fn post_json(path: &str, body: Option<&Value>) -> Result<Value, String> {
    let request = gloo_net::http::Request::post(path);
    let request = match body {
        Some(body) => request.json(body).map_err(|e| e.to_string())?,
        None => request.build().map_err(|e| e.to_string())?,
    };
    let response = request.send().await.map_err(|e| e.to_string())?;
    let status = response.status();
    let text = response.text().await.map_err(|e| e.to_string())?;
    let value: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
    if status >= 400 && value.get("error").is_none() {
        return Ok(serde_json::json!({ "error": value.to_string() }));
    }
    Ok(value)
}
