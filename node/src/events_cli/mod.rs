//! `etcdlab events`: follows Raft events in the terminal as a readable, coloured timeline
//! (`m1 ▶ m2 append [7..9] t3`, `m2 ★ leader t4`, `m1 ✓ applied 8 put key1=value1`), for
//! students without a browser and for recordings.
//!
//! Sources: a running lab's merged stream (`--lab`, the default; it resumes after the last
//! cursor seen when the lab's connection drops), or members' own `/debug/raft/events`
//! (`--endpoints`, merged in arrival order, each reconnected with backoff; over TLS for
//! `https://` endpoints or with etcdctl's `--cacert --cert --key`), or a recording
//! (`--replay FILE.jsonl`, no network). `--record FILE.jsonl` writes every raw event line
//! as it arrives; `--json` prints raw lines instead of the timeline. [`timeline`] renders
//! one event as one line, naming members by the names the events carry.

mod timeline;

use std::ffi::OsString;
use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use serde_json::Value;
use tokio::sync::mpsc;

use self::timeline::Timeline;
use crate::lab::http;
use crate::lab::tls::{MemberTls, TlsFlags};

/// `etcdlab events`: Raft events as a timeline in the terminal.
#[derive(Parser, Debug)]
#[command(name = "etcdlab events")]
pub struct EventsFlags {
    /// The lab whose merged stream to follow (its --ui-addr)
    #[arg(long, default_value = "http://127.0.0.1:8379")]
    lab: String,
    /// Follow these members' own streams instead of a lab (client URLs, comma separated)
    #[arg(long, value_delimiter = ',', conflicts_with = "replay")]
    endpoints: Vec<String>,
    /// With a lab: start from the lab's history after this cursor (0: all it remembers)
    #[arg(long)]
    since: Option<u64>,
    /// Also write every raw event line to this file (JSON lines)
    #[arg(long, conflicts_with = "replay")]
    record: Option<PathBuf>,
    /// Print a recording (JSON lines) instead of following a stream
    #[arg(long)]
    replay: Option<PathBuf>,
    /// Print the raw JSON lines instead of the timeline
    #[arg(long)]
    json: bool,
    /// Only these kinds, comma separated (e.g. role_changed,entry_applied)
    #[arg(long, value_delimiter = ',')]
    kinds: Vec<String>,
    /// Show heartbeats too (hidden by default: they are most of the traffic)
    #[arg(long)]
    heartbeats: bool,
    /// Colour: auto (when stdout is a terminal), always or never
    #[arg(long, value_enum, default_value_t = ColorWhen::Auto)]
    color: ColorWhen,
    /// Stop after printing this many events
    #[arg(long)]
    limit: Option<u64>,
    #[command(flatten)]
    tls: TlsFlags,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum ColorWhen {
    Auto,
    Always,
    Never,
}

pub fn main(args: Vec<OsString>) -> ExitCode {
    let flags = match crate::tool::parse::<EventsFlags>(args) {
        Ok(flags) => flags,
        Err(code) => return code,
    };
    crate::tool::run("etcdlab events", run(flags))
}

/// What gets printed: the filters and the timeline.
struct Printer {
    timeline: Timeline,
    json: bool,
    kinds: Vec<String>,
    heartbeats: bool,
    printed: u64,
    limit: Option<u64>,
}

impl Printer {
    fn shows(&self, event: &Value) -> bool {
        if event.get("notice").is_some() {
            return true;
        }
        let kind = event["kind"].as_str().unwrap_or("");
        if !self.kinds.is_empty() {
            return self.kinds.iter().any(|k| k == kind);
        }
        let heartbeat = matches!(kind, "heartbeat_sent" | "heartbeat_acked")
            || (kind == "message_received"
                && event["msg_type"]
                    .as_str()
                    .is_some_and(|t| t.starts_with("MsgHeartbeat")));
        self.heartbeats || !heartbeat
    }

