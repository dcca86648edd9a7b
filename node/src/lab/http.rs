//! A small HTTP/1.1 client over a tokio `TcpStream`, enough for what the lab and
//! `etcdlab events` ask of loopback servers: one request with a JSON body and its answer
//! ([`request`]), and a long-lived newline-delimited stream read line by line, chunked or not
//! ([`LineStream`]). Plain HTTP, or HTTPS when given a TLS connector (a lab's TLS members);
//! every request closes its connection.

use std::time::Duration;

use anyhow::{Context, bail};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// A connection, plain or TLS.
trait Connection: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Connection for T {}

/// `host:port` of an `http://host:port[/...]` URL (or of a bare `host:port`).
pub fn host_port(url: &str) -> String {
    let rest = url
        .trim_start_matches("http://")
        .trim_start_matches("https://");
    rest.split('/').next().unwrap_or(rest).to_string()
}

/// Sends `method path` with an optional JSON body to `addr` (`host:port`) and returns the
/// status code and the whole body, within `timeout`.
pub async fn request(
    tls: Option<&TlsConnector>,
    addr: &str,
    method: &str,
    path: &str,
    body: Option<&str>,
    timeout: Duration,
) -> anyhow::Result<(u16, String)> {
    let exchange = async {
        let (status, mut stream) = open(tls, addr, method, path, body).await?;
        let mut text = Vec::new();
        while let Some(line) = stream.next_chunk().await? {
            text.extend_from_slice(&line);
        }
        anyhow::Ok((status, String::from_utf8_lossy(&text).into_owned()))
    };
    tokio::time::timeout(timeout, exchange)
        .await
        .map_err(|_| anyhow::anyhow!("{addr} did not answer {method} {path} in {timeout:?}"))?
}

/// Opens a `GET path` whose body is a stream of lines (e.g. `?format=jsonl` event streams);
/// fails unless the answer is 200.
pub async fn open_lines(
    tls: Option<&TlsConnector>,
    addr: &str,
    path: &str,
) -> anyhow::Result<LineStream> {
    let (status, stream) =
        tokio::time::timeout(Duration::from_secs(5), open(tls, addr, "GET", path, None))
            .await
            .map_err(|_| anyhow::anyhow!("{addr} did not answer GET {path}"))??;
    if status != 200 {
        bail!("{addr} answered GET {path} with status {status}");
    }
    Ok(stream)
}

async fn open(
    tls: Option<&TlsConnector>,
    addr: &str,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> anyhow::Result<(u16, LineStream)> {
    let tcp = TcpStream::connect(addr)
        .await
        .with_context(|| format!("cannot connect to {addr}"))?;
    let mut tcp: Box<dyn Connection> = match tls {
        Some(connector) => Box::new(
            connector
                .connect(crate::tls::server_name(addr)?, tcp)
                .await
                .with_context(|| format!("TLS handshake with {addr}"))?,
        ),
        None => Box::new(tcp),
    };
    let body = body.unwrap_or("");
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    tcp.write_all(head.as_bytes()).await?;
    tcp.write_all(body.as_bytes()).await?;
    let mut reader = BufReader::new(tcp);
    let mut status_line = String::new();
    reader.read_line(&mut status_line).await?;
    let status: u16 = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .with_context(|| format!("{addr} answered with something other than HTTP"))?;
    let mut chunked = false;
    let mut length = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).await? == 0 {
            bail!("{addr} closed the connection inside the headers");
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            let (name, value) = (name.trim().to_ascii_lowercase(), value.trim());
            if name == "transfer-encoding" && value.eq_ignore_ascii_case("chunked") {
                chunked = true;
            } else if name == "content-length" {
                length = value.parse::<usize>().ok();
            }
        }
    }
    Ok((
        status,
        LineStream {
            reader,
            chunked,
            left: if chunked {
                0
            } else {
                length.unwrap_or(usize::MAX)
            },
            pending: Vec::new(),
            done: false,
        },
    ))
}

