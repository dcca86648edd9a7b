//! Unit tests of the key space on an in-memory redb: revisions, history reads, ranges,
//! txn semantics, the duplicate-key rule, compaction, hashing and persistence.

use redb::{Database, ReadableDatabase, backends::InMemoryBackend};

use super::*;
use crate::proto::etcdserverpb::compare::{CompareResult, CompareTarget, TargetUnion};
use crate::proto::etcdserverpb::range_request::{SortOrder, SortTarget};
use crate::proto::etcdserverpb::request_op::Request;
use crate::proto::etcdserverpb::response_op::Response;
use crate::proto::etcdserverpb::{Compare, RequestOp};

struct Fixture {
    db: Database,
    store: MvccStore,
}

impl Fixture {
    fn new() -> Fixture {
        let db = Database::builder()
            .create_with_backend(InMemoryBackend::new())
            .unwrap();
        let txn = db.begin_write().unwrap();
        let store = MvccStore::open(&txn).unwrap();
        txn.commit().unwrap();
        Fixture { db, store }
    }

    fn write<T>(
        &mut self,
        f: impl FnOnce(&mut MvccStore, &WriteTransaction) -> Result<T, MvccError>,
    ) -> Result<T, MvccError> {
        let txn = self.db.begin_write().unwrap();
        let out = f(&mut self.store, &txn);
        txn.commit().unwrap();
        out
    }

    fn put(&mut self, key: &str, value: &str) -> PutResponse {
        let req = PutRequest {
            key: key.into(),
            value: value.into(),
            ..Default::default()
        };
        self.write(|s, t| s.put(t, &req)).unwrap()
    }

    fn del(&mut self, key: &str, range_end: &[u8]) -> DeleteRangeResponse {
        let req = DeleteRangeRequest {
            key: key.into(),
            range_end: range_end.to_vec(),
            prev_kv: true,
        };
        self.write(|s, t| s.delete_range(t, &req)).unwrap()
    }

    fn range(&self, req: RangeRequest) -> Result<RangeResponse, MvccError> {
        MvccStore::range(&self.db.begin_read().unwrap(), &req)
    }

    fn get(&self, key: &str) -> Option<KeyValue> {
        self.range(RangeRequest {
            key: key.into(),
            ..Default::default()
        })
        .unwrap()
        .kvs
        .pop()
    }

    fn keys(&self, req: RangeRequest) -> Vec<String> {
        self.range(req)
            .unwrap()
            .kvs
            .iter()
            .map(|kv| String::from_utf8(kv.key.clone()).unwrap())
            .collect()
    }
}

fn prefix(p: &str) -> RangeRequest {
    let mut end = p.as_bytes().to_vec();
    *end.last_mut().unwrap() += 1;
    RangeRequest {
        key: p.into(),
        range_end: end,
        ..Default::default()
    }
}

fn put_op(key: &str, value: &str) -> RequestOp {
    RequestOp {
        request: Some(Request::RequestPut(PutRequest {
            key: key.into(),
            value: value.into(),
            ..Default::default()
        })),
    }
}

fn del_op(key: &str, range_end: &[u8]) -> RequestOp {
    RequestOp {
        request: Some(Request::RequestDeleteRange(DeleteRangeRequest {
            key: key.into(),
            range_end: range_end.to_vec(),
            prev_kv: false,
        })),
    }
}

fn get_op(key: &str) -> RequestOp {
    RequestOp {
        request: Some(Request::RequestRange(RangeRequest {
            key: key.into(),
            ..Default::default()
        })),
    }
}

fn cmp(key: &str, target: CompareTarget, result: CompareResult, operand: TargetUnion) -> Compare {
    Compare {
        result: result as i32,
        target: target as i32,
        key: key.into(),
        target_union: Some(operand),
        range_end: vec![],
    }
}

