//! Unit tests of the lease table and its apply logic on an in-memory redb: grants, attaching and
//! detaching keys, revokes deleting the attached keys in one revision, and etcd's refusals that
//! change nothing.

use redb::{Database, ReadableDatabase, backends::InMemoryBackend};

use super::*;
use crate::mvcc::KeyTables;
use crate::proto::etcdserverpb::request_op::Request;
use crate::proto::etcdserverpb::{
    DeleteRangeRequest, PutRequest, RangeRequest, RequestOp, TxnRequest,
};

struct Fixture {
    db: Database,
    mvcc: MvccStore,
}

impl Fixture {
    fn new() -> Fixture {
        let db = Database::builder()
            .create_with_backend(InMemoryBackend::new())
            .unwrap();
        let txn = db.begin_write().unwrap();
        let mvcc = MvccStore::open(&txn).unwrap();
        create_table(&txn).unwrap();
        txn.commit().unwrap();
        Fixture { db, mvcc }
    }

    /// One request in its own write transaction, committed even when it fails (as the member
    /// does: a refused request must have written nothing).
    fn write<T>(
        &mut self,
        f: impl FnOnce(&mut MvccStore, &WriteTransaction) -> Result<T, MvccError>,
    ) -> Result<T, MvccError> {
        let txn = self.db.begin_write().unwrap();
        let out = f(&mut self.mvcc, &txn);
        txn.commit().unwrap();
        out
    }

    fn grant(&mut self, id: i64, ttl: i64) -> Result<LeaseGrantResponse, MvccError> {
        self.write(|_, t| grant(t, &LeaseGrantRequest { id, ttl }))
    }

    fn revoke(&mut self, id: i64) -> Result<LeaseRevokeResponse, MvccError> {
        self.write(|m, t| revoke(t, m, id))
    }

    fn put(&mut self, key: &str, lease: i64) -> Result<(), MvccError> {
        let req = PutRequest {
            key: key.into(),
            value: b"v".to_vec(),
            lease,
            ..Default::default()
        };
        self.write(|m, t| m.put(&mut KeyTables::open(t)?, &req))
            .map(|_| ())
    }

    fn read(&self) -> redb::ReadTransaction {
        self.db.begin_read().unwrap()
    }

    fn keys_of(&self, lease: i64) -> Vec<String> {
        MvccStore::lease_keys(&self.read(), lease)
            .unwrap()
            .into_iter()
            .map(|k| String::from_utf8(k).unwrap())
            .collect()
    }

    /// (lease, mod revision) of a live key.
    fn key(&self, key: &str) -> Option<(i64, i64)> {
        let req = RangeRequest {
            key: key.into(),
            ..Default::default()
        };
        let resp = MvccStore::range(&self.read(), &req).unwrap();
        resp.kvs.first().map(|kv| (kv.lease, kv.mod_revision))
    }

    /// Everything replicated, to check that a refused request changed nothing.
    fn state_hash(&self) -> u32 {
        crate::state_snapshot::hash(&self.read()).unwrap()
    }
}

#[test]
fn the_minimum_ttl_is_one_and_a_half_election_timeouts_rounded_up_to_a_second() {
    // etcd's defaults: 100 ms heartbeats, 10 ticks to an election.
    assert_eq!(min_lease_ttl(10, 100), 2);
    assert_eq!(min_lease_ttl(5, 1000), 7);
    assert_eq!(min_lease_ttl(4, 1000), 6);
}

#[test]
fn grants_are_listed_and_refused_twice_or_beyond_the_maximum_ttl() {
    let mut f = Fixture::new();
    let resp = f.grant(0x1f, 60).unwrap();
    assert_eq!((resp.id, resp.ttl), (0x1f, 60));
    f.grant(2, MAX_LEASE_TTL).unwrap();
    let before = f.state_hash();
    assert_eq!(f.grant(0x1f, 10), Err(MvccError::LeaseExists));
    assert_eq!(
        f.grant(3, MAX_LEASE_TTL + 1),
        Err(MvccError::LeaseTtlTooLarge)
    );
    assert_eq!(f.state_hash(), before);
    let ids: Vec<i64> = list(&f.read()).unwrap().iter().map(|l| l.id).collect();
    assert_eq!(ids, vec![2, 0x1f]);
    assert_eq!(granted_ttl(&f.read(), 0x1f).unwrap(), Some(60));
    assert_eq!(granted_ttl(&f.read(), 4).unwrap(), None);
}

