//! The auth store on redb: users and roles (etcd's `authpb.User` / `authpb.Role`, encoded),
//! and a small table with the enabled flag, the auth revision and the token secret. All three
//! are byte tables keyed by the name's UTF-8 bytes (storage format 2, see `byte_rows`).
//!
//! Changes come only from applied Raft entries ([`apply`]), with etcd 3.4's rules: `auth
//! enable` needs a `root` user holding the `root` role; while auth is enabled the root user
//! cannot be deleted nor lose the root role, and the root role cannot be deleted; the `root`
//! role may be granted without being created. Every change bumps the auth revision, which
//! tokens name (see [`super::token`]). Refusals are answers for the client, not failures of
//! the member: [`apply`] returns them inside its `Ok`.

use prost::Message as _;
use redb::{ReadableTable, TableDefinition, WriteTransaction};

use super::AuthError;
use super::permissions::{Access, roles_permit};
use crate::error::CoreError;
use crate::proto::authpb::{Permission, Role, User, UserAddOptions};
use crate::proto::etcdlab::raft_request::Op;

pub(crate) const USERS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("auth_users");
pub(crate) const ROLES: TableDefinition<&[u8], &[u8]> = TableDefinition::new("auth_roles");
pub(crate) const META: TableDefinition<&[u8], &[u8]> = TableDefinition::new("auth_meta");

const ENABLED: &[u8] = b"enabled";
const REVISION: &[u8] = b"revision";
const SECRET: &[u8] = b"token_secret";

/// The name of etcd's all-powerful user and of its role.
pub const ROOT: &str = "root";

/// Whether auth is on, the store's revision and the secret tokens are signed with.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuthState {
    pub enabled: bool,
    pub revision: u64,
    pub token_secret: Vec<u8>,
}

/// Creates the auth tables (empty) so that readers find them.
pub(crate) fn create_tables(txn: &WriteTransaction) -> Result<(), CoreError> {
    txn.open_table(USERS)?;
    txn.open_table(ROLES)?;
    txn.open_table(META)?;
    Ok(())
}

/// A read view of the auth store: a read snapshot, or the tables of the applying transaction.
pub struct AuthView<U, R, M> {
    users: U,
    roles: R,
    meta: M,
}

type Table = redb::ReadOnlyTable<&'static [u8], &'static [u8]>;

/// The auth store in a read snapshot.
pub type ReadView = AuthView<Table, Table, Table>;

/// The auth store as `txn` sees it.
pub fn view(txn: &redb::ReadTransaction) -> Result<ReadView, CoreError> {
    Ok(AuthView {
        users: txn.open_table(USERS)?,
        roles: txn.open_table(ROLES)?,
        meta: txn.open_table(META)?,
    })
}

fn decode<T: prost::Message + Default>(what: &str, bytes: &[u8]) -> Result<T, CoreError> {
    T::decode(bytes).map_err(|e| CoreError::Corrupt(format!("auth {what}: {e}")))
}

impl<U, R, M> AuthView<U, R, M>
where
    U: ReadableTable<&'static [u8], &'static [u8]>,
    R: ReadableTable<&'static [u8], &'static [u8]>,
    M: ReadableTable<&'static [u8], &'static [u8]>,
{
    pub fn state(&self) -> Result<AuthState, CoreError> {
        let get = |k: &[u8]| -> Result<Vec<u8>, CoreError> {
            Ok(self
                .meta
                .get(k)?
                .map(|v| v.value().to_vec())
                .unwrap_or_default())
        };
        let revision = get(REVISION)?;
        Ok(AuthState {
            enabled: get(ENABLED)? == [1],
            revision: revision
                .try_into()
                .map(u64::from_be_bytes)
                .unwrap_or_default(),
            token_secret: get(SECRET)?,
        })
    }

    pub fn user(&self, name: &str) -> Result<Option<User>, CoreError> {
        self.users
            .get(name.as_bytes())?
            .map(|v| decode("user", v.value()))
            .transpose()
    }

    pub fn role(&self, name: &str) -> Result<Option<Role>, CoreError> {
        self.roles
            .get(name.as_bytes())?
            .map(|v| decode("role", v.value()))
            .transpose()
    }

    /// User names in byte order.
    pub fn user_names(&self) -> Result<Vec<String>, CoreError> {
        names(&self.users)
    }

    /// Role names in byte order.
    pub fn role_names(&self) -> Result<Vec<String>, CoreError> {
        names(&self.roles)
    }

    /// Whether `user` may access `[key, range_end)` (etcd's notation) as `access` needs:
    /// a user that does not exist may do nothing, the root role may do everything.
    pub fn check_access(
        &self,
        user: &str,
        key: &[u8],
        range_end: &[u8],
        access: Access,
    ) -> Result<Result<(), AuthError>, CoreError> {
        let Some(user) = self.user(user)? else {
            return Ok(Err(AuthError::PermissionDenied));
        };
        if has_root_role(&user) {
            return Ok(Ok(()));
        }
        let mut roles = Vec::new();
        for name in &user.roles {
            roles.extend(self.role(name)?);
        }
        Ok(if roles_permit(&roles, key, range_end, access) {
            Ok(())
        } else {
            Err(AuthError::PermissionDenied)
        })
    }

    /// etcd's admin check: the user must exist and hold the root role.
    pub fn check_admin(&self, user: &str) -> Result<Result<(), AuthError>, CoreError> {
        Ok(match self.user(user)? {
            None => Err(AuthError::UserNotFound),
            Some(u) if has_root_role(&u) => Ok(()),
            Some(_) => Err(AuthError::PermissionDenied),
        })
    }
}