#[test]
fn revisions_versions_and_recreation() {
    let mut f = Fixture::new();
    assert_eq!(f.store.current_revision(), 1);
    assert_eq!(f.put("a", "1").header.unwrap().revision, 2);
    f.put("a", "2");
    let kv = f.get("a").unwrap();
    assert_eq!((kv.create_revision, kv.mod_revision, kv.version), (2, 3, 2));
    let d = f.del("a", &[]);
    assert_eq!(d.deleted, 1);
    assert_eq!(d.header.unwrap().revision, 4);
    assert_eq!(d.prev_kvs[0].value, b"2");
    assert!(f.get("a").is_none());
    f.put("a", "3");
    let kv = f.get("a").unwrap();
    assert_eq!((kv.create_revision, kv.mod_revision, kv.version), (5, 5, 1));
    // Deleting nothing makes no revision.
    assert_eq!(f.del("missing", &[]).deleted, 0);
    assert_eq!(f.store.current_revision(), 5);
}

#[test]
fn history_reads_at_every_revision() {
    let mut f = Fixture::new();
    f.put("k", "v1"); // 2
    f.put("other", "x"); // 3
    f.put("k", "v2"); // 4
    f.del("k", &[]); // 5
    f.put("k", "v3"); // 6
    let at = |rev| {
        f.range(RangeRequest {
            key: "k".into(),
            revision: rev,
            ..Default::default()
        })
        .unwrap()
    };
    assert!(at(1).kvs.is_empty());
    assert_eq!(at(2).kvs[0].value, b"v1");
    assert_eq!(at(3).kvs[0].value, b"v1");
    assert_eq!(at(4).kvs[0].value, b"v2");
    assert!(at(5).kvs.is_empty());
    assert_eq!(at(6).kvs[0].value, b"v3");
    // The header always carries the current revision.
    assert_eq!(at(2).header.unwrap().revision, 6);
    assert_eq!(
        f.range(RangeRequest {
            key: "k".into(),
            revision: 7,
            ..Default::default()
        }),
        Err(MvccError::FutureRevision)
    );
}

#[test]
fn ranges_prefix_from_key_all_limit_count() {
    let mut f = Fixture::new();
    for k in ["/a/b", "/a/c", "/d", "key1", "z"] {
        f.put(k, k);
    }
    assert_eq!(f.keys(prefix("/a/")), ["/a/b", "/a/c"]);
    assert_eq!(
        f.keys(RangeRequest {
            key: "/d".into(),
            range_end: vec![0],
            ..Default::default()
        }),
        ["/d", "key1", "z"]
    );
    assert_eq!(
        f.keys(RangeRequest {
            key: vec![0],
            range_end: vec![0],
            ..Default::default()
        })
        .len(),
        5
    );
    assert!(
        f.keys(RangeRequest {
            key: "z".into(),
            range_end: "a".into(),
            ..Default::default()
        })
        .is_empty()
    );
    let limited = f
        .range(RangeRequest {
            limit: 1,
            ..prefix("/")
        })
        .unwrap();
    assert_eq!(
        (limited.kvs.len(), limited.more, limited.count),
        (1, true, 3)
    );
    let exact = f
        .range(RangeRequest {
            limit: 3,
            ..prefix("/")
        })
        .unwrap();
    assert!(!exact.more);
    let counted = f
        .range(RangeRequest {
            count_only: true,
            ..prefix("/")
        })
        .unwrap();
    assert_eq!((counted.kvs.len(), counted.count), (0, 3));
    let keys_only = f
        .range(RangeRequest {
            keys_only: true,
            ..prefix("/")
        })
        .unwrap();
    assert!(keys_only.kvs.iter().all(|kv| kv.value.is_empty()));
}

