//! Durability: kill -9 a member while clients are writing, restart it on the same data dir,
//! and every write that was acknowledged is there with its value; a damaged Raft journal is
//! refused with a clear error, and once repaired nothing is missing; `--wal-dir` moves the
//! journal, and a crashed member's journal is not left behind by it.

mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use support::{OurMember, etcdctl, etcdlab_bin, run};

#[test]
fn acknowledged_writes_survive_kill_9() {
    // A small --snapshot-count makes the member compact its Raft log during the run, so the
    // restart also recovers from a compacted log.
    let mut member = OurMember::start_single_with("durable", &["--snapshot-count", "20"]);
    let endpoint = member.endpoint();
    let acknowledged = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let (endpoint, acknowledged, stop) =
                (endpoint.clone(), acknowledged.clone(), stop.clone());
            std::thread::spawn(move || {
                for i in 0..400 {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let key = format!("w{w}/k{i:04}");
                    let value = format!("value-{w}-{i}");
                    let out = etcdctl(
                        &endpoint,
                        &[
                            "--command-timeout=2s".into(),
                            "put".into(),
                            key.clone(),
                            value.clone(),
                        ],
                        None,
                    );
                    if out.code == 0 && out.stdout == "OK\n" {
                        acknowledged.lock().unwrap().push((key, value));
                    }
                }
            })
        })
        .collect();
    // Let some writes land, then kill the member in the middle of the stream.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while acknowledged.lock().unwrap().len() < 40 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    member.kill9();
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.join().unwrap();
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(
        acknowledged.len() >= 40,
        "only {} writes were acknowledged before the kill",
        acknowledged.len()
    );

    member.launch();
    member.wait_healthy(Duration::from_secs(30));
    let mut missing = Vec::new();
    for (key, value) in &acknowledged {
        let out = etcdctl(
            &endpoint,
            &["get".into(), key.clone(), "--print-value-only".into()],
            None,
        );
        if out.stdout != format!("{value}\n") {
            missing.push(format!("{key}: got {:?}", out.stdout));
        }
    }
    assert!(
        missing.is_empty(),
        "{} of {} acknowledged writes lost: {:?}",
        missing.len(),
        acknowledged.len(),
        missing
    );
}

