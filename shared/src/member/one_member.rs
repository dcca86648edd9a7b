//! A one-member cluster driven by hand, for tests of what goes through a member: opened and
//! elected, proposals answered by readying until nothing is left.

use std::sync::Arc;

use redb::Database;
use redb::backends::InMemoryBackend;

use super::{Bootstrap, Member, MemberConfig, WriteResponse};
use crate::mvcc::MvccError;
use crate::proto::etcdlab::raft_request::Op;
use crate::proto::etcdserverpb::Member as MemberInfo;

/// A member of a new one-member cluster on `db`, elected leader.
pub(crate) fn open(db: &Arc<Database>) -> Member {
    open_with_snapshot_count(db, 10_000)
}

/// [`open`] with this `--snapshot-count`.
pub(crate) fn open_with_snapshot_count(db: &Arc<Database>, snapshot_count: u64) -> Member {
    let config = MemberConfig {
        id: 1,
        name: "m1".into(),
        client_urls: vec![],
        election_tick: 10,
        heartbeat_tick: 1,
        tick_ms: 100,
        pre_vote: true,
        snapshot_count,
    };
    let bootstrap = Bootstrap::NewCluster {
        cluster_id: 7,
        members: vec![MemberInfo {
            id: 1,
            name: "m1".into(),
            peer_ur_ls: vec!["http://m1:2380".into()],
            ..Default::default()
        }],
    };
    let logger = slog::Logger::root(slog::Discard, slog::o!());
    let mut member = Member::open(db.clone(), config, bootstrap, &logger).unwrap();
    // The bootstrap conf changes apply first: Raft does not campaign with them pending.
    settle(&mut member);
    member.campaign().unwrap();
    settle(&mut member);
    assert_eq!(member.status().role, raft::StateRole::Leader);
    member
}

/// An empty database in memory.
pub(crate) fn new_database() -> Arc<Database> {
    Arc::new(
        Database::builder()
            .create_with_backend(InMemoryBackend::new())
            .unwrap(),
    )
}

/// Readies until nothing is left; the answers to proposals.
pub(crate) fn settle(member: &mut Member) -> Vec<Result<WriteResponse, MvccError>> {
    let mut answers = Vec::new();
    for _ in 0..10 {
        answers.extend(
            member
                .ready()
                .unwrap()
                .responses
                .into_iter()
                .map(|(_, r)| r),
        );
    }
    answers
}

/// Proposes `op` and readies until its answer.
pub(crate) fn write(member: &mut Member, op: Op) -> Result<WriteResponse, MvccError> {
    member.propose(op, 1).unwrap();
    let mut answers = settle(member);
    assert_eq!(answers.len(), 1);
    answers.remove(0)
}
