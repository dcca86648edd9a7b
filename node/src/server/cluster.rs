//! `etcdserverpb.Cluster`: MemberList from the replicated member table. Adding, removing,
//! updating and promoting members arrive with the cluster issue.

use etcdlab_core::membership;
use etcdlab_core::proto::etcdserverpb::{
    MemberAddRequest, MemberAddResponse, MemberListRequest, MemberListResponse,
    MemberPromoteRequest, MemberPromoteResponse, MemberRemoveRequest, MemberRemoveResponse,
    MemberUpdateRequest, MemberUpdateResponse,
};
use redb::ReadableDatabase;
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
}

fn not_yet(what: &str) -> Status {
    Status::unimplemented(format!("etcdlab: member {what} is not supported yet"))
}

#[tonic::async_trait]
impl Cluster for ClusterService {
    async fn member_list(
        &self,
        _: Request<MemberListRequest>,
    ) -> Result<Response<MemberListResponse>, Status> {
        let txn = self
            .member
            .database()
            .begin_read()
            .map_err(errors::storage)?;
        let members = membership::list(&txn).map_err(errors::storage)?;
        Ok(Response::new(MemberListResponse {
            header: Some(self.member.header(0)),
            members,
        }))
    }

    async fn member_add(
        &self,
        _: Request<MemberAddRequest>,
    ) -> Result<Response<MemberAddResponse>, Status> {
        Err(not_yet("add"))
    }

    async fn member_remove(
        &self,
        _: Request<MemberRemoveRequest>,
    ) -> Result<Response<MemberRemoveResponse>, Status> {
        Err(not_yet("remove"))
    }

    async fn member_update(
        &self,
        _: Request<MemberUpdateRequest>,
    ) -> Result<Response<MemberUpdateResponse>, Status> {
        Err(not_yet("update"))
    }

    async fn member_promote(
        &self,
        _: Request<MemberPromoteRequest>,
    ) -> Result<Response<MemberPromoteResponse>, Status> {
        Err(not_yet("promote"))
    }
}
