//! `watch`: follows the changes of a key, a range or a prefix as etcdctl 3.4 does — the events
//! in the chosen format, an optional command run per event (`watch key -- cmd args`, with the
//! event in `ETCD_WATCH_*` variables), the key from `ETCDCTL_WATCH_KEY`/`_RANGE_END`, and
//! `-i` to read `watch ...` and `progress` lines from stdin.
//!
//! Like clientv3, a broken stream is dialled again and the watch resumed after the last
//! revision printed, so no event is lost or printed twice; a watch the server cancels
//! (compaction, a refused range, no leader) ends with exit code 5.

use std::collections::HashMap;
use std::io::BufRead;

use etcdlab_core::proto::etcdserverpb::{
    WatchCreateRequest, WatchProgressRequest, WatchRequest, WatchResponse, watch_request,
};
use tokio::sync::mpsc;

use super::cli::{Command, Flag, Invocation, Kind};
use super::global::{Client, Connection, Global};
use super::print::{Printer, Report, stderr, stdout};
use super::{CtlError, CtlResult, exit, gotext, kv};
use crate::rpc::etcdserverpb::watch_client::WatchClient;

const INTERACTIVE: Flag = Flag::switch("interactive", "Interactive mode").short('i');
const PREFIX: Flag = Flag::switch("prefix", "Watch on a prefix if prefix is set");
const REV: Flag = Flag::new("rev", Kind::Int, "0", "Revision to start watching");
const PREV_KV: Flag = Flag::switch(
    "prev-kv",
    "get the previous key-value pair before the event happens",
);

pub static WATCH: Command = Command::new(
    "watch [options] [key or prefix] [range_end] [--] [exec-command arg1 arg2 ...]",
    "Watches events stream on keys or prefixes",
)
.flags(&[INTERACTIVE, PREFIX, REV, PREV_KV])
.run(|inv| Box::pin(watch(inv)));

/// What one watch asks for.
#[derive(Debug, Clone, PartialEq)]
struct WatchSpec {
    key: Vec<u8>,
    range_end: Vec<u8>,
    start_revision: i64,
    prev_kv: bool,
    /// The command run for each event, if any.
    exec: Vec<String>,
}

async fn watch(inv: Invocation) -> CtlResult {
    let env_key = std::env::var("ETCDCTL_WATCH_KEY").unwrap_or_default();
    let env_range = std::env::var("ETCDCTL_WATCH_RANGE_END").unwrap_or_default();
    if env_key.is_empty() && !env_range.is_empty() {
        return Err(CtlError::bad_args(format!(
            "ETCDCTL_WATCH_KEY is empty but got ETCDCTL_WATCH_RANGE_END={}",
            gotext::quote(env_range.as_bytes())
        )));
    }
    let g = Global::from(&inv)?;
    if inv.bool(&INTERACTIVE) {
        return interactive(&g, &env_key, &env_range).await;
    }
    let exec = exec_args(&command_line())?;
    if exec.is_none() && inv.args.is_empty() && env_key.is_empty() {
        return Err(CtlError::bad_args("bad number of arguments"));
    }
    let exec = exec.unwrap_or_default();
    let mut words = inv.args[..inv.args.len().saturating_sub(exec.len())].to_vec();
    if !env_key.is_empty() {
        if !words.is_empty() {
            return Err(CtlError::bad_args(
                "bad number of arguments (found conflicting environment key)",
            ));
        }
        words.push(env_key);
        if !env_range.is_empty() {
            words.push(env_range);
        }
    }
    let spec = watch_spec(
        &words,
        inv.bool(&PREFIX),
        inv.int(&REV),
        inv.bool(&PREV_KV),
        exec,
    )?;
    let client = g.client()?;
    follow(&client, &g.printer(), spec).await?;
    Err(canceled_by_server())
}

/// The words after the first `watch` of the process's own command line (etcdctl reads the
/// raw arguments too, to tell the exec command from the key).
fn command_line() -> Vec<String> {
    let all: Vec<String> = std::env::args().collect();
    let start = all
        .iter()
        .position(|a| a == "watch")
        .map_or(all.len(), |i| i + 1);
    all[start..].to_vec()
}