    /// Prints one raw line; false once the limit is reached or stdout is gone.
    fn print(&mut self, raw: &str) -> bool {
        let Ok(event) = serde_json::from_str::<Value>(raw) else {
            return true;
        };
        if let (Some(id), Some(node)) = (event["id"].as_str(), event["node"].as_str()) {
            self.timeline.learn(id, node);
        }
        if !self.shows(&event) {
            return true;
        }
        let text = if self.json {
            Some(raw.to_string())
        } else {
            self.timeline.line(&event)
        };
        if let Some(text) = text {
            let mut out = std::io::stdout().lock();
            if writeln!(out, "{text}").and_then(|()| out.flush()).is_err() {
                return false;
            }
            self.printed += 1;
        }
        self.limit.is_none_or(|limit| self.printed < limit)
    }
}

async fn run(flags: EventsFlags) -> anyhow::Result<()> {
    use std::io::IsTerminal;
    let color = match flags.color {
        ColorWhen::Always => true,
        ColorWhen::Never => false,
        ColorWhen::Auto => std::io::stdout().is_terminal(),
    };
    let mut printer = Printer {
        timeline: Timeline::new(color),
        json: flags.json,
        kinds: flags.kinds.clone(),
        heartbeats: flags.heartbeats,
        printed: 0,
        limit: flags.limit,
    };
    if let Some(path) = &flags.replay {
        let file = std::fs::File::open(path)
            .with_context(|| format!("cannot open the recording {}", path.display()))?;
        for line in std::io::BufReader::new(file).lines() {
            let line = line.with_context(|| format!("reading {}", path.display()))?;
            if !line.trim().is_empty() && !printer.print(line.trim()) {
                break;
            }
        }
        return Ok(());
    }
    let mut record = match &flags.record {
        Some(path) => Some(
            std::fs::File::create(path)
                .with_context(|| format!("cannot create {}", path.display()))?,
        ),
        None => None,
    };
    let (lines, mut incoming) = mpsc::channel::<String>(4096);
    if flags.endpoints.is_empty() {
        let lab = http::host_port(&flags.lab);
        let (status, body) = http::request(
            None,
            &lab,
            "GET",
            "/api/cluster",
            None,
            Duration::from_secs(5),
        )
        .await
        .with_context(|| {
            format!(
                "no lab answers at {} (start one with `etcdlab lab`, or use --endpoints)",
                flags.lab
            )
        })?;
        if status == 200
            && let Ok(cluster) = serde_json::from_str::<Value>(&body)
        {
            for m in cluster["members"].as_array().into_iter().flatten() {
                if let (Some(id), Some(name)) = (m["id"].as_str(), m["name"].as_str()) {
                    printer.timeline.learn(id, name);
                }
            }
        }
        tokio::spawn(follow_lab(lab, flags.since, lines));
    } else {
        let tls = flags.tls.member_tls(&flags.endpoints)?.map(Arc::new);
        for endpoint in &flags.endpoints {
            tokio::spawn(follow_member(
                http::host_port(endpoint),
                tls.clone(),
                lines.clone(),
            ));
        }
        drop(lines);
    }
    while let Some(line) = incoming.recv().await {
        if let Some(file) = record.as_mut() {
            file.write_all(format!("{line}\n").as_bytes())
                .context("writing the recording")?;
        }
        if !printer.print(&line) {
            break;
        }
    }
    Ok(())
}

/// Follows the lab's `/api/events`, resuming after the last cursor seen when it drops.
async fn follow_lab(lab: String, since: Option<u64>, lines: mpsc::Sender<String>) {
    let mut last = since;
    let mut backoff = Duration::from_millis(100);
    loop {
        let path = match last {
            Some(cursor) => format!("/api/events?format=jsonl&since={cursor}"),
            None => "/api/events?format=jsonl".to_string(),
        };
        if let Ok(mut stream) = http::open_lines(None, &lab, &path).await {
            backoff = Duration::from_millis(100);
            while let Ok(Some(line)) = stream.next_line().await {
                if line.is_empty() {
                    continue;
                }
                if let Ok(event) = serde_json::from_str::<Value>(&line)
                    && let Some(cursor) = event["cursor"].as_u64()
                {
                    last = Some(cursor);
                }
                if lines.send(line).await.is_err() {
                    return;
                }
            }
        } else {
            eprintln!("etcdlab events: the lab at {lab} does not answer; retrying");
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(2));
    }
}

/// Follows one member's `/debug/raft/events`, reconnecting with backoff.
async fn follow_member(addr: String, tls: Option<Arc<MemberTls>>, lines: mpsc::Sender<String>) {
    let mut backoff = Duration::from_millis(100);
    loop {
        let connector = tls.as_deref().map(|tls| &tls.http);
        if let Ok(mut stream) =
            http::open_lines(connector, &addr, "/debug/raft/events?format=jsonl").await
        {
            backoff = Duration::from_millis(100);
            while let Ok(Some(line)) = stream.next_line().await {
                if !line.is_empty() && lines.send(line).await.is_err() {
                    return;
                }
            }
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(2));
    }
}
