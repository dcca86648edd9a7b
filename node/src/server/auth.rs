//! Who sends a request, and may they? The server side of etcd's auth: while auth is enabled,
//! every request carries a `token` metadata entry (clientv3 and etcdctl send it after
//! `Authenticate`); [`AuthGate`] checks the token (see the core's `auth::token`) against this
//! member's auth store and the request against the user's permissions, with etcd's errors:
//! no token is "user name is empty", a bad or expired one "invalid auth token", one issued
//! before the store last changed "revision of auth store is old" (clients then authenticate
//! again), a missing permission "permission denied".
//! A request without a token over a TLS connection with a client certificate acts as the user
//! named by the certificate's CN, as etcd does with `--client-cert-auth` (the member, never the
//! client, sets [`CERT_USER`]).
//!
//! Every service asks the gate before doing anything: KV and Watch with the key ranges a
//! request touches ([`AuthGate::check_range`], [`AuthGate::check_txn`]), Lease revocations
//! with the keys the lease holds ([`AuthGate::check_lease`]), admin calls with
//! [`AuthGate::check_admin`]. Checks that come before a write first bring this member's
//! auth store up to date (a ReadIndex round, only while auth is enabled), so a permission
//! revoked through any member is refused on every member once the revocation returned.
//! Password hashing lives here too: bcrypt as etcd, done before the change is proposed.

use std::time::{SystemTime, UNIX_EPOCH};

use etcdlab_core::CoreError;
use etcdlab_core::auth::store::{self, ReadView};
use etcdlab_core::auth::{Access, AuthError, token};
use etcdlab_core::mvcc::MvccStore;
use etcdlab_core::proto::etcdserverpb::request_op::Request as TxnOp;
use etcdlab_core::proto::etcdserverpb::{DeleteRangeRequest, PutRequest, TxnRequest};
use redb::ReadableDatabase;
use tonic::Status;
use tonic::metadata::MetadataMap;

use super::errors;
use super::member_loop::MemberHandle;

/// The metadata entry carrying the client certificate's CN, set by
/// [`super::tls_listener::ClientCertUser`] (which removes any a client sent).
pub const CERT_USER: &str = "x-etcdlab-client-cert-cn";

/// How long a token is valid (etcd's simple tokens live 5 minutes without use).
pub const TOKEN_TTL_SECS: u64 = 300;
/// bcrypt's work factor: etcd's default cost.
const BCRYPT_COST: u32 = 10;

/// Whether a check must see every auth change committed before it (a ReadIndex round first).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Freshness {
    /// The member's applied state is enough (the caller already did a ReadIndex round, or
    /// etcd too answers from local state).
    Local,
    Linearizable,
}

/// One key range a request reads or writes, in etcd's notation.
pub struct KeyAccess<'a> {
    pub key: &'a [u8],
    pub range_end: &'a [u8],
    pub access: Access,
}

/// The auth checks of one member's services.
#[derive(Clone)]
pub struct AuthGate {
    member: MemberHandle,
}

impl AuthGate {
    pub fn new(member: MemberHandle) -> Self {
        AuthGate { member }
    }

