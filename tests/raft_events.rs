//! Each member's Raft event stream (`/debug/raft/events`) and fault endpoint
//! (`/debug/faults`), on a three-member cluster of our binary: one put traced from the client
//! request through append, ack, commit and apply on every member, with sends paired to their
//! receipts by message id; partitions, pauses, delays and a slow disk carried out and
//! reported; faults refused without `--experimental-fault-injection`.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::{OurCluster, OurMember, etcdctl};

fn args(words: &[&str]) -> Vec<String> {
    words.iter().map(|s| s.to_string()).collect()
}

/// The events one member streams, collected by a background reader.
struct EventFollower {
    events: Arc<Mutex<Vec<Value>>>,
    stream: TcpStream,
}

impl EventFollower {
    /// Subscribes to `addr`'s JSON-lines stream and waits until the member reports something.
    fn start(addr: &str) -> EventFollower {
        let mut stream = TcpStream::connect(addr).expect("connect for events");
        write!(
            stream,
            "GET /debug/raft/events?format=jsonl HTTP/1.1\r\nHost: {addr}\r\n\r\n"
        )
        .unwrap();
        let events = Arc::new(Mutex::new(Vec::new()));
        let reader = BufReader::new(stream.try_clone().unwrap());
        let sink = events.clone();
        std::thread::spawn(move || {
            // Chunked framing puts each JSON line on its own line between chunk sizes.
            for line in reader.lines() {
                let Ok(line) = line else { return };
                if let Ok(event @ Value::Object(_)) = serde_json::from_str::<Value>(line.trim()) {
                    sink.lock().unwrap().push(event);
                }
            }
        });
        EventFollower { events, stream }
    }

    fn snapshot(&self) -> Vec<Value> {
        self.events.lock().unwrap().clone()
    }