#[test]
fn sorting_and_revision_filters() {
    let mut f = Fixture::new();
    f.put("b", "2"); // 2
    f.put("a", "3"); // 3
    f.put("c", "1"); // 4
    f.put("b", "9"); // 5 (b: version 2)
    let sorted = |target: SortTarget, order: SortOrder| {
        f.keys(RangeRequest {
            key: vec![0],
            range_end: vec![0],
            sort_target: target as i32,
            sort_order: order as i32,
            ..Default::default()
        })
    };
    assert_eq!(sorted(SortTarget::Key, SortOrder::None), ["a", "b", "c"]);
    assert_eq!(sorted(SortTarget::Key, SortOrder::Descend), ["c", "b", "a"]);
    assert_eq!(sorted(SortTarget::Mod, SortOrder::Descend), ["b", "c", "a"]);
    assert_eq!(sorted(SortTarget::Create, SortOrder::None), ["b", "a", "c"]);
    assert_eq!(
        sorted(SortTarget::Value, SortOrder::Ascend),
        ["c", "a", "b"]
    );
    assert_eq!(sorted(SortTarget::Version, SortOrder::Descend)[0], "b");
    let filtered = f.keys(RangeRequest {
        key: vec![0],
        range_end: vec![0],
        min_mod_revision: 4,
        ..Default::default()
    });
    assert_eq!(filtered, ["b", "c"]);
    let filtered = f.keys(RangeRequest {
        key: vec![0],
        range_end: vec![0],
        max_create_revision: 2,
        ..Default::default()
    });
    assert_eq!(filtered, ["b"]);
}

#[test]
fn put_options() {
    let mut f = Fixture::new();
    let req = PutRequest {
        key: "k".into(),
        ignore_value: true,
        ..Default::default()
    };
    assert_eq!(f.write(|s, t| s.put(t, &req)), Err(MvccError::KeyNotFound));
    assert_eq!(f.store.current_revision(), 1);
    f.write(|s, t| {
        s.put(
            t,
            &PutRequest {
                key: "k".into(),
                value: "v".into(),
                lease: 7,
                ..Default::default()
            },
        )
    })
    .unwrap();
    let resp = f
        .write(|s, t| {
            s.put(
                t,
                &PutRequest {
                    key: "k".into(),
                    ignore_value: true,
                    prev_kv: true,
                    ..Default::default()
                },
            )
        })
        .unwrap();
    assert_eq!(resp.prev_kv.unwrap().value, b"v");
    let kv = f.get("k").unwrap();
    assert_eq!(
        (kv.value.as_slice(), kv.lease, kv.version),
        (&b"v"[..], 0, 2)
    );
    f.write(|s, t| {
        s.put(
            t,
            &PutRequest {
                key: "k".into(),
                value: "w".into(),
                lease: 9,
                ..Default::default()
            },
        )
    })
    .unwrap();
    f.write(|s, t| {
        s.put(
            t,
            &PutRequest {
                key: "k".into(),
                value: "x".into(),
                ignore_lease: true,
                ..Default::default()
            },
        )
    })
    .unwrap();
    assert_eq!(f.get("k").unwrap().lease, 9);
}

