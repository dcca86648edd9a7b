//! etcd's gRPC errors: the status code and message etcd's clients expect for each failure.
//! The messages are part of the wire contract (`etcdctl` prints them verbatim).

use etcdlab_core::MembershipError;
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
