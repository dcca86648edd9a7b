//! What operators and their tools read from a member over plain HTTP: `/health` (true with a
//! leader, false and 503 without one), `/livez`, `/readyz`, `/version`, and `/metrics` as
//! Prometheus text under etcd's metric names, against the same endpoints of real etcd.

mod support;

use std::time::{Duration, Instant};

use support::{OurCluster, RealEtcd, etcdctl, http};

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
fn a_member_runs_from_etcds_yaml_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let (client, peer) = (support::free_port(), support::free_port());
    let config = dir.path().join("etcd.conf.yml");
    std::fs::write(
        &config,
        format!(
            "name: from-yaml\ndata-dir: {data}\nlisten-client-urls: http://127.0.0.1:{client}\n\
             advertise-client-urls: http://127.0.0.1:{client}\nlisten-peer-urls: http://127.0.0.1:{peer}\n\
             initial-advertise-peer-urls: http://127.0.0.1:{peer}\n\
             initial-cluster: from-yaml=http://127.0.0.1:{peer}\ninitial-cluster-state: new\n\
             enable-v2: false\n",
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
    let logged = std::fs::read_to_string(dir.path().join("log")).unwrap();
    assert!(
        logged.contains("enable-v2"),
        "the unknown key is reported:\n{logged}"
    );
}
