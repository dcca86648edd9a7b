//! The members the lab and `etcdlab viz` look after, and everything they do with them, in one
//! place: [`Members`] is either *started* (the lab's child processes: this binary run as
//! `etcd --experimental-fault-injection` once per member, on loopback ports chosen by
//! [`super::ports`], with its data and log under the lab's data dir) or *given* (the members of
//! a cluster someone else runs, found by `etcdlab viz` from its endpoints).
//!
//! Started members can be killed (SIGKILL, as a crash) and restarted on the same data; they die
//! with the lab. Both kinds can be paused and resumed (the member's own `/debug/faults` pause:
//! it stops ticking and processing but keeps streaming events), partitioned and healed, given
//! link faults and told to campaign — all through the members' `/debug/faults`.
//!
//! Every member's `/debug/raft/events` is followed into one [`EventHub`], reconnecting as soon
//! as the member answers again (what it did before that is not recorded). Our own
//! `member_started` / `member_stopped` events (`seq` 0, marked `"source":"lab"` or
//! `"source":"viz"`) tell the visualizer when a member (re)starts and stops: the lab when it
//! starts, kills or loses a process; viz when a member's stream ends and when it connects to a
//! member again (a restarted member numbers its events from 1 again).

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use etcdlab_core::events::{EventKind, RaftEvent, SCHEMA_VERSION, hex_id};
use etcdlab_core::proto::etcdserverpb::StatusRequest;
use serde::Serialize;
use serde_json::{Value, json};

use super::LabFlags;
use super::events::EventHub;
use super::http;
use super::tls::{self, LabTls, MemberTls};
use crate::rpc::etcdserverpb::maintenance_client::MaintenanceClient;

/// The `--initial-cluster-token` of every lab.
pub const TOKEN: &str = "etcdlab";
/// How long the lab keeps offering the partition in force to a restarted member.
const REAPPLY_TIMEOUT: Duration = Duration::from_secs(10);

struct Member {
    name: String,
    id: u64,
    client_url: String,
    peer_url: String,
    /// The lab's process of a started member; `None` for a given one.
    local: Option<Local>,
    /// A given member: whether its event stream is connected now.
    reachable: bool,
    paused: bool,
    /// The last role and term this member reported in a `role_changed` event.
    reported_role: Option<(String, u64)>,
    last_term: u64,
}

/// What the lab keeps about a member it started.
struct Local {
    data_dir: PathBuf,
    log: PathBuf,
    process: Option<Child>,
}

impl Member {
    /// `host:port` of the client URL, for gRPC and the debug endpoints.
    fn client_addr(&self) -> String {
        http::host_port(&self.client_url)
    }

    /// A started member: its process runs. A given member: its event stream is connected.
    fn running(&mut self) -> bool {
        match self.local.as_mut() {
            Some(local) => local
                .process
                .as_mut()
                .is_some_and(|p| matches!(p.try_wait(), Ok(None))),
            None => self.reachable,
        }
    }

    fn pid(&mut self) -> Option<u32> {
        if self.local.is_some() && self.running() {
            self.local.as_ref()?.process.as_ref().map(Child::id)
        } else {
            None
        }
    }
}

/// A member of a cluster we did not start, as its `MemberList` describes it.
pub struct GivenMember {
    pub name: String,
    pub id: u64,
    pub client_url: String,
    pub peer_url: String,
}

/// How the lab starts its members.
struct Launcher {
    binary: PathBuf,
    initial_cluster: String,
}

/// Why `etcdlab viz` refuses kill and restart.
pub const NOT_OURS: &str =
    "etcdlab viz watches a cluster it did not start: it cannot kill or restart members";

/// What the lab reports about one member (`GET /api/cluster`).
#[derive(Serialize, Clone, Debug)]
pub struct MemberView {
    pub name: String,
    /// Member id in hex, as etcdctl prints it.
    pub id: String,
    pub client_urls: Vec<String>,
    pub peer_urls: Vec<String>,
    pub pid: Option<u32>,
    /// `up`, `down` (no process) or `paused`.
    pub state: String,
    /// leader, follower, candidate, pre_candidate or learner; null when down or unknown.
    pub role: Option<String>,
    pub term: u64,
    /// The leader's id in hex, null when none is known.
    pub leader: Option<String>,
    pub commit_index: u64,
    pub applied_index: u64,
    // Shorthands kept for the status page and scripts.
    pub running: bool,
    pub paused: bool,
    pub client_url: String,
    pub peer_url: String,
    /// `127.0.0.1:port`, ready for `etcdctl --endpoints`.
    pub endpoint: String,
    pub raft_index: u64,
    pub db_size: i64,
}