#[test]
fn puts_attach_and_detach_keys_and_deletes_drop_them_from_the_lease() {
    let mut f = Fixture::new();
    f.grant(1, 60).unwrap();
    f.grant(2, 60).unwrap();
    f.put("a", 1).unwrap();
    f.put("b", 1).unwrap();
    f.put("c", 1).unwrap();
    assert_eq!(f.keys_of(1), ["a", "b", "c"]);
    // A put without a lease detaches; with another lease moves the key.
    f.put("a", 0).unwrap();
    f.put("b", 2).unwrap();
    assert_eq!(f.keys_of(1), ["c"]);
    assert_eq!(f.keys_of(2), ["b"]);
    // ignore_lease keeps the key's lease.
    let keep = PutRequest {
        key: "b".into(),
        value: b"w".to_vec(),
        ignore_lease: true,
        ..Default::default()
    };
    f.write(|m, t| m.put(&mut KeyTables::open(t)?, &keep))
        .unwrap();
    assert_eq!(f.keys_of(2), ["b"]);
    assert_eq!(f.key("b").unwrap().0, 2);
    let del = DeleteRangeRequest {
        key: "c".into(),
        ..Default::default()
    };
    f.write(|m, t| m.delete_range(&mut KeyTables::open(t)?, &del))
        .unwrap();
    assert!(f.keys_of(1).is_empty());
}

#[test]
fn a_revoke_deletes_the_attached_keys_in_one_revision_then_the_lease() {
    let mut f = Fixture::new();
    f.grant(5, 60).unwrap();
    f.put("k1", 5).unwrap();
    f.put("k2", 5).unwrap();
    f.put("other", 0).unwrap();
    let before = f.mvcc.current_revision();
    let resp = f.revoke(5).unwrap();
    assert_eq!(resp.header.unwrap().revision, before + 1);
    assert_eq!(f.mvcc.current_revision(), before + 1);
    assert_eq!((f.key("k1"), f.key("k2")), (None, None));
    assert!(f.key("other").is_some());
    assert!(list(&f.read()).unwrap().is_empty());
    // Both deletions are in the change log under that one revision.
    let deleted_at = f
        .read()
        .open_table(crate::mvcc::CHANGES)
        .unwrap()
        .range(&(before as u64 + 1).to_be_bytes()[..]..)
        .unwrap()
        .count();
    assert_eq!(deleted_at, 2);
    // A lease with no keys is revoked without a revision.
    f.grant(6, 60).unwrap();
    f.revoke(6).unwrap();
    assert_eq!(f.mvcc.current_revision(), before + 1);
}

#[test]
fn a_missing_lease_is_refused_by_puts_txns_and_revokes_and_nothing_changes() {
    let mut f = Fixture::new();
    f.grant(1, 60).unwrap();
    f.put("k", 1).unwrap();
    let before = f.state_hash();
    assert_eq!(f.put("k", 99), Err(MvccError::LeaseNotFound));
    assert_eq!(f.revoke(99).unwrap_err(), MvccError::LeaseNotFound);
    let put = |key: &str, lease| RequestOp {
        request: Some(Request::RequestPut(PutRequest {
            key: key.into(),
            lease,
            ..Default::default()
        })),
    };
    let txn = TxnRequest {
        compare: vec![],
        success: vec![put("x", 0), put("y", 99)],
        failure: vec![],
    };
    assert_eq!(
        f.write(|m, t| m.txn(&mut KeyTables::open(t)?, &txn)),
        Err(MvccError::LeaseNotFound)
    );
    assert_eq!(f.state_hash(), before);
    assert_eq!(f.key("x"), None);
    // Only the branch taken is checked, as etcd's applier does.
    let txn = TxnRequest {
        compare: vec![],
        success: vec![put("x", 1)],
        failure: vec![put("y", 99)],
    };
    f.write(|m, t| m.txn(&mut KeyTables::open(t)?, &txn))
        .unwrap();
    assert_eq!(f.keys_of(1), ["k", "x"]);
}

