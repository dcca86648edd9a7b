//! `user add|delete|get|list|passwd|grant-role|revoke-role`: etcd's users. Passwords come from
//! `user:password`, `--new-user-password`, a line on stdin (`--interactive=false`) or a prompt
//! asked twice; `--no-password` adds a user that can only log in by certificate.

use etcdlab_core::proto::authpb::UserAddOptions;
use etcdlab_core::proto::etcdserverpb::{
    AuthRoleGetRequest, AuthUserAddRequest, AuthUserChangePasswordRequest, AuthUserDeleteRequest,
    AuthUserGetRequest, AuthUserGrantRoleRequest, AuthUserListRequest, AuthUserRevokeRoleRequest,
};
use prost::Message as _;

use super::cli::{Command, Flag, Invocation, Kind};
use super::global::Global;
use super::print::{AuthCommand, stdout};
use super::{CtlError, CtlResult};
use crate::rpc::etcdserverpb::auth_client::AuthClient;

const INTERACTIVE: Flag = Flag::new(
    "interactive",
    Kind::Bool,
    "true",
    "Read password from stdin instead of interactive terminal",
);
const PASSWD_INTERACTIVE: Flag = Flag::new(
    "interactive",
    Kind::Bool,
    "true",
    "If true, read password from stdin instead of interactive terminal",
);
const NEW_USER_PASSWORD: Flag = Flag::new(
    "new-user-password",
    Kind::Text,
    "",
    "Supply password from the command line flag",
);
const NO_PASSWORD: Flag = Flag::switch(
    "no-password",
    "Create a user without password (CN based auth only)",
);
const DETAIL: Flag = Flag::switch("detail", "Show permissions of roles granted to the user");

pub static USER: Command =
    Command::new("user <subcommand>", "User related commands").subcommands(&[
        &ADD,
        &DELETE,
        &GET,
        &GRANT_ROLE,
        &LIST,
        &PASSWD,
        &REVOKE_ROLE,
    ]);

static ADD: Command = Command::new(
    "add <user name or user:password> [options]",
    "Adds a new user",
)
.flags(&[INTERACTIVE, NEW_USER_PASSWORD, NO_PASSWORD])
.run(|inv| Box::pin(add(inv)));

static DELETE: Command =
    Command::new("delete <user name>", "Deletes a user").run(|inv| Box::pin(delete(inv)));

static GET: Command = Command::new(
    "get <user name> [options]",
    "Gets detailed information of a user",
)
.flags(&[DETAIL])
.run(|inv| Box::pin(get(inv)));

static LIST: Command = Command::new("list", "Lists all users").run(|inv| Box::pin(list(inv)));

static PASSWD: Command = Command::new("passwd <user name> [options]", "Changes password of user")
    .flags(&[PASSWD_INTERACTIVE])
    .run(|inv| Box::pin(passwd(inv)));

static GRANT_ROLE: Command = Command::new(
    "grant-role <user name> <role name>",
    "Grants a role to a user",
)
.run(|inv| Box::pin(grant_role(inv)));

static REVOKE_ROLE: Command = Command::new(
    "revoke-role <user name> <role name>",
    "Revokes a role from a user",
)
.run(|inv| Box::pin(revoke_role(inv)));

/// The one argument, or etcdctl's complaint.
fn one_arg<'a>(inv: &'a Invocation, complaint: &str) -> Result<&'a str, CtlError> {
    match inv.args.as_slice() {
        [name] => Ok(name),
        _ => Err(CtlError::bad_args(complaint)),
    }
}

/// etcdctl's `readPasswordInteractive`: asked twice, never empty.
fn ask_new_password(user: &str) -> Result<String, CtlError> {
    let first = prompt(&format!("Password of {user}: "))?;
    if first.is_empty() {
        return Err(CtlError::bad_args("empty password"));
    }
    let second = prompt(&format!("Type password of {user} again for confirmation: "))?;
    if first != second {
        return Err(CtlError::bad_args("given passwords are different"));
    }
    Ok(first)
}

