//! etcdctl's output formats: `simple` (lines), `json` (Go's encoding of etcd's structs: proto
//! field names, zero values left out, bytes in base64), `fields` (`"Name" : value` lines),
//! `table` (bordered, headers centred, cells right-aligned) and `protobuf` (the raw response).
//! Commands without a table form print `simple` under `-w table`, as etcdctl does.

use std::io::Write;

use base64::Engine;
use etcdlab_core::proto::etcdserverpb::response_op::Response;
use etcdlab_core::proto::etcdserverpb::{
    DeleteRangeResponse, Member, MemberAddResponse, MemberListResponse, PutResponse, RangeResponse,
    ResponseHeader, StatusResponse, TxnResponse,
};
use etcdlab_core::proto::mvccpb::KeyValue;
use serde_json::{Map, Value, json};

use super::{CtlError, exit};

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Simple,
    Json,
    Table,
    Fields,
    Protobuf,
}

/// Prints command results in the chosen format.
pub struct Printer {
    pub format: Format,
    pub hex: bool,
    pub value_only: bool,
}

impl Printer {
    fn protobuf(&self, msg: &impl prost::Message) {
        let _ = std::io::stdout().write_all(&msg.encode_to_vec());
    }

    /// etcdctl has no table form for key-value results: it says so after the request ran.
    fn table_unsupported(&self) -> Result<(), CtlError> {
        if self.format == Format::Table {
            return Err(CtlError::new(
                exit::BAD_FEATURE,
                "table not supported as output format",
            ));
        }
        Ok(())
    }

    pub fn get(&self, r: &RangeResponse) -> Result<(), CtlError> {
        self.table_unsupported()?;
        match self.format {
            Format::Json => print_json(&range_json(r)),
            Format::Protobuf => self.protobuf(r),
            Format::Fields => print!("{}", self.get_fields(r)),
            _ => print!("{}", self.get_simple(r)),
        }
        Ok(())
    }

    fn get_simple(&self, r: &RangeResponse) -> String {
        r.kvs.iter().map(|kv| self.kv_simple(kv)).collect()
    }

    pub fn put(&self, r: &PutResponse) -> Result<(), CtlError> {
        self.table_unsupported()?;
        match self.format {
            Format::Json => print_json(&put_json(r)),
            Format::Protobuf => self.protobuf(r),
            Format::Fields => print!("{}", put_fields(r)),
            _ => print!("{}", self.put_simple(r)),
        }
        Ok(())
    }

    fn put_simple(&self, r: &PutResponse) -> String {
        let mut out = "OK\n".to_string();
        if let Some(kv) = &r.prev_kv {
            out.push_str(&self.kv_simple(kv));
        }
        out
    }

    pub fn del(&self, r: &DeleteRangeResponse) -> Result<(), CtlError> {
        self.table_unsupported()?;
        match self.format {
            Format::Json => print_json(&del_json(r)),
            Format::Protobuf => self.protobuf(r),
            Format::Fields => print!("{}", del_fields(r)),
            _ => print!("{}", self.del_simple(r)),
        }
        Ok(())
    }

    fn del_simple(&self, r: &DeleteRangeResponse) -> String {
        let mut out = format!("{}\n", r.deleted);
        for kv in &r.prev_kvs {
            out.push_str(&self.kv_simple(kv));
        }
        out
    }

    pub fn txn(&self, r: &TxnResponse) -> Result<(), CtlError> {
        self.table_unsupported()?;
        match self.format {
            Format::Json => print_json(&txn_json(r)),
            Format::Protobuf => self.protobuf(r),
            Format::Fields => print!("{}", self.txn_fields(r)),
            _ => {
                let mut out = if r.succeeded {
                    "SUCCESS\n"
                } else {
                    "FAILURE\n"
                }
                .to_string();
                for op in &r.responses {
                    out.push('\n');
                    match &op.response {
                        Some(Response::ResponseRange(g)) => out.push_str(&self.get_simple(g)),
                        Some(Response::ResponsePut(p)) => out.push_str(&self.put_simple(p)),
                        Some(Response::ResponseDeleteRange(d)) => out.push_str(&self.del_simple(d)),
                        other => out.push_str(&format!("unexpected response {other:?}\n")),
                    }
                }
                print!("{out}");
            }
        }
        Ok(())
    }