/// The command after `--`, if there is a `--`.
fn exec_args(raw: &[String]) -> Result<Option<Vec<String>>, CtlError> {
    match raw.iter().position(|a| a == "--") {
        None => Ok(None),
        Some(i) if i + 1 == raw.len() => Err(CtlError::bad_args(
            "bad number of arguments (found separator --, but no commands)",
        )),
        Some(i) => Ok(Some(raw[i + 1..].to_vec())),
    }
}

fn watch_spec(
    words: &[String],
    prefix: bool,
    rev: i64,
    prev_kv: bool,
    exec: Vec<String>,
) -> Result<WatchSpec, CtlError> {
    let Some(key) = words.first() else {
        return Err(CtlError::bad_args("bad number of arguments"));
    };
    if words.len() == 2 && prefix {
        return Err(CtlError::bad_args(
            "`range_end` and `--prefix` are mutually exclusive",
        ));
    }
    let (key, range_end) = kv::key_range(key, words.get(1), prefix, false);
    Ok(WatchSpec {
        key,
        range_end,
        start_revision: rev,
        prev_kv,
        exec,
    })
}

fn canceled_by_server() -> CtlError {
    CtlError::new(exit::INTERRUPTED, "watch is canceled by the server")
}

/// Prints one watch's responses until the server cancels it; a broken connection is dialled
/// again and the watch resumed after the last revision printed.
async fn follow(client: &Client<'_>, printer: &Printer, mut spec: WatchSpec) -> CtlResult {
    loop {
        let channel = client.connect().await?;
        match stream_once(channel, printer, &mut spec).await {
            Ended::Canceled => return Ok(()),
            Ended::Failed(e) => return Err(e),
            Ended::Broken => tokio::time::sleep(std::time::Duration::from_millis(200)).await,
        }
    }
}

enum Ended {
    Canceled,
    Failed(CtlError),
    Broken,
}

/// One stream: creates the watch from `spec`'s revision and prints until the stream ends.
async fn stream_once(channel: Connection, printer: &Printer, spec: &mut WatchSpec) -> Ended {
    let (requests, outgoing) = mpsc::channel(1);
    let _ = requests.send(create_request(spec)).await;
    let Ok(mut responses) = open(channel, outgoing).await else {
        return Ended::Broken;
    };
    loop {
        let response = match responses.message().await {
            Ok(Some(response)) => response,
            Ok(None) => return Ended::Broken,
            Err(status) if status.message() == "etcdserver: no leader" => {
                stderr(&format!("watch was canceled ({})\n", status.message()));
                return Ended::Canceled;
            }
            Err(_) => return Ended::Broken,
        };
        match show(printer, &response, &spec.exec) {
            Ok(true) => return Ended::Canceled,
            Ok(false) => {}
            Err(e) => return Ended::Failed(e),
        }
        if let Some(last) = response.events.last().and_then(|e| e.kv.as_ref()) {
            spec.start_revision = last.mod_revision + 1;
        }
    }
}

fn create_request(spec: &WatchSpec) -> WatchRequest {
    WatchRequest {
        request_union: Some(watch_request::RequestUnion::CreateRequest(
            WatchCreateRequest {
                key: spec.key.clone(),
                range_end: spec.range_end.clone(),
                start_revision: spec.start_revision,
                prev_kv: spec.prev_kv,
                ..Default::default()
            },
        )),
    }
}

/// Opens a watch stream that sends what arrives on `outgoing`, marked as clientv3's
/// `WithRequireLeader` marks it (the server ends it when it loses its leader).
async fn open(
    channel: Connection,
    outgoing: mpsc::Receiver<WatchRequest>,
) -> Result<tonic::Streaming<WatchResponse>, tonic::Status> {
    let requests = futures::stream::unfold(outgoing, |mut rx| async move {
        rx.recv().await.map(|request| (request, rx))
    });
    let mut request = tonic::Request::new(requests);
    request.metadata_mut().insert(
        "hasleader",
        tonic::metadata::MetadataValue::from_static("true"),
    );
    Ok(WatchClient::new(channel).watch(request).await?.into_inner())
}

