//! `etcdlab lab`: one command brings up a working cluster with its control API; killing the
//! leader through the API leads to a new election; the killed member comes back; stopping the
//! lab stops every member. The lab's merged event stream shows an election, a write's path
//! through Raft, a partitioned leader's lost write, and nothing at all while frozen.

mod support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::{Lab, Process, etcdctl, etcdlab_bin, free_port, http};

fn cluster(addr: &str) -> Vec<serde_json::Value> {
    let Ok((200, body)) = http("GET", addr, "/api/cluster") else {
        return Vec::new();
    };
    let parsed: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
    parsed["members"].as_array().cloned().unwrap_or_default()
}

/// Waits for exactly one leader among the members; returns its name.
fn wait_leader(addr: &str, not: Option<&str>, timeout: Duration) -> Option<String> {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        let leaders: Vec<String> = cluster(addr)
            .iter()
            .filter(|m| m["role"] == "leader")
            .filter_map(|m| m["name"].as_str().map(String::from))
            .collect();
        if leaders.len() == 1 && Some(leaders[0].as_str()) != not {
            return Some(leaders[0].clone());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    None
}

#[test]
fn the_lab_runs_a_cluster_that_survives_a_killed_leader() {
    let dir = tempfile::tempdir().unwrap();
    let addr = format!("127.0.0.1:{}", free_port());
    // Base ports far from the defaults, chosen free now (member N uses base + 10000·(N-1)).
    let free = |p: u16| std::net::TcpListener::bind(("127.0.0.1", p)).is_ok();
    let start = 21000 + (std::process::id() % 997) as u16 * 4;
    let base = (start..25000)
        .step_by(2)
        .find(|p| {
            [*p, p + 1, p + 10000, p + 10001, p + 20000, p + 20001]
                .into_iter()
                .all(free)
        })
        .expect("free base port");
    let child = Command::new(etcdlab_bin())
        .args([
            "lab",
            "--size",
            "3",
            "--data-dir",
            &dir.path().to_string_lossy(),
            "--ui-addr",
            &addr,
        ])
        .args([
            "--base-port",
            &base.to_string(),
            "--heartbeat-interval",
            "100",
            "--election-timeout",
            "1000",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lab = Process { child };

    let leader = wait_leader(&addr, None, Duration::from_secs(30)).expect("a leader");
    let members = cluster(&addr);
    assert_eq!(members.len(), 3);
    let endpoints: Vec<String> = members
        .iter()
        .map(|m| m["endpoint"].as_str().unwrap().to_string())
        .collect();
    let all = endpoints.join(",");
    assert_eq!(
        etcdctl(&all, &["put".into(), "key1".into(), "value1".into()], None).stdout,
        "OK\n"
    );

    let (status, _) = http("POST", &addr, &format!("/api/members/{leader}/kill")).unwrap();
    assert_eq!(status, 200);
    let new_leader =
        wait_leader(&addr, Some(&leader), Duration::from_secs(20)).expect("a new leader");
    assert_ne!(new_leader, leader);
    assert!(
        cluster(&addr)
            .iter()
            .any(|m| m["name"] == leader.as_str() && m["state"] == "down" && m["role"].is_null())
    );
    assert_eq!(
        etcdctl(
            &all,
            &["get".into(), "key1".into(), "--print-value-only".into()],
            None
        )
        .stdout,
        "value1\n"
    );

    let (status, _) = http("POST", &addr, &format!("/api/members/{leader}/restart")).unwrap();
    assert_eq!(status, 200);
    let (status, body) = http("POST", &addr, "/api/members/nobody/kill").unwrap();
    assert_eq!(status, 400, "{body}");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !cluster(&addr)
        .iter()
        .all(|m| m["role"] == "leader" || m["role"] == "follower")
    {
        assert!(
            Instant::now() < deadline,
            "the restarted member did not rejoin"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // Pause a follower from another terminal; the others keep serving writes. Once resumed, a
    // linearizable read on it returns the newest value, never the one it had when frozen.
    let members = cluster(&addr);
    let follower = members.iter().find(|m| m["role"] == "follower").unwrap();
    let (name, follower_ep) = (
        follower["name"].as_str().unwrap().to_string(),
        follower["endpoint"].as_str().unwrap().to_string(),
    );
    let lab_cli = |verb: &str| {
        support::run(
            &etcdlab_bin(),
            &[
                "lab".into(),
                "--ui-addr".into(),
                addr.clone(),
                verb.into(),
                name.clone(),
            ],
            &[],
            None,
            Duration::from_secs(20),
        )
    };
    let paused = lab_cli("pause");
    assert_eq!(paused.code, 0, "{}", paused.stderr);
    assert!(
        cluster(&addr)
            .iter()
            .any(|m| m["name"] == name.as_str() && m["state"] == "paused")
    );
    let others: String = endpoints
        .iter()
        .filter(|e| **e != follower_ep)
        .cloned()
        .collect::<Vec<_>>()
        .join(",");
    // A write may meet a leader election (the restarted member rejoining); clients retry.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let put = etcdctl(
            &others,
            &["put".into(), "key1".into(), "while-paused".into()],
            None,
        );
        if put.stdout == "OK\n" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no write while one of three is paused: {}",
            put.stderr
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(lab_cli("resume").code, 0);
    let fresh = etcdctl(
        &follower_ep,
        &["get".into(), "key1".into(), "--print-value-only".into()],
        None,
    );
    assert_eq!(
        fresh.stdout, "while-paused\n",
        "stale read from a resumed member: {}",
        fresh.stderr
    );

    let (_, page) = http("GET", &addr, "/status").unwrap();
    assert_eq!(page.matches("data-role=\"leader\"").count(), 1, "{page}");
    // The visualizer is served at the lab's address, wasm included.
    let (status, index) = http("GET", &addr, "/").unwrap();
    assert_eq!(status, 200);
    assert!(index.contains("etcdlab-viz_bg.wasm"), "{index}");

    // Stopping the lab stops its members.
    let pids: Vec<i32> = cluster(&addr)
        .iter()
        .filter_map(|m| m["pid"].as_i64())
        .map(|p| p as i32)
        .collect();
    assert_eq!(pids.len(), 3);
    // SAFETY: signalling our own child.
    unsafe { libc::kill(lab.child.id() as i32, libc::SIGTERM) };
    let deadline = Instant::now() + Duration::from_secs(15);
    while lab.child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "the lab did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
    for pid in pids {
        // SAFETY: signal 0 only checks whether the process exists.
        let alive = unsafe { libc::kill(pid, 0) } == 0
            && std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .is_ok_and(|s| !s.contains(") Z "));
        assert!(!alive, "member process {pid} outlived the lab");
    }
}

/// The events of `kind` on member `node`.
fn on<'a>(events: &'a [Value], node: &'a str, kind: &'a str) -> impl Iterator<Item = &'a Value> {
    events
        .iter()
        .filter(move |e| e["node"] == node && e["kind"] == kind)
}

fn num(event: &Value, key: &str) -> u64 {
    event[key].as_u64().unwrap_or(0)
}

/// Each member's own events (not the lab's) come in their `seq` order, one by one.
fn assert_member_order(events: &[Value]) {
    let mut last: std::collections::HashMap<String, u64> = Default::default();
    for e in events
        .iter()
        .filter(|e| e["source"].is_null() && e["seq"].is_u64())
    {
        let node = e["node"].as_str().unwrap().to_string();
        let seq = num(e, "seq");
        if let Some(prev) = last.get(&node) {
            assert!(seq > *prev, "{node}: seq {seq} after {prev}");
        }
        last.insert(node, seq);
    }
}

/// A member's name from its hex id, as /api/cluster says.
fn id_of(lab: &Lab, name: &str) -> String {
    lab.member(name)["id"].as_str().unwrap().to_string()
}

fn leader_of(lab: &Lab, among: &[String], above_term: u64) -> Option<String> {
    lab.members()
        .iter()
        .find(|m| {
            m["role"] == "leader"
                && num(m, "term") > above_term
                && among.iter().any(|n| m["name"] == n.as_str())
        })
        .map(|m| m["name"].as_str().unwrap().to_string())
}

#[test]
fn the_event_stream_shows_an_election_a_write_and_nothing_while_frozen() {
    let lab = Lab::start(
        3,
        &["--heartbeat-interval", "100", "--election-timeout", "1000"],
    );
    let members = lab.members();
    for m in &members {
        assert_eq!(m["state"], "up", "{m}");
        assert!(m["id"].as_str().is_some_and(|id| !id.is_empty()), "{m}");
        assert!(
            m["client_urls"][0]
                .as_str()
                .unwrap()
                .starts_with("http://127.0.0.1:")
        );
        assert!(
            m["peer_urls"][0]
                .as_str()
                .unwrap()
                .starts_with("http://127.0.0.1:")
        );
        assert!(m["pid"].is_u64() && m["commit_index"].is_u64() && m["applied_index"].is_u64());
    }
    let old = members.iter().find(|m| m["role"] == "leader").unwrap();
    let (old_leader, old_term) = (old["name"].as_str().unwrap().to_string(), num(old, "term"));
    let names: Vec<String> = members
        .iter()
        .map(|m| m["name"].as_str().unwrap().to_string())
        .collect();
    let others: Vec<String> = names
        .iter()
        .filter(|n| **n != old_leader)
        .cloned()
        .collect();
    let started = lab.events(0);
    for name in &names {
        let s = on(&started, name, "member_started")
            .next()
            .expect("member_started");
        assert_eq!(
            (num(s, "tick_ms"), num(s, "election_ticks")),
            (100, 10),
            "{s}"
        );
    }

    // Kill the leader: another member times out, asks for votes, gets them and leads.
    let before_kill = lab.last_cursor();
    let (status, answer) = lab.post("/api/faults", &json!({"kill": old_leader}).to_string());
    assert_eq!(status, 200, "{answer}");
    let deadline = Instant::now() + Duration::from_secs(20);
    let new_leader = loop {
        if let Some(l) = leader_of(&lab, &others, old_term) {
            break l;
        }
        assert!(Instant::now() < deadline, "no new leader");
        std::thread::sleep(Duration::from_millis(100));
    };
    let events = lab.wait_events(before_kill, Duration::from_secs(10), "election", |ev| {
        on(ev, &new_leader, "role_changed")
            .any(|e| e["role"] == "leader" && num(e, "term") > old_term)
    });
    assert!(
        on(&events, &old_leader, "member_stopped").any(|e| e["source"] == "lab"),
        "the lab reports the kill"
    );
    assert!(
        on(&events, &new_leader, "election_timeout")
            .next()
            .is_some()
    );
    assert!(
        on(&events, &new_leader, "vote_requested").any(|e| e["pre_vote"] == false),
        "a real vote request"
    );
    let new_id = id_of(&lab, &new_leader);
    assert!(
        events.iter().any(|e| e["kind"] == "vote_granted"
            && e["to"] == new_id.as_str()
            && e["pre_vote"] == false),
        "a vote granted to {new_leader}"
    );
    assert_member_order(&events);

    // One put: its path through Raft, in causal order on each member.
    let follower = others.iter().find(|n| **n != new_leader).unwrap().clone();
    let follower_id = id_of(&lab, &follower);
    let before_put = lab.last_cursor();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (status, answer) = lab.post(
            "/api/kv",
            r#"{"op":"put","key":"lab-key","value":"lab-value"}"#,
        );
        if status == 200 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no put through /api/kv: {answer}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let applied = |ev: &[Value], node: &str| {
        on(ev, node, "entry_applied").any(|e| e["request"] == "put lab-key=lab-value")
    };
    let events = lab.wait_events(
        before_put,
        Duration::from_secs(10),
        "the put applied",
        |ev| {
            applied(ev, &new_leader)
                && applied(ev, &follower)
                && on(ev, &new_leader, "client_response").next().is_some()
        },
    );
    assert_member_order(&events);
    let seq_of = |e: &Value| num(e, "seq");
    let request = on(&events, &new_leader, "client_request")
        .find(|e| e["request"] == "put lab-key=lab-value")
        .expect("client_request on the leader");
    let entry = on(&events, &new_leader, "entry_applied")
        .find(|e| e["request"] == "put lab-key=lab-value")
        .unwrap();
    let index = num(entry, "index");
    let sent = on(&events, &new_leader, "append_sent")
        .find(|e| {
            e["to"] == follower_id.as_str()
                && num(e, "first_index") <= index
                && index <= num(e, "last_index")
        })
        .expect("append_sent with the entry");
    let received = on(&events, &follower, "append_received")
        .find(|e| e["msg_id"] == sent["msg_id"] && e["from"] == new_id.as_str())
        .expect("the follower receives that append");
    let acked = on(&events, &follower, "append_acked")
        .find(|e| e["to"] == new_id.as_str() && num(e, "match_index") >= index)
        .expect("append_acked");
    assert!(seq_of(acked) > seq_of(received));
    let ack_arrived = on(&events, &new_leader, "message_received")
        .find(|e| e["msg_id"] == acked["msg_id"] && e["from"] == follower_id.as_str())
        .expect("the ack arrives at the leader, paired by msg_id");
    let commit = on(&events, &new_leader, "commit_advanced")
        .find(|e| num(e, "commit") >= index)
        .expect("commit_advanced");
    let response = on(&events, &new_leader, "client_response")
        .find(|e| e["request_id"] == request["request_id"])
        .expect("client_response");
    assert_eq!(response["result"], "ok");
    assert!(seq_of(request) < seq_of(sent));
    assert!(seq_of(sent) < seq_of(ack_arrived));
    assert!(seq_of(ack_arrived) <= seq_of(commit));
    assert!(seq_of(sent) < seq_of(entry));
    assert!(seq_of(commit) < seq_of(entry), "committed before applied");
    assert!(seq_of(entry) < seq_of(response));
    let follower_entry = on(&events, &follower, "entry_applied")
        .find(|e| num(e, "index") == index)
        .unwrap();
    assert!(seq_of(follower_entry) > seq_of(received));
    assert!(
        !applied(&events, &old_leader),
        "a dead member applies nothing"
    );
    let (status, got) = lab.post("/api/kv", r#"{"op":"get","key":"lab-key"}"#);
    assert_eq!(status, 200, "{got}");
    assert_eq!(
        (got["found"].clone(), got["value"].clone()),
        (json!(true), json!("lab-value"))
    );

    // Malformed faults are refused with the reason.
    for (body, reason) in [
        ("{not json", "not JSON"),
        (r#"{"kill":"m1","heal":true}"#, "exactly one"),
        (r#"{"pause":"nobody"}"#, "no member named"),
        (r#"{"explode":true}"#, "unknown fault"),
        (r#"{"link":{"from":"m1","to":"m2","drop":7}}"#, "drop rate"),
        (r#"{"link":{"from":"m1","to":"m1"}}"#, "another"),
    ] {
        let (status, answer) = lab.post("/api/faults", body);
        assert_eq!(status, 400, "{body}: {answer}");
        assert!(
            answer["error"].as_str().unwrap_or("").contains(reason),
            "{body}: {answer}"
        );
    }

    // A link fault goes to its "from" member, which reports it.
    let before_link = lab.last_cursor();
    let link = json!({"link": {"from": new_leader, "to": follower, "delay_ms": 5}});
    let (status, answer) = lab.post("/api/faults", &link.to_string());
    assert_eq!(status, 200, "{answer}");
    lab.wait_events(
        before_link,
        Duration::from_secs(10),
        "fault_changed",
        |ev| on(ev, &new_leader, "fault_changed").next().is_some(),
    );
    let (status, answer) = lab.post("/api/faults", r#"{"heal":true}"#);
    assert_eq!(status, 200, "{answer}");

    // Freeze: no events and no term change, however long it lasts; thaw resumes.
    let (status, answer) = lab.post("/api/freeze", "{}");
    assert_eq!(status, 200, "{answer}");
    std::thread::sleep(Duration::from_millis(300));
    let frozen_at = lab.last_cursor();
    let terms: Vec<(String, u64)> = lab
        .members()
        .iter()
        .filter(|m| m["state"] != "down")
        .map(|m| (m["name"].to_string(), num(m, "term")))
        .collect();
    assert!(
        lab.members()
            .iter()
            .filter(|m| m["state"] != "down")
            .all(|m| m["state"] == "paused")
    );
    std::thread::sleep(Duration::from_millis(2500));
    let during: Vec<Value> = lab
        .events(frozen_at)
        .into_iter()
        .filter(|e| e["kind"] != "fault_changed")
        .collect();
    assert!(during.is_empty(), "events while frozen: {during:?}");
    let terms_after: Vec<(String, u64)> = lab
        .members()
        .iter()
        .filter(|m| m["state"] != "down")
        .map(|m| (m["name"].to_string(), num(m, "term")))
        .collect();
    assert_eq!(terms, terms_after);
    let (status, answer) = lab.post("/api/thaw", "{}");
    assert_eq!(status, 200, "{answer}");
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (status, answer) = lab.post("/api/kv", r#"{"op":"put","key":"thawed","value":"yes"}"#);
        if status == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "no put after thaw: {answer}");
        std::thread::sleep(Duration::from_millis(200));
    }
    // The put's answer comes straight from its member; its events reach the lab a moment later.
    lab.wait_events(
        frozen_at,
        Duration::from_secs(10),
        "entry_applied after the thaw",
        |ev| ev.iter().any(|e| e["kind"] == "entry_applied"),
    );
}

#[test]
fn a_partitioned_leader_loses_its_uncommitted_write() {
    let lab = Lab::start(
        5,
        &["--heartbeat-interval", "100", "--election-timeout", "1000"],
    );
    let members = lab.members();
    let old = members.iter().find(|m| m["role"] == "leader").unwrap();
    let (old_leader, old_term) = (old["name"].as_str().unwrap().to_string(), num(old, "term"));
    let old_endpoint = old["endpoint"].as_str().unwrap().to_string();
    let others: Vec<String> = members
        .iter()
        .map(|m| m["name"].as_str().unwrap().to_string())
        .filter(|n| *n != old_leader)
        .collect();
    let before = lab.last_cursor();
    let (status, answer) = lab.post(
        "/api/faults",
        &json!({"partition": [[old_leader.clone()], others.clone()]}).to_string(),
    );
    assert_eq!(status, 200, "{answer}");
    // The old leader still takes a write, but cannot commit it: the client times out.
    let lost = etcdctl(
        &old_endpoint,
        &[
            "--command-timeout=2s".into(),
            "put".into(),
            "lost".into(),
            "old".into(),
        ],
        None,
    );
    assert_ne!(
        lost.code, 0,
        "a minority leader committed a write: {}",
        lost.stdout
    );

    let deadline = Instant::now() + Duration::from_secs(20);
    let new_leader = loop {
        if let Some(l) = leader_of(&lab, &others, old_term) {
            break l;
        }
        assert!(Instant::now() < deadline, "the majority elected no leader");
        std::thread::sleep(Duration::from_millis(100));
    };
    let new_endpoint = lab.member(&new_leader)["endpoint"]
        .as_str()
        .unwrap()
        .to_string();
    let kept = etcdctl(
        &new_endpoint,
        &["put".into(), "kept".into(), "new".into()],
        None,
    );
    assert_eq!(kept.stdout, "OK\n", "{}", kept.stderr);

    // Restarted while partitioned, the old leader is put back behind the partition.
    let (status, answer) = lab.post("/api/faults", &json!({"kill": old_leader}).to_string());
    assert_eq!(status, 200, "{answer}");
    let (status, answer) = lab.post("/api/faults", &json!({"restart": old_leader}).to_string());
    assert_eq!(status, 200, "{answer}");
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let faults = support::http_with_body("POST", &old_endpoint, "/debug/faults", "{}")
            .ok()
            .and_then(|(_, body)| serde_json::from_str::<Value>(&body).ok())
            .unwrap_or_default();
        if faults["partition"].as_array().is_some_and(|p| p.len() == 2) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the restarted member is not partitioned: {faults}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    let healed_at = lab.last_cursor();
    let (status, answer) = lab.post("/api/faults", r#"{"heal":true}"#);
    assert_eq!(status, 200, "{answer}");
    let new_id = id_of(&lab, &new_leader);
    let events = lab.wait_events(
        healed_at,
        Duration::from_secs(20),
        "the old leader rejoining",
        |ev| {
            on(ev, &old_leader, "append_received").any(|e| e["from"] == new_id.as_str())
                && on(ev, &old_leader, "entry_applied").any(|e| e["request"] == "put kept=new")
        },
    );
    assert_member_order(&events);
    let all = lab.events(before);
    assert!(
        on(&all, &old_leader, "client_request").any(|e| e["request"] == "put lost=old"),
        "the old leader took the write"
    );
    assert!(
        on(&all, &old_leader, "message_dropped").any(|e| e["reason"] == "partition"),
        "the partition dropped its appends"
    );
    assert!(
        !all.iter()
            .any(|e| e["kind"] == "entry_applied" && e["request"] == "put lost=old"),
        "the lost write was applied somewhere"
    );
    let all_endpoints = lab
        .members()
        .iter()
        .map(|m| m["endpoint"].as_str().unwrap().to_string())
        .collect::<Vec<_>>();
    for endpoint in &all_endpoints {
        let got = etcdctl(
            endpoint,
            &["get".into(), "lost".into(), "--print-value-only".into()],
            None,
        );
        assert_eq!(got.stdout, "", "{endpoint}: {}", got.stderr);
    }
    let got = etcdctl(
        &old_endpoint,
        &["get".into(), "kept".into(), "--print-value-only".into()],
        None,
    );
    assert_eq!(got.stdout, "new\n", "{}", got.stderr);
}

/// "Make it time out": a follower told to campaign (`{"campaign":"mN"}`, or
/// `etcdlab lab campaign mN`) starts an election at once, as in a leadership transfer (no
/// pre-vote; the peers vote although they still hear from the leader), and wins it: it
/// becomes leader in a higher term.
#[test]
fn a_follower_told_to_campaign_takes_the_lead() {
    let lab = Lab::start(3, &[]);
    let follower_of = |lab: &Lab| {
        let members = lab.members();
        let leader = members.iter().find(|m| m["role"] == "leader").unwrap();
        let follower = members.iter().find(|m| m["role"] == "follower").unwrap();
        (
            follower["name"].as_str().unwrap().to_string(),
            leader["term"].as_u64().unwrap(),
        )
    };
    let took_the_lead = |since: u64, who: &str, term: u64| {
        lab.wait_events(since, Duration::from_secs(5), "a won election", |events| {
            on(events, who, "vote_requested").any(|e| e["pre_vote"] == false)
                && on(events, who, "role_changed")
                    .any(|e| e["role"] == "leader" && e["term"].as_u64() > Some(term))
        })
    };
    let (follower, term) = follower_of(&lab);
    let since = lab.last_cursor();
    let (status, answer) = lab.post("/api/faults", &json!({ "campaign": follower }).to_string());
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["ok"], true, "{answer}");
    took_the_lead(since, &follower, term);

    // The CLI spelling, and its refusal of an unknown member.
    let lab_cli = |args: &[&str]| {
        let mut all: Vec<String> = vec!["lab".into(), "--ui-addr".into(), lab.addr.clone()];
        all.extend(args.iter().map(|a| a.to_string()));
        support::run(&etcdlab_bin(), &all, &[], None, Duration::from_secs(20))
    };
    let out = lab_cli(&["campaign", "nobody"]);
    assert_ne!(out.code, 0);
    assert!(
        out.stderr.contains("no member named \"nobody\""),
        "{}",
        out.stderr
    );
    // Wait until the lab reports the new leader, then make another follower take over.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let (next, term) = loop {
        let members = lab.members();
        if members
            .iter()
            .any(|m| m["role"] == "leader" && m["name"] == follower.as_str())
            && members.iter().filter(|m| m["role"] == "follower").count() == 2
        {
            break follower_of(&lab);
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the lab reports the new leader"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let since = lab.last_cursor();
    let out = lab_cli(&["campaign", &next]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout, format!("{next}: campaigning\n"));
    took_the_lead(since, &next, term);
}
