//! What operators and their tools read from a member over plain HTTP: `/health` (true with a
//! leader, false and 503 without one), `/livez`, `/readyz`, `/version`, and `/metrics` as
//! Prometheus text under etcd's metric names, against the same endpoints of real etcd; the
//! same probes (and the Raft events) alone on `--listen-metrics-urls`.

mod support;

use std::time::{Duration, Instant};

use support::{OurCluster, OurMember, RealEtcd, etcdctl, free_port, http};

/// Prometheus text: `# HELP`/`# TYPE` comments and `name{labels} value` samples. Returns the
/// samples by name (labels included), failing on any line of another shape.
fn samples(text: &str) -> Vec<(String, f64)> {
    let mut found = Vec::new();
    for line in text.lines().filter(|l| !l.is_empty()) {
        if let Some(comment) = line.strip_prefix("# ") {
            assert!(
                comment.starts_with("HELP ") || comment.starts_with("TYPE "),
                "{line}"
            );
            continue;
        }
        let (name, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("a sample without a value: {line:?}"));
        let value: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("not a number in {line:?}"));
        let bare = name.split('{').next().unwrap();
        assert!(
            bare.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "{line}"
        );
        found.push((name.to_string(), value));
    }
    found
}

fn sample(text: &str, name: &str) -> f64 {
    samples(text)
        .into_iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("no {name} in\n{text}"))
        .1
}

/// The metrics every dashboard for etcd reads, as names our members must export.
const ESSENTIAL: [&str; 9] = [
    "etcd_server_has_leader",
    "etcd_server_leader_changes_seen_total",
    "etcd_server_proposals_committed_total",
    "etcd_server_proposals_applied_total",
    "etcd_server_proposals_pending",
    "etcd_server_proposals_failed_total",
    "etcd_disk_wal_fsync_duration_seconds_count",
    "etcd_disk_backend_commit_duration_seconds_count",
    "etcd_mvcc_db_total_size_in_bytes",
];

