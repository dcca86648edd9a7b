//! `etcdserverpb.Lease`: LeaseGrant, LeaseRevoke, LeaseKeepAlive, LeaseTimeToLive, LeaseLeases.
//!
//! Grants and revokes go through Raft; a grant without an id gets a fresh one here, made as
//! etcd makes request ids (this member's id in the top bits, the start time and a counter
//! below). Keep-alives and TTLs need the leader's lease clock, so a follower forwards them to
//! the leader's client URL from the member table, with a timeout, marking the request so it
//! is never forwarded twice. `LeaseLeases` lists the lease table this member has applied.
//! While auth is enabled, revoking a lease needs write access to every key it holds, as in
//! etcd 3.4 (which checks no other lease call).

use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use etcdlab_core::WriteResponse;
use etcdlab_core::mvcc::MvccError;
use etcdlab_core::proto::etcdlab::raft_request::Op;
use etcdlab_core::proto::etcdserverpb::{
    LeaseGrantRequest, LeaseGrantResponse, LeaseKeepAliveRequest, LeaseKeepAliveResponse,
    LeaseLeasesRequest, LeaseLeasesResponse, LeaseRevokeRequest, LeaseRevokeResponse,
    LeaseTimeToLiveRequest, LeaseTimeToLiveResponse,
};
use futures::Stream;
use redb::ReadableDatabase;
use tonic::transport::{Channel, Endpoint};
use tonic::{Request, Response, Status, Streaming};

use super::auth::AuthGate;
use super::errors;
use super::kv::unexpected;
use super::member_loop::{MemberError, MemberHandle};
use crate::rpc::etcdserverpb::lease_client::LeaseClient;
use crate::rpc::etcdserverpb::lease_server::Lease;

/// Metadata marking a request a follower forwarded to the leader.
const FORWARDED: &str = "etcdlab-forwarded-by";
/// How long a forwarded request may take, connection included.
const FORWARD_TIMEOUT: Duration = Duration::from_secs(3);

/// The Lease service; one per member, cloned for every client listener.
#[derive(Clone)]
pub struct LeaseService {
    member: MemberHandle,
    ids: Arc<LeaseIds>,
    /// The leader's client URL and a channel to it, reused while the leader stays.
    leader: Arc<Mutex<Option<(String, Channel)>>>,
    auth: AuthGate,
}

/// etcd's id generator: the member id's low 16 bits, then 48 bits that start at the start
/// time in milliseconds (shifted by 8) and count up.
struct LeaseIds {
    prefix: u64,
    counter: AtomicU64,
}

impl LeaseIds {
    fn new(member_id: u64) -> LeaseIds {
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        LeaseIds {
            prefix: (member_id & 0xffff) << 48,
            counter: AtomicU64::new((now_ms & ((1 << 40) - 1)) << 8),
        }
    }

    /// A fresh positive, non-zero lease id.
    fn next(&self) -> i64 {
        loop {
            let suffix = self.counter.fetch_add(1, Ordering::Relaxed) + 1;
            let id = (self.prefix | (suffix & ((1 << 48) - 1))) & (i64::MAX as u64);
            if id != 0 {
                return id as i64;
            }
        }
    }
}

impl LeaseService {
    pub fn new(member: MemberHandle) -> LeaseService {
        let ids = Arc::new(LeaseIds::new(member.status().id));
        LeaseService {
            auth: AuthGate::new(member.clone()),
            member,
            ids,
            leader: Arc::new(Mutex::new(None)),
        }
    }

    async fn write(&self, op: Op) -> Result<WriteResponse, Status> {
        self.member.propose(op).await.map_err(errors::member)
    }

    /// A header with this member's ids and current revision (etcd fills forwarded answers so).
    fn header(&self) -> etcdlab_core::proto::etcdserverpb::ResponseHeader {
        self.member.header(self.member.status().revision)
    }

    /// A client of the leader's Lease service, for requests only the leader can answer.
    fn leader_client(&self) -> Result<LeaseClient<Channel>, Status> {
        let leader = self.member.status().leader_id;
        if leader == 0 {
            return Err(errors::member(MemberError::NoLeader));
        }
        let members = self.member.members().map_err(errors::member)?;
        let url = members
            .iter()
            .find(|m| m.id == leader)
            .and_then(|m| m.client_ur_ls.first())
            .ok_or_else(|| Status::unavailable("etcdserver: the leader's client URL is unknown"))?;
        let mut cached = self.leader.lock().unwrap_or_else(|p| p.into_inner());
        let channel = match cached.as_ref() {
            Some((known, channel)) if known == url => channel.clone(),
            _ => {
                let channel = Endpoint::from_shared(url.clone())
                    .map_err(|e| Status::unavailable(format!("leader URL {url}: {e}")))?
                    .connect_timeout(FORWARD_TIMEOUT)
                    .timeout(FORWARD_TIMEOUT)
                    .connect_lazy();
                *cached = Some((url.clone(), channel.clone()));
                channel
            }
        };
        Ok(LeaseClient::new(channel))
    }

