//! `role add|delete|get|list|grant-permission|revoke-permission`: etcd's roles and their key
//! permissions, on a key, a range `[key, endkey)`, a `--prefix` or `--from-key`.

use etcdlab_core::proto::authpb::Permission;
use etcdlab_core::proto::authpb::permission::Type as PermType;
use etcdlab_core::proto::etcdserverpb::{
    AuthRoleAddRequest, AuthRoleDeleteRequest, AuthRoleGetRequest, AuthRoleGrantPermissionRequest,
    AuthRoleListRequest, AuthRoleRevokePermissionRequest,
};
use prost::Message as _;

use super::cli::{Command, Flag, Invocation};
use super::global::Global;
use super::print::AuthCommand;
use super::{CtlError, CtlResult};
use crate::rpc::etcdserverpb::auth_client::AuthClient;

const GRANT_PREFIX: Flag = Flag::switch("prefix", "grant a prefix permission");
const GRANT_FROM_KEY: Flag = Flag::switch(
    "from-key",
    "grant a permission of keys that are greater than or equal to the given key using byte compare",
);
const REVOKE_PREFIX: Flag = Flag::switch("prefix", "revoke a prefix permission");
const REVOKE_FROM_KEY: Flag = Flag::switch(
    "from-key",
    "revoke a permission of keys that are greater than or equal to the given key using byte compare",
);

pub static ROLE: Command =
    Command::new("role <subcommand>", "Role related commands").subcommands(&[
        &ADD,
        &DELETE,
        &GET,
        &GRANT_PERMISSION,
        &LIST,
        &REVOKE_PERMISSION,
    ]);

static ADD: Command =
    Command::new("add <role name>", "Adds a new role").run(|inv| Box::pin(add(inv)));

static DELETE: Command =
    Command::new("delete <role name>", "Deletes a role").run(|inv| Box::pin(delete(inv)));

static GET: Command = Command::new("get <role name>", "Gets detailed information of a role")
    .run(|inv| Box::pin(get(inv)));

static LIST: Command = Command::new("list", "Lists all roles").run(|inv| Box::pin(list(inv)));

static GRANT_PERMISSION: Command = Command::new(
    "grant-permission [options] <role name> <permission type> <key> [endkey]",
    "Grants a key to a role",
)
.flags(&[GRANT_PREFIX, GRANT_FROM_KEY])
.run(|inv| Box::pin(grant_permission(inv)));

static REVOKE_PERMISSION: Command = Command::new(
    "revoke-permission <role name> <key> [endkey]",
    "Revokes a key from a role",
)
.flags(&[REVOKE_PREFIX, REVOKE_FROM_KEY])
.run(|inv| Box::pin(revoke_permission(inv)));

fn role_arg<'a>(inv: &'a Invocation, command: &str) -> Result<&'a str, CtlError> {
    match inv.args.as_slice() {
        [role] => Ok(role),
        _ => Err(CtlError::bad_args(format!(
            "role {command} command requires role name as its argument"
        ))),
    }
}

async fn add(inv: Invocation) -> CtlResult {
    let role = role_arg(&inv, "add")?;
    let g = Global::from(&inv)?;
    let request = AuthRoleAddRequest { name: role.into() };
    let r = g
        .client()?
        .request(async |c| AuthClient::new(c).role_add(request).await)
        .await?;
    g.printer().auth(
        AuthCommand::RoleAdd(role),
        r.header.as_ref(),
        r.encode_to_vec(),
    )
}

async fn delete(inv: Invocation) -> CtlResult {
    let role = role_arg(&inv, "delete")?;
    let g = Global::from(&inv)?;
    let request = AuthRoleDeleteRequest { role: role.into() };
    let r = g
        .client()?
        .request(async |c| AuthClient::new(c).role_delete(request).await)
        .await?;
    g.printer().auth(
        AuthCommand::RoleDelete(role),
        r.header.as_ref(),
        r.encode_to_vec(),
    )
}

async fn get(inv: Invocation) -> CtlResult {
    let role = role_arg(&inv, "get")?;
    let g = Global::from(&inv)?;
    let request = AuthRoleGetRequest { role: role.into() };
    let r = g
        .client()?
        .request(async |c| AuthClient::new(c).role_get(request).await)
        .await?;
    let command = AuthCommand::RoleGet {
        role,
        perms: &r.perm,
    };
    g.printer()
        .auth(command, r.header.as_ref(), r.encode_to_vec())
}

