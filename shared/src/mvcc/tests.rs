//! Unit tests of the key space on an in-memory redb: revisions, history reads checked against a
//! model at every revision, ranges, puts, deletes, txn semantics, the duplicate-key rule,
//! compaction, HashKV (against a value real etcd computed) and persistence.

use std::collections::{BTreeMap, HashMap};

use redb::{Database, ReadableDatabase, ReadableTableMetadata, backends::InMemoryBackend};

use super::encoding::{Record, split_change_key};
use super::*;
use crate::proto::etcdserverpb::compare::{CompareResult, CompareTarget, TargetUnion};
use crate::proto::etcdserverpb::range_request::{SortOrder, SortTarget};
use crate::proto::etcdserverpb::request_op::Request;
use crate::proto::etcdserverpb::response_op::Response;
use crate::proto::etcdserverpb::{Compare, RequestOp};
use crate::proto::mvccpb::KeyValue;

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
        // The leases the tests attach keys to.
        for id in [3, 5, 7, 9] {
            let grant = crate::proto::etcdserverpb::LeaseGrantRequest { id, ttl: 60 };
            crate::lease::grant(&txn, &grant).unwrap();
        }
        txn.commit().unwrap();
        Fixture { db, store }
    }

    /// One request in its own write transaction, committed even when the request fails (as the
    /// member does: a failed request must have written nothing).
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
        self.put_req(PutRequest {
            key: key.into(),
            value: value.into(),
            ..Default::default()
        })
        .unwrap()
    }

    fn put_req(&mut self, req: PutRequest) -> Result<PutResponse, MvccError> {
        self.write(|s, t| s.put(&mut KeyTables::open(t)?, &req))
    }

    fn del(&mut self, key: &str, range_end: &[u8]) -> DeleteRangeResponse {
        let req = DeleteRangeRequest {
            key: key.into(),
            range_end: range_end.to_vec(),
            prev_kv: true,
        };
        self.write(|s, t| s.delete_range(&mut KeyTables::open(t)?, &req))
            .unwrap()
    }

    fn txn(&mut self, req: &TxnRequest) -> Result<TxnResponse, MvccError> {
        self.write(|s, t| s.txn(&mut KeyTables::open(t)?, req))
    }

    fn compact(&mut self, revision: i64) -> Result<CompactionResponse, MvccError> {
        let req = CompactionRequest {
            revision,
            physical: false,
        };
        self.write(|s, t| s.compact(t, &req))
    }

    fn range(&self, req: RangeRequest) -> Result<RangeResponse, MvccError> {
        MvccStore::range(&self.db.begin_read().unwrap(), &req)
    }

    fn get(&self, key: &str) -> Option<KeyValue> {
        let mut kvs = self.range(single(key)).unwrap().kvs;
        assert!(kvs.len() <= 1);
        kvs.pop()
    }

    fn keys(&self, req: RangeRequest) -> Vec<String> {
        names(&self.range(req).unwrap().kvs)
    }

    fn hash(&self, rev: i64) -> Result<(u32, i64, i64), MvccError> {
        MvccStore::hash_kv(&self.db.begin_read().unwrap(), rev)
    }

    /// Rows in (history, latest, change log).
    fn rows(&self) -> (u64, u64, u64) {
        let txn = self.db.begin_read().unwrap();
        (
            txn.open_table(HISTORY).unwrap().len().unwrap(),
            txn.open_table(LATEST).unwrap().len().unwrap(),
            txn.open_table(CHANGES).unwrap().len().unwrap(),
        )
    }

    /// The change log: (main, sub, key).
    fn changes(&self) -> Vec<(u64, u64, String)> {
        let txn = self.db.begin_read().unwrap();
        let table = txn.open_table(CHANGES).unwrap();
        table
            .iter()
            .unwrap()
            .map(|row| {
                let (k, v) = row.unwrap();
                let (main, sub) = split_change_key(k.value()).unwrap();
                (main, sub, String::from_utf8(v.value().to_vec()).unwrap())
            })
            .collect()
    }

    /// Everything a failed request must leave alone.
    fn fingerprint(&self) -> (i64, (u32, i64, i64), (u64, u64, u64)) {
        (
            self.store.current_revision(),
            self.hash(0).unwrap(),
            self.rows(),
        )
    }
}

fn names(kvs: &[KeyValue]) -> Vec<String> {
    kvs.iter()
        .map(|kv| String::from_utf8(kv.key.clone()).unwrap())
        .collect()
}

fn single(key: &str) -> RangeRequest {
    RangeRequest {
        key: key.into(),
        ..Default::default()
    }
}

