//! `etcdserverpb.Cluster`: MemberList from the replicated member table; MemberAdd,
//! MemberRemove, MemberPromote (Raft conf changes) and MemberUpdate (new peer URLs).
//! A member added at run time gets its id as etcd gives it: from its peer URLs and the time.

use etcdlab_core::member::WriteResponse;
use etcdlab_core::proto::etcdserverpb::{
    Member as MemberInfo, MemberAddRequest, MemberAddResponse, MemberListRequest,
    MemberListResponse, MemberPromoteRequest, MemberPromoteResponse, MemberRemoveRequest,
    MemberRemoveResponse, MemberUpdateRequest, MemberUpdateResponse, ResponseHeader,
};
use etcdlab_core::{MembershipChange, membership};
use tonic::{Request, Response, Status};

use super::errors;
use super::member_loop::MemberHandle;
use crate::rpc::etcdserverpb::cluster_server::Cluster;

pub struct ClusterService {
    member: MemberHandle,
}

impl ClusterService {
    pub fn new(member: MemberHandle) -> Self {
        ClusterService { member }
    }

    /// Carries out a change; returns the header, the member it concerned and the new list.
    async fn change(
        &self,
        change: MembershipChange,
    ) -> Result<(ResponseHeader, Option<MemberInfo>, Vec<MemberInfo>), Status> {
        match self
            .member
            .change_membership(change)
            .await
            .map_err(errors::member)?
        {
            WriteResponse::Membership { member, members } => {
                Ok((self.member.header(0), member, members))
            }
            _ => Err(Status::internal(
                "etcdserver: unexpected apply result for a membership change",
            )),
        }
    }
}

/// Peer URLs as etcd accepts them: http(s)://host:port, normalised without a trailing slash.
fn peer_urls(urls: &[String]) -> Result<Vec<String>, Status> {
    let invalid = || Status::invalid_argument("etcdserver: given member URLs are invalid");
    if urls.is_empty() {
        return Err(invalid());
    }
    urls.iter()
        .map(|u| {
            let parsed = url::Url::parse(u).map_err(|_| invalid())?;
            if !matches!(parsed.scheme(), "http" | "https")
                || parsed.host_str().is_none()
                || parsed.port().is_none()
            {
                return Err(invalid());
            }
            Ok(parsed.as_str().trim_end_matches('/').to_string())
        })
        .collect()
}

#[tonic::async_trait]
impl Cluster for ClusterService {
    async fn member_list(
        &self,
        _: Request<MemberListRequest>,
    ) -> Result<Response<MemberListResponse>, Status> {
        let mut members = self.member.members().map_err(errors::member)?;
        if members.is_empty() {
            // Just started (or joining): the member table is not applied yet. Answer once this
            // member has caught up with the leader rather than with an empty cluster.
            self.member
                .linearizable_barrier()
                .await
                .map_err(errors::member)?;
            members = self.member.members().map_err(errors::member)?;
        }
        Ok(Response::new(MemberListResponse {
            header: Some(self.member.header(0)),
            members,
        }))
    }

    async fn member_add(
        &self,
        request: Request<MemberAddRequest>,
    ) -> Result<Response<MemberAddResponse>, Status> {
        let req = request.into_inner();
        let urls = peer_urls(&req.peer_ur_ls)?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        let id = membership::member_id(&urls, "", Some(now));
        let change = MembershipChange::Add {
            id,
            peer_urls: urls,
            is_learner: req.is_learner,
        };
        let (header, member, members) = self.change(change).await?;
        Ok(Response::new(MemberAddResponse {
            header: Some(header),
            member,
            members,
        }))
    }

    async fn member_remove(
        &self,
        request: Request<MemberRemoveRequest>,
    ) -> Result<Response<MemberRemoveResponse>, Status> {
        let (header, _, members) = self
            .change(MembershipChange::Remove {
                id: request.into_inner().id,
            })
            .await?;
        Ok(Response::new(MemberRemoveResponse {
            header: Some(header),
            members,
        }))
    }

    async fn member_update(
        &self,
        request: Request<MemberUpdateRequest>,
    ) -> Result<Response<MemberUpdateResponse>, Status> {
        let req = request.into_inner();
        let change = MembershipChange::Update {
            id: req.id,
            peer_urls: peer_urls(&req.peer_ur_ls)?,
        };
        let (header, _, members) = self.change(change).await?;
        Ok(Response::new(MemberUpdateResponse {
            header: Some(header),
            members,
        }))
    }

    async fn member_promote(
        &self,
        request: Request<MemberPromoteRequest>,
    ) -> Result<Response<MemberPromoteResponse>, Status> {
        let (header, _, members) = self
            .change(MembershipChange::Promote {
                id: request.into_inner().id,
            })
            .await?;
        Ok(Response::new(MemberPromoteResponse {
            header: Some(header),
            members,
        }))
    }
}