    fn txn_fields(&self, r: &TxnResponse) -> String {
        let mut out = header_fields(r.header.as_ref());
        out.push_str(&format!("\"Succeeded\" : {}\n", r.succeeded));
        for op in &r.responses {
            match &op.response {
                Some(Response::ResponseRange(g)) => out.push_str(&self.get_fields(g)),
                Some(Response::ResponsePut(p)) => out.push_str(&put_fields(p)),
                Some(Response::ResponseDeleteRange(d)) => out.push_str(&del_fields(d)),
                other => out.push_str(&format!(
                    "\"Unknown\" : {}\n",
                    go_quote(format!("{other:?}").as_bytes())
                )),
            }
        }
        out
    }

    fn get_fields(&self, r: &RangeResponse) -> String {
        let mut out = header_fields(r.header.as_ref());
        for kv in &r.kvs {
            out.push_str(&kv_fields("", kv));
        }
        out.push_str(&format!("\"More\" : {}\n\"Count\" : {}\n", r.more, r.count));
        out
    }

    /// A key and its value on two lines (`--print-value-only`: the value alone; `--hex`: escaped).
    fn kv_simple(&self, kv: &KeyValue) -> String {
        let text = |b: &[u8]| {
            if self.hex {
                hex_escaped(b)
            } else {
                String::from_utf8_lossy(b).into_owned()
            }
        };
        let mut out = String::new();
        if !self.value_only {
            out.push_str(&text(&kv.key));
            out.push('\n');
        }
        out.push_str(&text(&kv.value));
        out.push('\n');
        out
    }

    pub fn member_list(&self, r: &MemberListResponse) {
        match self.format {
            Format::Json => print_json(&json_object(vec![
                ("header", Some(header_json(r.header.as_ref()))),
                (
                    "members",
                    non_empty(r.members.iter().map(member_json).collect()),
                ),
            ])),
            Format::Protobuf => self.protobuf(r),
            Format::Fields => {
                let mut out = header_fields(r.header.as_ref());
                for m in &r.members {
                    out.push_str(&format!(
                        "\"ID\" : {}\n\"Name\" : {}\n\"PeerURL\" : {}\n\"ClientURL\" : {}\n\"IsLearner\" : {}\n\n",
                        m.id,
                        go_quote(m.name.as_bytes()),
                        go_quote(m.peer_ur_ls.join(",").as_bytes()),
                        go_quote(m.client_ur_ls.join(",").as_bytes()),
                        m.is_learner
                    ));
                }
                print!("{out}");
            }
            Format::Table => print!("{}", table(MEMBER_HEADERS, &member_rows(r))),
            Format::Simple => print!("{}", simple_rows(&member_rows(r))),
        }
    }

    /// `member add`: the new member, then (simple format) the settings to start it with.
    pub fn member_added(&self, r: &MemberAddResponse, name: &str, peer_urls: &str) {
        let new_id = r.member.as_ref().map_or(0, |m| m.id);
        let cluster_id = r.header.as_ref().map_or(0, |h| h.cluster_id);
        match self.format {
            Format::Json => print_json(&json_object(vec![
                ("header", Some(header_json(r.header.as_ref()))),
                ("member", r.member.as_ref().map(member_json)),
                (
                    "members",
                    non_empty(r.members.iter().map(member_json).collect()),
                ),
            ])),
            Format::Protobuf => self.protobuf(r),
            _ => println!("Member {new_id:16x} added to cluster {cluster_id:16x}"),
        }
        if self.format == Format::Simple {
            let conf: Vec<String> = r
                .members
                .iter()
                .flat_map(|m| {
                    let n = if m.id == new_id {
                        name.to_string()
                    } else {
                        m.name.clone()
                    };
                    m.peer_ur_ls.iter().map(move |u| format!("{n}={u}"))
                })
                .collect();
            println!("\nETCD_NAME={}", go_quote(name.as_bytes()));
            println!(
                "ETCD_INITIAL_CLUSTER={}",
                go_quote(conf.join(",").as_bytes())
            );
            println!(
                "ETCD_INITIAL_ADVERTISE_PEER_URLS={}",
                go_quote(peer_urls.as_bytes())
            );
            println!("ETCD_INITIAL_CLUSTER_STATE=\"existing\"");
        }
    }

