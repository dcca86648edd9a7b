//! A deterministic cluster simulator: N real [`Member`]s (raft-rs and the MVCC key space, each
//! on its own in-memory redb), a virtual clock, a simulated [`Network`] and simulated clients,
//! all driven by one seeded [`Rng`]. Same seed and same calls give the same run, bit for bit:
//! the same events, the same answers. Tests use it to run thousands of fault schedules and
//! check every history ([`linearizability`]) and every step ([`invariants`]); the browser's
//! demo mode runs it in the page.
//!
//! Time only moves in [`Simulator::step_ms`] / [`Simulator::run_until`]: messages arrive after
//! their link's delay, members tick every `tick_ms`, client requests time out. A crash drops
//! the member but keeps its database; a restart reopens it, as a real member restarts.
//! Clients live in [`client`], faults in [`network`], scripted runs in [`scenario`], played
//! against a clock by [`player`]; [`digest`] fingerprints a run's events, [`bench`] times one.

pub mod bench;
pub mod client;
pub mod digest;
pub mod history;
pub mod invariants;
pub mod linearizability;
pub mod network;
pub mod player;
pub mod rng;
pub mod scenario;

use std::collections::BTreeMap;
use std::sync::Arc;

use raft::StateRole;
use raft::eraftpb::MessageType;
use redb::Database;
use serde::{Deserialize, Serialize};

pub use client::{ClientOp, Outcome};

use crate::events::{EventKind, RaftEvent, hex_id};
use crate::member::{Bootstrap, Member, MemberConfig, MemberStatus, OutgoingMessage};
use crate::membership;
use crate::proto::etcdserverpb::Member as MemberInfo;
use client::{Pending, Waiting};
use history::History;
use invariants::Invariants;
use network::{Envelope, LinkFaults, Network};
use rng::{Rng, mix};

/// The cluster token the simulated members' ids derive from.
const TOKEN: &str = "etcdlab-sim";
/// Readies in a row handled for one input before the member is left for the next input.
const MAX_READIES: usize = 16;

/// The shape of a simulated cluster.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SimConfig {
    /// Members at start, named `m1`, `m2`, ...
    pub members: usize,
    /// Virtual milliseconds per Raft tick (etcd's heartbeat interval).
    pub tick_ms: u64,
    pub election_ticks: usize,
    pub heartbeat_ticks: usize,
    pub pre_vote: bool,
    /// etcd's `--snapshot-count`: small values make lagging members catch up by snapshot.
    pub snapshot_count: u64,
    /// The faults of every link at start (and after a heal).
    pub faults: LinkFaults,
    /// A client request without an answer after this long ends as [`Outcome::Unknown`].
    pub request_timeout_ms: u64,
    /// Whether members record [`RaftEvent`]s (for a UI or a determinism check).
    pub events: bool,
    /// Whether every step is checked against Raft's safety properties ([`invariants`]). The
    /// checks cost more as the history grows (the key space is hashed at every applied
    /// index); the browser's demo, which never shows their verdict, runs without them. The
    /// run itself (its events and answers) is the same either way.
    pub check_invariants: bool,
}

impl Default for SimConfig {
    fn default() -> SimConfig {
        SimConfig {
            members: 3,
            tick_ms: 100,
            election_ticks: 10,
            heartbeat_ticks: 1,
            pre_vote: true,
            snapshot_count: 10_000,
            faults: LinkFaults::default(),
            request_timeout_ms: 3_000,
            events: true,
            check_invariants: true,
        }
    }
}

/// One member as the simulator shows it.
#[derive(Clone, Debug)]
pub struct MemberSummary {
    pub name: String,
    pub id: u64,
    pub running: bool,
    /// Removed from the cluster (it never restarts).
    pub removed: bool,
    /// Raft and key-space state while running.
    pub status: Option<MemberStatus>,
}

struct Node {
    name: String,
    config: MemberConfig,
    bootstrap: Bootstrap,
    db: Arc<Database>,
    member: Option<Member>,
    removed: bool,
    /// Whether the member has seen itself in the cluster's configuration.
    joined: bool,
    next_tick_ms: u64,
}

