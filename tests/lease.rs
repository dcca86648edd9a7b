//! Leases across processes: the real etcdctl 3.4.23 against a 3-member cluster of ours for the
//! lease part of the reference transcript (through a follower, so keep-alives and TTLs are
//! forwarded to the leader), `etcdlab ctl lease` against the real etcdctl, expiry deleting a
//! key on every member at one revision (watchers see the DELETE events), a lease that outlives
//! its leader's SIGKILL, a streaming keep-alive through a follower, a frozen lab that keeps its
//! leases, and a missing lease answered with real etcd's errors.

mod support;

use std::time::{Duration, Instant};

use support::transcript::transcript_steps;
use support::{
    OurCluster, OurMember, RealEtcd, etcdctl, etcdlab_bin, normalize, run, visible_output,
    without_logs,
};

fn args(words: &[&str]) -> Vec<String> {
    words.iter().map(|s| s.to_string()).collect()
}

/// The lease id in a `lease <id> granted with TTL(...)` line.
fn granted_id(output: &str) -> Option<String> {
    let rest = output.strip_prefix("lease ")?;
    let (id, tail) = rest.split_once(' ')?;
    tail.starts_with("granted with TTL(")
        .then(|| id.to_string())
}

/// Grants a lease through `endpoint`; its id in hex.
fn grant(endpoint: &str, ttl: u64) -> String {
    let out = etcdctl(endpoint, &args(&["lease", "grant", &ttl.to_string()]), None);
    granted_id(&out.stdout).unwrap_or_else(|| panic!("no lease granted: {}", visible_output(&out)))
}

/// What one member holds for `key` itself (a serializable read): its revision and whether the
/// key is there.
fn local_view(endpoint: &str, key: &str) -> (i64, bool) {
    let out = etcdctl(
        endpoint,
        &args(&["get", key, "--consistency=s", "-w", "json"]),
        None,
    );
    let json: serde_json::Value = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|_| panic!("get on {endpoint}: {}", visible_output(&out)));
    let revision = json["header"]["revision"].as_i64().unwrap_or_default();
    (revision, json["kvs"].is_array())
}

