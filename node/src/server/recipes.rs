//! etcd's concurrency recipes (clientv3's `concurrency` package) run inside the member, for the
//! `v3lock.Lock` and `v3election.Election` services: a mutex and an election are keys under
//! `<name>/`, one per lease (`<name>/<lease id in hex>`), ordered by create revision — the
//! oldest key holds the lock or leads, and every other waits until each older key is deleted.
//!
//! The recipes are made of ordinary requests through this member — txns proposed through Raft,
//! linearizable reads, and waits on the change log as a watcher reads it — so they behave exactly
//! as the same recipe run by a client (`etcdctl lock`, `etcdctl elect`) against any member.

use etcdlab_core::auth::Access;
use etcdlab_core::member::WriteResponse;
use etcdlab_core::mvcc::{MvccError, prefix_end, watch};
use etcdlab_core::proto::etcdlab::raft_request::Op;
use etcdlab_core::proto::etcdserverpb::compare::{CompareResult, CompareTarget, TargetUnion};
use etcdlab_core::proto::etcdserverpb::range_request::{SortOrder, SortTarget};
use etcdlab_core::proto::etcdserverpb::request_op::Request as RequestKind;
use etcdlab_core::proto::etcdserverpb::response_op::Response as ResponseKind;
use etcdlab_core::proto::etcdserverpb::{
    Compare, DeleteRangeRequest, LeaseGrantRequest, PutRequest, RangeRequest, RangeResponse,
    RequestOp, ResponseHeader, TxnRequest, TxnResponse,
};
use etcdlab_core::proto::mvccpb::KeyValue;
use etcdlab_core::proto::mvccpb::event::EventType;
use redb::ReadableDatabase;
use tonic::Status;
use tonic::metadata::MetadataMap;

use super::auth::{AuthGate, Freshness, KeyAccess};
use super::errors;
use super::kv::read_range;
use super::lease::LeaseService;
use super::member_loop::MemberHandle;
use crate::rpc::etcdserverpb::lease_server::Lease as _;

/// The TTL of the lease made for a lock or campaign that names none (clientv3's session default).
const SESSION_TTL: i64 = 60;

/// The recipes' requests, through one member.
#[derive(Clone)]
pub struct Recipes {
    member: MemberHandle,
    leases: LeaseService,
    auth: AuthGate,
}

/// Who holds a lock or leads an election: the key, its create revision and its lease.
#[derive(Debug, Clone, PartialEq)]
pub struct Holder {
    pub key: Vec<u8>,
    pub create_revision: i64,
    pub lease: i64,
    pub header: ResponseHeader,
}

impl Recipes {
    pub fn new(member: MemberHandle, leases: LeaseService) -> Recipes {
        Recipes {
            auth: AuthGate::new(member.clone()),
            member,
            leases,
        }
    }

    /// While auth is enabled: whether the request's user may read (and with `write`, write)
    /// the keys of the lock or election `name` — what etcd checks on the requests its recipes
    /// send on the caller's behalf.
    pub async fn check_name(
        &self,
        metadata: &MetadataMap,
        name: &[u8],
        write: bool,
    ) -> Result<(), Status> {
        let prefix = [name, b"/"].concat();
        self.check_keys(metadata, &prefix, &prefix_end(&prefix), write)
            .await
    }

    /// Like [`Recipes::check_name`] for the range `[key, range_end)` (`range_end` empty: the
    /// key alone).
    pub async fn check_keys(
        &self,
        metadata: &MetadataMap,
        key: &[u8],
        range_end: &[u8],
        write: bool,
    ) -> Result<(), Status> {
        let mut needs = vec![KeyAccess {
            key,
            range_end,
            access: Access::Read,
        }];
        if write {
            needs.push(KeyAccess {
                key,
                range_end,
                access: Access::Write,
            });
        }
        self.auth
            .check_ranges(metadata, Freshness::Linearizable, &needs)
            .await
    }

    /// clientv3's `Mutex.Lock`: creates `<name>/<lease>` (or finds it from an earlier call),
    /// then waits until every older key under the name is gone.
    pub async fn lock(&self, name: &[u8], lease: i64) -> Result<Holder, Status> {
        self.queue_up(name, lease, b"").await
    }

    /// clientv3's `Election.Campaign`: like [`Recipes::lock`], with `value` as the key's value
    /// (a campaign resumed with another value proclaims the new one first).
    pub async fn campaign(&self, name: &[u8], lease: i64, value: &[u8]) -> Result<Holder, Status> {
        self.queue_up(name, lease, value).await
    }

