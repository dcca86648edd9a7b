//! etcdctl's output formats, one module each: [`simple`] (lines), [`json`] (Go's encoding of
//! etcd's structs), [`fields`] (`"Name" : value` lines), [`table`] (tablewriter's bordered
//! tables) and [`protobuf`] (the raw response). A command hands its result over as a
//! [`Report`]; a format without a form for it fails as etcdctl does, with exit code 4.

mod fields;
mod json;
mod protobuf;
mod simple;
mod table;

use std::io::Write;

use etcdlab_core::proto::authpb::Permission;
use etcdlab_core::proto::etcdserverpb::{
    AlarmResponse, DeleteRangeResponse, HashKvResponse, LeaseGrantResponse, LeaseKeepAliveResponse,
    LeaseLeasesResponse, LeaseRevokeResponse, LeaseTimeToLiveResponse, MemberAddResponse,
    MemberListResponse, MemberPromoteResponse, MemberRemoveResponse, MemberUpdateResponse,
    MoveLeaderResponse, PutResponse, RangeResponse, ResponseHeader, StatusResponse, TxnResponse,
    WatchResponse,
};

pub use super::gotext::humanize_bytes;
pub use table::table;

use super::{CtlError, exit};

/// The `--write-out` formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Simple,
    Json,
    Table,
    Fields,
    Protobuf,
}

