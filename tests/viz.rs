//! `etcdlab viz --endpoints`: the lab's page and API over a cluster viz did not start. From one
//! endpoint it finds all three members; a put through its API shows up as applied on every
//! member in its merged event stream; a partition through it reaches every member and heal
//! clears it; kill is refused; a member that goes away is marked down and, back, gets a
//! `member_started` of viz's own. Without `--experimental-fault-injection` on the member, the
//! member's refusal is passed on.

mod support;

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::{Lab, OurCluster, OurMember, http, http_with_body};

/// Starts `etcdlab viz` on `endpoints`, as a [`Lab`] (same API), once it answers with
/// `members` members of which one leads, and follows every member's event stream (it says so
/// with a `member_started` of its own).
fn start_viz(endpoints: &str, members: usize) -> Lab {
    let viz = Lab::viz(endpoints, &[]);
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let listed = viz.members();
        let leaders = listed.iter().filter(|m| m["role"] == "leader").count();
        let events = viz.events(0);
        let streaming = listed.iter().all(|m| {
            events.iter().any(|e| {
                e["node"] == m["name"] && e["kind"] == "member_started" && e["source"] == "viz"
            })
        });
        if listed.len() == members && leaders == 1 && streaming {
            return viz;
        }
        assert!(
            Instant::now() < deadline,
            "etcdlab viz did not come up: {listed:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A member's faults in force (its `/debug/faults` read with `{}`).
fn faults_of(endpoint: &str) -> Value {
    let (status, body) = http_with_body("POST", endpoint, "/debug/faults", "{}").unwrap();
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

#[test]
fn viz_watches_and_breaks_a_cluster_it_did_not_start() {
    let mut cluster = OurCluster::start_with(3, &["--experimental-fault-injection"]);
    // One endpoint is enough: the others come from MemberList.
    let viz = start_viz(&cluster.members[1].endpoint(), 3);

    let (status, page) = http("GET", &viz.addr, "/").unwrap();
    assert_eq!(status, 200);
    assert!(page.contains("etcdlab-viz_bg.wasm"), "{page}");

    let listed = viz.members();
    for m in &cluster.members {
        let view = listed
            .iter()
            .find(|v| v["name"] == m.name.as_str())
            .unwrap();
        assert_eq!(view["endpoint"], m.endpoint().as_str(), "{view}");
        assert_eq!(view["state"], "up", "{view}");
        assert!(view["pid"].is_null(), "{view}");
    }
    let events = viz.events(0);
    for m in &cluster.members {
        assert!(
            events.iter().any(|e| e["node"] == m.name.as_str()
                && e["kind"] == "member_started"
                && e["source"] == "viz"
                && e["seq"] == 0),
            "no member_started of viz's own for {}",
            m.name
        );
    }

    // A put through viz's API is applied by every member.
    let since = viz.last_cursor();
    let (status, answer) = viz.post(
        "/api/kv",
        &json!({"op": "put", "key": "viz-key", "value": "v1"}).to_string(),
    );
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["ok"], true, "{answer}");
    viz.wait_events(
        since,
        Duration::from_secs(10),
        "put applied on all",
        |events| {
            cluster.members.iter().all(|m| {
                events.iter().any(|e| {
                    e["node"] == m.name.as_str()
                        && e["kind"] == "entry_applied"
                        && e["request"].as_str().is_some_and(|r| r.contains("viz-key"))
                })
            })
        },
    );
    let (_, answer) = viz.post("/api/kv", r#"{"op":"get","key":"viz-key"}"#);
    assert_eq!(answer["value"], "v1", "{answer}");

    // A partition reaches every member; heal clears it.
    let (status, answer) = viz.post("/api/faults", r#"{"partition":[["m1"],["m2","m3"]]}"#);
    assert_eq!(status, 200, "{answer}");
    for m in &cluster.members {
        let faults = faults_of(&m.endpoint());
        assert_eq!(
            faults["partition"].as_array().map(Vec::len),
            Some(2),
            "{faults}"
        );
    }
    let (status, answer) = viz.post("/api/faults", r#"{"heal":true}"#);
    assert_eq!(status, 200, "{answer}");
    for m in &cluster.members {
        let faults = faults_of(&m.endpoint());
        assert_eq!(faults["partition"], json!([]), "{faults}");
    }

    // Campaign is forwarded too (the member answers with its faults in force).
    let (status, answer) = viz.post("/api/faults", r#"{"campaign":"m1"}"#);
    assert_eq!(status, 200, "{answer}");
    assert!(answer["faults"]["partition"].is_array(), "{answer}");

    // viz did not start the members: it cannot kill or restart them.
    for verb in ["kill", "restart"] {
        let (status, answer) = viz.post("/api/faults", &json!({ verb: "m1" }).to_string());
        assert_eq!(status, 409, "{answer}");
        assert!(
            answer["error"]
                .as_str()
                .is_some_and(|e| e.contains("did not start")),
            "{answer}"
        );
    }
    let (status, answer) = viz.post("/api/faults", r#"{"kill":"nobody"}"#);
    assert_eq!(status, 400, "{answer}");

    // A member that goes away is down; back, it gets a member_started of viz's own (its
    // event numbering starts again at 1).
    let since = viz.last_cursor();
    cluster.members[2].kill9();
    let deadline = Instant::now() + Duration::from_secs(10);
    while viz.member("m3")["state"] != "down" {
        assert!(
            Instant::now() < deadline,
            "m3 not down: {}",
            viz.member("m3")
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    cluster.members[2].launch();
    viz.wait_events(since, Duration::from_secs(15), "m3 back", |events| {
        let stopped = events
            .iter()
            .position(|e| e["node"] == "m3" && e["kind"] == "member_stopped");
        let started = events.iter().rposition(|e| {
            e["node"] == "m3" && e["kind"] == "member_started" && e["source"] == "viz"
        });
        matches!((stopped, started), (Some(s), Some(t)) if s < t)
            && events
                .iter()
                .any(|e| e["node"] == "m3" && e["seq"].as_u64() > Some(0))
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    while viz.member("m3")["state"] != "up" {
        assert!(Instant::now() < deadline, "m3 not up: {}", viz.member("m3"));
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn viz_passes_on_a_member_refusing_faults() {
    let member = OurMember::start_single("solo");
    let viz = start_viz(&member.endpoint(), 1);
    let (status, answer) = viz.post("/api/faults", r#"{"pause":"solo"}"#);
    assert_eq!(status, 409, "{answer}");
    assert!(
        answer["error"]
            .as_str()
            .is_some_and(|e| e.contains("--experimental-fault-injection")),
        "{answer}"
    );
}