    async fn queue_up(&self, name: &[u8], lease: i64, value: &[u8]) -> Result<Holder, Status> {
        // As etcd's servers do: no lease given, a session lease of its own (left to expire).
        let lease = if lease == 0 {
            let grant = LeaseGrantRequest {
                ttl: SESSION_TTL,
                id: 0,
            };
            self.leases
                .lease_grant(tonic::Request::new(grant))
                .await?
                .into_inner()
                .id
        } else {
            lease
        };
        let prefix = [name, b"/"].concat();
        let key = [prefix.clone(), format!("{lease:x}").into_bytes()].concat();
        let created = self
            .txn(TxnRequest {
                compare: vec![created_at(&key, 0)],
                success: vec![put_op(&key, value, lease)],
                failure: vec![get_op(single(&key))],
            })
            .await?;
        let header = created.header.unwrap_or_default();
        let mut create_revision = header.revision;
        if !created.succeeded {
            let existing = first_kv(&created, 0).unwrap_or_default();
            create_revision = existing.create_revision;
            if existing.value != value {
                self.proclaim(&key, create_revision, lease, value).await?;
            }
        }
        let header = self.wait_deletes(&prefix, create_revision - 1).await?;
        Ok(Holder {
            key,
            create_revision,
            lease,
            header,
        })
    }

    /// clientv3's `Election.Proclaim`: a new value for the leader's key, if it still leads.
    pub async fn proclaim(
        &self,
        key: &[u8],
        create_revision: i64,
        lease: i64,
        value: &[u8],
    ) -> Result<ResponseHeader, Status> {
        let resp = self
            .txn(TxnRequest {
                compare: vec![created_at(key, create_revision)],
                success: vec![put_op(key, value, lease)],
                failure: vec![],
            })
            .await?;
        if !resp.succeeded {
            return Err(Status::unknown("election: not leader"));
        }
        Ok(resp.header.unwrap_or_default())
    }

    /// clientv3's `Election.Resign`: deletes the leader's key if it is still the same key.
    pub async fn resign(&self, key: &[u8], create_revision: i64) -> Result<ResponseHeader, Status> {
        let resp = self
            .txn(TxnRequest {
                compare: vec![created_at(key, create_revision)],
                success: vec![RequestOp {
                    request: Some(RequestKind::RequestDeleteRange(DeleteRangeRequest {
                        key: key.to_vec(),
                        ..Default::default()
                    })),
                }],
                failure: vec![],
            })
            .await?;
        Ok(resp.header.unwrap_or_default())
    }

    /// `Unlock`: deletes the lock's key.
    pub async fn unlock(&self, key: &[u8]) -> Result<ResponseHeader, Status> {
        let op = Op::DeleteRange(DeleteRangeRequest {
            key: key.to_vec(),
            ..Default::default()
        });
        match self.member.propose(op).await.map_err(errors::member)? {
            WriteResponse::DeleteRange(resp) => Ok(resp.header.unwrap_or_default()),
            _ => Err(Status::internal(
                "etcdserver: unexpected apply result for delete",
            )),
        }
    }

    /// The election's leader now: the oldest key under `<name>/` (`None` if there is none).
    pub async fn leader(&self, name: &[u8]) -> Result<(ResponseHeader, Option<KeyValue>), Status> {
        let prefix = [name, b"/"].concat();
        let resp = self.get(oldest_under(&prefix)).await?;
        Ok((resp.header.unwrap_or_default(), resp.kvs.into_iter().next()))
    }

    /// Waits until a key under `<name>/` exists, then returns the leader's key-value from the
    /// revision it was seen at.
    pub async fn wait_leader(&self, name: &[u8]) -> Result<(ResponseHeader, KeyValue), Status> {
        loop {
            let (header, leader) = self.leader(name).await?;
            if let Some(kv) = leader {
                return Ok((header, kv));
            }
            let prefix = [name, b"/"].concat();
            self.wait_change(&prefix, &prefix_end(&prefix), header.revision + 1)
                .await?;
        }
    }

    /// Waits for the first change of `key` from `from` on: the new version, or `None` if the
    /// change deleted it.
    pub async fn next_change(
        &self,
        key: &[u8],
        from: i64,
    ) -> Result<(i64, Option<KeyValue>), Status> {
        let mut end = key.to_vec();
        end.push(0);
        let event = self.wait_change(key, &end, from).await?;
        let kv = event.kv.unwrap_or_default();
        let deleted = event.r#type == EventType::Delete as i32;
        Ok((kv.mod_revision, (!deleted).then_some(kv)))
    }

