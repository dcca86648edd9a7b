//! Transactions: compares, the chosen branch's operations (nested txns included) as one
//! revision, and etcd's request checks.
//!
//! As in etcd, every compare on the whole path (the top level and each nested txn on the
//! chosen branches) is evaluated against the state *before* the txn writes anything; then the
//! operations run in order, each seeing the writes before it.

use redb::WriteTransaction;

use super::range::{self, KeyRange};
use super::{MAX_TXN_OPS, MvccError, MvccStore, WriteBatch};
use crate::proto::etcdserverpb::compare::{CompareResult, CompareTarget, TargetUnion};
use crate::proto::etcdserverpb::request_op::Request;
use crate::proto::etcdserverpb::response_op::Response;
use crate::proto::etcdserverpb::{
    Compare, RangeRequest, RequestOp, ResponseHeader, ResponseOp, TxnRequest, TxnResponse,
};
use crate::proto::mvccpb::KeyValue;

/// etcd's checks before a txn is proposed: op count per branch, non-empty keys, and no key
/// written twice (put twice, or put and deleted) within one branch, nested txns included.
pub fn check_txn(req: &TxnRequest) -> Result<(), MvccError> {
    if req.success.len() > MAX_TXN_OPS || req.failure.len() > MAX_TXN_OPS {
        return Err(MvccError::TooManyOps);
    }
    for c in &req.compare {
        if c.key.is_empty() {
            return Err(MvccError::EmptyKey);
        }
    }
    for branch in [&req.success, &req.failure] {
        for op in branch.iter() {
            match &op.request {
                Some(Request::RequestRange(r)) if r.key.is_empty() => {
                    return Err(MvccError::EmptyKey);
                }
                Some(Request::RequestPut(p)) if p.key.is_empty() => {
                    return Err(MvccError::EmptyKey);
                }
                Some(Request::RequestPut(p)) if p.ignore_value && !p.value.is_empty() => {
                    return Err(MvccError::ValueProvided);
                }
                Some(Request::RequestPut(p)) if p.ignore_lease && p.lease != 0 => {
                    return Err(MvccError::LeaseProvided);
                }
                Some(Request::RequestDeleteRange(d)) if d.key.is_empty() => {
                    return Err(MvccError::EmptyKey);
                }
                Some(Request::RequestTxn(t)) => check_txn(t)?,
                _ => {}
            }
        }
        let mut puts = Vec::new();
        let mut deletes = Vec::new();
        written_keys(branch, &mut puts, &mut deletes)?;
    }
    Ok(())
}

