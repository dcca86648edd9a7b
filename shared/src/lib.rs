//! `etcdlab-core`: the sans-IO heart of etcdlab. It never touches a socket, a thread, a clock or
//! a file path, so the same code runs in the server and, compiled to wasm32, in the browser.
//!
//! A tour:
//! - [`proto`]: etcd's v3 wire types (prost), shared by core, server and client.
//! - [`member`]: one Raft member ([`Member`]): raft-rs's `RawNode`, ready handling in the order
//!   raft-rs documents, and the apply of committed entries, one redb transaction per ready.
//! - [`raft_log`]: raft-rs's `Storage` on redb, its tail mirrored in memory.
//! - [`journal`]: the Raft journal (etcd's WAL): synced records instead of synced commits, and
//!   their replay after a crash; the host owns the file.
//! - [`mvcc`]: the MVCC key space (revisions, history, ranges, txns, compaction) on redb.
//! - [`membership`]: member and cluster ids as etcd derives them, and the member table.
//! - [`lease`]: leases (grant, revoke, attached keys) and the leader's lease clock.
//! - [`alarms`]: NOSPACE/CORRUPT alarms, raised and cleared through Raft.
//! - `byte_rows`: integers in the byte tables (few redb table types keep the wasm small);
//!   [`storage_format`]: the format a database is in, and converting format 1 (`legacy`,
//!   native only) to the current one.
//! - [`auth`]: users, roles, key permissions and signed tokens, changed through Raft.
//! - [`events`]: the versioned Raft event schema every member reports; [`raft_events`] turns
//!   raft-rs messages and state into events, [`request_text`] writes entries readably.
//! - [`sim`]: the deterministic cluster simulator, its scenarios and the linearizability checker.
//! - [`cluster_view`]: the reducer from events to what the cluster looks like (roles, logs,
//!   key-value state, messages in flight), shared by the visualizer and the lessons.
//! - [`lesson`]: guided lessons — the lesson file format and the embedded lessons, the goal
//!   vocabulary checked against what the host observes, scenarios, the Kubernetes sample.
//!
//! The host (the node crate natively, the simulator in the browser) drives a member with
//! `tick`, `step`, `propose` and `read_index`, then calls `ready` and carries out what it
//! returns: messages to peers, answers to clients, confirmed read points.

pub mod alarms;
pub mod auth;
mod byte_rows;
pub mod cluster_view;
pub mod crc32c;
pub mod error;
pub mod events;
pub mod journal;
pub mod lease;
pub mod lesson;
pub mod member;
pub mod membership;
pub mod mvcc;
pub mod proto;
pub mod raft_events;
pub mod raft_log;
pub mod request_text;
pub mod sim;
pub mod state_snapshot;
pub mod storage_format;

#[cfg(not(target_arch = "wasm32"))]
mod legacy;

pub use error::{CoreError, MembershipError};
pub use member::{
    Bootstrap, Member, MemberConfig, MemberStatus, MembershipChange, OutgoingMessage, PendingReady,
    ReadyOutput, WriteRequest, WriteResponse,
};
