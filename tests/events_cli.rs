//! `etcdlab events`: a recording replays as the expected timeline (names for ids, heartbeats
//! hidden unless asked, kinds filtered, raw lines with --json); following a live member with
//! `--record` writes every raw event line. A member started without
//! `--experimental-fault-injection` refuses `/debug/faults`.

mod support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::{OurMember, etcdctl, etcdlab_bin, http_with_body, run};

const RECORDING: &str = r#"{"v":1,"seq":0,"ts_ms":3600000,"node":"m1","id":"a1","term":0,"kind":"member_started","tick_ms":100,"election_ticks":10,"heartbeat_ticks":1,"source":"lab","cursor":1}
{"v":1,"seq":0,"ts_ms":3600001,"node":"m2","id":"b2","term":0,"kind":"member_started","tick_ms":100,"election_ticks":10,"heartbeat_ticks":1,"source":"lab","cursor":2}
{"v":1,"seq":1,"ts_ms":3601500,"node":"m2","id":"b2","term":4,"kind":"role_changed","role":"leader","leader":"b2","election_timeout_ticks":12,"cursor":3}
{"v":1,"seq":2,"ts_ms":3601600,"node":"m2","id":"b2","term":4,"kind":"heartbeat_sent","msg_id":5,"to":"a1","commit":6,"cursor":4}
{"v":1,"seq":3,"ts_ms":3601700,"node":"m2","id":"b2","term":4,"kind":"client_request","request_id":9,"request":"put key1=value1","cursor":5}
{"v":1,"seq":4,"ts_ms":3601701,"node":"m2","id":"b2","term":4,"kind":"append_sent","msg_id":6,"to":"a1","prev_index":6,"prev_term":4,"first_index":7,"last_index":9,"commit":6,"cursor":6}
{"v":1,"seq":1,"ts_ms":3601702,"node":"m1","id":"a1","term":4,"kind":"append_received","msg_id":6,"from":"b2","prev_index":6,"prev_term":4,"first_index":7,"last_index":9,"commit":6,"cursor":7}
{"v":1,"seq":2,"ts_ms":3601703,"node":"m1","id":"a1","term":4,"kind":"append_acked","msg_id":3,"to":"b2","match_index":9,"cursor":8}
{"v":1,"seq":5,"ts_ms":3601705,"node":"m2","id":"b2","term":4,"kind":"commit_advanced","commit":9,"cursor":9}
{"v":1,"seq":6,"ts_ms":3601706,"node":"m2","id":"b2","term":4,"kind":"entry_applied","index":9,"entry_term":4,"request":"put key1=value1","cursor":10}
{"v":1,"seq":0,"ts_ms":3602000,"node":"m1","id":"a1","term":4,"kind":"member_stopped","reason":"killed (SIGKILL)","source":"lab","cursor":11}
"#;

fn events(args: &[&str]) -> support::Output {
    let mut all = vec!["events".to_string()];
    all.extend(args.iter().map(|s| s.to_string()));
    run(&etcdlab_bin(), &all, &[], None, Duration::from_secs(20))
}

#[test]
fn a_recording_replays_as_a_timeline() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("rec.jsonl");
    std::fs::write(&file, RECORDING).unwrap();
    let file = file.to_string_lossy().into_owned();

    let out = events(&["--replay", &file]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        out.stdout,
        "01:00:00.000 m1 ⏻ started (tick 100 ms, election 10 ticks, heartbeat 1 tick)\n\
         01:00:00.001 m2 ⏻ started (tick 100 ms, election 10 ticks, heartbeat 1 tick)\n\
         01:00:01.500 m2 ★ leader t4\n\
         01:00:01.700 m2 ← client put key1=value1 (#9)\n\
         01:00:01.701 m2 ▶ m1 append [7..9] t4\n\
         01:00:01.702 m1 ◀ m2 append [7..9] t4\n\
         01:00:01.703 m1 ▶ m2 ack 9 t4\n\
         01:00:01.705 m2 ⇒ commit 9 t4\n\
         01:00:01.706 m2 ✓ applied 9 put key1=value1\n\
         01:00:02.000 m1 ⏻ stopped (killed (SIGKILL))\n",
        "not a terminal: no colour"
    );

    let out = events(&[
        "--replay",
        &file,
        "--heartbeats",
        "--kinds",
        "heartbeat_sent,role_changed",
    ]);
    assert_eq!(
        out.stdout,
        "01:00:01.500 m2 ★ leader t4\n01:00:01.600 m2 ▶ m1 heartbeat t4\n"
    );

    let out = events(&["--replay", &file, "--json", "--kinds", "entry_applied"]);
    assert_eq!(
        out.stdout,
        format!("{}\n", RECORDING.lines().nth(9).unwrap())
    );

    let out = events(&["--replay", &file, "--color", "always", "--limit", "3"]);
    assert_eq!(out.stdout.lines().count(), 3);
    assert!(out.stdout.contains("\x1b["), "{}", out.stdout);

    let missing = events(&["--replay", &dir.path().join("none.jsonl").to_string_lossy()]);
    assert_ne!(missing.code, 0);
    assert!(
        missing.stderr.contains("cannot open the recording"),
        "{}",
        missing.stderr
    );
}

#[test]
fn following_a_member_records_raw_lines_and_faults_need_the_flag() {
    let member = OurMember::start_single("solo");
    let (status, body) = http_with_body(
        "POST",
        &member.endpoint(),
        "/debug/faults",
        r#"{"pause":true}"#,
    )
    .unwrap();
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("--experimental-fault-injection"), "{body}");

    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join("live.jsonl");
    let mut follower = support::Process {
        child: Command::new(etcdlab_bin())
            .args([
                "events",
                "--endpoints",
                &format!("http://{}", member.endpoint()),
            ])
            .args([
                "--record",
                &record.to_string_lossy(),
                "--limit",
                "4",
                "--color",
                "never",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut n = 0;
    while follower.child.try_wait().unwrap().is_none() {
        assert!(
            Instant::now() < deadline,
            "etcdlab events printed too little"
        );
        let put = etcdctl(
            &member.endpoint(),
            &["put".into(), format!("k{n}"), "v".into()],
            None,
        );
        assert_eq!(put.stdout, "OK\n", "{}", put.stderr);
        n += 1;
        std::thread::sleep(Duration::from_millis(100));
    }
    let child = std::mem::replace(&mut follower.child, Command::new("true").spawn().unwrap());
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed = String::from_utf8_lossy(&out.stdout);
    assert_eq!(printed.lines().count(), 4, "{printed}");
    assert!(printed.lines().all(|l| l.contains(" solo ")), "{printed}");
    let recorded = std::fs::read_to_string(&record).unwrap();
    assert!(recorded.lines().count() >= 4, "{recorded}");
    for line in recorded.lines() {
        let event: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(event["node"], "solo", "{line}");
        assert!(event["seq"].is_u64() && event["kind"].is_string(), "{line}");
    }
    assert!(
        recorded.contains("\"kind\":\"entry_applied\""),
        "{recorded}"
    );
}
