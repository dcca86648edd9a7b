//! Three-member clusters of our binary, driven by the real etcdctl: replication to every
//! member, failover after the leader is killed, catch-up of a restarted member, and no
//! writes without quorum.

mod support;

use std::time::{Duration, Instant};

use support::{OurCluster, etcdctl};

fn args(words: &[&str]) -> Vec<String> {
    words.iter().map(|s| s.to_string()).collect()
}

/// Waits until a serializable read on `endpoint` returns `value` for `key`.
fn wait_for_value(endpoint: &str, key: &str, value: &str, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        let out = etcdctl(
            endpoint,
            &args(&["get", key, "--print-value-only", "--consistency=s"]),
            None,
        );
        if out.stdout == format!("{value}\n") {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

#[test]
fn writes_replicate_and_survive_the_loss_of_the_leader() {
    let mut cluster = OurCluster::start(3);
    let out = etcdctl(
        &cluster.members[1].endpoint(),
        &args(&["put", "replicated", "yes"]),
        None,
    );
    assert_eq!(out.stdout, "OK\n", "{}", out.stderr);
    for m in &cluster.members {
        assert!(
            wait_for_value(&m.endpoint(), "replicated", "yes", Duration::from_secs(10)),
            "{} never saw the write",
            m.name
        );
    }

    let leader = cluster.leader(Duration::from_secs(10)).expect("a leader");
    cluster.members[leader].kill9();
    let new_leader = cluster
        .leader(Duration::from_secs(15))
        .expect("a new leader after the old one died");
    assert_ne!(new_leader, leader);

    // A follower forwards the write to the new leader; linearizable reads see it at once.
    let out = etcdctl(
        &cluster.endpoints(),
        &args(&["put", "after-failover", "ok"]),
        None,
    );
    assert_eq!(out.stdout, "OK\n", "{}", out.stderr);
    for m in cluster.members.iter().filter(|m| m.process.is_some()) {
        let out = etcdctl(
            &m.endpoint(),
            &args(&["get", "after-failover", "--print-value-only"]),
            None,
        );
        assert_eq!(out.stdout, "ok\n", "linearizable read on {}", m.name);
    }

    // The killed member comes back from its data dir and catches up.
    cluster.members[leader].launch();
    let back = cluster.members[leader].endpoint();
    assert!(
        wait_for_value(&back, "after-failover", "ok", Duration::from_secs(20)),
        "the restarted member did not catch up"
    );
    assert!(wait_for_value(
        &back,
        "replicated",
        "yes",
        Duration::from_secs(5)
    ));

    let hashes = etcdctl(&cluster.endpoints(), &args(&["endpoint", "hashkv"]), None);
    let values: Vec<&str> = hashes
        .stdout
        .lines()
        .filter_map(|l| l.split(", ").nth(1))
        .collect();
    assert_eq!(values.len(), 3, "{}", hashes.stdout);
    assert!(
        values.iter().all(|h| *h == values[0]),
        "members disagree: {}",
        hashes.stdout
    );
}

#[test]
fn without_quorum_writes_fail_and_nothing_changes() {
    let mut cluster = OurCluster::start(3);
    assert_eq!(
        etcdctl(&cluster.endpoints(), &args(&["put", "k", "before"]), None).code,
        0
    );
    cluster.members[0].kill9();
    cluster.members[1].kill9();
    let survivor = cluster.members[2].endpoint();
    let started = Instant::now();
    let out = etcdctl(
        &survivor,
        &args(&["--command-timeout=3s", "put", "k", "lost"]),
        None,
    );
    assert_ne!(out.code, 0, "a lone member of three must not accept writes");
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "the failed write did not time out"
    );
    let out = etcdctl(
        &survivor,
        &args(&["get", "k", "--print-value-only", "--consistency=s"]),
        None,
    );
    assert_eq!(out.stdout, "before\n");
    // Linearizable reads need the quorum too.
    let out = etcdctl(
        &survivor,
        &args(&["--command-timeout=2s", "get", "k"]),
        None,
    );
    assert_ne!(out.code, 0);
}
