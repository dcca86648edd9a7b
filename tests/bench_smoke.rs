//! `etcdlab bench` drives a member and reports what it measured, and `bench/compare --quick`
//! runs end to end against real etcd and ours (smoke tests of the tools the README's
//! performance tables come from; they fail on errors, and speed itself is never asserted).

mod support;

use std::path::Path;
use std::time::Duration;

use support::{OurMember, etcdctl, etcdlab_bin, run};

/// Runs `etcdlab bench ARGS --endpoints ENDPOINT --json` (ARGS split at spaces); its exit,
/// report and stderr.
fn bench(endpoint: &str, args: &str) -> (i32, serde_json::Value, String) {
    let mut all: Vec<String> = ["bench", "--endpoints", endpoint, "--json"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    all.extend(args.split_whitespace().map(str::to_string));
    let out = run(&etcdlab_bin(), &all, &[], None, Duration::from_secs(60));
    let report = serde_json::from_str(&out.stdout).unwrap_or(serde_json::Value::Null);
    (out.code, report, out.stderr)
}

/// The keys under `prefix` on the member (`""`: all of them).
fn keys(member: &OurMember, prefix: &str) -> Vec<String> {
    let scope = if prefix.is_empty() {
        "--from-key"
    } else {
        "--prefix"
    };
    let args = ["get", prefix, scope, "--keys-only"].map(String::from);
    let out = etcdctl(&member.endpoint(), &args, None);
    assert_eq!(out.code, 0, "{}", out.stderr);
    out.stdout
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

#[test]
fn bench_runs_every_kv_workload_and_counts_its_requests() {
    let member = OurMember::start_single("bench");
    for workload in ["put", "range", "txn"] {
        let (code, report, stderr) = bench(
            &member.endpoint(),
            &format!("{workload} --clients 4 --conns 2 --total 40 --key-space-size 10"),
        );
        assert_eq!(code, 0, "{workload}: {stderr}");
        assert_eq!(report["requests"], 40, "{workload}: {report}");
        assert_eq!(report["errors"], 0);
        assert!(report["requests_per_sec"].as_f64().unwrap() > 0.0);
    }
    // The puts and txns really wrote: ten keys of the key space.
    assert_eq!(keys(&member, "").len(), 10);
}

#[test]
fn bench_watch_delivers_every_put_to_every_watcher() {
    let member = OurMember::start_single("bench-watch");
    let (code, report, stderr) = bench(
        &member.endpoint(),
        "watch --watchers 25 --conns 3 --total 12",
    );
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(report["workload"], "watch");
    assert_eq!(report["watchers"], 25);
    assert_eq!(report["puts"], 12);
    // One delivery per watcher and put, none missed.
    assert_eq!(report["requests"], 25 * 12, "{report}");
    assert_eq!(report["errors"], 0, "{report}");
    assert!(report["p99_ms"].as_f64().unwrap() >= report["p50_ms"].as_f64().unwrap());
    assert_eq!(keys(&member, "bench-watch/").len(), 12);
}

#[test]
fn bench_lease_churn_revokes_every_lease_it_grants() {
    let member = OurMember::start_single("bench-lease");
    let (code, report, stderr) = bench(
        &member.endpoint(),
        "lease --clients 4 --conns 2 --total 20 --key-space-size 0",
    );
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(report["requests"], 20, "{report}");
    assert_eq!(report["errors"], 0, "{report}");
    assert!(
        report["rpcs_per_sec"].as_f64().unwrap() > report["requests_per_sec"].as_f64().unwrap()
    );
    // Twenty keys were put, each with its lease; every revoke took its key along.
    assert_eq!(keys(&member, ""), Vec::<String>::new());
    let leases = etcdctl(
        &member.endpoint(),
        &["lease", "list"].map(String::from),
        None,
    );
    assert_eq!(leases.stdout.trim(), "found 0 leases", "{}", leases.stdout);
    let args = ["get", "x", "-w", "json"].map(String::from);
    let revisions = etcdctl(&member.endpoint(), &args, None);
    let header: serde_json::Value = serde_json::from_str(&revisions.stdout).unwrap();
    // Twenty puts and twenty revokes each made a revision (after the first, 1).
    assert_eq!(header["header"]["revision"], 41, "{}", revisions.stdout);
}

#[test]
fn bench_refuses_bad_input_and_reports_an_unreachable_endpoint() {
    let member = OurMember::start_single("bench-bad");
    for (args, expect) in [
        ("watch --watchers 0", "--watchers must be at least 1"),
        ("put --total 0", "--total must be at least 1"),
        ("range --consistency x", "invalid value 'x'"),
        ("gossip", "invalid value 'gossip'"),
    ] {
        let (code, _, stderr) = bench(&member.endpoint(), args);
        assert_ne!(code, 0, "{args:?}");
        assert!(stderr.contains(expect), "{args:?}: {stderr}");
    }
    let dead = format!("127.0.0.1:{}", support::free_port());
    let (code, _, stderr) = bench(&dead, "lease --total 3");
    assert_eq!(code, 1);
    assert!(stderr.contains("cannot connect to"), "{stderr}");
}

#[test]
fn compare_quick_runs_every_workload_against_real_etcd_and_ours() {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../bench/compare");
    let args = [
        "--quick".to_string(),
        "--members".to_string(),
        "3".to_string(),
        "--binary".to_string(),
        etcdlab_bin().to_string_lossy().into_owned(),
    ];
    let out = run(&script, &args, &[], None, Duration::from_secs(90));
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let rows: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| workload"))
        .collect();
    let expected = [
        "| put, 1 client |",
        "| put, 64 clients / 8 conns |",
        "| linearizable range, 64 clients |",
        "| serializable range, 64 clients |",
        "| txn (compare + put), 64 clients |",
        "| watch fan-out, 40 watchers, events/s |",
        "| lease churn, 16 clients, cycles/s |",
        "| load 500 keys, 64 clients |",
    ];
    for row in expected {
        // Once for throughput and latency, once for CPU seconds.
        let found = rows.iter().filter(|l| l.starts_with(row)).count();
        assert_eq!(found, 2, "{row} in\n{}", out.stdout);
    }
    for row in [
        "| leader |",
        "| follower 1 |",
        "| follower 2 |",
        "| snapshot save, s |",
        "| snapshot restore, s |",
        "| snapshot file, MiB |",
    ] {
        assert!(
            rows.iter().any(|l| l.starts_with(row)),
            "{row} in\n{}",
            out.stdout
        );
    }
}
