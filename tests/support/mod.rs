//! Shared helpers for the cross-process tests: free loopback ports, our member and real etcd
//! as child processes that are killed on drop, and the real etcdctl run with a timeout.
//! Everything listens on 127.0.0.1 only, and every wait is bounded.

#![allow(dead_code)]

pub mod netns;
pub mod pki;
pub mod ports;
pub mod transcript;

pub use ports::{free_lab_base, free_port};

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The team's reference shelf, `../shared` beside the project.
pub fn shared_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared")
}

/// Our binary, as cargo built it for this test run.
pub fn etcdlab_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_etcdlab"))
}

/// Waits until `check` succeeds, retrying every 200 ms; panics with `what` and the last error
/// after `timeout`.
pub fn wait_for(what: &str, timeout: Duration, mut check: impl FnMut() -> Result<(), String>) {
    let deadline = Instant::now() + timeout;
    loop {
        match check() {
            Ok(()) => return,
            Err(last) if Instant::now() > deadline => panic!("{what} within {timeout:?}: {last}"),
            Err(_) => std::thread::sleep(Duration::from_millis(200)),
        }
    }
}

/// What a finished command printed.
pub struct Output {
    pub stdout_bytes: Vec<u8>,
    pub stdout: String,
    pub stderr: String,
    pub code: i32,
}

/// Runs `program args` with `env`, feeding `stdin`, killing it after `timeout`.
pub fn run(
    program: &Path,
    args: &[String],
    env: &[(&str, &str)],
    stdin: Option<&str>,
    timeout: Duration,
) -> Output {
    let mut cmd = Command::new(program);
    cmd.args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()));
    let mut input = child.stdin.take().unwrap();
    if let Some(text) = stdin {
        let _ = input.write_all(text.as_bytes());
    }
    drop(input);
    let deadline = Instant::now() + timeout;
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let out = child.wait_with_output().unwrap();
    Output {
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stdout_bytes: out.stdout,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        code: out.status.code().unwrap_or(-1),
    }
}

/// The real etcdctl 3.4.23 from Debian's etcd-client.
pub fn real_etcdctl() -> PathBuf {
    let path = PathBuf::from("/usr/bin/etcdctl");
    assert!(
        path.exists(),
        "the real etcdctl is missing: run scripts/ensure-tools (Debian package etcd-client)"
    );
    path
}

/// Runs the real etcdctl (v3 API) against `endpoints`.
pub fn etcdctl(endpoints: &str, args: &[String], stdin: Option<&str>) -> Output {
    let mut all = vec!["--endpoints".to_string(), endpoints.to_string()];
    all.extend_from_slice(args);
    run(
        &real_etcdctl(),
        &all,
        &[("ETCDCTL_API", "3")],
        stdin,
        Duration::from_secs(20),
    )
}

/// Masks member and cluster ids, in hex (16 digits) and decimal (15+ digits).
pub fn mask_ids(text: &str) -> String {
    // Go prints ids with %x, so a leading zero drops a digit; with %16x it becomes a space,
    // so the spaces before an id are one space however many digits it has.
    // A decimal id after a colon (JSON, `-w fields`) is one even when its digits could pass for
    // hex: a member id below 10^16 printed in decimal is all hex digits.
    let after_colon = regex_lite::Regex::new(r"(:\s*)\d{15,20}\b").unwrap();
    let hex = regex_lite::Regex::new(r"( +)?\b[0-9a-f]{13,16}\b").unwrap();
    let dec = regex_lite::Regex::new(r"\b\d{15,20}\b").unwrap();
    let text = after_colon.replace_all(text, "${1}BIG");
    let masked = hex.replace_all(
        &text,
        |found: &regex_lite::Captures| {
            if found.get(1).is_some() { " ID" } else { "ID" }
        },
    );
    dec.replace_all(&masked, "BIG").into_owned()
}

