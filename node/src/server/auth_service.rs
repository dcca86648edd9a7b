//! `etcdserverpb.Auth`: users, roles, permissions, `auth enable|disable` and Authenticate.
//!
//! Changes are checked for admin rights (the root role, once auth is enabled), passwords are
//! hashed, and the change goes through Raft; the auth store's rules and refusals are the
//! core's. Reads (`user get`, `role list`, ...) and Authenticate answer from this member's
//! store after a ReadIndex round, as etcd's do. Any user may read itself and its own roles.

use etcdlab_core::auth::AuthError;
use etcdlab_core::member::WriteResponse;
use etcdlab_core::proto::etcdlab::raft_request::Op;
use etcdlab_core::proto::etcdlab::{AuthEnable, UserAdd, UserChangePassword};
use etcdlab_core::proto::etcdserverpb::*;
use tonic::metadata::MetadataMap;
use tonic::{Request, Response, Status};

use super::auth::{AuthGate, Freshness, hash_password, password_matches};
use super::errors;
use super::member_loop::MemberHandle;
use crate::rpc::etcdserverpb::auth_server::Auth;

pub struct AuthService {
    member: MemberHandle,
    gate: AuthGate,
}

impl AuthService {
    pub fn new(member: MemberHandle) -> Self {
        AuthService {
            gate: AuthGate::new(member.clone()),
            member,
        }
    }

    fn header(&self) -> Option<ResponseHeader> {
        Some(self.member.header(self.member.status().revision))
    }

    /// Proposes an auth change for an admin; answers with the response header.
    async fn change(
        &self,
        metadata: &MetadataMap,
        op: Op,
    ) -> Result<Option<ResponseHeader>, Status> {
        self.gate
            .check_admin(metadata, Freshness::Linearizable)
            .await?;
        self.apply(op).await
    }

    async fn apply(&self, op: Op) -> Result<Option<ResponseHeader>, Status> {
        match self.member.propose(op).await.map_err(errors::member)? {
            WriteResponse::Auth(Ok(())) => Ok(self.header()),
            WriteResponse::Auth(Err(e)) => Err(errors::auth(&e)),
            _ => Err(Status::internal(
                "etcdserver: unexpected apply result for auth",
            )),
        }
    }

    /// Waits until this member has applied every change committed before the call.
    async fn barrier(&self) -> Result<(), Status> {
        self.member
            .linearizable_barrier()
            .await
            .map_err(errors::member)
    }
}

fn refused(e: AuthError) -> Status {
    errors::auth(&e)
}

#[tonic::async_trait]
impl Auth for AuthService {
    async fn auth_enable(
        &self,
        request: Request<AuthEnableRequest>,
    ) -> Result<Response<AuthEnableResponse>, Status> {
        let op = Op::AuthEnable(AuthEnable {
            token_secret: rand::random::<[u8; 32]>().to_vec(),
        });
        let header = self.change(request.metadata(), op).await?;
        Ok(Response::new(AuthEnableResponse { header }))
    }

    async fn auth_disable(
        &self,
        request: Request<AuthDisableRequest>,
    ) -> Result<Response<AuthDisableResponse>, Status> {
        let op = Op::AuthDisable(AuthDisableRequest {});
        let header = self.change(request.metadata(), op).await?;
        Ok(Response::new(AuthDisableResponse { header }))
    }

    async fn authenticate(
        &self,
        request: Request<AuthenticateRequest>,
    ) -> Result<Response<AuthenticateResponse>, Status> {
        let req = request.into_inner();
        self.barrier().await?;
        let view = self.gate.view()?;
        let state = view.state().map_err(errors::storage)?;
        if !state.enabled {
            return Err(refused(AuthError::AuthNotEnabled));
        }
        let user = view
            .user(&req.name)
            .map_err(errors::storage)?
            .ok_or_else(|| refused(AuthError::AuthFailed))?;
        if user.options.is_some_and(|o| o.no_password) {
            return Err(refused(AuthError::NoPasswordUser));
        }
        if !password_matches(req.password, user.password).await {
            return Err(refused(AuthError::AuthFailed));
        }
        let token = self.gate.issue_token(&view, &req.name)?;
        Ok(Response::new(AuthenticateResponse {
            header: self.header(),
            token,
        }))
    }

    async fn user_add(
        &self,
        request: Request<AuthUserAddRequest>,
    ) -> Result<Response<AuthUserAddResponse>, Status> {
        let (metadata, _, req) = request.into_parts();
        self.gate
            .check_admin(&metadata, Freshness::Linearizable)
            .await?;
        if req.name.is_empty() {
            return Err(refused(AuthError::UserEmpty));
        }
        let no_password = req.options.is_some_and(|o| o.no_password);
        let password_hash = if no_password {
            Vec::new()
        } else {
            hash_password(req.password).await?
        };
        let op = Op::UserAdd(UserAdd {
            name: req.name,
            password_hash,
            options: req.options,
        });
        let header = self.apply(op).await?;
        Ok(Response::new(AuthUserAddResponse { header }))
    }

    async fn user_get(
        &self,
        request: Request<AuthUserGetRequest>,
    ) -> Result<Response<AuthUserGetResponse>, Status> {
        let (metadata, _, req) = request.into_parts();
        self.barrier().await?;
        self.gate
            .authorize(&metadata, Freshness::Local, |view, user| {
                if user == req.name {
                    return Ok(());
                }
                Ok(view.check_admin(user)??)
            })
            .await?;
        let user = self
            .gate
            .view()?
            .user(&req.name)
            .map_err(errors::storage)?
            .ok_or_else(|| refused(AuthError::UserNotFound))?;
        Ok(Response::new(AuthUserGetResponse {
            header: self.header(),
            roles: user.roles,
        }))
    }

