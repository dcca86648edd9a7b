//! `etcdlab bench` drives a member and reports what it measured (a smoke test of the tool the
//! README's performance table comes from; speed itself is never asserted).

mod support;

use std::time::Duration;

use support::{OurMember, etcdctl, etcdlab_bin, run};

#[test]
fn bench_runs_every_workload_and_counts_its_requests() {
    let member = OurMember::start_single("bench");
    for workload in ["put", "range", "txn"] {
        let args: Vec<String> = [
            "bench",
            workload,
            "--endpoints",
            &member.endpoint(),
            "--clients",
            "4",
            "--conns",
            "2",
            "--total",
            "40",
            "--key-space-size",
            "10",
            "--json",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let out = run(&etcdlab_bin(), &args, &[], None, Duration::from_secs(60));
        assert_eq!(out.code, 0, "{workload}: {}", out.stderr);
        let report: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
        assert_eq!(report["requests"], 40, "{workload}: {}", out.stdout);
        assert_eq!(report["errors"], 0);
        assert!(report["requests_per_sec"].as_f64().unwrap() > 0.0);
    }
    // The puts and txns really wrote: ten keys of the key space.
    let keys = etcdctl(
        &member.endpoint(),
        &[
            "get".into(),
            "".into(),
            "--from-key".into(),
            "--keys-only".into(),
        ],
        None,
    );
    assert_eq!(
        keys.stdout.lines().filter(|l| !l.is_empty()).count(),
        10,
        "{}",
        keys.stdout
    );
}