/// The simulated cluster. See the module docs.
pub struct Simulator {
    config: SimConfig,
    seed: u64,
    rng: Rng,
    now_ms: u64,
    cluster_id: u64,
    nodes: Vec<Node>,
    network: Network,
    next_request: u64,
    pending: BTreeMap<u64, Pending>,
    results: Vec<(u64, Outcome)>,
    events: Vec<RaftEvent>,
    history: History,
    invariants: Invariants,
    violation: Option<String>,
    logger: slog::Logger,
}

impl Simulator {
    /// A new cluster of `config.members` members, started at virtual time 0.
    pub fn new(config: SimConfig, seed: u64) -> Simulator {
        let infos: Vec<MemberInfo> = (1..=config.members)
            .map(|n| {
                let peer_urls = vec![peer_url(&format!("m{n}"))];
                MemberInfo {
                    id: membership::member_id(&peer_urls, TOKEN, None),
                    name: format!("m{n}"),
                    peer_ur_ls: peer_urls,
                    client_ur_ls: vec![],
                    is_learner: false,
                }
            })
            .collect();
        let cluster_id = membership::cluster_id(&infos.iter().map(|m| m.id).collect::<Vec<_>>());
        let mut sim = Simulator {
            network: Network::new(config.faults),
            config,
            seed,
            rng: Rng::new(seed),
            now_ms: 0,
            cluster_id,
            nodes: Vec::new(),
            next_request: 1,
            pending: BTreeMap::new(),
            results: Vec::new(),
            events: Vec::new(),
            history: History::default(),
            invariants: Invariants::default(),
            violation: None,
            logger: slog::Logger::root(slog::Discard, slog::o!()),
        };
        let bootstrap = Bootstrap::NewCluster {
            cluster_id,
            members: infos.clone(),
        };
        for info in &infos {
            sim.add_node(&info.name, info.id, bootstrap.clone());
        }
        sim
    }

    pub fn seed(&self) -> u64 {
        self.seed
    }

    pub fn config(&self) -> &SimConfig {
        &self.config
    }

    pub fn now_ms(&self) -> u64 {
        self.now_ms
    }

    /// The first safety violation seen (with the seed and time), if any.
    pub fn violation(&self) -> Option<&str> {
        self.violation.as_deref()
    }

    /// The key-value history of every client request so far.
    pub fn history(&self) -> &History {
        &self.history
    }

    /// The events recorded since the last call, in the order they happened.
    pub fn take_events(&mut self) -> Vec<RaftEvent> {
        std::mem::take(&mut self.events)
    }

    /// The answers that arrived since the last call: (request id, outcome).
    pub fn take_results(&mut self) -> Vec<(u64, Outcome)> {
        std::mem::take(&mut self.results)
    }

    /// Requests still waiting for an answer.
    pub fn pending_requests(&self) -> usize {
        self.pending.len()
    }

    pub fn messages_in_flight(&self) -> usize {
        self.network.in_flight()
    }

    pub fn members(&self) -> Vec<MemberSummary> {
        self.nodes
            .iter()
            .map(|n| MemberSummary {
                name: n.name.clone(),
                id: n.config.id,
                running: n.member.is_some(),
                removed: n.removed,
                status: n.member.as_ref().map(Member::status),
            })
            .collect()
    }

    /// A running member, for inspection.
    pub fn member(&self, name: &str) -> Option<&Member> {
        self.nodes.iter().find(|n| n.name == name)?.member.as_ref()
    }

    /// The running leader with the highest term.
    pub fn leader(&self) -> Option<String> {
        self.members()
            .into_iter()
            .filter_map(|m| Some((m.status?, m.name)))
            .filter(|(s, _)| s.role == StateRole::Leader)
            .max_by_key(|(s, _)| s.term)
            .map(|(_, name)| name)
    }

    /// Advances virtual time by `ms`, delivering, ticking and timing out what falls due.
    pub fn step_ms(&mut self, ms: u64) {
        let end = self.now_ms + ms;
        while let Some(next) = self.next_due().filter(|t| *t <= end) {
            self.now_ms = self.now_ms.max(next);
            self.process_due();
        }
        self.now_ms = end;
    }