/// Why a fault request was refused: the request is wrong (400) or the cluster is not in a
/// state to carry it out (409).
#[derive(Debug)]
pub enum Refusal {
    BadRequest(String),
    Conflict(String),
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::BadRequest(s) | Refusal::Conflict(s) => f.write_str(s),
        }
    }
}

pub struct Members {
    members: Mutex<Vec<Member>>,
    /// `Some` for the lab's started members, `None` for given ones.
    launcher: Option<Launcher>,
    /// `"lab"` or `"viz"`: the `source` of our own events.
    source: &'static str,
    heartbeat_ms: u64,
    election_ms: u64,
    /// The partition in force (`[["m1"],["m2","m3"]]`), re-applied to restarted members.
    partition: Mutex<Option<Value>>,
    /// Woken on every (re)start, so the stream followers reconnect at once.
    started: tokio::sync::Notify,
    pub events: EventHub,
    /// How to reach the members when they serve TLS (`lab --tls`, or viz's TLS flags).
    tls: Option<MemberTls>,
    /// The TLS flags the lab starts its members with (`--tls`), the etcdctl flags it prints
    /// for them, and the folder of its certificates.
    lab_tls_flags: Vec<String>,
    etcdctl_tls_flags: Option<String>,
    lab_pki_dir: Option<PathBuf>,
    /// Free ports the lessons asked for by name (`{port:restored-client}`), picked once.
    pub lesson_ports: Mutex<BTreeMap<String, u16>>,
}

impl Members {
    /// The lab's members on `ports` (client, peer) each, not started yet.
    pub fn started(flags: &LabFlags, ports: &[(u16, u16)]) -> anyhow::Result<Members> {
        let data_dir = flags.data_dir.clone().context("the lab's data dir")?;
        fs::create_dir_all(&data_dir)
            .with_context(|| format!("cannot create the lab's data dir {}", data_dir.display()))?;
        let (tls, lab_tls_flags, etcdctl_tls_flags, lab_pki_dir) = match flags.tls {
            true => {
                let lab_tls = LabTls::prepare(&data_dir)?;
                let member_flags = lab_tls.member_flags();
                let etcdctl_flags = lab_tls.etcdctl_flags();
                let pki_dir = lab_tls.pki_dir().to_path_buf();
                (
                    Some(lab_tls.client),
                    member_flags,
                    Some(etcdctl_flags),
                    Some(pki_dir),
                )
            }
            false => (None, Vec::new(), None, None),
        };
        let scheme = if flags.tls { "https" } else { "http" };
        let members: Vec<Member> = ports
            .iter()
            .enumerate()
            .map(|(i, &(client_port, peer_port))| {
                let name = format!("m{}", i + 1);
                let peer_url = format!("{scheme}://127.0.0.1:{peer_port}");
                Member {
                    id: etcdlab_core::membership::member_id(
                        std::slice::from_ref(&peer_url),
                        TOKEN,
                        None,
                    ),
                    local: Some(Local {
                        data_dir: data_dir.join(&name),
                        log: data_dir.join(format!("{name}.log")),
                        process: None,
                    }),
                    reachable: false,
                    name,
                    client_url: format!("{scheme}://127.0.0.1:{client_port}"),
                    peer_url,
                    paused: false,
                    reported_role: None,
                    last_term: 0,
                }
            })
            .collect();
        let initial_cluster = members
            .iter()
            .map(|m| format!("{}={}", m.name, m.peer_url))
            .collect::<Vec<_>>()
            .join(",");
        Ok(Members {
            members: Mutex::new(members),
            launcher: Some(Launcher {
                binary: std::env::current_exe().context("finding this binary")?,
                initial_cluster,
            }),
            source: "lab",
            heartbeat_ms: flags.heartbeat_interval,
            election_ms: flags.election_timeout,
            partition: Mutex::new(None),
            started: tokio::sync::Notify::new(),
            events: EventHub::default(),
            tls,
            lab_tls_flags,
            etcdctl_tls_flags,
            lab_pki_dir,
            lesson_ports: Mutex::default(),
        })
    }

