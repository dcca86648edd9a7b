//! `etcdlab lesson`: every shipped lesson passes end to end (`lesson verify --all`, each on a
//! lab of its own, and on the simulator where the lesson supports it); the instructor's
//! `scenario` and `reset` act on a running lab started with `--sample kubernetes` (a reset
//! also puts back the membership a lesson changed); the tutor (`lesson start`) follows a
//! student's commands to the end of a lesson; wrong lesson numbers are clear errors.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use support::{Lab, Process, etcdlab_bin};

/// Runs `etcdlab lesson <args>` against the lab at `addr` to its end.
fn lesson(addr: &str, args: &[&str]) -> Output {
    Command::new(etcdlab_bin())
        .args(["lesson", "--lang", "en", "--lab", addr])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("running etcdlab lesson")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Keys under `prefix` as the lab's first member counts them.
fn count(lab: &Lab, prefix: &str) -> u64 {
    let (status, answer) = lab.post("/api/observe", &format!("{{\"prefixes\":[\"{prefix}\"]}}"));
    assert_eq!(status, 200, "{answer}");
    answer["prefix_counts"][prefix].as_u64().unwrap_or(0)
}

#[test]
fn every_lesson_verifies_end_to_end() {
    let scratch = tempfile::tempdir().unwrap();
    let mut child = Command::new(etcdlab_bin())
        .args(["lesson", "--lang", "en", "verify", "--all"])
        .env("TMPDIR", scratch.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting etcdlab lesson verify");
    let stdout = child.stdout.take().unwrap();
    let (lines, received) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = lines.send(line);
        }
    });
    let mut process = Process { child };
    let deadline = Instant::now() + Duration::from_secs(600);
    let mut seen = Vec::new();
    while !seen
        .iter()
        .any(|l: &String| l.ends_with("lessons verified"))
    {
        let left = deadline.saturating_duration_since(Instant::now());
        match received.recv_timeout(left) {
            Ok(line) => seen.push(line),
            Err(_) => panic!("verify did not finish in 600 s:\n{}", seen.join("\n")),
        }
    }
    let status = process.child.wait().unwrap();
    let report = seen.join("\n");
    let (lines, total) = seen.split_at(seen.len() - 1);
    // One line per lesson and mode: `ok` on a lab for every lesson, on the simulator for the
    // lessons it supports, `-` for the others.
    assert!(
        lines
            .iter()
            .all(|l| l.starts_with("ok ") || l.starts_with("- ")),
        "{report}"
    );
    let on = |mode: &str| {
        lines
            .iter()
            .filter(|l| l.starts_with("ok ") && l.contains(&format!(".yaml  {mode}  ")))
            .count()
    };
    let lessons = on("lab");
    assert!(lessons >= 10, "{report}");
    assert!(on("sim") >= 4, "{report}");
    assert_eq!(lines.len(), 2 * lessons, "{report}");
    assert_eq!(
        total[0],
        format!("{lessons}/{lessons} lessons verified"),
        "{report}"
    );
    assert!(status.success(), "{report}");
    let left: Vec<_> = std::fs::read_dir(scratch.path()).unwrap().collect();
    assert!(left.is_empty(), "verify left {left:?} behind");
}