impl Format {
    pub fn from_name(name: &str) -> Option<Format> {
        Some(match name {
            "simple" => Format::Simple,
            "json" => Format::Json,
            "table" => Format::Table,
            "fields" => Format::Fields,
            "protobuf" => Format::Protobuf,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Format::Simple => "simple",
            Format::Json => "json",
            Format::Table => "table",
            Format::Fields => "fields",
            Format::Protobuf => "protobuf",
        }
    }
}

/// One command's result, as etcdctl's printer receives it.
pub enum Report<'a> {
    Get(&'a RangeResponse),
    Put(&'a PutResponse),
    Del(&'a DeleteRangeResponse),
    Txn(&'a TxnResponse),
    MemberList(&'a MemberListResponse),
    MemberAdd(&'a MemberAddResponse),
    MemberRemove(u64, &'a MemberRemoveResponse),
    MemberUpdate(u64, &'a MemberUpdateResponse),
    MemberPromote(u64, &'a MemberPromoteResponse),
    EndpointHealth(&'a [Health]),
    EndpointStatus(&'a [(String, StatusResponse)]),
    EndpointHashKv(&'a [(String, HashKvResponse)]),
    Alarm(&'a AlarmResponse),
    MoveLeader {
        leader: u64,
        target: u64,
        response: &'a MoveLeaderResponse,
    },
    /// The result of a `user` or `role` command.
    Auth(AuthReport<'a>),
    /// One response of a watch as clientv3 hands it on; `closed` is the empty response it
    /// makes up when the server refused the watch (no header, no event list).
    Watch {
        response: &'a WatchResponse,
        closed: bool,
    },
    LeaseGrant(&'a LeaseGrantResponse),
    /// The revoked lease and the answer.
    LeaseRevoke(i64, &'a LeaseRevokeResponse),
    LeaseKeepAlive(&'a LeaseKeepAliveResponse),
    /// `lease timetolive`, and whether `--keys` asked for the keys.
    LeaseTimeToLive(&'a LeaseTimeToLiveResponse, bool),
    LeaseList(&'a LeaseLeasesResponse),
}

/// A `user` or `role` command's result: what the command was about, the server's header, and
/// the response as it came (for `-w protobuf`).
pub struct AuthReport<'a> {
    pub command: AuthCommand<'a>,
    pub header: Option<&'a ResponseHeader>,
    pub encoded: Vec<u8>,
}

/// The `user` and `role` commands, with what their printers show.
pub enum AuthCommand<'a> {
    UserAdd(&'a str),
    UserGet {
        user: &'a str,
        roles: &'a [String],
    },
    UserList(&'a [String]),
    UserDelete(&'a str),
    UserPasswd,
    UserGrantRole {
        user: &'a str,
        role: &'a str,
    },
    UserRevokeRole {
        user: &'a str,
        role: &'a str,
    },
    RoleAdd(&'a str),
    RoleGet {
        role: &'a str,
        perms: &'a [Permission],
    },
    RoleList(&'a [String]),
    RoleDelete(&'a str),
    RoleGrantPermission(&'a str),
    RoleRevokePermission {
        role: &'a str,
        key: &'a str,
        range_end: &'a str,
    },
}

/// One endpoint's `endpoint health` result.
pub struct Health {
    pub endpoint: String,
    pub healthy: bool,
    /// How long the check took, as Go prints a duration (empty if it never started).
    pub took: String,
    pub error: String,
}

/// What a format makes of a report: `simple` writes `endpoint health` to stderr.
#[derive(Default)]
struct Rendered {
    stdout: Vec<u8>,
    stderr: String,
}

impl Rendered {
    fn stdout(text: impl Into<Vec<u8>>) -> Rendered {
        Rendered {
            stdout: text.into(),
            stderr: String::new(),
        }
    }
}

/// Prints reports in the chosen format.
pub struct Printer {
    pub format: Format,
    pub hex: bool,
    /// `get --print-value-only` (simple format only).
    pub value_only: bool,
}

impl Printer {
    pub fn print(&self, report: &Report) -> Result<(), CtlError> {
        let rendered = match self.format {
            Format::Simple => Some(simple::render(report, self.hex, self.value_only)),
            Format::Json => Some(json::render(report)),
            Format::Fields => fields::render(report),
            Format::Table => table::render(report),
            Format::Protobuf => protobuf::render(report),
        };
        let Some(rendered) = rendered else {
            return Err(CtlError::new(
                exit::BAD_FEATURE,
                format!("{} not supported as output format", self.format.name()),
            ));
        };
        stdout(&rendered.stdout);
        stderr(&rendered.stderr);
        Ok(())
    }

    /// Prints a `user` or `role` command's result.
    pub fn auth(
        &self,
        command: AuthCommand,
        header: Option<&ResponseHeader>,
        encoded: Vec<u8>,
    ) -> Result<(), CtlError> {
        self.print(&Report::Auth(AuthReport {
            command,
            header,
            encoded,
        }))
    }
}

/// Writes to stdout; a closed pipe is not worth a panic.
pub fn stdout(bytes: &[u8]) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(bytes);
    let _ = out.flush();
}

/// Writes to stderr.
pub fn stderr(text: &str) {
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}

/// A table's headers and rows, shared by the `simple` and `table` formats (etcdctl's
/// `makeMemberListTable` and friends).
struct Rows {
    headers: &'static [&'static str],
    rows: Vec<Vec<String>>,
}

fn member_rows(r: &MemberListResponse) -> Rows {
    let rows = r
        .members
        .iter()
        .map(|m| {
            let status = if m.name.is_empty() {
                "unstarted"
            } else {
                "started"
            };
            vec![
                format!("{:x}", m.id),
                status.to_string(),
                m.name.clone(),
                m.peer_ur_ls.join(","),
                m.client_ur_ls.join(","),
                m.is_learner.to_string(),
            ]
        })
        .collect();
    Rows {
        headers: &[
            "ID",
            "Status",
            "Name",
            "Peer Addrs",
            "Client Addrs",
            "Is Learner",
        ],
        rows,
    }
}

fn health_rows(results: &[Health]) -> Rows {
    let rows = results
        .iter()
        .map(|h| {
            vec![
                h.endpoint.clone(),
                h.healthy.to_string(),
                h.took.clone(),
                h.error.clone(),
            ]
        })
        .collect();
    Rows {
        headers: &["endpoint", "health", "took", "error"],
        rows,
    }
}

fn status_rows(statuses: &[(String, StatusResponse)]) -> Rows {
    let rows = statuses
        .iter()
        .map(|(endpoint, s)| {
            let member_id = s.header.as_ref().map_or(0, |h| h.member_id);
            vec![
                endpoint.clone(),
                format!("{member_id:x}"),
                s.version.clone(),
                humanize_bytes(s.db_size as u64),
                (s.leader == member_id).to_string(),
                s.is_learner.to_string(),
                s.raft_term.to_string(),
                s.raft_index.to_string(),
                s.raft_applied_index.to_string(),
                s.errors.join(", "),
            ]
        })
        .collect();
    Rows {
        headers: &[
            "endpoint",
            "ID",
            "version",
            "db size",
            "is leader",
            "is learner",
            "raft term",
            "raft index",
            "raft applied index",
            "errors",
        ],
        rows,
    }
}

fn hashkv_rows(hashes: &[(String, HashKvResponse)]) -> Rows {
    let rows = hashes
        .iter()
        .map(|(endpoint, h)| vec![endpoint.clone(), h.hash.to_string()])
        .collect();
    Rows {
        headers: &["endpoint", "hash"],
        rows,
    }
}

/// The name Go prints for an alarm type.
fn alarm_name(alarm: i32) -> String {
    match alarm {
        0 => "NONE".to_string(),
        1 => "NOSPACE".to_string(),
        2 => "CORRUPT".to_string(),
        other => other.to_string(),
    }
}

/// A watch event's type as Go prints the enum.
fn event_type_name(kind: i32) -> String {
    match kind {
        0 => "PUT".to_string(),
        1 => "DELETE".to_string(),
        other => other.to_string(),
    }
}

/// A permission type as Go prints the enum.
fn perm_type_name(kind: i32) -> String {
    match kind {
        0 => "READ".to_string(),
        1 => "WRITE".to_string(),
        2 => "READWRITE".to_string(),
        other => other.to_string(),
    }
}
