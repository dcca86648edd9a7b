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

/// `endpoint hashkv` over the running members: `expected` answers, all with the same hash.
fn assert_same_history_everywhere(cluster: &OurCluster, expected: usize) {
    let hashes = etcdctl(&cluster.endpoints(), &args(&["endpoint", "hashkv"]), None);
    let values: Vec<&str> = hashes
        .stdout
        .lines()
        .filter_map(|l| l.split(", ").nth(1))
        .collect();
    assert_eq!(values.len(), expected, "{}", hashes.stdout);
    assert!(
        values.iter().all(|h| *h == values[0]),
        "members disagree: {}",
        hashes.stdout
    );
    // Maintenance.Hash covers the whole replicated state (members too): equal once every
    // member has applied the same entries.
    let endpoints: Vec<String> = cluster.endpoints().split(',').map(String::from).collect();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let hashes: Vec<u32> = endpoints.iter().map(|ep| state_hash(ep)).collect();
        if hashes.iter().all(|h| *h == hashes[0]) {
            break;
        }
        assert!(Instant::now() < deadline, "Hash differs: {hashes:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The `Maintenance.Hash` of the member at `endpoint` (no etcdctl command calls it).
fn state_hash(endpoint: &str) -> u32 {
    use etcdlab_core::proto::etcdserverpb::{HashRequest, HashResponse};
    let response: HashResponse = support::unary(
        endpoint,
        "/etcdserverpb.Maintenance/Hash",
        HashRequest {},
        None,
    )
    .expect("Hash");
    response.hash
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

    // Hand leadership to a follower on purpose, as `etcdctl move-leader` does.
    cluster.leader(Duration::from_secs(10)).expect("a leader");
    let status = etcdctl(
        &cluster.endpoints(),
        &args(&["endpoint", "status", "-w", "json"]),
        None,
    );
    let statuses: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
    let follower_id = statuses
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["Status"]["header"]["member_id"].as_u64().unwrap())
        .find(|id| Some(*id) != statuses[0]["Status"]["leader"].as_u64())
        .unwrap();
    let moved = etcdctl(
        &cluster.endpoints(),
        &args(&["move-leader", &format!("{follower_id:x}")]),
        None,
    );
    assert!(
        moved.stdout.starts_with("Leadership transferred from ")
            && moved
                .stdout
                .trim_end()
                .ends_with(&format!("to {follower_id:x}")),
        "{}{}",
        moved.stdout,
        moved.stderr
    );
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

    assert_same_history_everywhere(&cluster, 3);
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

#[test]
fn members_are_added_as_learners_promoted_and_removed() {
    let mut cluster = OurCluster::start(3);
    assert_eq!(
        etcdctl(
            &cluster.endpoints(),
            &args(&["put", "before-join", "1"]),
            None
        )
        .code,
        0
    );
    let mut newcomer = support::OurMember::new(
        "m4",
        &[
            "--heartbeat-interval",
            "100",
            "--election-timeout",
            "1000",
            "--initial-cluster-state",
            "existing",
        ],
    );
    let peer_url = newcomer.peer_url();
    let add = etcdctl(
        &cluster.endpoints(),
        &args(&[
            "member",
            "add",
            "m4",
            &format!("--peer-urls={peer_url}"),
            "--learner",
        ]),
        None,
    );
    assert_eq!(add.code, 0, "{}", add.stderr);
    let lines: Vec<&str> = add.stdout.lines().collect();
    assert!(
        lines[0].starts_with("Member ") && lines[0].contains(" added to cluster "),
        "{}",
        add.stdout
    );
    assert_eq!(lines[2], "ETCD_NAME=\"m4\"");
    let initial = lines[3]
        .strip_prefix("ETCD_INITIAL_CLUSTER=\"")
        .and_then(|l| l.strip_suffix('"'))
        .expect("ETCD_INITIAL_CLUSTER line");
    assert!(
        initial.contains(&format!("m4={peer_url}")) && initial.split(',').count() == 4,
        "{initial}"
    );
    assert_eq!(
        lines[4],
        format!("ETCD_INITIAL_ADVERTISE_PEER_URLS=\"{peer_url}\"")
    );
    assert_eq!(lines[5], "ETCD_INITIAL_CLUSTER_STATE=\"existing\"");
    let new_id = lines[0].split_whitespace().nth(1).unwrap().to_string();

    let list = etcdctl(&cluster.endpoints(), &args(&["member", "list"]), None);
    assert!(
        list.stdout
            .contains(&format!("{new_id}, unstarted, , {peer_url}, , true")),
        "{}",
        list.stdout
    );

    // The learner starts with the printed settings, joins, and receives the data.
    newcomer.initial_cluster = initial.to_string();
    newcomer.launch();
    assert!(
        wait_for_value(
            &newcomer.endpoint(),
            "before-join",
            "1",
            Duration::from_secs(20)
        ),
        "the learner did not catch up"
    );

    let leader = cluster.leader(Duration::from_secs(10)).expect("leader");
    let leader_ep = cluster.members[leader].endpoint();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let promote = etcdctl(&leader_ep, &args(&["member", "promote", &new_id]), None);
        if promote.code == 0 {
            assert!(
                promote
                    .stdout
                    .contains(&format!("Member {new_id:>16} promoted in cluster")),
                "{}",
                promote.stdout
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "promotion never succeeded: {}",
            promote.stderr
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let list = etcdctl(&cluster.endpoints(), &args(&["member", "list"]), None);
    assert!(
        list.stdout.contains(&format!(
            "{new_id}, started, m4, {peer_url}, http://{}, false",
            newcomer.endpoint()
        )),
        "{}",
        list.stdout
    );

    // Remove a follower; the rest carry on with writes.
    let follower = (0..3).find(|i| *i != leader).unwrap();
    let list_json = etcdctl(&leader_ep, &args(&["member", "list", "-w", "json"]), None);
    let parsed: serde_json::Value = serde_json::from_str(&list_json.stdout).unwrap();
    let follower_url = format!("http://{}", cluster.members[follower].endpoint());
    let follower_id = parsed["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["clientURLs"][0] == follower_url.as_str())
        .and_then(|m| m["ID"].as_u64())
        .expect("follower in member list");
    let remove = etcdctl(
        &leader_ep,
        &args(&["member", "remove", &format!("{follower_id:x}")]),
        None,
    );
    assert_eq!(remove.code, 0, "{}", remove.stderr);
    assert!(
        remove
            .stdout
            .starts_with(&format!("Member {follower_id:16x} removed from cluster")),
        "{}",
        remove.stdout
    );
    let list = etcdctl(&leader_ep, &args(&["member", "list"]), None);
    assert_eq!(list.stdout.lines().count(), 3, "{}", list.stdout);
    // The removed member stops by itself, as etcd's does, with the reason in its log.
    let removed = &mut cluster.members[follower];
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let child = &mut removed.process.as_mut().unwrap().child;
        if child.try_wait().unwrap().is_some() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the removed member keeps running"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        removed
            .log()
            .contains("the member has been permanently removed from the cluster"),
        "{}",
        removed.log()
    );
    removed.kill9();
    assert_eq!(
        etcdctl(&leader_ep, &args(&["put", "after-remove", "1"]), None).stdout,
        "OK\n"
    );
    assert!(wait_for_value(
        &newcomer.endpoint(),
        "after-remove",
        "1",
        Duration::from_secs(10)
    ));

    // Add the removed member back, as the course does after replacing a machine: a fresh data
    // dir, `member add` with its peer URL, then start it with the printed settings.
    let back = &mut cluster.members[follower];
    std::fs::remove_dir_all(back.data_dir()).unwrap();
    let peer_url = back.peer_url();
    let name = back.name.clone();
    let add = etcdctl(
        &leader_ep,
        &args(&["member", "add", &name, &format!("--peer-urls={peer_url}")]),
        None,
    );
    assert_eq!(add.code, 0, "{}", add.stderr);
    let initial = add
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("ETCD_INITIAL_CLUSTER=\""))
        .and_then(|l| l.strip_suffix('"'))
        .expect("ETCD_INITIAL_CLUSTER line")
        .to_string();
    back.initial_cluster = initial;
    back.extra.extend([
        "--initial-cluster-state".to_string(),
        "existing".to_string(),
    ]);
    back.launch();
    let back_ep = back.endpoint();
    assert!(
        wait_for_value(&back_ep, "after-remove", "1", Duration::from_secs(20)),
        "the re-added member did not catch up"
    );
    let list = etcdctl(&leader_ep, &args(&["member", "list"]), None);
    assert_eq!(list.stdout.lines().count(), 4, "{}", list.stdout);
    assert!(
        list.stdout
            .contains(&format!(", started, {name}, {peer_url}, ")),
        "{}",
        list.stdout
    );

    let missing = etcdctl(&leader_ep, &args(&["member", "remove", "1234"]), None);
    assert_eq!(
        missing.stderr.lines().last(),
        Some("Error: etcdserver: member not found")
    );
}

#[test]
fn a_member_behind_the_compacted_log_catches_up_by_snapshot() {
    let mut cluster = OurCluster::start_with(3, &["--snapshot-count", "10"]);
    let leader = cluster.leader(Duration::from_secs(10)).expect("leader");
    let behind = (0..3).find(|i| *i != leader).unwrap();
    cluster.members[behind].kill9();
    for i in 0..60 {
        let out = etcdctl(
            &cluster.endpoints(),
            &args(&["put", &format!("k{i:02}"), &format!("v{i}")]),
            None,
        );
        assert_eq!(out.code, 0, "{}", out.stderr);
    }
    cluster.members[behind].launch();
    let ep = cluster.members[behind].endpoint();
    assert!(
        wait_for_value(&ep, "k59", "v59", Duration::from_secs(20)),
        "the lagging member did not catch up"
    );
    let keys = etcdctl(
        &ep,
        &args(&["get", "k", "--prefix", "--keys-only", "--consistency=s"]),
        None,
    );
    assert_eq!(keys.stdout.lines().filter(|l| !l.is_empty()).count(), 60);
    assert!(
        cluster.members[behind]
            .log()
            .contains("applied a snapshot from the leader"),
        "no snapshot was used"
    );
    assert_same_history_everywhere(&cluster, 3);
    // It keeps following ordinary appends after the snapshot.
    assert_eq!(
        etcdctl(&cluster.endpoints(), &args(&["put", "after", "snap"]), None).code,
        0
    );
    assert!(wait_for_value(
        &ep,
        "after",
        "snap",
        Duration::from_secs(10)
    ));
}

#[test]
fn a_member_thousands_of_entries_behind_catches_up_from_the_leaders_log_on_disk() {
    // Members keep only the last 1,000 applied entries in memory; a follower further behind
    // (but within --snapshot-count) gets the older ones read back from the leader's disk.
    let mut cluster = OurCluster::start(3);
    let leader = cluster.leader(Duration::from_secs(10)).expect("leader");
    let behind = (0..3).find(|i| *i != leader).unwrap();
    cluster.members[behind].kill9();
    let writes = support::run(
        &support::etcdlab_bin(),
        &args(&[
            "bench",
            "put",
            "--endpoints",
            &cluster.members[leader].endpoint(),
            "--clients",
            "16",
            "--conns",
            "2",
            "--total",
            "3000",
            "--key-space-size",
            "3000",
            "--json",
        ]),
        &[],
        None,
        Duration::from_secs(120),
    );
    assert!(
        writes.stdout.contains("\"errors\":0"),
        "{}{}",
        writes.stdout,
        writes.stderr
    );
    cluster.members[behind].launch();
    let ep = cluster.members[behind].endpoint();
    let revision = |endpoint: &str| {
        let out = etcdctl(endpoint, &args(&["endpoint", "status", "-w", "json"]), None);
        serde_json::from_str::<serde_json::Value>(&out.stdout).map_or(0, |v| {
            v[0]["Status"]["header"]["revision"].as_u64().unwrap_or(0)
        })
    };
    let written = revision(&cluster.members[leader].endpoint());
    assert!(written > 3000, "{written}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while revision(&ep) < written {
        assert!(
            Instant::now() < deadline,
            "the lagging member did not catch up: at revision {} of {written}",
            revision(&ep)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(
        !cluster.members[behind]
            .log()
            .contains("applied a snapshot from the leader"),
        "caught up by snapshot, not from the log"
    );
    assert_same_history_everywhere(&cluster, 3);
    // Every member restarts on a log longer than its memory tail and keeps serving writes.
    for m in &mut cluster.members {
        m.kill9();
        m.launch();
    }
    for m in &cluster.members {
        m.wait_healthy(Duration::from_secs(20));
    }
    assert_eq!(
        etcdctl(
            &cluster.endpoints(),
            &args(&["put", "after", "restart"]),
            None
        )
        .code,
        0
    );
    for m in &cluster.members {
        assert!(wait_for_value(
            &m.endpoint(),
            "after",
            "restart",
            Duration::from_secs(10)
        ));
    }
    assert_same_history_everywhere(&cluster, 3);
}

#[test]
fn two_members_lose_quorum_with_one_down_and_recover_when_it_returns() {
    let mut cluster = OurCluster::start(2);
    cluster.members[1].kill9();
    let survivor = cluster.members[0].endpoint();
    let started = Instant::now();
    let out = etcdctl(
        &survivor,
        &args(&["--command-timeout=3s", "put", "k", "v"]),
        None,
    );
    assert_ne!(out.code, 0, "two members cannot tolerate one failure");
    assert!(started.elapsed() < Duration::from_secs(15));
    cluster.members[1].launch();
    let deadline = Instant::now() + Duration::from_secs(20);
    while etcdctl(
        &cluster.endpoints(),
        &args(&["--command-timeout=2s", "put", "k", "back"]),
        None,
    )
    .code
        != 0
    {
        assert!(
            Instant::now() < deadline,
            "writes did not resume when the member came back"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(wait_for_value(
        &cluster.members[1].endpoint(),
        "k",
        "back",
        Duration::from_secs(10)
    ));
}

#[test]
fn a_member_with_the_wrong_token_is_refused_by_its_peers() {
    let timing = ["--heartbeat-interval", "100", "--election-timeout", "1000"];
    let mut right = support::OurMember::new("m1", &timing);
    let mut wrong_flags = timing.to_vec();
    wrong_flags.extend(["--initial-cluster-token", "some-other-cluster"]);
    let mut wrong = support::OurMember::new("m2", &wrong_flags);
    let initial = format!("m1={},m2={}", right.peer_url(), wrong.peer_url());
    right.initial_cluster = initial.clone();
    wrong.initial_cluster = initial;
    right.launch();
    wrong.launch();
    let deadline = Instant::now() + Duration::from_secs(15);
    while !(right.log().contains("another cluster") && wrong.log().contains("another cluster")) {
        assert!(
            Instant::now() < deadline,
            "no clear error about the token:\n{}\n{}",
            right.log(),
            wrong.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // Without its peer, the two-member cluster has no quorum: nothing is written.
    let out = etcdctl(
        &right.endpoint(),
        &args(&["--command-timeout=2s", "put", "k", "v"]),
        None,
    );
    assert_ne!(out.code, 0);
}