    /// The members of a cluster someone else runs, reached over TLS with `tls` if given;
    /// `heartbeat_ms` and `election_ms` are its timing, as far as we know it (for the
    /// visualizer's election timers).
    pub fn given(
        members: Vec<GivenMember>,
        tls: Option<MemberTls>,
        heartbeat_ms: u64,
        election_ms: u64,
    ) -> Members {
        let members = members
            .into_iter()
            .map(|m| Member {
                name: m.name,
                id: m.id,
                client_url: m.client_url,
                peer_url: m.peer_url,
                local: None,
                reachable: false,
                paused: false,
                reported_role: None,
                last_term: 0,
            })
            .collect();
        Members {
            members: Mutex::new(members),
            launcher: None,
            source: "viz",
            heartbeat_ms,
            election_ms,
            partition: Mutex::new(None),
            started: tokio::sync::Notify::new(),
            events: EventHub::default(),
            tls,
            lab_tls_flags: Vec::new(),
            etcdctl_tls_flags: None,
            lab_pki_dir: None,
            lesson_ports: Mutex::default(),
        }
    }

    /// The partition in force, as groups of member names.
    pub fn partition(&self) -> Option<Vec<Vec<String>>> {
        let groups = self
            .partition
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        groups.and_then(|g| serde_json::from_value(g).ok())
    }

    pub fn tls(&self) -> Option<&MemberTls> {
        self.tls.as_ref()
    }

    /// `--cacert .. --cert .. --key ..` for etcdctl, when the lab runs its members with TLS.
    pub fn etcdctl_tls_flags(&self) -> Option<&str> {
        self.etcdctl_tls_flags.as_deref()
    }