    /// `message` as a request marked forwarded by this member.
    fn forwarded<T>(&self, message: T) -> Request<T> {
        let mut request = Request::new(message);
        request.set_timeout(FORWARD_TIMEOUT);
        let me = format!("{:x}", self.member.status().id);
        if let Ok(value) = me.parse() {
            request.metadata_mut().insert(FORWARDED, value);
        }
        request
    }

    /// One keep-alive: renewed here on the leader, else forwarded to it. A missing lease
    /// answers TTL 0, as etcd's.
    async fn keep_alive(
        &self,
        id: i64,
        may_forward: bool,
    ) -> Result<LeaseKeepAliveResponse, Status> {
        let ttl = match self.member.renew_lease(id).await {
            Ok(ttl) => ttl,
            Err(MemberError::Apply(MvccError::LeaseNotFound)) => 0,
            Err(MemberError::NotLeader) if may_forward => {
                let once = futures::stream::iter([LeaseKeepAliveRequest { id }]);
                let mut answers = self
                    .leader_client()?
                    .lease_keep_alive(self.forwarded(once))
                    .await?
                    .into_inner();
                let answer = tokio::time::timeout(FORWARD_TIMEOUT, answers.message())
                    .await
                    .map_err(|_| errors::member(MemberError::Timeout))??;
                answer
                    .ok_or_else(|| Status::unavailable("etcdserver: the leader ended the stream"))?
                    .ttl
            }
            Err(e) => return Err(errors::member(e)),
        };
        Ok(LeaseKeepAliveResponse {
            header: Some(self.header()),
            id,
            ttl,
        })
    }
}

fn is_forwarded<T>(request: &Request<T>) -> bool {
    request.metadata().contains_key(FORWARDED)
}

type KeepAliveStream =
    Pin<Box<dyn Stream<Item = Result<LeaseKeepAliveResponse, Status>> + Send + 'static>>;

#[tonic::async_trait]
impl Lease for LeaseService {
    async fn lease_grant(
        &self,
        request: Request<LeaseGrantRequest>,
    ) -> Result<Response<LeaseGrantResponse>, Status> {
        let mut req = request.into_inner();
        if req.id == 0 {
            req.id = self.ids.next();
        }
        match self.write(Op::LeaseGrant(req)).await? {
            WriteResponse::LeaseGrant(resp) => Ok(Response::new(resp)),
            _ => Err(unexpected("lease grant")),
        }
    }

    async fn lease_revoke(
        &self,
        request: Request<LeaseRevokeRequest>,
    ) -> Result<Response<LeaseRevokeResponse>, Status> {
        let (metadata, _, req) = request.into_parts();
        self.auth.check_lease(&metadata, req.id).await?;
        match self.write(Op::LeaseRevoke(req)).await? {
            WriteResponse::LeaseRevoke(resp) => Ok(Response::new(resp)),
            _ => Err(unexpected("lease revoke")),
        }
    }

    type LeaseKeepAliveStream = KeepAliveStream;

    /// Answers each keep-alive in order; the stream ends when the client's does, or after an
    /// error (as etcd's, which ends the stream with it).
    async fn lease_keep_alive(
        &self,
        request: Request<Streaming<LeaseKeepAliveRequest>>,
    ) -> Result<Response<Self::LeaseKeepAliveStream>, Status> {
        let may_forward = !is_forwarded(&request);
        let start = Some((request.into_inner(), self.clone()));
        let answers = futures::stream::unfold(start, move |state| async move {
            let (mut incoming, service) = state?;
            let req = incoming.message().await.ok().flatten()?;
            match service.keep_alive(req.id, may_forward).await {
                Ok(resp) => Some((Ok(resp), Some((incoming, service)))),
                Err(status) => Some((Err(status), None)),
            }
        });
        Ok(Response::new(Box::pin(answers)))
    }

    /// A missing lease answers TTL -1 (etcdctl prints "already expired"), as etcd's.
    async fn lease_time_to_live(
        &self,
        request: Request<LeaseTimeToLiveRequest>,
    ) -> Result<Response<LeaseTimeToLiveResponse>, Status> {
        let may_forward = !is_forwarded(&request);
        let req = request.into_inner();
        let mut resp = match self.member.lease_time_to_live(req.id, req.keys).await {
            Ok(resp) => resp,
            Err(MemberError::Apply(MvccError::LeaseNotFound)) => LeaseTimeToLiveResponse {
                id: req.id,
                ttl: -1,
                ..Default::default()
            },
            Err(MemberError::NotLeader) if may_forward => self
                .leader_client()?
                .lease_time_to_live(self.forwarded(req))
                .await?
                .into_inner(),
            Err(e) => return Err(errors::member(e)),
        };
        resp.header = Some(self.header());
        Ok(Response::new(resp))
    }

    async fn lease_leases(
        &self,
        _request: Request<LeaseLeasesRequest>,
    ) -> Result<Response<LeaseLeasesResponse>, Status> {
        let db = self.member.database().map_err(errors::member)?;
        let txn = db.begin_read().map_err(errors::storage)?;
        let leases = etcdlab_core::lease::list(&txn).map_err(|e| errors::mvcc(&e))?;
        Ok(Response::new(LeaseLeasesResponse {
            header: Some(self.header()),
            leases,
        }))
    }
}