    async fn user_list(
        &self,
        request: Request<AuthUserListRequest>,
    ) -> Result<Response<AuthUserListResponse>, Status> {
        self.barrier().await?;
        self.gate
            .check_admin(request.metadata(), Freshness::Local)
            .await?;
        let users = self.gate.view()?.user_names().map_err(errors::storage)?;
        Ok(Response::new(AuthUserListResponse {
            header: self.header(),
            users,
        }))
    }

    async fn user_delete(
        &self,
        request: Request<AuthUserDeleteRequest>,
    ) -> Result<Response<AuthUserDeleteResponse>, Status> {
        let (metadata, _, req) = request.into_parts();
        let header = self.change(&metadata, Op::UserDelete(req)).await?;
        Ok(Response::new(AuthUserDeleteResponse { header }))
    }

    async fn user_change_password(
        &self,
        request: Request<AuthUserChangePasswordRequest>,
    ) -> Result<Response<AuthUserChangePasswordResponse>, Status> {
        let (metadata, _, req) = request.into_parts();
        self.gate
            .check_admin(&metadata, Freshness::Linearizable)
            .await?;
        let op = Op::UserChangePassword(UserChangePassword {
            name: req.name,
            password_hash: hash_password(req.password).await?,
        });
        let header = self.apply(op).await?;
        Ok(Response::new(AuthUserChangePasswordResponse { header }))
    }

    async fn user_grant_role(
        &self,
        request: Request<AuthUserGrantRoleRequest>,
    ) -> Result<Response<AuthUserGrantRoleResponse>, Status> {
        let (metadata, _, req) = request.into_parts();
        let header = self.change(&metadata, Op::UserGrantRole(req)).await?;
        Ok(Response::new(AuthUserGrantRoleResponse { header }))
    }

    async fn user_revoke_role(
        &self,
        request: Request<AuthUserRevokeRoleRequest>,
    ) -> Result<Response<AuthUserRevokeRoleResponse>, Status> {
        let (metadata, _, req) = request.into_parts();
        let header = self.change(&metadata, Op::UserRevokeRole(req)).await?;
        Ok(Response::new(AuthUserRevokeRoleResponse { header }))
    }

    async fn role_add(
        &self,
        request: Request<AuthRoleAddRequest>,
    ) -> Result<Response<AuthRoleAddResponse>, Status> {
        let (metadata, _, req) = request.into_parts();
        let header = self.change(&metadata, Op::RoleAdd(req)).await?;
        Ok(Response::new(AuthRoleAddResponse { header }))
    }

    async fn role_get(
        &self,
        request: Request<AuthRoleGetRequest>,
    ) -> Result<Response<AuthRoleGetResponse>, Status> {
        let (metadata, _, req) = request.into_parts();
        self.barrier().await?;
        self.gate
            .authorize(&metadata, Freshness::Local, |view, user| {
                let holds_role = view
                    .user(user)?
                    .is_some_and(|u| u.roles.contains(&req.role));
                if holds_role {
                    return Ok(());
                }
                Ok(view.check_admin(user)??)
            })
            .await?;
        let view = self.gate.view()?;
        let perm = view
            .role(&req.role)
            .map_err(errors::storage)?
            .ok_or_else(|| refused(AuthError::RoleNotFound))?
            .key_permission;
        Ok(Response::new(AuthRoleGetResponse {
            header: self.header(),
            perm,
        }))
    }

    async fn role_list(
        &self,
        request: Request<AuthRoleListRequest>,
    ) -> Result<Response<AuthRoleListResponse>, Status> {
        self.barrier().await?;
        self.gate
            .check_admin(request.metadata(), Freshness::Local)
            .await?;
        let roles = self.gate.view()?.role_names().map_err(errors::storage)?;
        Ok(Response::new(AuthRoleListResponse {
            header: self.header(),
            roles,
        }))
    }

    async fn role_delete(
        &self,
        request: Request<AuthRoleDeleteRequest>,
    ) -> Result<Response<AuthRoleDeleteResponse>, Status> {
        let (metadata, _, req) = request.into_parts();
        let header = self.change(&metadata, Op::RoleDelete(req)).await?;
        Ok(Response::new(AuthRoleDeleteResponse { header }))
    }

    async fn role_grant_permission(
        &self,
        request: Request<AuthRoleGrantPermissionRequest>,
    ) -> Result<Response<AuthRoleGrantPermissionResponse>, Status> {
        let (metadata, _, req) = request.into_parts();
        if req.perm.is_none() {
            return Err(refused(AuthError::InvalidAuthMgmt));
        }
        let header = self.change(&metadata, Op::RoleGrantPermission(req)).await?;
        Ok(Response::new(AuthRoleGrantPermissionResponse { header }))
    }

    async fn role_revoke_permission(
        &self,
        request: Request<AuthRoleRevokePermissionRequest>,
    ) -> Result<Response<AuthRoleRevokePermissionResponse>, Status> {
        let (metadata, _, req) = request.into_parts();
        let header = self
            .change(&metadata, Op::RoleRevokePermission(req))
            .await?;
        Ok(Response::new(AuthRoleRevokePermissionResponse { header }))
    }
}