#[test]
fn txn_compares_branches_and_read_your_writes() {
    let mut f = Fixture::new();
    f.put("txnkey", "old");
    let req = TxnRequest {
        compare: vec![cmp(
            "txnkey",
            CompareTarget::Value,
            CompareResult::Equal,
            TargetUnion::Value("old".into()),
        )],
        success: vec![
            put_op("txnkey", "new"),
            put_op("other", "o"),
            get_op("txnkey"),
        ],
        failure: vec![put_op("txnkey", "failed")],
    };
    let resp = f.write(|s, t| s.txn(t, &req)).unwrap();
    assert!(resp.succeeded);
    assert_eq!(resp.header.unwrap().revision, 3);
    let Some(Response::ResponseRange(r)) = &resp.responses[2].response else {
        panic!()
    };
    assert_eq!(r.kvs[0].value, b"new");
    assert_eq!(r.header.unwrap().revision, 3);
    // Both puts share main revision 3; the second has sub revision 1.
    assert_eq!(f.get("other").unwrap().mod_revision, 3);
    let resp = f.write(|s, t| s.txn(t, &req)).unwrap();
    assert!(!resp.succeeded);
    assert_eq!(f.get("txnkey").unwrap().value, b"failed");

    // A value compare on a missing key fails; a version compare sees 0.
    let missing = |target, operand| TxnRequest {
        compare: vec![cmp("nope", target, CompareResult::Equal, operand)],
        success: vec![],
        failure: vec![],
    };
    assert!(
        !f.write(|s, t| s.txn(
            t,
            &missing(CompareTarget::Value, TargetUnion::Value(vec![]))
        ))
        .unwrap()
        .succeeded
    );
    assert!(
        f.write(|s, t| s.txn(t, &missing(CompareTarget::Version, TargetUnion::Version(0))))
            .unwrap()
            .succeeded
    );
    assert!(
        f.write(|s, t| s.txn(
            t,
            &missing(CompareTarget::Create, TargetUnion::CreateRevision(0))
        ))
        .unwrap()
        .succeeded
    );
    // A read-only txn makes no revision.
    assert_eq!(f.store.current_revision(), 4);

    let greater = TxnRequest {
        compare: vec![
            cmp(
                "txnkey",
                CompareTarget::Mod,
                CompareResult::Greater,
                TargetUnion::ModRevision(3),
            ),
            cmp(
                "txnkey",
                CompareTarget::Create,
                CompareResult::Less,
                TargetUnion::CreateRevision(3),
            ),
            cmp(
                "txnkey",
                CompareTarget::Version,
                CompareResult::NotEqual,
                TargetUnion::Version(1),
            ),
            cmp(
                "txnkey",
                CompareTarget::Lease,
                CompareResult::Equal,
                TargetUnion::Lease(0),
            ),
        ],
        success: vec![],
        failure: vec![],
    };
    assert!(f.write(|s, t| s.txn(t, &greater)).unwrap().succeeded);
}

#[test]
fn nested_txn_compares_see_the_state_before_the_txn() {
    let mut f = Fixture::new();
    let inner = TxnRequest {
        compare: vec![cmp(
            "a",
            CompareTarget::Version,
            CompareResult::Equal,
            TargetUnion::Version(0),
        )],
        success: vec![put_op("b", "inner-success")],
        failure: vec![put_op("b", "inner-failure")],
    };
    let outer = TxnRequest {
        compare: vec![],
        success: vec![
            put_op("a", "1"),
            RequestOp {
                request: Some(Request::RequestTxn(inner)),
            },
        ],
        failure: vec![],
    };
    let resp = f.write(|s, t| s.txn(t, &outer)).unwrap();
    // The nested compare ran before `a` was written, so it succeeded.
    assert_eq!(f.get("b").unwrap().value, b"inner-success");
    let Some(Response::ResponseTxn(nested)) = &resp.responses[1].response else {
        panic!()
    };
    assert!(nested.succeeded);
    assert_eq!(
        f.get("a").unwrap().mod_revision,
        f.get("b").unwrap().mod_revision
    );
}

