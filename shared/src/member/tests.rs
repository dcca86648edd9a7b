//! What a member reports about its applied state and how it keeps its Raft log, driven through a
//! one-member cluster.

use redb::ReadableDatabase;

use super::WriteResponse;
use super::one_member::{new_database, open, open_with_snapshot_count, write};
use crate::auth::AuthError;
use crate::auth::store::ROOT;
use crate::auth::store::tests::{enable, grant_role, user_add};
use crate::proto::etcdlab::raft_request::Op;
use crate::proto::etcdserverpb::AuthDisableRequest;

fn auth_outcome(result: Result<WriteResponse, crate::mvcc::MvccError>) -> Result<(), AuthError> {
    match result {
        Ok(WriteResponse::Auth(outcome)) => outcome,
        other => panic!("not an auth answer: {other:?}"),
    }
}

#[test]
fn the_status_says_whether_auth_is_enabled_as_applied_and_after_a_restart() {
    let db = new_database();
    let mut member = open(&db);
    assert!(!member.status().auth_enabled);
    // Refused without a root user: still off.
    assert!(auth_outcome(write(&mut member, enable())).is_err());
    assert!(!member.status().auth_enabled);
    for op in [user_add(ROOT), grant_role(ROOT, ROOT)] {
        auth_outcome(write(&mut member, op)).unwrap();
        assert!(!member.status().auth_enabled);
    }
    auth_outcome(write(&mut member, enable())).unwrap();
    assert!(member.status().auth_enabled);
    drop(member);
    let mut member = open(&db);
    assert!(member.status().auth_enabled, "read back when reopened");
    auth_outcome(write(&mut member, Op::AuthDisable(AuthDisableRequest {}))).unwrap();
    assert!(!member.status().auth_enabled);
}

#[test]
fn one_ready_applies_key_space_requests_around_a_lease_revoke_and_a_compaction() {
    use crate::proto::etcdserverpb::{
        CompactionRequest, DeleteRangeRequest, LeaseGrantRequest, LeaseRevokeRequest, PutRequest,
        RangeRequest, TxnRequest,
    };
    let mut member = open(&new_database());
    write(
        &mut member,
        Op::LeaseGrant(LeaseGrantRequest { id: 9, ttl: 60 }),
    )
    .unwrap();
    let put = |key: &str, lease: i64| {
        Op::Put(PutRequest {
            key: key.into(),
            value: b"v".to_vec(),
            lease,
            ..Default::default()
        })
    };
    // Proposed together, applied in one ready: the key space's tables are held open across
    // the puts, then closed for the revoke and the compaction, which open them themselves.
    let ops = [
        put("a", 0),
        put("leased", 9),
        Op::LeaseRevoke(LeaseRevokeRequest { id: 9 }),
        put("b", 0),
        Op::Compaction(CompactionRequest {
            revision: 3,
            physical: false,
        }),
        Op::DeleteRange(DeleteRangeRequest {
            key: b"a".to_vec(),
            ..Default::default()
        }),
        Op::Txn(TxnRequest::default()),
        put("c", 0),
    ];
    let count = ops.len();
    for (id, op) in ops.into_iter().enumerate() {
        member.propose(op, id as u64 + 1).unwrap();
    }
    let answers = super::one_member::settle(&mut member);
    assert_eq!(answers.len(), count);
    assert!(answers.iter().all(Result::is_ok), "{answers:?}");
    let txn = member.database().begin_read().unwrap();
    let all = RangeRequest {
        key: vec![0],
        range_end: vec![0],
        ..Default::default()
    };
    let range = crate::mvcc::MvccStore::range(&txn, &all).unwrap();
    let keys: Vec<_> = range.kvs.iter().map(|kv| kv.key.clone()).collect();
    assert_eq!(keys, [b"b".to_vec(), b"c".to_vec()]);
    // Revisions: a 2, leased 3, revoke 4, b 5, delete 6, c 7 (the empty txn takes none).
    assert_eq!(member.status().revision, 7);
    assert_eq!(member.status().compact_revision, 3);
}

#[test]
fn a_due_log_compaction_is_spread_over_readies_and_removes_the_entries_from_disk() {
    use super::{COMPACTION_STEP_ENTRIES, catch_up_entries};
    use crate::proto::etcdserverpb::PutRequest;
    use crate::raft_log::ENTRIES;
    let snapshot_count = catch_up_entries(u64::MAX) + 3 * COMPACTION_STEP_ENTRIES;
    let keep = catch_up_entries(snapshot_count);
    let mut member = open_with_snapshot_count(&new_database(), snapshot_count);
    let first_at_open = member.raw.store().first_index();
    let mut compaction_steps = 0;
    let mut next_id = 1;
    // Puts in batches until a compaction has started and finished.
    let mut compacted_to = None;
    while compacted_to.is_none() || member.compacting_to.is_some() {
        assert!(
            next_id < 3 * snapshot_count,
            "the compaction never finished"
        );
        for _ in 0..200 {
            let put = PutRequest {
                key: format!("k{}", next_id % 100).into_bytes(),
                value: b"v".to_vec(),
                ..Default::default()
            };
            member.propose(Op::Put(put), next_id).unwrap();
            next_id += 1;
        }
        for _ in 0..3 {
            let first = member.raw.store().first_index();
            member.ready().unwrap();
            let removed = member.raw.store().first_index() - first;
            assert!(
                removed <= COMPACTION_STEP_ENTRIES,
                "{removed} entries in one ready"
            );
            if removed > 0 {
                compaction_steps += 1;
            }
            if compacted_to.is_none() {
                compacted_to = member.compacting_to;
            }
        }
    }
    let target = compacted_to.unwrap();
    // Started once enough was applied, up to what it keeps for lagging followers.
    assert!(target >= first_at_open + snapshot_count - keep);
    assert_eq!(member.raw.store().first_index(), target + 1);
    assert!(compaction_steps >= 3, "{compaction_steps} steps");
    // The compacted entries are gone from the database too.
    let txn = member.database().begin_read().unwrap();
    let entries = txn.open_table(ENTRIES).unwrap();
    let stored = redb::ReadableTableMetadata::len(&entries).unwrap();
    assert_eq!(stored, member.raw.store().last_index() - target);
}