    /// Advances time a tick at a time until `done` holds (true) or `limit_ms` have passed (false).
    pub fn run_until(&mut self, limit_ms: u64, mut done: impl FnMut(&Simulator) -> bool) -> bool {
        let end = self.now_ms + limit_ms;
        while !done(self) {
            if self.now_ms >= end {
                return false;
            }
            self.step_ms(self.config.tick_ms.min(end - self.now_ms));
        }
        true
    }

    /// Crashes a member: it stops at once, its database keeps what it committed; requests it
    /// was serving end as [`Outcome::Unknown`].
    pub fn kill(&mut self, name: &str) -> Result<(), String> {
        self.stop(name, "killed (simulated crash)")
    }

    fn stop(&mut self, name: &str, reason: &str) -> Result<(), String> {
        let node = self.running_index(name)?;
        let reason = reason.to_string();
        self.with_member(node, |m| {
            m.record_event(EventKind::MemberStopped { reason })
        });
        self.nodes[node].member = None;
        let lost: Vec<u64> = self
            .pending
            .iter()
            .filter(|(_, p)| p.node == node)
            .map(|(r, _)| *r)
            .collect();
        for request in lost {
            self.give_up(request);
        }
        Ok(())
    }

    /// Restarts a crashed member on its database.
    pub fn restart(&mut self, name: &str) -> Result<(), String> {
        let node = self.node_index(name).ok_or(format!("no member {name}"))?;
        if self.nodes[node].member.is_some() || self.nodes[node].removed {
            return Err(format!("{name} is running or removed"));
        }
        self.start(node);
        Ok(())
    }

    /// Makes `name` campaign now (as if its election timer ran out).
    pub fn campaign(&mut self, name: &str) -> Result<(), String> {
        let node = self.running_index(name)?;
        if let Some(Err(e)) = self.with_member(node, Member::campaign) {
            return Err(e.to_string());
        }
        self.drive(node);
        Ok(())
    }

    /// Splits the members into groups that cannot talk to each other; members named in no
    /// group form one more group.
    pub fn partition(&mut self, groups: &[Vec<String>]) -> Result<(), String> {
        let ids = groups
            .iter()
            .map(|g| g.iter().map(|name| self.id_of(name)).collect())
            .collect::<Result<Vec<Vec<u64>>, String>>()?;
        // Described as a member under fault injection describes it, for the same views.
        let description = format!(
            "partition {}",
            ids.iter()
                .map(|g| g.iter().map(|id| hex_id(*id)).collect::<Vec<_>>().join(" "))
                .collect::<Vec<_>>()
                .join(" / ")
        );
        self.network.partition(ids);
        self.record_fault(None, description);
        Ok(())
    }

    /// Removes the partition and every link fault (links return to the configured faults).
    pub fn heal(&mut self) {
        self.network.heal(self.config.faults);
        self.record_fault(None, "heal".into());
    }

    /// Sets the faults of the link `from → to` (`None`: back to the default).
    pub fn set_link(
        &mut self,
        from: &str,
        to: &str,
        faults: Option<LinkFaults>,
    ) -> Result<(), String> {
        let (a, b) = (self.id_of(from)?, self.id_of(to)?);
        self.network.set_link(a, b, faults);
        let (loss, delay) = faults.map_or((0.0, 0), |f| (f.loss, f.max_delay_ms));
        let sender = self.node_index(from);
        self.record_fault(
            sender,
            format!("link to {}: loss {loss} delay {delay} ms", hex_id(b)),
        );
        Ok(())
    }

    /// Sets the faults of every link without its own.
    pub fn set_faults(&mut self, faults: LinkFaults) {
        self.network.set_default_faults(faults);
        self.record_fault(None, format!("all links: {faults:?}"));
    }

    /// Records a fault on one member (`None`: on every running member).
    fn record_fault(&mut self, node: Option<usize>, description: String) {
        let nodes = match node {
            Some(node) => node..node + 1,
            None => 0..self.nodes.len(),
        };
        for node in nodes {
            let description = description.clone();
            self.with_member(node, |m| {
                m.record_event(EventKind::FaultChanged { description })
            });
        }
    }

