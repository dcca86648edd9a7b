//! The core's error type: what can go wrong driving a member, typed so the host can map each
//! case to the right gRPC status or exit message.

use crate::mvcc::MvccError;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CoreError {
    /// The redb database failed (I/O, a full disk, a lock held by another process).
    #[error("storage: {0}")]
    Storage(String),
    /// Stored bytes that cannot be ours: a damaged file or another program's data.
    #[error("corrupt data: {0}")]
    Corrupt(String),
    #[error("encoding: {0}")]
    Encode(String),
    #[error(transparent)]
    Mvcc(#[from] MvccError),
    #[error("raft: {0}")]
    Raft(#[from] raft::Error),
    /// A proposal could not be accepted (no leader known yet, or leadership in transfer).
    #[error("etcdserver: no leader")]
    NoLeader,
    /// Only the leader can answer (lease keep-alives and TTLs): the host asks the leader.
    #[error("etcdserver: not leader")]
    NotLeader,
    /// The database is still shared (a snapshot is being streamed): try again later.
    #[error("the database is in use: {0}")]
    Busy(String),
    #[error("etcdserver: {0}")]
    Invalid(String),
    #[error(transparent)]
    Membership(#[from] MembershipError),
}

/// Why a membership change was refused (etcd's messages).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MembershipError {
    #[error("etcdserver: Peer URLs already exists")]
    PeerUrlExists,
    #[error("etcdserver: member not found")]
    MemberNotFound,
    #[error("etcdserver: can only promote a learner member")]
    NotLearner,
    #[error("etcdserver: can only promote a learner member which is in sync with leader")]
    LearnerNotReady,
    #[error("etcdserver: not leader")]
    NotLeader,
    #[error("etcdserver: re-configuration failed due to not enough started members")]
    NotEnoughStarted,
}

macro_rules! storage_errors {
    ($($t:ty),*) => {$(
        impl From<$t> for CoreError {
            fn from(e: $t) -> Self {
                CoreError::Storage(e.to_string())
            }
        }
    )*};
}
storage_errors!(
    redb::Error,
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);
