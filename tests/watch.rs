//! Watches, with the real etcdctl 3.4.23 and with ours: the transcript's watch commands print
//! what they printed against real etcd; refused and compacted watches end as real etcd ends
//! them; and a watcher that loses its member with the leader, then resumes from its last
//! revision + 1 on another member, has seen every write exactly once, in revision order.

mod support;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::{OurCluster, OurMember, RealEtcd, etcdctl, normalize, real_etcdctl};

/// A watch command running in the background, its stdout going to a file; killed on drop.
struct Background {
    child: Child,
    out: PathBuf,
    _dir: tempfile::TempDir,
}

impl Background {
    fn start(program: &std::path::Path, args: &[&str]) -> Background {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("stdout");
        let child = Command::new(program)
            .args(args)
            .env("ETCDCTL_API", "3")
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&out).unwrap())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        Background {
            child,
            out,
            _dir: dir,
        }
    }

    fn output(&self) -> String {
        std::fs::read_to_string(&self.out).unwrap_or_default()
    }

    /// Waits (up to 10 s) until the output has `lines` lines; returns it.
    fn wait_lines(&self, lines: usize) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.output().lines().count() < lines && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        self.output()
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn args(words: &str) -> Vec<String> {
    words.split_whitespace().map(String::from).collect()
}

/// Time for a freshly started etcdctl to dial and create its watch.
const WATCH_START: Duration = Duration::from_millis(1500);