/// The body of an answer, read as it arrives.
pub struct LineStream {
    reader: BufReader<Box<dyn Connection>>,
    chunked: bool,
    /// Bytes left in the current chunk (chunked) or in the body (content length or to EOF).
    left: usize,
    pending: Vec<u8>,
    done: bool,
}

impl LineStream {
    /// The next piece of the body, or `None` at its end.
    async fn next_chunk(&mut self) -> anyhow::Result<Option<Vec<u8>>> {
        if self.done {
            return Ok(None);
        }
        if self.chunked && self.left == 0 {
            let mut size_line = String::new();
            if self.reader.read_line(&mut size_line).await? == 0 {
                self.done = true;
                return Ok(None);
            }
            let size = size_line.trim().split(';').next().unwrap_or("");
            let size = usize::from_str_radix(size, 16)
                .with_context(|| format!("bad chunk size {size:?}"))?;
            if size == 0 {
                self.done = true;
                return Ok(None);
            }
            self.left = size;
        }
        if self.left == 0 {
            self.done = true;
            return Ok(None);
        }
        let mut buffer = vec![0u8; self.left.min(16 * 1024)];
        let n = self.reader.read(&mut buffer).await?;
        if n == 0 {
            self.done = true;
            return Ok(None);
        }
        buffer.truncate(n);
        self.left -= n;
        if self.chunked && self.left == 0 {
            let mut crlf = String::new();
            self.reader.read_line(&mut crlf).await?;
        }
        Ok(Some(buffer))
    }

    /// The next line of the body without its newline, or `None` at its end.
    pub async fn next_line(&mut self) -> anyhow::Result<Option<String>> {
        loop {
            if let Some(end) = self.pending.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = self.pending.drain(..=end).collect();
                return Ok(Some(
                    String::from_utf8_lossy(&line[..end]).trim_end().to_string(),
                ));
            }
            match self.next_chunk().await? {
                Some(bytes) => self.pending.extend_from_slice(&bytes),
                None if self.pending.is_empty() => return Ok(None),
                None => {
                    let line = std::mem::take(&mut self.pending);
                    return Ok(Some(String::from_utf8_lossy(&line).trim_end().to_string()));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;

    async fn serve_once(answer: &'static str) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut buffer = [0u8; 1024];
            let _ = socket.read(&mut buffer).await;
            socket.write_all(answer.as_bytes()).await.unwrap();
        });
        addr
    }

    #[tokio::test]
    async fn chunked_lines_are_reassembled_across_chunks() {
        let addr = serve_once(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
             5\r\n{\"a\":\r\n7\r\n1}\n{\"b\"\r\n4\r\n:2}\n\r\n0\r\n\r\n",
        )
        .await;
        let mut lines = open_lines(None, &addr, "/x").await.unwrap();
        assert_eq!(lines.next_line().await.unwrap().unwrap(), "{\"a\":1}");
        assert_eq!(lines.next_line().await.unwrap().unwrap(), "{\"b\":2}");
        assert!(lines.next_line().await.unwrap().is_none());
    }

    #[tokio::test]
    async fn a_request_reads_a_body_of_known_length() {
        let addr = serve_once(
            "HTTP/1.1 400 Bad Request\r\nContent-Length: 15\r\n\r\n{\"error\":\"no\"}\n",
        )
        .await;
        let (status, body) = request(
            None,
            &addr,
            "POST",
            "/f",
            Some("{}"),
            Duration::from_secs(5),
        )
        .await
        .unwrap();
        assert_eq!((status, body.as_str()), (400, "{\"error\":\"no\"}\n"));
        assert_eq!(host_port("http://127.0.0.1:2379/a"), "127.0.0.1:2379");
        assert_eq!(host_port("https://127.0.0.1:2379"), "127.0.0.1:2379");
    }
}