async fn list(inv: Invocation) -> CtlResult {
    if !inv.args.is_empty() {
        return Err(CtlError::bad_args(
            "role list command requires no arguments",
        ));
    }
    let g = Global::from(&inv)?;
    let r = g
        .client()?
        .request(async |c| AuthClient::new(c).role_list(AuthRoleListRequest {}).await)
        .await?;
    g.printer().auth(
        AuthCommand::RoleList(&r.roles),
        r.header.as_ref(),
        r.encode_to_vec(),
    )
}

/// clientv3's `StrToPermissionType`: read, write or readwrite, in any case.
fn permission_type(text: &str) -> Result<PermType, CtlError> {
    PermType::from_str_name(&text.to_uppercase())
        .ok_or_else(|| CtlError::bad_args(format!("invalid permission type: {text}")))
}

/// etcdctl's `permRange`: the key and range end a permission command names. An empty key
/// stands for the whole key space (`"\0"`), open ended with `--prefix` or `--from-key`.
fn permission_range(
    args: &[String],
    prefix: bool,
    from_key: bool,
) -> Result<(String, String), CtlError> {
    let exclusive = || CtlError::bad_args("--from-key and --prefix flags are mutually exclusive");
    match args {
        [key] if key.is_empty() => {
            if prefix && from_key {
                return Err(exclusive());
            }
            let end = if prefix || from_key { "\0" } else { "" };
            Ok(("\0".into(), end.into()))
        }
        [key] => {
            let end = match (prefix, from_key) {
                (true, true) => return Err(exclusive()),
                (true, false) => {
                    String::from_utf8_lossy(&etcdlab_core::mvcc::prefix_end(key.as_bytes())).into()
                }
                (false, true) => "\0".into(),
                (false, false) => String::new(),
            };
            Ok((key.clone(), end))
        }
        [key, end, ..] => {
            if prefix {
                return Err(CtlError::bad_args(
                    "unexpected endkey argument with --prefix flag",
                ));
            }
            if from_key {
                return Err(CtlError::bad_args(
                    "unexpected endkey argument with --from-key flag",
                ));
            }
            Ok((key.clone(), end.clone()))
        }
        [] => Ok((String::new(), String::new())),
    }
}

async fn grant_permission(inv: Invocation) -> CtlResult {
    let [role, kind, range @ ..] = inv.args.as_slice() else {
        return Err(grant_usage());
    };
    if range.is_empty() {
        return Err(grant_usage());
    }
    let perm_type = permission_type(kind)?;
    let (key, range_end) =
        permission_range(range, inv.bool(&GRANT_PREFIX), inv.bool(&GRANT_FROM_KEY))?;
    let g = Global::from(&inv)?;
    let request = AuthRoleGrantPermissionRequest {
        name: role.clone(),
        perm: Some(Permission {
            perm_type: perm_type as i32,
            key: key.into_bytes(),
            range_end: range_end.into_bytes(),
        }),
    };
    let r = g
        .client()?
        .request(async |c| AuthClient::new(c).role_grant_permission(request).await)
        .await?;
    g.printer().auth(
        AuthCommand::RoleGrantPermission(role),
        r.header.as_ref(),
        r.encode_to_vec(),
    )
}

fn grant_usage() -> CtlError {
    CtlError::bad_args(
        "role grant command requires role name, permission type, and key [endkey] as its argument",
    )
}

async fn revoke_permission(inv: Invocation) -> CtlResult {
    let [role, range @ ..] = inv.args.as_slice() else {
        return Err(revoke_usage());
    };
    if range.is_empty() {
        return Err(revoke_usage());
    }
    let (key, range_end) =
        permission_range(range, inv.bool(&REVOKE_PREFIX), inv.bool(&REVOKE_FROM_KEY))?;
    let g = Global::from(&inv)?;
    let request = AuthRoleRevokePermissionRequest {
        role: role.clone(),
        key: key.clone().into_bytes(),
        range_end: range_end.clone().into_bytes(),
    };
    let r = g
        .client()?
        .request(async |c| AuthClient::new(c).role_revoke_permission(request).await)
        .await?;
    // etcdctl names the key as given (an empty key stays empty).
    let command = AuthCommand::RoleRevokePermission {
        role,
        key: &range[0],
        range_end: &range_end,
    };
    g.printer()
        .auth(command, r.header.as_ref(), r.encode_to_vec())
}

fn revoke_usage() -> CtlError {
    CtlError::bad_args(
        "role revoke-permission command requires role name and key [endkey] as its argument",
    )
}
