//! `etcdlab lab`: one command brings up a working cluster with its control API; killing the
//! leader through the API leads to a new election; the killed member comes back; stopping the
//! lab stops every member.

mod support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::{Process, etcdctl, etcdlab_bin, free_port, http};

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
            .any(|m| m["name"] == leader.as_str() && m["role"] == "down")
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
    assert_eq!(status, 409, "{body}");
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
            .any(|m| m["name"] == name.as_str() && m["role"] == "paused")
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

    let (_, page) = http("GET", &addr, "/").unwrap();
    assert_eq!(page.matches("data-role=\"leader\"").count(), 1, "{page}");

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
