//! The course's deployment (course-notes/004): `deploy/etcd.service.template` is read as
//! systemd would read it (`Type=notify`, `WorkingDirectory=`, `ExecStart=` with its line
//! continuations), filled in per member as the course fills it in, and run for a two-member
//! TLS cluster on two loopback addresses of this machine with cfssl-layout certificates from
//! `etcdlab certs init`. Each member says `READY=1` on its `NOTIFY_SOCKET` only once both run
//! (as `systemctl start etcd` waits for the other node), the course's etcdctl checks pass with
//! the real etcdctl, and SIGTERM stops both cleanly.
//!
//! There is no running systemd in the test machine, so the test is the service manager; what
//! differs from the course's two hosts is said where the test adapts the unit.

mod support;

use std::collections::HashMap;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::pki::{certs_init, file};
use support::{Output, etcdlab_bin, free_port, real_etcdctl, wait_for};

/// Where the course installs the binary; the unit names it there.
const INSTALLED_BINARY: &str = "/opt/k8s/bin/etcdlab";

/// The `[Service]` settings of a unit file, continuation lines joined.
fn service_section(unit: &str) -> HashMap<String, String> {
    let joined = unit.replace("\\\n", " ");
    let mut in_service = false;
    let mut settings = HashMap::new();
    for line in joined.lines().map(str::trim) {
        if line.starts_with('[') {
            in_service = line == "[Service]";
        } else if let Some((key, value)) = line.split_once('=').filter(|_| in_service) {
            settings.insert(key.to_string(), value.trim().to_string());
        }
    }
    settings
}

/// One member started from the unit: its process, its notify socket, its log.
struct Service {
    name: String,
    ip: String,
    child: Option<Child>,
    notify: UnixDatagram,
    log: PathBuf,
}

impl Service {
    /// Fills in the unit for this member and starts its `ExecStart=` as systemd would.
    fn start(settings: &HashMap<String, String>, fill: &[(&str, String)], dir: &Path) -> Service {
        let filled = |text: &str| {
            fill.iter()
                .fold(text.to_string(), |text, (from, to)| text.replace(from, to))
        };
        let working_dir = PathBuf::from(filled(&settings["WorkingDirectory"]));
        let exec = filled(&settings["ExecStart"]);
        assert!(
            !exec.contains("##") && !exec.contains("${") && !exec.contains('"'),
            "unfilled or quoted parts left in ExecStart: {exec}"
        );
        let mut words = exec.split_whitespace();
        assert_eq!(words.next(), Some(INSTALLED_BINARY), "{exec}");
        let args: Vec<&str> = words.collect();
        let value = |flag: &str| {
            args.iter()
                .find_map(|a| a.strip_prefix(&format!("{flag}=")))
                .unwrap_or_else(|| panic!("no {flag} in {exec}"))
                .to_string()
        };
        // As the course does before `systemctl start`: the data and WAL directories exist.
        std::fs::create_dir_all(value("--data-dir")).unwrap();
        std::fs::create_dir_all(value("--wal-dir")).unwrap();
        let name = value("--name");
        let socket = dir.join(format!("{name}.notify"));
        let notify = UnixDatagram::bind(&socket).unwrap();
        notify
            .set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let log = dir.join(format!("{name}.log"));
        let out = std::fs::File::create(&log).unwrap();
        let child = Command::new(etcdlab_bin())
            .args(&args)
            .current_dir(&working_dir)
            .env("NOTIFY_SOCKET", &socket)
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .expect("starting the unit's ExecStart");
        let ip = value("--advertise-client-urls")
            .trim_start_matches("https://")
            .trim_end_matches(":2379")
            .to_string();
        Service {
            name,
            ip,
            child: Some(child),
            notify,
            log,
        }
    }

