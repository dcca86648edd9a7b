//! Peer transport: Raft messages between members over plain TCP on `--listen-peer-urls`.
//!
//! Frames are a 4-byte big-endian length, then the envelope: the sender's 8-byte message id
//! (which pairs the send and receipt events of the message) and one protobuf-encoded
//! `eraftpb::Message`.
//! Each peer has one sender task with a bounded queue: when a peer is slow or down, messages
//! beyond the queue are dropped and Raft is told the peer is unreachable (Raft retransmits), so
//! a dead peer never blocks the member loop. Connections are re-established with a capped
//! backoff. Incoming frames are handed to the member loop as they arrive.
//!
//! Every sending connection opens with a hello carrying the sender's cluster id; a member of
//! another cluster (a wrong `--initial-cluster-token`, a stale data dir) is turned away with a
//! clear log on both sides instead of corrupting the cluster.
//!
//! One more exchange shares the port: a member joining a running cluster
//! (`--initial-cluster-state existing`) sends the marker length `u32::MAX` and gets the member
//! list back as one frame (a `MemberListResponse`), to learn its id and the cluster's.
//!
//! With `--peer-cert-file` and `--peer-key-file` ([`PeerTls`]) every connection, both ways, is
//! TLS: a member presents its peer certificate when dialing and accepting, and with
//! `--peer-client-cert-auth` a dialer without a certificate from `--peer-trusted-ca-file` is
//! refused at the handshake (logged on both sides).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use etcdlab_core::proto::etcdserverpb::MemberListResponse;
use prost::Message as _;
use protobuf::Message as _;
use raft::eraftpb::Message;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufWriter};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::{TlsAcceptor, TlsConnector};

use crate::tls::{self, ServerFiles};

/// Frames larger than this are refused (a Raft message is bounded by max_size_per_msg).
const MAX_FRAME: usize = 64 * 1024 * 1024;
const QUEUE_PER_PEER: usize = 4096;
/// The read buffer of an incoming peer connection.
const READ_BUFFER: usize = 64 * 1024;
/// The length that asks for the member list instead of carrying a message.
const MEMBERS_REQUEST: u32 = u32::MAX;
/// The length that opens a message connection; the sender's cluster id follows.
const HELLO: u32 = u32::MAX - 1;
const HELLO_ACCEPTED: u8 = 1;
const HELLO_REFUSED: u8 = 0;

/// How peer connections are made: plain TCP, or TLS both ways with the `--peer-*` files.
#[derive(Clone, Default)]
pub struct PeerTls(Option<(TlsConnector, TlsAcceptor)>);

/// A peer connection, plain or TLS.
trait PeerStream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> PeerStream for T {}

impl PeerTls {
    /// Reads the certificate files now, so a bad one stops the member at startup.
    pub fn new(files: Option<&ServerFiles>) -> anyhow::Result<Self> {
        let Some(files) = files else {
            return Ok(PeerTls(None));
        };
        let accept = tls::server_config(files, &[])?;
        let dial = tls::client_config(&files.as_client(), &[])?;
        Ok(PeerTls(Some((dial.into(), accept.into()))))
    }

    pub fn enabled(&self) -> bool {
        self.0.is_some()
    }

    async fn dial(&self, addr: &str) -> std::io::Result<Box<dyn PeerStream>> {
        let tcp = TcpStream::connect(addr).await?;
        let _ = tcp.set_nodelay(true);
        match &self.0 {
            None => Ok(Box::new(tcp)),
            Some((connector, _)) => Ok(Box::new(
                connector.connect(tls::server_name(addr)?, tcp).await?,
            )),
        }
    }

    async fn accept(&self, tcp: TcpStream) -> std::io::Result<Box<dyn PeerStream>> {
        let _ = tcp.set_nodelay(true);
        match &self.0 {
            None => Ok(Box::new(tcp)),
            Some((_, acceptor)) => Ok(Box::new(acceptor.accept(tcp).await?)),
        }
    }
}

/// A TLS handshake failure (as tokio-rustls reports it), as opposed to a peer that is down.
fn is_tls_failure(e: &std::io::Error) -> bool {
    e.get_ref().is_some_and(|inner| inner.is::<rustls::Error>())
}

/// Sends Raft messages to peers by member id.
pub struct PeerSender {
    runtime: tokio::runtime::Handle,
    cluster_id: u64,
    tls: PeerTls,
    peers: HashMap<u64, mpsc::Sender<Envelope>>,
    urls: HashMap<u64, String>,
}

/// A Raft message with the sender's id for it.
pub struct Envelope {
    pub msg_id: u64,
    pub message: Message,
}

/// What happened to a message handed to [`PeerSender::send`].
pub enum SendOutcome {
    Queued,
    /// The peer's queue is full or its address unknown: tell Raft it is unreachable.
    Unreachable,
}