    /// `member remove|update|promote`: `Member <id> <what> cluster <cluster id>`.
    pub fn member_changed(
        &self,
        what: &str,
        id: u64,
        header: Option<&ResponseHeader>,
        r: &impl prost::Message,
    ) {
        match self.format {
            Format::Protobuf => self.protobuf(r),
            _ => println!(
                "Member {id:16x} {what} cluster {:16x}",
                header.map_or(0, |h| h.cluster_id)
            ),
        }
    }

    pub fn endpoint_status(&self, statuses: &[(String, StatusResponse)]) {
        let rows: Vec<Vec<String>> = statuses.iter().map(|(ep, s)| status_row(ep, s)).collect();
        match self.format {
            Format::Json => print_json(&Value::Array(
                statuses
                    .iter()
                    .map(|(ep, s)| json!({"Endpoint": ep, "Status": status_json(s)}))
                    .collect(),
            )),
            Format::Table => print!("{}", table(STATUS_HEADERS, &rows)),
            Format::Fields => {
                for (ep, s) in statuses {
                    print!(
                        "{}\"Version\" : {}\n\"DBSize\" : {}\n\"Leader\" : {}\n\"IsLearner\" : {}\n\"RaftIndex\" : {}\n\"RaftTerm\" : {}\n\"RaftAppliedIndex\" : {}\n\"Errors\" : [{}]\n\"Endpoint\" : {}\n\n",
                        header_fields(s.header.as_ref()),
                        go_quote(s.version.as_bytes()),
                        s.db_size,
                        s.leader,
                        s.is_learner,
                        s.raft_index,
                        s.raft_term,
                        s.raft_applied_index,
                        s.errors.join(" "),
                        go_quote(ep.as_bytes())
                    );
                }
            }
            _ => print!("{}", simple_rows(&rows)),
        }
    }

    /// `endpoint health`: the simple form goes to stderr, as etcdctl writes it.
    pub fn endpoint_health(&self, results: &[Health]) {
        match self.format {
            Format::Json => print_json(&Value::Array(
                results
                    .iter()
                    .map(|h| {
                        json_object(vec![
                            ("endpoint", Some(json!(h.endpoint))),
                            ("health", Some(json!(h.healthy))),
                            ("took", Some(json!(h.took))),
                            ("error", (!h.error.is_empty()).then(|| json!(h.error))),
                        ])
                    })
                    .collect(),
            )),
            Format::Table => {
                let rows: Vec<Vec<String>> = results
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
                print!("{}", table(&["endpoint", "health", "took", "error"], &rows));
            }
            Format::Fields => {
                for h in results {
                    print!(
                        "\"Endpoint\" : {}\n\"Health\" : {}\n\"Took\" : {}\n\"Error\" : {}\n\n",
                        go_quote(h.endpoint.as_bytes()),
                        h.healthy,
                        h.took,
                        h.error
                    );
                }
            }
            _ => {
                for h in results {
                    if h.error.is_empty() {
                        eprintln!(
                            "{} is healthy: successfully committed proposal: took = {}",
                            h.endpoint, h.took
                        );
                    } else {
                        eprintln!(
                            "{} is unhealthy: failed to commit proposal: {}",
                            h.endpoint, h.error
                        );
                    }
                }
            }
        }
    }

    pub fn endpoint_hashkv(
        &self,
        hashes: &[(String, etcdlab_core::proto::etcdserverpb::HashKvResponse)],
    ) {
        let rows: Vec<Vec<String>> = hashes
            .iter()
            .map(|(ep, h)| vec![ep.clone(), h.hash.to_string()])
            .collect();
        match self.format {
            Format::Json => print_json(&Value::Array(
                hashes
                    .iter()
                    .map(|(ep, h)| {
                        let body = json_object(vec![
                            ("header", Some(header_json(h.header.as_ref()))),
                            ("hash", (h.hash != 0).then(|| json!(h.hash))),
                            (
                                "compact_revision",
                                (h.compact_revision != 0).then(|| json!(h.compact_revision)),
                            ),
                        ]);
                        json!({"Endpoint": ep, "HashKV": body})
                    })
                    .collect(),
            )),
            Format::Table => print!("{}", table(&["endpoint", "hash"], &rows)),
            Format::Fields => {
                for (ep, h) in hashes {
                    print!(
                        "{}\"Endpoint\" : {}\n\"Hash\" : {}\n\n",
                        header_fields(h.header.as_ref()),
                        go_quote(ep.as_bytes()),
                        h.hash
                    );
                }
            }
            _ => print!("{}", simple_rows(&rows)),
        }
    }