    /// clientv3's `waitDeletes`: until no key under `prefix` created at or before `max_create`
    /// is left, wait for the deletion of the newest such key.
    async fn wait_deletes(&self, prefix: &[u8], max_create: i64) -> Result<ResponseHeader, Status> {
        loop {
            let resp = self
                .get(RangeRequest {
                    key: prefix.to_vec(),
                    range_end: prefix_end(prefix),
                    sort_order: SortOrder::Descend as i32,
                    sort_target: SortTarget::Create as i32,
                    limit: 1,
                    max_create_revision: max_create,
                    ..Default::default()
                })
                .await?;
            let header = resp.header.unwrap_or_default();
            let Some(newest) = resp.kvs.first() else {
                return Ok(header);
            };
            // Puts to it (a leader proclaiming) go by; its deletion ends the wait.
            let mut from = header.revision;
            loop {
                let (revision, still_there) = self.next_change(&newest.key, from).await?;
                if still_there.is_none() {
                    break;
                }
                from = revision + 1;
            }
        }
    }

    /// Waits for the first event on `[key, end)` at revision `from` or later, reading the change
    /// log as each new revision is applied here.
    async fn wait_change(
        &self,
        key: &[u8],
        end: &[u8],
        mut from: i64,
    ) -> Result<etcdlab_core::proto::mvccpb::Event, Status> {
        let range = etcdlab_core::mvcc::KeyRange::new(key, end);
        let mut applied = self.member.applied_revision();
        loop {
            let db = self.member.database().map_err(errors::member)?;
            let batch = tokio::task::spawn_blocking(move || {
                let txn = db
                    .begin_read()
                    .map_err(|e| MvccError::Storage(e.to_string()))?;
                watch::changes_since(&txn, from, 1000, false)
            })
            .await
            .map_err(errors::storage)?
            .map_err(|e| errors::mvcc(&e))?;
            let found = batch
                .events
                .into_iter()
                .find(|e| e.kv.as_ref().is_some_and(|kv| range.contains(&kv.key)));
            if let Some(event) = found {
                return Ok(event);
            }
            from = batch.through + 1;
            if from > batch.current && applied.changed().await.is_err() {
                return Err(Status::unavailable("etcdserver: server stopped"));
            }
        }
    }

    async fn txn(&self, req: TxnRequest) -> Result<TxnResponse, Status> {
        match self
            .member
            .propose(Op::Txn(req))
            .await
            .map_err(errors::member)?
        {
            WriteResponse::Txn(resp) => Ok(resp),
            _ => Err(Status::internal(
                "etcdserver: unexpected apply result for txn",
            )),
        }
    }

    /// A linearizable read through this member.
    async fn get(&self, req: RangeRequest) -> Result<RangeResponse, Status> {
        self.member
            .linearizable_barrier()
            .await
            .map_err(errors::member)?;
        read_range(&self.member, &req)
    }
}

/// `create_revision(key) == revision`.
fn created_at(key: &[u8], revision: i64) -> Compare {
    Compare {
        result: CompareResult::Equal as i32,
        target: CompareTarget::Create as i32,
        key: key.to_vec(),
        target_union: Some(TargetUnion::CreateRevision(revision)),
        ..Default::default()
    }
}

fn put_op(key: &[u8], value: &[u8], lease: i64) -> RequestOp {
    RequestOp {
        request: Some(RequestKind::RequestPut(PutRequest {
            key: key.to_vec(),
            value: value.to_vec(),
            lease,
            ..Default::default()
        })),
    }
}

fn get_op(range: RangeRequest) -> RequestOp {
    RequestOp {
        request: Some(RequestKind::RequestRange(range)),
    }
}

fn single(key: &[u8]) -> RangeRequest {
    RangeRequest {
        key: key.to_vec(),
        ..Default::default()
    }
}

/// clientv3's `WithFirstCreate` on a prefix: the oldest key under it.
fn oldest_under(prefix: &[u8]) -> RangeRequest {
    RangeRequest {
        key: prefix.to_vec(),
        range_end: prefix_end(prefix),
        sort_order: SortOrder::Ascend as i32,
        sort_target: SortTarget::Create as i32,
        limit: 1,
        ..Default::default()
    }
}

/// The first key-value of the txn's `i`-th response, if it was a range that found one.
fn first_kv(resp: &TxnResponse, i: usize) -> Option<KeyValue> {
    match resp.responses.get(i)?.response.as_ref()? {
        ResponseKind::ResponseRange(range) => range.kvs.first().cloned(),
        _ => None,
    }
}
