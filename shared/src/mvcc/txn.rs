//! Transactions: etcd's request checks, compares, and the chosen branches' operations (nested
//! txns included) applied as one revision.
//!
//! As etcd's applier does, a txn runs in three steps: every compare on the whole path (the top
//! level and each nested txn on the chosen branches) is evaluated against the state *before* the
//! txn; then every operation on that path is checked (a put keeping the value or lease of a
//! missing key or naming a missing lease, a range at a compacted or future revision) so that a
//! failing txn writes nothing; then the operations run in order, each seeing the writes before
//! it, all under one main revision with a sub revision per change.

use std::cmp::Ordering;
use std::collections::BTreeSet;
use std::ops::{Bound, ControlFlow};

use super::range::{self, KeyRange};
use super::write::Writer;
use super::{MAX_TXN_OPS, MvccError};
use crate::proto::etcdserverpb::compare::{CompareResult, CompareTarget, TargetUnion};
use crate::proto::etcdserverpb::request_op::Request;
use crate::proto::etcdserverpb::response_op::Response;
use crate::proto::etcdserverpb::{
    Compare, RequestOp, ResponseHeader, ResponseOp, TxnRequest, TxnResponse,
};
use crate::proto::mvccpb::KeyValue;

/// etcd's checks of a txn before it is proposed (`checkTxnRequest`, then `checkIntervals` on each
/// branch): at most [`MAX_TXN_OPS`] compares or operations per branch (nested txns share what
/// their parent leaves), no empty key, no empty operation, no value or lease given with
/// `ignore_value`/`ignore_lease`, and no key written twice on one path.
///
/// "Written twice" is etcd's rule — a key put twice, or put and covered by a delete, within one
/// branch including its nested txns (the two branches of one nested txn exclude each other) — and
/// a little stricter in two corners where etcd lets the key change twice in one revision: a
/// delete with `range_end` `"\0"` (every key from `key` on) counts as covering those keys, and a
/// delete in a nested txn clashes with a put in an *earlier* sibling nested txn too.
pub fn check_txn(req: &TxnRequest) -> Result<(), MvccError> {
    check_request(req, MAX_TXN_OPS)?;
    check_intervals(&req.success)?;
    check_intervals(&req.failure)?;
    Ok(())
}

fn check_request(req: &TxnRequest, max_ops: usize) -> Result<(), MvccError> {
    let ops = req
        .compare
        .len()
        .max(req.success.len())
        .max(req.failure.len());
    if ops > max_ops {
        return Err(MvccError::TooManyOps);
    }
    if req.compare.iter().any(|c| c.key.is_empty()) {
        return Err(MvccError::EmptyKey);
    }
    for op in req.success.iter().chain(&req.failure) {
        match &op.request {
            Some(Request::RequestRange(r)) if r.key.is_empty() => return Err(MvccError::EmptyKey),
            Some(Request::RequestPut(p)) => {
                if p.key.is_empty() {
                    return Err(MvccError::EmptyKey);
                }
                if p.ignore_value && !p.value.is_empty() {
                    return Err(MvccError::ValueProvided);
                }
                if p.ignore_lease && p.lease != 0 {
                    return Err(MvccError::LeaseProvided);
                }
            }
            Some(Request::RequestDeleteRange(d)) if d.key.is_empty() => {
                return Err(MvccError::EmptyKey);
            }
            Some(Request::RequestTxn(t)) => check_request(t, max_ops - ops)?,
            // etcd answers an empty operation so.
            None => return Err(MvccError::KeyNotFound),
            _ => {}
        }
    }
    Ok(())
}

/// What a branch may write: the keys it puts and the ranges it deletes.
#[derive(Default)]
struct Writes {
    puts: BTreeSet<Vec<u8>>,
    deletes: Vec<KeyRange>,
}

impl Writes {
    fn deleted(&self, key: &[u8]) -> bool {
        self.deletes.iter().any(|d| d.contains(key))
    }

    fn puts_within(&self, range: &KeyRange) -> bool {
        if range.is_empty() {
            return false;
        }
        let end = match &range.end {
            Some(e) => Bound::Excluded(e.as_slice()),
            None => Bound::Unbounded,
        };
        self.puts
            .range::<[u8], _>((Bound::Included(range.start.as_slice()), end))
            .next()
            .is_some()
    }
}