#[test]
fn a_damaged_journal_is_refused_untouched() {
    let mut member = OurMember::start_single("journal");
    let endpoint = member.endpoint();
    // A few writes: far fewer synced readies than a checkpoint takes, so the journal holds them.
    for i in 0..10 {
        let out = etcdctl(
            &endpoint,
            &["put".into(), format!("k{i}"), format!("v{i}")],
            None,
        );
        assert_eq!(out.stdout, "OK\n", "{}", out.stderr);
    }
    member.kill9();

    let journal = member.data_dir().join("member/etcdlab.journal");
    let intact = std::fs::read(&journal).unwrap();
    let mut damaged = intact.clone();
    damaged[10] ^= 0xff; // inside the first record's payload
    std::fs::write(&journal, &damaged).unwrap();
    let out = run(
        &etcdlab_bin(),
        &member.args(),
        &[],
        None,
        Duration::from_secs(20),
    );
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("replaying the Raft journal")
            && out
                .stderr
                .contains("lies beyond a gap or damaged bytes after record 0"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
    assert_eq!(std::fs::read(&journal).unwrap(), damaged);

    // Repaired, the member starts with every write.
    std::fs::write(&journal, &intact).unwrap();
    member.launch();
    member.wait_healthy(Duration::from_secs(30));
    let out = etcdctl(
        &endpoint,
        &[
            "get".into(),
            "k".into(),
            "--prefix".into(),
            "--print-value-only".into(),
        ],
        None,
    );
    let expected: String = (0..10).map(|i| format!("v{i}\n")).collect();
    assert_eq!(out.stdout, expected);
}

#[test]
fn writes_survive_kill_9_after_the_journal_started_over() {
    let mut member = OurMember::start_single("rewound");
    let endpoint = member.endpoint();
    // One client, one put per synced ready: 2,500 journal records, so the journal has been
    // checkpointed and started over from its beginning twice (a member's first checkpoint
    // comes after 512 to 1,024 records, then one every 1,024) and holds 450 to 960 at the kill.
    let args: Vec<String> = [
        "bench",
        "put",
        "--clients",
        "1",
        "--conns",
        "1",
        "--total",
        "2500",
        "--key-space-size",
        "2500",
        "--json",
        "--endpoints",
        &endpoint,
    ]
    .map(String::from)
    .to_vec();
    let out = run(&etcdlab_bin(), &args, &[], None, Duration::from_secs(120));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let report: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(report["errors"], 0, "{}", out.stdout);
    let revision = |endpoint: &str| {
        let out = etcdctl(
            endpoint,
            &[
                "endpoint".into(),
                "status".into(),
                "-w".into(),
                "json".into(),
            ],
            None,
        );
        serde_json::from_str::<serde_json::Value>(&out.stdout).map_or(0, |v| {
            v[0]["Status"]["header"]["revision"].as_u64().unwrap_or(0)
        })
    };
    // Every put took one revision after the empty store's 1.
    assert_eq!(revision(&endpoint), 2501);
    member.kill9();

    member.launch();
    member.wait_healthy(Duration::from_secs(30));
    assert_eq!(revision(&endpoint), 2501);
    assert!(
        member.log().contains("replayed the Raft journal"),
        "the restart did not replay the journal:\n{}",
        member.log()
    );
}

#[test]
fn the_journal_lives_in_the_wal_dir_and_is_not_left_behind() {
    let wal = tempfile::tempdir().unwrap();
    let wal_dir = wal.path().join("wal");
    let wal_flag = [
        "--wal-dir".to_string(),
        wal_dir.to_string_lossy().into_owned(),
    ];
    let mut member = OurMember::start_single_with("walled", &[&wal_flag[0], &wal_flag[1]]);
    let endpoint = member.endpoint();
    let value_of_k = |endpoint: &str| {
        let args = ["get", "k", "--print-value-only"].map(String::from);
        etcdctl(endpoint, &args, None).stdout
    };
    let out = etcdctl(&endpoint, &["put".into(), "k".into(), "v".into()], None);
    assert_eq!(out.stdout, "OK\n", "{}", out.stderr);
    member.kill9();
    assert!(wal_dir.join("etcdlab.journal").is_file());
    assert!(!member.data_dir().join("member/etcdlab.journal").exists());

    // Crashed with --wal-dir, started without it: refused, rather than leave the writes behind.
    let without: Vec<String> = member
        .args()
        .into_iter()
        .filter(|a| !wal_flag.contains(a))
        .collect();
    let refused = |args: &[String]| {
        let out = run(&etcdlab_bin(), args, &[], None, Duration::from_secs(20));
        assert_eq!(out.code, 1, "{}", out.stderr);
        assert!(
            out.stderr
                .contains("records the database lacks, but this start keeps the journal at"),
            "{}",
            out.stderr
        );
    };
    refused(&without);
    member.launch();
    member.wait_healthy(Duration::from_secs(30));
    assert_eq!(value_of_k(&endpoint), "v\n");
    member.kill9();

    // The other way round: crashed without --wal-dir, started with it.
    let mut plain = OurMember::start_single("plain");
    let out = etcdctl(
        &plain.endpoint(),
        &["put".into(), "k".into(), "v".into()],
        None,
    );
    assert_eq!(out.stdout, "OK\n", "{}", out.stderr);
    plain.kill9();
    let mut with = plain.args();
    with.extend(wal_flag.iter().cloned());
    refused(&with);
    plain.launch();
    plain.wait_healthy(Duration::from_secs(30));
    assert_eq!(value_of_k(&plain.endpoint()), "v\n");
}
