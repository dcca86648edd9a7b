//! One Raft member: raft-rs's `RawNode` over [`RaftLog`], the MVCC key space and the member
//! table, all in one redb database, driven from outside (sans-IO).
//!
//! The host calls [`Member::tick`] on its timer, [`Member::step`] with peers' messages,
//! [`Member::propose`] / [`Member::read_index`] for clients, then [`Member::ready`], which does
//! everything raft-rs asks in its documented order and returns what the host must do next:
//! messages to send, answers for the host's request ids, confirmed read indexes.
//!
//! One `ready` is one redb write transaction: the snapshot (if any), the new entries, the hard
//! state and the committed entries applied to the key space, with the applied index, commit
//! together. It is durable whenever it holds log entries, a snapshot or a new term or vote —
//! through a synced record of the host's Raft journal ([`crate::journal`]) before an unsynced
//! commit, or a synced commit when there is no journal (the simulator) or a checkpoint is due —
//! and messages that depend on it (`persisted_messages`) leave only after the commit. The
//! light ready that follows `advance` applies what that persistence committed, again with the
//! applied index in the same transaction, so a crash can neither apply an entry twice nor
//! lose one. Transactions that only move the commit index or apply entries are not synced:
//! a crash loses them as a whole and the member applies those entries again from its log.

use std::sync::Arc;

use prost::Message as _;
use protobuf::Message as _;
use raft::eraftpb::{
    ConfChange, ConfChangeType, Entry, EntryType, HardState, Message, MessageType,
};
use raft::{RawNode, ReadState, StateRole};
use redb::{
    Database, Durability, ReadableDatabase, ReadableTable, TableDefinition, WriteTransaction,
};

use crate::byte_rows::{read_u64, u64_bytes};
use crate::error::{CoreError, MembershipError};
use crate::events::{EventKind, EventLog, RaftEvent, hex_id};
use crate::journal::{Journal, JournalStore};
use crate::lease::Lessor;
use crate::membership;
use crate::mvcc::{KeyTables, MvccError, MvccStore};
use crate::proto::etcdlab::raft_request::Op;
use crate::proto::etcdlab::{
    ClusterVersion, ConfChangeContext, MemberAttributes, MemberPeerUrls, RaftRequest,
};
use crate::proto::etcdserverpb::{
    CompactionResponse, DeleteRangeResponse, LeaseGrantResponse, LeaseRevokeRequest,
    LeaseRevokeResponse, LeaseTimeToLiveResponse, Member as MemberInfo, PutResponse,
    ResponseHeader, TxnResponse,
};
use crate::raft_log::RaftLog;

/// This member's own counters: name → big-endian u64 (`byte_rows`).
pub(crate) const META: TableDefinition<&[u8], &[u8]> = TableDefinition::new("member_meta");
const APPLIED_INDEX: &[u8] = b"applied_index";
const MEMBER_ID: &[u8] = b"member_id";
const CLUSTER_ID: &[u8] = b"cluster_id";
/// `"version"` → the cluster version, as UTF-8 bytes.
pub(crate) const CLUSTER_VERSION: TableDefinition<&[u8], &[u8]> =
    TableDefinition::new("cluster_version");
const VERSION: &[u8] = b"version";

/// The counter `name` of the member table, if set.
fn read_meta(
    meta: &impl ReadableTable<&'static [u8], &'static [u8]>,
    name: &[u8],
) -> Result<Option<u64>, CoreError> {
    match meta.get(name)? {
        Some(v) => Ok(Some(read_u64(v.value()).map_err(CoreError::Corrupt)?)),
        None => Ok(None),
    }
}

/// The API version this member speaks, recorded as the cluster version as etcd 3.4 does.
pub const CLUSTER_API_VERSION: &str = "3.4.0";

/// How this member takes part in Raft.
#[derive(Clone, Debug)]
pub struct MemberConfig {
    pub id: u64,
    pub name: String,
    pub client_urls: Vec<String>,
    /// Ticks without a heartbeat before a follower campaigns (randomised up to twice this).
    pub election_tick: usize,
    pub heartbeat_tick: usize,
    /// Milliseconds per tick (the host's timer), for lease timing.
    pub tick_ms: u64,
    pub pre_vote: bool,
    /// Applied entries kept in the log before it is compacted (etcd's `--snapshot-count`); a
    /// member that falls further behind is caught up with a snapshot.
    pub snapshot_count: u64,
}

/// Entries kept after a compaction so slightly lagging followers still catch up from the log
/// (etcd's 5000, fewer when `--snapshot-count` is smaller).
fn catch_up_entries(snapshot_count: u64) -> u64 {
    snapshot_count.min(5000)
}

/// Entries a ready removes at most from the Raft log's front while a compaction is under way.
/// With the default `--snapshot-count` a compaction drops 95,000 entries; done in one ready,
/// even as one range removal, it stalled every member at once (all reach the count together)
/// for 45–80 ms, so it is spread over the next readies, ~1–2 ms each.
pub(crate) const COMPACTION_STEP_ENTRIES: u64 = 2048;

/// The applied index recorded in `txn`.
pub(crate) fn applied_index(txn: &redb::ReadTransaction) -> Result<u64, CoreError> {
    Ok(read_meta(&txn.open_table(META)?, APPLIED_INDEX)?.unwrap_or(0))
}

/// How to start a member whose database is empty.
#[derive(Clone, Debug)]
pub enum Bootstrap {
    /// A new cluster of these members (this one among them), as `--initial-cluster-state new`.
    NewCluster {
        cluster_id: u64,
        members: Vec<MemberInfo>,
    },
    /// Join a running cluster that already lists this member (`--initial-cluster-state existing`):
    /// start empty and let the leader send the log.
    JoinExisting { cluster_id: u64 },
}

/// A client write to go through Raft.
pub type WriteRequest = Op;

/// A change of the cluster's membership, carried out as a Raft conf change.
#[derive(Clone, Debug, PartialEq)]
pub enum MembershipChange {
    /// Add a member (as a learner if asked) with these peer URLs and this id.
    Add {
        id: u64,
        peer_urls: Vec<String>,
        is_learner: bool,
    },
    Remove {
        id: u64,
    },
    /// Make a caught-up learner a voter.
    Promote {
        id: u64,
    },
    /// Change a member's peer URLs (no conf change: an ordinary entry).
    Update {
        id: u64,
        peer_urls: Vec<String>,
    },
}

/// What an applied write produced, for the member that proposed it.
#[derive(Clone, Debug, PartialEq)]
pub enum WriteResponse {
    Put(PutResponse),
    DeleteRange(DeleteRangeResponse),
    Txn(TxnResponse),
    Compaction(CompactionResponse),
    /// A membership change took effect: the member it concerned and the new member list.
    Membership {
        member: Option<MemberInfo>,
        members: Vec<MemberInfo>,
    },
    Alarm(crate::proto::etcdserverpb::AlarmResponse),
    LeaseGrant(LeaseGrantResponse),
    LeaseRevoke(LeaseRevokeResponse),
    /// An auth change was applied, or refused with etcd's reason (nothing changed then).
    Auth(Result<(), crate::auth::AuthError>),
    /// Internal writes (member attributes, cluster version) answer with nothing.
    Done,
}

