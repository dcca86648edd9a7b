//! `etcdctl lock` and `etcdctl elect` (clientv3's recipes over lease, txn and watch) against
//! our members: the transcript's commands print what they printed against real etcd, and two
//! lockers never hold a lock at once — not even when the member one of them talks to is
//! killed while it holds it.

mod support;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use support::{OurCluster, OurMember, etcdctl, normalize, real_etcdctl};

fn args(words: &str) -> Vec<String> {
    words.split_whitespace().map(String::from).collect()
}

/// The real etcdctl in the background, its stdout collected; killed (SIGTERM first, as a
/// user's Ctrl-C) on drop.
struct Background {
    child: Child,
}

impl Background {
    fn start(endpoint: &str, command: &str) -> Background {
        let child = Command::new(real_etcdctl())
            .args(["--endpoints", endpoint])
            .args(args(command))
            .env("ETCDCTL_API", "3")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        Background { child }
    }

    /// Interrupts it as Ctrl-C would and returns what it printed.
    fn interrupt(mut self) -> String {
        let _ = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while self.child.try_wait().unwrap().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let mut out = String::new();
        use std::io::Read;
        let _ = self.child.stdout.take().unwrap().read_to_string(&mut out);
        let _ = self.child.wait();
        out
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn lock_and_elect_match_the_reference_transcript() {
    let member = OurMember::start_single("recipes");
    let ep = member.endpoint();
    let ran = etcdctl(&ep, &args("lock mylock echo locked-command-ran"), None);
    assert_eq!(
        (ran.stdout.as_str(), ran.code),
        (
            support::transcript::reference_block("lock mylock echo").as_str(),
            0
        )
    );

    let holder = Background::start(&ep, "lock mylock");
    std::thread::sleep(Duration::from_secs(2));
    // The holder prints the key and its empty value (the transcript's blank lines are cut).
    assert_eq!(
        normalize(holder.interrupt().trim_end()),
        normalize(support::transcript::reference_block("lock mylock  (background").trim_end())
    );

    let candidate = Background::start(&ep, "elect myelection proposal-A");
    std::thread::sleep(Duration::from_millis(1500));
    let listened = support::run(
        &real_etcdctl(),
        &args(&format!("--endpoints {ep} elect -l myelection")),
        &[("ETCDCTL_API", "3")],
        None,
        Duration::from_secs(2),
    );
    let candidate_said = candidate.interrupt();
    let expected = support::transcript::reference_block("elect myelection proposal-A");
    // The transcript shows the observer's lines, then the candidate's after "candidate output:".
    let (observer, candidate_part) = expected.split_once("\ncandidate output:\n").unwrap();
    assert_eq!(
        normalize(listened.stdout.trim_end()),
        normalize(observer.trim_end())
    );
    assert_eq!(
        normalize(candidate_said.trim_end()),
        normalize(candidate_part.trim_end())
    );
    // Both name the same leader key.
    assert_eq!(
        listened.stdout.lines().next(),
        candidate_said.lines().next()
    );
    // After the candidate resigned on its interrupt, nobody leads.
    let after = etcdctl(&ep, &args("get myelection --prefix"), None);
    assert_eq!(after.stdout, "");
}

/// Runs critical sections under `lock jobs`, each appending `start <who>` and `end <who>` to
/// `log`, while `go_on` (given the number done) says so; returns how many completed.
fn locker(endpoint: String, who: &'static str, log: &Path, go_on: impl Fn(usize) -> bool) -> usize {
    let section = format!(
        "echo start {who} >> {log}; sleep 0.1; echo end {who} >> {log}",
        log = log.display()
    );
    let mut done = 0;
    while go_on(done) {
        let out = support::run(
            &real_etcdctl(),
            &[
                "--endpoints".into(),
                endpoint.clone(),
                "lock".into(),
                "--ttl".into(),
                "3".into(),
                "jobs".into(),
                "--".into(),
                "sh".into(),
                "-c".into(),
                section.clone(),
            ],
            &[("ETCDCTL_API", "3")],
            None,
            Duration::from_secs(20),
        );
        if out.code == 0 {
            done += 1;
        } else {
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    done
}

#[test]
fn two_lockers_never_overlap_even_when_a_holders_member_dies() {
    let mut cluster = OurCluster::start(3);
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("sections");
    let stop_by = Instant::now() + Duration::from_secs(60);
    let b_done = Arc::new(AtomicBool::new(false));
    let (ep_a, ep_b) = (cluster.members[0].endpoint(), cluster.members[1].endpoint());
    let log_a = log.clone();
    let b_finished = b_done.clone();
    let a = std::thread::spawn(move || {
        locker(ep_a, "a", &log_a, |_| {
            !b_finished.load(Ordering::Relaxed) && Instant::now() < stop_by
        })
    });
    let log_b = log.clone();
    let b = std::thread::spawn(move || {
        let done = locker(ep_b, "b", &log_b, |done| {
            done < 12 && Instant::now() < stop_by
        });
        b_done.store(true, Ordering::Relaxed);
        done
    });
    // Kill a's member while a is inside its section (it started and has not ended).
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if text.lines().filter(|l| *l == "start a").count() >= 2
            && text.lines().last() == Some("start a")
        {
            break;
        }
        assert!(Instant::now() < deadline, "a never got the lock: {text}");
        std::thread::sleep(Duration::from_millis(5));
    }
    cluster.members[0].kill9();
    let done_b = b.join().unwrap();
    let done_a = a.join().unwrap();
    assert_eq!(done_b, 12, "b kept getting the lock after a's member died");
    assert!(done_a >= 1);
    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    for pair in lines.chunks(2) {
        let [start, end] = pair else {
            panic!("an unfinished section: {text}");
        };
        let who = start.strip_prefix("start ").expect("a section starts");
        assert_eq!(*end, format!("end {who}"), "sections overlapped:\n{text}");
    }
}
