//! Side by side with real etcd 3.4.23, the same commands in one run, every output identical once
//! ids, ports, timings and sizes are masked:
//! - the real etcdctl against real etcd and against our member (the server is compatible);
//! - the real etcdctl and `etcdlab ctl` against real etcd (the client is compatible).
//!
//! Covers the course's commands verbatim (`../shared/course-notes/`) and the KV, txn,
//! compaction, endpoint and error paths the reference transcript cannot replay on its own.

mod support;

use support::{OurMember, RealEtcd, etcdctl, etcdlab_bin, normalize, run, visible_output};

const TXN: &str = "value(\"txnkey\") = \"old\"\n\nput txnkey new\n\nput txnkey failed\n\n";
const TXN_REVISIONS: &str = "mod(\"txnkey\") > \"1\"\ncreate(\"txnkey\") > \"0\"\nversion(\"txnkey\") = \"2\"\n\nput a 1\nput b 2\n\ndel txnkey\n\n";
const TXN_DUPLICATE: &str = "\nput dup 1\nput dup 2\n\n\n";
const TXN_MISSING_VALUE: &str = "value(\"missing\") = \"\"\n\nput x 1\n\nget txnkey\n\n";

/// (arguments, stdin) for each command, run in order against both servers.
fn commands() -> Vec<(Vec<String>, Option<&'static str>)> {
    let plain: &[&[&str]] = &[
        // Course notes 000-003, verbatim apart from the endpoint.
        &["put", "key1", "value1"],
        &["get", "key1"],
        &[
            "put",
            "/registry/pods/default/nginx-pod",
            r#"{"kind":"Pod","metadata":{"name":"nginx-pod","namespace":"default"}}"#,
        ],
        &[
            "put",
            "/registry/apiregistration.k8s.io/apiservices/v1.apps",
            "{}",
        ],
        &[
            "put",
            "/registry/configmaps/kube-system/kubeadm-config",
            "cfg",
        ],
        &["get", "/", "--prefix", "--keys-only"],
        &["get", "/", "--prefix", "--keys-only", "--limit=10"],
        &["get", "/", "--prefix", "--keys-only", "--limit=2"],
        &["get", "/registry/pods/default/nginx-pod", "-w", "json"],
        &["get", "/registry/pods/default/nginx-pod", "-w", "fields"],
        &["get", "/registry", "--prefix", "-w", "json"],
        &["get", "/registry", "--prefix", "-w", "table"],
        &["get", "/registry", "--prefix", "--print-value-only"],
        &["get", "/registry", "--prefix", "--consistency=s"],
        &["get", "", "--from-key", "--keys-only"],
        &[
            "get",
            "/",
            "--prefix",
            "--sort-by=MODIFY",
            "--order=DESCEND",
        ],
        &[
            "get",
            "/",
            "--prefix",
            "--sort-by=CREATE",
            "--order=ASCEND",
            "--keys-only",
        ],
        &["get", "/", "--prefix", "--sort-by=VALUE"],
        &["get", "/", "--prefix", "--hex"],
        &["get", "key1", "--rev", "1"],
        &["get", "key1", "--rev", "99"],
        &["put", "key1", "value2", "--prev-kv", "-w", "json"],
        &["put", "key1", "value3", "--prev-kv"],
        &["put", "key1", "--ignore-value"],
        &["put", "newkey", "--ignore-value"],
        &["get", "key1", "-w", "json"],
        &["del", "/registry", "--prefix", "--prev-kv"],
        &["del", "nonexistent"],
        &["del", "/registry", "--prefix", "-w", "json"],
        &["put", "txnkey", "old"],
        &["put", "", "empty-key"],
        &["get", ""],
        &["compaction", "3"],
        &["get", "key1", "--rev", "2"],
        &["compaction", "3"],
        &["compaction", "1000"],
        &["get", "key1", "--rev", "3"],
        &["endpoint", "health"],
        &["endpoint", "health", "-w", "table"],
        &["endpoint", "status", "-w", "table"],
        &["endpoint", "status"],
        &["endpoint", "hashkv", "-w", "json"],
        &["member", "list"],
        &["member", "list", "-w", "table"],
        &["alarm", "list"],
        &["move-leader", "1"],
        &["version"],
    ];
    let mut cmds: Vec<(Vec<String>, Option<&'static str>)> = plain
        .iter()
        .map(|c| (c.iter().map(|s| s.to_string()).collect(), None))
        .collect();
    // Transactions go after `put txnkey old` (index 29).
    let at = 30;
    let txn = |args: &[&str], input| (args.iter().map(|s| s.to_string()).collect(), Some(input));
    cmds.insert(at, txn(&["txn"], TXN));
    cmds.insert(at + 1, txn(&["txn", "-w", "json"], TXN));
    cmds.insert(at + 2, txn(&["txn"], TXN_REVISIONS));
    cmds.insert(at + 3, txn(&["txn", "-w", "json"], TXN_MISSING_VALUE));
    cmds.insert(at + 4, txn(&["txn"], TXN_DUPLICATE));
    cmds
}

/// Runs every command through `reference` and `candidate`; returns the differences.
fn compare(
    reference: impl Fn(&[String], Option<&str>) -> support::Output,
    candidate: impl Fn(&[String], Option<&str>) -> support::Output,
) -> Vec<String> {
    let mut differences = Vec::new();
    for (args, stdin) in &commands() {
        let theirs = reference(args, *stdin);
        let mine = candidate(args, *stdin);
        let (expected, got) = (
            normalize(&visible_output(&theirs)),
            normalize(&visible_output(&mine)),
        );
        if expected != got || theirs.code != mine.code {
            differences.push(format!(
                "$ etcdctl {}\n--- expected (exit {})\n{expected}--- got (exit {})\n{got}",
                args.join(" "),
                theirs.code,
                mine.code
            ));
        }
    }
    differences
}

#[test]
fn real_etcdctl_sees_the_same_as_with_real_etcd() {
    let real = RealEtcd::start();
    let ours = OurMember::start_single("single");
    let differences = compare(
        |a, i| etcdctl(&real.endpoint(), a, i),
        |a, i| etcdctl(&ours.endpoint(), a, i),
    );
    assert!(
        differences.is_empty(),
        "{} commands differ:\n{}",
        differences.len(),
        differences.join("\n")
    );
}

#[test]
fn etcdlab_ctl_prints_what_the_real_etcdctl_prints() {
    // Each client gets its own fresh etcd, so both see the same history.
    let real = RealEtcd::start();
    let other = RealEtcd::start();
    let ours = |args: &[String], stdin: Option<&str>| {
        let mut all = vec![
            "ctl".to_string(),
            "--endpoints".to_string(),
            other.endpoint(),
        ];
        all.extend_from_slice(args);
        run(
            &etcdlab_bin(),
            &all,
            &[("ETCDCTL_API", "3")],
            stdin,
            std::time::Duration::from_secs(20),
        )
    };
    let differences = compare(|a, i| etcdctl(&real.endpoint(), a, i), ours);
    assert!(
        differences.is_empty(),
        "{} commands differ:\n{}",
        differences.len(),
        differences.join("\n")
    );
}