/// Collects the keys a branch puts and the ranges it deletes, failing on a duplicate.
fn written_keys(
    ops: &[RequestOp],
    puts: &mut Vec<Vec<u8>>,
    deletes: &mut Vec<KeyRange>,
) -> Result<(), MvccError> {
    for op in ops {
        match &op.request {
            Some(Request::RequestPut(p)) => {
                if puts.contains(&p.key) || deletes.iter().any(|d| d.contains(&p.key)) {
                    return Err(MvccError::DuplicateKey);
                }
                puts.push(p.key.clone());
            }
            Some(Request::RequestDeleteRange(d)) => {
                let range = KeyRange::new(&d.key, &d.range_end);
                if puts.iter().any(|k| range.contains(k)) {
                    return Err(MvccError::DuplicateKey);
                }
                deletes.push(range);
            }
            Some(Request::RequestTxn(t)) => {
                // A nested txn runs one of its branches: each must be free of clashes with
                // what this branch already writes.
                for branch in [&t.success, &t.failure] {
                    let (mut p, mut d) = (puts.clone(), deletes.clone());
                    written_keys(branch, &mut p, &mut d)?;
                }
                for branch in [&t.success, &t.failure] {
                    let (mut p, mut d) = (Vec::new(), Vec::new());
                    written_keys(branch, &mut p, &mut d)?;
                    puts.extend(p);
                    deletes.extend(d);
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// The chosen branch at each txn of the path, in the order they will run.
fn choose_path(
    txn: &WriteTransaction,
    req: &TxnRequest,
    path: &mut Vec<bool>,
) -> Result<(), MvccError> {
    let mut succeeded = true;
    for c in &req.compare {
        if !compare_holds(txn, c)? {
            succeeded = false;
            break;
        }
    }
    path.push(succeeded);
    let ops = if succeeded {
        &req.success
    } else {
        &req.failure
    };
    for op in ops {
        if let Some(Request::RequestTxn(t)) = &op.request {
            choose_path(txn, t, path)?;
        }
    }
    Ok(())
}

fn compare_holds(txn: &WriteTransaction, c: &Compare) -> Result<bool, MvccError> {
    let latest = txn.open_table(super::LATEST)?;
    let kvs = range::live_in(&latest, &KeyRange::new(&c.key, &c.range_end))?;
    let target = CompareTarget::try_from(c.target).unwrap_or(CompareTarget::Version);
    if kvs.is_empty() {
        // A value compare on a missing key always fails; others compare against zeroes.
        return Ok(target != CompareTarget::Value && compare_kv(c, target, &KeyValue::default()));
    }
    Ok(kvs.iter().all(|kv| compare_kv(c, target, kv)))
}

fn compare_kv(c: &Compare, target: CompareTarget, kv: &KeyValue) -> bool {
    let ord = match (target, &c.target_union) {
        (CompareTarget::Value, Some(TargetUnion::Value(v))) => {
            kv.value.as_slice().cmp(v.as_slice())
        }
        (CompareTarget::Value, _) => kv.value.as_slice().cmp(&[][..]),
        (CompareTarget::Create, u) => kv
            .create_revision
            .cmp(&int_of(u, |t| matches!(t, TargetUnion::CreateRevision(_)))),
        (CompareTarget::Mod, u) => kv
            .mod_revision
            .cmp(&int_of(u, |t| matches!(t, TargetUnion::ModRevision(_)))),
        (CompareTarget::Version, u) => kv
            .version
            .cmp(&int_of(u, |t| matches!(t, TargetUnion::Version(_)))),
        (CompareTarget::Lease, u) => kv
            .lease
            .cmp(&int_of(u, |t| matches!(t, TargetUnion::Lease(_)))),
    };
    match CompareResult::try_from(c.result).unwrap_or(CompareResult::Equal) {
        CompareResult::Equal => ord.is_eq(),
        CompareResult::NotEqual => ord.is_ne(),
        CompareResult::Greater => ord.is_gt(),
        CompareResult::Less => ord.is_lt(),
    }
}

/// The integer operand of a compare, if it is of the kind the target expects (else 0, as etcd).
fn int_of(union: &Option<TargetUnion>, expected: impl Fn(&TargetUnion) -> bool) -> i64 {
    match union {
        Some(u) if expected(u) => match u {
            TargetUnion::Version(v)
            | TargetUnion::CreateRevision(v)
            | TargetUnion::ModRevision(v)
            | TargetUnion::Lease(v) => *v,
            TargetUnion::Value(_) => 0,
        },
        _ => 0,
    }
}

/// Runs a txn inside an open write batch.
pub(super) fn apply(
    store: &MvccStore,
    txn: &WriteTransaction,
    batch: &mut WriteBatch,
    req: &TxnRequest,
) -> Result<TxnResponse, MvccError> {
    let mut path = Vec::new();
    choose_path(txn, req, &mut path)?;
    check_ops(store, txn, req, &path, &mut 0)?;
    let mut step = 0;
    let mut resp = run(store, txn, batch, req, &path, &mut step)?;
    resp.header = Some(ResponseHeader {
        revision: store.read_revision(batch),
        ..Default::default()
    });
    Ok(resp)
}

/// Fails the whole txn up front, as etcd does, if an op on the path would fail: a read of a
/// compacted or future revision, or a put that keeps the value or lease of a missing key.
fn check_ops(
    store: &MvccStore,
    txn: &WriteTransaction,
    req: &TxnRequest,
    path: &[bool],
    step: &mut usize,
) -> Result<(), MvccError> {
    let ops = if path[*step] {
        &req.success
    } else {
        &req.failure
    };
    *step += 1;
    for op in ops {
        match &op.request {
            Some(Request::RequestRange(r)) if r.revision > 0 => {
                if r.revision > store.current_revision() {
                    return Err(MvccError::FutureRevision);
                }
                if r.revision < store.compact_revision() {
                    return Err(MvccError::Compacted);
                }
            }
            Some(Request::RequestPut(p)) if p.ignore_value || p.ignore_lease => {
                let latest = txn.open_table(super::LATEST)?;
                let exists = range::live_in(&latest, &KeyRange::new(&p.key, &[]))?
                    .first()
                    .is_some();
                if !exists {
                    return Err(MvccError::KeyNotFound);
                }
            }
            Some(Request::RequestTxn(t)) => check_ops(store, txn, t, path, step)?,
            _ => {}
        }
    }
    Ok(())
}

fn run(
    store: &MvccStore,
    txn: &WriteTransaction,
    batch: &mut WriteBatch,
    req: &TxnRequest,
    path: &[bool],
    step: &mut usize,
) -> Result<TxnResponse, MvccError> {
    let succeeded = path[*step];
    *step += 1;
    let ops = if succeeded {
        &req.success
    } else {
        &req.failure
    };
    let mut responses = Vec::with_capacity(ops.len());
    for op in ops {
        let response = match &op.request {
            Some(Request::RequestRange(r)) => {
                Response::ResponseRange(range_in(store, txn, batch, r)?)
            }
            Some(Request::RequestPut(p)) => Response::ResponsePut(store.put_in(txn, batch, p)?),
            Some(Request::RequestDeleteRange(d)) => {
                Response::ResponseDeleteRange(store.delete_in(txn, batch, d)?)
            }
            Some(Request::RequestTxn(t)) => {
                let mut nested = run(store, txn, batch, t, path, step)?;
                nested.header = Some(ResponseHeader::default());
                Response::ResponseTxn(nested)
            }
            None => continue,
        };
        responses.push(ResponseOp {
            response: Some(response),
        });
    }
    Ok(TxnResponse {
        header: None,
        succeeded,
        responses,
    })
}

/// A range inside a txn: sees the txn's own writes; its header carries the txn's revision.
fn range_in(
    store: &MvccStore,
    txn: &WriteTransaction,
    batch: &WriteBatch,
    r: &RangeRequest,
) -> Result<crate::proto::etcdserverpb::RangeResponse, MvccError> {
    let current = store.read_revision(batch);
    let latest = txn.open_table(super::LATEST)?;
    let history = txn.open_table(super::HISTORY)?;
    range::read(&latest, &history, current, store.compact_revision(), r)
}
