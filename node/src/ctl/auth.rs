//! `auth enable|disable`. Like etcdctl, `auth enable` answers a missing root role by adding
//! it (`role add root`), granting it to the root user, and trying again.

use etcdlab_core::proto::etcdserverpb::{
    AuthDisableRequest, AuthEnableRequest, AuthRoleAddRequest, AuthUserGrantRoleRequest,
};

use super::cli::{Command, Invocation};
use super::global::{Client, Global};
use super::print::stdout;
use super::{CtlError, CtlResult};
use crate::rpc::etcdserverpb::auth_client::AuthClient;

pub static AUTH: Command = Command::new(
    "auth <enable or disable>",
    "Enable or disable authentication",
)
.subcommands(&[&DISABLE, &ENABLE]);

static ENABLE: Command =
    Command::new("enable", "Enables authentication").run(|inv| Box::pin(enable(inv)));

static DISABLE: Command =
    Command::new("disable", "Disables authentication").run(|inv| Box::pin(disable(inv)));

const ROOT: &str = "root";
const ROOT_ROLE_MISSING: &str = "etcdserver: root user does not have root role";

async fn enable(inv: Invocation) -> CtlResult {
    if !inv.args.is_empty() {
        return Err(CtlError::bad_args(
            "auth enable command does not accept any arguments",
        ));
    }
    let g = Global::from(&inv)?;
    let client = g.client()?;
    match try_enable(&client).await {
        Err(e) if e.message == ROOT_ROLE_MISSING => {
            let role = AuthRoleAddRequest { name: ROOT.into() };
            client
                .request(async |c| AuthClient::new(c).role_add(role).await)
                .await?;
            let grant = AuthUserGrantRoleRequest {
                user: ROOT.into(),
                role: ROOT.into(),
            };
            client
                .request(async |c| AuthClient::new(c).user_grant_role(grant).await)
                .await?;
            try_enable(&client).await?;
        }
        other => other?,
    }
    stdout(b"Authentication Enabled\n");
    Ok(())
}

async fn try_enable(client: &Client<'_>) -> CtlResult {
    client
        .request(async |c| AuthClient::new(c).auth_enable(AuthEnableRequest {}).await)
        .await
        .map(drop)
}

async fn disable(inv: Invocation) -> CtlResult {
    if !inv.args.is_empty() {
        return Err(CtlError::bad_args(
            "auth disable command does not accept any arguments",
        ));
    }
    let g = Global::from(&inv)?;
    g.client()?
        .request(async |c| AuthClient::new(c).auth_disable(AuthDisableRequest {}).await)
        .await?;
    stdout(b"Authentication Disabled\n");
    Ok(())
}