#[test]
fn instructor_scenario_and_reset_act_on_a_running_lab() {
    let lab = Lab::start(3, &["--sample", "kubernetes"]);
    let deadline = Instant::now() + Duration::from_secs(30);
    while count(&lab, "/registry/") != 20 {
        assert!(Instant::now() < deadline, "the sample was not loaded");
        std::thread::sleep(Duration::from_millis(200));
    }

    // Lesson 4, step 3 pauses a follower.
    let out = lesson(&lab.addr, &["scenario", "4", "3"]);
    assert!(out.status.success(), "{}", text(&out));
    let paused: Vec<_> = lab
        .members()
        .into_iter()
        .filter(|m| m["state"] == "paused")
        .collect();
    assert_eq!(paused.len(), 1, "{}", text(&out));
    assert_ne!(paused[0]["role"], "leader");

    // Step 1 has no scenario: a clear refusal.
    let out = lesson(&lab.addr, &["scenario", "4", "1"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).contains("step 1 of lesson 4 has no scenario"),
        "{}",
        text(&out)
    );

    // Resetting for lesson 1 resumes the member and wipes every key; for lesson 3 it loads
    // the sample again.
    lab.post("/api/kv", r#"{"op":"put","key":"left-over","value":"x"}"#);
    let out = lesson(&lab.addr, &["reset", "1"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(lab.members().iter().all(|m| m["state"] == "up"));
    assert_eq!(count(&lab, ""), 0);
    let out = lesson(&lab.addr, &["reset", "kubernetes"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(count(&lab, "/registry/pods/"), 7);

    // Lesson 7 changes the membership: m3 removed, a learner m4 added. A reset puts the lab's
    // three members back (m3 on a fresh data dir, under a new id) and takes m4 out.
    let members = lab.members();
    let m1 = members[0]["endpoint"].as_str().unwrap().to_string();
    let m3 = members.iter().find(|m| m["name"] == "m3").unwrap();
    let old_id = m3["id"].as_str().unwrap().to_string();
    let ctl = |args: &[&str]| {
        let out = Command::new(etcdlab_bin())
            // Membership changes commit through Raft: allow for a loaded machine.
            .args(["ctl", "--command-timeout", "20s", "--endpoints", &m1])
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out));
    };
    // When m3 leads, its removal commits only once the others elect a new leader: on a loaded
    // machine that can outlast the server's request timeout, after which the removal still
    // takes effect (etcd's "request timed out" means the outcome is not known yet).
    let removal = Command::new(etcdlab_bin())
        .args(["ctl", "--endpoints", &m1, "member", "remove", &old_id])
        .output()
        .unwrap();
    if !removal.status.success() {
        assert!(
            text(&removal).contains("request timed out"),
            "{}",
            text(&removal)
        );
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let list = Command::new(etcdlab_bin())
                .args(["ctl", "--endpoints", &m1, "member", "list"])
                .output()
                .unwrap();
            if list.status.success() && !text(&list).contains(&old_id) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "m3 was never removed: {}",
                text(&list)
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    // A removed leader leaves an election behind: the next change waits for its outcome.
    let deadline = Instant::now() + Duration::from_secs(30);
    while !lab
        .members()
        .iter()
        .any(|m| m["role"] == "leader" && m["name"] != "m3")
    {
        assert!(Instant::now() < deadline, "no leader after the removal");
        std::thread::sleep(Duration::from_millis(200));
    }
    ctl(&[
        "member",
        "add",
        "m4",
        "--peer-urls=http://127.0.0.1:1",
        "--learner",
    ]);
    let membership = |lab: &Lab| {
        let (_, seen) = lab.post("/api/observe", "{}");
        let mut names: Vec<String> = seen["membership"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["peer_urls"][0].as_str().unwrap().to_string())
            .collect();
        names.sort();
        names
    };
    assert_eq!(membership(&lab).len(), 3, "m1, m2 and the learner");
    let out = lesson(&lab.addr, &["reset", "1"]);
    assert!(out.status.success(), "{}", text(&out));
    let members = lab.members();
    assert!(members.iter().all(|m| m["state"] == "up"), "{members:?}");
    let mut peers: Vec<String> = members
        .iter()
        .map(|m| m["peer_url"].as_str().unwrap().to_string())
        .collect();
    peers.sort();
    assert_eq!(membership(&lab), peers);
    let new_id = members.iter().find(|m| m["name"] == "m3").unwrap()["id"].clone();
    assert_ne!(new_id, old_id.as_str(), "m3 came back as a new member");
    // m3 serves again: a write reaches it.
    lab.post("/api/kv", r#"{"op":"put","key":"back","value":"yes"}"#);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (_, seen) = lab.post("/api/observe", r#"{"keys":["back"]}"#);
        if seen["values"]["m3"]["back"] == "yes" {
            break;
        }
        assert!(Instant::now() < deadline, "m3 does not serve: {seen}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn the_tutor_follows_the_student_to_the_end_of_a_lesson() {
    let lab = Lab::start(3, &[]);
    let endpoint = lab.members()[0]["endpoint"].as_str().unwrap().to_string();
    let mut child = Command::new(etcdlab_bin())
        .args(["lesson", "--lab", &lab.addr, "start", "1"])
        .env("LANG", "ko_KR.UTF-8")
        .env_remove("LC_ALL")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (lines, received) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = lines.send(line);
        }
    });
    let _process = Process { child };
    let wait_for = |wanted: &str| -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match received.recv_timeout(left) {
                Ok(line) if line.contains(wanted) => return seen,
                Ok(line) => seen.push(line),
                Err(_) => panic!("no {wanted:?} in 30 s:\n{}", seen.join("\n")),
            }
        }
    };
    // The lab is not on the default ports: the tutor says where m1 is, and the student types
    // the commands it shows with that endpoint.
    let note = wait_for("ETCDCTL_ENDPOINTS");
    assert!(note.iter().any(|l| l.contains("키-값 저장소")), "{note:?}");
    for command in [
        "put greeting hello",
        "put greeting annyeong",
        "del greeting",
    ] {
        wait_for(&format!("$ etcdctl {command}"));
        let out = Command::new(etcdlab_bin())
            .args(["ctl", "--endpoints", &endpoint])
            .args(command.split(' '))
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out));
        wait_for("✓ 완료");
    }
    wait_for("레슨을 모두 마쳤습니다");
}

#[test]
fn unknown_lessons_and_steps_are_clear_errors() {
    let out = lesson("127.0.0.1:1", &["start", "99"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("no lesson \"99\""), "{}", text(&out));
    let out = lesson("127.0.0.1:1", &["scenario", "5", "9"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).contains("lesson 5 has steps 1 to 4"),
        "{}",
        text(&out)
    );
    let out = lesson("127.0.0.1:1", &["verify"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).contains("name a lesson, or --all"),
        "{}",
        text(&out)
    );
}
