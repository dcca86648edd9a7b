//! The lab's member processes: this binary run as `etcd` once per member, on fixed loopback
//! ports, with its data and log under the lab's data dir. Members can be killed (SIGKILL, as a
//! crash) and restarted on the same data; they die with the lab.

use std::fs;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use anyhow::{Context, bail};
use etcdlab_core::proto::etcdserverpb::StatusRequest;
use serde::Serialize;

use super::LabFlags;
use crate::rpc::etcdserverpb::maintenance_client::MaintenanceClient;

struct LabMember {
    name: String,
    client_port: u16,
    peer_port: u16,
    data_dir: PathBuf,
    log: PathBuf,
    process: Option<Child>,
    paused: bool,
}

impl LabMember {
    fn client_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.client_port)
    }

    fn peer_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.peer_port)
    }
}

/// What the lab reports about one member.
#[derive(Serialize, Clone, Debug)]
pub struct MemberView {
    pub name: String,
    /// Member id in hex, as etcdctl prints it ("" while unknown).
    pub id: String,
    /// leader, follower, paused, or down (process stopped or not answering).
    pub role: String,
    pub running: bool,
    pub paused: bool,
    pub pid: Option<u32>,
    pub client_url: String,
    pub peer_url: String,
    pub endpoint: String,
    pub term: u64,
    pub raft_index: u64,
    pub applied_index: u64,
    pub leader_id: String,
    pub db_size: i64,
}

pub struct LabMembers {
    members: Mutex<Vec<LabMember>>,
    binary: PathBuf,
    initial_cluster: String,
    timing: [String; 4],
}