    /// Whether `--print-value-only` is allowed with this format.
    pub fn allows_value_only(&self) -> bool {
        self.format == Format::Simple
    }
}

/// One endpoint's `endpoint health` result.
pub struct Health {
    pub endpoint: String,
    pub healthy: bool,
    pub took: String,
    pub error: String,
}

const MEMBER_HEADERS: &[&str] = &[
    "ID",
    "Status",
    "Name",
    "Peer Addrs",
    "Client Addrs",
    "Is Learner",
];
const STATUS_HEADERS: &[&str] = &[
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
];

fn member_rows(r: &MemberListResponse) -> Vec<Vec<String>> {
    r.members
        .iter()
        .map(|m| {
            vec![
                format!("{:x}", m.id),
                if m.name.is_empty() {
                    "unstarted"
                } else {
                    "started"
                }
                .to_string(),
                m.name.clone(),
                m.peer_ur_ls.join(","),
                m.client_ur_ls.join(","),
                m.is_learner.to_string(),
            ]
        })
        .collect()
}

fn status_row(endpoint: &str, s: &StatusResponse) -> Vec<String> {
    let member_id = s.header.as_ref().map_or(0, |h| h.member_id);
    vec![
        endpoint.to_string(),
        format!("{member_id:x}"),
        s.version.clone(),
        humanize_bytes(s.db_size.max(0) as u64),
        (s.leader == member_id).to_string(),
        s.is_learner.to_string(),
        s.raft_term.to_string(),
        s.raft_index.to_string(),
        s.raft_applied_index.to_string(),
        s.errors.join(", "),
    ]
}

fn simple_rows(rows: &[Vec<String>]) -> String {
    rows.iter().map(|r| r.join(", ") + "\n").collect()
}

/// A table as etcdctl draws it: upper-case centred headers, right-aligned cells.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let headers: Vec<String> = headers.iter().map(|h| h.to_uppercase()).collect();
    let widths: Vec<usize> = (0..headers.len())
        .map(|i| {
            rows.iter()
                .map(|r| r[i].chars().count())
                .chain([headers[i].chars().count()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let border: String = widths
        .iter()
        .map(|w| format!("+{}", "-".repeat(w + 2)))
        .collect::<String>()
        + "+\n";
    let mut out = border.clone();
    for (h, w) in headers.iter().zip(&widths) {
        let pad = w - h.chars().count();
        out.push_str(&format!(
            "| {}{}{} ",
            " ".repeat(pad / 2),
            h,
            " ".repeat(pad - pad / 2)
        ));
    }
    out.push_str("|\n");
    out.push_str(&border);
    for row in rows {
        for (cell, w) in row.iter().zip(&widths) {
            out.push_str(&format!("| {cell:>w$} "));
        }
        out.push_str("|\n");
    }
    out.push_str(&border);
    out
}

/// Sizes as Go's go-humanize `Bytes` prints them (SI units, one decimal under 10).
pub fn humanize_bytes(n: u64) -> String {
    if n < 10 {
        return format!("{n} B");
    }
    let units = ["B", "kB", "MB", "GB", "TB", "PB", "EB"];
    let exp = ((n as f64).ln() / 1000f64.ln()).floor() as usize;
    let value = n as f64 / 1000f64.powi(exp as i32);
    let value = (value * 10.0 + 0.5).floor() / 10.0;
    if value < 10.0 {
        format!("{value:.1} {}", units[exp])
    } else {
        format!("{value:.0} {}", units[exp])
    }
}

/// `\xNN` for every byte, as `--hex` prints keys and values.
fn hex_escaped(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("\\x{b:02x}")).collect()
}

/// Go's `%q` of a string.
pub fn go_quote(bytes: &[u8]) -> String {
    let mut out = String::from("\"");
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\t' => out.push_str("\\t"),
                '\r' => out.push_str("\\r"),
                '\u{7}' => out.push_str("\\a"),
                '\u{8}' => out.push_str("\\b"),
                '\u{c}' => out.push_str("\\f"),
                '\u{b}' => out.push_str("\\v"),
                c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                    out.push_str(&format!("\\x{:02x}", c as u32))
                }
                c => out.push(c),
            }
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out.push('"');
    out
}