/// etcd's `checkIntervals`: this level's deletes first, then each nested txn's branches, then
/// this level's puts.
fn check_intervals(ops: &[RequestOp]) -> Result<Writes, MvccError> {
    let mut writes = Writes::default();
    for op in ops {
        if let Some(Request::RequestDeleteRange(d)) = &op.request {
            writes.deletes.push(KeyRange::new(&d.key, &d.range_end));
        }
    }
    for op in ops {
        let Some(Request::RequestTxn(t)) = &op.request else {
            continue;
        };
        let then = check_intervals(&t.success)?;
        let otherwise = check_intervals(&t.failure)?;
        for key in &then.puts {
            if writes.puts.contains(key) || writes.deleted(key) {
                return Err(MvccError::DuplicateKey);
            }
        }
        for key in &otherwise.puts {
            // The same key in both branches of one txn is fine: only one branch runs.
            if (writes.puts.contains(key) && !then.puts.contains(key)) || writes.deleted(key) {
                return Err(MvccError::DuplicateKey);
            }
        }
        if then
            .deletes
            .iter()
            .chain(&otherwise.deletes)
            .any(|d| writes.puts_within(d))
        {
            return Err(MvccError::DuplicateKey);
        }
        writes.puts.extend(then.puts);
        writes.puts.extend(otherwise.puts);
        writes.deletes.extend(then.deletes);
        writes.deletes.extend(otherwise.deletes);
    }
    for op in ops {
        if let Some(Request::RequestPut(p)) = &op.request {
            if writes.puts.contains(&p.key) || writes.deleted(&p.key) {
                return Err(MvccError::DuplicateKey);
            }
            writes.puts.insert(p.key.clone());
        }
    }
    Ok(writes)
}

/// The branch taken at one txn of the path, and the paths of the nested txns in that branch, in
/// operation order.
struct Path {
    succeeded: bool,
    nested: Vec<Path>,
}

fn branch(req: &TxnRequest, succeeded: bool) -> &[RequestOp] {
    if succeeded {
        &req.success
    } else {
        &req.failure
    }
}

fn nested_txns(ops: &[RequestOp]) -> impl Iterator<Item = &TxnRequest> {
    ops.iter().filter_map(|op| match &op.request {
        Some(Request::RequestTxn(t)) => Some(t),
        _ => None,
    })
}

fn path_mismatch() -> MvccError {
    MvccError::Storage("txn path does not match the request".into())
}

/// Runs a txn in an open write (which must not have written yet).
pub(super) fn apply(w: &mut Writer<'_, '_>, req: &TxnRequest) -> Result<TxnResponse, MvccError> {
    let path = choose_path(w, req)?;
    // As etcd: put checks over the whole path first, then range checks.
    check_path(w, req, &path, Check::Puts)?;
    check_path(w, req, &path, Check::Ranges)?;
    let mut resp = run(w, req, &path)?;
    resp.header = Some(ResponseHeader {
        revision: w.revision(),
        ..Default::default()
    });
    Ok(resp)
}

fn choose_path(w: &Writer<'_, '_>, req: &TxnRequest) -> Result<Path, MvccError> {
    let mut succeeded = true;
    for c in &req.compare {
        if !compare_holds(w, c)? {
            succeeded = false;
            break;
        }
    }
    let nested = nested_txns(branch(req, succeeded))
        .map(|t| choose_path(w, t))
        .collect::<Result<_, _>>()?;
    Ok(Path { succeeded, nested })
}

/// etcd's `applyCompare`: every key in the compare's range must satisfy it; with no key there,
/// a VALUE compare fails and the others compare against zeroes.
fn compare_holds(w: &Writer<'_, '_>, c: &Compare) -> Result<bool, MvccError> {
    let mut any = false;
    let mut all = true;
    range::for_each_live(&w.latest, &KeyRange::new(&c.key, &c.range_end), |kv| {
        any = true;
        all = compare_kv(c, &kv);
        Ok(if all {
            ControlFlow::Continue(())
        } else {
            ControlFlow::Break(())
        })
    })?;
    if !any {
        return Ok(c.target != CompareTarget::Value as i32 && compare_kv(c, &KeyValue::default()));
    }
    Ok(all)
}

