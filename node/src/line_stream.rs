//! Serving a stream of JSON lines over HTTP, as both the members' `/debug/raft/events` and the
//! lab's `/api/events` do: a WebSocket upgrade gets one text message per line, a plain GET
//! gets newline-delimited JSON in chunks: the lines of up to [`CHUNK_WINDOW`] after the first
//! of a chunk go out in one write, so a busy member's stream costs a few writes (and a few
//! wake-ups of its reader) per second instead of one per event.

use std::time::Duration;

use axum::body::Body;
use axum::extract::ws::{
    Message, WebSocket, WebSocketUpgrade, rejection::WebSocketUpgradeRejection,
};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use futures::{Stream, StreamExt};

/// Most lines written in one HTTP chunk.
const LINES_PER_CHUNK: usize = 1024;
/// How long a chunk waits for more lines after its first.
pub const CHUNK_WINDOW: Duration = Duration::from_millis(20);

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
            .body(Body::from_stream(
                chunks(lines).map(Ok::<_, std::convert::Infallible>),
            ))
            .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response()),
    }
}

/// Newline-terminated lines gathered into chunks, each closed [`CHUNK_WINDOW`] after its
/// first line (or at [`LINES_PER_CHUNK`] lines, or when the lines end).
fn chunks<S>(lines: S) -> impl Stream<Item = String>
where
    S: Stream<Item = String> + Unpin,
{
    futures::stream::unfold(lines.fuse(), |mut lines| async move {
        let mut chunk = lines.next().await?;
        chunk.push('\n');
        // One timer per chunk, not one per line.
        let window = tokio::time::sleep(CHUNK_WINDOW);
        tokio::pin!(window);
        for _ in 1..LINES_PER_CHUNK {
            let line = tokio::select! {
                biased;
                line = lines.next() => line,
                _ = &mut window => None,
            };
            match line {
                Some(line) => {
                    chunk.push_str(&line);
                    chunk.push('\n');
                }
                None => break,
            }
        }
        Some((chunk, lines))
    })
}

async fn to_socket<S: Stream<Item = String> + Unpin>(mut socket: WebSocket, mut lines: S) {
    while let Some(line) = lines.next().await {
        if socket.send(Message::Text(line.into())).await.is_err() {
            return;
        }
    }
    let _ = tokio::time::timeout(Duration::from_secs(1), socket.send(Message::Close(None))).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn lines_close_together_share_a_chunk_and_later_ones_start_the_next() {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<String>();
        let lines = futures::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|line| (line, rx))
        });
        let mut out = Box::pin(chunks(Box::pin(lines)));
        tx.send("a".into()).unwrap();
        tx.send("b".into()).unwrap();
        let sender = tokio::spawn(async move {
            tokio::time::sleep(CHUNK_WINDOW / 2).await;
            tx.send("c".into()).unwrap();
            tokio::time::sleep(CHUNK_WINDOW * 2).await;
            tx.send("d".into()).unwrap();
        });
        assert_eq!(out.next().await.as_deref(), Some("a\nb\nc\n"));
        assert_eq!(out.next().await.as_deref(), Some("d\n"));
        sender.await.unwrap();
        assert_eq!(out.next().await, None);
    }
}