    /// The datagrams received within `timeout`.
    fn notifications(&self, timeout: Duration) -> Vec<String> {
        let deadline = Instant::now() + timeout;
        let mut received = Vec::new();
        let mut buf = [0u8; 256];
        while Instant::now() < deadline {
            if let Ok(n) = self.notify.recv(&mut buf) {
                received.push(String::from_utf8_lossy(&buf[..n]).into_owned());
            }
            if received.iter().any(|m| m.lines().any(|l| l == "READY=1")) {
                break;
            }
        }
        received
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// `systemctl stop`: SIGTERM, then the exit status within `timeout`.
    fn stop(&mut self, timeout: Duration) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("running");
        let term = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(term.success());
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!(
                    "{} did not stop within {timeout:?}:\n{}",
                    self.name,
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The course's etcdctl line: `--cacert` the CA, `--cert`/`--key` the member certificate.
fn etcdctl(pki: &Path, endpoints: &str, args: &[&str]) -> Output {
    let mut all = vec![
        format!("--endpoints={endpoints}"),
        format!("--cacert={}", file(pki, "ca.pem")),
        format!("--cert={}", file(pki, "etcd.pem")),
        format!("--key={}", file(pki, "etcd-key.pem")),
    ];
    all.extend(args.iter().map(|s| s.to_string()));
    support::run(
        &real_etcdctl(),
        &all,
        &[("ETCDCTL_API", "3")],
        None,
        Duration::from_secs(20),
    )
}

#[test]
fn the_courses_unit_runs_a_two_member_tls_cluster() {
    let unit = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/etcd.service.template"),
    )
    .expect("deploy/etcd.service.template");
    let settings = service_section(&unit);
    assert_eq!(settings["Type"], "notify");

    // Two "hosts": two loopback addresses (all of 127/8 is this machine's), in a /24 of
    // this test run's own so that nothing else holds their ports 2379 and 2380.
    let pid = std::process::id();
    let net = format!("127.{}.{}", 100 + pid % 100, (pid / 100) % 250);
    let nodes = [
        ("k8s-01", format!("{net}.2")),
        ("k8s-02", format!("{net}.3")),
    ];
    let dir = tempfile::tempdir().unwrap();
    let pki = dir.path().join("cert");
    let hosts = format!("127.0.0.1,{},{}", nodes[0].1, nodes[1].1);
    let made = certs_init(&pki, &hosts, &["--layout", "cfssl"]);
    assert_eq!(made.code, 0, "{}", made.stderr);
    let etcd_nodes = nodes
        .iter()
        .map(|(name, ip)| format!("{name}=https://{ip}:2380"))
        .collect::<Vec<_>>()
        .join(",");

    let mut services: Vec<Service> = Vec::new();
    for (name, ip) in &nodes {
        let home = dir.path().join(name);
        let fill = [
            // environment.sh's variables, expanded when the course writes the template ...
            ("${ETCD_DATA_DIR}", home.join("data").display().to_string()),
            ("${ETCD_WAL_DIR}", home.join("wal").display().to_string()),
            ("${ETCD_NODES}", etcd_nodes.clone()),
            // ... then its sed for each node.
            ("##NODE_NAME##", name.to_string()),
            ("##NODE_IP##", ip.clone()),
            // Adapted: the certificates stay in the test's directory instead of /etc, and the
            // two members share this machine's 127.0.0.1, so each gets a port of its own there.
            ("/etc/etcd/cert/", format!("{}/", pki.display())),
            ("/etc/kubernetes/cert/", format!("{}/", pki.display())),
            (
                "https://127.0.0.1:2379",
                format!("https://127.0.0.1:{}", free_port()),
            ),
        ];
        services.push(Service::start(&settings, &fill, dir.path()));
        if services.len() == 1 {
            // Alone, the first member has no quorum: it is not ready (systemctl start waits).
            let early = services[0].notifications(Duration::from_secs(3));
            assert!(
                !early.iter().any(|m| m.contains("READY=1")),
                "ready without a quorum: {early:?}"
            );
        }
    }
    for service in &services {
        let said = service.notifications(Duration::from_secs(60));
        assert!(
            said.iter().any(|m| m.lines().any(|l| l == "READY=1")),
            "{} never said READY=1 ({said:?}):\n{}",
            service.name,
            service.log()
        );
    }

    // The course's checks: endpoint health on each node, the leader in the status table.
    for service in &services {
        let endpoint = format!("https://{}:2379", service.ip);
        let health = etcdctl(&pki, &endpoint, &["endpoint", "health"]);
        let said = health.stdout.clone() + &health.stderr;
        assert!(
            health.code == 0
                && said.contains(&format!(
                    "{endpoint} is healthy: successfully committed proposal"
                )),
            "{said}"
        );
    }
    let all = services
        .iter()
        .map(|s| format!("https://{}:2379", s.ip))
        .collect::<Vec<_>>()
        .join(",");
    wait_for(
        "one leader in the status table",
        Duration::from_secs(20),
        || {
            let table = etcdctl(&pki, &all, &["-w", "table", "endpoint", "status"]);
            // | ENDPOINT | ID | VERSION | DB SIZE | IS LEADER | ...
            let leaders = table
                .stdout
                .lines()
                .filter(|l| l.split('|').nth(5).map(str::trim) == Some("true"))
                .count();
            if table.code == 0 && leaders == 1 && table.stdout.contains("IS LEADER") {
                Ok(())
            } else {
                Err(table.stdout + &table.stderr)
            }
        },
    );
    let list = etcdctl(&pki, &all, &["member", "list"]);
    assert_eq!(list.code, 0, "{}", list.stderr);
    for service in &services {
        assert!(
            list.stdout.contains(&format!(
                ", started, {}, https://{}:2380, https://{}:2379, false",
                service.name, service.ip, service.ip
            )),
            "{}",
            list.stdout
        );
    }
    let put = etcdctl(&pki, &all, &["put", "/course/004", "deployed"]);
    assert_eq!((put.code, put.stdout.trim()), (0, "OK"), "{}", put.stderr);
    for service in &services {
        let endpoint = format!("https://{}:2379", service.ip);
        let get = etcdctl(
            &pki,
            &endpoint,
            &["get", "/course/004", "--print-value-only"],
        );
        assert_eq!(get.stdout.trim(), "deployed", "{}", get.stderr);
    }

    // `systemctl stop etcd` on both: SIGTERM, a clean exit.
    for service in &mut services {
        let status = service.stop(Duration::from_secs(15));
        assert!(
            status.success(),
            "{}: {status}\n{}",
            service.name,
            service.log()
        );
    }
}
