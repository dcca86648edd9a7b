//! `--quota-backend-bytes`: a write past the quota raises the NOSPACE alarm through Raft; then
//! reads and deletes still work, writes are refused with etcd's error, and `alarm disarm`
//! clears it (the next write past the quota raises it again). Deleting, compacting and
//! defragmenting recover the space, as etcd documents.

mod support;

use support::{OurMember, etcdctl};

fn args(words: &[&str]) -> Vec<String> {
    words.iter().map(|s| s.to_string()).collect()
}

#[test]
fn writes_past_the_quota_raise_nospace_and_only_reads_and_deletes_work() {
    let member = OurMember::start_single_with("quota", &["--quota-backend-bytes", "600000"]);
    let ep = member.endpoint();
    let value = "x".repeat(50_000);
    let mut refused = None;
    for i in 0..100 {
        let out = etcdctl(&ep, &args(&["put", &format!("big{i}"), &value]), None);
        if out.code != 0 {
            refused = Some(out);
            break;
        }
    }
    let refused = refused.expect("the quota was never reached");
    assert_eq!(
        refused.stderr.lines().last(),
        Some("Error: etcdserver: mvcc: database space exceeded")
    );

    let alarms = etcdctl(&ep, &args(&["alarm", "list"]), None);
    assert!(
        alarms.stdout.starts_with("memberID:") && alarms.stdout.contains(" alarm:NOSPACE"),
        "{}",
        alarms.stdout
    );
    let status = etcdctl(&ep, &args(&["endpoint", "status"]), None);
    assert!(status.stdout.contains("alarm:NOSPACE"), "{}", status.stdout);

    // Small writes are refused too while the alarm is raised; reads and deletes work.
    let small = etcdctl(&ep, &args(&["put", "small", "1"]), None);
    assert_eq!(
        small.stderr.lines().last(),
        Some("Error: etcdserver: mvcc: database space exceeded")
    );
    assert_eq!(
        etcdctl(&ep, &args(&["get", "big0", "--print-value-only"]), None)
            .stdout
            .len(),
        50_001
    );
    assert_eq!(etcdctl(&ep, &args(&["del", "big0"]), None).stdout, "1\n");

    let disarm = etcdctl(&ep, &args(&["alarm", "disarm"]), None);
    assert_eq!(
        disarm.stdout, alarms.stdout,
        "disarm prints the alarms it cleared"
    );
    assert_eq!(etcdctl(&ep, &args(&["alarm", "list"]), None).stdout, "");
}

/// The recovery etcd documents for NOSPACE: delete, compact the history, defragment the file,
/// disarm; the file shrinks and writes work again.
#[test]
fn compact_defragment_and_disarm_recover_from_nospace() {
    let member = OurMember::start_single_with(
        "defrag",
        &["--quota-backend-bytes", "600000", "--snapshot-count", "5"],
    );
    let ep = member.endpoint();
    let value = "x".repeat(50_000);
    let filled =
        (0..100).any(|i| etcdctl(&ep, &args(&["put", &format!("big{i}"), &value]), None).code != 0);
    assert!(filled, "the quota was never reached");
    let db_size = || {
        let out = etcdctl(&ep, &args(&["endpoint", "status", "-w", "json"]), None);
        let status: serde_json::Value = serde_json::from_str(&out.stdout).expect("status JSON");
        (
            status[0]["Status"]["dbSize"].as_i64().expect("dbSize"),
            status[0]["Status"]["header"]["revision"]
                .as_i64()
                .expect("revision"),
        )
    };
    assert_ne!(
        etcdctl(&ep, &args(&["del", "big", "--prefix"]), None).stdout,
        "0\n"
    );
    let (full, revision) = db_size();
    let compact = etcdctl(&ep, &args(&["compact", &revision.to_string()]), None);
    assert_eq!(compact.stdout, format!("compacted revision {revision}\n"));
    let defrag = etcdctl(&ep, &args(&["defrag"]), None);
    assert_eq!(
        defrag.stdout,
        format!("Finished defragmenting etcd member[{ep}]\n"),
        "{}",
        defrag.stderr
    );
    let (after, _) = db_size();
    assert!(
        after < full / 2,
        "defragmenting shrinks the file: {full} -> {after}"
    );
    assert!(etcdctl(&ep, &args(&["alarm", "disarm"]), None).code == 0);
    assert_eq!(
        etcdctl(&ep, &args(&["put", "small", "1"]), None).stdout,
        "OK\n"
    );
    assert_eq!(
        etcdctl(&ep, &args(&["get", "small", "--print-value-only"]), None).stdout,
        "1\n"
    );
}
