//! The member's host loop: one OS thread that owns the sans-IO [`Member`], ticks it on the
//! heartbeat timer, feeds it proposals, read requests and peer messages, and carries out what
//! each `ready` returns. gRPC handlers talk to it through a cloneable [`MemberHandle`].
//!
//! Everything that arrives while a ready is being handled is drained in one go before the next
//! ready, so concurrent clients share one redb commit (and one fsync).
//!
//! Linearizable reads: requests that arrive together share one ReadIndex round; each waits
//! until the member has applied up to the confirmed index, then reads its own redb snapshot.
//!
//! Defragmentation needs the member's only handle to its database: the loop withdraws the
//! handle it lends to request handlers (who answer "defragmenting" meanwhile), compacts,
//! and lends it again.
//!
//! Events: while anyone subscribes to [`MemberHandle::subscribe`], the member records Raft
//! events and the loop publishes them after each ready (a broadcast channel: a subscriber
//! that falls behind loses events and is told so, the loop never waits for it). Injected
//! faults ([`super::faults`]) are carried out here, on outgoing messages and on the loop itself.

use std::collections::{HashMap, VecDeque};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, RwLock};
use std::thread;
use std::time::{Duration, Instant};

use etcdlab_core::events::{EventKind, RaftEvent};
use etcdlab_core::membership;
use etcdlab_core::mvcc::MvccError;
use etcdlab_core::proto::etcdserverpb::{
    LeaseTimeToLiveResponse, Member as MemberInfo, MemberListResponse, ResponseHeader,
};
use etcdlab_core::{
    CoreError, Member, MemberStatus, MembershipChange, MembershipError, OutgoingMessage,
    ReadyOutput, WriteRequest, WriteResponse,
};
use prost::Message as _;
use redb::{Database, ReadableDatabase};
use tokio::sync::{broadcast, oneshot};

use super::faults::{FaultChange, Faults, Verdict};
use super::metrics::Metrics;
use super::peer::{Envelope, PeerSender, SendOutcome};

