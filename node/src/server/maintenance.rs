//! `etcdserverpb.Maintenance`: Status, Alarm, Defragment, Hash, HashKV, Snapshot and
//! MoveLeader. While auth is enabled, Defragment, Hash, HashKV and Snapshot need the root role,
//! as in etcd 3.4.

use std::path::PathBuf;

use etcdlab_core::alarms;
use etcdlab_core::member::WriteResponse;
use etcdlab_core::mvcc::MvccStore;
use etcdlab_core::proto::etcdlab::raft_request::Op;
use etcdlab_core::proto::etcdserverpb::{
    AlarmRequest, AlarmResponse, DefragmentRequest, DefragmentResponse, HashKvRequest,
    HashKvResponse, HashRequest, HashResponse, MoveLeaderRequest, MoveLeaderResponse,
    ResponseHeader, SnapshotRequest, SnapshotResponse, StatusRequest, StatusResponse,
};
use redb::ReadableDatabase;
use tonic::{Request, Response, Status};

use super::auth::AuthGate;
use super::errors;
use super::member_loop::MemberHandle;
use crate::rpc::etcdserverpb::maintenance_server::Maintenance;
use crate::snapshot::Snapshot;

/// The etcd server version this member reports: the release whose API and output it matches.
pub const ETCD_VERSION: &str = "3.4.23";

/// Bytes per snapshot message, as etcd sends them.
const SNAPSHOT_CHUNK: usize = 32 * 1024;

pub struct MaintenanceService {
    member: MemberHandle,
    db_path: PathBuf,
    /// How long a leadership transfer may take (etcd allows the election timeout).
    transfer_timeout: std::time::Duration,
    auth: AuthGate,
}

impl MaintenanceService {
    pub fn new(
        member: MemberHandle,
        db_path: PathBuf,
        transfer_timeout: std::time::Duration,
    ) -> Self {
        MaintenanceService {
            auth: AuthGate::new(member.clone()),
            member,
            db_path,
            transfer_timeout,
        }
    }
}

impl MaintenanceService {
    async fn admin<T>(&self, request: &Request<T>) -> Result<(), Status> {
        self.auth.check_maintenance_admin(request.metadata()).await
    }
}

#[tonic::async_trait]
impl Maintenance for MaintenanceService {
    /// Alarms go through Raft, listing included, as in etcd.
    async fn alarm(
        &self,
        request: Request<AlarmRequest>,
    ) -> Result<Response<AlarmResponse>, Status> {
        match self
            .member
            .propose(Op::Alarm(request.into_inner()))
            .await
            .map_err(errors::member)?
        {
            WriteResponse::Alarm(mut resp) => {
                resp.header = Some(self.member.header(self.member.status().revision));
                Ok(Response::new(resp))
            }
            _ => Err(Status::internal(
                "etcdserver: unexpected apply result for an alarm",
            )),
        }
    }

    async fn status(&self, _: Request<StatusRequest>) -> Result<Response<StatusResponse>, Status> {
        let s = self.member.status();
        let db_size = std::fs::metadata(&self.db_path)
            .map(|m| m.len() as i64)
            .unwrap_or(0);
        let mut errors = Vec::new();
        if s.leader_id == 0 {
            errors.push("etcdserver: no leader".to_string());
        }
        let db = self.member.database().map_err(errors::member)?;
        let txn = db.begin_read().map_err(errors::storage)?;
        errors.extend(
            alarms::active(&txn)
                .map_err(errors::storage)?
                .iter()
                .map(alarms::describe),
        );
        let is_learner = etcdlab_core::membership::list(&txn)
            .map_err(errors::storage)?
            .iter()
            .any(|m| m.id == s.id && m.is_learner);
        Ok(Response::new(StatusResponse {
            header: Some(self.member.header(s.revision)),
            version: ETCD_VERSION.to_string(),
            db_size,
            leader: s.leader_id,
            raft_index: s.commit_index,
            raft_term: s.term,
            raft_applied_index: s.applied_index,
            errors,
            db_size_in_use: db_size,
            is_learner,
        }))
    }

    /// Compacts this member's database file; the member pauses meanwhile, as etcd's does.
    async fn defragment(
        &self,
        request: Request<DefragmentRequest>,
    ) -> Result<Response<DefragmentResponse>, Status> {
        self.admin(&request).await?;
        self.member.defragment().await.map_err(errors::member)?;
        Ok(Response::new(DefragmentResponse {
            header: Some(self.member.header(self.member.status().revision)),
        }))
    }