/// A Raft message to send, with the id that pairs its send and receipt events.
#[derive(Debug)]
pub struct OutgoingMessage {
    /// Unique among this member's messages; the receiver passes it to [`Member::step`].
    pub msg_id: u64,
    pub message: Message,
}

/// Everything the host must act on after a [`Member::ready`].
#[derive(Debug, Default)]
pub struct ReadyOutput {
    /// Messages to send to peers, in order.
    pub messages: Vec<OutgoingMessage>,
    /// Answers to this member's own proposals: (request id, result).
    pub responses: Vec<(u64, Result<WriteResponse, MvccError>)>,
    /// Confirmed read indexes: serve reads with these contexts once `applied_index` reaches them.
    pub read_states: Vec<ReadState>,
    /// Set when the leader or this member's role changed.
    pub role_changed: Option<(StateRole, u64)>,
    /// Whether this ready wrote durably (fsync).
    pub synced: bool,
}

/// A ready taken by [`Member::begin_ready`] and not yet persisted.
pub struct PendingReady {
    rd: raft::Ready,
    out: ReadyOutput,
}

impl PendingReady {
    /// Messages that may leave before the ready is persisted: a leader's appends and
    /// heartbeats, never a vote or an answer to an append (those wait for the sync).
    pub fn take_early_messages(&mut self) -> Vec<OutgoingMessage> {
        std::mem::take(&mut self.out.messages)
    }
}

/// A cheap summary of the member's Raft state for status answers and response headers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemberStatus {
    pub id: u64,
    pub cluster_id: u64,
    pub term: u64,
    pub leader_id: u64,
    pub role: StateRole,
    pub commit_index: u64,
    pub applied_index: u64,
    pub last_index: u64,
    pub revision: i64,
    pub compact_revision: i64,
    /// Whether auth is enabled in the applied state: while it is not, a request needs no
    /// check, and a host can tell without reading the auth store.
    pub auth_enabled: bool,
}

/// One Raft member with its state machine. See the module docs for the driving protocol.
pub struct Member {
    raw: RawNode<RaftLog>,
    mvcc: MvccStore,
    config: MemberConfig,
    cluster_id: u64,
    applied_index: u64,
    /// Whether this member's name and client URLs have been proposed since it started.
    attributes_published: bool,
    cluster_version_set: bool,
    /// Whether the NOSPACE alarm is raised: writes that add data are refused until disarmed.
    no_space: bool,
    /// Whether auth is enabled in the applied state ([`MemberStatus::auth_enabled`]).
    auth_enabled: bool,
    /// Whether this member has applied its own removal from the cluster.
    removed: bool,
    logger: slog::Logger,
    events: EventLog,
    next_msg_id: u64,
    /// Why this member last refused a vote, by candidate, until the refusal is sent.
    vote_refusals: Vec<(u64, String)>,
    /// The commit index last reported in a `commit_advanced` event.
    reported_commit: u64,
    /// Lease deadlines, kept while this member leads.
    lessor: Lessor,
    /// The Raft journal, when the host keeps one (see [`Member::attach_journal`]).
    journal: Option<Journal>,
    /// The index up to which the log is being compacted, [`COMPACTION_STEP_ENTRIES`] at a time.
    compacting_to: Option<u64>,
}

impl Member {
    /// Opens the member stored in `db`, bootstrapping it with `bootstrap` if `db` is empty.
    /// An existing database must belong to the member `config.id`.
    pub fn open(
        db: Arc<Database>,
        config: MemberConfig,
        bootstrap: Bootstrap,
        logger: &slog::Logger,
    ) -> Result<Member, CoreError> {
        let mut log = RaftLog::load(db.clone())?;
        let txn = db.begin_write()?;
        let mvcc = MvccStore::open(&txn)?;
        membership::create_table(&txn)?;
        crate::lease::create_table(&txn)?;
        crate::auth::store::create_tables(&txn)?;
        let no_space = crate::alarms::no_space(&txn)?;
        let auth_enabled = crate::auth::store::enabled(&txn)?;
        let (stored_id, stored_cluster, applied_index, cluster_version_set) = {
            let meta = txn.open_table(META)?;
            let read = |k: &[u8]| read_meta(&meta, k);
            let version_set = txn.open_table(CLUSTER_VERSION)?.get(VERSION)?.is_some();
            (
                read(MEMBER_ID)?,
                read(CLUSTER_ID)?,
                read(APPLIED_INDEX)?.unwrap_or(0),
                version_set,
            )
        };
        let cluster_id = match (stored_id, stored_cluster) {
            (Some(id), Some(cluster)) => {
                if id != config.id {
                    return Err(CoreError::Invalid(format!(
                        "this data dir belongs to member {id:x}, not to member {:x} (check --name, --initial-cluster and --initial-cluster-token)",
                        config.id
                    )));
                }
                cluster
            }
            _ => {
                let cluster_id = bootstrap_log(&txn, &mut log, &config, &bootstrap)?;
                let mut meta = txn.open_table(META)?;
                meta.insert(MEMBER_ID, &u64_bytes(config.id)[..])?;
                meta.insert(CLUSTER_ID, &u64_bytes(cluster_id)[..])?;
                cluster_id
            }
        };
        // A member that applied its own removal stays removed (etcd refuses to start it too).
        let members = membership::list_in(&txn)?;
        let removed = !members.is_empty() && !members.iter().any(|m| m.id == config.id);
        txn.commit()?;

        let raft_config = raft::Config {
            id: config.id,
            election_tick: config.election_tick,
            heartbeat_tick: config.heartbeat_tick,
            applied: applied_index,
            pre_vote: config.pre_vote,
            check_quorum: true,
            max_size_per_msg: 1024 * 1024,
            max_inflight_msgs: 256,
            ..Default::default()
        };
        raft_config.validate()?;
        let raw = RawNode::new(&raft_config, log, logger)?;
        let reported_commit = raw.raft.raft_log.committed;
        Ok(Member {
            events: EventLog::new(&config.name, config.id),
            next_msg_id: 1,
            vote_refusals: Vec::new(),
            reported_commit,
            raw,
            mvcc,
            config,
            cluster_id,
            applied_index,
            attributes_published: false,
            cluster_version_set,
            no_space,
            auth_enabled,
            removed,
            logger: logger.clone(),
            lessor: Lessor::default(),
            journal: None,
            compacting_to: None,
        })
    }