#[test]
fn leases_and_their_keys_travel_in_raft_snapshots_and_snapshot_files() {
    let mut f = Fixture::new();
    f.grant(3, 60).unwrap();
    f.put("k", 3).unwrap();
    let data = crate::state_snapshot::encode(&f.read()).unwrap();
    let received = Fixture::new();
    let txn = received.db.begin_write().unwrap();
    crate::state_snapshot::apply(&txn, &data).unwrap();
    txn.commit().unwrap();
    let saved = Fixture::new();
    let txn = saved.db.begin_write().unwrap();
    MvccStore::copy_into(&f.read(), &txn).unwrap();
    txn.commit().unwrap();
    for copy in [&received, &saved] {
        assert_eq!(granted_ttl(&copy.read(), 3).unwrap(), Some(60));
        assert_eq!(copy.keys_of(3), ["k"]);
    }
    assert_eq!(received.state_hash(), f.state_hash());
}

mod through_a_member {
    //! The same logic driven through a one-member cluster: grants and puts proposed, time passed
    //! in, expiry proposing the revoke, and a restarted leader giving leases their full TTL.

    use super::*;
    use crate::error::CoreError;
    use crate::member::one_member::{new_database, open, settle, write};
    use crate::member::{Member, WriteResponse};
    use crate::proto::etcdlab::raft_request::Op;

    fn has_key(member: &Member, key: &str) -> bool {
        let req = RangeRequest {
            key: key.into(),
            ..Default::default()
        };
        let txn = member.database().begin_read().unwrap();
        MvccStore::range(&txn, &req).unwrap().count == 1
    }

    /// Moves the lease clock and ticks, as the host's loop does.
    fn at(member: &mut Member, now_ms: u64) {
        member.set_lease_clock(now_ms);
        member.tick();
        settle(member);
    }

    fn put_leased(member: &mut Member, key: &str, lease: i64) {
        let put = PutRequest {
            key: key.into(),
            lease,
            ..Default::default()
        };
        write(member, Op::Put(put)).unwrap();
    }

    #[test]
    fn a_short_grant_gets_the_minimum_ttl_and_expiry_revokes_it_through_raft() {
        let mut member = open(&new_database());
        let granted = write(
            &mut member,
            Op::LeaseGrant(LeaseGrantRequest { id: 5, ttl: 1 }),
        );
        let Ok(WriteResponse::LeaseGrant(granted)) = granted else {
            panic!("{granted:?}");
        };
        assert_eq!(granted.ttl, 2, "etcd's minimum for 10 ticks of 100 ms");
        put_leased(&mut member, "k", 5);
        let revision = member.status().revision;
        at(&mut member, 1999);
        assert!(has_key(&member, "k"));
        assert_eq!(
            member.lease_time_to_live(5, true).unwrap().keys,
            vec![b"k".to_vec()]
        );
        at(&mut member, 2000);
        assert!(!has_key(&member, "k"));
        assert_eq!(member.status().revision, revision + 1);
        let missing = member.renew_lease(5).unwrap_err();
        assert!(matches!(missing, CoreError::Mvcc(MvccError::LeaseNotFound)));
    }

    #[test]
    fn keep_alives_push_the_deadline_and_a_restarted_leader_grants_the_full_ttl_again() {
        let db = new_database();
        let mut member = open(&db);
        write(
            &mut member,
            Op::LeaseGrant(LeaseGrantRequest { id: 9, ttl: 10 }),
        )
        .unwrap();
        put_leased(&mut member, "k", 9);
        at(&mut member, 9000);
        assert_eq!(member.renew_lease(9).unwrap(), 10);
        at(&mut member, 18_999);
        assert!(
            has_key(&member, "k"),
            "renewed at 9 s, the lease lives until 19 s"
        );
        assert_eq!(member.lease_time_to_live(9, false).unwrap().ttl, 0);
        drop(member);

        // A new leader (here the same member restarted, its clock from 0) times every lease
        // from when it took over: TTL plus an election timeout (1 s).
        let mut member = open(&db);
        at(&mut member, 10_999);
        assert!(has_key(&member, "k"));
        at(&mut member, 11_000);
        assert!(!has_key(&member, "k"));
    }
}