    /// Waits until `pred` holds for some event; returns it.
    fn wait_for(&self, timeout: Duration, pred: impl Fn(&Value) -> bool) -> Option<Value> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Some(e) = self.snapshot().into_iter().find(|e| pred(e)) {
                return Some(e);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for EventFollower {
    fn drop(&mut self) {
        let _ = self.stream.shutdown(std::net::Shutdown::Both);
    }
}

fn kind(e: &Value) -> &str {
    e["kind"].as_str().unwrap_or_default()
}

/// POSTs a JSON body; returns (status, body).
fn post(addr: &str, path: &str, body: &str) -> (u16, String) {
    support::http_with_body("POST", addr, path, body).expect("HTTP request")
}

fn addr(member: &OurMember) -> String {
    format!("127.0.0.1:{}", member.client_port)
}

fn hex_id(cluster: &OurCluster, i: usize) -> String {
    let out = etcdctl(
        &cluster.members[i].endpoint(),
        &args(&["endpoint", "status", "-w", "json"]),
        None,
    );
    let status: Value = serde_json::from_str(&out.stdout).expect("status json");
    format!(
        "{:x}",
        status[0]["Status"]["header"]["member_id"].as_u64().unwrap()
    )
}

#[test]
fn a_put_is_traced_from_request_through_append_and_commit_to_apply_everywhere() {
    let cluster = OurCluster::start_with(3, &["--experimental-fault-injection"]);
    let leader = cluster.leader(Duration::from_secs(15)).expect("a leader");
    let ids: Vec<String> = (0..3).map(|i| hex_id(&cluster, i)).collect();
    let followers: Vec<EventFollower> = cluster
        .members
        .iter()
        .map(|m| EventFollower::start(&addr(m)))
        .collect();
    // Heartbeats show the subscriptions are live.
    assert!(
        followers[leader]
            .wait_for(Duration::from_secs(5), |e| kind(e) == "heartbeat_sent")
            .is_some(),
        "the leader reports heartbeats"
    );

    let out = etcdctl(
        &cluster.members[leader].endpoint(),
        &args(&["put", "key1", "value1"]),
        None,
    );
    assert_eq!(out.stdout, "OK\n", "{}", out.stderr);
    let applied = |e: &Value| kind(e) == "entry_applied" && e["request"] == "put key1=value1";
    let mut index = 0;
    for (i, f) in followers.iter().enumerate() {
        let e = f
            .wait_for(Duration::from_secs(5), applied)
            .unwrap_or_else(|| panic!("m{} applies the put", i + 1));
        index = e["index"].as_u64().unwrap();
    }

    let on_leader = followers[leader].snapshot();
    let position = |events: &[Value], pred: &dyn Fn(&Value) -> bool| {
        events
            .iter()
            .position(pred)
            .unwrap_or_else(|| panic!("missing event in {events:#?}"))
    };
    let request = position(&on_leader, &|e| {
        kind(e) == "client_request" && e["request"] == "put key1=value1"
    });
    let commit = position(&on_leader, &|e| {
        kind(e) == "commit_advanced" && e["commit"].as_u64() >= Some(index)
    });
    let apply = position(&on_leader, &applied);
    let response = position(&on_leader, &|e| {
        kind(e) == "client_response"
            && e["result"] == "ok"
            && e["request_id"] == on_leader[request]["request_id"]
    });
    assert!(request < commit && commit <= apply && apply < response);

    for follower in (0..3).filter(|i| *i != leader) {
        // The append that carried the entry, received under the same message id...
        let sent = position(&on_leader, &|e| {
            kind(e) == "append_sent"
                && e["to"] == ids[follower]
                && e["first_index"].as_u64() <= Some(index)
                && e["last_index"].as_u64() >= Some(index)
        });
        assert!(request < sent && sent < commit);
        let msg_id = &on_leader[sent]["msg_id"];
        let theirs = followers[follower].snapshot();
        let received = position(&theirs, &|e| {
            kind(e) == "append_received" && &e["msg_id"] == msg_id && e["from"] == ids[leader]
        });
        // ...acknowledged, and the acknowledgement received by the leader.
        let acked = position(&theirs, &|e| {
            kind(e) == "append_acked" && e["match_index"].as_u64() >= Some(index)
        });
        assert!(received < acked);
        let ack_id = theirs[acked]["msg_id"].clone();
        assert!(
            followers[leader]
                .wait_for(Duration::from_secs(2), |e| kind(e) == "message_received"
                    && e["msg_id"] == ack_id
                    && e["from"] == ids[follower]
                    && e["msg_type"] == "MsgAppendResponse")
                .is_some(),
            "the leader reports receiving m{}'s ack",
            follower + 1
        );
    }

    // Each member's stream is in order, stamped with its name and id.
    for (i, f) in followers.iter().enumerate() {
        let events = f.snapshot();
        let unordered = events
            .windows(2)
            .find(|w| w[0]["seq"].as_u64() >= w[1]["seq"].as_u64());
        assert!(unordered.is_none(), "out of order: {unordered:?}");
        assert!(
            events
                .iter()
                .all(|e| e["node"] == format!("m{}", i + 1) && e["id"] == ids[i] && e["v"] == 1)
        );
    }
}

#[test]
fn injected_partitions_pauses_and_delays_act_and_are_reported() {
    let cluster = OurCluster::start_with(3, &["--experimental-fault-injection"]);
    let leader = cluster.leader(Duration::from_secs(15)).expect("a leader");
    let name = |i: usize| format!("m{}", i + 1);
    let others: Vec<usize> = (0..3).filter(|i| *i != leader).collect();
    let watch_leader = EventFollower::start(&addr(&cluster.members[leader]));

    // Cut the leader off: it reports the drops, the others elect a new leader.
    let cut = format!(
        r#"{{"partition":[["{}"],["{}","{}"]]}}"#,
        name(leader),
        name(others[0]),
        name(others[1])
    );
    for m in &cluster.members {
        let (status, body) = post(&addr(m), "/debug/faults", &cut);
        assert_eq!(status, 200, "{body}");
    }
    assert!(
        watch_leader
            .wait_for(Duration::from_secs(5), |e| kind(e) == "message_dropped"
                && e["reason"] == "partition")
            .is_some()
    );
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let out = etcdctl(
            &cluster.members[others[0]].endpoint(),
            &args(&["put", "during", "partition"]),
            None,
        );
        if out.stdout == "OK\n" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the majority elects a leader and takes writes"
        );
    }
    for m in &cluster.members {
        assert_eq!(post(&addr(m), "/debug/faults", r#"{"heal":true}"#).0, 200);
    }
    let caught_up = |i: usize| {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            let out = etcdctl(
                &cluster.members[i].endpoint(),
                &args(&["get", "during", "--print-value-only", "--consistency=s"]),
                None,
            );
            if out.stdout == "partition\n" {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    };
    assert!(
        caught_up(leader),
        "the old leader catches up after the heal"
    );

    // A paused follower keeps its process and its stream but applies nothing until resumed.
    let leader_now = cluster
        .leader(Duration::from_secs(10))
        .expect("one leader after the heal");
    let paused = (0..3).find(|i| *i != leader_now).unwrap();
    let watch_paused = EventFollower::start(&addr(&cluster.members[paused]));
    let (status, body) = post(
        &addr(&cluster.members[paused]),
        "/debug/faults",
        r#"{"pause":true}"#,
    );
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(r#""paused":true"#), "{body}");
    let out = etcdctl(
        &cluster
            .members
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != paused)
            .map(|(_, m)| m.endpoint())
            .collect::<Vec<_>>()
            .join(","),
        &args(&["put", "while", "paused"]),
        None,
    );
    assert_eq!(
        out.stdout, "OK\n",
        "two of three still make a quorum: {}",
        out.stderr
    );
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        !watch_paused
            .snapshot()
            .iter()
            .any(|e| kind(e) == "entry_applied" && e["request"] == "put while=paused"),
        "a paused member applies nothing"
    );
    assert_eq!(
        post(
            &addr(&cluster.members[paused]),
            "/debug/faults",
            r#"{"resume":true}"#
        )
        .0,
        200
    );
    assert!(
        watch_paused
            .wait_for(Duration::from_secs(5), |e| kind(e) == "entry_applied"
                && e["request"] == "put while=paused")
            .is_some(),
        "the resumed member applies what it missed"
    );

    // A delayed link reports each delay.
    let source = leader_now;
    let watch_source = EventFollower::start(&addr(&cluster.members[source]));
    let delay = format!(r#"{{"link":{{"to":"{}","delay_ms":30}}}}"#, name(paused));
    assert_eq!(
        post(&addr(&cluster.members[source]), "/debug/faults", &delay).0,
        200
    );
    assert!(
        watch_source
            .wait_for(Duration::from_secs(5), |e| kind(e) == "message_delayed"
                && e["delay_ms"] == 30)
            .is_some()
    );
}

#[test]
fn faults_need_the_flag_and_a_well_formed_request() {
    let member = OurMember::start_single("solo");
    let (status, body) = post(&addr(&member), "/debug/faults", r#"{"heal":true}"#);
    assert_eq!(status, 403);
    assert!(body.contains("--experimental-fault-injection"), "{body}");
    drop(member);

    let member = OurMember::start_single_with("solo", &["--experimental-fault-injection"]);
    for (body, reason) in [
        ("not json", "not JSON"),
        (r#"{"heal":true,"pause":true}"#, "exactly one fault"),
        (r#"{"partition":[["nobody"]]}"#, "no member named"),
        (r#"{"link":{"to":"solo","drop":2}}"#, "from 0 to 1"),
        (r#"{"explode":true}"#, "unknown fault"),
    ] {
        let (status, answer) = post(&addr(&member), "/debug/faults", body);
        assert_eq!(status, 400, "{body} -> {answer}");
        assert!(answer.contains(reason), "{body} -> {answer}");
    }
    let (status, answer) = post(&addr(&member), "/debug/faults", "{}");
    assert_eq!(status, 200);
    assert!(answer.contains(r#""paused":false"#), "{answer}");

    // A slow disk: every durable write takes at least the injected delay.
    let (status, answer) = post(&addr(&member), "/debug/faults", r#"{"disk_delay_ms":400}"#);
    assert_eq!(status, 200, "{answer}");
    let started = Instant::now();
    let out = etcdctl(&member.endpoint(), &args(&["put", "slow", "disk"]), None);
    assert_eq!(out.stdout, "OK\n", "{}", out.stderr);
    assert!(
        started.elapsed() >= Duration::from_millis(400),
        "a put waits for the slow disk"
    );
    assert_eq!(
        post(&addr(&member), "/debug/faults", r#"{"disk_delay_ms":0}"#).0,
        200
    );
}