    /// The folder of the lab's certificates (`--tls`).
    pub fn lab_pki_dir(&self) -> Option<&Path> {
        self.lab_pki_dir.as_deref()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Member>> {
        self.members.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn client_endpoints(&self) -> Vec<String> {
        self.lock().iter().map(Member::client_addr).collect()
    }

    pub fn names(&self) -> Vec<String> {
        self.lock().iter().map(|m| m.name.clone()).collect()
    }

    /// Checks that `name` is a member of this lab.
    pub fn known(&self, name: &str) -> Result<(), Refusal> {
        if self.lock().iter().any(|m| m.name == name) {
            Ok(())
        } else {
            Err(Refusal::BadRequest(format!(
                "no member named \"{name}\" (members: {})",
                self.names().join(", ")
            )))
        }
    }

    /// Records an event of our own about `member`.
    fn own_event(&self, member: &Member, kind: EventKind) {
        let event = RaftEvent {
            v: SCHEMA_VERSION,
            seq: 0,
            ts_ms: now_ms(),
            node: member.name.clone(),
            id: hex_id(member.id),
            term: member.last_term,
            kind,
        };
        if let Ok(Value::Object(mut object)) = serde_json::to_value(&event) {
            object.insert("source".into(), Value::from(self.source));
            self.events.push(object);
        }
    }

    pub fn start_all(&self) -> anyhow::Result<()> {
        for name in self.names() {
            self.start(&name).map_err(|e| anyhow::anyhow!("{e}"))?;
        }
        Ok(())
    }

    /// Starts (or restarts) a stopped member on its data dir.
    pub fn start(&self, name: &str) -> Result<(), Refusal> {
        self.launch(name, None)
    }

    /// Starts a member that was removed from the cluster and added back under the id `id`:
    /// stopped if it still runs, on a fresh data dir, joining the existing cluster.
    pub fn rejoin(&self, name: &str, id: u64) -> Result<(), Refusal> {
        self.known(name)?;
        self.launcher()?;
        let running = self
            .lock()
            .iter_mut()
            .any(|m| m.name == name && m.running());
        if running {
            self.kill(name)?;
        }
        self.launch(name, Some(id))
    }

    /// Starts a stopped member: on its data dir, or (`Some(id)`: added back under that id)
    /// on a fresh one, joining the existing cluster.
    fn launch(&self, name: &str, rejoin_as: Option<u64>) -> Result<(), Refusal> {
        self.known(name)?;
        let launcher = self.launcher()?;
        let mut members = self.lock();
        let m = members
            .iter_mut()
            .find(|m| m.name == name)
            .expect("known member");
        if m.running() {
            return Err(Refusal::Conflict(format!("{name} is already running")));
        }
        if let Some(id) = rejoin_as {
            m.id = id;
        }
        let Some(local) = m.local.as_ref() else {
            return Err(Refusal::Conflict(NOT_OURS.into()));
        };
        if rejoin_as.is_some() && local.data_dir.exists() {
            fs::remove_dir_all(&local.data_dir).map_err(|e| {
                Refusal::Conflict(format!("removing {}: {e}", local.data_dir.display()))
            })?;
        }
        let cluster_state = if rejoin_as.is_some() {
            "existing"
        } else {
            "new"
        };
        let spawn = || -> anyhow::Result<Child> {
            let log = fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&local.log)?;
            let mut command = Command::new(&launcher.binary);
            command
                .args(["etcd", "--name", &m.name, "--data-dir"])
                .arg(&local.data_dir)
                .args(["--listen-client-urls", &m.client_url])
                .args(["--advertise-client-urls", &m.client_url])
                .args(["--listen-peer-urls", &m.peer_url])
                .args(["--initial-advertise-peer-urls", &m.peer_url])
                .args(["--initial-cluster", &launcher.initial_cluster])
                .args(["--initial-cluster-token", TOKEN])
                .args(["--initial-cluster-state", cluster_state])
                .args(["--heartbeat-interval", &self.heartbeat_ms.to_string()])
                .args(["--election-timeout", &self.election_ms.to_string()])
                .arg("--experimental-fault-injection")
                .args(&self.lab_tls_flags)
                .stdin(Stdio::null())
                .stdout(log.try_clone()?)
                .stderr(log);
            // SAFETY: prctl is async-signal-safe; it makes the member die if the lab dies.
            unsafe {
                command.pre_exec(|| {
                    libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                    Ok(())
                });
            }
            Ok(command.spawn()?)
        };
        let child = spawn().map_err(|e| Refusal::Conflict(format!("starting {name}: {e}")))?;
        if let Some(local) = m.local.as_mut() {
            local.process = Some(child);
        }
        m.paused = false;
        m.reported_role = None;
        let member = &*m;
        self.own_event(member, self.member_started());
        self.started.notify_waiters();
        Ok(())
    }

    /// The lab's launcher; given members cannot be started, killed or restarted.
    fn launcher(&self) -> Result<&Launcher, Refusal> {
        self.launcher
            .as_ref()
            .ok_or_else(|| Refusal::Conflict(NOT_OURS.into()))
    }

    /// Our `member_started` event, with the cluster's timing.
    fn member_started(&self) -> EventKind {
        let tick_ms = self.heartbeat_ms;
        EventKind::MemberStarted {
            tick_ms,
            election_ticks: self.election_ms / tick_ms.max(1),
            heartbeat_ticks: 1,
        }
    }

    /// Kills a member with SIGKILL: a crash, with no chance to flush anything.
    pub fn kill(&self, name: &str) -> Result<(), Refusal> {
        self.known(name)?;
        self.launcher()?;
        let mut members = self.lock();
        let m = members
            .iter_mut()
            .find(|m| m.name == name)
            .expect("known member");
        if !m.running() {
            return Err(Refusal::Conflict(format!("{name} is not running")));
        }
        if let Some(mut child) = m.local.as_mut().and_then(|l| l.process.take()) {
            let _ = child.kill();
            let _ = child.wait();
        }
        m.paused = false;
        m.reported_role = None;
        let member = &*m;
        self.own_event(
            member,
            EventKind::MemberStopped {
                reason: "killed (SIGKILL)".into(),
            },
        );
        Ok(())
    }

    /// Notices started members whose process ended on its own (a crash, a refused start).
    fn reap(&self) {
        let mut members = self.lock();
        for m in members.iter_mut() {
            let Some(child) = m.local.as_mut().and_then(|l| l.process.as_mut()) else {
                continue;
            };
            if let Ok(Some(status)) = child.try_wait() {
                if let Some(local) = m.local.as_mut() {
                    local.process = None;
                }
                m.paused = false;
                m.reported_role = None;
                let member = &*m;
                self.own_event(
                    member,
                    EventKind::MemberStopped {
                        reason: format!("exited ({status})"),
                    },
                );
            }
        }
    }

    /// The client address of a running member.
    fn running_addr(&self, name: &str) -> Result<String, Refusal> {
        self.known(name)?;
        let mut members = self.lock();
        let m = members
            .iter_mut()
            .find(|m| m.name == name)
            .expect("known member");
        if !m.running() {
            return Err(Refusal::Conflict(if m.local.is_some() {
                format!("{name} is not running")
            } else {
                format!("{name} does not answer (its event stream is not connected)")
            }));
        }
        Ok(m.client_addr())
    }

    /// Sends one fault to a member's `/debug/faults`; a 400 from it is the caller's mistake.
    async fn send_fault(&self, name: &str, body: &Value) -> Result<Value, Refusal> {
        let addr = self.running_addr(name)?;
        let answer = http::request(
            self.tls.as_ref().map(|t| &t.http),
            &addr,
            "POST",
            "/debug/faults",
            Some(&body.to_string()),
            Duration::from_secs(5),
        )
        .await
        .map_err(|e| Refusal::Conflict(format!("{name}: {e:#}")))?;
        let parsed: Value = serde_json::from_str(&answer.1).unwrap_or(Value::Null);
        let reason = || {
            format!(
                "{name}: {}",
                parsed["error"].as_str().unwrap_or(answer.1.trim())
            )
        };
        match answer.0 {
            200 => Ok(parsed),
            400 => Err(Refusal::BadRequest(reason())),
            _ => Err(Refusal::Conflict(reason())),
        }
    }

    /// Pauses or resumes a running member (it stops ticking and processing, and keeps
    /// streaming events).
    pub async fn pause(&self, name: &str, paused: bool) -> Result<(), Refusal> {
        let body = if paused {
            json!({"pause": true})
        } else {
            json!({"resume": true})
        };
        self.send_fault(name, &body).await?;
        if let Some(m) = self.lock().iter_mut().find(|m| m.name == name) {
            m.paused = paused;
        }
        Ok(())
    }

    /// Pauses or resumes every running member at once.
    pub async fn pause_all(&self, paused: bool) -> Result<Vec<String>, Refusal> {
        let names: Vec<String> = self
            .lock()
            .iter_mut()
            .filter_map(|m| m.running().then(|| m.name.clone()))
            .collect();
        let results = futures::future::join_all(names.iter().map(|n| self.pause(n, paused))).await;
        results.into_iter().collect::<Result<Vec<()>, _>>()?;
        Ok(names)
    }

    /// Sets (`Some`) or heals (`None`) a partition on every running member; restarted
    /// members get it when the lab reconnects to them.
    pub async fn set_partition(&self, groups: Option<Value>) -> Result<Vec<String>, Refusal> {
        if let Some(groups) = &groups {
            let list = groups.as_array().ok_or_else(|| {
                Refusal::BadRequest(
                    "\"partition\" takes a list of member groups, e.g. [[\"m1\"],[\"m2\",\"m3\"]]"
                        .into(),
                )
            })?;
            for group in list {
                let names = group.as_array().ok_or_else(|| {
                    Refusal::BadRequest("each partition group is a list of member names".into())
                })?;
                for name in names {
                    let name = name.as_str().ok_or_else(|| {
                        Refusal::BadRequest("members are named by strings".into())
                    })?;
                    self.known(name)?;
                }
            }
        }
        *self.partition.lock().unwrap_or_else(|p| p.into_inner()) = groups.clone();
        let body = match groups {
            Some(groups) => json!({ "partition": groups }),
            None => json!({ "heal": true }),
        };
        let names: Vec<String> = self
            .lock()
            .iter_mut()
            .filter_map(|m| m.running().then(|| m.name.clone()))
            .collect();
        let results =
            futures::future::join_all(names.iter().map(|n| self.send_fault(n, &body))).await;
        results.into_iter().collect::<Result<Vec<_>, _>>()?;
        Ok(names)
    }

    /// Sets a link fault on its `from` member.
    pub async fn link(&self, link: &Value) -> Result<Value, Refusal> {
        let object = link.as_object().ok_or_else(|| {
            Refusal::BadRequest(
                "\"link\" takes {\"from\":\"m1\",\"to\":\"m2\",\"drop\":0.3,\"delay_ms\":50}"
                    .into(),
            )
        })?;
        let from = object
            .get("from")
            .and_then(Value::as_str)
            .ok_or_else(|| Refusal::BadRequest("\"link\" needs \"from\" (a member name)".into()))?
            .to_string();
        let to = object
            .get("to")
            .and_then(Value::as_str)
            .ok_or_else(|| Refusal::BadRequest("\"link\" needs \"to\" (a member name)".into()))?;
        self.known(&from)?;
        self.known(to)?;
        if from == to {
            return Err(Refusal::BadRequest(
                "a link goes from one member to another".into(),
            ));
        }
        for (key, value) in object {
            let fine = match key.as_str() {
                "from" | "to" => true,
                "drop" => value.as_f64().is_some_and(|r| (0.0..=1.0).contains(&r)),
                "delay_ms" => value.as_u64().is_some_and(|ms| ms <= 60_000),
                other => {
                    return Err(Refusal::BadRequest(format!(
                        "unknown link field \"{other}\": use from, to, drop, delay_ms"
                    )));
                }
            };
            if !fine {
                return Err(Refusal::BadRequest(format!(
                    "\"{key}\" must be {}",
                    if key == "drop" {
                        "a drop rate from 0 to 1"
                    } else {
                        "milliseconds, 0 to 60000"
                    }
                )));
            }
        }
        self.send_fault(&from, &json!({ "link": link })).await
    }

    /// Makes a member start an election at once, as if its election timeout had run out.
    pub async fn campaign(&self, name: &str) -> Result<Value, Refusal> {
        self.known(name)?;
        self.send_fault(name, &json!({"campaign": true})).await
    }

    /// Re-applies the partition in force to a member the lab (re)connected to. A member back
    /// from a crash may refuse it for a moment (it applies its log again from its last
    /// checkpoint, and knows its peers' names once their entries are applied): retried for
    /// [`REAPPLY_TIMEOUT`] while it runs.
    async fn reapply_partition(&self, name: &str) {
        let deadline = tokio::time::Instant::now() + REAPPLY_TIMEOUT;
        loop {
            let partition = self
                .partition
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone();
            let Some(groups) = partition else {
                return;
            };
            let refusal = match self.send_fault(name, &json!({ "partition": groups })).await {
                Ok(_) => return,
                Err(refusal) => refusal,
            };
            if self.running_addr(name).is_err() || tokio::time::Instant::now() > deadline {
                tracing::warn!(member = name, %refusal, "could not put a restarted member back behind the partition");
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Stops every member: SIGTERM to all at once, SIGKILL for any still running after
    /// `grace`.
    pub fn stop_all(&self, grace: Duration) {
        let mut members = self.lock();
        for m in members.iter_mut() {
            if let Some(child) = m.local.as_ref().and_then(|l| l.process.as_ref()) {
                // SAFETY: plain kill(2) on our own child.
                unsafe {
                    libc::kill(child.id() as i32, libc::SIGTERM);
                }
            }
        }
        let deadline = std::time::Instant::now() + grace;
        for m in members.iter_mut() {
            let Some(mut child) = m.local.as_mut().and_then(|l| l.process.take()) else {
                continue;
            };
            while matches!(child.try_wait(), Ok(None)) && std::time::Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Takes one line of member `name`'s event stream into the merged stream, noting roles;
    /// true when it is the notice that ends a lagging stream.
    fn take_member_line(&self, name: &str, line: &str) -> bool {
        let Ok(Value::Object(mut event)) = serde_json::from_str::<Value>(line) else {
            return false;
        };
        let notice = event.contains_key("notice");
        if notice {
            event.insert("node".into(), Value::from(name));
        } else if let Some(m) = self.lock().iter_mut().find(|m| m.name == name) {
            if let Some(term) = event.get("term").and_then(Value::as_u64) {
                m.last_term = term;
            }
            if event.get("kind").and_then(Value::as_str) == Some("role_changed")
                && let Some(role) = event.get("role").and_then(Value::as_str)
            {
                m.reported_role = Some((role.to_string(), m.last_term));
            }
        }
        self.events.push(event);
        notice
    }

    /// Marks a given member reachable or not; on a change, records our `member_started` (it
    /// answers again: perhaps a new process, numbering its events from 1) or `member_stopped`.
    fn set_reachable(&self, name: &str, reachable: bool, reason: &str) {
        if self.launcher.is_some() {
            return;
        }
        let mut members = self.lock();
        let Some(m) = members.iter_mut().find(|m| m.name == name) else {
            return;
        };
        if m.reachable == reachable {
            return;
        }
        m.reachable = reachable;
        m.reported_role = None;
        if !reachable {
            m.paused = false;
        }
        let kind = if reachable {
            self.member_started()
        } else {
            EventKind::MemberStopped {
                reason: reason.into(),
            }
        };
        self.own_event(m, kind);
    }

    /// Follows member `name`'s event stream for as long as we run: a started member's is
    /// retried every 50 ms while its process runs (it may still be starting) and at once when
    /// it is (re)started; a given member's every 50 ms after its stream ends, then every
    /// 500 ms while it does not answer.
    pub async fn follow(self: Arc<Self>, name: String) {
        let given = self.launcher.is_none();
        loop {
            let addr = if given {
                self.lock()
                    .iter()
                    .find(|m| m.name == name)
                    .map(Member::client_addr)
            } else {
                self.running_addr(&name).ok()
            };
            let Some(addr) = addr else {
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                    _ = self.started.notified() => {}
                }
                continue;
            };
            let tls = self.tls.as_ref().map(|t| &t.http);
            match http::open_lines(tls, &addr, "/debug/raft/events?format=jsonl").await {
                Ok(mut stream) => {
                    self.set_reachable(&name, true, "");
                    let members = self.clone();
                    let member = name.clone();
                    tokio::spawn(async move { members.reapply_partition(&member).await });
                    let mut lagged = false;
                    while let Ok(Some(line)) = stream.next_line().await {
                        if !line.is_empty() {
                            lagged = self.take_member_line(&name, &line);
                        }
                    }
                    if !lagged {
                        self.set_reachable(&name, false, "its event stream ended");
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => {
                    self.set_reachable(&name, false, &format!("unreachable: {e:#}"));
                    let pause = if given { 500 } else { 50 };
                    tokio::time::sleep(Duration::from_millis(pause)).await;
                }
            }
        }
    }

    /// Watches the member processes for exits the lab did not cause.
    pub async fn supervise(self: Arc<Self>) {
        loop {
            tokio::time::sleep(Duration::from_millis(200)).await;
            self.reap();
        }
    }

    /// Client addresses of the running members, the last known leader first.
    pub async fn kv_targets(&self) -> Vec<String> {
        let views = self.views().await;
        let mut up: Vec<&MemberView> = views.iter().filter(|v| v.state == "up").collect();
        up.sort_by_key(|v| v.role.as_deref() != Some("leader"));
        up.iter().map(|v| v.endpoint.clone()).collect()
    }

    /// Every member's view, asking the running ones for their Raft status (a given member is
    /// always asked: it is up when it answers).
    pub async fn views(&self) -> Vec<MemberView> {
        struct Known {
            name: String,
            id: u64,
            client_url: String,
            peer_url: String,
            started: bool,
            running: bool,
            pid: Option<u32>,
            paused: bool,
            reported_role: Option<(String, u64)>,
            last_term: u64,
        }
        let snapshot: Vec<Known> = self
            .lock()
            .iter_mut()
            .map(|m| Known {
                running: m.running(),
                pid: m.pid(),
                started: m.local.is_some(),
                name: m.name.clone(),
                id: m.id,
                client_url: m.client_url.clone(),
                peer_url: m.peer_url.clone(),
                paused: m.paused,
                reported_role: m.reported_role.clone(),
                last_term: m.last_term,
            })
            .collect();
        let queries = snapshot.into_iter().map(|k| async move {
            let status = if k.running || !k.started {
                status_of(self.tls(), &http::host_port(&k.client_url)).await
            } else {
                None
            };
            let up = if k.started {
                k.running
            } else {
                status.is_some()
            };
            let paused = k.paused && up;
            let state = match (up, paused) {
                (false, _) => "down",
                (true, true) => "paused",
                (true, false) => "up",
            };
            let mut view = MemberView {
                name: k.name,
                id: hex_id(k.id),
                client_urls: vec![k.client_url.clone()],
                peer_urls: vec![k.peer_url.clone()],
                pid: k.pid,
                state: state.into(),
                role: None,
                term: k.last_term,
                leader: None,
                commit_index: 0,
                applied_index: 0,
                running: up,
                paused,
                endpoint: http::host_port(&k.client_url),
                client_url: k.client_url,
                peer_url: k.peer_url,
                raft_index: 0,
                db_size: 0,
            };
            if let Some(s) = status {
                let id = s.header.map(|h| h.member_id).unwrap_or(k.id);
                view.id = hex_id(id);
                view.term = s.raft_term;
                view.commit_index = s.raft_index;
                view.raft_index = s.raft_index;
                view.applied_index = s.raft_applied_index;
                view.leader = (s.leader != 0).then(|| hex_id(s.leader));
                view.db_size = s.db_size;
                // Status knows leader or not; the events tell candidates and learners apart.
                let reported = k
                    .reported_role
                    .filter(|(_, term)| *term >= s.raft_term)
                    .map(|(role, _)| role);
                view.role = Some(if s.leader == id && id != 0 {
                    "leader".to_string()
                } else if s.is_learner {
                    "learner".to_string()
                } else {
                    match reported.as_deref() {
                        Some(r @ ("candidate" | "pre_candidate" | "learner")) => r.to_string(),
                        _ => "follower".to_string(),
                    }
                });
            }
            view
        });
        futures::future::join_all(queries).await
    }
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

async fn status_of(
    tls: Option<&MemberTls>,
    addr: &str,
) -> Option<etcdlab_core::proto::etcdserverpb::StatusResponse> {
    let timeout = Duration::from_millis(500);
    let channel = tokio::time::timeout(timeout, tls::channel(tls, addr, timeout))
        .await
        .ok()?
        .ok()?;
    let mut client = MaintenanceClient::new(channel);
    let answer =
        tokio::time::timeout(Duration::from_millis(500), client.status(StatusRequest {})).await;
    Some(answer.ok()?.ok()?.into_inner())
}

/// Runs one KV request (`{"op":"put|get|delete","key","value"}`) against the first of
/// `targets` (client addresses) that answers; the answer as JSON.
pub async fn kv(
    tls: Option<&MemberTls>,
    targets: &[String],
    request: &Value,
) -> Result<Value, Refusal> {
    use crate::rpc::etcdserverpb::kv_client::KvClient;
    use etcdlab_core::proto::etcdserverpb::{DeleteRangeRequest, PutRequest, RangeRequest};
    let object = request.as_object().ok_or_else(|| {
        Refusal::BadRequest("the body must be {\"op\":\"put|get|delete\",\"key\":..}".into())
    })?;
    let op = object.get("op").and_then(Value::as_str).unwrap_or("");
    let key = object
        .get("key")
        .and_then(Value::as_str)
        .ok_or_else(|| Refusal::BadRequest("\"key\" (a string) is required".into()))?
        .to_string();
    let value = object.get("value").and_then(Value::as_str).unwrap_or("");
    if !matches!(op, "put" | "get" | "delete") {
        return Err(Refusal::BadRequest(format!(
            "\"op\" must be put, get or delete, not {op:?}"
        )));
    }
    if op == "put" && object.get("value").and_then(Value::as_str).is_none() {
        return Err(Refusal::BadRequest(
            "a put needs \"value\" (a string)".into(),
        ));
    }
    let mut last_error = "no member is running".to_string();
    for target in targets {
        let channel = match tls::channel(tls, target, Duration::from_millis(500)).await {
            Ok(c) => c,
            Err(e) => {
                last_error = format!("{target}: {e}");
                continue;
            }
        };
        let mut client = KvClient::new(channel);
        let answer = match op {
            "put" => client
                .put(PutRequest {
                    key: key.clone().into_bytes(),
                    value: value.as_bytes().to_vec(),
                    ..Default::default()
                })
                .await
                .map(|r| {
                    let r = r.into_inner();
                    json!({"op": "put", "key": key, "value": value, "member": target,
                           "revision": r.header.map(|h| h.revision).unwrap_or(0)})
                }),
            "get" => client
                .range(RangeRequest {
                    key: key.clone().into_bytes(),
                    ..Default::default()
                })
                .await
                .map(|r| {
                    let r = r.into_inner();
                    let found = r.kvs.first();
                    json!({"op": "get", "key": key, "found": found.is_some(), "member": target,
                           "value": found.map(|kv| String::from_utf8_lossy(&kv.value).into_owned()),
                           "revision": r.header.map(|h| h.revision).unwrap_or(0)})
                }),
            _ => client
                .delete_range(DeleteRangeRequest {
                    key: key.clone().into_bytes(),
                    ..Default::default()
                })
                .await
                .map(|r| {
                    let r = r.into_inner();
                    json!({"op": "delete", "key": key, "deleted": r.deleted, "member": target,
                           "revision": r.header.map(|h| h.revision).unwrap_or(0)})
                }),
        };
        match answer {
            Ok(answer) => return Ok(answer),
            Err(status)
                if matches!(
                    status.code(),
                    tonic::Code::InvalidArgument
                        | tonic::Code::ResourceExhausted
                        | tonic::Code::OutOfRange
                ) =>
            {
                return Err(Refusal::BadRequest(status.message().to_string()));
            }
            Err(status) => last_error = format!("{target}: {}", status.message()),
        }
    }
    Err(Refusal::Conflict(last_error))
}