/// Waits until no running member of `endpoints` holds `key`; returns the revision each reports.
fn wait_until_gone(endpoints: &[String], key: &str, timeout: Duration) -> Vec<i64> {
    let deadline = Instant::now() + timeout;
    loop {
        let views: Vec<(i64, bool)> = endpoints.iter().map(|e| local_view(e, key)).collect();
        if views.iter().all(|(_, present)| !present) {
            return views.into_iter().map(|(rev, _)| rev).collect();
        }
        assert!(
            Instant::now() < deadline,
            "{key} still held after {timeout:?}: {views:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The revision of a put through etcdctl (`put -w json`).
fn put(endpoint: &str, words: &[&str]) -> i64 {
    let mut all = vec!["put"];
    all.extend_from_slice(words);
    all.extend_from_slice(&["-w", "json"]);
    let out = etcdctl(endpoint, &args(&all), None);
    let json: serde_json::Value = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|_| panic!("put failed: {}", visible_output(&out)));
    json["header"]["revision"].as_i64().unwrap()
}

/// Masks what differs between two runs besides ids: the remaining TTL (a time) and the Raft
/// term (how many elections the cluster needed to start, nothing to do with leases).
fn mask_times(text: &str) -> String {
    let rules = [
        (r"remaining\(\d+s\)", "remaining(Ns)"),
        (r#""ttl":\d+"#, r#""ttl":N"#),
        (r#""TTL" : \d+"#, r#""TTL" : N"#),
        (r#""raft_term":\d+"#, r#""raft_term":N"#),
    ];
    support::replace_all(&normalize(text), &rules)
}

#[test]
fn lease_commands_match_the_reference_transcript_through_a_follower() {
    let cluster = OurCluster::start(3);
    let leader = cluster.leader(Duration::from_secs(10)).expect("a leader");
    let follower = cluster.members[(leader + 1) % 3].endpoint();
    let steps = transcript_steps("lease grant", "watch");
    assert!(
        steps.len() >= 11,
        "the transcript's lease part has {} steps",
        steps.len()
    );
    // The reference recorded these at revision 9 (after the KV part): get there too, so
    // revisions compare as they are.
    for i in 0..8 {
        put(&follower, &[&format!("filler{i}"), "x"]);
    }
    let mut failures = Vec::new();
    // The lease id the reference granted, and ours.
    let mut ids: Option<(String, String)> = None;
    for step in &steps {
        let command: Vec<String> = step
            .args
            .iter()
            .map(|a| match &ids {
                Some((theirs, ours)) => a.replace(theirs.as_str(), ours),
                None => a.clone(),
            })
            .collect();
        let out = etcdctl(&follower, &command, None);
        if let (Some(theirs), Some(ours)) = (granted_id(&step.output), granted_id(&out.stdout)) {
            ids = Some((theirs, ours));
        }
        let got = format!("{}{}", out.stdout, without_logs(&out.stderr));
        let expected = without_logs(&step.output);
        if mask_times(&got) != mask_times(&expected) || out.code != step.exit {
            failures.push(format!(
                "$ etcdctl {}\n--- expected (exit {})\n{}--- got (exit {})\n{}",
                step.line, step.exit, expected, out.code, got
            ));
        }
    }
    assert!(ids.is_some(), "the transcript's lease part grants a lease");
    assert!(
        failures.is_empty(),
        "{} of {} commands differ:\n{}",
        failures.len(),
        steps.len(),
        failures.join("\n")
    );
}

#[test]
fn etcdlab_ctl_prints_what_etcdctl_prints_for_every_lease_command() {
    let member = OurMember::start_single("single");
    let ep = member.endpoint();
    let id = grant(&ep, 100);
    put(&ep, &["a", "1", &format!("--lease={id}")]);
    put(&ep, &["b", "2", &format!("--lease={id}")]);
    let revoked = grant(&ep, 100);
    etcdctl(&ep, &args(&["lease", "revoke", &revoked]), None);
    let commands: Vec<Vec<String>> = [
        "lease grant 100",
        "lease grant 100 -w json",
        "lease grant 100 -w fields",
        "lease grant 100 -w table",
        "lease grant 9000000001",
        "lease timetolive ID",
        "lease timetolive ID --keys",
        "lease timetolive ID --keys -w json",
        "lease timetolive ID -w json",
        "lease timetolive ID --keys -w fields",
        "lease timetolive REVOKED",
        "lease timetolive REVOKED -w fields",
        "lease keep-alive --once ID",
        "lease keep-alive --once ID -w json",
        "lease keep-alive --once ID -w fields",
        "lease keep-alive --once REVOKED",
        "lease keep-alive REVOKED",
        "lease list -w json",
        "lease list -w fields",
        "lease revoke REVOKED",
        "lease revoke zz",
        "lease revoke",
        "lease grant",
        "lease grant abc",
        "lease timetolive",
        "lease keep-alive",
        "lease --help",
        "lease timetolive --help",
        "lease keep-alive --help",
        "put k v --lease=REVOKED",
        "lease list",
    ]
    .iter()
    .map(|line| {
        line.replace("REVOKED", &revoked)
            .replace("ID", &id)
            .split(' ')
            .map(String::from)
            .collect()
    })
    .collect();
    // A revoke works once: each client revokes a lease of its own.
    let revokes: Vec<(Vec<String>, Vec<String>)> = ["simple", "json", "fields"]
        .iter()
        .map(|format| {
            let revoke = |id: String| args(&["lease", "revoke", &id, "-w", format]);
            (revoke(grant(&ep, 100)), revoke(grant(&ep, 100)))
        })
        .collect();
    let pairs = commands
        .iter()
        .map(|c| (c.clone(), c.clone()))
        .chain(revokes);
    let mut failures = Vec::new();
    for (command, our_command) in pairs {
        let theirs = etcdctl(&ep, &command, None);
        let mut all = args(&["ctl", "--endpoints", &ep]);
        all.extend_from_slice(&our_command);
        let ours = run(&etcdlab_bin(), &all, &[], None, Duration::from_secs(20));
        // Grants make new ids, and time passes between the two runs.
        let (theirs_text, ours_text) = (
            mask_times(&visible_output(&theirs)),
            mask_times(&visible_output(&ours)),
        );
        if theirs_text != ours_text || theirs.code != ours.code {
            failures.push(format!(
                "$ etcdctl {}\n--- etcdctl (exit {})\n{theirs_text}--- etcdlab ctl (exit {})\n{ours_text}",
                command.join(" "),
                theirs.code,
                ours.code
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn an_expired_lease_deletes_its_keys_on_every_member_at_one_revision() {
    let cluster = OurCluster::start(3);
    let endpoints: Vec<String> = cluster.members.iter().map(|m| m.endpoint()).collect();
    let asked = Instant::now();
    let id = grant(&endpoints[1], 3);
    let first = put(&endpoints[0], &["k1", "v", &format!("--lease={id}")]);
    let second = put(&endpoints[2], &["k2", "v", &format!("--lease={id}")]);
    put(&endpoints[0], &["stays", "v"]);
    assert_eq!(second, first + 1);
    let revisions = wait_until_gone(&endpoints, "k1", Duration::from_secs(20));
    assert!(
        asked.elapsed() >= Duration::from_secs(3),
        "the lease expired after {:?}, before its TTL",
        asked.elapsed()
    );
    // One revoke entry: both keys deleted in the one revision after the last put, everywhere.
    assert_eq!(revisions, vec![second + 2; 3], "revisions after the expiry");
    for ep in &endpoints {
        assert_eq!(local_view(ep, "k2"), (second + 2, false));
        assert_eq!(local_view(ep, "stays"), (second + 2, true));
        let history = etcdctl(
            ep,
            &args(&["get", "k1", "--rev", &second.to_string()]),
            None,
        );
        assert_eq!(history.stdout, "k1\nv\n", "history keeps the leased key");
    }
    let listed = etcdctl(&endpoints[0], &args(&["lease", "list"]), None);
    assert_eq!(listed.stdout, "found 0 leases\n");
    // Watchers on every member see the expiry as DELETE events, both at that one revision.
    for ep in &endpoints {
        assert_eq!(
            deletions_watched(ep, "k", first),
            vec![
                ("k1".to_string(), second + 2),
                ("k2".to_string(), second + 2)
            ],
            "DELETE events watched on {ep}"
        );
    }
}

/// The DELETE events (key, revision) a watch of the keys under `prefix` replays from `rev`.
fn deletions_watched(endpoint: &str, prefix: &str, rev: i64) -> Vec<(String, i64)> {
    use base64::Engine;
    let mut all = args(&["--endpoints", endpoint, "watch", prefix, "--prefix"]);
    all.extend(args(&["--rev", &rev.to_string(), "-w", "json"]));
    // A watch never ends by itself: the replay is printed at once, then it is stopped.
    let out = run(
        &support::real_etcdctl(),
        &all,
        &[("ETCDCTL_API", "3")],
        None,
        Duration::from_secs(3),
    );
    let mut deletions = Vec::new();
    for line in out.stdout.lines() {
        let response: serde_json::Value = serde_json::from_str(line).unwrap_or_default();
        for event in response["Events"].as_array().into_iter().flatten() {
            if event["type"] == 1 {
                let key = base64::engine::general_purpose::STANDARD
                    .decode(event["kv"]["key"].as_str().unwrap_or_default())
                    .unwrap_or_default();
                let revision = event["kv"]["mod_revision"].as_i64().unwrap_or_default();
                deletions.push((String::from_utf8_lossy(&key).into_owned(), revision));
            }
        }
    }
    deletions
}

#[test]
fn a_lease_outlives_its_leaders_kill_then_expires_on_every_member() {
    const TTL: u64 = 5;
    let mut cluster = OurCluster::start(3);
    let leader = cluster.leader(Duration::from_secs(10)).expect("a leader");
    let follower = (leader + 1) % 3;
    let asked = Instant::now();
    let id = grant(&cluster.members[follower].endpoint(), TTL);
    let put_revision = put(
        &cluster.members[follower].endpoint(),
        &["leased", "v", &format!("--lease={id}")],
    );
    std::thread::sleep(Duration::from_secs(2).saturating_sub(asked.elapsed()));
    cluster.members[leader].kill9();
    cluster
        .leader(Duration::from_secs(15))
        .expect("a new leader");
    let survivors: Vec<String> = cluster
        .members
        .iter()
        .filter(|m| m.process.is_some())
        .map(|m| m.endpoint())
        .collect();
    // Past the deadline the old leader kept (TTL after the grant): the new leader gave the lease
    // its full TTL again when it took over, so the key is still everywhere.
    std::thread::sleep(
        (Duration::from_secs(TTL) + Duration::from_millis(500)).saturating_sub(asked.elapsed()),
    );
    for ep in &survivors {
        assert_eq!(
            local_view(ep, "leased"),
            (put_revision, true),
            "{ep} lost the key before the lease could expire"
        );
    }
    let revisions = wait_until_gone(&survivors, "leased", Duration::from_secs(30));
    assert_eq!(revisions, vec![put_revision + 1; 2]);
    // The killed member comes back and applies the same revoke.
    cluster.members[leader].launch();
    let back = cluster.members[leader].endpoint();
    cluster.members[leader].wait_healthy(Duration::from_secs(30));
    assert_eq!(
        wait_until_gone(
            std::slice::from_ref(&back),
            "leased",
            Duration::from_secs(20)
        ),
        vec![put_revision + 1]
    );
}

#[test]
fn a_missing_or_revoked_lease_gets_real_etcds_errors_and_changes_nothing() {
    let ours = OurMember::start_single("single");
    let real = RealEtcd::start();
    let revoked_id = |ep: &str| {
        let id = grant(ep, 60);
        etcdctl(ep, &args(&["lease", "revoke", &id]), None);
        id
    };
    let cases = |missing: &str| -> Vec<Vec<String>> {
        [
            "lease revoke M",
            "lease keep-alive --once M",
            "lease keep-alive M",
            "lease timetolive M",
            "lease timetolive M --keys -w json",
            "put k v --lease=M",
            "lease grant 9000000001",
        ]
        .iter()
        .map(|c| {
            c.replace('M', missing)
                .split(' ')
                .map(String::from)
                .collect()
        })
        .collect()
    };
    // No compares, the put as the success branch, no failure branch.
    let txn_with_missing_lease = |missing: &str| format!("\nput k v --lease={missing}\n\n\n");
    let mut failures = Vec::new();
    for (name, missing) in [
        ("never granted", "1234".to_string()),
        ("revoked", String::new()),
    ] {
        let (our_missing, real_missing) = if missing.is_empty() {
            (revoked_id(&ours.endpoint()), revoked_id(&real.endpoint()))
        } else {
            (missing.clone(), missing)
        };
        let before = local_view(&ours.endpoint(), "k").0;
        for (our_case, real_case) in cases(&our_missing).iter().zip(cases(&real_missing)) {
            let got = etcdctl(&ours.endpoint(), our_case, None);
            let want = etcdctl(&real.endpoint(), &real_case, None);
            let (got_text, want_text) = (
                mask_times(&visible_output(&got)),
                mask_times(&visible_output(&want)),
            );
            if got_text != want_text || got.code != want.code {
                failures.push(format!(
                    "{name}: $ etcdctl {}\n--- real etcd (exit {})\n{want_text}--- ours (exit {})\n{got_text}",
                    our_case.join(" "),
                    want.code,
                    got.code
                ));
            }
        }
        let got = etcdctl(
            &ours.endpoint(),
            &args(&["txn"]),
            Some(&txn_with_missing_lease(&our_missing)),
        );
        let want = etcdctl(
            &real.endpoint(),
            &args(&["txn"]),
            Some(&txn_with_missing_lease(&real_missing)),
        );
        assert_eq!(
            (got.code, visible_output(&got)),
            (want.code, visible_output(&want)),
            "a txn putting with a {name} lease"
        );
        assert_eq!(want.code, 1, "real etcd refuses the txn");
        assert_eq!(
            local_view(&ours.endpoint(), "k"),
            (before, false),
            "a refused request with a {name} lease changed the key space"
        );
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn a_streaming_keep_alive_through_a_follower_keeps_a_lease_past_its_ttl() {
    let cluster = OurCluster::start(3);
    let leader = cluster.leader(Duration::from_secs(10)).expect("a leader");
    let follower = cluster.members[(leader + 1) % 3].endpoint();
    // etcd's shortest TTL for these timings: 2 s.
    let id = grant(&follower, 1);
    put(&follower, &["kept", "v", &format!("--lease={id}")]);
    // The real etcdctl renews every third of the TTL on one stream to the follower, which
    // forwards each keep-alive to the leader; stopped after three TTLs.
    let all = args(&["--endpoints", &follower, "lease", "keep-alive", &id]);
    let kept = run(
        &support::real_etcdctl(),
        &all,
        &[("ETCDCTL_API", "3")],
        None,
        Duration::from_secs(6),
    );
    let renewals = kept
        .stdout
        .lines()
        .filter(|l| *l == format!("lease {id} keepalived with TTL(2)"))
        .count();
    assert!(
        renewals >= 4,
        "keep-alive printed:\n{}",
        visible_output(&kept)
    );
    assert!(local_view(&follower, "kept").1, "the key outlived 3 TTLs");
    // Left alone, it expires.
    wait_until_gone(&[follower], "kept", Duration::from_secs(15));
}

#[test]
fn a_frozen_lab_keeps_its_leases_until_it_thaws() {
    let lab = support::Lab::start(3, &[]);
    let endpoints: Vec<String> = lab
        .members()
        .iter()
        .filter_map(|m| m["client_urls"][0].as_str())
        .map(|url| url.trim_start_matches("http://").to_string())
        .collect();
    let id = grant(&endpoints[0], 2);
    put(&endpoints[0], &["frozen", "v", &format!("--lease={id}")]);
    let (status, answer) = lab.post("/api/freeze", "{}");
    assert_eq!(status, 200, "{answer}");
    // Frozen twice as long as the TTL: time stood still for the lease too.
    std::thread::sleep(Duration::from_secs(4));
    let (status, answer) = lab.post("/api/thaw", "{}");
    assert_eq!(status, 200, "{answer}");
    for ep in &endpoints {
        assert!(local_view(ep, "frozen").1, "{ep} lost the key to a freeze");
    }
    wait_until_gone(&endpoints, "frozen", Duration::from_secs(15));
}