    /// Checks that the request's user may access every range in `needs` (nothing to check
    /// while auth is disabled).
    pub async fn check_ranges(
        &self,
        metadata: &MetadataMap,
        freshness: Freshness,
        needs: &[KeyAccess<'_>],
    ) -> Result<(), Status> {
        self.authorize(metadata, freshness, |view, user| {
            for need in needs {
                view.check_access(user, need.key, need.range_end, need.access)??;
            }
            Ok(())
        })
        .await
    }

    /// Checks access to one key range; what every key-range service (Lease's too) needs.
    pub async fn check_range(
        &self,
        metadata: &MetadataMap,
        freshness: Freshness,
        key: &[u8],
        range_end: &[u8],
        access: Access,
    ) -> Result<(), Status> {
        let need = KeyAccess {
            key,
            range_end,
            access,
        };
        self.check_ranges(metadata, freshness, &[need]).await
    }

    /// A put writes its key, and reads it too when it returns the previous value; a put that
    /// attaches a lease also needs what revoking the lease needs ([`AuthGate::check_lease`]).
    pub async fn check_put(&self, metadata: &MetadataMap, req: &PutRequest) -> Result<(), Status> {
        self.check_ranges(metadata, Freshness::Linearizable, &put_needs(req))
            .await?;
        if req.lease != 0 {
            self.check_lease(metadata, req.lease).await?;
        }
        Ok(())
    }

    /// etcd's rule for revoking a lease (and attaching more keys to it): the user must be
    /// allowed to write every key the lease holds. A lease without keys needs nothing, as
    /// in etcd.
    pub async fn check_lease(&self, metadata: &MetadataMap, lease: i64) -> Result<(), Status> {
        let keys = {
            let db = self.member.database().map_err(errors::member)?;
            let txn = db.begin_read().map_err(errors::storage)?;
            MvccStore::lease_keys(&txn, lease).map_err(|e| errors::mvcc(&e))?
        };
        let needs: Vec<KeyAccess> = keys
            .iter()
            .map(|key| KeyAccess {
                key,
                range_end: &[],
                access: Access::Write,
            })
            .collect();
        if needs.is_empty() {
            return Ok(());
        }
        self.check_ranges(metadata, Freshness::Linearizable, &needs)
            .await
    }

    /// A delete writes its range, and reads it too when it returns the deleted values.
    pub async fn check_delete(
        &self,
        metadata: &MetadataMap,
        req: &DeleteRangeRequest,
    ) -> Result<(), Status> {
        self.check_ranges(metadata, Freshness::Linearizable, &delete_needs(req))
            .await
    }

    /// A txn needs read access to every key it compares and whatever its operations on
    /// both branches need, nested txns included (as etcd checks).
    pub async fn check_txn(&self, metadata: &MetadataMap, req: &TxnRequest) -> Result<(), Status> {
        let mut needs = Vec::new();
        txn_needs(req, &mut needs);
        self.check_ranges(metadata, Freshness::Linearizable, &needs)
            .await
    }

    /// etcd's admin check: the user must hold the root role.
    pub async fn check_admin(
        &self,
        metadata: &MetadataMap,
        freshness: Freshness,
    ) -> Result<(), Status> {
        self.authorize_with(metadata, freshness, errors::auth, admin)
            .await
    }

    /// The admin check as etcd 3.4's Maintenance service makes it: refusals go out as etcd's
    /// internal errors ([`errors::auth_unmapped`]).
    pub async fn check_maintenance_admin(&self, metadata: &MetadataMap) -> Result<(), Status> {
        self.authorize_with(metadata, Freshness::Local, errors::auth_unmapped, admin)
            .await
    }

    /// Runs `check` for the request's user on a read view of the auth store, unless auth is
    /// disabled; `check` refuses with etcd's reason (or fails reading the store).
    pub async fn authorize(
        &self,
        metadata: &MetadataMap,
        freshness: Freshness,
        check: impl Fn(&ReadView, &str) -> Result<(), Refusal>,
    ) -> Result<(), Status> {
        self.authorize_with(metadata, freshness, errors::auth, check)
            .await
    }

    /// [`AuthGate::authorize`], with `refuse` turning etcd's reasons into statuses.
    async fn authorize_with(
        &self,
        metadata: &MetadataMap,
        freshness: Freshness,
        refuse: fn(&AuthError) -> Status,
        check: impl Fn(&ReadView, &str) -> Result<(), Refusal>,
    ) -> Result<(), Status> {
        // Without auth (as this member has applied it) there is nothing to check, and no need
        // to read the auth store: the member publishes its status before answering the write
        // that enabled auth, so a request sent after that answer is checked.
        if !self.member.status().auth_enabled {
            return Ok(());
        }
        // Whether the view read next is fresh enough, and whether a ReadIndex round was done.
        let mut synced = freshness == Freshness::Local;
        let mut caught_up = false;
        loop {
            let view = self.view()?;
            let state = view.state().map_err(errors::storage)?;
            if !state.enabled {
                return Ok(());
            }
            if !synced {
                drop(view);
                self.member
                    .linearizable_barrier()
                    .await
                    .map_err(errors::member)?;
                synced = true;
                caught_up = true;
                continue;
            }
            let user = match metadata.get("token").and_then(|t| t.to_str().ok()) {
                Some(token) => {
                    let claims = token::verify(&state.token_secret, token, unix_now())
                        .map_err(|e| refuse(&e))?;
                    if claims.revision > state.revision {
                        if caught_up {
                            return Err(refuse(&AuthError::InvalidAuthToken));
                        }
                        // Issued by a member ahead of this one: catch up, then look again.
                        synced = false;
                        continue;
                    }
                    if claims.revision < state.revision {
                        return Err(refuse(&AuthError::OldRevision));
                    }
                    claims.user
                }
                None => metadata
                    .get(CERT_USER)
                    .and_then(|n| n.to_str().ok())
                    .ok_or_else(|| refuse(&AuthError::UserEmpty))?
                    .to_string(),
            };
            return match check(&view, &user) {
                Ok(()) => Ok(()),
                Err(Refusal::Auth(e)) => Err(refuse(&e)),
                Err(Refusal::Storage(e)) => Err(errors::storage(e)),
            };
        }
    }

    /// The auth store as this member has applied it.
    pub fn view(&self) -> Result<ReadView, Status> {
        let db = self.member.database().map_err(errors::member)?;
        let txn = db.begin_read().map_err(errors::storage)?;
        store::view(&txn).map_err(errors::storage)
    }

    /// A token for `user`, valid for [`TOKEN_TTL_SECS`] and at the store's current revision.
    pub fn issue_token(&self, view: &ReadView, user: &str) -> Result<String, Status> {
        let state = view.state().map_err(errors::storage)?;
        let claims = token::Claims {
            user: user.to_string(),
            revision: state.revision,
            expires_at: unix_now() + TOKEN_TTL_SECS,
        };
        Ok(token::sign(&state.token_secret, &claims))
    }
}

/// Why a check refused: etcd's reason, or a storage failure.
pub enum Refusal {
    Auth(AuthError),
    Storage(CoreError),
}

impl From<AuthError> for Refusal {
    fn from(e: AuthError) -> Self {
        Refusal::Auth(e)
    }
}

impl From<CoreError> for Refusal {
    fn from(e: CoreError) -> Self {
        Refusal::Storage(e)
    }
}

/// etcd's admin rule: the user holds the root role.
fn admin(view: &ReadView, user: &str) -> Result<(), Refusal> {
    Ok(view.check_admin(user)??)
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn put_needs(req: &PutRequest) -> Vec<KeyAccess<'_>> {
    let mut needs = vec![KeyAccess {
        key: &req.key,
        range_end: &[],
        access: Access::Write,
    }];
    if req.prev_kv {
        needs.push(KeyAccess {
            key: &req.key,
            range_end: &[],
            access: Access::Read,
        });
    }
    needs
}

fn delete_needs(req: &DeleteRangeRequest) -> Vec<KeyAccess<'_>> {
    let mut needs = vec![KeyAccess {
        key: &req.key,
        range_end: &req.range_end,
        access: Access::Write,
    }];
    if req.prev_kv {
        needs.push(KeyAccess {
            key: &req.key,
            range_end: &req.range_end,
            access: Access::Read,
        });
    }
    needs
}