/// Prints one response as etcdctl does (and runs the exec command per event); true when the
/// server cancelled the watch.
fn show(printer: &Printer, response: &WatchResponse, exec: &[String]) -> Result<bool, CtlError> {
    if response.created && !response.canceled {
        return Ok(false); // clientv3 keeps creation to itself
    }
    if response.canceled {
        let reason = if response.compact_revision != 0 {
            "etcdserver: mvcc: required revision has been compacted".to_string()
        } else {
            response.cancel_reason.clone()
        };
        stderr(&format!("watch was canceled ({reason})\n"));
        // A refused watch reaches the program as an empty response clientv3 makes up.
        let refused = response.created;
        let shown = if refused {
            WatchResponse {
                canceled: true,
                ..Default::default()
            }
        } else {
            response.clone()
        };
        printer.print(&Report::Watch {
            response: &shown,
            closed: refused,
        })?;
        return Ok(true);
    }
    let revision = response.header.map_or(0, |h| h.revision);
    if response.events.is_empty() && response.compact_revision == 0 && revision != 0 {
        stdout(format!("progress notify: {revision}\n").as_bytes());
    }
    printer.print(&Report::Watch {
        response,
        closed: false,
    })?;
    for event in &response.events {
        run_exec(exec, revision, event)?;
    }
    Ok(false)
}

/// Runs the exec command for one event with the event in its environment.
fn run_exec(
    exec: &[String],
    revision: i64,
    event: &etcdlab_core::proto::mvccpb::Event,
) -> Result<(), CtlError> {
    let Some((program, args)) = exec.split_first() else {
        return Ok(());
    };
    let kv = event.kv.clone().unwrap_or_default();
    let kind = if event.r#type == 1 { "DELETE" } else { "PUT" };
    let env: HashMap<&str, String> = HashMap::from([
        ("ETCD_WATCH_REVISION", revision.to_string()),
        ("ETCD_WATCH_EVENT_TYPE", gotext::quote(kind.as_bytes())),
        ("ETCD_WATCH_KEY", gotext::quote(&kv.key)),
        ("ETCD_WATCH_VALUE", gotext::quote(&kv.value)),
    ]);
    let status = std::process::Command::new(program)
        .args(args)
        .envs(env)
        .status();
    match status {
        Ok(s) if s.success() => Ok(()),
        outcome => {
            let why = match outcome {
                Ok(s) => format!("exit status {}", s.code().unwrap_or(-1)),
                Err(e) => e.to_string(),
            };
            let quoted: Vec<String> = exec.iter().map(|a| gotext::quote(a.as_bytes())).collect();
            Err(CtlError::new(
                exit::ERROR,
                format!("command [{}] error ({why})", quoted.join(" ")),
            ))
        }
    }
}

/// `watch -i`: each stdin line is `watch [options] key [range_end] [-- cmd ...]` (started
/// alongside the others) or `progress` (asks every member stream for a progress notification).
async fn interactive(g: &Global, env_key: &str, env_range: &str) -> CtlResult {
    let (lines, mut incoming) = mpsc::unbounded_channel();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            if lines.send(line).is_err() {
                return;
            }
        }
    });
    let client = g.client()?;
    let printer = g.printer();
    let mut watches = futures::stream::FuturesUnordered::new();
    let mut progress_senders: Vec<mpsc::Sender<WatchRequest>> = Vec::new();
    loop {
        use futures::StreamExt;
        tokio::select! {
            line = incoming.recv() => {
                let line = match line {
                    Some(Ok(line)) => line,
                    Some(Err(e)) => {
                        return Err(CtlError::new(
                            exit::INVALID_INPUT,
                            format!("Error reading watch request line: {e}"),
                        ))
                    }
                    None => {
                        return Err(CtlError::new(
                            exit::INVALID_INPUT,
                            "Error reading watch request line: EOF",
                        ))
                    }
                };
                let words: Vec<String> = line.split_whitespace().map(String::from).collect();
                match words.first().map(String::as_str) {
                    Some("watch") => match interactive_spec(&words[1..], env_key, env_range) {
                        Ok(spec) => {
                            let channel = client.connect().await?;
                            let (requests, outgoing) = mpsc::channel(4);
                            let _ = requests.send(create_request(&spec)).await;
                            progress_senders.push(requests);
                            let printer = &printer;
                            watches.push(async move {
                                let mut spec = spec;
                                match open(channel, outgoing).await {
                                    Ok(mut responses) => {
                                        while let Ok(Some(r)) = responses.message().await {
                                            if !matches!(show(printer, &r, &spec.exec), Ok(false)) {
                                                break;
                                            }
                                            if let Some(kv) = r.events.last().and_then(|e| e.kv.as_ref()) {
                                                spec.start_revision = kv.mod_revision + 1;
                                            }
                                        }
                                    }
                                    Err(e) => stderr(&format!("Invalid command watch ({})\n", e.message())),
                                }
                            });
                        }
                        Err(e) => stderr(&format!("Invalid command {line} ({})\n", e.message)),
                    },
                    Some("progress") => {
                        for sender in &progress_senders {
                            let _ = sender.try_send(WatchRequest {
                                request_union: Some(watch_request::RequestUnion::ProgressRequest(
                                    WatchProgressRequest {},
                                )),
                            });
                        }
                    }
                    None => stderr(&format!("Invalid command: {line} (watch and progress supported)\n")),
                    Some(_) => stderr(&format!("Invalid command {line} (only support watch)\n")),
                }
            }
            Some(()) = watches.next(), if !watches.is_empty() => {}
        }
    }
}

