//! `etcdserverpb.KV`: Range, Put, DeleteRange, Txn and Compact.
//!
//! Writes are checked here (empty key, request size, txn duplicate keys), then proposed through
//! Raft and answered when applied. Reads are served from a redb read snapshot: serializable
//! ones at once, linearizable ones after a ReadIndex round confirms this member is current.
//! While auth is enabled, the user's permissions on every key a request touches are checked
//! first ([`super::auth`]).

use etcdlab_core::member::WriteResponse;
use etcdlab_core::mvcc::{self, MvccStore};
use etcdlab_core::proto::etcdlab::raft_request::Op;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use etcdlab_core::proto::etcdserverpb::alarm_request::AlarmAction;
use etcdlab_core::proto::etcdserverpb::{
    AlarmRequest, AlarmType, CompactionRequest, CompactionResponse, DeleteRangeRequest,
    DeleteRangeResponse, PutRequest, PutResponse, RangeRequest, RangeResponse, TxnRequest,
    TxnResponse,
};
use redb::ReadableDatabase;
use tonic::{Request, Response, Status};

use super::auth::{AuthGate, Freshness};
use super::errors;
use super::member_loop::MemberHandle;
use crate::rpc::etcdserverpb::kv_server::Kv;
use etcdlab_core::auth::Access;

pub struct KvService {
    member: MemberHandle,
    max_request_bytes: usize,
    quota: Option<Quota>,
    auth: AuthGate,
}

/// How old the database size a quota check uses may be. etcd's check reads a backend size
/// that changes only at its batched commits (every 100 ms); reading the file's size for every
/// write cost a busy leader a stat per put.
const QUOTA_SIZE_AGE: Duration = Duration::from_millis(100);

/// The backend quota (`--quota-backend-bytes`) and the database file it applies to.
pub struct Quota {
    bytes: u64,
    path: PathBuf,
    /// The file's size and when it was read.
    size: Mutex<Option<(Instant, u64)>>,
}

impl Quota {
    pub fn new(bytes: u64, path: PathBuf) -> Self {
        Quota {
            bytes,
            path,
            size: Mutex::new(None),
        }
    }

    /// Whether a request of `len` bytes still fits.
    fn admits(&self, len: usize) -> bool {
        let mut size = self.size.lock().unwrap_or_else(|p| p.into_inner());
        let file_size = match *size {
            Some((read_at, bytes)) if read_at.elapsed() < QUOTA_SIZE_AGE => bytes,
            _ => {
                let bytes = std::fs::metadata(&self.path).map_or(0, |m| m.len());
                *size = Some((Instant::now(), bytes));
                bytes
            }
        };
        file_size + len as u64 <= self.bytes
    }
}

impl KvService {
    pub fn new(member: MemberHandle, max_request_bytes: usize, quota: Option<Quota>) -> Self {
        KvService {
            auth: AuthGate::new(member.clone()),
            member,
            max_request_bytes,
            quota,
        }
    }

    /// etcd's quota check before a write that adds data: past the quota, raise NOSPACE for
    /// this member (through Raft, so every member refuses writes) and refuse this one.
    async fn check_quota(&self, request: &impl prost::Message) -> Result<(), Status> {
        if self
            .quota
            .as_ref()
            .is_none_or(|quota| quota.admits(request.encoded_len()))
        {
            return Ok(());
        }
        let raise = AlarmRequest {
            action: AlarmAction::Activate as i32,
            member_id: self.member.status().id,
            alarm: AlarmType::Nospace as i32,
        };
        if let Err(e) = self.member.propose(Op::Alarm(raise)).await {
            tracing::warn!("could not raise the NOSPACE alarm: {e}");
        }
        Err(errors::mvcc(&etcdlab_core::mvcc::MvccError::NoSpace))
    }

    fn check_size(&self, request: &impl prost::Message) -> Result<(), Status> {
        if request.encoded_len() > self.max_request_bytes {
            return Err(errors::request_too_large());
        }
        Ok(())
    }

    async fn write(&self, op: Op) -> Result<WriteResponse, Status> {
        self.member.propose(op).await.map_err(errors::member)
    }
}

/// Serves a range on a fresh read snapshot, with this member's header.
pub fn read_range(member: &MemberHandle, req: &RangeRequest) -> Result<RangeResponse, Status> {
    let db = member.database().map_err(errors::member)?;
    let txn = db.begin_read().map_err(errors::storage)?;
    let mut resp = MvccStore::range(&txn, req).map_err(|e| errors::mvcc(&e))?;
    let revision = resp.header.map(|h| h.revision).unwrap_or_default();
    resp.header = Some(member.header(revision));
    Ok(resp)
}

pub(super) fn unexpected(what: &str) -> Status {
    Status::internal(format!("etcdserver: unexpected apply result for {what}"))
}

#[tonic::async_trait]
impl Kv for KvService {
    async fn range(
        &self,
        request: Request<RangeRequest>,
    ) -> Result<Response<RangeResponse>, Status> {
        let (metadata, _, req) = request.into_parts();
        if req.key.is_empty() {
            return Err(errors::empty_key());
        }
        if !req.serializable {
            self.member
                .linearizable_barrier()
                .await
                .map_err(errors::member)?;
        }
        self.auth
            .check_range(
                &metadata,
                Freshness::Local,
                &req.key,
                &req.range_end,
                Access::Read,
            )
            .await?;
        read_range(&self.member, &req).map(Response::new)
    }

    async fn put(&self, request: Request<PutRequest>) -> Result<Response<PutResponse>, Status> {
        let (metadata, _, req) = request.into_parts();
        if req.key.is_empty() {
            return Err(errors::empty_key());
        }
        self.check_size(&req)?;
        self.auth.check_put(&metadata, &req).await?;
        self.check_quota(&req).await?;
        match self.write(Op::Put(req)).await? {
            WriteResponse::Put(resp) => Ok(Response::new(resp)),
            _ => Err(unexpected("put")),
        }
    }

    async fn delete_range(
        &self,
        request: Request<DeleteRangeRequest>,
    ) -> Result<Response<DeleteRangeResponse>, Status> {
        let (metadata, _, req) = request.into_parts();
        if req.key.is_empty() {
            return Err(errors::empty_key());
        }
        self.check_size(&req)?;
        self.auth.check_delete(&metadata, &req).await?;
        match self.write(Op::DeleteRange(req)).await? {
            WriteResponse::DeleteRange(resp) => Ok(Response::new(resp)),
            _ => Err(unexpected("delete")),
        }
    }

    async fn txn(&self, request: Request<TxnRequest>) -> Result<Response<TxnResponse>, Status> {
        let (metadata, _, req) = request.into_parts();
        self.check_size(&req)?;
        mvcc::check_txn(&req).map_err(|e| errors::mvcc(&e))?;
        self.auth.check_txn(&metadata, &req).await?;
        self.check_quota(&req).await?;
        match self.write(Op::Txn(req)).await? {
            WriteResponse::Txn(resp) => Ok(Response::new(resp)),
            _ => Err(unexpected("txn")),
        }
    }

    async fn compact(
        &self,
        request: Request<CompactionRequest>,
    ) -> Result<Response<CompactionResponse>, Status> {
        let req = request.into_inner();
        match self.write(Op::Compaction(req)).await? {
            WriteResponse::Compaction(resp) => Ok(Response::new(resp)),
            _ => Err(unexpected("compaction")),
        }
    }
}