/// One unary gRPC call to `endpoint` (`path` as `/etcdserverpb.Service/Method`), with the
/// auth `token` metadata if given: for what no etcdctl command sends.
pub fn unary<Req, Resp>(
    endpoint: &str,
    path: &'static str,
    request: Req,
    token: Option<&str>,
) -> Result<Resp, tonic::Status>
where
    Req: prost::Message + Send + Sync + 'static,
    Resp: prost::Message + Default + Send + Sync + 'static,
{
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let channel = tonic::transport::Channel::from_shared(format!("http://{endpoint}"))
            .unwrap()
            .connect_timeout(Duration::from_secs(3))
            .timeout(Duration::from_secs(5))
            .connect()
            .await
            .expect("connect");
        let mut grpc = tonic::client::Grpc::new(channel);
        grpc.ready().await.expect("ready");
        let mut request = tonic::Request::new(request);
        if let Some(token) = token {
            request
                .metadata_mut()
                .insert("token", token.parse().expect("an ASCII token"));
        }
        grpc.unary(
            request,
            tonic::codegen::http::uri::PathAndQuery::from_static(path),
            tonic_prost::ProstCodec::default(),
        )
        .await
        .map(tonic::Response::into_inner)
    })
}

/// A process killed (and its data dir removed) on drop.
pub struct Process {
    pub child: Child,
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One etcdlab member on loopback ports, in its own temporary data dir.
pub struct OurMember {
    pub name: String,
    pub client_port: u16,
    pub peer_port: u16,
    pub dir: tempfile::TempDir,
    pub process: Option<Process>,
    pub extra: Vec<String>,
    /// `--initial-cluster` (this member alone unless it is part of an [`OurCluster`]).
    pub initial_cluster: String,
}

impl OurMember {
    /// Starts a one-member cluster and waits until it answers `endpoint health`.
    pub fn start_single(name: &str) -> OurMember {
        Self::start_single_with(name, &[])
    }

    pub fn start_single_with(name: &str, extra: &[&str]) -> OurMember {
        let mut member = Self::new(name, extra);
        member.initial_cluster = format!("{name}=http://127.0.0.1:{}", member.peer_port);
        member.launch();
        member.wait_healthy(Duration::from_secs(30));
        member
    }

    /// A member not started yet, on fresh ports.
    pub fn new(name: &str, extra: &[&str]) -> OurMember {
        OurMember {
            name: name.to_string(),
            client_port: free_port(),
            peer_port: free_port(),
            dir: tempfile::tempdir().unwrap(),
            process: None,
            extra: extra.iter().map(|s| s.to_string()).collect(),
            initial_cluster: String::new(),
        }
    }