impl LabMembers {
    pub fn new(flags: &LabFlags) -> anyhow::Result<LabMembers> {
        let data_dir = flags.data_dir.clone().context("the lab's data dir")?;
        fs::create_dir_all(&data_dir)
            .with_context(|| format!("cannot create the lab's data dir {}", data_dir.display()))?;
        let members: Vec<LabMember> = (0..flags.size)
            .map(|i| {
                let client_port = flags.base_port + 10000 * i;
                let name = format!("m{}", i + 1);
                LabMember {
                    data_dir: data_dir.join(&name),
                    log: data_dir.join(format!("{name}.log")),
                    name,
                    client_port,
                    peer_port: client_port + 1,
                    process: None,
                    paused: false,
                }
            })
            .collect();
        let initial_cluster = members
            .iter()
            .map(|m| format!("{}={}", m.name, m.peer_url()))
            .collect::<Vec<_>>()
            .join(",");
        Ok(LabMembers {
            members: Mutex::new(members),
            binary: std::env::current_exe().context("finding this binary")?,
            initial_cluster,
            timing: [
                "--heartbeat-interval".into(),
                flags.heartbeat_interval.to_string(),
                "--election-timeout".into(),
                flags.election_timeout.to_string(),
            ],
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<LabMember>> {
        self.members.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn client_endpoints(&self) -> Vec<String> {
        self.lock()
            .iter()
            .map(|m| format!("127.0.0.1:{}", m.client_port))
            .collect()
    }

    pub fn start_all(&self) -> anyhow::Result<()> {
        let names: Vec<String> = self.lock().iter().map(|m| m.name.clone()).collect();
        for name in names {
            self.start(&name)?;
        }
        Ok(())
    }

    /// Starts (or restarts) a stopped member on its data dir.
    pub fn start(&self, name: &str) -> anyhow::Result<()> {
        let mut members = self.lock();
        let Some(m) = members.iter_mut().find(|m| m.name == name) else {
            bail!("no member named {name:?}")
        };
        if m.process
            .as_mut()
            .is_some_and(|p| matches!(p.try_wait(), Ok(None)))
        {
            bail!("{name} is already running");
        }
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&m.log)?;
        let mut command = Command::new(&self.binary);
        command
            .args(["etcd", "--name", &m.name, "--data-dir"])
            .arg(&m.data_dir)
            .args([
                "--listen-client-urls",
                &m.client_url(),
                "--advertise-client-urls",
                &m.client_url(),
            ])
            .args([
                "--listen-peer-urls",
                &m.peer_url(),
                "--initial-advertise-peer-urls",
                &m.peer_url(),
            ])
            .args([
                "--initial-cluster",
                &self.initial_cluster,
                "--initial-cluster-token",
                "etcdlab",
            ])
            .args(&self.timing)
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
        m.process = Some(
            command
                .spawn()
                .with_context(|| format!("starting member {name}"))?,
        );
        Ok(())
    }

    /// Kills a member with SIGKILL: a crash, with no chance to flush anything.
    pub fn kill(&self, name: &str) -> anyhow::Result<()> {
        let mut members = self.lock();
        let Some(m) = members.iter_mut().find(|m| m.name == name) else {
            bail!("no member named {name:?}")
        };
        let Some(mut child) = m.process.take() else {
            bail!("{name} is not running")
        };
        let _ = child.kill();
        let _ = child.wait();
        Ok(())
    }

    /// Freezes (SIGSTOP) or thaws (SIGCONT) a running member: a paused member keeps its
    /// process and sockets but neither ticks nor answers, like a stalled machine.
    pub fn pause(&self, name: &str, paused: bool) -> anyhow::Result<()> {
        let mut members = self.lock();
        let Some(m) = members.iter_mut().find(|m| m.name == name) else {
            bail!("no member named {name:?}")
        };
        let Some(child) = m.process.as_mut() else {
            bail!("{name} is not running")
        };
        if !matches!(child.try_wait(), Ok(None)) {
            bail!("{name} is not running");
        }
        let signal = if paused { libc::SIGSTOP } else { libc::SIGCONT };
        // SAFETY: plain kill(2) on our own child.
        if unsafe { libc::kill(child.id() as i32, signal) } != 0 {
            bail!("cannot signal {name}: {}", std::io::Error::last_os_error());
        }
        m.paused = paused;
        Ok(())
    }

    pub fn stop_all(&self) {
        for m in self.lock().iter_mut() {
            if let Some(mut child) = m.process.take() {
                // SAFETY: plain kill(2) on our own child (woken first if paused).
                unsafe {
                    libc::kill(child.id() as i32, libc::SIGCONT);
                    libc::kill(child.id() as i32, libc::SIGTERM);
                }
                let _ = child.wait();
            }
        }
    }

    /// Every member's view, asking the running ones for their Raft status.
    pub async fn views(&self) -> Vec<MemberView> {
        let snapshot: Vec<(String, String, String, Option<u32>, bool)> = self
            .lock()
            .iter_mut()
            .map(|m| {
                let running = m
                    .process
                    .as_mut()
                    .is_some_and(|p| matches!(p.try_wait(), Ok(None)));
                let pid = if running {
                    m.process.as_ref().map(Child::id)
                } else {
                    None
                };
                (m.name.clone(), m.client_url(), m.peer_url(), pid, m.paused)
            })
            .collect();
        let queries =
            snapshot
                .into_iter()
                .map(|(name, client_url, peer_url, pid, paused)| async move {
                    let status = match pid {
                        Some(_) if !paused => status_of(&client_url).await,
                        _ => None,
                    };
                    let endpoint = client_url.trim_start_matches("http://").to_string();
                    let mut view = MemberView {
                        name,
                        id: String::new(),
                        role: if paused { "paused" } else { "down" }.into(),
                        running: pid.is_some(),
                        paused,
                        pid,
                        client_url,
                        peer_url,
                        endpoint,
                        term: 0,
                        raft_index: 0,
                        applied_index: 0,
                        leader_id: String::new(),
                        db_size: 0,
                    };
                    if let Some(s) = status {
                        let id = s.header.map(|h| h.member_id).unwrap_or_default();
                        view.id = format!("{id:x}");
                        view.role = if s.leader == id && id != 0 {
                            "leader"
                        } else {
                            "follower"
                        }
                        .into();
                        view.term = s.raft_term;
                        view.raft_index = s.raft_index;
                        view.applied_index = s.raft_applied_index;
                        view.leader_id = if s.leader == 0 {
                            String::new()
                        } else {
                            format!("{:x}", s.leader)
                        };
                        view.db_size = s.db_size;
                    }
                    view
                });
        futures::future::join_all(queries).await
    }
}

async fn status_of(client_url: &str) -> Option<etcdlab_core::proto::etcdserverpb::StatusResponse> {
    let endpoint = tonic::transport::Endpoint::from_shared(client_url.to_string()).ok()?;
    let channel = tokio::time::timeout(Duration::from_millis(500), endpoint.connect())
        .await
        .ok()?
        .ok()?;
    let mut client = MaintenanceClient::new(channel);
    let answer =
        tokio::time::timeout(Duration::from_millis(500), client.status(StatusRequest {})).await;
    Some(answer.ok()?.ok()?.into_inner())
}