    /// From now on, makes synced readies durable through `store` (a journal file the host has
    /// already replayed with [`crate::journal::replay`]) instead of synced database commits.
    pub fn attach_journal(&mut self, store: Box<dyn JournalStore>) -> Result<(), CoreError> {
        self.journal = Some(Journal::attach(self.database(), store, self.id())?);
        Ok(())
    }

    /// Makes every change so far durable in the database itself and starts the journal over
    /// (before a defragmentation, and when the host stops). Without a journal, nothing to do.
    pub fn checkpoint(&mut self) -> Result<(), CoreError> {
        let Some(journal) = &mut self.journal else {
            return Ok(());
        };
        let txn = self.raw.store().database().begin_write()?;
        journal.mark_checkpoint(&txn)?;
        txn.commit()?;
        journal.checkpointed();
        Ok(())
    }

    /// Whether this member has applied its own removal: it must stop, as etcd's does (raft-rs
    /// panics if a removed leader keeps stepping messages).
    pub fn is_removed(&self) -> bool {
        self.removed
    }

    pub fn id(&self) -> u64 {
        self.config.id
    }

    pub fn cluster_id(&self) -> u64 {
        self.cluster_id
    }

    /// The database holding this member's log, key space and member table.
    pub fn database(&self) -> &Arc<Database> {
        self.raw.store().database()
    }

    /// Defragments the database file (redb compaction), giving free pages back to the file
    /// system. Needs the only handle to the database: the host withdraws its own first, and
    /// gets [`CoreError::Busy`] while anything else (a snapshot stream) still holds one.
    pub fn defragment(&mut self) -> Result<(), CoreError> {
        // Compaction commits synced: the journal must not hold records the database has.
        self.checkpoint()?;
        let db = self
            .raw
            .mut_store()
            .database_mut()
            .ok_or_else(|| CoreError::Busy("another task holds the database".into()))?;
        // Each pass may free more pages; three is plenty and bounds the time spent.
        for _ in 0..3 {
            match db.compact() {
                Ok(true) => continue,
                Ok(false) => break,
                Err(redb::CompactionError::TransactionInProgress) => {
                    return Err(CoreError::Busy("a read transaction is open".into()));
                }
                Err(e) => return Err(CoreError::Storage(e.to_string())),
            }
        }
        Ok(())
    }

    /// Advances the logical clock by one tick (the leader also proposes the revoke of every
    /// lease that expired). Returns whether a ready may be pending.
    pub fn tick(&mut self) -> bool {
        self.revoke_expired_leases();
        let raft = &self.raw.raft;
        if self.events.enabled()
            && raft.state != StateRole::Leader
            && raft.promotable()
            && raft.election_elapsed + 1 >= raft.randomized_election_timeout()
        {
            let (timeout_ticks, elapsed_ticks) = (
                raft.randomized_election_timeout() as u64,
                raft.election_elapsed as u64 + 1,
            );
            self.events
                .record(raft.term, || EventKind::ElectionTimeout {
                    timeout_ticks,
                    elapsed_ticks,
                });
        }
        self.raw.tick()
    }

    /// Sets the election timeout raft-rs randomises (with the thread's RNG, on every term or role
    /// change) to the value `draw` picks in its range `[election_tick, 2·election_tick)`: the
    /// simulator's seeded replacement, so a simulation replays exactly.
    pub fn set_randomized_election_timeout(&mut self, draw: u64) {
        // raft-rs's defaults, which `open` keeps: `[election_tick, 2·election_tick)`.
        let min = self.config.election_tick;
        let ticks = min + (draw % min.max(1) as u64) as usize;
        self.raw.raft.set_randomized_election_timeout(ticks);
    }

    /// Read-only access to raft-rs's state (log, progress, term), for checkers and inspectors.
    pub fn raft(&self) -> &raft::Raft<RaftLog> {
        &self.raw.raft
    }

    /// Starts or stops recording events (off by default: recording costs only when asked for).
    pub fn set_events_enabled(&mut self, enabled: bool) {
        self.events.set_enabled(enabled);
    }

    /// Sets the time, in milliseconds, stamped on events from now on (the host's clock).
    pub fn set_clock(&mut self, now_ms: u64) {
        self.events.set_now(now_ms);
    }

    /// Sets the lease clock: milliseconds on the host's monotonic clock (only the leader reads
    /// it, to time leases).
    pub fn set_lease_clock(&mut self, now_ms: u64) {
        self.lessor.set_now(now_ms);
    }

    /// Records an event the host observed (start, stop, an injected fault).
    pub fn record_event(&mut self, kind: EventKind) {
        let term = self.raw.raft.term;
        self.events.record(term, || kind);
    }

    /// The events recorded since the last call, oldest first.
    pub fn take_events(&mut self) -> Vec<RaftEvent> {
        self.events.take()
    }

    /// Campaigns for leadership now (the lab's "make it time out").
    ///
    /// A follower campaigns as in a leadership transfer (raft-rs's `MsgTimeoutNow`): no
    /// pre-vote, and peers that still hear from the leader vote anyway, so a healthy follower
    /// with an up-to-date log wins. A leader has nothing to do.
    pub fn campaign(&mut self) -> Result<(), CoreError> {
        let raft = &self.raw.raft;
        match raft.state {
            StateRole::Leader => Ok(()),
            StateRole::Follower => {
                let mut timeout_now = Message::default();
                timeout_now.set_msg_type(MessageType::MsgTimeoutNow);
                timeout_now.from = raft.id;
                timeout_now.to = raft.id;
                timeout_now.term = raft.term;
                Ok(self.raw.step(timeout_now)?)
            }
            StateRole::Candidate | StateRole::PreCandidate => Ok(self.raw.campaign()?),
        }
    }