    pub fn peer_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.peer_port)
    }

    pub fn endpoint(&self) -> String {
        format!("127.0.0.1:{}", self.client_port)
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// The flags this member runs with.
    pub fn args(&self) -> Vec<String> {
        let peer = format!("http://127.0.0.1:{}", self.peer_port);
        let client = format!("http://127.0.0.1:{}", self.client_port);
        let mut args: Vec<String> = [
            "etcd",
            "--name",
            &self.name,
            "--data-dir",
            &self.data_dir().to_string_lossy(),
            "--listen-client-urls",
            &client,
            "--advertise-client-urls",
            &client,
            "--listen-peer-urls",
            &peer,
            "--initial-advertise-peer-urls",
            &peer,
            "--initial-cluster",
            &self.initial_cluster,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        args.extend(self.extra.iter().cloned());
        args
    }

    /// Starts (or restarts) the process on the same data dir.
    pub fn launch(&mut self) {
        let log = std::fs::File::create(
            self.dir
                .path()
                .join(format!("member-{}.log", std::process::id())),
        )
        .unwrap();
        let child = Command::new(etcdlab_bin())
            .args(self.args())
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("starting etcdlab");
        self.process = Some(Process { child });
    }

    /// What the member has logged so far (all its runs).
    pub fn log(&self) -> String {
        std::fs::read_to_string(
            self.dir
                .path()
                .join(format!("member-{}.log", std::process::id())),
        )
        .unwrap_or_default()
    }

    /// Kills the process with SIGKILL (no chance to flush anything).
    pub fn kill9(&mut self) {
        self.process = None;
    }

    pub fn wait_healthy(&self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            let out = etcdctl(
                &self.endpoint(),
                &["endpoint".into(), "health".into()],
                None,
            );
            if out.code == 0 {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "member not healthy in {timeout:?}: {}{}",
                out.stdout,
                out.stderr
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// A cluster of our members on loopback, each in its own data dir.
pub struct OurCluster {
    pub members: Vec<OurMember>,
}

impl OurCluster {
    /// Starts `size` members (fast Raft timing) and waits until all answer `endpoint health`.
    pub fn start(size: usize) -> OurCluster {
        Self::start_with(size, &[])
    }

    /// Like [`OurCluster::start`], with more flags for every member.
    pub fn start_with(size: usize, more: &[&str]) -> OurCluster {
        // etcd's default timing: faster settings cause needless elections on a loaded CI machine.
        let mut extra = vec!["--heartbeat-interval", "100", "--election-timeout", "1000"];
        extra.extend_from_slice(more);
        let mut members: Vec<OurMember> = (1..=size)
            .map(|i| OurMember::new(&format!("m{i}"), &extra))
            .collect();
        let initial = members
            .iter()
            .map(|m| format!("{}={}", m.name, m.peer_url()))
            .collect::<Vec<_>>()
            .join(",");
        for m in &mut members {
            m.initial_cluster = initial.clone();
            m.launch();
        }
        let cluster = OurCluster { members };
        for m in &cluster.members {
            m.wait_healthy(Duration::from_secs(30));
        }
        cluster
    }

    /// Client endpoints of the members still running.
    pub fn endpoints(&self) -> String {
        self.members
            .iter()
            .filter(|m| m.process.is_some())
            .map(|m| m.endpoint())
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The index of the member that every running member agrees is leader, waiting up to `timeout`.
    pub fn leader(&self, timeout: Duration) -> Option<usize> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            let out = etcdctl(
                &self.endpoints(),
                &[
                    "endpoint".into(),
                    "status".into(),
                    "-w".into(),
                    "json".into(),
                ],
                None,
            );
            if let Ok(serde_json::Value::Array(statuses)) =
                serde_json::from_str::<serde_json::Value>(&out.stdout)
            {
                let leaders: Vec<u64> = statuses
                    .iter()
                    .filter_map(|s| s["Status"]["leader"].as_u64())
                    .collect();
                let alive = self.members.iter().filter(|m| m.process.is_some()).count();
                if leaders.len() == alive && leaders.iter().all(|l| *l == leaders[0] && *l != 0) {
                    let index = statuses.iter().position(|s| {
                        s["Status"]["header"]["member_id"].as_u64() == Some(leaders[0])
                    });
                    if let Some(i) = index {
                        let ep = statuses[i]["Endpoint"]
                            .as_str()
                            .unwrap_or_default()
                            .to_string();
                        return self.members.iter().position(|m| m.endpoint() == ep);
                    }
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        None
    }
}

/// A real etcd 3.4.23 (Debian's etcd-server) on loopback ports, killed on drop.
pub struct RealEtcd {
    pub client_port: u16,
    pub peer_port: u16,
    pub dir: tempfile::TempDir,
    pub process: Process,
}

impl RealEtcd {
    /// A one-member real etcd on fresh ports.
    pub fn start() -> RealEtcd {
        Self::start_on(free_port(), free_port())
    }

    /// A one-member real etcd with an empty data dir on the given ports, healthy on return.
    /// Its member and cluster ids derive from the peer URL alone, so two etcds started on the
    /// same ports (one after the other) answer with the same ids.
    pub fn start_on(client_port: u16, peer_port: u16) -> RealEtcd {
        let etcd = PathBuf::from("/usr/bin/etcd");
        assert!(
            etcd.exists(),
            "real etcd is missing: run scripts/ensure-tools (Debian package etcd-server)"
        );
        let dir = tempfile::tempdir().unwrap();
        let peer = format!("http://127.0.0.1:{peer_port}");
        let client = format!("http://127.0.0.1:{client_port}");
        let log = std::fs::File::create(dir.path().join("etcd.log")).unwrap();
        let child = Command::new(etcd)
            .args([
                "--name",
                "single",
                "--data-dir",
                &dir.path().join("data").to_string_lossy(),
                "--listen-client-urls",
                &client,
                "--advertise-client-urls",
                &client,
                "--listen-peer-urls",
                &peer,
                "--initial-advertise-peer-urls",
                &peer,
                "--initial-cluster",
                &format!("single={peer}"),
            ])
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("starting real etcd");
        let real = RealEtcd {
            client_port,
            peer_port,
            dir,
            process: Process { child },
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while etcdctl(
            &real.endpoint(),
            &["endpoint".into(), "health".into()],
            None,
        )
        .code
            != 0
        {
            assert!(
                Instant::now() < deadline,
                "real etcd did not become healthy:\n{}",
                real.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        real
    }

    pub fn endpoint(&self) -> String {
        format!("127.0.0.1:{}", self.client_port)
    }

    /// What etcd has logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("etcd.log")).unwrap_or_default()
    }
}

/// Masks what legitimately differs between two servers in etcdctl output: ids, ports,
/// timings and database sizes; table cells are compared without their padding.
pub fn normalize(text: &str) -> String {
    let text = mask_sizes(&mask_ids(text));
    let rules = [
        (r"took = [0-9.]+[µmn]?s", "took = T"),
        (r#""took":"[^"]*""#, r#""took":"T""#),
        (r"127\.0\.0\.1:\d+", "127.0.0.1:PORT"),
        (r"\| *[0-9.]+[µmn]?s *\|", "| T |"),
    ];
    let text = replace_all(&text, &rules);
    let padding = regex_lite::Regex::new(r" *\| *").unwrap();
    let dashes = regex_lite::Regex::new(r"-+").unwrap();
    text.lines()
        .map(|l| {
            if l.starts_with('|') {
                padding.replace_all(l, "|").into_owned()
            } else if l.starts_with('+') {
                dashes.replace_all(l, "-").into_owned()
            } else {
                l.to_string()
            }
        })
        .map(|l| l + "\n")
        .collect()
}

/// `text` with database sizes masked, in every form etcdctl prints them: a store's size
/// depends on when its commits happened (a fresh etcd's is 25 or 29 kB).
pub fn mask_sizes(text: &str) -> String {
    let rules = [
        (r#""(dbSize|dbSizeInUse)":\d+"#, r#""$1":N"#),
        (r#""DBSize" : \d+"#, r#""DBSize" : N"#),
        (r"\d+(\.\d+)? [kMG]?B\b", "SIZE"),
    ];
    replace_all(text, &rules)
}

/// `text` with each `(pattern, replacement)` applied in turn.
pub fn replace_all(text: &str, rules: &[(&str, &str)]) -> String {
    let mut text = text.to_string();
    for (pattern, replacement) in rules {
        text = regex_lite::Regex::new(pattern)
            .unwrap()
            .replace_all(&text, *replacement)
            .into_owned();
    }
    text
}

/// Text without etcdctl's JSON warning log lines (they carry client-side ids and times).
pub fn without_logs(text: &str) -> String {
    text.lines()
        .filter(|l| !l.starts_with("{\"level\""))
        .map(|l| format!("{l}\n"))
        .collect()
}

/// What a user sees of an etcdctl run: stdout, then stderr without the warning logs.
pub fn visible_output(out: &Output) -> String {
    format!("{}{}", out.stdout, without_logs(&out.stderr))
}

/// A minimal HTTP/1.1 request on loopback: (status code, body).
pub fn http(method: &str, addr: &str, path: &str) -> std::io::Result<(u16, String)> {
    http_with_body(method, addr, path, "")
}

/// An HTTP/1.1 request with a body on loopback: (status code, body). Bodies are read to the
/// connection's end, so only for answers of known length.
pub fn http_with_body(
    method: &str,
    addr: &str,
    path: &str,
    body: &str,
) -> std::io::Result<(u16, String)> {
    use std::io::Read;
    let mut stream = std::net::TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(20)))?;
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let chunked = head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked");
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_string()
    };
    Ok((status, body))
}

/// The payload of a chunked HTTP/1.1 body.
fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let Ok(size) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if size == 0 || rest.len() < size {
            break;
        }
        out.push_str(&rest[..size]);
        body = rest[size..].trim_start_matches("\r\n");
    }
    out
}

/// An `etcdlab lab` in a temporary data dir on free ports, stopped on drop.
pub struct Lab {
    pub addr: String,
    pub dir: tempfile::TempDir,
    pub process: Process,
}

impl Lab {
    /// Starts `size` members with `extra` lab flags and waits until one leads and the lab
    /// follows every member's event stream.
    pub fn start(size: u16, extra: &[&str]) -> Lab {
        let dir = tempfile::tempdir().unwrap();
        let addr = format!("127.0.0.1:{}", free_port());
        let log_path = dir.path().join("lab.log");
        let log = std::fs::File::create(&log_path).unwrap();
        let child = Command::new(etcdlab_bin())
            .args(["lab", "--size", &size.to_string(), "--ui-addr", &addr])
            .args(["--data-dir", &dir.path().join("data").to_string_lossy()])
            .args(["--base-port", &free_lab_base(size).to_string()])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("starting etcdlab lab");
        let mut lab = Lab {
            addr,
            dir,
            process: Process { child },
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let members = lab.members();
            let leaders = members.iter().filter(|m| m["role"] == "leader").count();
            let streaming = members.iter().all(|m| {
                let name = m["name"].as_str().unwrap_or("");
                lab.events(0)
                    .iter()
                    .any(|e| e["node"] == name && e["seq"].as_u64() > Some(0))
            });
            if members.len() == usize::from(size) && leaders == 1 && streaming {
                return lab;
            }
            let exited = lab.process.child.try_wait().unwrap();
            assert!(
                Instant::now() < deadline && exited.is_none(),
                "the lab did not come up ({exited:?}): {members:?}\n{}",
                std::fs::read_to_string(&log_path).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Starts `etcdlab viz` on `endpoints` with `extra` flags (not waiting for it): the same
    /// API as a lab's, for a cluster viz did not start.
    pub fn viz(endpoints: &str, extra: &[String]) -> Lab {
        let addr = format!("127.0.0.1:{}", free_port());
        let child = Command::new(etcdlab_bin())
            .args(["viz", "--endpoints", endpoints, "--ui-addr", &addr])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting etcdlab viz");
        Lab {
            addr,
            dir: tempfile::tempdir().unwrap(),
            process: Process { child },
        }
    }

    /// `GET /api/cluster`'s members (empty while the lab does not answer).
    pub fn members(&self) -> Vec<serde_json::Value> {
        let Ok((200, body)) = http("GET", &self.addr, "/api/cluster") else {
            return Vec::new();
        };
        let parsed: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        parsed["members"].as_array().cloned().unwrap_or_default()
    }

    /// The member called `name` in `/api/cluster`.
    pub fn member(&self, name: &str) -> serde_json::Value {
        self.members()
            .into_iter()
            .find(|m| m["name"] == name)
            .unwrap_or_default()
    }

    /// The lab's remembered events after `since` (`/api/events?since=..&follow=false`).
    pub fn events(&self, since: u64) -> Vec<serde_json::Value> {
        let path = format!("/api/events?format=jsonl&since={since}&follow=false");
        let Ok((200, body)) = http("GET", &self.addr, &path) else {
            return Vec::new();
        };
        body.lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// The cursor of the newest event the lab has.
    pub fn last_cursor(&self) -> u64 {
        self.events(0)
            .last()
            .and_then(|e| e["cursor"].as_u64())
            .unwrap_or(0)
    }

    /// POSTs `body` to `path` of the lab's API: (status, parsed answer).
    pub fn post(&self, path: &str, body: &str) -> (u16, serde_json::Value) {
        let (status, text) = http_with_body("POST", &self.addr, path, body).unwrap();
        (status, serde_json::from_str(&text).unwrap_or_default())
    }

    /// Waits until `check` holds for the events after `since`; returns them.
    pub fn wait_events(
        &self,
        since: u64,
        timeout: Duration,
        what: &str,
        check: impl Fn(&[serde_json::Value]) -> bool,
    ) -> Vec<serde_json::Value> {
        let deadline = Instant::now() + timeout;
        loop {
            let events = self.events(since);
            if check(&events) {
                return events;
            }
            assert!(
                Instant::now() < deadline,
                "no {what} in {timeout:?}; events:\n{}",
                events
                    .iter()
                    .rev()
                    .take(200)
                    .rev()
                    .map(|e| e.to_string())
                    .collect::<Vec<_>>()
                    .join("\n")
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}