impl PeerSender {
    pub fn new(runtime: tokio::runtime::Handle, cluster_id: u64, tls: PeerTls) -> Self {
        PeerSender {
            runtime,
            cluster_id,
            tls,
            peers: HashMap::new(),
            urls: HashMap::new(),
        }
    }

    /// Points member `id` at `peer_url` (e.g. `http://127.0.0.1:2380`), restarting its sender
    /// if the address changed.
    pub fn set_peer(&mut self, id: u64, peer_url: &str) {
        if self.urls.get(&id).map(String::as_str) == Some(peer_url) {
            return;
        }
        let Some(addr) = host_port(peer_url) else {
            tracing::warn!(peer = %format!("{id:x}"), url = peer_url, "peer URL without host:port");
            return;
        };
        let (tx, rx) = mpsc::channel(QUEUE_PER_PEER);
        self.runtime
            .spawn(run_sender(id, addr, self.cluster_id, self.tls.clone(), rx));
        self.peers.insert(id, tx);
        self.urls.insert(id, peer_url.to_string());
    }

    pub fn known(&self, id: u64) -> bool {
        self.peers.contains_key(&id)
    }

    pub fn send(&self, envelope: Envelope) -> SendOutcome {
        match self.peers.get(&envelope.message.to) {
            Some(queue) if queue.try_send(envelope).is_ok() => SendOutcome::Queued,
            _ => SendOutcome::Unreachable,
        }
    }

    /// Sends `envelope` after `delay` (an injected fault), unless the peer's queue is full then.
    pub fn send_later(&self, envelope: Envelope, delay: Duration) {
        if let Some(queue) = self.peers.get(&envelope.message.to) {
            let queue = queue.clone();
            self.runtime.spawn(async move {
                tokio::time::sleep(delay).await;
                let _ = queue.try_send(envelope);
            });
        }
    }
}

fn host_port(url: &str) -> Option<String> {
    let parsed = url::Url::parse(url).ok()?;
    Some(format!(
        "{}:{}",
        parsed.host_str()?,
        parsed.port_or_known_default()?
    ))
}

/// Delivers one peer's queue over a connection, reconnecting with backoff after failures.
async fn run_sender(
    id: u64,
    addr: String,
    cluster_id: u64,
    tls: PeerTls,
    mut queue: mpsc::Receiver<Envelope>,
) {
    let mut backoff = Duration::from_millis(50);
    let mut last_tls_failure = String::new();
    loop {
        let connect = async {
            let mut stream = tls.dial(&addr).await?;
            hello(&mut stream, cluster_id)
                .await
                .map(|accepted| (stream, accepted))
        };
        let stream = match tokio::time::timeout(Duration::from_secs(1), connect).await {
            Ok(Ok((s, true))) => s,
            refused => {
                match refused {
                    Ok(Ok((_, false))) => {
                        tracing::error!(
                            peer = %format!("{id:x}"), %addr,
                            "the peer belongs to another cluster: check --initial-cluster and --initial-cluster-token"
                        );
                        backoff = Duration::from_secs(1);
                    }
                    Ok(Err(e)) if is_tls_failure(&e) => {
                        if e.to_string() != last_tls_failure {
                            tracing::error!(
                                peer = %format!("{id:x}"), %addr,
                                "TLS handshake with the peer failed: {e} (check --peer-cert-file and --peer-trusted-ca-file)"
                            );
                            last_tls_failure = e.to_string();
                        }
                        backoff = Duration::from_secs(1);
                    }
                    _ => {}
                }
                // While the peer is down, drain what queued up: Raft will resend what matters.
                while queue.try_recv().is_ok() {}
                if queue.is_closed() {
                    return;
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(1));
                continue;
            }
        };
        backoff = Duration::from_millis(50);
        last_tls_failure.clear();
        let mut writer = BufWriter::new(stream);
        loop {
            let Some(msg) = queue.recv().await else {
                return;
            };
            if write_frame(&mut writer, &msg).await.is_err() {
                tracing::debug!(peer = %format!("{id:x}"), "peer connection lost; reconnecting");
                break;
            }
            // Batch whatever else is queued into the same flush.
            let mut failed = false;
            while let Ok(more) = queue.try_recv() {
                if write_frame(&mut writer, &more).await.is_err() {
                    failed = true;
                    break;
                }
            }
            if failed || writer.flush().await.is_err() {
                break;
            }
        }
    }
}

/// Opens a message connection: sends our cluster id; true if the peer is of the same cluster.
async fn hello(stream: &mut Box<dyn PeerStream>, cluster_id: u64) -> std::io::Result<bool> {
    let mut opening = HELLO.to_be_bytes().to_vec();
    opening.extend_from_slice(&cluster_id.to_be_bytes());
    stream.write_all(&opening).await?;
    let mut answer = [0u8; 1];
    stream.read_exact(&mut answer).await?;
    Ok(answer[0] == HELLO_ACCEPTED)
}