/// etcd's `compareKV`: an operand of another kind than the target counts as zero (or empty); an
/// unknown target compares equal and an unknown result holds.
fn compare_kv(c: &Compare, kv: &KeyValue) -> bool {
    use CompareTarget as T;
    use TargetUnion as U;
    let ord = match (CompareTarget::try_from(c.target), &c.target_union) {
        (Ok(T::Value), Some(U::Value(v))) => kv.value.as_slice().cmp(v.as_slice()),
        (Ok(T::Value), _) => kv.value.as_slice().cmp(&[][..]),
        (Ok(T::Version), Some(U::Version(v))) => kv.version.cmp(v),
        (Ok(T::Version), _) => kv.version.cmp(&0),
        (Ok(T::Create), Some(U::CreateRevision(v))) => kv.create_revision.cmp(v),
        (Ok(T::Create), _) => kv.create_revision.cmp(&0),
        (Ok(T::Mod), Some(U::ModRevision(v))) => kv.mod_revision.cmp(v),
        (Ok(T::Mod), _) => kv.mod_revision.cmp(&0),
        (Ok(T::Lease), Some(U::Lease(v))) => kv.lease.cmp(v),
        (Ok(T::Lease), _) => kv.lease.cmp(&0),
        (Err(_), _) => Ordering::Equal,
    };
    match CompareResult::try_from(c.result) {
        Ok(CompareResult::Equal) => ord.is_eq(),
        Ok(CompareResult::NotEqual) => ord.is_ne(),
        Ok(CompareResult::Greater) => ord.is_gt(),
        Ok(CompareResult::Less) => ord.is_lt(),
        Err(_) => true,
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Check {
    Puts,
    Ranges,
}

/// etcd's `checkRequests` on the chosen path, against the state before the txn.
fn check_path(
    w: &Writer<'_, '_>,
    req: &TxnRequest,
    path: &Path,
    check: Check,
) -> Result<(), MvccError> {
    let mut nested = path.nested.iter();
    for op in branch(req, path.succeeded) {
        match &op.request {
            Some(Request::RequestTxn(t)) => {
                check_path(w, t, nested.next().ok_or_else(path_mismatch)?, check)?;
            }
            Some(Request::RequestPut(p))
                if check == Check::Puts
                    && (p.ignore_value || p.ignore_lease)
                    && w.get(&p.key)?.is_none() =>
            {
                return Err(MvccError::KeyNotFound);
            }
            Some(Request::RequestPut(p)) if check == Check::Puts && !w.lease_exists(p.lease)? => {
                return Err(MvccError::LeaseNotFound);
            }
            Some(Request::RequestRange(r)) if check == Check::Ranges && r.revision != 0 => {
                if r.revision > w.revision_before() {
                    return Err(MvccError::FutureRevision);
                }
                if r.revision < w.compacted() {
                    return Err(MvccError::Compacted);
                }
            }
            _ => {}
        }
    }
    Ok(())
}

fn run(w: &mut Writer<'_, '_>, req: &TxnRequest, path: &Path) -> Result<TxnResponse, MvccError> {
    let ops = branch(req, path.succeeded);
    let mut nested = path.nested.iter();
    let mut responses = Vec::with_capacity(ops.len());
    for op in ops {
        let response = match &op.request {
            Some(Request::RequestRange(r)) => Response::ResponseRange(w.range(r)?),
            Some(Request::RequestPut(p)) => Response::ResponsePut(w.put(p)?),
            Some(Request::RequestDeleteRange(d)) => {
                Response::ResponseDeleteRange(w.delete_range(d)?)
            }
            Some(Request::RequestTxn(t)) => {
                let mut inner = run(w, t, nested.next().ok_or_else(path_mismatch)?)?;
                // As etcd: a nested txn's response carries an empty header.
                inner.header = Some(ResponseHeader::default());
                Response::ResponseTxn(inner)
            }
            // Refused by `check_txn` before anything ran.
            None => return Err(MvccError::KeyNotFound),
        };
        responses.push(ResponseOp {
            response: Some(response),
        });
    }
    Ok(TxnResponse {
        header: None,
        succeeded: path.succeeded,
        responses,
    })
}
