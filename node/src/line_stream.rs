//! Serving a stream of JSON lines over HTTP, as both the members' `/debug/raft/events` and the
//! lab's `/api/events` do: a WebSocket upgrade gets one text message per line, a plain GET
//! gets newline-delimited JSON, lines that are ready together sent in one chunk.

use std::time::Duration;

use axum::body::Body;
use axum::extract::ws::{
    Message, WebSocket, WebSocketUpgrade, rejection::WebSocketUpgradeRejection,
};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use futures::{Stream, StreamExt};

/// Most lines written in one HTTP chunk.
const LINES_PER_CHUNK: usize = 256;

/// Answers with `lines` (each without its newline) over a WebSocket if the request asked for
/// one, as newline-delimited JSON otherwise.
pub fn serve<S>(upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>, lines: S) -> Response
where
    S: Stream<Item = String> + Send + Unpin + 'static,
{
    match upgrade {
        Ok(ws) => ws.on_upgrade(move |socket| to_socket(socket, lines)),
        Err(_) => Response::builder()
            .header("content-type", "application/x-ndjson")
            .header("cache-control", "no-cache")
            // Lines already waiting go out in one chunk: one write for a burst, not one each.
            .body(Body::from_stream(lines.ready_chunks(LINES_PER_CHUNK).map(
                |batch| {
                    let mut chunk = batch.join("\n");
                    chunk.push('\n');
                    Ok::<_, std::convert::Infallible>(chunk)
                },
            )))
            .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response()),
    }
}

async fn to_socket<S: Stream<Item = String> + Unpin>(mut socket: WebSocket, mut lines: S) {
    while let Some(line) = lines.next().await {
        if socket.send(Message::Text(line.into())).await.is_err() {
            return;
        }
    }
    let _ = tokio::time::timeout(Duration::from_secs(1), socket.send(Message::Close(None))).await;
}
