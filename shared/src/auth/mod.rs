//! Users, roles and key permissions (etcd's auth store), replicated through Raft.
//!
//! - [`store`]: the redb tables (users, roles, the enabled flag, the auth revision and the
//!   token secret), changed only by applied Raft entries with etcd's rules, and read by the
//!   host to answer `user get`, `role list`, ... and to authorize requests.
//! - [`permissions`]: may a user read or write a key range? (root passes, other users need
//!   the union of their roles' permissions to cover the whole range).
//! - [`token`]: the tokens `Authenticate` hands out, signed with the cluster's secret so that
//!   any member can check them without asking another.
//!
//! Passwords reach the core already hashed (bcrypt, by the host, before proposing): a Raft
//! entry never carries a password in plain text.

pub mod permissions;
pub mod store;
pub mod token;

pub use permissions::Access;
pub use store::{AuthState, ROOT};

/// Why an auth request or an authorization failed: etcd's gRPC messages, word for word.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("etcdserver: root user does not exist")]
    RootUserNotExist,
    #[error("etcdserver: root user does not have root role")]
    RootRoleNotExist,
    #[error("etcdserver: user name already exists")]
    UserAlreadyExist,
    #[error("etcdserver: user name is empty")]
    UserEmpty,
    #[error("etcdserver: user name not found")]
    UserNotFound,
    #[error("etcdserver: role name already exists")]
    RoleAlreadyExist,
    #[error("etcdserver: role name not found")]
    RoleNotFound,
    #[error("etcdserver: role name is empty")]
    RoleEmpty,
    #[error("etcdserver: authentication failed, invalid user ID or password")]
    AuthFailed,
    /// etcd has no gRPC error of its own for this one and sends its internal text.
    #[error("auth: authentication failed, password was given for no password user")]
    NoPasswordUser,
    #[error("etcdserver: permission denied")]
    PermissionDenied,
    #[error("etcdserver: role is not granted to the user")]
    RoleNotGranted,
    #[error("etcdserver: permission is not granted to the role")]
    PermissionNotGranted,
    #[error("etcdserver: authentication is not enabled")]
    AuthNotEnabled,
    #[error("etcdserver: invalid auth token")]
    InvalidAuthToken,
    #[error("etcdserver: invalid auth management")]
    InvalidAuthMgmt,
    /// The token was issued before the auth store last changed: authenticate again.
    #[error("etcdserver: revision of auth store is old")]
    OldRevision,
}