    /// Feeds a message from a peer, sent as the sender's `msg_id`. Messages from members no
    /// longer in the cluster are dropped.
    pub fn step(&mut self, msg: Message, msg_id: u64) -> Result<(), CoreError> {
        let vote_request = matches!(
            msg.get_msg_type(),
            MessageType::MsgRequestVote | MessageType::MsgRequestPreVote
        )
        .then(|| (msg.from, msg.index, msg.log_term, msg.term));
        if self.events.enabled() {
            let term = self.raw.raft.term;
            self.events
                .record(term, || crate::raft_events::received(&msg, msg_id));
        }
        let stepped = self.raw.step(msg);
        if let Some(request) = vote_request
            && self.events.enabled()
        {
            let refusal = crate::raft_events::vote_refusal(&self.raw.raft, request);
            self.vote_refusals.retain(|(c, _)| *c != request.0);
            self.vote_refusals.push((request.0, refusal));
        }
        match stepped {
            Ok(()) | Err(raft::Error::StepPeerNotFound) | Err(raft::Error::StepLocalMsg) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Proposes a client write; its answer comes back from a later [`Member::ready`] under
    /// `request_id`. A follower forwards the proposal to the leader.
    pub fn propose(&mut self, op: WriteRequest, request_id: u64) -> Result<(), CoreError> {
        let op = self.with_min_lease_ttl(op);
        if self.events.enabled() {
            let term = self.raw.raft.term;
            self.events.record(term, || EventKind::ClientRequest {
                request_id,
                request: crate::request_text::describe(&op),
            });
        }
        let proposed = self.propose_request(RaftRequest {
            origin: self.config.id,
            id: request_id,
            op: Some(op),
        });
        if let Err(e) = &proposed {
            self.record_response(request_id, e.to_string());
        }
        proposed
    }

    fn record_response(&mut self, request_id: u64, result: String) {
        let term = self.raw.raft.term;
        self.events
            .record(term, || EventKind::ClientResponse { request_id, result });
    }

    fn propose_request(&mut self, request: RaftRequest) -> Result<(), CoreError> {
        match self.raw.propose(Vec::new(), request.encode_to_vec()) {
            Ok(()) => Ok(()),
            Err(raft::Error::ProposalDropped) => Err(CoreError::NoLeader),
            Err(e) => Err(e.into()),
        }
    }

    /// Proposes a membership change after checking it against the member table (and, for a
    /// promotion, that this leader sees the learner caught up); answered under `request_id`.
    pub fn propose_membership(
        &mut self,
        change: MembershipChange,
        request_id: u64,
    ) -> Result<(), CoreError> {
        let members = membership::list(&self.database().begin_read()?)?;
        let find = |id: u64| members.iter().find(|m| m.id == id).cloned();
        let (change_type, node_id, member) = match change {
            MembershipChange::Add {
                id,
                peer_urls,
                is_learner,
            } => {
                if members
                    .iter()
                    .any(|m| m.peer_ur_ls.iter().any(|u| peer_urls.contains(u)))
                {
                    return Err(MembershipError::PeerUrlExists.into());
                }
                let kind = if is_learner {
                    ConfChangeType::AddLearnerNode
                } else {
                    ConfChangeType::AddNode
                };
                let info = MemberInfo {
                    id,
                    name: String::new(),
                    peer_ur_ls: peer_urls,
                    client_ur_ls: vec![],
                    is_learner,
                };
                (kind, id, Some(info))
            }
            MembershipChange::Remove { id } => {
                let removed = find(id).ok_or(MembershipError::MemberNotFound)?;
                // The last voter cannot leave: the cluster would be left with no quorum at all.
                if !removed.is_learner && members.iter().filter(|m| !m.is_learner).count() == 1 {
                    return Err(MembershipError::NotEnoughStarted.into());
                }
                (ConfChangeType::RemoveNode, id, None)
            }
            MembershipChange::Promote { id } => {
                let mut info = find(id).ok_or(MembershipError::MemberNotFound)?;
                if !info.is_learner {
                    return Err(MembershipError::NotLearner.into());
                }
                self.check_learner_ready(id)?;
                info.is_learner = false;
                (ConfChangeType::AddNode, id, Some(info))
            }
            MembershipChange::Update { id, peer_urls } => {
                find(id).ok_or(MembershipError::MemberNotFound)?;
                let op = Op::MemberPeerUrls(MemberPeerUrls {
                    member_id: id,
                    peer_urls,
                });
                return self.propose(op, request_id);
            }
        };
        let context = ConfChangeContext {
            origin: self.config.id,
            id: request_id,
            member,
        };
        let mut cc = ConfChange::default();
        cc.set_change_type(change_type);
        cc.node_id = node_id;
        cc.context = context.encode_to_vec().into();
        match self.raw.propose_conf_change(Vec::new(), cc) {
            Ok(()) => Ok(()),
            Err(raft::Error::ProposalDropped) => Err(CoreError::NoLeader),
            Err(e) => Err(e.into()),
        }
    }

    /// etcd's rule: a learner may be promoted once its log is within 10% of the leader's.
    fn check_learner_ready(&self, id: u64) -> Result<(), MembershipError> {
        let raft = &self.raw.raft;
        if raft.state != StateRole::Leader {
            return Err(MembershipError::NotLeader);
        }
        let leader_match = raft.raft_log.last_index();
        let learner_match = raft.prs().get(id).map_or(0, |p| p.matched);
        if (learner_match as f64) < leader_match as f64 * 0.9 {
            return Err(MembershipError::LearnerNotReady);
        }
        Ok(())
    }

    /// Starts handing leadership to `target` (only a leader acts on it).
    pub fn transfer_leader(&mut self, target: u64) {
        self.raw.transfer_leader(target);
    }

    /// Tells Raft whether a snapshot message reached `peer` (so it stops waiting on a lost one).
    pub fn report_snapshot(&mut self, peer: u64, delivered: bool) {
        let status = if delivered {
            raft::SnapshotStatus::Finish
        } else {
            raft::SnapshotStatus::Failure
        };
        self.raw.report_snapshot(peer, status);
    }

    /// Tells Raft a message to `peer` could not be delivered, so it probes before resending.
    pub fn report_unreachable(&mut self, peer: u64) {
        self.raw.report_unreachable(peer);
    }

    /// Asks for a linearizable read point; it comes back in [`ReadyOutput::read_states`] with `ctx`.
    pub fn read_index(&mut self, ctx: Vec<u8>) {
        self.raw.read_index(ctx);
    }

    pub fn status(&self) -> MemberStatus {
        let raft = &self.raw.raft;
        MemberStatus {
            id: self.config.id,
            cluster_id: self.cluster_id,
            term: raft.term,
            leader_id: raft.leader_id,
            role: raft.state,
            commit_index: raft.raft_log.committed,
            applied_index: self.applied_index,
            last_index: raft.raft_log.last_index(),
            revision: self.mvcc.current_revision(),
            compact_revision: self.mvcc.compact_revision(),
            auth_enabled: self.auth_enabled,
        }
    }

    /// etcd's rule: a lease is granted at least the cluster's minimum TTL.
    fn with_min_lease_ttl(&self, op: WriteRequest) -> WriteRequest {
        match op {
            Op::LeaseGrant(mut grant) => {
                let min =
                    crate::lease::min_lease_ttl(self.config.election_tick, self.config.tick_ms);
                grant.ttl = grant.ttl.max(min);
                Op::LeaseGrant(grant)
            }
            other => other,
        }
    }

    /// The leader proposes a revoke for each lease that expired (nobody waits for its answer),
    /// at most etcd's rate of 1000 a second.
    fn revoke_expired_leases(&mut self) {
        let per_tick = (crate::lease::REVOKES_PER_SECOND * self.config.tick_ms / 1000).max(1);
        for id in self.lessor.take_expired(per_tick as usize) {
            let revoke = internal(Op::LeaseRevoke(LeaseRevokeRequest { id }));
            if let Err(e) = self.propose_request(revoke) {
                slog::debug!(self.logger, "cannot propose a lease revoke yet"; "lease" => id, "error" => %e);
            }
        }
    }

    /// A lease keep-alive (leader only): the lease lives its granted TTL from now, returned.
    pub fn renew_lease(&mut self, id: i64) -> Result<i64, CoreError> {
        if !self.lessor.is_primary() {
            return Err(CoreError::NotLeader);
        }
        let ttl = crate::lease::granted_ttl(&self.database().begin_read()?, id)?
            .ok_or(MvccError::LeaseNotFound)?;
        if !self.lessor.renew(id, ttl) {
            return Err(MvccError::LeaseNotFound.into());
        }
        Ok(ttl)
    }

    /// etcd's LeaseTimeToLive (leader only: only it times leases), with the attached keys if
    /// asked. The remaining TTL is in whole seconds, rounded down as etcd's.
    pub fn lease_time_to_live(
        &self,
        id: i64,
        with_keys: bool,
    ) -> Result<LeaseTimeToLiveResponse, CoreError> {
        if !self.lessor.is_primary() {
            return Err(CoreError::NotLeader);
        }
        let txn = self.database().begin_read()?;
        let granted_ttl = crate::lease::granted_ttl(&txn, id)?.ok_or(MvccError::LeaseNotFound)?;
        let remaining_ms = self.lessor.remaining_ms(id).unwrap_or(0);
        let keys = if with_keys {
            MvccStore::lease_keys(&txn, id)?
        } else {
            Vec::new()
        };
        Ok(LeaseTimeToLiveResponse {
            header: Some(self.header(None)),
            id,
            ttl: (remaining_ms / 1000) as i64,
            granted_ttl,
            keys,
        })
    }

    /// Starts timing leases on becoming leader (each gets its full TTL plus an election
    /// timeout, as etcd's `Promote`), stops on losing leadership.
    fn follow_leadership(&mut self, role: StateRole) -> Result<(), CoreError> {
        match (role, self.lessor.is_primary()) {
            (StateRole::Leader, false) => {
                let txn = self.database().begin_read()?;
                let leases = crate::lease::all(&txn.open_table(crate::lease::LEASES)?)?;
                let extension = self.config.election_tick as u64 * self.config.tick_ms;
                self.lessor.promote(leases, extension);
            }
            (StateRole::Leader, true) => {}
            (_, _) => self.lessor.demote(),
        }
        Ok(())
    }

    /// Does what raft-rs has made ready, in its documented order; see the module docs.
    /// All messages come back in `messages`, those that could have left early first.
    pub fn ready(&mut self) -> Result<ReadyOutput, CoreError> {
        match self.begin_ready()? {
            Some(pending) => self.finish_ready(pending),
            None => Ok(ReadyOutput::default()),
        }
    }

    /// The first half of [`Member::ready`]: takes raft-rs's ready and the messages that may
    /// leave before it is persisted, so a host can send a leader's appends to its followers
    /// while [`Member::finish_ready`] syncs the same entries to its own disk (etcd's leader
    /// writes its WAL in parallel with replication). `None` when nothing is ready.
    pub fn begin_ready(&mut self) -> Result<Option<PendingReady>, CoreError> {
        let mut out = ReadyOutput::default();
        self.publish_if_due();
        if !self.raw.has_ready() {
            return Ok(None);
        }
        let mut rd = self.raw.ready();
        // Messages in `messages` may leave before persistence (the leader's appends).
        let early = rd.take_messages();
        out.messages = self.outgoing(early);
        self.record_commit();
        if let Some(ss) = rd.ss() {
            out.role_changed = Some((ss.raft_state, ss.leader_id));
            self.record_role();
            self.follow_leadership(ss.raft_state)?;
        }
        out.read_states = rd.take_read_states();
        for rs in &out.read_states {
            let (term, index) = (self.raw.raft.term, rs.index);
            self.events.record(term, || EventKind::ReadIndex { index });
        }
        Ok(Some(PendingReady { rd, out }))
    }

    /// The second half of [`Member::ready`]: persists and applies what `pending` holds, then
    /// returns everything the host must still do (early messages it did not take come first).
    pub fn finish_ready(&mut self, pending: PendingReady) -> Result<ReadyOutput, CoreError> {
        let PendingReady { mut rd, mut out } = pending;
        let mut txn = self.database().begin_write()?;
        // raft-rs asks for a sync when the ready holds entries, a snapshot, or a new term or
        // vote; a hard state whose commit index alone moved may be lost in a crash (Raft learns
        // the commit index again), as etcd writes it to its WAL without a sync.
        let durable = rd.must_sync();
        if !rd.snapshot().is_empty() {
            self.apply_snapshot(&txn, rd.snapshot())?;
        }
        self.raw.mut_store().append(&txn, rd.entries())?;
        if !rd.entries().is_empty() && self.events.enabled() {
            let term = self.raw.raft.term;
            let entries = rd.entries();
            self.events.record(term, || EventKind::EntriesAppended {
                first_index: entries[0].index,
                last_index: entries[entries.len() - 1].index,
                entries: entries
                    .iter()
                    .take(crate::events::MAX_LISTED_ENTRIES)
                    .map(|e| crate::events::EntrySummary {
                        index: e.index,
                        term: e.term,
                        request: entry_text(e),
                    })
                    .collect(),
            });
        }
        if let Some(hs) = rd.hs() {
            self.raw.mut_store().set_hard_state(&txn, hs)?;
        }
        let committed = rd.take_committed_entries();
        self.apply(&txn, committed, &mut out)?;
        out.synced = durable;
        // With a journal, a synced ready is one synced journal record and an unsynced commit,
        // but for a checkpoint (and a snapshot): see `journal`. Without one, the commit syncs.
        let synced_commit = match &mut self.journal {
            None => durable,
            Some(journal) => {
                let checkpoint = durable && (journal.checkpoint_due() || !rd.snapshot().is_empty());
                if checkpoint {
                    journal.mark_checkpoint(&txn)?;
                } else if durable {
                    journal.append(rd.entries(), rd.hs())?;
                }
                checkpoint
            }
        };
        txn.set_durability(if synced_commit {
            Durability::Immediate
        } else {
            Durability::None
        })
        .map_err(|e| CoreError::Storage(e.to_string()))?;
        txn.commit()?;
        if let (true, Some(journal)) = (synced_commit, &mut self.journal) {
            journal.checkpointed();
        }
        let persisted = rd.take_persisted_messages();
        let persisted = self.outgoing(persisted);
        out.messages.extend(persisted);

        let mut light = self.raw.advance(rd);
        self.record_commit();
        let light_messages = light.take_messages();
        let light_messages = self.outgoing(light_messages);
        out.messages.extend(light_messages);
        let light_committed = light.take_committed_entries();
        // Most light readies carry nothing to store (a follower learns commits in the next
        // ready): a write transaction is opened only when there is something to write.
        if light.commit_index().is_some()
            || !light_committed.is_empty()
            || self.log_compaction_due()
        {
            let mut txn = self.database().begin_write()?;
            txn.set_durability(Durability::None)
                .map_err(|e| CoreError::Storage(e.to_string()))?;
            if let Some(commit) = light.commit_index() {
                self.raw.mut_store().set_commit(&txn, commit)?;
            }
            self.apply(&txn, light_committed, &mut out)?;
            self.compact_log_if_due(&txn)?;
            txn.commit()?;
        }
        self.raw.advance_apply();
        let applied = self.applied_index;
        self.raw.mut_store().release_applied(applied);

        if out.role_changed.is_some() {
            self.publish_if_due();
        }
        Ok(out)
    }

    /// Gives each message its id and records its send.
    fn outgoing(&mut self, mut messages: Vec<Message>) -> Vec<OutgoingMessage> {
        // raft-rs broadcasts in the order of its progress hash map, which differs between
        // 64-bit and 32-bit (wasm) builds: sorted by recipient (a stable sort keeps each
        // peer's own order), a seeded simulation sends the same messages in both.
        messages.sort_by_key(|m| m.to);
        let term = self.raw.raft.term;
        messages
            .into_iter()
            .map(|message| {
                let msg_id = self.next_msg_id;
                self.next_msg_id += 1;
                if self.events.enabled() {
                    let refusal = matches!(
                        message.get_msg_type(),
                        MessageType::MsgRequestVoteResponse
                            | MessageType::MsgRequestPreVoteResponse
                    )
                    .then(|| self.take_vote_refusal(message.to))
                    .flatten();
                    self.events
                        .record(term, || crate::raft_events::sent(&message, msg_id, refusal));
                }
                OutgoingMessage { msg_id, message }
            })
            .collect()
    }

    fn take_vote_refusal(&mut self, candidate: u64) -> Option<String> {
        let at = self
            .vote_refusals
            .iter()
            .position(|(c, _)| *c == candidate)?;
        Some(self.vote_refusals.swap_remove(at).1)
    }

    fn record_role(&mut self) {
        let raft = &self.raw.raft;
        let (role, leader, timeout) = (
            crate::raft_events::role(raft),
            hex_id(raft.leader_id),
            raft.randomized_election_timeout() as u64,
        );
        self.events.record(raft.term, || EventKind::RoleChanged {
            role,
            leader,
            election_timeout_ticks: timeout,
        });
    }

    fn record_commit(&mut self) {
        let commit = self.raw.raft.raft_log.committed;
        if commit > self.reported_commit {
            self.reported_commit = commit;
            let term = self.raw.raft.term;
            self.events
                .record(term, || EventKind::CommitAdvanced { commit });
        }
    }

    /// Once a leader is known, propose this member's attributes; a new leader also records
    /// the cluster version if nobody has yet. Both mirror etcd's start-up, so Raft indexes
    /// after start match a real etcd member's.
    fn publish_if_due(&mut self) {
        let status = self.status();
        if status.leader_id == 0 || self.raw.raft.raft_log.committed > self.applied_index {
            return;
        }
        if !self.attributes_published {
            let attributes = MemberAttributes {
                member_id: self.config.id,
                name: self.config.name.clone(),
                client_urls: self.config.client_urls.clone(),
            };
            if self
                .propose_request(internal(Op::MemberAttributes(attributes)))
                .is_ok()
            {
                self.attributes_published = true;
            }
        }
        if !self.cluster_version_set && status.role == StateRole::Leader {
            let version = ClusterVersion {
                version: CLUSTER_API_VERSION.to_string(),
            };
            if self
                .propose_request(internal(Op::ClusterVersion(version)))
                .is_ok()
            {
                self.cluster_version_set = true;
            }
        }
    }

    /// Loads a snapshot sent by the leader: the replicated tables, the log's new starting
    /// point and the applied index, all in the ready's transaction.
    fn apply_snapshot(
        &mut self,
        txn: &WriteTransaction,
        snapshot: &raft::eraftpb::Snapshot,
    ) -> Result<(), CoreError> {
        let meta = snapshot.get_metadata();
        crate::state_snapshot::apply(txn, &snapshot.data)?;
        self.raw.mut_store().apply_snapshot(txn, meta)?;
        txn.open_table(META)?
            .insert(APPLIED_INDEX, &u64_bytes(meta.index)[..])?;
        self.applied_index = meta.index;
        self.mvcc = MvccStore::open(txn)?;
        self.cluster_version_set = txn.open_table(CLUSTER_VERSION)?.get(VERSION)?.is_some();
        self.no_space = crate::alarms::no_space(txn)?;
        self.auth_enabled = crate::auth::store::enabled(txn)?;
        let (term, index, snapshot_term) = (self.raw.raft.term, meta.index, meta.term);
        self.events.record(term, || EventKind::SnapshotApplied {
            index,
            snapshot_term,
        });
        slog::info!(self.logger, "applied a snapshot from the leader"; "index" => meta.index, "term" => meta.term);
        Ok(())
    }

    /// Whether a compaction is under way, or enough has been applied since the log's first
    /// entry to start one.
    fn log_compaction_due(&self) -> bool {
        let count = self.config.snapshot_count.max(1);
        self.compacting_to.is_some() || self.applied_index >= self.raw.store().first_index() + count
    }

    /// Starts a compaction when one is due (up to `--snapshot-count` applied entries behind the
    /// applied index, keeping [`catch_up_entries`]) and takes its next step.
    fn compact_log_if_due(&mut self, txn: &WriteTransaction) -> Result<(), CoreError> {
        if !self.log_compaction_due() {
            return Ok(());
        }
        let keep = catch_up_entries(self.config.snapshot_count.max(1));
        let target = *self
            .compacting_to
            .get_or_insert(self.applied_index.saturating_sub(keep));
        let first = self.raw.store().first_index();
        let step_end = target.min(first + COMPACTION_STEP_ENTRIES - 1);
        self.raw.mut_store().compact(txn, step_end)?;
        // Done, or overtaken by a received snapshot (which replaces the whole log).
        if self.raw.store().first_index() > target {
            self.compacting_to = None;
        }
        Ok(())
    }

    /// Applies committed entries inside `txn`, recording the applied index with them.
    fn apply(
        &mut self,
        txn: &WriteTransaction,
        entries: Vec<Entry>,
        out: &mut ReadyOutput,
    ) -> Result<(), CoreError> {
        let Some(last) = entries.last().map(|e| e.index) else {
            return Ok(());
        };
        // Open across a run of key-space requests, closed before anything else.
        let mut key_tables = None;
        for entry in entries {
            match entry.get_entry_type() {
                EntryType::EntryNormal if entry.data.is_empty() => {
                    self.record_applied(&entry, || EMPTY_ENTRY.into());
                }
                EntryType::EntryNormal => self.apply_request(txn, &mut key_tables, &entry, out)?,
                EntryType::EntryConfChange => {
                    key_tables = None;
                    let cc = ConfChange::parse_from_bytes(&entry.data).map_err(|e| {
                        CoreError::Corrupt(format!("conf change at {}: {e}", entry.index))
                    })?;
                    self.record_applied(&entry, || conf_change_text(&cc));
                    self.apply_conf_change(txn, &cc, out)?;
                }
                EntryType::EntryConfChangeV2 => {
                    return Err(CoreError::Corrupt(format!(
                        "entry {} is a joint conf change, which etcd 3.4 never writes",
                        entry.index
                    )));
                }
            }
        }
        drop(key_tables);
        txn.open_table(META)?
            .insert(APPLIED_INDEX, &u64_bytes(last)[..])?;
        self.applied_index = last;
        Ok(())
    }

    /// Applies one request. Puts, deletes and txns use the key space's tables in `key_tables`,
    /// opened by the first of a run; any other request closes them first, since it may open
    /// them itself (a lease revoke deletes keys, a compaction drops history).
    fn apply_request<'t>(
        &mut self,
        txn: &'t WriteTransaction,
        key_tables: &mut Option<KeyTables<'t>>,
        entry: &Entry,
        out: &mut ReadyOutput,
    ) -> Result<(), CoreError> {
        let request = RaftRequest::decode(&entry.data[..])
            .map_err(|e| CoreError::Corrupt(format!("raft entry {}: {e}", entry.index)))?;
        if !matches!(
            request.op,
            Some(Op::Put(_) | Op::DeleteRange(_) | Op::Txn(_))
        ) {
            *key_tables = None;
        }
        self.record_applied(entry, || match &request.op {
            Some(op) => crate::request_text::describe(op),
            None => "nothing".into(),
        });
        let result = match request.op {
            None => Ok(WriteResponse::Done),
            Some(Op::Put(_)) if self.no_space => Err(MvccError::NoSpace),
            Some(Op::Txn(r)) if self.no_space && txn_writes(&r) => Err(MvccError::NoSpace),
            Some(Op::LeaseGrant(_)) if self.no_space => Err(MvccError::NoSpace),
            Some(Op::Alarm(r)) => {
                let resp = crate::alarms::apply(txn, &r)?;
                self.no_space = crate::alarms::no_space(txn)?;
                Ok(WriteResponse::Alarm(resp))
            }
            Some(
                op @ (Op::AuthEnable(_)
                | Op::AuthDisable(_)
                | Op::UserAdd(_)
                | Op::UserDelete(_)
                | Op::UserChangePassword(_)
                | Op::UserGrantRole(_)
                | Op::UserRevokeRole(_)
                | Op::RoleAdd(_)
                | Op::RoleDelete(_)
                | Op::RoleGrantPermission(_)
                | Op::RoleRevokePermission(_)),
            ) => {
                let outcome = crate::auth::store::apply(txn, &op)?;
                self.auth_enabled = crate::auth::store::enabled(txn)?;
                Ok(WriteResponse::Auth(outcome))
            }
            Some(Op::Put(r)) => open_key_tables(key_tables, txn)
                .and_then(|tables| self.mvcc.put(tables, &r))
                .map(|mut resp| {
                    resp.header = Some(self.header(resp.header.take()));
                    WriteResponse::Put(resp)
                }),
            Some(Op::DeleteRange(r)) => open_key_tables(key_tables, txn)
                .and_then(|tables| self.mvcc.delete_range(tables, &r))
                .map(|mut resp| {
                    resp.header = Some(self.header(resp.header.take()));
                    WriteResponse::DeleteRange(resp)
                }),
            Some(Op::Txn(r)) => open_key_tables(key_tables, txn)
                .and_then(|tables| self.mvcc.txn(tables, &r))
                .map(|mut resp| {
                    resp.header = Some(self.header(resp.header.take()));
                    WriteResponse::Txn(resp)
                }),
            Some(Op::Compaction(r)) => self.mvcc.compact(txn, &r).map(|mut resp| {
                resp.header = Some(self.header(resp.header.take()));
                WriteResponse::Compaction(resp)
            }),
            Some(Op::Range(_)) => Ok(WriteResponse::Done),
            Some(Op::LeaseGrant(r)) => crate::lease::grant(txn, &r).map(|mut resp| {
                self.lessor.granted(resp.id, resp.ttl);
                resp.header = Some(self.header(None));
                WriteResponse::LeaseGrant(resp)
            }),
            Some(Op::LeaseRevoke(r)) => {
                // Gone either way: an expiry and a client may both have revoked it.
                self.lessor.revoked(r.id);
                crate::lease::revoke(txn, &mut self.mvcc, r.id).map(|mut resp| {
                    resp.header = Some(self.header(resp.header.take()));
                    WriteResponse::LeaseRevoke(resp)
                })
            }
            Some(Op::MemberAttributes(attrs)) => {
                if let Some(mut info) = membership::get(txn, attrs.member_id)? {
                    info.name = attrs.name;
                    info.client_ur_ls = attrs.client_urls;
                    membership::put(txn, &info)?;
                }
                Ok(WriteResponse::Done)
            }
            Some(Op::MemberPeerUrls(update)) => {
                if let Some(mut info) = membership::get(txn, update.member_id)? {
                    info.peer_ur_ls = update.peer_urls;
                    membership::put(txn, &info)?;
                }
                let members = membership::list_in(txn)?;
                Ok(WriteResponse::Membership {
                    member: None,
                    members,
                })
            }
            Some(Op::ClusterVersion(v)) => {
                txn.open_table(CLUSTER_VERSION)?
                    .insert(VERSION, v.version.as_bytes())?;
                self.cluster_version_set = true;
                Ok(WriteResponse::Done)
            }
        };
        // A storage failure inside the key space is the member's failure, not the client's.
        if let Err(MvccError::Storage(e)) = &result {
            return Err(CoreError::Storage(e.clone()));
        }
        if request.origin == self.config.id && request.id != 0 {
            if self.events.enabled() {
                let text = match &result {
                    Ok(_) => "ok".to_string(),
                    Err(e) => e.to_string(),
                };
                self.record_response(request.id, text);
            }
            out.responses.push((request.id, result));
        }
        Ok(())
    }

    fn record_applied(&mut self, entry: &Entry, request: impl FnOnce() -> String) {
        let (term, index, entry_term) = (self.raw.raft.term, entry.index, entry.term);
        self.events.record(term, || EventKind::EntryApplied {
            index,
            entry_term,
            request: request(),
        });
    }

    fn apply_conf_change(
        &mut self,
        txn: &WriteTransaction,
        cc: &ConfChange,
        out: &mut ReadyOutput,
    ) -> Result<(), CoreError> {
        let context = ConfChangeContext::decode(&cc.context[..])
            .map_err(|e| CoreError::Corrupt(format!("conf change context: {e}")))?;
        match self.raw.apply_conf_change(cc) {
            Ok(cs) => {
                self.raw.mut_store().set_conf_state(txn, &cs)?;
                let term = self.raw.raft.term;
                // Sorted: raft-rs lists them in hash-set order, which differs on 32-bit wasm.
                let sorted_hex = |ids: &[u64]| {
                    let mut ids = ids.to_vec();
                    ids.sort_unstable();
                    ids.into_iter().map(hex_id).collect()
                };
                self.events.record(term, || EventKind::ConfChangeApplied {
                    change: change_type_name(cc.get_change_type()).into(),
                    member: hex_id(cc.node_id),
                    voters: sorted_hex(&cs.voters),
                    learners: sorted_hex(&cs.learners),
                });
                match (cc.get_change_type(), &context.member) {
                    (ConfChangeType::RemoveNode, _) => {
                        membership::remove(txn, cc.node_id)?;
                        self.removed |= cc.node_id == self.config.id;
                    }
                    (_, Some(info)) => {
                        // A promotion keeps the name and client URLs the member published.
                        let mut info = info.clone();
                        if let Some(existing) = membership::get(txn, info.id)? {
                            info.name = existing.name;
                            info.client_ur_ls = existing.client_ur_ls;
                        }
                        membership::put(txn, &info)?;
                    }
                    (_, None) => {}
                }
            }
            // Every member rejects the same invalid change the same way: nothing changes.
            Err(e) => slog::warn!(self.logger, "conf change rejected"; "error" => %e),
        }
        if context.origin == self.config.id && context.id != 0 {
            let members = membership::list_in(txn)?;
            let member = context
                .member
                .and_then(|m| members.iter().find(|x| x.id == m.id).cloned().or(Some(m)));
            out.responses.push((
                context.id,
                Ok(WriteResponse::Membership { member, members }),
            ));
        }
        Ok(())
    }

    /// A response header as etcd fills it; `partial` carries the revision set by the key space.
    pub fn header(&self, partial: Option<ResponseHeader>) -> ResponseHeader {
        ResponseHeader {
            cluster_id: self.cluster_id,
            member_id: self.config.id,
            revision: partial
                .map(|h| h.revision)
                .unwrap_or_else(|| self.mvcc.current_revision()),
            raft_term: self.raw.raft.term,
        }
    }
}

/// Whether a txn may add data (any put on any branch, nested included).
fn txn_writes(txn: &crate::proto::etcdserverpb::TxnRequest) -> bool {
    use crate::proto::etcdserverpb::request_op::Request;
    txn.success
        .iter()
        .chain(&txn.failure)
        .any(|op| match &op.request {
            Some(Request::RequestPut(_)) => true,
            Some(Request::RequestTxn(t)) => txn_writes(t),
            _ => false,
        })
}

fn change_type_name(kind: ConfChangeType) -> &'static str {
    match kind {
        ConfChangeType::AddNode => "add_node",
        ConfChangeType::AddLearnerNode => "add_learner_node",
        ConfChangeType::RemoveNode => "remove_node",
    }
}