#[test]
fn duplicate_key_rule() {
    let txn = |ops: Vec<RequestOp>| TxnRequest {
        compare: vec![],
        success: ops,
        failure: vec![],
    };
    assert_eq!(
        check_txn(&txn(vec![put_op("k", "1"), put_op("k", "2")])),
        Err(MvccError::DuplicateKey)
    );
    assert_eq!(
        check_txn(&txn(vec![put_op("a/1", "1"), del_op("a/", b"a0")])),
        Err(MvccError::DuplicateKey)
    );
    assert_eq!(
        check_txn(&txn(vec![del_op("a/", b"a0"), put_op("a/1", "1")])),
        Err(MvccError::DuplicateKey)
    );
    let nested = RequestOp {
        request: Some(Request::RequestTxn(txn(vec![put_op("k", "2")]))),
    };
    assert_eq!(
        check_txn(&txn(vec![put_op("k", "1"), nested])),
        Err(MvccError::DuplicateKey)
    );
    assert_eq!(
        check_txn(&txn(vec![put_op("k", "1"), put_op("j", "2"), get_op("k")])),
        Ok(())
    );
    assert_eq!(
        check_txn(&txn(vec![put_op("", "1")])),
        Err(MvccError::EmptyKey)
    );
    assert_eq!(
        check_txn(&txn((0..129)
            .map(|i| put_op(&format!("k{i}"), "v"))
            .collect())),
        Err(MvccError::TooManyOps)
    );
    // Failure and success branches are checked separately: the same key in both is fine.
    let both = TxnRequest {
        compare: vec![],
        success: vec![put_op("k", "1")],
        failure: vec![put_op("k", "2")],
    };
    assert_eq!(check_txn(&both), Ok(()));
}

#[test]
fn compaction_keeps_the_latest_and_refuses_old_reads() {
    let mut f = Fixture::new();
    f.put("k", "v1"); // 2
    f.put("k", "v2"); // 3
    f.put("gone", "x"); // 4
    f.del("gone", &[]); // 5
    f.put("k", "v3"); // 6
    let compact = |rev| CompactionRequest {
        revision: rev,
        physical: false,
    };
    f.write(|s, t| s.compact(t, &compact(5))).unwrap();
    assert_eq!(f.store.compact_revision(), 5);
    let at = |rev| {
        f.range(RangeRequest {
            key: "k".into(),
            revision: rev,
            ..Default::default()
        })
    };
    assert_eq!(at(4), Err(MvccError::Compacted));
    assert_eq!(at(5).unwrap().kvs[0].value, b"v2");
    assert_eq!(at(6).unwrap().kvs[0].value, b"v3");
    assert!(
        f.range(RangeRequest {
            key: "gone".into(),
            revision: 5,
            ..Default::default()
        })
        .unwrap()
        .kvs
        .is_empty()
    );
    assert_eq!(
        f.write(|s, t| s.compact(t, &compact(5))),
        Err(MvccError::Compacted)
    );
    assert_eq!(
        f.write(|s, t| s.compact(t, &compact(9))),
        Err(MvccError::FutureRevision)
    );
    // The history below the compaction point is physically gone.
    let txn = f.db.begin_read().unwrap();
    let rows = txn.open_table(HISTORY).unwrap().len().unwrap();
    assert_eq!(rows, 2, "k@3 (newest at or below 5) and k@6 remain");
}

#[test]
fn hash_kv_follows_history() {
    let build = |values: &[&str]| {
        let mut f = Fixture::new();
        for v in values {
            f.put("k", v);
        }
        let txn = f.db.begin_read().unwrap();
        MvccStore::hash_kv(&txn, 0).unwrap()
    };
    assert_eq!(build(&["a", "b"]), build(&["a", "b"]));
    assert_ne!(build(&["a", "b"]).0, build(&["a", "c"]).0);
    assert_eq!(build(&["a", "b"]).2, 3);
}

#[test]
fn state_survives_reopening_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db.redb");
    {
        let db = Database::create(&path).unwrap();
        let txn = db.begin_write().unwrap();
        let mut store = MvccStore::open(&txn).unwrap();
        store
            .put(
                &txn,
                &PutRequest {
                    key: "k".into(),
                    value: "v".into(),
                    ..Default::default()
                },
            )
            .unwrap();
        txn.commit().unwrap();
    }
    let db = Database::open(&path).unwrap();
    let txn = db.begin_write().unwrap();
    let store = MvccStore::open(&txn).unwrap();
    assert_eq!(store.current_revision(), 2);
    txn.commit().unwrap();
    let resp = MvccStore::range(
        &db.begin_read().unwrap(),
        &RangeRequest {
            key: "k".into(),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(resp.kvs[0].value, b"v");
}