#[test]
fn watch_commands_match_the_reference_transcript() {
    let member = OurMember::start_single("watched");
    let ep = member.endpoint();
    // The transcript's store was at revision 11 when its watch part began.
    for i in 0..10 {
        assert_eq!(
            etcdctl(&ep, &args(&format!("put filler {i}")), None).code,
            0
        );
    }
    let endpoint_args = ["--endpoints", ep.as_str()];
    let with = |more: &str| -> Vec<String> {
        let mut all: Vec<String> = endpoint_args.iter().map(|s| s.to_string()).collect();
        all.extend(args(more));
        all
    };
    let watcher = Background::start(
        &real_etcdctl(),
        &with("watch wkey --prefix")
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    std::thread::sleep(WATCH_START);
    for cmd in ["put wkey1 a", "put wkey2 b", "del wkey1"] {
        assert_eq!(etcdctl(&ep, &args(cmd), None).code, 0, "{cmd}");
    }
    let live = watcher.wait_lines(9);
    assert_eq!(
        live.trim_end(),
        support::transcript::reference_block("watch wkey --prefix  (background)").trim_end()
    );

    // A watch never ends by itself: the transcript gave it two seconds.
    let replay = support::run(
        &real_etcdctl(),
        &with("watch wkey --prefix --rev 1 -w json"),
        &[("ETCDCTL_API", "3")],
        None,
        Duration::from_secs(2),
    )
    .stdout;
    assert_eq!(
        normalize(replay.lines().next().unwrap_or_default()),
        normalize(&support::transcript::reference_block(
            "watch wkey --prefix --rev 1 -w json"
        )),
    );

    let watcher = Background::start(
        &real_etcdctl(),
        &with("watch wkey2 --prev-kv")
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    std::thread::sleep(WATCH_START);
    assert_eq!(etcdctl(&ep, &args("put wkey2 c"), None).code, 0);
    assert_eq!(
        watcher.wait_lines(5),
        support::transcript::reference_block("watch wkey2 --prev-kv")
    );
}

/// What a refused or compacted watch prints, in several formats, with exit code.
fn refusals(endpoint: &str) -> String {
    let mut report = String::new();
    for cmd in ["put a 1", "put a 2", "put a 3", "compaction 3"] {
        etcdctl(endpoint, &args(cmd), None);
    }
    for cmd in [
        "watch b a",
        "watch b a -w json",
        "watch a --rev 1",
        "watch a --rev 2 -w json",
        "watch a --rev -1",
        "watch a b --prefix",
        "watch",
    ] {
        let out = etcdctl(endpoint, &args(cmd), None);
        report += &format!(
            "$ {cmd}\n{}{}[exit {}]\n",
            out.stdout,
            support::without_logs(&out.stderr),
            out.code
        );
    }
    normalize(&report)
}

#[test]
fn refused_and_compacted_watches_end_as_with_real_etcd() {
    let ours = OurMember::start_single("refusing");
    let real = RealEtcd::start();
    let (got, want) = (refusals(&ours.endpoint()), refusals(&real.endpoint()));
    assert_eq!(got, want);
    assert!(got.contains("watch was canceled (mvcc: watcher range is empty)"));
    assert!(got.contains("\"CompactRevision\":3,\"Canceled\":true"));
}

/// `(key, mod_revision)` of every event in lines of `watch -w json` output.
fn json_events(output: &str) -> Vec<(String, i64)> {
    use base64::Engine;
    output
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .flat_map(|r| r["Events"].as_array().cloned().unwrap_or_default())
        .map(|e| {
            let key = base64::engine::general_purpose::STANDARD
                .decode(e["kv"]["key"].as_str().unwrap_or_default())
                .unwrap();
            (
                String::from_utf8(key).unwrap(),
                e["kv"]["mod_revision"].as_i64().unwrap_or_default(),
            )
        })
        .collect()
}

#[test]
fn watchers_see_every_write_once_across_a_leader_kill() {
    let mut cluster = OurCluster::start(3);
    let leader = cluster.leader(Duration::from_secs(10)).expect("a leader");
    let leader_ep = cluster.members[leader].endpoint();
    let survivor = cluster.members[(leader + 1) % 3].endpoint();
    // The real etcdctl on the leader alone: it loses its member mid-stream.
    let on_leader = Background::start(
        &real_etcdctl(),
        &[
            "--endpoints",
            &leader_ep,
            "watch",
            "k",
            "--prefix",
            "-w",
            "json",
        ],
    );
    // Ours on every member: it must resume by itself on another one.
    let everywhere = cluster.endpoints();
    let ours = Background::start(
        &support::etcdlab_bin(),
        &[
            "ctl",
            "--endpoints",
            &everywhere,
            "watch",
            "k",
            "--prefix",
            "-w",
            "json",
        ],
    );
    std::thread::sleep(WATCH_START);
    let writes = 30;
    for i in 0..writes {
        if i == writes / 2 {
            cluster.members[leader].kill9();
        }
        let endpoints = cluster.endpoints();
        let deadline = Instant::now() + Duration::from_secs(20);
        while etcdctl(&endpoints, &args(&format!("put k{i:02} v")), None).code != 0 {
            assert!(Instant::now() < deadline, "put k{i:02} never succeeded");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    let expected: Vec<String> = (0..writes).map(|i| format!("k{i:02}")).collect();
    let keys = |events: &[(String, i64)]| events.iter().map(|e| e.0.clone()).collect::<Vec<_>>();

    let before_kill = json_events(&on_leader.output());
    assert!(
        !before_kill.is_empty() && before_kill.len() < writes,
        "the leader's watcher saw {} events",
        before_kill.len()
    );
    let resume_from = before_kill.last().unwrap().1 + 1;
    let resumed = support::run(
        &real_etcdctl(),
        &args(&format!(
            "--endpoints {survivor} watch k --prefix -w json --rev {resume_from}"
        )),
        &[("ETCDCTL_API", "3")],
        None,
        Duration::from_secs(3),
    );
    let mut joined = before_kill.clone();
    joined.extend(json_events(&resumed.stdout));
    assert_eq!(keys(&joined), expected, "resumed by hand");
    assert!(joined.windows(2).all(|w| w[0].1 < w[1].1), "{joined:?}");

    let deadline = Instant::now() + Duration::from_secs(15);
    while json_events(&ours.output()).len() < writes && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let seen = json_events(&ours.output());
    assert_eq!(
        keys(&seen),
        expected,
        "etcdlab ctl watch resuming by itself"
    );
    assert_eq!(seen, joined);
}

#[test]
fn a_stopped_watcher_neither_holds_up_writes_nor_loses_events() {
    let member = OurMember::start_single("slow-watcher");
    let ep = member.endpoint();
    let watcher = Background::start(
        &real_etcdctl(),
        &["--endpoints", &ep, "watch", "big", "--prefix", "-w", "json"],
    );
    std::thread::sleep(WATCH_START);
    // A client that stops reading: its socket and HTTP/2 windows fill up, its stream waits.
    let pid = watcher.child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-STOP", &pid])
            .status()
            .unwrap()
            .success()
    );
    let value = "x".repeat(32 * 1024);
    let writes = 100;
    for i in 0..writes {
        let out = etcdctl(&ep, &args(&format!("put big{i:03}")), Some(&value));
        assert_eq!(
            out.code, 0,
            "put {i} while the watcher is stopped: {}",
            out.stderr
        );
    }
    assert!(
        Command::new("kill")
            .args(["-CONT", &pid])
            .status()
            .unwrap()
            .success()
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while json_events(&watcher.output()).len() < writes && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let keys: Vec<String> = json_events(&watcher.output())
        .into_iter()
        .map(|e| e.0)
        .collect();
    let expected: Vec<String> = (0..writes).map(|i| format!("big{i:03}")).collect();
    assert_eq!(keys, expected);
}