/// Why a request to the member failed.
#[derive(Debug, thiserror::Error)]
pub enum MemberError {
    #[error(transparent)]
    Apply(#[from] MvccError),
    #[error("etcdserver: no leader")]
    NoLeader,
    /// Only the leader answers this (lease keep-alives and TTLs).
    #[error("etcdserver: not leader")]
    NotLeader,
    #[error("etcdserver: request timed out")]
    Timeout,
    #[error("etcdserver: server stopped")]
    Stopped,
    #[error(transparent)]
    Membership(#[from] MembershipError),
    #[error("etcdserver: the member is defragmenting its database, try again")]
    Defragmenting,
    #[error("etcdserver: {0}")]
    Storage(String),
}

impl From<CoreError> for MemberError {
    fn from(e: CoreError) -> Self {
        match e {
            CoreError::Mvcc(e) => MemberError::Apply(e),
            CoreError::NotLeader => MemberError::NotLeader,
            CoreError::NoLeader => MemberError::NoLeader,
            CoreError::Membership(e) => MemberError::Membership(e),
            other => MemberError::Storage(other.to_string()),
        }
    }
}

/// The database as the loop lends it to request handlers; empty while it defragments.
type DatabaseSlot = Arc<RwLock<Option<Arc<Database>>>>;

/// How long a defragmentation waits for other holders of the database (a snapshot stream).
const DEFRAGMENT_WAIT: Duration = Duration::from_secs(2);

enum Command {
    Propose {
        op: WriteRequest,
        reply: oneshot::Sender<Result<WriteResponse, MemberError>>,
    },
    ReadIndex {
        reply: oneshot::Sender<Result<(), MemberError>>,
    },
    Membership {
        change: MembershipChange,
        reply: oneshot::Sender<Result<WriteResponse, MemberError>>,
    },
    /// A lease keep-alive (leader only): answers the lease's granted TTL.
    RenewLease {
        id: i64,
        reply: oneshot::Sender<Result<i64, MemberError>>,
    },
    /// A lease's remaining TTL (leader only), with its keys if asked.
    LeaseTimeToLive {
        id: i64,
        keys: bool,
        reply: oneshot::Sender<Result<LeaseTimeToLiveResponse, MemberError>>,
    },
    /// A message from a peer.
    Step(Envelope),
    /// Hand leadership to this member.
    TransferLeader(u64),
    Defragment {
        reply: oneshot::Sender<Result<(), MemberError>>,
    },
    /// Start an election now (the lab's "make it time out").
    Campaign,
    /// Change the injected faults (or none, to ask); answers with the faults in force.
    Faults {
        change: Option<FaultChange>,
        reply: oneshot::Sender<serde_json::Value>,
    },
    Shutdown,
}

/// The events of one ready, published together: one send and one wake-up of each subscriber
/// per ready instead of one per event.
pub type EventBatch = Arc<Vec<RaftEvent>>;

/// Event batches waiting for subscribers; a subscriber this many readies behind is dropped.
pub const EVENT_BUFFER: usize = 4 * 1024;
/// Peer messages held while the member is paused; later ones are dropped (Raft resends).
const HELD_MESSAGES: usize = 10_000;

/// A cloneable way into the member loop for request handlers.
#[derive(Clone)]
pub struct MemberHandle {
    commands: Sender<Command>,
    status: Arc<Mutex<MemberStatus>>,
    db: DatabaseSlot,
    request_timeout: Duration,
    events: broadcast::Sender<EventBatch>,
    applied_revision: tokio::sync::watch::Receiver<i64>,
    metrics: Arc<Metrics>,
}

impl MemberHandle {
    /// Proposes a write and waits for it to be applied here.
    pub async fn propose(&self, op: WriteRequest) -> Result<WriteResponse, MemberError> {
        let (reply, answer) = oneshot::channel();
        self.send(Command::Propose { op, reply })?;
        self.wait(answer).await?
    }

    /// Proposes a membership change and waits for it to be applied here.
    pub async fn change_membership(
        &self,
        change: MembershipChange,
    ) -> Result<WriteResponse, MemberError> {
        let (reply, answer) = oneshot::channel();
        self.send(Command::Membership { change, reply })?;
        self.wait(answer).await?
    }

    /// Waits until this member has applied everything committed before the call (ReadIndex).
    pub async fn linearizable_barrier(&self) -> Result<(), MemberError> {
        let (reply, answer) = oneshot::channel();
        self.send(Command::ReadIndex { reply })?;
        self.wait(answer).await?
    }

    /// Keeps a lease alive for its granted TTL (returned); `NotLeader` on a follower.
    pub async fn renew_lease(&self, id: i64) -> Result<i64, MemberError> {
        let (reply, answer) = oneshot::channel();
        self.send(Command::RenewLease { id, reply })?;
        self.wait(answer).await?
    }

    /// A lease's remaining and granted TTL (and keys); `NotLeader` on a follower.
    pub async fn lease_time_to_live(
        &self,
        id: i64,
        keys: bool,
    ) -> Result<LeaseTimeToLiveResponse, MemberError> {
        let (reply, answer) = oneshot::channel();
        self.send(Command::LeaseTimeToLive { id, keys, reply })?;
        self.wait(answer).await?
    }

    /// Asks the member (the leader) to hand leadership to `target`.
    pub fn transfer_leader(&self, target: u64) {
        let _ = self.commands.send(Command::TransferLeader(target));
    }

    /// Hands a peer's Raft message to the member.
    pub fn step(&self, envelope: Envelope) {
        let _ = self.commands.send(Command::Step(envelope));
    }

    /// Compacts the member's database file (etcd's defragment); the member pauses meanwhile.
    pub async fn defragment(&self) -> Result<(), MemberError> {
        let (reply, answer) = oneshot::channel();
        self.send(Command::Defragment { reply })?;
        self.wait(answer).await?
    }

    /// Makes the member campaign for leadership now.
    pub fn campaign(&self) {
        let _ = self.commands.send(Command::Campaign);
    }

    /// Changes the injected faults (`None`: no change) and returns those in force.
    pub async fn change_faults(
        &self,
        change: Option<FaultChange>,
    ) -> Result<serde_json::Value, MemberError> {
        let (reply, answer) = oneshot::channel();
        self.send(Command::Faults { change, reply })?;
        self.wait(answer).await
    }

    /// Follows this member's Raft events from now on (recording starts with the first
    /// subscriber and stops after the last).
    pub fn subscribe(&self) -> broadcast::Receiver<EventBatch> {
        self.events.subscribe()
    }

    /// The member's Prometheus metrics.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// The key space's revision as applied and committed to the database here; it changes
    /// after every ready that changed the key space (watchers read the new changes then).
    pub fn applied_revision(&self) -> tokio::sync::watch::Receiver<i64> {
        self.applied_revision.clone()
    }

    /// The cluster's members as this member has applied them, ordered by id.
    pub fn members(&self) -> Result<Vec<MemberInfo>, MemberError> {
        let db = self.database()?;
        let txn = db
            .begin_read()
            .map_err(|e| MemberError::Storage(e.to_string()))?;
        membership::list(&txn).map_err(|e| MemberError::Storage(e.to_string()))
    }

    /// The member list with this member's header, encoded, for joining members.
    pub fn member_list_bytes(&self) -> Vec<u8> {
        let members = self.members().unwrap_or_default();
        MemberListResponse {
            header: Some(self.header(0)),
            members,
        }
        .encode_to_vec()
    }

    pub fn status(&self) -> MemberStatus {
        *self.status.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A response header for reads served by this member.
    pub fn header(&self, revision: i64) -> ResponseHeader {
        let s = self.status();
        ResponseHeader {
            cluster_id: s.cluster_id,
            member_id: s.id,
            revision,
            raft_term: s.term,
        }
    }

    /// The member's database, for reads (unavailable while it is being defragmented).
    pub fn database(&self) -> Result<Arc<Database>, MemberError> {
        self.db
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .ok_or(MemberError::Defragmenting)
    }

    /// Asks the loop to stop after the current ready.
    pub fn shutdown(&self) {
        let _ = self.commands.send(Command::Shutdown);
    }

    fn send(&self, command: Command) -> Result<(), MemberError> {
        self.commands
            .send(command)
            .map_err(|_| MemberError::Stopped)
    }

    async fn wait<T>(&self, answer: oneshot::Receiver<T>) -> Result<T, MemberError> {
        match tokio::time::timeout(self.request_timeout, answer).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(_)) => Err(MemberError::Stopped),
            Err(_) => Err(MemberError::Timeout),
        }
    }
}

/// Starts the loop thread for `member`, ticking every `tick`. The thread ends on shutdown or
/// on a storage failure (reported through the returned join handle).
pub fn spawn(
    member: Member,
    peers: PeerSender,
    tick: Duration,
    request_timeout: Duration,
    metrics: Arc<Metrics>,
) -> (MemberHandle, thread::JoinHandle<Result<(), CoreError>>) {
    let (commands, inbox) = mpsc::channel();
    let status = Arc::new(Mutex::new(member.status()));
    let (events, _) = broadcast::channel(EVENT_BUFFER);
    let (revision_tx, applied_revision) = tokio::sync::watch::channel(member.status().revision);
    let db: DatabaseSlot = Arc::new(RwLock::new(Some(member.database().clone())));
    let handle = MemberHandle {
        commands,
        status: status.clone(),
        db: db.clone(),
        request_timeout,
        events: events.clone(),
        applied_revision,
        metrics: metrics.clone(),
    };
    let thread = thread::Builder::new()
        .name("raft-member".into())
        .spawn(move || {
            MemberLoop::new(member, peers, status, events, revision_tx, db, metrics)
                .run(inbox, tick)
        })
        .expect("spawning the member thread");
    (handle, thread)
}

/// How long a ReadIndex round waits for its answer before it is asked again.
const READ_INDEX_RETRY: Duration = Duration::from_millis(500);

/// Linearizable reads waiting for the same read point.
type ReadWaiters = Vec<oneshot::Sender<Result<(), MemberError>>>;

/// Read requests sharing one ReadIndex question.
struct ReadRound {
    waiters: ReadWaiters,
    asked_at: Instant,
}

struct MemberLoop {
    member: Member,
    peers: PeerSender,
    status: Arc<Mutex<MemberStatus>>,
    next_request_id: u64,
    proposals: HashMap<u64, oneshot::Sender<Result<WriteResponse, MemberError>>>,
    /// Read requests not yet given a ReadIndex round.
    unsent_reads: ReadWaiters,
    /// ReadIndex rounds in flight, by context.
    reads_in_flight: HashMap<u64, ReadRound>,
    /// Confirmed read points waiting for the apply to catch up: (index, waiters).
    reads_confirmed: Vec<(u64, ReadWaiters)>,
    events: broadcast::Sender<EventBatch>,
    /// Tells watchers the key space's revision after each ready.
    revision: tokio::sync::watch::Sender<i64>,
    metrics: Arc<Metrics>,
    faults: Faults,
    /// Commands that arrived while paused, carried out on resume.
    held: VecDeque<Command>,
    db: DatabaseSlot,
}

impl MemberLoop {
    fn new(
        member: Member,
        peers: PeerSender,
        status: Arc<Mutex<MemberStatus>>,
        events: broadcast::Sender<EventBatch>,
        revision: tokio::sync::watch::Sender<i64>,
        db: DatabaseSlot,
        metrics: Arc<Metrics>,
    ) -> Self {
        MemberLoop {
            member,
            peers,
            status,
            next_request_id: 1,
            proposals: HashMap::new(),
            unsent_reads: Vec::new(),
            reads_in_flight: HashMap::new(),
            reads_confirmed: Vec::new(),
            events,
            revision,
            metrics,
            faults: Faults::default(),
            held: VecDeque::new(),
            db,
        }
    }