fn names(
    table: &impl ReadableTable<&'static [u8], &'static [u8]>,
) -> Result<Vec<String>, CoreError> {
    let mut names = Vec::new();
    for row in table.iter()? {
        let name = String::from_utf8(row?.0.value().to_vec())
            .map_err(|e| CoreError::Corrupt(format!("auth name: {e}")))?;
        names.push(name);
    }
    Ok(names)
}

fn has_root_role(user: &User) -> bool {
    user.roles.iter().any(|r| r == ROOT)
}

/// Whether auth is enabled, as `txn` sees the store.
pub(crate) fn enabled(txn: &WriteTransaction) -> Result<bool, CoreError> {
    Ok(txn
        .open_table(META)?
        .get(ENABLED)?
        .is_some_and(|v| v.value() == [1]))
}

/// Applies one auth change inside `txn`. The inner `Err` is etcd's refusal, with nothing
/// changed; the outer one a storage failure.
pub(crate) fn apply(txn: &WriteTransaction, op: &Op) -> Result<Result<(), AuthError>, CoreError> {
    let mut store = Writer {
        users: txn.open_table(USERS)?,
        roles: txn.open_table(ROLES)?,
        meta: txn.open_table(META)?,
    };
    let outcome = store.apply(op)?;
    if outcome == Ok(Changed::Yes) {
        let revision = store.state()?.revision + 1;
        store.meta.insert(REVISION, &revision.to_be_bytes()[..])?;
    }
    Ok(outcome.map(|_| ()))
}

/// Whether an accepted change changed anything (a repeated grant or enable does not).
#[derive(PartialEq, Eq)]
enum Changed {
    Yes,
    No,
}

type Writable<'t> = redb::Table<'t, &'static [u8], &'static [u8]>;

/// The auth tables of the applying transaction, open for writing.
type Writer<'t> = AuthView<Writable<'t>, Writable<'t>, Writable<'t>>;

