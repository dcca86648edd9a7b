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

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use etcdlab_core::proto::etcdserverpb::MemberListResponse;
use prost::Message as _;
use protobuf::Message as _;
use raft::eraftpb::Message;
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufWriter};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// Frames larger than this are refused (a Raft message is bounded by max_size_per_msg).
const MAX_FRAME: usize = 64 * 1024 * 1024;
const QUEUE_PER_PEER: usize = 4096;
/// The length that asks for the member list instead of carrying a message.
const MEMBERS_REQUEST: u32 = u32::MAX;
/// The length that opens a message connection; the sender's cluster id follows.
const HELLO: u32 = u32::MAX - 1;
const HELLO_ACCEPTED: u8 = 1;
const HELLO_REFUSED: u8 = 0;

/// Sends Raft messages to peers by member id.
pub struct PeerSender {
    runtime: tokio::runtime::Handle,
    cluster_id: u64,
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
    pub fn new(runtime: tokio::runtime::Handle, cluster_id: u64) -> Self {
        PeerSender {
            runtime,
            cluster_id,
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
            .spawn(run_sender(id, addr, self.cluster_id, rx));
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
async fn run_sender(id: u64, addr: String, cluster_id: u64, mut queue: mpsc::Receiver<Envelope>) {
    let mut backoff = Duration::from_millis(50);
    let mut pending: Option<Envelope> = None;
    loop {
        let connect = async {
            let mut stream = TcpStream::connect(&addr).await?;
            hello(&mut stream, cluster_id)
                .await
                .map(|accepted| (stream, accepted))
        };
        let stream = match tokio::time::timeout(Duration::from_secs(1), connect).await {
            Ok(Ok((s, true))) => s,
            refused => {
                if let Ok(Ok((_, false))) = refused {
                    tracing::error!(
                        peer = %format!("{id:x}"), %addr,
                        "the peer belongs to another cluster: check --initial-cluster and --initial-cluster-token"
                    );
                    backoff = Duration::from_secs(1);
                }
                // While the peer is down, drain what queued up: Raft will resend what matters.
                while queue.try_recv().is_ok() {}
                pending = None;
                if queue.is_closed() {
                    return;
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(1));
                continue;
            }
        };
        backoff = Duration::from_millis(50);
        let _ = stream.set_nodelay(true);
        let mut writer = BufWriter::new(stream);
        loop {
            let msg = match pending.take() {
                Some(m) => m,
                None => match queue.recv().await {
                    Some(m) => m,
                    None => return,
                },
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
async fn hello(stream: &mut TcpStream, cluster_id: u64) -> std::io::Result<bool> {
    let mut opening = HELLO.to_be_bytes().to_vec();
    opening.extend_from_slice(&cluster_id.to_be_bytes());
    stream.write_all(&opening).await?;
    let mut answer = [0u8; 1];
    stream.read_exact(&mut answer).await?;
    Ok(answer[0] == HELLO_ACCEPTED)
}

async fn write_frame(
    writer: &mut BufWriter<TcpStream>,
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
pub async fn fetch_members(peer_url: &str) -> anyhow::Result<MemberListResponse> {
    let addr = host_port(peer_url).ok_or_else(|| anyhow::anyhow!("bad peer URL {peer_url}"))?;
    let exchange = async {
        let mut stream = TcpStream::connect(&addr).await?;
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
        tokio::spawn(async move {
            if let Err(e) = read_frames(stream, from, cluster_id, deliver, members).await {
                tracing::debug!(%from, "peer connection closed: {e}");
            }
        });
    }
}

async fn read_frames(
    mut stream: TcpStream,
    from: SocketAddr,
    cluster_id: u64,
    deliver: impl Fn(Envelope),
    members: impl Fn() -> Vec<u8>,
) -> std::io::Result<()> {
    let _ = stream.set_nodelay(true);
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