/// One interactive `watch` line's options and words.
fn interactive_spec(
    words: &[String],
    env_key: &str,
    env_range: &str,
) -> Result<WatchSpec, CtlError> {
    let (before, exec) = match words.iter().position(|w| w == "--") {
        Some(i) if i + 1 == words.len() => {
            return Err(CtlError::bad_args(
                "bad number of arguments (found separator --, but no commands)",
            ));
        }
        Some(i) => (&words[..i], words[i + 1..].to_vec()),
        None => (words, Vec::new()),
    };
    let (mut prefix, mut rev, mut prev_kv) = (false, 0, false);
    let mut keys = Vec::new();
    let mut i = 0;
    while i < before.len() {
        let word = &before[i];
        match word.as_str() {
            "--prefix" => prefix = true,
            "--prev-kv" => prev_kv = true,
            "--rev" => {
                i += 1;
                rev = before
                    .get(i)
                    .and_then(|r| r.parse().ok())
                    .ok_or_else(|| CtlError::bad_args("invalid argument for --rev"))?;
            }
            w if w.starts_with("--rev=") => {
                rev = w[6..]
                    .parse()
                    .map_err(|_| CtlError::bad_args("invalid argument for --rev"))?;
            }
            w if w.starts_with('-') => {
                return Err(CtlError::bad_args(format!("unknown flag: {w}")));
            }
            _ => keys.push(word.clone()),
        }
        i += 1;
    }
    if !env_key.is_empty() {
        if !keys.is_empty() {
            return Err(CtlError::bad_args(
                "bad number of arguments (found conflicting environment key)",
            ));
        }
        keys.push(env_key.to_string());
        if !env_range.is_empty() {
            keys.push(env_range.to_string());
        }
    }
    watch_spec(&keys, prefix, rev, prev_kv, exec)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<String> {
        text.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn the_exec_command_follows_the_separator() {
        assert_eq!(exec_args(&words("foo --rev 3")).unwrap(), None);
        assert_eq!(
            exec_args(&words("foo -- echo hi")).unwrap(),
            Some(words("echo hi"))
        );
        assert_eq!(
            exec_args(&words("foo --")).unwrap_err().message,
            "bad number of arguments (found separator --, but no commands)"
        );
    }

    #[test]
    fn keys_ranges_and_prefixes_as_clientv3_sends_them() {
        let spec = watch_spec(&words("wkey"), true, 5, true, vec![]).unwrap();
        assert_eq!(
            (spec.key, spec.range_end, spec.start_revision, spec.prev_kv),
            (b"wkey".to_vec(), b"wkez".to_vec(), 5, true)
        );
        let spec = watch_spec(&words("a c"), false, 0, false, vec![]).unwrap();
        assert_eq!((spec.key, spec.range_end), (b"a".to_vec(), b"c".to_vec()));
        assert_eq!(
            watch_spec(&words("a c"), true, 0, false, vec![])
                .unwrap_err()
                .message,
            "`range_end` and `--prefix` are mutually exclusive"
        );
        let line = interactive_spec(&words("--rev 2 a --prev-kv -- echo"), "", "").unwrap();
        assert_eq!(
            (line.key, line.start_revision, line.prev_kv, line.exec),
            (b"a".to_vec(), 2, true, words("echo"))
        );
        let from_env = interactive_spec(&[], "k", "l").unwrap();
        assert_eq!(
            (from_env.key, from_env.range_end),
            (b"k".to_vec(), b"l".to_vec())
        );
    }
}