/// Go's `time.Duration.String()`.
pub fn go_duration(d: std::time::Duration) -> String {
    let ns = d.as_nanos();
    let (value, unit) = match ns {
        0 => return "0s".into(),
        n if n < 1_000 => return format!("{n}ns"),
        n if n < 1_000_000 => (n as f64 / 1e3, "µs"),
        n if n < 1_000_000_000 => (n as f64 / 1e6, "ms"),
        n => (n as f64 / 1e9, "s"),
    };
    let text = format!("{value:.9}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    format!("{text}{unit}")
}

fn header_fields(h: Option<&ResponseHeader>) -> String {
    let h = h.cloned().unwrap_or_default();
    format!(
        "\"ClusterID\" : {}\n\"MemberID\" : {}\n\"Revision\" : {}\n\"RaftTerm\" : {}\n",
        h.cluster_id, h.member_id, h.revision, h.raft_term
    )
}

fn kv_fields(prefix: &str, kv: &KeyValue) -> String {
    format!(
        "\"{prefix}Key\" : {}\n\"{prefix}CreateRevision\" : {}\n\"{prefix}ModRevision\" : {}\n\"{prefix}Version\" : {}\n\"{prefix}Value\" : {}\n\"{prefix}Lease\" : {}\n",
        go_quote(&kv.key),
        kv.create_revision,
        kv.mod_revision,
        kv.version,
        go_quote(&kv.value),
        kv.lease
    )
}

fn put_fields(r: &PutResponse) -> String {
    let mut out = header_fields(r.header.as_ref());
    if let Some(kv) = &r.prev_kv {
        out.push_str(&kv_fields("Prev", kv));
    }
    out
}

fn del_fields(r: &DeleteRangeResponse) -> String {
    let mut out = header_fields(r.header.as_ref());
    out.push_str(&format!("\"Deleted\" : {}\n", r.deleted));
    for kv in &r.prev_kvs {
        out.push_str(&kv_fields("Prev", kv));
    }
    out
}

fn print_json(v: &Value) {
    println!("{v}");
}

/// An object of the fields present (Go's `omitempty`).
fn json_object(fields: Vec<(&str, Option<Value>)>) -> Value {
    let mut map = Map::new();
    for (k, v) in fields {
        if let Some(v) = v {
            map.insert(k.to_string(), v);
        }
    }
    Value::Object(map)
}

fn non_zero(n: i64) -> Option<Value> {
    (n != 0).then(|| json!(n))
}

fn non_zero_u(n: u64) -> Option<Value> {
    (n != 0).then(|| json!(n))
}

fn non_empty(items: Vec<Value>) -> Option<Value> {
    (!items.is_empty()).then_some(Value::Array(items))
}

fn bytes_json(b: &[u8]) -> Option<Value> {
    (!b.is_empty()).then(|| json!(base64::engine::general_purpose::STANDARD.encode(b)))
}

fn header_json(h: Option<&ResponseHeader>) -> Value {
    let h = h.cloned().unwrap_or_default();
    json_object(vec![
        ("cluster_id", non_zero_u(h.cluster_id)),
        ("member_id", non_zero_u(h.member_id)),
        ("revision", non_zero(h.revision)),
        ("raft_term", non_zero_u(h.raft_term)),
    ])
}

fn kv_json(kv: &KeyValue) -> Value {
    json_object(vec![
        ("key", bytes_json(&kv.key)),
        ("create_revision", non_zero(kv.create_revision)),
        ("mod_revision", non_zero(kv.mod_revision)),
        ("version", non_zero(kv.version)),
        ("value", bytes_json(&kv.value)),
        ("lease", non_zero(kv.lease)),
    ])
}

fn range_json(r: &RangeResponse) -> Value {
    json_object(vec![
        ("header", r.header.as_ref().map(|h| header_json(Some(h)))),
        ("kvs", non_empty(r.kvs.iter().map(kv_json).collect())),
        ("more", r.more.then_some(json!(true))),
        ("count", non_zero(r.count)),
    ])
}

fn put_json(r: &PutResponse) -> Value {
    json_object(vec![
        ("header", r.header.as_ref().map(|h| header_json(Some(h)))),
        ("prev_kv", r.prev_kv.as_ref().map(kv_json)),
    ])
}

fn del_json(r: &DeleteRangeResponse) -> Value {
    json_object(vec![
        ("header", r.header.as_ref().map(|h| header_json(Some(h)))),
        ("deleted", non_zero(r.deleted)),
        (
            "prev_kvs",
            non_empty(r.prev_kvs.iter().map(kv_json).collect()),
        ),
    ])
}

fn txn_json(r: &TxnResponse) -> Value {
    let responses = r
        .responses
        .iter()
        .map(|op| {
            let inner = match &op.response {
                Some(Response::ResponseRange(g)) => json!({"ResponseRange": range_json(g)}),
                Some(Response::ResponsePut(p)) => json!({"ResponsePut": put_json(p)}),
                Some(Response::ResponseDeleteRange(d)) => {
                    json!({"ResponseDeleteRange": del_json(d)})
                }
                Some(Response::ResponseTxn(t)) => json!({"ResponseTxn": txn_json(t)}),
                None => Value::Null,
            };
            json!({"Response": inner})
        })
        .collect();
    json_object(vec![
        ("header", r.header.as_ref().map(|h| header_json(Some(h)))),
        ("succeeded", r.succeeded.then_some(json!(true))),
        ("responses", non_empty(responses)),
    ])
}

fn member_json(m: &Member) -> Value {
    let urls = |u: &[String]| non_empty(u.iter().map(|s| json!(s)).collect());
    json_object(vec![
        ("ID", non_zero_u(m.id)),
        ("name", (!m.name.is_empty()).then(|| json!(m.name))),
        ("peerURLs", urls(&m.peer_ur_ls)),
        ("clientURLs", urls(&m.client_ur_ls)),
        ("isLearner", m.is_learner.then_some(json!(true))),
    ])
}

fn status_json(s: &StatusResponse) -> Value {
    json_object(vec![
        ("header", s.header.as_ref().map(|h| header_json(Some(h)))),
        ("version", (!s.version.is_empty()).then(|| json!(s.version))),
        ("dbSize", non_zero(s.db_size)),
        ("leader", non_zero_u(s.leader)),
        ("raftIndex", non_zero_u(s.raft_index)),
        ("raftTerm", non_zero_u(s.raft_term)),
        ("raftAppliedIndex", non_zero_u(s.raft_applied_index)),
        (
            "errors",
            non_empty(s.errors.iter().map(|e| json!(e)).collect()),
        ),
        ("dbSizeInUse", non_zero(s.db_size_in_use)),
        ("isLearner", s.is_learner.then_some(json!(true))),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn go_formats() {
        assert_eq!(go_duration(Duration::from_nanos(1_365_748)), "1.365748ms");
        assert_eq!(go_duration(Duration::from_micros(850)), "850µs");
        assert_eq!(go_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(humanize_bytes(20480), "20 kB");
        assert_eq!(humanize_bytes(143360), "143 kB");
        assert_eq!(humanize_bytes(8_600_000), "8.6 MB");
        assert_eq!(go_quote(b"a\"b\n\xff"), "\"a\\\"b\\n\\xff\"");
    }

    #[test]
    fn table_matches_etcdctl_layout() {
        let t = table(
            &["ID", "Status"],
            &[vec!["2e2c5d87fc929265".into(), "started".into()]],
        );
        assert_eq!(
            t,
            "+------------------+---------+\n|        ID        | STATUS  |\n+------------------+---------+\n| 2e2c5d87fc929265 | started |\n+------------------+---------+\n"
        );
    }
}
