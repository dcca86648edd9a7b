//! etcd's gRPC errors: the status code and message etcd's clients expect for each failure.
//! The messages are part of the wire contract (`etcdctl` prints them verbatim).

use etcdlab_core::MembershipError;
use etcdlab_core::auth::AuthError;
use etcdlab_core::mvcc::MvccError;
use tonic::{Code, Status};

use super::member_loop::MemberError;

pub fn empty_key() -> Status {
    Status::invalid_argument("etcdserver: key is not provided")
}

pub fn request_too_large() -> Status {
    Status::invalid_argument("etcdserver: request is too large")
}

pub fn mvcc(e: &MvccError) -> Status {
    let code = match e {
        MvccError::Compacted | MvccError::FutureRevision => Code::OutOfRange,
        MvccError::Storage(_) => Code::Internal,
        MvccError::NoSpace => Code::ResourceExhausted,
        MvccError::LeaseNotFound => Code::NotFound,
        MvccError::LeaseExists => Code::FailedPrecondition,
        MvccError::LeaseTtlTooLarge => Code::OutOfRange,
        _ => Code::InvalidArgument,
    };
    Status::new(code, e.to_string())
}

pub fn member(e: MemberError) -> Status {
    match e {
        MemberError::Apply(e) => mvcc(&e),
        MemberError::Membership(e) => {
            let code = match e {
                MembershipError::MemberNotFound => Code::NotFound,
                _ => Code::FailedPrecondition,
            };
            Status::new(code, e.to_string())
        }
        other => Status::unavailable(other.to_string()),
    }
}

pub fn storage(e: impl std::fmt::Display) -> Status {
    Status::internal(format!("etcdserver: storage: {e}"))
}

/// etcd's status code for each auth refusal.
pub fn auth(e: &AuthError) -> Status {
    let code = match e {
        AuthError::UserEmpty
        | AuthError::RoleEmpty
        | AuthError::AuthFailed
        | AuthError::InvalidAuthMgmt
        | AuthError::OldRevision => Code::InvalidArgument,
        AuthError::PermissionDenied => Code::PermissionDenied,
        AuthError::InvalidAuthToken => Code::Unauthenticated,
        AuthError::NoPasswordUser => Code::Unknown,
        AuthError::RootUserNotExist
        | AuthError::RootRoleNotExist
        | AuthError::UserAlreadyExist
        | AuthError::UserNotFound
        | AuthError::RoleAlreadyExist
        | AuthError::RoleNotFound
        | AuthError::RoleNotGranted
        | AuthError::PermissionNotGranted
        | AuthError::AuthNotEnabled => Code::FailedPrecondition,
    };
    Status::new(code, e.to_string())
}

/// An auth refusal as etcd 3.4's Maintenance service sends it: its internal error, unmapped
/// (code Unknown, `auth: ...`), which etcdctl prints as `rpc error: ...`.
pub fn auth_unmapped(e: &AuthError) -> Status {
    let text = match e {
        AuthError::UserAlreadyExist => "auth: user already exists".to_string(),
        AuthError::UserNotFound => "auth: user not found".to_string(),
        AuthError::RoleAlreadyExist => "auth: role already exists".to_string(),
        AuthError::RoleNotFound => "auth: role not found".to_string(),
        AuthError::OldRevision => "auth: revision in header is old".to_string(),
        other => other.to_string().replacen("etcdserver: ", "auth: ", 1),
    };
    Status::unknown(text)
}