async fn write_frame(
    writer: &mut BufWriter<Box<dyn PeerStream>>,
    envelope: &Envelope,
) -> std::io::Result<()> {
    let bytes = envelope
        .message
        .write_to_bytes()
        .map_err(std::io::Error::other)?;
    writer
        .write_all(&(bytes.len() as u32 + 8).to_be_bytes())
        .await?;
    writer.write_all(&envelope.msg_id.to_be_bytes()).await?;
    writer.write_all(&bytes).await
}

/// Asks the member at `peer_url` for the cluster's member list (for a joining member).
pub async fn fetch_members(peer_url: &str, tls: &PeerTls) -> anyhow::Result<MemberListResponse> {
    let addr = host_port(peer_url).ok_or_else(|| anyhow::anyhow!("bad peer URL {peer_url}"))?;
    let exchange = async {
        let mut stream = tls.dial(&addr).await?;
        stream.write_all(&MEMBERS_REQUEST.to_be_bytes()).await?;
        let mut len = [0u8; 4];
        stream.read_exact(&mut len).await?;
        let n = u32::from_be_bytes(len) as usize;
        if n > MAX_FRAME {
            anyhow::bail!("peer sent a {n}-byte member list");
        }
        let mut buf = vec![0u8; n];
        stream.read_exact(&mut buf).await?;
        Ok(MemberListResponse::decode(buf.as_slice())?)
    };
    tokio::time::timeout(Duration::from_secs(3), exchange)
        .await
        .map_err(|_| anyhow::anyhow!("{peer_url} did not answer"))?
}

/// Accepts peer connections on `listener`: hands every decoded message to `deliver`, and
/// answers member-list requests with `members()`.
pub async fn serve(
    listener: TcpListener,
    cluster_id: u64,
    tls: PeerTls,
    deliver: impl Fn(Envelope) + Clone + Send + Sync + 'static,
    members: impl Fn() -> Vec<u8> + Clone + Send + Sync + 'static,
) {
    loop {
        let (stream, from) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!("peer accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let deliver = deliver.clone();
        let members = members.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            let handshake = tokio::time::timeout(Duration::from_secs(10), tls.accept(stream));
            let stream = match handshake.await {
                Ok(Ok(stream)) => stream,
                Ok(Err(e)) => {
                    tracing::error!(%from, "refused a peer connection: TLS handshake failed: {e}");
                    return;
                }
                Err(_) => {
                    tracing::warn!(%from, "refused a peer connection: TLS handshake timed out");
                    return;
                }
            };
            if let Err(e) = read_frames(stream, from, cluster_id, deliver, members).await {
                tracing::debug!(%from, "peer connection closed: {e}");
            }
        });
    }
}

async fn read_frames(
    mut stream: Box<dyn PeerStream>,
    from: SocketAddr,
    cluster_id: u64,
    deliver: impl Fn(Envelope),
    members: impl Fn() -> Vec<u8>,
) -> std::io::Result<()> {
    let mut len = [0u8; 4];
    stream.read_exact(&mut len).await?;
    match u32::from_be_bytes(len) {
        MEMBERS_REQUEST => {
            let list = members();
            stream.write_all(&(list.len() as u32).to_be_bytes()).await?;
            return stream.write_all(&list).await;
        }
        HELLO => {
            let mut theirs = [0u8; 8];
            stream.read_exact(&mut theirs).await?;
            let theirs = u64::from_be_bytes(theirs);
            if theirs != cluster_id {
                tracing::error!(
                    %from, "refused a peer of cluster {theirs:x} (this is cluster {cluster_id:x}): check --initial-cluster-token"
                );
                return stream.write_all(&[HELLO_REFUSED]).await;
            }
            stream.write_all(&[HELLO_ACCEPTED]).await?;
        }
        _ => {
            tracing::warn!(%from, "dropping a peer connection that did not say hello");
            return Ok(());
        }
    }
    // Frames arrive in bursts (a ready's appends, a batch of responses): one read takes them
    // all instead of two reads per frame.
    let mut stream = tokio::io::BufReader::with_capacity(READ_BUFFER, stream);
    let mut buf = Vec::new();
    loop {
        stream.read_exact(&mut len).await?;
        let n = u32::from_be_bytes(len) as usize;
        if !(8..=MAX_FRAME).contains(&n) {
            tracing::warn!(%from, "dropping a peer connection that sent a {n}-byte frame");
            return Ok(());
        }
        buf.resize(n, 0);
        stream.read_exact(&mut buf).await?;
        let (id, body) = buf.split_at(8);
        let msg_id = u64::from_be_bytes(id.try_into().expect("eight bytes"));
        match Message::parse_from_bytes(body) {
            Ok(message) => deliver(Envelope { msg_id, message }),
            Err(e) => {
                tracing::warn!(%from, "dropping a peer connection that sent an undecodable frame: {e}");
                return Ok(());
            }
        }
    }
}