    /// A CRC-32C of every replicated table (key space, members, cluster version, alarms):
    /// equal on members that have applied the same entries.
    async fn hash(&self, request: Request<HashRequest>) -> Result<Response<HashResponse>, Status> {
        self.admin(&request).await?;
        let db = self.member.database().map_err(errors::member)?;
        let txn = db.begin_read().map_err(errors::storage)?;
        let hash = etcdlab_core::state_snapshot::hash(&txn).map_err(errors::storage)?;
        Ok(Response::new(HashResponse {
            header: Some(self.member.header(self.member.status().revision)),
            hash,
        }))
    }

    async fn hash_kv(
        &self,
        request: Request<HashKvRequest>,
    ) -> Result<Response<HashKvResponse>, Status> {
        self.admin(&request).await?;
        let db = self.member.database().map_err(errors::member)?;
        let txn = db.begin_read().map_err(errors::storage)?;
        let (hash, compact_revision, revision) =
            MvccStore::hash_kv(&txn, request.into_inner().revision)
                .map_err(|e| errors::mvcc(&e))?;
        Ok(Response::new(HashKvResponse {
            header: Some(self.member.header(revision)),
            hash,
            compact_revision,
        }))
    }

    type SnapshotStream =
        std::pin::Pin<Box<dyn futures::Stream<Item = Result<SnapshotResponse, Status>> + Send>>;

    /// Streams a snapshot of the key space: a consistent copy, then its SHA-256, in chunks.
    async fn snapshot(
        &self,
        request: Request<SnapshotRequest>,
    ) -> Result<Response<Self::SnapshotStream>, Status> {
        self.admin(&request).await?;
        let db = self.member.database().map_err(errors::member)?;
        let dir = self.db_path.parent().map(PathBuf::from).unwrap_or_default();
        let snapshot = tokio::task::spawn_blocking(move || Snapshot::take(&db, &dir))
            .await
            .map_err(errors::storage)?
            .map_err(errors::storage)?;
        let header = self.member.header(self.member.status().revision);
        // Chunks are read as the client takes them: a few in memory, never the whole copy.
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        tokio::task::spawn_blocking(move || stream_snapshot(snapshot, header, tx));
        let chunks = futures::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|chunk| (chunk, rx))
        });
        Ok(Response::new(Box::pin(chunks)))
    }

    /// Hands leadership to a voting member and waits until it leads (etcd's MoveLeader).
    async fn move_leader(
        &self,
        request: Request<MoveLeaderRequest>,
    ) -> Result<Response<MoveLeaderResponse>, Status> {
        let target = request.into_inner().target_id;
        let status = self.member.status();
        if status.leader_id != status.id {
            return Err(Status::failed_precondition("etcdserver: not leader"));
        }
        let members = self.member.members().map_err(errors::member)?;
        if !members.iter().any(|m| m.id == target && !m.is_learner) {
            return Err(Status::failed_precondition(
                "etcdserver: bad leader transferee",
            ));
        }
        self.member.transfer_leader(target);
        let deadline = tokio::time::Instant::now() + self.transfer_timeout;
        while self.member.status().leader_id != target {
            if tokio::time::Instant::now() > deadline {
                return Err(Status::unavailable(
                    "etcdserver: request timed out, leader transfer took too long",
                ));
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        Ok(Response::new(MoveLeaderResponse {
            header: Some(self.member.header(status.revision)),
        }))
    }
}

/// Sends `snapshot` to `tx` in etcd's chunk size, each chunk saying how many bytes remain
/// after it; stops early when the client has gone.
fn stream_snapshot(
    mut snapshot: Snapshot,
    header: ResponseHeader,
    tx: tokio::sync::mpsc::Sender<Result<SnapshotResponse, Status>>,
) {
    let mut remaining = snapshot.len();
    while remaining > 0 {
        let chunk = match snapshot.read_piece(SNAPSHOT_CHUNK) {
            Ok(blob) if blob.is_empty() => Err(Status::internal("the snapshot copy ended early")),
            Ok(blob) => {
                remaining = remaining.saturating_sub(blob.len() as u64);
                Ok(SnapshotResponse {
                    header: Some(header),
                    remaining_bytes: remaining,
                    blob,
                })
            }
            Err(e) => Err(errors::storage(e)),
        };
        let failed = chunk.is_err();
        if tx.blocking_send(chunk).is_err() || failed {
            return;
        }
    }
}