impl Writer<'_> {
    fn put_user(&mut self, user: &User) -> Result<(), CoreError> {
        let name = String::from_utf8_lossy(&user.name).into_owned();
        self.users
            .insert(name.as_bytes(), &user.encode_to_vec()[..])?;
        Ok(())
    }

    fn put_role(&mut self, role: &Role) -> Result<(), CoreError> {
        let name = String::from_utf8_lossy(&role.name).into_owned();
        self.roles
            .insert(name.as_bytes(), &role.encode_to_vec()[..])?;
        Ok(())
    }

    fn existing_user(&self, name: &str) -> Result<Result<User, AuthError>, CoreError> {
        Ok(self.user(name)?.ok_or(AuthError::UserNotFound))
    }

    fn existing_role(&self, name: &str) -> Result<Result<Role, AuthError>, CoreError> {
        Ok(self.role(name)?.ok_or(AuthError::RoleNotFound))
    }

    fn apply(&mut self, op: &Op) -> Result<Result<Changed, AuthError>, CoreError> {
        let enabled = self.state()?.enabled;
        macro_rules! found {
            ($lookup:expr) => {
                match $lookup? {
                    Ok(found) => found,
                    Err(refusal) => return Ok(Err(refusal)),
                }
            };
        }
        match op {
            Op::AuthEnable(r) => {
                if enabled {
                    return Ok(Ok(Changed::No));
                }
                let Some(root) = self.user(ROOT)? else {
                    return Ok(Err(AuthError::RootUserNotExist));
                };
                if !has_root_role(&root) {
                    return Ok(Err(AuthError::RootRoleNotExist));
                }
                self.meta.insert(ENABLED, &[1u8][..])?;
                self.meta.insert(SECRET, &r.token_secret[..])?;
            }
            Op::AuthDisable(_) => {
                if !enabled {
                    return Ok(Ok(Changed::No));
                }
                self.meta.insert(ENABLED, &[0u8][..])?;
                self.meta.remove(SECRET)?;
            }
            Op::UserAdd(r) => {
                if r.name.is_empty() {
                    return Ok(Err(AuthError::UserEmpty));
                }
                if self.user(&r.name)?.is_some() {
                    return Ok(Err(AuthError::UserAlreadyExist));
                }
                self.put_user(&User {
                    name: r.name.clone().into_bytes(),
                    password: r.password_hash.clone(),
                    roles: vec![],
                    options: Some(r.options.unwrap_or(UserAddOptions { no_password: false })),
                })?;
            }
            Op::UserDelete(r) => {
                if enabled && r.name == ROOT {
                    return Ok(Err(AuthError::InvalidAuthMgmt));
                }
                found!(self.existing_user(&r.name));
                self.users.remove(r.name.as_bytes())?;
            }
            Op::UserChangePassword(r) => {
                let mut user = found!(self.existing_user(&r.name));
                user.password = r.password_hash.clone();
                self.put_user(&user)?;
            }
            Op::UserGrantRole(r) => {
                let mut user = found!(self.existing_user(&r.user));
                if r.role != ROOT {
                    found!(self.existing_role(&r.role));
                }
                if user.roles.contains(&r.role) {
                    return Ok(Ok(Changed::No));
                }
                user.roles.push(r.role.clone());
                user.roles.sort();
                self.put_user(&user)?;
            }
            Op::UserRevokeRole(r) => {
                if enabled && r.name == ROOT && r.role == ROOT {
                    return Ok(Err(AuthError::InvalidAuthMgmt));
                }
                let mut user = found!(self.existing_user(&r.name));
                let before = user.roles.len();
                user.roles.retain(|role| *role != r.role);
                if user.roles.len() == before {
                    return Ok(Err(AuthError::RoleNotGranted));
                }
                self.put_user(&user)?;
            }
            Op::RoleAdd(r) => {
                if r.name.is_empty() {
                    return Ok(Err(AuthError::RoleEmpty));
                }
                if self.role(&r.name)?.is_some() {
                    return Ok(Err(AuthError::RoleAlreadyExist));
                }
                self.put_role(&Role {
                    name: r.name.clone().into_bytes(),
                    key_permission: vec![],
                })?;
            }
            Op::RoleDelete(r) => {
                if enabled && r.role == ROOT {
                    return Ok(Err(AuthError::InvalidAuthMgmt));
                }
                found!(self.existing_role(&r.role));
                self.roles.remove(r.role.as_bytes())?;
                for name in self.user_names()? {
                    let mut user = found!(self.existing_user(&name));
                    let before = user.roles.len();
                    user.roles.retain(|role| *role != r.role);
                    if user.roles.len() != before {
                        self.put_user(&user)?;
                    }
                }
            }
            Op::RoleGrantPermission(r) => {
                let mut role = found!(self.existing_role(&r.name));
                let Some(perm) = &r.perm else {
                    return Ok(Err(AuthError::InvalidAuthMgmt));
                };
                grant(&mut role.key_permission, perm);
                self.put_role(&role)?;
            }
            Op::RoleRevokePermission(r) => {
                let mut role = found!(self.existing_role(&r.role));
                let before = role.key_permission.len();
                role.key_permission
                    .retain(|p| p.key != r.key || p.range_end != r.range_end);
                if role.key_permission.len() == before {
                    return Ok(Err(AuthError::PermissionNotGranted));
                }
                self.put_role(&role)?;
            }
            other => {
                return Err(CoreError::Invalid(format!(
                    "not an auth change: {}",
                    crate::request_text::describe(other)
                )));
            }
        }
        Ok(Ok(Changed::Yes))
    }
}