/// A log entry in readable form.
fn entry_text(entry: &Entry) -> String {
    match entry.get_entry_type() {
        EntryType::EntryNormal if entry.data.is_empty() => EMPTY_ENTRY.into(),
        EntryType::EntryNormal => match RaftRequest::decode(&entry.data[..]) {
            Ok(RaftRequest { op: Some(op), .. }) => crate::request_text::describe(&op),
            Ok(_) => "nothing".into(),
            Err(_) => "undecodable entry".into(),
        },
        EntryType::EntryConfChange => match ConfChange::parse_from_bytes(&entry.data) {
            Ok(cc) => conf_change_text(&cc),
            Err(_) => "undecodable conf change".into(),
        },
        EntryType::EntryConfChangeV2 => "joint conf change".into(),
    }
}

/// How events show the empty entry a new leader appends to commit its term.
const EMPTY_ENTRY: &str = "empty entry (a new leader's first)";

fn conf_change_text(cc: &ConfChange) -> String {
    format!(
        "conf change {} {}",
        change_type_name(cc.get_change_type()),
        hex_id(cc.node_id)
    )
}

fn internal(op: Op) -> RaftRequest {
    RaftRequest {
        origin: 0,
        id: 0,
        op: Some(op),
    }
}

/// Writes the initial log of a new member: for a new cluster, one committed conf change per
/// initial member at term 1 (as etcd bootstraps), so every member starts from the same log.
fn bootstrap_log(
    txn: &WriteTransaction,
    log: &mut RaftLog,
    config: &MemberConfig,
    bootstrap: &Bootstrap,
) -> Result<u64, CoreError> {
    if log.last_index() > 0 {
        return Err(CoreError::Corrupt(
            "the database has a Raft log but no member identity".into(),
        ));
    }
    let (cluster_id, members) = match bootstrap {
        Bootstrap::JoinExisting { cluster_id } => return Ok(*cluster_id),
        Bootstrap::NewCluster {
            cluster_id,
            members,
        } => (*cluster_id, members),
    };
    if !members.iter().any(|m| m.id == config.id) {
        return Err(CoreError::Invalid(format!(
            "member {:x} ({}) is not in the initial cluster",
            config.id, config.name
        )));
    }
    let mut entries = Vec::with_capacity(members.len());
    let mut voters = Vec::new();
    for (i, member) in members.iter().enumerate() {
        let mut cc = ConfChange::default();
        cc.set_change_type(ConfChangeType::AddNode);
        cc.node_id = member.id;
        cc.context = ConfChangeContext {
            origin: 0,
            id: 0,
            member: Some(member.clone()),
        }
        .encode_to_vec()
        .into();
        let mut entry = Entry::default();
        entry.set_entry_type(EntryType::EntryConfChange);
        entry.term = 1;
        entry.index = i as u64 + 1;
        entry.data = cc
            .write_to_bytes()
            .map_err(|e| CoreError::Encode(e.to_string()))?
            .into();
        entries.push(entry);
        voters.push(member.id);
    }
    log.append(txn, &entries)?;
    let hs = HardState {
        term: 1,
        commit: entries.len() as u64,
        ..Default::default()
    };
    log.set_hard_state(txn, &hs)?;
    log.set_conf_state(
        txn,
        &raft::eraftpb::ConfState::from((voters, Vec::<u64>::new())),
    )?;
    Ok(cluster_id)
}

/// The key space's tables in `slot`, opened in `txn` if they are not open yet.
fn open_key_tables<'s, 't>(
    slot: &'s mut Option<KeyTables<'t>>,
    txn: &'t WriteTransaction,
) -> Result<&'s mut KeyTables<'t>, MvccError> {
    let tables = match slot.take() {
        Some(tables) => tables,
        None => KeyTables::open(txn)?,
    };
    Ok(slot.insert(tables))
}

#[cfg(test)]
pub(crate) mod one_member;
#[cfg(test)]
mod tests;