    fn node_index(&self, name: &str) -> Option<usize> {
        self.nodes.iter().position(|n| n.name == name)
    }

    fn running_index(&self, name: &str) -> Result<usize, String> {
        self.node_index(name)
            .filter(|i| self.nodes[*i].member.is_some())
            .ok_or(format!("{name} is not running"))
    }

    fn id_of(&self, name: &str) -> Result<u64, String> {
        Ok(
            self.nodes[self.node_index(name).ok_or(format!("no member {name}"))?]
                .config
                .id,
        )
    }

    fn add_node(&mut self, name: &str, id: u64, bootstrap: Bootstrap) {
        let db = Database::builder()
            .create_with_backend(redb::backends::InMemoryBackend::new())
            .expect("an in-memory database always opens");
        let config = MemberConfig {
            id,
            name: name.to_string(),
            client_urls: vec![format!("http://{name}:2379")],
            election_tick: self.config.election_ticks,
            heartbeat_tick: self.config.heartbeat_ticks,
            tick_ms: self.config.tick_ms,
            pre_vote: self.config.pre_vote,
            snapshot_count: self.config.snapshot_count,
        };
        self.nodes.push(Node {
            name: name.to_string(),
            config,
            bootstrap,
            db: Arc::new(db),
            member: None,
            removed: false,
            joined: false,
            next_tick_ms: 0,
        });
        self.start(self.nodes.len() - 1);
    }

    /// Opens the member on its database (bootstrapping it if empty), with its tick phase.
    fn start(&mut self, node: usize) {
        let n = &self.nodes[node];
        match Member::open(
            n.db.clone(),
            n.config.clone(),
            n.bootstrap.clone(),
            &self.logger,
        ) {
            Ok(mut member) => {
                member.set_events_enabled(self.config.events);
                self.nodes[node].member = Some(member);
            }
            Err(e) => return self.fail(format!("{} cannot start: {e}", self.nodes[node].name)),
        }
        let tick_ms = self.config.tick_ms.max(1);
        self.nodes[node].next_tick_ms = self.now_ms + 1 + self.rng.range(0, tick_ms - 1);
        let started = EventKind::MemberStarted {
            tick_ms,
            election_ticks: self.config.election_ticks as u64,
            heartbeat_ticks: self.config.heartbeat_ticks as u64,
        };
        self.with_member(node, |m| m.record_event(started));
        self.drive(node);
    }

    /// Calls `f` on a running member at the current time, then pins its election timeout and
    /// collects its events.
    fn with_member<R>(&mut self, node: usize, f: impl FnOnce(&mut Member) -> R) -> Option<R> {
        let member = self.nodes[node].member.as_mut()?;
        member.set_clock(self.now_ms);
        member.set_lease_clock(self.now_ms);
        let result = f(member);
        // raft-rs draws a fresh timeout from the thread's RNG on every term or role change:
        // replace it with one drawn from the seed and that state, the same on every replay.
        let s = member.status();
        let role = s.role as u64;
        member.set_randomized_election_timeout(mix(
            self.seed ^ mix(s.id ^ mix(s.term ^ mix(role ^ mix(s.leader_id))))
        ));
        self.events.extend(member.take_events());
        Some(result)
    }

    /// Carries out what the member at `node` has made ready, until it has nothing more.
    fn drive(&mut self, node: usize) {
        for _ in 0..MAX_READIES {
            let out = match self.with_member(node, Member::ready) {
                None => return,
                Some(Ok(out)) => out,
                Some(Err(e)) => {
                    return self.fail(format!("{}: ready failed: {e}", self.nodes[node].name));
                }
            };
            let quiet = out.messages.is_empty()
                && out.responses.is_empty()
                && out.read_states.is_empty()
                && out.role_changed.is_none()
                && !out.synced;
            for message in out.messages {
                self.send(node, message);
            }
            for rs in out.read_states {
                let Ok(bytes) = <[u8; 8]>::try_from(&rs.request_ctx[..]) else {
                    continue;
                };
                if let Some(Pending {
                    waiting: Waiting::Read { index, .. },
                    ..
                }) = self.pending.get_mut(&u64::from_be_bytes(bytes))
                {
                    *index = Some(rs.index);
                }
            }
            self.observe(node);
            for (request, result) in out.responses {
                self.answer(request, result);
            }
            if quiet {
                break;
            }
        }
        self.serve_reads(node);
        self.stop_if_removed(node);
    }