    fn run(mut self, inbox: Receiver<Command>, tick: Duration) -> Result<(), CoreError> {
        // A clean stop leaves everything in the database: the journal has nothing to replay.
        let result = self
            .run_until_stopped(inbox, tick)
            .and_then(|()| self.member.checkpoint());
        let reason = match &result {
            Ok(()) => "stopped".to_string(),
            Err(e) => format!("failed: {e}"),
        };
        self.member
            .record_event(EventKind::MemberStopped { reason });
        self.publish_events();
        result
    }

    fn run_until_stopped(
        &mut self,
        inbox: Receiver<Command>,
        tick: Duration,
    ) -> Result<(), CoreError> {
        let mut next_tick = Instant::now() + tick;
        // The lease clock: how long this member has run, paused time left out, so freezing a
        // lab (time stops to explain a moment) never expires a lease.
        let mut lease_clock = Duration::ZERO;
        let mut last = Instant::now();
        loop {
            let now = Instant::now();
            if !self.faults.paused {
                lease_clock += now - last;
            }
            last = now;
            self.member.set_lease_clock(lease_clock.as_millis() as u64);
            let wait = next_tick.saturating_duration_since(Instant::now());
            let received = inbox.recv_timeout(wait);
            // After the wait: a command sent after a subscription began is recorded for it.
            self.follow_subscribers();
            match received {
                Ok(command) => {
                    if !self.handle(command) {
                        return Ok(());
                    }
                    // Drain whatever else is queued so it shares this ready.
                    while let Ok(command) = inbox.try_recv() {
                        if !self.handle(command) {
                            return Ok(());
                        }
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return Ok(()),
            }
            if self.faults.paused {
                next_tick = Instant::now() + tick;
                self.publish_events();
                continue;
            }
            if Instant::now() >= next_tick {
                self.member.tick();
                next_tick += tick;
                if next_tick < Instant::now() {
                    next_tick = Instant::now() + tick;
                }
                self.expire_abandoned();
                self.retry_read_rounds();
            }
            self.start_read_round();
            self.process_ready()?;
            if self.member.is_removed() {
                self.publish_events();
                return Err(CoreError::Invalid(
                    "the member has been permanently removed from the cluster".into(),
                ));
            }
            self.publish_events();
        }
    }

    /// Records events while anyone listens, stamped with the wall clock.
    fn follow_subscribers(&mut self) {
        let listening = self.events.receiver_count() > 0;
        self.member.set_events_enabled(listening);
        if listening {
            let now_ms = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis() as u64)
                .unwrap_or(0);
            self.member.set_clock(now_ms);
        }
    }

    fn publish_events(&mut self) {
        let events = self.member.take_events();
        if !events.is_empty() {
            // No subscriber left: the events have nowhere to go.
            let _ = self.events.send(Arc::new(events));
        }
    }

    /// Takes one command; returns false on shutdown.
    fn handle(&mut self, command: Command) -> bool {
        if self.faults.paused {
            match command {
                Command::Shutdown | Command::Faults { .. } => {}
                Command::Step(_) if self.held.len() >= HELD_MESSAGES => return true,
                held => {
                    self.held.push_back(held);
                    return true;
                }
            }
        }
        match command {
            Command::Propose { op, reply } => {
                let id = self.next_id();
                let proposed = self.member.propose(op, id);
                self.track(id, proposed, reply);
            }
            Command::Membership { change, reply } => {
                let id = self.next_id();
                let proposed = self.member.propose_membership(change, id);
                self.track(id, proposed, reply);
            }
            Command::ReadIndex { reply } => self.unsent_reads.push(reply),
            Command::RenewLease { id, reply } => {
                let _ = reply.send(self.member.renew_lease(id).map_err(MemberError::from));
            }
            Command::LeaseTimeToLive { id, keys, reply } => {
                let answer = self.member.lease_time_to_live(id, keys);
                let _ = reply.send(answer.map_err(MemberError::from));
            }
            Command::Step(Envelope { msg_id, message }) => {
                if let Err(e) = self.member.step(message, msg_id) {
                    tracing::debug!("dropped a peer message: {e}");
                }
            }
            Command::TransferLeader(target) => self.member.transfer_leader(target),
            Command::Defragment { reply } => {
                let _ = reply.send(self.defragment());
            }
            Command::Campaign => {
                if let Err(e) = self.member.campaign() {
                    tracing::debug!("cannot campaign: {e}");
                }
            }
            Command::Faults { change, reply } => {
                let resumed = change == Some(FaultChange::Resume) && self.faults.paused;
                if let Some(change) = change {
                    self.member.record_event(EventKind::FaultChanged {
                        description: describe_change(&change),
                    });
                    self.faults.apply(change);
                }
                let _ = reply.send(self.faults.describe());
                if resumed {
                    for command in std::mem::take(&mut self.held) {
                        if !self.handle(command) {
                            return false;
                        }
                    }
                }
            }
            Command::Shutdown => return false,
        }
        true
    }

    fn next_id(&mut self) -> u64 {
        self.next_request_id += 1;
        self.next_request_id
    }

    /// Remembers who waits for a proposal, or answers at once if it was refused.
    fn track(
        &mut self,
        id: u64,
        proposed: Result<(), CoreError>,
        reply: oneshot::Sender<Result<WriteResponse, MemberError>>,
    ) {
        let refusal = match proposed {
            Ok(()) => {
                self.proposals.insert(id, reply);
                return;
            }
            Err(CoreError::Membership(e)) => MemberError::Membership(e),
            Err(CoreError::NoLeader) => MemberError::NoLeader,
            Err(e) => {
                tracing::warn!("proposal refused: {e}");
                MemberError::NoLeader
            }
        };
        self.metrics.proposal_failed();
        let _ = reply.send(Err(refusal));
    }

    /// Gives all read requests queued since the last round one shared ReadIndex.
    fn start_read_round(&mut self) {
        if self.unsent_reads.is_empty() {
            return;
        }
        let ctx = self.next_id();
        self.member.read_index(ctx.to_be_bytes().to_vec());
        let waiters = std::mem::take(&mut self.unsent_reads);
        self.reads_in_flight.insert(
            ctx,
            ReadRound {
                waiters,
                asked_at: Instant::now(),
            },
        );
    }

    /// Asks again for rounds without an answer: Raft drops a ReadIndex while there is no
    /// leader (or the leader has not committed in its term yet) and never retries it, as etcd
    /// retries every half second.
    fn retry_read_rounds(&mut self) {
        let now = Instant::now();
        for (ctx, round) in self.reads_in_flight.iter_mut() {
            if now.duration_since(round.asked_at) >= READ_INDEX_RETRY {
                self.member.read_index(ctx.to_be_bytes().to_vec());
                round.asked_at = now;
            }
        }
    }

    fn process_ready(&mut self) -> Result<(), CoreError> {
        let started = Instant::now();
        let mut reports = Vec::new();
        let out = match self.member.begin_ready()? {
            Some(mut pending) => {
                // A leader's appends leave before its own sync, which then runs in parallel
                // with the followers' (raft-rs allows it for these messages).
                let early = pending.take_early_messages();
                self.send_to_peers(early, &mut reports)?;
                self.member.finish_ready(pending)?
            }
            None => ReadyOutput::default(),
        };
        if out.synced {
            self.metrics.ready_committed(started.elapsed());
        }
        if out.synced && !self.faults.disk_delay.is_zero() {
            thread::sleep(self.faults.disk_delay);
        }
        // Published before any answer leaves: a client told its write is done (`auth enable`,
        // say) finds the status that services check already saying so.
        let status = self.member.status();
        let previous = std::mem::replace(
            &mut *self.status.lock().unwrap_or_else(|p| p.into_inner()),
            status,
        );
        if status.leader_id != 0 && status.leader_id != previous.leader_id {
            self.metrics.leader_changed();
        }
        for (id, result) in out.responses {
            if let Some(reply) = self.proposals.remove(&id) {
                let _ = reply.send(result.map_err(MemberError::from));
            }
        }
        for rs in out.read_states {
            let Ok(ctx) = <[u8; 8]>::try_from(rs.request_ctx.as_slice()) else {
                continue;
            };
            if let Some(ReadRound { waiters, .. }) =
                self.reads_in_flight.remove(&u64::from_be_bytes(ctx))
            {
                self.reads_confirmed.push((rs.index, waiters));
            }
        }
        self.send_to_peers(out.messages, &mut reports)?;
        // raft-rs takes these reports only between readies.
        for report in reports {
            match report {
                PeerReport::Unreachable(to) => self.member.report_unreachable(to),
                PeerReport::Snapshot { to, delivered } => {
                    self.member.report_snapshot(to, delivered)
                }
            }
        }
        self.reads_confirmed.retain_mut(|(index, waiters)| {
            if *index > status.applied_index {
                return true;
            }
            for w in waiters.drain(..) {
                let _ = w.send(Ok(()));
            }
            false
        });
        self.metrics.set_pending(self.proposals.len());
        self.revision.send_if_modified(|revision| {
            let changed = *revision != status.revision;
            *revision = status.revision;
            changed
        });
        Ok(())
    }

    /// Sends messages to their peers, learning peer addresses from the member table when a
    /// message goes to a member not seen before; what raft-rs must hear about the sends is
    /// added to `reports`.
    fn send_to_peers(
        &mut self,
        messages: Vec<OutgoingMessage>,
        reports: &mut Vec<PeerReport>,
    ) -> Result<(), CoreError> {
        if messages.iter().any(|m| !self.peers.known(m.message.to)) {
            let txn = self.member.database().begin_read()?;
            for info in membership::list(&txn)? {
                if info.id != self.member.id()
                    && let Some(url) = info.peer_ur_ls.first()
                {
                    self.peers.set_peer(info.id, url);
                }
            }
        }
        let me = self.member.id();
        for OutgoingMessage { msg_id, message } in messages {
            let to = message.to;
            let envelope = Envelope { msg_id, message };
            if self.faults.affects_messages() {
                match self.faults.verdict(me, to) {
                    Verdict::Send => {}
                    Verdict::Drop(reason) => {
                        self.member.record_event(EventKind::MessageDropped {
                            msg_id,
                            to: format!("{to:x}"),
                            reason: reason.into(),
                        });
                        continue;
                    }
                    Verdict::Delay(delay) => {
                        self.member.record_event(EventKind::MessageDelayed {
                            msg_id,
                            to: format!("{to:x}"),
                            delay_ms: delay.as_millis() as u64,
                        });
                        self.peers.send_later(envelope, delay);
                        continue;
                    }
                }
            }
            let is_snapshot =
                envelope.message.get_msg_type() == raft::eraftpb::MessageType::MsgSnapshot;
            let delivered = matches!(self.peers.send(envelope), SendOutcome::Queued);
            if !delivered {
                reports.push(PeerReport::Unreachable(to));
            }
            if is_snapshot {
                reports.push(PeerReport::Snapshot { to, delivered });
            }
        }
        Ok(())
    }

    /// Withdraws the database from request handlers, compacts it once nothing else holds it
    /// (waiting up to [`DEFRAGMENT_WAIT`]), and lends it again.
    fn defragment(&mut self) -> Result<(), MemberError> {
        let lent = self.db.write().unwrap_or_else(|p| p.into_inner()).take();
        drop(lent);
        let deadline = Instant::now() + DEFRAGMENT_WAIT;
        let result = loop {
            match self.member.defragment() {
                Err(CoreError::Busy(_)) if Instant::now() < deadline => {
                    thread::sleep(Duration::from_millis(5));
                }
                other => break other,
            }
        };
        *self.db.write().unwrap_or_else(|p| p.into_inner()) = Some(self.member.database().clone());
        result.map_err(|e| MemberError::Storage(format!("defragment: {e}")))
    }

    /// Forgets requests whose callers gave up (timed out), so the maps cannot grow forever.
    fn expire_abandoned(&mut self) {
        let before = self.proposals.len();
        self.proposals.retain(|_, reply| !reply.is_closed());
        for _ in self.proposals.len()..before {
            self.metrics.proposal_failed();
        }
        self.reads_in_flight.retain(|_, round| {
            round.waiters.retain(|w| !w.is_closed());
            !round.waiters.is_empty()
        });
    }
}

/// What raft-rs must be told after a send: a peer that could not be reached, or how the
/// sending of a snapshot went.
enum PeerReport {
    Unreachable(u64),
    Snapshot { to: u64, delivered: bool },
}

fn describe_change(change: &FaultChange) -> String {
    match change {
        FaultChange::Partition(groups) => format!(
            "partition {}",
            groups
                .iter()
                .map(|g| g
                    .iter()
                    .map(|id| format!("{id:x}"))
                    .collect::<Vec<_>>()
                    .join(" "))
                .collect::<Vec<_>>()
                .join(" / ")
        ),
        FaultChange::Heal => "heal".into(),
        FaultChange::Link { to, fault } => format!(
            "link to {to:x}: loss {} delay {} ms",
            fault.loss, fault.delay_ms
        ),
        FaultChange::Pause => "pause".into(),
        FaultChange::Resume => "resume".into(),
        FaultChange::DiskDelay(d) => format!("disk delay {} ms", d.as_millis()),
    }
}