/// Adds `perm` to a role's permissions, kept in key order; a permission on the same range
/// only changes its type.
fn grant(perms: &mut Vec<Permission>, perm: &Permission) {
    match perms
        .iter_mut()
        .find(|p| p.key == perm.key && p.range_end == perm.range_end)
    {
        Some(existing) => existing.perm_type = perm.perm_type,
        None => {
            let at = perms.partition_point(|p| p.key <= perm.key);
            perms.insert(at, perm.clone());
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use redb::{Database, ReadableDatabase, backends::InMemoryBackend};

    use super::*;
    use crate::proto::authpb::permission::Type;
    use crate::proto::etcdlab::{AuthEnable, UserAdd};
    use crate::proto::etcdserverpb::{
        AuthDisableRequest, AuthRoleAddRequest, AuthRoleDeleteRequest,
        AuthRoleGrantPermissionRequest, AuthRoleRevokePermissionRequest, AuthUserDeleteRequest,
        AuthUserGrantRoleRequest, AuthUserRevokeRoleRequest,
    };

    fn database() -> Database {
        let db = Database::builder()
            .create_with_backend(InMemoryBackend::new())
            .unwrap();
        let txn = db.begin_write().unwrap();
        create_tables(&txn).unwrap();
        txn.commit().unwrap();
        db
    }

    fn run(db: &Database, op: Op) -> Result<(), AuthError> {
        let txn = db.begin_write().unwrap();
        let outcome = apply(&txn, &op).unwrap();
        txn.commit().unwrap();
        outcome
    }

    fn state(db: &Database) -> AuthState {
        view(&db.begin_read().unwrap()).unwrap().state().unwrap()
    }

    pub(crate) fn user_add(name: &str) -> Op {
        Op::UserAdd(UserAdd {
            name: name.into(),
            password_hash: b"hash".to_vec(),
            options: None,
        })
    }

    pub(crate) fn grant_role(user: &str, role: &str) -> Op {
        Op::UserGrantRole(AuthUserGrantRoleRequest {
            user: user.into(),
            role: role.into(),
        })
    }

    fn role_add(name: &str) -> Op {
        Op::RoleAdd(AuthRoleAddRequest { name: name.into() })
    }

    fn grant_perm(role: &str, t: Type, key: &str, end: &str) -> Op {
        Op::RoleGrantPermission(AuthRoleGrantPermissionRequest {
            name: role.into(),
            perm: Some(Permission {
                perm_type: t as i32,
                key: key.into(),
                range_end: end.into(),
            }),
        })
    }

    pub(crate) fn enable() -> Op {
        Op::AuthEnable(AuthEnable {
            token_secret: b"s".to_vec(),
        })
    }

    #[test]
    fn enabling_needs_a_root_user_with_the_root_role() {
        let db = database();
        assert_eq!(run(&db, enable()), Err(AuthError::RootUserNotExist));
        run(&db, user_add(ROOT)).unwrap();
        assert_eq!(run(&db, enable()), Err(AuthError::RootRoleNotExist));
        // The root role needs no `role add` to be granted.
        run(&db, grant_role(ROOT, ROOT)).unwrap();
        run(&db, enable()).unwrap();
        let s = state(&db);
        assert!(s.enabled);
        assert_eq!(s.token_secret, b"s");
        run(&db, Op::AuthDisable(AuthDisableRequest {})).unwrap();
        assert!(!state(&db).enabled);
        assert!(state(&db).token_secret.is_empty());
    }

    #[test]
    fn root_is_protected_while_auth_is_enabled() {
        let db = database();
        run(&db, user_add(ROOT)).unwrap();
        run(&db, role_add(ROOT)).unwrap();
        run(&db, grant_role(ROOT, ROOT)).unwrap();
        run(&db, enable()).unwrap();
        let revoke = Op::UserRevokeRole(AuthUserRevokeRoleRequest {
            name: ROOT.into(),
            role: ROOT.into(),
        });
        let delete_user = Op::UserDelete(AuthUserDeleteRequest { name: ROOT.into() });
        let delete_role = Op::RoleDelete(AuthRoleDeleteRequest { role: ROOT.into() });
        for op in [&revoke, &delete_user, &delete_role] {
            assert_eq!(run(&db, op.clone()), Err(AuthError::InvalidAuthMgmt));
        }
        run(&db, Op::AuthDisable(AuthDisableRequest {})).unwrap();
        for op in [revoke, delete_user, delete_role] {
            run(&db, op).unwrap();
        }
    }

    #[test]
    fn names_must_be_new_and_not_empty_and_lookups_must_find_them() {
        let db = database();
        assert_eq!(run(&db, user_add("")), Err(AuthError::UserEmpty));
        assert_eq!(run(&db, role_add("")), Err(AuthError::RoleEmpty));
        run(&db, user_add("alice")).unwrap();
        run(&db, role_add("reader")).unwrap();
        assert_eq!(
            run(&db, user_add("alice")),
            Err(AuthError::UserAlreadyExist)
        );
        assert_eq!(
            run(&db, role_add("reader")),
            Err(AuthError::RoleAlreadyExist)
        );
        assert_eq!(
            run(&db, grant_role("bob", "reader")),
            Err(AuthError::UserNotFound)
        );
        assert_eq!(
            run(&db, grant_role("alice", "writer")),
            Err(AuthError::RoleNotFound)
        );
        let revoke = Op::UserRevokeRole(AuthUserRevokeRoleRequest {
            name: "alice".into(),
            role: "reader".into(),
        });
        assert_eq!(run(&db, revoke), Err(AuthError::RoleNotGranted));
        let revoke_perm = Op::RoleRevokePermission(AuthRoleRevokePermissionRequest {
            role: "reader".into(),
            key: b"k".to_vec(),
            range_end: vec![],
        });
        assert_eq!(run(&db, revoke_perm), Err(AuthError::PermissionNotGranted));
    }

    #[test]
    fn every_change_bumps_the_revision_and_refusals_or_repeats_do_not() {
        let db = database();
        run(&db, user_add("alice")).unwrap();
        run(&db, role_add("reader")).unwrap();
        run(&db, grant_role("alice", "reader")).unwrap();
        assert_eq!(state(&db).revision, 3);
        run(&db, grant_role("alice", "reader")).unwrap();
        let _ = run(&db, user_add("alice"));
        assert_eq!(state(&db).revision, 3);
    }

    #[test]
    fn permissions_follow_roles_and_deleting_a_role_takes_it_from_its_users() {
        let db = database();
        run(&db, user_add("alice")).unwrap();
        run(&db, role_add("reader")).unwrap();
        run(&db, grant_perm("reader", Type::Read, "/pub/", "/pub0")).unwrap();
        run(&db, grant_perm("reader", Type::Readwrite, "/pub/", "/pub0")).unwrap();
        run(&db, grant_perm("reader", Type::Read, "/a", "")).unwrap();
        run(&db, grant_role("alice", "reader")).unwrap();
        let check = |user: &str, key: &str, access| {
            view(&db.begin_read().unwrap())
                .unwrap()
                .check_access(user, key.as_bytes(), b"", access)
                .unwrap()
        };
        let role = view(&db.begin_read().unwrap())
            .unwrap()
            .role("reader")
            .unwrap()
            .unwrap();
        let keys: Vec<&[u8]> = role.key_permission.iter().map(|p| &p.key[..]).collect();
        assert_eq!(
            keys,
            [&b"/a"[..], b"/pub/"],
            "one permission per range, in key order"
        );
        assert_eq!(check("alice", "/pub/x", Access::Write), Ok(()));
        assert_eq!(
            check("alice", "/b", Access::Read),
            Err(AuthError::PermissionDenied)
        );
        assert_eq!(
            check("bob", "/pub/x", Access::Read),
            Err(AuthError::PermissionDenied)
        );
        run(
            &db,
            Op::RoleDelete(AuthRoleDeleteRequest {
                role: "reader".into(),
            }),
        )
        .unwrap();
        assert_eq!(
            check("alice", "/pub/x", Access::Read),
            Err(AuthError::PermissionDenied)
        );
        let alice = view(&db.begin_read().unwrap())
            .unwrap()
            .user("alice")
            .unwrap();
        assert!(alice.unwrap().roles.is_empty());
    }

    #[test]
    fn root_may_do_anything_and_only_root_is_admin() {
        let db = database();
        run(&db, user_add(ROOT)).unwrap();
        run(&db, user_add("alice")).unwrap();
        run(&db, grant_role(ROOT, ROOT)).unwrap();
        let v = view(&db.begin_read().unwrap()).unwrap();
        assert_eq!(
            v.check_access(ROOT, b"\0", b"\0", Access::Write).unwrap(),
            Ok(())
        );
        assert_eq!(v.check_admin(ROOT).unwrap(), Ok(()));
        assert_eq!(
            v.check_admin("alice").unwrap(),
            Err(AuthError::PermissionDenied)
        );
        assert_eq!(v.check_admin("bob").unwrap(), Err(AuthError::UserNotFound));
    }
}