fn txn_needs<'a>(req: &'a TxnRequest, needs: &mut Vec<KeyAccess<'a>>) {
    needs.extend(req.compare.iter().map(|c| KeyAccess {
        key: &c.key,
        range_end: &c.range_end,
        access: Access::Read,
    }));
    for op in req.success.iter().chain(&req.failure) {
        match &op.request {
            Some(TxnOp::RequestRange(r)) => needs.push(KeyAccess {
                key: &r.key,
                range_end: &r.range_end,
                access: Access::Read,
            }),
            Some(TxnOp::RequestPut(p)) => needs.extend(put_needs(p)),
            Some(TxnOp::RequestDeleteRange(d)) => needs.extend(delete_needs(d)),
            Some(TxnOp::RequestTxn(t)) => txn_needs(t, needs),
            None => {}
        }
    }
}

/// The bcrypt hash of `password`, computed off the async runtime (it is slow on purpose).
pub async fn hash_password(password: String) -> Result<Vec<u8>, Status> {
    tokio::task::spawn_blocking(move || bcrypt::hash(password, BCRYPT_COST))
        .await
        .map_err(|e| Status::internal(format!("etcdserver: hashing the password: {e}")))?
        .map(String::into_bytes)
        .map_err(|e| Status::internal(format!("etcdserver: hashing the password: {e}")))
}

/// Whether `password` matches a stored bcrypt `hash` (false for a malformed hash).
pub async fn password_matches(password: String, hash: Vec<u8>) -> bool {
    tokio::task::spawn_blocking(move || {
        std::str::from_utf8(&hash)
            .ok()
            .and_then(|h| bcrypt::verify(password, h).ok())
            .unwrap_or(false)
    })
    .await
    .unwrap_or(false)
}