#[test]
fn health_version_and_metrics_read_as_real_etcds() {
    let mut cluster = OurCluster::start(3);
    let real = RealEtcd::start();
    let ours = cluster.members[0].endpoint();
    assert_eq!(
        etcdctl(
            &cluster.endpoints(),
            &["put".into(), "k".into(), "v".into()],
            None
        )
        .code,
        0
    );
    for ep in [ours.as_str(), real.endpoint().as_str()] {
        assert_eq!(
            http("GET", ep, "/health").unwrap(),
            (200, r#"{"health":"true"}"#.into())
        );
        assert_eq!(
            http("GET", ep, "/version").unwrap(),
            (
                200,
                r#"{"etcdserver":"3.4.23","etcdcluster":"3.4.0"}"#.into()
            )
        );
        let (status, text) = http("GET", ep, "/metrics").unwrap();
        assert_eq!(status, 200);
        for name in ESSENTIAL {
            sample(&text, name);
        }
        assert_eq!(sample(&text, "etcd_server_has_leader"), 1.0);
        assert!(sample(&text, "etcd_server_proposals_applied_total") >= 1.0);
    }
    assert_eq!(http("GET", &ours, "/livez").unwrap(), (200, "ok".into()));
    assert_eq!(http("GET", &ours, "/readyz").unwrap(), (200, "ok".into()));

    // Two of three members gone: the last one has no leader, and says so.
    cluster.members[1].kill9();
    cluster.members[2].kill9();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (status, body) = http("GET", &ours, "/health").unwrap();
        if status == 503 {
            assert_eq!(body, r#"{"health":"false"}"#);
            break;
        }
        assert!(Instant::now() < deadline, "still healthy without a quorum");
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(http("GET", &ours, "/readyz").unwrap().0, 503);
    assert_eq!(http("GET", &ours, "/livez").unwrap(), (200, "ok".into()));
}

#[test]
fn metrics_urls_serve_the_probes_metrics_and_events_and_nothing_else() {
    let metrics = format!("127.0.0.1:{}", free_port());
    let member = OurMember::start_single_with(
        "m1",
        &["--listen-metrics-urls", &format!("http://{metrics}")],
    );
    let put = etcdctl(
        &member.endpoint(),
        &["put".into(), "k".into(), "v".into()],
        None,
    );
    assert_eq!(put.code, 0, "{}", put.stderr);
    assert_eq!(
        http("GET", &metrics, "/health").unwrap(),
        (200, r#"{"health":"true"}"#.into())
    );
    assert_eq!(http("GET", &metrics, "/livez").unwrap(), (200, "ok".into()));
    assert_eq!(
        http("GET", &metrics, "/readyz").unwrap(),
        (200, "ok".into())
    );
    let (status, text) = http("GET", &metrics, "/metrics").unwrap();
    assert_eq!(status, 200);
    for name in ESSENTIAL {
        sample(&text, name);
    }
    assert!(sample(&text, "etcd_server_proposals_applied_total") >= 1.0);

    // The Raft events stream there too: a write made now shows up on it.
    let mut events = raft_events(&metrics);
    let put = etcdctl(
        &member.endpoint(),
        &["put".into(), "k".into(), "w".into()],
        None,
    );
    assert_eq!(put.code, 0, "{}", put.stderr);
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut seen = String::new();
    while !seen.contains("\"entry_applied\"") {
        assert!(Instant::now() < deadline, "no entry_applied event:\n{seen}");
        // A read that times out keeps what it read in `seen`.
        match std::io::BufRead::read_line(&mut events, &mut seen) {
            Ok(0) => panic!("the events stream ended:\n{seen}"),
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => panic!("reading the events: {e}"),
        }
    }

    // Not the client API: no /version, no JSON gateway, no gRPC, no faults.
    assert_eq!(http("GET", &metrics, "/version").unwrap().0, 404);
    assert_eq!(http("POST", &metrics, "/v3/kv/range").unwrap().0, 404);
    assert_eq!(http("POST", &metrics, "/debug/faults").unwrap().0, 404);
    let grpc = etcdctl(
        &metrics,
        &["--command-timeout=2s".into(), "get".into(), "k".into()],
        None,
    );
    assert_ne!(grpc.code, 0, "{}", grpc.stdout);
}

/// A subscription to `addr`'s `/debug/raft/events` as JSON lines, past the answer's headers
/// (reads time out after 200 ms).
fn raft_events(addr: &str) -> std::io::BufReader<std::net::TcpStream> {
    use std::io::Write;
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    write!(
        stream,
        "GET /debug/raft/events?format=jsonl HTTP/1.1\r\nHost: {addr}\r\n\r\n"
    )
    .unwrap();
    // The member subscribes before it answers: past the headers, every event from now on comes.
    let mut reader = std::io::BufReader::new(stream);
    let mut head = String::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !head.ends_with("\r\n\r\n") {
        assert!(
            Instant::now() < deadline,
            "no answer to the events request: {head}"
        );
        let _ = std::io::BufRead::read_line(&mut reader, &mut head);
    }
    reader
}

#[test]
fn a_member_runs_from_etcds_yaml_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let (client, peer, metrics) = (free_port(), free_port(), free_port());
    let config = dir.path().join("etcd.conf.yml");
    std::fs::write(
        &config,
        format!(
            "name: from-yaml\ndata-dir: {data}\nlisten-client-urls: http://127.0.0.1:{client}\n\
             advertise-client-urls: http://127.0.0.1:{client}\nlisten-peer-urls: http://127.0.0.1:{peer}\n\
             initial-advertise-peer-urls: http://127.0.0.1:{peer}\n\
             initial-cluster: from-yaml=http://127.0.0.1:{peer}\ninitial-cluster-state: new\n\
             listen-metrics-urls: http://127.0.0.1:{metrics}\nenable-v2: false\n",
            data = dir.path().join("data").display()
        ),
    )
    .unwrap();
    let log = std::fs::File::create(dir.path().join("log")).unwrap();
    let _member = support::Process {
        child: std::process::Command::new(support::etcdlab_bin())
            .args(["etcd", "--name", "ignored", "--config-file"])
            .arg(&config)
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap(),
    };
    let endpoint = format!("127.0.0.1:{client}");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let out = etcdctl(&endpoint, &["member".into(), "list".into()], None);
        if out.code == 0 {
            assert!(out.stdout.contains(", from-yaml, "), "{}", out.stdout);
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the member from the config file never answered"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // The metrics URL of the file answers too (healthy once the member has elected itself).
    let metrics = format!("127.0.0.1:{metrics}");
    while http("GET", &metrics, "/health").ok() != Some((200, r#"{"health":"true"}"#.into())) {
        assert!(
            Instant::now() < deadline,
            "the metrics URL from the config file never said healthy"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let logged = std::fs::read_to_string(dir.path().join("log")).unwrap();
    assert!(
        logged.contains("enable-v2"),
        "the unknown key is reported:\n{logged}"
    );
}
