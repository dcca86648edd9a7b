//! `member list|add|remove|update|promote`: the cluster's membership. Member ids are given and
//! shown in hex; `member add` in the simple format also prints the `ETCD_*` settings the new
//! member must start with.

use etcdlab_core::proto::etcdserverpb::{
    MemberAddRequest, MemberListRequest, MemberPromoteRequest, MemberRemoveRequest,
    MemberUpdateRequest,
};

use super::cli::{Command, Flag, Invocation, Kind};
use super::global::Global;
use super::print::{Format, Report, stdout};
use super::{CtlError, CtlResult, gotext};
use crate::rpc::etcdserverpb::cluster_client::ClusterClient;

const ADD_PEER_URLS: Flag = Flag::new(
    "peer-urls",
    Kind::Text,
    "",
    "comma separated peer URLs for the new member.",
);
const LEARNER: Flag = Flag::switch("learner", "indicates if the new member is raft learner");
const UPDATE_PEER_URLS: Flag = Flag::new(
    "peer-urls",
    Kind::Text,
    "",
    "comma separated peer URLs for the updated member.",
);

pub static MEMBER: Command = Command::new("member <subcommand>", "Membership related commands")
    .subcommands(&[&ADD, &LIST, &PROMOTE, &REMOVE, &UPDATE]);

static ADD: Command = Command::new(
    "add <memberName> [options]",
    "Adds a member into the cluster",
)
.flags(&[ADD_PEER_URLS, LEARNER])
.run(|inv| Box::pin(add(inv)));

static REMOVE: Command = Command::new("remove <memberID>", "Removes a member from the cluster")
    .run(|inv| Box::pin(remove(inv)));

static UPDATE: Command = Command::new(
    "update <memberID> [options]",
    "Updates a member in the cluster",
)
.flags(&[UPDATE_PEER_URLS])
.run(|inv| Box::pin(update(inv)));

static LIST: Command = Command::new("list", "Lists all members in the cluster")
    .long(
        "When --write-out is set to simple, this command prints out comma-separated member lists for each endpoint.
The items in the lists are ID, Status, Name, Peer Addrs, Client Addrs, Is Learner.
",
    )
    .run(|inv| Box::pin(list(inv)));

static PROMOTE: Command = Command::new(
    "promote <memberID>",
    "Promotes a non-voting member in the cluster",
)
.long("Promotes a non-voting learner member to a voting one in the cluster.\n")
.run(|inv| Box::pin(promote(inv)));

/// The one member id argument, in hex.
fn member_id(inv: &Invocation) -> Result<u64, CtlError> {
    let [id] = inv.args.as_slice() else {
        return Err(CtlError::bad_args("member ID is not provided"));
    };
    gotext::parse_uint(id, 16)
        .map_err(|e| CtlError::bad_args(format!("bad member ID arg ({e}), expecting ID in Hex")))
}

fn peer_urls(inv: &Invocation, flag: &Flag) -> Result<Vec<String>, CtlError> {
    let urls = inv.text(flag);
    if urls.is_empty() {
        return Err(CtlError::bad_args("member peer urls not provided"));
    }
    Ok(urls.split(',').map(String::from).collect())
}

async fn list(inv: Invocation) -> CtlResult {
    let g = Global::from(&inv)?;
    let response = g
        .client()?
        .request(async |channel| {
            ClusterClient::new(channel)
                .member_list(MemberListRequest::default())
                .await
        })
        .await?;
    g.printer().print(&Report::MemberList(&response))
}

async fn add(inv: Invocation) -> CtlResult {
    let name = match inv.args.as_slice() {
        [] => return Err(CtlError::bad_args("member name not provided")),
        [name] => name.clone(),
        many => {
            let mut message = "too many arguments".to_string();
            for arg in many.iter().filter(|a| a.to_lowercase().starts_with("http")) {
                message.push_str(&format!(", did you mean --peer-urls={arg}"));
            }
            return Err(CtlError::bad_args(message));
        }
    };
    let urls = peer_urls(&inv, &ADD_PEER_URLS)?;
    let g = Global::from(&inv)?;
    let request = MemberAddRequest {
        peer_ur_ls: urls,
        is_learner: inv.bool(&LEARNER),
    };
    let response = g
        .client()?
        .request(async |channel| ClusterClient::new(channel).member_add(request).await)
        .await?;
    g.printer().print(&Report::MemberAdd(&response))?;
    if g.format == Format::Simple {
        let new_id = response.member.as_ref().map_or(0, |m| m.id);
        let initial_cluster: Vec<String> = response
            .members
            .iter()
            .flat_map(|m| {
                let member_name = if m.id == new_id { &name } else { &m.name };
                m.peer_ur_ls
                    .iter()
                    .map(move |u| format!("{member_name}={u}"))
            })
            .collect();
        let quote = |s: &str| gotext::quote(s.as_bytes());
        stdout(
            format!(
                "\nETCD_NAME={}\nETCD_INITIAL_CLUSTER={}\nETCD_INITIAL_ADVERTISE_PEER_URLS={}\nETCD_INITIAL_CLUSTER_STATE=\"existing\"\n",
                quote(&name),
                quote(&initial_cluster.join(",")),
                quote(&inv.text(&ADD_PEER_URLS)),
            )
            .as_bytes(),
        );
    }
    Ok(())
}

async fn remove(inv: Invocation) -> CtlResult {
    let id = member_id(&inv)?;
    let g = Global::from(&inv)?;
    let response = g
        .client()?
        .request(async |channel| {
            ClusterClient::new(channel)
                .member_remove(MemberRemoveRequest { id })
                .await
        })
        .await?;
    g.printer().print(&Report::MemberRemove(id, &response))
}

async fn update(inv: Invocation) -> CtlResult {
    let id = member_id(&inv)?;
    let urls = peer_urls(&inv, &UPDATE_PEER_URLS)?;
    let g = Global::from(&inv)?;
    let response = g
        .client()?
        .request(async |channel| {
            ClusterClient::new(channel)
                .member_update(MemberUpdateRequest {
                    id,
                    peer_ur_ls: urls,
                })
                .await
        })
        .await?;
    g.printer().print(&Report::MemberUpdate(id, &response))
}

async fn promote(inv: Invocation) -> CtlResult {
    let id = member_id(&inv)?;
    let g = Global::from(&inv)?;
    let response = g
        .client()?
        .request(async |channel| {
            ClusterClient::new(channel)
                .member_promote(MemberPromoteRequest { id })
                .await
        })
        .await?;
    g.printer().print(&Report::MemberPromote(id, &response))
}