fn all() -> RangeRequest {
    RangeRequest {
        key: vec![0],
        range_end: vec![0],
        ..Default::default()
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

fn at(req: RangeRequest, revision: i64) -> RangeRequest {
    RangeRequest { revision, ..req }
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

fn range_op(req: RangeRequest) -> RequestOp {
    RequestOp {
        request: Some(Request::RequestRange(req)),
    }
}

fn get_op(key: &str) -> RequestOp {
    range_op(single(key))
}

fn txn_op(req: TxnRequest) -> RequestOp {
    RequestOp {
        request: Some(Request::RequestTxn(req)),
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

fn branch(ops: Vec<RequestOp>) -> TxnRequest {
    TxnRequest {
        compare: vec![],
        success: ops,
        failure: vec![],
    }
}

fn either(success: Vec<RequestOp>, failure: Vec<RequestOp>) -> TxnRequest {
    TxnRequest {
        compare: vec![],
        success,
        failure,
    }
}

fn response_range(resp: &TxnResponse, i: usize) -> &RangeResponse {
    match &resp.responses[i].response {
        Some(Response::ResponseRange(r)) => r,
        other => panic!("op {i} is not a range: {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Revisions and history

#[test]
fn revisions_versions_and_recreation() {
    let mut f = Fixture::new();
    assert_eq!(f.store.current_revision(), 1);
    assert_eq!(f.store.compact_revision(), 0);
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
    // Deleting nothing makes no revision, and reports the current one.
    let none = f.del("missing", &[]);
    assert_eq!((none.deleted, none.header.unwrap().revision), (0, 5));
    assert_eq!(f.store.current_revision(), 5);
    assert_eq!(
        f.changes(),
        [
            (2, 0, "a".into()),
            (3, 0, "a".into()),
            (4, 0, "a".into()),
            (5, 0, "a".into())
        ]
    );
}

#[test]
fn history_reads_at_every_revision() {
    let mut f = Fixture::new();
    f.put("k", "v1"); // 2
    f.put("other", "x"); // 3
    f.put("k", "v2"); // 4
    f.del("k", &[]); // 5
    f.put("k", "v3"); // 6
    let value = |rev| {
        let r = f.range(at(single("k"), rev)).unwrap();
        assert_eq!(
            r.header.unwrap().revision,
            6,
            "the header carries the current revision"
        );
        r.kvs.first().map(|kv| kv.value.clone())
    };
    assert_eq!(value(1), None);
    assert_eq!(value(2).unwrap(), b"v1");
    assert_eq!(value(3).unwrap(), b"v1");
    assert_eq!(value(4).unwrap(), b"v2");
    assert_eq!(value(5), None);
    assert_eq!(value(6).unwrap(), b"v3");
    assert_eq!(value(0).unwrap(), b"v3");
    assert_eq!(
        value(-3).unwrap(),
        b"v3",
        "a negative revision reads the current one"
    );
    let old = f.range(at(single("k"), 4)).unwrap().kvs.remove(0);
    assert_eq!(
        (old.create_revision, old.mod_revision, old.version),
        (2, 4, 2)
    );
    assert_eq!(f.range(at(single("k"), 7)), Err(MvccError::FutureRevision));
    assert_eq!(f.keys(at(all(), 5)), ["other"]);
    assert_eq!(f.keys(at(all(), 3)), ["k", "other"]);
}

/// A small deterministic generator (no clock, no OS randomness).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn key(&mut self) -> &'static str {
        const KEYS: [&str; 8] = ["a", "a1", "a2", "b", "c", "c1", "d", "e"];
        KEYS[self.below(KEYS.len() as u64) as usize]
    }
}

/// What the key space must hold at every revision: `states[rev]` (`states[0]` unused).
struct Model {
    states: Vec<BTreeMap<Vec<u8>, KeyValue>>,
    /// (revision, key) of every change.
    changes: Vec<(i64, Vec<u8>)>,
}

enum Change {
    Put(String, String, i64),
    Delete(KeyRange),
}

impl Model {
    fn new() -> Model {
        Model {
            states: vec![BTreeMap::new(), BTreeMap::new()],
            changes: Vec::new(),
        }
    }

    fn current(&self) -> i64 {
        self.states.len() as i64 - 1
    }

    fn now(&self) -> &BTreeMap<Vec<u8>, KeyValue> {
        self.states.last().unwrap()
    }

    /// Applies changes as one revision; returns how many keys each change touched.
    fn commit(&mut self, changes: &[Change]) -> Vec<usize> {
        let rev = self.current() + 1;
        let mut state = self.now().clone();
        let mut touched = Vec::new();
        let mut changed = Vec::new();
        for change in changes {
            match change {
                Change::Put(key, value, lease) => {
                    let prev = state.get(key.as_bytes());
                    let kv = KeyValue {
                        key: key.clone().into_bytes(),
                        create_revision: prev.map_or(rev, |p| p.create_revision),
                        mod_revision: rev,
                        version: prev.map_or(1, |p| p.version + 1),
                        value: value.clone().into_bytes(),
                        lease: *lease,
                    };
                    state.insert(kv.key.clone(), kv);
                    changed.push(key.clone().into_bytes());
                    touched.push(1);
                }
                Change::Delete(range) => {
                    let gone: Vec<Vec<u8>> = state
                        .keys()
                        .filter(|k| range.contains(k))
                        .cloned()
                        .collect();
                    for k in &gone {
                        state.remove(k);
                    }
                    touched.push(gone.len());
                    changed.extend(gone);
                }
            }
        }
        if !changed.is_empty() {
            self.changes.extend(changed.into_iter().map(|k| (rev, k)));
            self.states.push(state);
        }
        touched
    }
}

/// Runs `n` generated requests against both the store and the model, checking each response.
fn run_generated(f: &mut Fixture, model: &mut Model, rng: &mut Lcg, n: usize) {
    for i in 0..n {
        let before = model.current();
        match rng.below(20) {
            0..=8 => {
                let (key, value) = (rng.key(), format!("v{i}"));
                let lease = [0, 0, 7][rng.below(3) as usize];
                let resp = f
                    .put_req(PutRequest {
                        key: key.into(),
                        value: value.clone().into(),
                        lease,
                        prev_kv: true,
                        ..Default::default()
                    })
                    .unwrap();
                assert_eq!(resp.prev_kv.as_ref(), model.now().get(key.as_bytes()));
                model.commit(&[Change::Put(key.into(), value, lease)]);
                assert_eq!(resp.header.unwrap().revision, model.current());
            }
            9..=11 => {
                let key = rng.key();
                let resp = f.del(key, &[]);
                let touched = model.commit(&[Change::Delete(KeyRange::new(key.as_bytes(), &[]))]);
                assert_eq!(resp.deleted as usize, touched[0]);
            }
            12..=14 => {
                let (a, b) = (rng.key(), rng.key());
                let resp = f.del(a, b.as_bytes());
                let touched =
                    model.commit(&[Change::Delete(KeyRange::new(a.as_bytes(), b.as_bytes()))]);
                assert_eq!(resp.deleted as usize, touched[0]);
            }
            15 => {
                let key = rng.key();
                let resp = f.del(key, &[0]);
                let touched = model.commit(&[Change::Delete(KeyRange::new(key.as_bytes(), &[0]))]);
                assert_eq!(resp.deleted as usize, touched[0]);
            }
            _ => {
                // if version(c) == expected then put k1, delete k2, get k1 else put k3
                let c = rng.key();
                let actual = model.now().get(c.as_bytes()).map_or(0, |kv| kv.version);
                let expected = if rng.below(2) == 0 {
                    actual
                } else {
                    rng.below(3) as i64
                };
                let (k1, k3) = (rng.key(), rng.key());
                let mut k2 = rng.key();
                while k2 == k1 {
                    k2 = rng.key();
                }
                let req = TxnRequest {
                    compare: vec![cmp(
                        c,
                        CompareTarget::Version,
                        CompareResult::Equal,
                        TargetUnion::Version(expected),
                    )],
                    success: vec![put_op(k1, &format!("t{i}")), del_op(k2, &[]), get_op(k1)],
                    failure: vec![put_op(k3, &format!("f{i}"))],
                };
                let resp = f.txn(&req).unwrap();
                assert_eq!(resp.succeeded, actual == expected);
                if resp.succeeded {
                    model.commit(&[
                        Change::Put(k1.into(), format!("t{i}"), 0),
                        Change::Delete(KeyRange::new(k2.as_bytes(), &[])),
                    ]);
                    let read = response_range(&resp, 2);
                    assert_eq!(read.kvs[0], model.now()[k1.as_bytes()]);
                    assert_eq!(read.header.unwrap().revision, model.current());
                } else {
                    model.commit(&[Change::Put(k3.into(), format!("f{i}"), 0)]);
                }
                assert_eq!(resp.header.unwrap().revision, model.current());
            }
        }
        assert_eq!(f.store.current_revision(), model.current());
        assert!(model.current() - before <= 1);
    }
}

/// Every read at every readable revision agrees with the model.
fn check_history(f: &Fixture, model: &Model) {
    let compacted = f.store.compact_revision();
    for rev in 1..=model.current() {
        let state = &model.states[rev as usize];
        if rev < compacted {
            assert_eq!(f.range(at(all(), rev)), Err(MvccError::Compacted));
            continue;
        }
        let everything = f.range(at(all(), rev)).unwrap();
        assert_eq!(everything.kvs, state.values().cloned().collect::<Vec<_>>());
        assert_eq!(everything.count as usize, state.len());
        for key in ["a", "a1", "b", "c1", "e", "zz"] {
            let got = f.range(at(single(key), rev)).unwrap().kvs;
            assert_eq!(got.first(), state.get(key.as_bytes()), "{key} at {rev}");
        }
        let limited = f
            .range(RangeRequest {
                limit: 1,
                ..at(prefix("a"), rev)
            })
            .unwrap();
        let in_a = state.keys().filter(|k| k.starts_with(b"a")).count();
        assert_eq!(limited.count as usize, in_a);
        assert_eq!(limited.more, in_a > 1);
    }
}

#[test]
fn generated_history_matches_the_model_at_every_revision() {
    let mut f = Fixture::new();
    let mut model = Model::new();
    let mut rng = Lcg(7);
    let mut hashes = HashMap::new();
    for _ in 0..30 {
        run_generated(&mut f, &mut model, &mut rng, 10);
        hashes.insert(model.current(), f.hash(0).unwrap().0);
    }
    check_history(&f, &model);
    assert_eq!(
        MvccStore::key_count(&f.db.begin_read().unwrap()).unwrap() as usize,
        model.now().len()
    );
    // A revision's hash does not change as history grows past it.
    for (rev, hash) in &hashes {
        assert_eq!(f.hash(*rev).unwrap().0, *hash, "hash at {rev}");
    }

    // Compact twice, checking reads and what remains after each.
    let targets = [model.current() / 2, model.current() - 10];
    for target in targets {
        f.compact(target).unwrap();
        check_history(&f, &model);
        let survivors = model.states[target as usize].len();
        let later = model.changes.iter().filter(|(r, _)| *r > target).count();
        let (history, latest, changes) = f.rows();
        assert_eq!(history as usize, survivors + later);
        assert_eq!(changes, history);
        assert_eq!(latest as usize, model.now().len());
        run_generated(&mut f, &mut model, &mut rng, 40);
        check_history(&f, &model);
    }

    // The same history compacted to the same points, but only at the end, hashes alike.
    let mut twin = Fixture::new();
    let mut twin_model = Model::new();
    let mut twin_rng = Lcg(7);
    for _ in 0..30 {
        run_generated(&mut twin, &mut twin_model, &mut twin_rng, 10);
    }
    for _ in targets {
        run_generated(&mut twin, &mut twin_model, &mut twin_rng, 40);
    }
    assert_eq!(
        twin_model.states, model.states,
        "the twin replayed the same requests"
    );
    for target in targets {
        twin.compact(target).unwrap();
    }
    for rev in targets[1] + 1..=model.current() {
        assert_eq!(twin.hash(rev), f.hash(rev), "hash at {rev}");
    }
}

// ---------------------------------------------------------------------------------------------
// Ranges

#[test]
fn range_edge_cases() {
    let mut f = Fixture::new();
    for k in ["/a/b", "/a/c", "/d", "key1", "z"] {
        f.put(k, k);
    }
    assert_eq!(f.keys(prefix("/a/")), ["/a/b", "/a/c"]);
    let from_key = |key: &str| RangeRequest {
        key: key.into(),
        range_end: vec![0],
        ..Default::default()
    };
    assert_eq!(f.keys(from_key("/d")), ["/d", "key1", "z"]);
    assert_eq!(f.keys(from_key("zz")), Vec::<String>::new());
    assert_eq!(f.keys(all()), ["/a/b", "/a/c", "/d", "key1", "z"]);
    let range = |key: &str, end: &str| RangeRequest {
        key: key.into(),
        range_end: end.into(),
        ..Default::default()
    };
    assert_eq!(f.keys(range("/a/c", "key1")), ["/a/c", "/d"]);
    // Empty ranges: end before or at the start, and a missing single key.
    assert!(f.keys(range("z", "a")).is_empty());
    assert!(f.keys(range("/d", "/d")).is_empty());
    let missing = f.range(single("/a")).unwrap();
    assert_eq!(
        (missing.kvs.len(), missing.count, missing.more),
        (0, 0, false)
    );

    let limited = f
        .range(RangeRequest {
            limit: 1,
            ..prefix("/")
        })
        .unwrap();
    assert_eq!(names(&limited.kvs), ["/a/b"]);
    assert_eq!((limited.more, limited.count), (true, 3));
    let exact = f
        .range(RangeRequest {
            limit: 3,
            ..prefix("/")
        })
        .unwrap();
    assert_eq!((exact.kvs.len(), exact.more, exact.count), (3, false, 3));
    let negative = f
        .range(RangeRequest {
            limit: -1,
            ..prefix("/")
        })
        .unwrap();
    assert_eq!((negative.kvs.len(), negative.more), (3, false));
    let counted = f
        .range(RangeRequest {
            count_only: true,
            limit: 1,
            ..prefix("/")
        })
        .unwrap();
    assert_eq!(
        (counted.kvs.len(), counted.count, counted.more),
        (0, 3, false)
    );
    let keys_only = f
        .range(RangeRequest {
            keys_only: true,
            ..prefix("/")
        })
        .unwrap();
    assert_eq!(names(&keys_only.kvs), ["/a/b", "/a/c", "/d"]);
    assert!(keys_only.kvs.iter().all(|kv| kv.value.is_empty()));
    assert_eq!(keys_only.kvs[0].mod_revision, 2);

    // The same at an old revision (history path).
    f.del("/a/b", &[]); // 7
    let old = f
        .range(RangeRequest {
            limit: 2,
            keys_only: true,
            ..at(all(), 6)
        })
        .unwrap();
    assert_eq!(names(&old.kvs), ["/a/b", "/a/c"]);
    assert_eq!((old.more, old.count), (true, 5));
    assert!(old.kvs.iter().all(|kv| kv.value.is_empty()));
    let old_count = f
        .range(RangeRequest {
            count_only: true,
            ..at(prefix("/a/"), 6)
        })
        .unwrap();
    assert_eq!(old_count.count, 2);
    assert_eq!(f.range(prefix("/a/")).unwrap().count, 1);
}

#[test]
fn every_sort_target_and_order() {
    let mut f = Fixture::new();
    f.put("b", "2"); // 2
    f.put("a", "3"); // 3
    f.put("c", "1"); // 4
    f.put("b", "9"); // 5: b has version 2
    f.put("d", "0"); // 6
    f.put("d", "5"); // 7: d has version 2
    let sorted = |target: SortTarget, order: SortOrder| {
        f.keys(RangeRequest {
            sort_target: target as i32,
            sort_order: order as i32,
            ..all()
        })
    };
    use SortOrder::{Ascend, Descend, None};
    use SortTarget::{Create, Key, Mod, Value, Version};
    assert_eq!(sorted(Key, None), ["a", "b", "c", "d"]);
    assert_eq!(sorted(Key, Ascend), ["a", "b", "c", "d"]);
    assert_eq!(sorted(Key, Descend), ["d", "c", "b", "a"]);
    // Ties keep key order, ascending or descending.
    assert_eq!(sorted(Version, None), ["a", "c", "b", "d"]);
    assert_eq!(sorted(Version, Ascend), ["a", "c", "b", "d"]);
    assert_eq!(sorted(Version, Descend), ["b", "d", "a", "c"]);
    assert_eq!(sorted(Create, None), ["b", "a", "c", "d"]);
    assert_eq!(sorted(Create, Ascend), ["b", "a", "c", "d"]);
    assert_eq!(sorted(Create, Descend), ["d", "c", "a", "b"]);
    assert_eq!(sorted(Mod, None), ["a", "c", "b", "d"]);
    assert_eq!(sorted(Mod, Ascend), ["a", "c", "b", "d"]);
    assert_eq!(sorted(Mod, Descend), ["d", "b", "c", "a"]);
    assert_eq!(sorted(Value, None), ["c", "a", "d", "b"]);
    assert_eq!(sorted(Value, Ascend), ["c", "a", "d", "b"]);
    assert_eq!(sorted(Value, Descend), ["b", "d", "a", "c"]);

    // A requested order sorts everything before the limit applies...
    let top = f
        .range(RangeRequest {
            sort_target: Mod as i32,
            sort_order: Descend as i32,
            limit: 2,
            ..all()
        })
        .unwrap();
    assert_eq!(names(&top.kvs), ["d", "b"]);
    assert_eq!((top.more, top.count), (true, 4));
    // ...but, as etcd, a target with order NONE sorts only the first limit+1 keys fetched.
    let quirk = f
        .range(RangeRequest {
            sort_target: Value as i32,
            limit: 2,
            ..all()
        })
        .unwrap();
    assert_eq!(names(&quirk.kvs), ["c", "a"]);
    assert!(quirk.more);
    let quirk = f
        .range(RangeRequest {
            sort_target: Create as i32,
            limit: 1,
            ..all()
        })
        .unwrap();
    assert_eq!(names(&quirk.kvs), ["b"]);
}

#[test]
fn revision_filters() {
    let mut f = Fixture::new();
    f.put("b", "2"); // 2
    f.put("a", "3"); // 3
    f.put("c", "1"); // 4
    f.put("b", "9"); // 5
    let filtered = |req: RangeRequest| {
        let r = f.range(req).unwrap();
        assert_eq!(r.count, 3, "count ignores the filters");
        (names(&r.kvs), r.more)
    };
    let filter = |min_mod, max_mod, min_create, max_create| RangeRequest {
        min_mod_revision: min_mod,
        max_mod_revision: max_mod,
        min_create_revision: min_create,
        max_create_revision: max_create,
        ..all()
    };
    assert_eq!(filtered(filter(4, 0, 0, 0)).0, ["b", "c"]);
    assert_eq!(filtered(filter(0, 4, 0, 0)).0, ["a", "c"]);
    assert_eq!(filtered(filter(0, 0, 3, 0)).0, ["a", "c"]);
    assert_eq!(filtered(filter(0, 0, 0, 2)).0, ["b"]);
    assert_eq!(filtered(filter(3, 4, 3, 4)).0, ["a", "c"]);
    assert!(filtered(filter(6, 0, 0, 0)).0.is_empty());
    // `more` counts what the filters left.
    assert_eq!(
        filtered(RangeRequest {
            limit: 1,
            ..filter(4, 0, 0, 0)
        }),
        (vec!["b".to_string()], true)
    );
    assert_eq!(
        filtered(RangeRequest {
            limit: 1,
            ..filter(0, 0, 0, 2)
        }),
        (vec!["b".to_string()], false)
    );
}

// ---------------------------------------------------------------------------------------------
// Put and delete

#[test]
fn put_options() {
    let mut f = Fixture::new();
    for req in [
        PutRequest {
            key: "k".into(),
            ignore_value: true,
            ..Default::default()
        },
        PutRequest {
            key: "k".into(),
            value: "v".into(),
            ignore_lease: true,
            ..Default::default()
        },
    ] {
        let before = f.fingerprint();
        assert_eq!(f.put_req(req), Err(MvccError::KeyNotFound));
        assert_eq!(f.fingerprint(), before);
    }
    // An empty key is refused here too (the gRPC layer refuses it first).
    let before = f.fingerprint();
    assert_eq!(f.put_req(PutRequest::default()), Err(MvccError::EmptyKey));
    let empty_delete =
        f.write(|s, t| s.delete_range(&mut KeyTables::open(t)?, &DeleteRangeRequest::default()));
    assert_eq!(empty_delete, Err(MvccError::EmptyKey));
    assert_eq!(f.fingerprint(), before);
    let first = f
        .put_req(PutRequest {
            key: "k".into(),
            value: "v".into(),
            lease: 7,
            prev_kv: true,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(first.prev_kv, None);
    assert_eq!(f.get("k").unwrap().lease, 7);
    let resp = f
        .put_req(PutRequest {
            key: "k".into(),
            ignore_value: true,
            prev_kv: true,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(resp.prev_kv.unwrap().value, b"v");
    let kv = f.get("k").unwrap();
    assert_eq!(
        (kv.value.as_slice(), kv.lease, kv.version, kv.mod_revision),
        (&b"v"[..], 0, 2, 3),
        "ignore_value keeps the value, not the lease"
    );
    f.put_req(PutRequest {
        key: "k".into(),
        value: "w".into(),
        lease: 9,
        ..Default::default()
    })
    .unwrap();
    f.put_req(PutRequest {
        key: "k".into(),
        value: "x".into(),
        ignore_lease: true,
        ..Default::default()
    })
    .unwrap();
    let kv = f.get("k").unwrap();
    assert_eq!((kv.value.as_slice(), kv.lease), (&b"x"[..], 9));
    // Without prev_kv, no previous key-value comes back.
    assert_eq!(f.put("k", "y").prev_kv, None);
}

#[test]
fn delete_ranges_with_prev_kv() {
    let mut f = Fixture::new();
    for k in ["a", "a/1", "a/2", "b", "c"] {
        f.put(k, k); // 2..=6
    }
    let d = f.del("a/", b"a0");
    assert_eq!(d.deleted, 2);
    assert_eq!(names(&d.prev_kvs), ["a/1", "a/2"]);
    assert_eq!(d.header.unwrap().revision, 7);
    // Both deletions share revision 7, with sub revisions 0 and 1.
    assert_eq!(
        &f.changes()[5..],
        [(7, 0, "a/1".into()), (7, 1, "a/2".into())]
    );
    let without = f.write(|s, t| {
        s.delete_range(
            &mut KeyTables::open(t)?,
            &DeleteRangeRequest {
                key: "c".into(),
                range_end: vec![],
                prev_kv: false,
            },
        )
    });
    assert_eq!(without.as_ref().map(|d| d.deleted), Ok(1));
    assert!(without.unwrap().prev_kvs.is_empty());
    let from_key = f.del("b", &[0]);
    assert_eq!(
        (from_key.deleted, names(&from_key.prev_kvs)),
        (1, vec!["b".into()])
    );
    assert_eq!(f.keys(all()), ["a"]);
    let everything = f.del("\0", &[0]);
    assert_eq!(everything.deleted, 1);
    assert_eq!(f.store.current_revision(), 10);
    assert_eq!(f.del("a", &[0]).deleted, 0);
    assert_eq!(f.store.current_revision(), 10);
    // The history still has every deleted key.
    assert_eq!(f.keys(at(all(), 6)), ["a", "a/1", "a/2", "b", "c"]);
    assert_eq!(
        MvccStore::key_count(&f.db.begin_read().unwrap()).unwrap(),
        0
    );
}

// ---------------------------------------------------------------------------------------------
// Txn

#[test]
fn txn_compare_every_target_and_result() {
    let mut f = Fixture::new();
    f.put_req(PutRequest {
        key: "k".into(),
        value: "m".into(),
        lease: 5,
        ..Default::default()
    })
    .unwrap(); // 2
    f.put("other", "x"); // 3
    f.put_req(PutRequest {
        key: "k".into(),
        value: "m".into(),
        lease: 5,
        ..Default::default()
    })
    .unwrap(); // 4: create 2, mod 4, version 2, lease 5
    // (target, operands below, at and above the actual value)
    let cases = [
        (
            CompareTarget::Value,
            [
                TargetUnion::Value("a".into()),
                TargetUnion::Value("m".into()),
                TargetUnion::Value("mm".into()),
            ],
        ),
        (
            CompareTarget::Version,
            [
                TargetUnion::Version(1),
                TargetUnion::Version(2),
                TargetUnion::Version(3),
            ],
        ),
        (
            CompareTarget::Create,
            [
                TargetUnion::CreateRevision(1),
                TargetUnion::CreateRevision(2),
                TargetUnion::CreateRevision(3),
            ],
        ),
        (
            CompareTarget::Mod,
            [
                TargetUnion::ModRevision(3),
                TargetUnion::ModRevision(4),
                TargetUnion::ModRevision(5),
            ],
        ),
        (
            CompareTarget::Lease,
            [
                TargetUnion::Lease(4),
                TargetUnion::Lease(5),
                TargetUnion::Lease(6),
            ],
        ),
    ];
    for (target, operands) in cases {
        let [below, same, above] = operands;
        for (operand, holds) in [
            // What holds of "actual <result> operand".
            (below, [false, true, false, true]),
            (same, [true, false, false, false]),
            (above, [false, false, true, true]),
        ] {
            let results = [
                CompareResult::Equal,
                CompareResult::Greater,
                CompareResult::Less,
                CompareResult::NotEqual,
            ];
            for (result, expected) in results.into_iter().zip(holds) {
                let req = TxnRequest {
                    compare: vec![cmp("k", target, result, operand.clone())],
                    success: vec![],
                    failure: vec![],
                };
                let resp = f.txn(&req).unwrap();
                assert_eq!(
                    resp.succeeded, expected,
                    "{target:?} {result:?} {operand:?}"
                );
                assert_eq!(resp.header.unwrap().revision, 4);
            }
        }
    }
    assert_eq!(
        f.store.current_revision(),
        4,
        "read-only txns make no revision"
    );
}

#[test]
fn txn_compares_on_missing_keys_ranges_and_odd_operands() {
    let mut f = Fixture::new();
    f.put("r/1", "x"); // 2
    f.put("r/2", "y"); // 3
    f.put("r/2", "y"); // 4: version 2
    let holds = |f: &mut Fixture, c: Compare| {
        f.txn(&TxnRequest {
            compare: vec![c],
            success: vec![],
            failure: vec![],
        })
        .unwrap()
        .succeeded
    };
    use CompareResult::{Equal, Greater, Less, NotEqual};
    use CompareTarget::{Create, Lease, Mod, Value, Version};
    // A missing key: VALUE compares always fail; the others see zeroes.
    assert!(!holds(
        &mut f,
        cmp("nope", Value, Equal, TargetUnion::Value(vec![]))
    ));
    assert!(!holds(
        &mut f,
        cmp("nope", Value, NotEqual, TargetUnion::Value("x".into()))
    ));
    assert!(holds(
        &mut f,
        cmp("nope", Version, Equal, TargetUnion::Version(0))
    ));
    assert!(!holds(
        &mut f,
        cmp("nope", Version, NotEqual, TargetUnion::Version(0))
    ));
    assert!(holds(
        &mut f,
        cmp("nope", Version, Greater, TargetUnion::Version(-1))
    ));
    assert!(holds(
        &mut f,
        cmp("nope", Create, Less, TargetUnion::CreateRevision(1))
    ));
    assert!(holds(
        &mut f,
        cmp("nope", Mod, Equal, TargetUnion::ModRevision(0))
    ));
    assert!(holds(
        &mut f,
        cmp("nope", Lease, Equal, TargetUnion::Lease(0))
    ));
    // Over a range, every key must satisfy the compare.
    let over = |c: Compare, end: &str| Compare {
        range_end: end.into(),
        ..c
    };
    assert!(holds(
        &mut f,
        over(cmp("r/", Version, Greater, TargetUnion::Version(0)), "r0")
    ));
    assert!(!holds(
        &mut f,
        over(cmp("r/", Version, Equal, TargetUnion::Version(1)), "r0")
    ));
    assert!(holds(
        &mut f,
        over(cmp("r/", Mod, Less, TargetUnion::ModRevision(5)), "r0")
    ));
    assert!(!holds(
        &mut f,
        over(
            cmp("r/", Value, Equal, TargetUnion::Value("x".into())),
            "r0"
        )
    ));
    assert!(holds(
        &mut f,
        over(cmp("r/2", Version, Equal, TargetUnion::Version(2)), "\0")
    ));
    // An empty range is a missing key.
    assert!(holds(
        &mut f,
        over(cmp("s/", Version, Equal, TargetUnion::Version(0)), "s0")
    ));
    assert!(!holds(
        &mut f,
        over(cmp("s/", Value, Equal, TargetUnion::Value(vec![])), "s0")
    ));
    // An operand of another kind counts as zero; no operand at all likewise.
    assert!(holds(
        &mut f,
        cmp("r/1", Version, Greater, TargetUnion::Value("9".into()))
    ));
    assert!(holds(
        &mut f,
        cmp("r/1", Value, Greater, TargetUnion::Version(99))
    ));
    let bare = Compare {
        target_union: None,
        ..cmp("r/1", Create, Greater, TargetUnion::CreateRevision(0))
    };
    assert!(holds(&mut f, bare));
    // Unknown targets compare equal; unknown results hold.
    let unknown_target = Compare {
        target: 42,
        ..cmp("r/1", Version, Equal, TargetUnion::Version(5))
    };
    assert!(holds(&mut f, unknown_target));
    let unknown_result = Compare {
        result: 42,
        ..cmp("r/1", Version, Equal, TargetUnion::Version(5))
    };
    assert!(holds(&mut f, unknown_result));
    // All compares of a txn must hold.
    let both = TxnRequest {
        compare: vec![
            cmp("r/1", Version, Equal, TargetUnion::Version(1)),
            cmp("r/2", Version, Equal, TargetUnion::Version(1)),
        ],
        success: vec![put_op("s", "1")],
        failure: vec![put_op("f", "1")],
    };
    assert!(!f.txn(&both).unwrap().succeeded);
    assert!(f.get("f").is_some() && f.get("s").is_none());
}

#[test]
fn txn_reads_its_own_writes_under_one_revision() {
    let mut f = Fixture::new();
    f.put("txnkey", "old"); // 2
    f.put("gone", "g"); // 3
    let req = TxnRequest {
        compare: vec![cmp(
            "txnkey",
            CompareTarget::Value,
            CompareResult::Equal,
            TargetUnion::Value("old".into()),
        )],
        success: vec![
            get_op("txnkey"),
            put_op("txnkey", "new"),
            put_op("other", "o"),
            RequestOp {
                request: Some(Request::RequestDeleteRange(DeleteRangeRequest {
                    key: "gone".into(),
                    range_end: vec![],
                    prev_kv: true,
                })),
            },
            range_op(all()),
            range_op(at(single("txnkey"), 2)),
        ],
        failure: vec![put_op("txnkey", "failed")],
    };
    let resp = f.txn(&req).unwrap();
    assert!(resp.succeeded);
    assert_eq!(resp.header.unwrap().revision, 4);
    // Before any write, a range sees (and reports) the revision before the txn.
    let first = response_range(&resp, 0);
    assert_eq!(first.kvs[0].value, b"old");
    assert_eq!(first.header.unwrap().revision, 3);
    let Some(Response::ResponsePut(put)) = &resp.responses[1].response else {
        panic!()
    };
    assert_eq!(put.header.unwrap().revision, 4);
    let Some(Response::ResponseDeleteRange(del)) = &resp.responses[3].response else {
        panic!()
    };
    assert_eq!((del.deleted, del.header.unwrap().revision), (1, 4));
    assert_eq!(del.prev_kvs[0].value, b"g");
    let after = response_range(&resp, 4);
    assert_eq!(names(&after.kvs), ["other", "txnkey"]);
    assert_eq!(after.kvs[1].value, b"new");
    assert_eq!(after.header.unwrap().revision, 4);
    assert_eq!(response_range(&resp, 5).kvs[0].value, b"old");
    // One main revision, a sub revision per change, in order.
    assert_eq!(
        &f.changes()[2..],
        [
            (4, 0, "txnkey".into()),
            (4, 1, "other".into()),
            (4, 2, "gone".into())
        ]
    );
    assert_eq!(f.get("other").unwrap().mod_revision, 4);
    // The compare fails now: the failure branch runs.
    let resp = f.txn(&req).unwrap();
    assert!(!resp.succeeded);
    assert_eq!(resp.responses.len(), 1);
    assert_eq!(f.get("txnkey").unwrap().value, b"failed");
    assert_eq!(resp.header.unwrap().revision, 5);
    // A txn whose writes change nothing makes no revision.
    let noop = f
        .txn(&branch(vec![del_op("nothing", &[]), get_op("txnkey")]))
        .unwrap();
    assert_eq!(noop.header.unwrap().revision, 5);
    assert_eq!(f.store.current_revision(), 5);
    let empty = f.txn(&branch(vec![])).unwrap();
    assert!(empty.succeeded && empty.responses.is_empty());
}

#[test]
fn nested_txns_decide_before_writing_and_share_the_revision() {
    let mut f = Fixture::new();
    let inner = TxnRequest {
        compare: vec![cmp(
            "a",
            CompareTarget::Version,
            CompareResult::Equal,
            TargetUnion::Version(0),
        )],
        success: vec![put_op("b", "inner-success"), get_op("a")],
        failure: vec![put_op("b", "inner-failure")],
    };
    let outer = TxnRequest {
        compare: vec![],
        success: vec![
            put_op("a", "1"),
            txn_op(inner),
            txn_op(either(vec![], vec![put_op("c", "deep")])),
        ],
        failure: vec![],
    };
    let resp = f.txn(&outer).unwrap();
    // The nested compare saw the state before the txn wrote `a`.
    assert_eq!(f.get("b").unwrap().value, b"inner-success");
    let Some(Response::ResponseTxn(nested)) = &resp.responses[1].response else {
        panic!()
    };
    assert!(nested.succeeded);
    assert_eq!(nested.header, Some(ResponseHeader::default()));
    // Its range sees the outer txn's write.
    assert_eq!(response_range(nested, 1).kvs[0].value, b"1");
    let Some(Response::ResponseTxn(third)) = &resp.responses[2].response else {
        panic!()
    };
    assert!(third.succeeded && third.responses.is_empty());
    assert_eq!(resp.header.unwrap().revision, 2);
    assert_eq!(f.changes(), [(2, 0, "a".into()), (2, 1, "b".into())]);
    assert!(f.get("c").is_none());
}

#[test]
fn failing_txns_write_nothing() {
    let mut f = Fixture::new();
    f.put("k", "v"); // 2
    f.put("k", "w"); // 3
    f.compact(2).unwrap();
    let before = f.fingerprint();
    let keep_missing = RequestOp {
        request: Some(Request::RequestPut(PutRequest {
            key: "missing".into(),
            ignore_value: true,
            ..Default::default()
        })),
    };
    let cases = [
        (
            branch(vec![put_op("a", "1"), keep_missing.clone()]),
            MvccError::KeyNotFound,
        ),
        (
            branch(vec![
                put_op("a", "1"),
                txn_op(branch(vec![put_op("b", "1"), keep_missing.clone()])),
            ]),
            MvccError::KeyNotFound,
        ),
        (
            branch(vec![put_op("a", "1"), range_op(at(single("k"), 4))]),
            MvccError::FutureRevision,
        ),
        (
            branch(vec![put_op("a", "1"), range_op(at(single("k"), 1))]),
            MvccError::Compacted,
        ),
        (
            branch(vec![put_op("a", "1"), put_op("a", "2")]),
            MvccError::DuplicateKey,
        ),
        // Put checks come before range checks, whatever the order of the operations.
        (
            branch(vec![range_op(at(single("k"), 9)), keep_missing.clone()]),
            MvccError::KeyNotFound,
        ),
    ];
    for (req, err) in cases {
        assert_eq!(f.txn(&req), Err(err));
        assert_eq!(f.fingerprint(), before);
    }
    // Operations on the branch not taken are not checked.
    let untaken = TxnRequest {
        compare: vec![cmp(
            "k",
            CompareTarget::Version,
            CompareResult::Equal,
            TargetUnion::Version(1),
        )],
        success: vec![keep_missing],
        failure: vec![put_op("a", "1")],
    };
    assert!(!f.txn(&untaken).unwrap().succeeded);
    // A range at the compaction point itself is fine.
    let ok = f.txn(&branch(vec![range_op(at(single("k"), 2))])).unwrap();
    assert_eq!(response_range(&ok, 0).kvs[0].value, b"v");
}

#[test]
fn duplicate_key_rule() {
    let dup = Err(MvccError::DuplicateKey);
    let check = |ops: Vec<RequestOp>| check_txn(&branch(ops));
    assert_eq!(check(vec![put_op("k", "1"), put_op("k", "2")]), dup);
    assert_eq!(check(vec![put_op("a/1", "1"), del_op("a/", b"a0")]), dup);
    assert_eq!(check(vec![del_op("a/", b"a0"), put_op("a/1", "1")]), dup);
    assert_eq!(check(vec![put_op("k", "1"), del_op("k", &[])]), dup);
    assert_eq!(check(vec![put_op("k", "1"), del_op("j", &[0])]), dup);
    assert_eq!(check(vec![put_op("k", "1"), del_op("\0", &[0])]), dup);
    assert_eq!(check(vec![put_op("k", "1"), del_op("l", &[0])]), Ok(()));
    assert_eq!(check(vec![put_op("k", "1"), del_op("a", b"k")]), Ok(()));
    assert_eq!(check(vec![put_op("k", "1"), del_op("z", b"a")]), Ok(()));
    assert_eq!(check(vec![del_op("a", b"c"), del_op("b", b"d")]), Ok(()));
    assert_eq!(
        check(vec![
            put_op("k", "1"),
            put_op("j", "2"),
            get_op("k"),
            get_op("k")
        ]),
        Ok(())
    );
    // Nested txns: either of their branches may run.
    let nested = |success, failure| txn_op(either(success, failure));
    assert_eq!(
        check(vec![
            put_op("k", "1"),
            nested(vec![put_op("k", "2")], vec![])
        ]),
        dup
    );
    assert_eq!(
        check(vec![
            nested(vec![], vec![put_op("k", "2")]),
            put_op("k", "1")
        ]),
        dup
    );
    assert_eq!(
        check(vec![
            del_op("k", &[]),
            nested(vec![put_op("k", "2")], vec![])
        ]),
        dup
    );
    assert_eq!(
        check(vec![
            nested(vec![], vec![del_op("a", b"z")]),
            put_op("k", "1")
        ]),
        dup
    );
    assert_eq!(
        check(vec![
            nested(vec![put_op("k", "1")], vec![]),
            nested(vec![put_op("k", "2")], vec![])
        ]),
        dup
    );
    assert_eq!(
        check(vec![
            nested(vec![del_op("k", &[])], vec![]),
            nested(vec![put_op("k", "2")], vec![])
        ]),
        dup
    );
    // Stricter than etcd, which would write `k` twice in one revision here.
    assert_eq!(
        check(vec![
            nested(vec![put_op("k", "1")], vec![]),
            nested(vec![del_op("k", &[])], vec![])
        ]),
        dup
    );
    assert_eq!(
        check(vec![
            put_op("k", "1"),
            nested(vec![nested(vec![put_op("k", "2")], vec![])], vec![])
        ]),
        dup
    );
    assert_eq!(
        check(vec![nested(
            vec![put_op("k", "1"), put_op("k", "2")],
            vec![]
        )]),
        dup
    );
    assert_eq!(
        check(vec![nested(vec![put_op("k", "1")], vec![put_op("k", "2")])]),
        Ok(())
    );
    assert_eq!(
        check(vec![nested(vec![put_op("k", "1")], vec![del_op("k", &[])])]),
        Ok(())
    );
    assert_eq!(
        check(vec![
            nested(vec![del_op("a", b"c")], vec![]),
            nested(vec![del_op("b", b"d")], vec![])
        ]),
        Ok(())
    );
    // The two top-level branches are checked separately.
    assert_eq!(
        check_txn(&either(vec![put_op("k", "1")], vec![put_op("k", "2")])),
        Ok(())
    );
    assert_eq!(
        check_txn(&either(vec![], vec![put_op("k", "1"), put_op("k", "2")])),
        dup
    );
    // The store applies the rule itself too.
    let mut f = Fixture::new();
    assert_eq!(
        f.txn(&branch(vec![put_op("k", "1"), put_op("k", "2")])),
        Err(MvccError::DuplicateKey)
    );
    assert_eq!(f.store.current_revision(), 1);
}

#[test]
fn txn_request_checks() {
    let many = |n: usize| {
        (0..n)
            .map(|i| put_op(&format!("k{i}"), "v"))
            .collect::<Vec<_>>()
    };
    assert_eq!(check_txn(&branch(many(128))), Ok(()));
    assert_eq!(check_txn(&branch(many(129))), Err(MvccError::TooManyOps));
    assert_eq!(
        check_txn(&either(vec![], many(129))),
        Err(MvccError::TooManyOps)
    );
    let compares = TxnRequest {
        compare: (0..129)
            .map(|i| {
                cmp(
                    &format!("k{i}"),
                    CompareTarget::Version,
                    CompareResult::Equal,
                    TargetUnion::Version(0),
                )
            })
            .collect(),
        success: vec![],
        failure: vec![],
    };
    assert_eq!(check_txn(&compares), Err(MvccError::TooManyOps));
    // A nested txn gets what its parent leaves: 128 - 100 = 28.
    let with_nested = |n| {
        let mut ops = many(99);
        ops.push(txn_op(branch(
            (0..n).map(|i| put_op(&format!("n{i}"), "v")).collect(),
        )));
        branch(ops)
    };
    assert_eq!(check_txn(&with_nested(28)), Ok(()));
    assert_eq!(check_txn(&with_nested(29)), Err(MvccError::TooManyOps));

    assert_eq!(
        check_txn(&branch(vec![put_op("", "1")])),
        Err(MvccError::EmptyKey)
    );
    assert_eq!(
        check_txn(&branch(vec![get_op("")])),
        Err(MvccError::EmptyKey)
    );
    assert_eq!(
        check_txn(&either(vec![], vec![del_op("", &[])])),
        Err(MvccError::EmptyKey)
    );
    assert_eq!(
        check_txn(&TxnRequest {
            compare: vec![cmp(
                "",
                CompareTarget::Version,
                CompareResult::Equal,
                TargetUnion::Version(0)
            )],
            success: vec![],
            failure: vec![],
        }),
        Err(MvccError::EmptyKey)
    );
    assert_eq!(
        check_txn(&branch(vec![txn_op(branch(vec![put_op("", "1")]))])),
        Err(MvccError::EmptyKey)
    );
    let put = |req: PutRequest| {
        branch(vec![RequestOp {
            request: Some(Request::RequestPut(req)),
        }])
    };
    assert_eq!(
        check_txn(&put(PutRequest {
            key: "k".into(),
            value: "v".into(),
            ignore_value: true,
            ..Default::default()
        })),
        Err(MvccError::ValueProvided)
    );
    assert_eq!(
        check_txn(&put(PutRequest {
            key: "k".into(),
            lease: 3,
            ignore_lease: true,
            ..Default::default()
        })),
        Err(MvccError::LeaseProvided)
    );
    assert_eq!(
        check_txn(&branch(vec![RequestOp { request: None }])),
        Err(MvccError::KeyNotFound)
    );
    // The messages are etcd's.
    assert_eq!(
        MvccError::DuplicateKey.to_string(),
        "etcdserver: duplicate key given in txn request"
    );
    assert_eq!(
        MvccError::TooManyOps.to_string(),
        "etcdserver: too many operations in txn request"
    );
    assert_eq!(
        MvccError::Compacted.to_string(),
        "etcdserver: mvcc: required revision has been compacted"
    );
    assert_eq!(
        MvccError::FutureRevision.to_string(),
        "etcdserver: mvcc: required revision is a future revision"
    );
    assert_eq!(
        MvccError::KeyNotFound.to_string(),
        "etcdserver: key not found"
    );
}

// ---------------------------------------------------------------------------------------------
// Compaction

#[test]
fn compaction_keeps_the_latest_and_drops_tombstones() {
    let mut f = Fixture::new();
    f.put("k", "v1"); // 2
    f.put("k", "v2"); // 3
    f.put("gone", "x"); // 4
    f.del("gone", &[]); // 5
    f.put("k", "v3"); // 6
    f.put("z", "1"); // 7
    let resp = f.compact(5).unwrap();
    assert_eq!(resp.header.unwrap().revision, 7);
    assert_eq!(f.store.compact_revision(), 5);
    assert_eq!(f.range(at(single("k"), 4)), Err(MvccError::Compacted));
    assert_eq!(f.range(at(single("k"), 5)).unwrap().kvs[0].value, b"v2");
    assert_eq!(f.range(at(single("k"), 6)).unwrap().kvs[0].value, b"v3");
    assert_eq!(f.keys(at(all(), 5)), ["k"]);
    assert_eq!(f.keys(at(all(), 7)), ["k", "z"]);
    // History below 5 is physically gone: k@3 (its newest at or below 5), k@6 and z@7 remain.
    assert_eq!(f.rows(), (3, 2, 3));
    assert_eq!(
        f.changes(),
        [(3, 0, "k".into()), (6, 0, "k".into()), (7, 0, "z".into())]
    );
    for (rev, err) in [
        (5, MvccError::Compacted),
        (4, MvccError::Compacted),
        (-1, MvccError::Compacted),
        (8, MvccError::FutureRevision),
    ] {
        let before = f.fingerprint();
        assert_eq!(f.compact(rev), Err(err));
        assert_eq!(f.fingerprint(), before);
    }
    // A second compaction also drops the survivors of the first that are now superseded.
    f.put("k", "v4"); // 8
    f.compact(8).unwrap();
    assert_eq!(f.rows(), (2, 2, 2));
    assert_eq!(f.keys(at(all(), 8)), ["k", "z"]);
    assert_eq!(f.range(at(single("z"), 8)).unwrap().kvs[0].mod_revision, 7);
    // A key whose newest version is a deletion leaves nothing behind.
    f.del("z", &[]); // 9
    f.compact(9).unwrap();
    assert_eq!(f.rows(), (1, 1, 1));
    assert_eq!(f.keys(at(all(), 9)), ["k"]);
    assert_eq!(
        f.get("k").unwrap().version,
        4,
        "versions survive compaction"
    );
    // Writing on after compacting to the current revision.
    f.put("z", "again"); // 10
    let z = f.get("z").unwrap();
    assert_eq!((z.create_revision, z.version), (10, 1));
}

#[test]
fn compaction_of_a_fresh_store() {
    let mut f = Fixture::new();
    // As etcd (whose compact revision starts at -1), the first compaction may be to 0 or 1.
    f.compact(0).unwrap();
    assert_eq!(f.compact(0), Err(MvccError::Compacted));
    f.compact(1).unwrap();
    assert_eq!(f.store.compact_revision(), 1);
    assert_eq!(f.compact(2), Err(MvccError::FutureRevision));
    assert!(f.range(at(all(), 1)).unwrap().kvs.is_empty());
}

// ---------------------------------------------------------------------------------------------
// HashKV

/// The history of the reference transcript (`reference/etcdctl-3.4.23.txt`), after which real
/// etcd 3.4.23 answered `endpoint hashkv` with 121398419.
fn transcript_history() -> Fixture {
    let mut f = Fixture::new();
    f.put("key1", "value1"); // 2
    f.put("/a/b", "1"); // 3
    f.put("/a/c", "2"); // 4
    f.put("/d", "3"); // 5
    f.put("key1", "value2"); // 6
    f.put("key1", "value3"); // 7
    f.del("/a", b"/b"); // 8
    f.del("/d", &[]); // 9
    f.del("nonexistent", &[]);
    f
}

#[test]
fn hash_kv_equals_real_etcds() {
    let f = transcript_history();
    assert_eq!(f.hash(0), Ok((121398419, -1, 9)));
}

#[test]
fn hash_kv_follows_history() {
    let build = |values: &[&str]| {
        let mut f = Fixture::new();
        for v in values {
            f.put("k", v);
        }
        f.hash(0).unwrap()
    };
    assert_eq!(build(&["a", "b"]), build(&["a", "b"]));
    assert_ne!(build(&["a", "b"]).0, build(&["a", "c"]).0);
    assert_ne!(build(&["a", "b"]).0, build(&["b", "a"]).0);
    assert_eq!(build(&["a", "b"]).2, 3);

    let mut f = transcript_history();
    let at5 = f.hash(5).unwrap();
    assert_eq!(
        at5.2, 9,
        "the current revision comes back whatever the hashed one"
    );
    f.put("more", "x"); // 10
    assert_eq!(f.hash(5).unwrap().0, at5.0);
    assert_ne!(f.hash(10).unwrap().0, f.hash(9).unwrap().0);
    assert_eq!(f.hash(11), Err(MvccError::FutureRevision));
    // HashKV refuses the compaction point itself (unlike Range), as etcd.
    f.compact(5).unwrap();
    assert_eq!(f.hash(5), Err(MvccError::Compacted));
    assert_eq!(f.hash(6).unwrap().1, 5);
    // A negative revision hashes nothing, as in etcd.
    let empty = crc::Crc::<u32>::new(&crc::CRC_32_ISCSI).checksum(b"key");
    assert_eq!(f.hash(-1).unwrap().0, empty);
}

/// The hash etcd computes over these rows of its `key` bucket: (main, sub, tombstone, value).
fn etcd_hash(rows: &[(i64, i64, bool, KeyValue)]) -> u32 {
    let crc = crc::Crc::<u32>::new(&crc::CRC_32_ISCSI);
    let mut digest = crc.digest();
    digest.update(b"key");
    for (main, sub, tombstone, kv) in rows {
        digest.update(&super::encoding::etcd_revision_key(*main, *sub, *tombstone));
        digest.update(&prost::Message::encode_to_vec(kv));
    }
    digest.finalize()
}

fn kv(key: &str, create: i64, modified: i64, version: i64, value: &str) -> KeyValue {
    KeyValue {
        key: key.into(),
        create_revision: create,
        mod_revision: modified,
        version,
        value: value.into(),
        lease: 0,
    }
}

#[test]
fn hash_kv_after_compaction_counts_survivors_as_etcd() {
    let mut f = Fixture::new();
    f.put("a", "1"); // 2
    f.put("b", "1"); // 3
    f.put("a", "2"); // 4
    f.compact(3).unwrap(); // a@2 and b@3 survive
    f.put("b", "2"); // 5
    let (a2, b3) = (kv("a", 2, 2, 1, "1"), kv("b", 3, 3, 1, "1"));
    let (a4, b5) = (kv("a", 2, 4, 2, "2"), kv("b", 3, 5, 2, "2"));
    // A survivor counts while it is still its key's newest version at the hashed revision.
    let at3 = etcd_hash(&[(2, 0, false, a2), (3, 0, false, b3.clone())]);
    let at4 = etcd_hash(&[(3, 0, false, b3), (4, 0, false, a4.clone())]);
    let at5 = etcd_hash(&[(4, 0, false, a4), (5, 0, false, b5)]);
    assert_eq!(f.hash(3), Err(MvccError::Compacted));
    assert_eq!(f.hash(4), Ok((at4, 3, 5)));
    assert_eq!(f.hash(5), Ok((at5, 3, 5)));
    assert_eq!(f.hash(0), Ok((at5, 3, 5)));
    let mut before = Fixture::new();
    before.put("a", "1");
    before.put("b", "1");
    before.compact(3).unwrap();
    assert_eq!(before.hash(0), Ok((at3, 3, 3)));

    // With no key live at the hashed revision, etcd counts every survivor.
    let mut dead = Fixture::new();
    dead.put("b", "1"); // 2
    dead.compact(2).unwrap();
    dead.del("b", &[]); // 3
    let tombstone = KeyValue {
        key: "b".into(),
        ..Default::default()
    };
    assert_eq!(
        dead.hash(0),
        Ok((
            etcd_hash(&[
                (2, 0, false, kv("b", 2, 2, 1, "1")),
                (3, 0, true, tombstone)
            ]),
            2,
            3
        ))
    );
}

// ---------------------------------------------------------------------------------------------
// Storage

#[test]
fn state_survives_reopening_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db.redb");
    let put = |k: &str, v: &str| PutRequest {
        key: k.into(),
        value: v.into(),
        ..Default::default()
    };
    let hash = {
        let db = Database::create(&path).unwrap();
        let txn = db.begin_write().unwrap();
        let mut store = MvccStore::open(&txn).unwrap();
        let mut tables = KeyTables::open(&txn).unwrap();
        store.put(&mut tables, &put("k", "v")).unwrap(); // 2
        store.put(&mut tables, &put("k", "w")).unwrap(); // 3
        store.put(&mut tables, &put("j", "x")).unwrap(); // 4
        drop(tables); // the compaction opens them itself
        store
            .compact(
                &txn,
                &CompactionRequest {
                    revision: 3,
                    physical: true,
                },
            )
            .unwrap();
        txn.commit().unwrap();
        MvccStore::hash_kv(&db.begin_read().unwrap(), 0).unwrap()
    };
    let db = Database::open(&path).unwrap();
    let txn = db.begin_write().unwrap();
    let mut store = MvccStore::open(&txn).unwrap();
    assert_eq!((store.current_revision(), store.compact_revision()), (4, 3));
    store
        .put(&mut KeyTables::open(&txn).unwrap(), &put("k", "y"))
        .unwrap();
    assert_eq!(store.current_revision(), 5);
    txn.commit().unwrap();
    let read = db.begin_read().unwrap();
    let resp = MvccStore::range(&read, &single("k")).unwrap();
    assert_eq!(
        (resp.kvs[0].value.as_slice(), resp.kvs[0].version),
        (&b"y"[..], 3)
    );
    assert_eq!(MvccStore::hash_kv(&read, 4).unwrap(), (hash.0, 3, 5));
    assert_eq!(
        MvccStore::range(&read, &at(single("k"), 2)),
        Err(MvccError::Compacted)
    );
}

#[test]
fn several_requests_in_one_write_transaction() {
    let db = Database::builder()
        .create_with_backend(InMemoryBackend::new())
        .unwrap();
    let txn = db.begin_write().unwrap();
    let mut store = MvccStore::open(&txn).unwrap();
    let mut tables = KeyTables::open(&txn).unwrap();
    for v in ["1", "2", "3"] {
        store
            .put(
                &mut tables,
                &PutRequest {
                    key: "k".into(),
                    value: v.into(),
                    ..Default::default()
                },
            )
            .unwrap();
    }
    let failed = store.put(
        &mut tables,
        &PutRequest {
            key: "nope".into(),
            ignore_value: true,
            ..Default::default()
        },
    );
    assert_eq!(failed, Err(MvccError::KeyNotFound));
    drop(tables);
    txn.commit().unwrap();
    let read = db.begin_read().unwrap();
    let kv = MvccStore::range(&read, &single("k")).unwrap().kvs.remove(0);
    assert_eq!((kv.version, kv.mod_revision), (3, 4));
}

#[test]
fn an_uninitialised_database_reads_as_empty() {
    let db = Database::builder()
        .create_with_backend(InMemoryBackend::new())
        .unwrap();
    let read = db.begin_read().unwrap();
    let resp = MvccStore::range(&read, &all()).unwrap();
    assert_eq!((resp.kvs.len(), resp.header.unwrap().revision), (0, 1));
    assert_eq!(
        MvccStore::range(&read, &at(all(), 2)),
        Err(MvccError::FutureRevision)
    );
    assert_eq!(MvccStore::key_count(&read).unwrap(), 0);
    // The same hash as an opened, empty store.
    assert_eq!(
        MvccStore::hash_kv(&read, 0).unwrap(),
        Fixture::new().hash(0).unwrap()
    );
}

#[test]
fn malformed_stored_bytes_are_storage_errors() {
    let mut f = Fixture::new();
    f.put("good", "v"); // 2
    f.put("good", "w"); // 3
    let txn = f.db.begin_write().unwrap();
    {
        let mut latest = txn.open_table(LATEST).unwrap();
        latest.insert(&b"bad"[..], &[0xff, 0xff, 0xff][..]).unwrap();
        let headless = crate::proto::etcdlab::StoredKeyValue {
            sub: 0,
            tombstone: false,
            kv: None,
        };
        latest
            .insert(
                &b"headless"[..],
                prost::Message::encode_to_vec(&headless).as_slice(),
            )
            .unwrap();
        let mut history = txn.open_table(HISTORY).unwrap();
        history
            .insert((&b"good"[..], 2u64), &[0x0a, 0x05][..])
            .unwrap();
    }
    txn.commit().unwrap();
    for req in [
        single("bad"),
        single("headless"),
        all(),
        at(single("good"), 2),
    ] {
        assert!(
            matches!(f.range(req.clone()), Err(MvccError::Storage(_))),
            "{req:?}"
        );
    }
    let put = f.put_req(PutRequest {
        key: "bad".into(),
        value: "v".into(),
        ..Default::default()
    });
    assert!(matches!(put, Err(MvccError::Storage(_))));
    // What is intact still reads.
    assert_eq!(f.get("good").unwrap().value, b"w");
    assert!(matches!(
        Record::decode(&[0x18, 0x01]),
        Err(MvccError::Storage(_))
    ));
}

/// What a watcher starting at `from` would be sent: (type, key, value, mod revision, prev value).
fn watched(
    f: &Fixture,
    from: i64,
    max_revisions: i64,
) -> Vec<(i32, String, String, i64, Option<String>)> {
    let batch =
        watch::changes_since(&f.db.begin_read().unwrap(), from, max_revisions, true).unwrap();
    let text = |b: &[u8]| String::from_utf8(b.to_vec()).unwrap();
    batch
        .events
        .iter()
        .map(|e| {
            let kv = e.kv.as_ref().unwrap();
            (
                e.r#type,
                text(&kv.key),
                text(&kv.value),
                kv.mod_revision,
                e.prev_kv.as_ref().map(|p| text(&p.value)),
            )
        })
        .collect()
}

#[test]
fn watch_events_replay_the_change_log_in_revision_order() {
    let mut f = Fixture::new();
    f.put("a", "1"); // rev 2
    f.put("b", "1"); // rev 3
    f.put("a", "2"); // rev 4
    f.del("a", b""); // rev 5
    f.txn(&branch(vec![put_op("c", "1"), put_op("b", "2")]))
        .unwrap(); // rev 6
    let (put, delete) = (0, 1);
    let s = |v: &str| Some(v.to_string());
    assert_eq!(
        watched(&f, 1, 100),
        vec![
            (put, "a".into(), "1".into(), 2, None),
            (put, "b".into(), "1".into(), 3, None),
            (put, "a".into(), "2".into(), 4, s("1")),
            // A deletion carries the key and its revision only, and the value it ended.
            (delete, "a".into(), "".into(), 5, s("2")),
            (put, "c".into(), "1".into(), 6, None),
            (put, "b".into(), "2".into(), 6, s("1")),
        ]
    );
    // From a later revision, and cut at a revision limit.
    let batch = watch::changes_since(&f.db.begin_read().unwrap(), 4, 2, false).unwrap();
    assert_eq!(
        (batch.through, batch.current, batch.events.len()),
        (5, 6, 2)
    );
    assert!(batch.events.iter().all(|e| e.prev_kv.is_none()));
    // Past the current revision: nothing yet.
    assert_eq!(watched(&f, 7, 100), vec![]);
    // Recreated after the delete: no previous version.
    f.put("a", "3"); // rev 7
    assert_eq!(
        watched(&f, 7, 100),
        vec![(put, "a".into(), "3".into(), 7, None)]
    );
}

#[test]
fn watch_events_before_the_compaction_point_are_gone() {
    let mut f = Fixture::new();
    f.put("a", "1"); // rev 2
    f.put("a", "2"); // rev 3
    f.put("b", "1"); // rev 4
    f.compact(3).unwrap();
    let txn = f.db.begin_read().unwrap();
    assert_eq!(watch::revisions(&txn).unwrap(), (4, 3));
    assert_eq!(
        watch::changes_since(&txn, 2, 100, true),
        Err(MvccError::Compacted)
    );
    drop(txn);
    // At the compaction point itself the surviving version is still there; its predecessor is
    // not, so it comes without a previous value.
    assert_eq!(
        watched(&f, 3, 100),
        vec![
            (0, "a".into(), "2".into(), 3, None),
            (0, "b".into(), "1".into(), 4, None)
        ]
    );
}

#[test]
fn a_copy_without_live_keys_rebuilds_them_from_history() {
    let mut f = Fixture::new();
    f.put("a", "1");
    f.put("a", "2");
    f.put("ab", "1"); // "a" is a prefix of it: their history rows must not mix
    f.put("b", "1");
    f.del("b", b"");
    f.put("c", "1");
    f.del("c", b"");
    f.put("c", "2");
    f.put("d", "1");
    f.compact(5).unwrap();
    f.del("d", b"");
    let live = |db: &Database| -> Vec<(Vec<u8>, Vec<u8>)> {
        let txn = db.begin_read().unwrap();
        let table = txn.open_table(LATEST).unwrap();
        let rows = table.iter().unwrap().map(|row| {
            let (k, v) = row.unwrap();
            (k.value().to_vec(), v.value().to_vec())
        });
        rows.collect()
    };
    let copy = Database::builder()
        .create_with_backend(InMemoryBackend::new())
        .unwrap();
    let txn = copy.begin_write().unwrap();
    MvccStore::copy_into(&f.db.begin_read().unwrap(), &txn).unwrap();
    assert_eq!(txn.open_table(LATEST).unwrap().len().unwrap(), 0);
    MvccStore::rebuild_latest(&txn).unwrap();
    txn.commit().unwrap();
    assert_eq!(live(&copy), live(&f.db));
    let keys: Vec<_> = live(&copy).into_iter().map(|(k, _)| k).collect();
    assert_eq!(keys, [&b"a"[..], b"ab", b"c"]);
    let hash = |db: &Database| MvccStore::hash_kv(&db.begin_read().unwrap(), 0).unwrap();
    assert_eq!(hash(&copy), hash(&f.db));
}