fn prompt(text: &str) -> Result<String, CtlError> {
    stdout(text.as_bytes());
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .map_err(|e| CtlError::bad_args(format!("failed to ask password: {e}")))?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

/// Go's `fmt.Scanf("%s")` on stdin: the first word of the first line (empty if none).
fn password_from_stdin() -> String {
    let mut line = String::new();
    let _ = std::io::stdin().read_line(&mut line);
    line.split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string()
}

/// A new password as `user add` and `user passwd` read it when no flag gives it.
fn new_password(inv: &Invocation, interactive: &Flag, user: &str) -> Result<String, CtlError> {
    if inv.bool(interactive) {
        ask_new_password(user)
    } else {
        Ok(password_from_stdin())
    }
}

async fn add(inv: Invocation) -> CtlResult {
    let arg = one_arg(&inv, "user add command requires user name as its argument")?;
    let no_password = inv.bool(&NO_PASSWORD);
    let from_flag = inv.text(&NEW_USER_PASSWORD);
    let (name, password) = if no_password {
        (arg.to_string(), String::new())
    } else if !from_flag.is_empty() {
        (arg.to_string(), from_flag)
    } else if let Some((name, password)) = arg.split_once(':') {
        if name.is_empty() {
            return Err(CtlError::bad_args("empty user name is not allowed"));
        }
        (name.to_string(), password.to_string())
    } else {
        (arg.to_string(), new_password(&inv, &INTERACTIVE, arg)?)
    };
    let g = Global::from(&inv)?;
    let request = AuthUserAddRequest {
        name: name.clone(),
        password,
        options: Some(UserAddOptions { no_password }),
    };
    let r = g
        .client()?
        .request(async |c| AuthClient::new(c).user_add(request).await)
        .await?;
    g.printer().auth(
        AuthCommand::UserAdd(&name),
        r.header.as_ref(),
        r.encode_to_vec(),
    )
}

async fn delete(inv: Invocation) -> CtlResult {
    let name = one_arg(
        &inv,
        "user delete command requires user name as its argument",
    )?;
    let g = Global::from(&inv)?;
    let request = AuthUserDeleteRequest { name: name.into() };
    let r = g
        .client()?
        .request(async |c| AuthClient::new(c).user_delete(request).await)
        .await?;
    g.printer().auth(
        AuthCommand::UserDelete(name),
        r.header.as_ref(),
        r.encode_to_vec(),
    )
}

async fn get(inv: Invocation) -> CtlResult {
    let name = one_arg(&inv, "user get command requires user name as its argument")?;
    let g = Global::from(&inv)?;
    let client = g.client()?;
    let request = AuthUserGetRequest { name: name.into() };
    let r = client
        .request(async |c| AuthClient::new(c).user_get(request).await)
        .await?;
    if !inv.bool(&DETAIL) {
        let command = AuthCommand::UserGet {
            user: name,
            roles: &r.roles,
        };
        return g
            .printer()
            .auth(command, r.header.as_ref(), r.encode_to_vec());
    }
    // etcdctl prints this line itself, then each role as `role get` does.
    stdout(format!("User: {name}\n").as_bytes());
    for role in &r.roles {
        stdout(b"\n");
        let request = AuthRoleGetRequest { role: role.clone() };
        let perms = client
            .request(async |c| AuthClient::new(c).role_get(request).await)
            .await?;
        let command = AuthCommand::RoleGet {
            role,
            perms: &perms.perm,
        };
        g.printer()
            .auth(command, perms.header.as_ref(), perms.encode_to_vec())?;
    }
    Ok(())
}

async fn list(inv: Invocation) -> CtlResult {
    if !inv.args.is_empty() {
        return Err(CtlError::bad_args(
            "user list command requires no arguments",
        ));
    }
    let g = Global::from(&inv)?;
    let r = g
        .client()?
        .request(async |c| AuthClient::new(c).user_list(AuthUserListRequest {}).await)
        .await?;
    g.printer().auth(
        AuthCommand::UserList(&r.users),
        r.header.as_ref(),
        r.encode_to_vec(),
    )
}

async fn passwd(inv: Invocation) -> CtlResult {
    let name = one_arg(
        &inv,
        "user passwd command requires user name as its argument",
    )?;
    let password = new_password(&inv, &PASSWD_INTERACTIVE, name)?;
    let g = Global::from(&inv)?;
    let request = AuthUserChangePasswordRequest {
        name: name.into(),
        password,
    };
    let r = g
        .client()?
        .request(async |c| AuthClient::new(c).user_change_password(request).await)
        .await?;
    g.printer().auth(
        AuthCommand::UserPasswd,
        r.header.as_ref(),
        r.encode_to_vec(),
    )
}

/// The user and role arguments of `grant-role` and `revoke-role`.
fn user_and_role<'a>(inv: &'a Invocation, complaint: &str) -> Result<(&'a str, &'a str), CtlError> {
    match inv.args.as_slice() {
        [user, role] => Ok((user, role)),
        _ => Err(CtlError::bad_args(complaint)),
    }
}

async fn grant_role(inv: Invocation) -> CtlResult {
    let (user, role) = user_and_role(
        &inv,
        "user grant command requires user name and role name as its argument",
    )?;
    let g = Global::from(&inv)?;
    let request = AuthUserGrantRoleRequest {
        user: user.into(),
        role: role.into(),
    };
    let r = g
        .client()?
        .request(async |c| AuthClient::new(c).user_grant_role(request).await)
        .await?;
    let command = AuthCommand::UserGrantRole { user, role };
    g.printer()
        .auth(command, r.header.as_ref(), r.encode_to_vec())
}

async fn revoke_role(inv: Invocation) -> CtlResult {
    let (user, role) = user_and_role(
        &inv,
        "user revoke-role requires user name and role name as its argument",
    )?;
    let g = Global::from(&inv)?;
    let request = AuthUserRevokeRoleRequest {
        name: user.into(),
        role: role.into(),
    };
    let r = g
        .client()?
        .request(async |c| AuthClient::new(c).user_revoke_role(request).await)
        .await?;
    let command = AuthCommand::UserRevokeRole { user, role };
    g.printer()
        .auth(command, r.header.as_ref(), r.encode_to_vec())
}