    /// Stops a member that applied its own removal, as etcd does: raft-rs must not drive a
    /// leader that is no longer in its configuration (it would panic on the next ack).
    fn stop_if_removed(&mut self, node: usize) {
        let n = &mut self.nodes[node];
        let Some(member) = &n.member else { return };
        let in_config = member.raft().prs().get(n.config.id).is_some();
        n.joined |= in_config;
        if n.joined && !in_config {
            n.removed = true;
            let name = n.name.clone();
            let _ = self.stop(&name, "removed from the cluster");
        }
    }

    fn observe(&mut self, node: usize) {
        if self.violation.is_some() || !self.config.check_invariants {
            return;
        }
        if let Some(member) = &self.nodes[node].member
            && let Err(e) = self.invariants.observe(member)
        {
            self.fail(e);
        }
    }

    fn fail(&mut self, what: String) {
        if self.violation.is_none() {
            self.violation = Some(format!("seed {}, at {} ms: {what}", self.seed, self.now_ms));
        }
    }

    fn send(&mut self, node: usize, out: OutgoingMessage) {
        let to = out.message.to;
        let snapshot = out.message.get_msg_type() == MessageType::MsgSnapshot;
        let envelope = Envelope {
            from: self.nodes[node].config.id,
            to,
            msg_id: out.msg_id,
            message: out.message,
        };
        if let Err(reason) = self.network.send(&mut self.rng, self.now_ms, envelope) {
            let dropped = EventKind::MessageDropped {
                msg_id: out.msg_id,
                to: hex_id(to),
                reason: reason.into(),
            };
            self.with_member(node, |m| {
                m.record_event(dropped);
                if snapshot {
                    m.report_snapshot(to, false);
                }
            });
        }
    }

    fn deliver(&mut self, envelope: Envelope) {
        let target = self
            .nodes
            .iter()
            .position(|n| n.config.id == envelope.to && n.member.is_some());
        if envelope.message.get_msg_type() == MessageType::MsgSnapshot
            && let Some(sender) = self.nodes.iter().position(|n| n.config.id == envelope.from)
        {
            let (to, delivered) = (envelope.to, target.is_some());
            self.with_member(sender, |m| m.report_snapshot(to, delivered));
        }
        let Some(target) = target else { return };
        // A member may refuse a message (a proposal forwarded when it knows no leader): as
        // on a real network, the sender times out.
        let _ = self.with_member(target, |m| m.step(envelope.message, envelope.msg_id));
        self.drive(target);
    }

    fn next_due(&self) -> Option<u64> {
        let ticks = self
            .nodes
            .iter()
            .filter(|n| n.member.is_some())
            .map(|n| n.next_tick_ms);
        let deadlines = self.pending.values().map(|p| p.deadline_ms);
        self.network
            .next_delivery()
            .into_iter()
            .chain(ticks)
            .chain(deadlines)
            .min()
    }

    /// Delivers the messages due now, ticks the members whose tick is due, expires requests.
    fn process_due(&mut self) {
        while let Some(envelope) = self.network.pop_due(self.now_ms) {
            self.deliver(envelope);
        }
        for node in 0..self.nodes.len() {
            if self.nodes[node].member.is_some() && self.nodes[node].next_tick_ms <= self.now_ms {
                self.nodes[node].next_tick_ms += self.config.tick_ms.max(1);
                self.with_member(node, Member::tick);
                self.drive(node);
            }
        }
        let expired: Vec<u64> = self
            .pending
            .iter()
            .filter(|(_, p)| p.deadline_ms <= self.now_ms)
            .map(|(r, _)| *r)
            .collect();
        for request in expired {
            self.give_up(request);
        }
    }
}

fn peer_url(name: &str) -> String {
    format!("http://{name}:2380")
}
