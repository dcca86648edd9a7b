//! TLS on our members: a 3-member cluster with client and peer TLS (certificates from
//! `etcdlab certs init`) serves the real etcdctl and `etcdlab ctl` with `--cacert --cert --key`;
//! a client without a certificate, with one from another CA or with an expired one, is refused
//! at the handshake (logged by the member, nothing written); a member whose peer certificate
//! comes from another CA cannot join; a bad certificate file stops a member with a clear error;
//! an https `--listen-metrics-urls` serves only clients with a certificate; renewed certificate
//! and CA files take effect without a restart; a client given no CA file trusts the system's
//! roots, as etcdctl does; `etcdlab viz` and `etcdlab events` follow TLS members with
//! etcdctl's TLS flags.

mod support;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use support::pki::{self, file};
use support::{Lab, Output, Process, etcdlab_bin, free_port, real_etcdctl, wait_for};

/// A kubeadm-layout set for 127.0.0.1 in `dir`.
fn certs_init(dir: &Path) -> PathBuf {
    pki::pki(dir, "127.0.0.1")
}

/// One TLS member: client and peer URLs are https, with the certificates of `pki`.
struct TlsMember {
    name: String,
    client_port: u16,
    peer_port: u16,
    dir: tempfile::TempDir,
    pki: PathBuf,
    process: Option<Process>,
    /// More flags after the TLS ones.
    extra: Vec<String>,
}

impl TlsMember {
    fn new(name: &str, pki: &Path) -> TlsMember {
        TlsMember {
            name: name.into(),
            client_port: free_port(),
            peer_port: free_port(),
            dir: tempfile::tempdir().unwrap(),
            pki: pki.to_path_buf(),
            process: None,
            extra: Vec::new(),
        }
    }

    fn peer_url(&self) -> String {
        format!("https://127.0.0.1:{}", self.peer_port)
    }

    fn endpoint(&self) -> String {
        format!("https://127.0.0.1:{}", self.client_port)
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("member.log")
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    fn launch(&mut self, initial_cluster: &str, state: &str) {
        let client = self.endpoint();
        let peer = self.peer_url();
        let pki = &self.pki;
        let args = [
            "etcd",
            "--name",
            &self.name,
            "--data-dir",
            &self.dir.path().join("data").display().to_string(),
            "--listen-client-urls",
            &client,
            "--advertise-client-urls",
            &client,
            "--listen-peer-urls",
            &peer,
            "--initial-advertise-peer-urls",
            &peer,
            "--initial-cluster",
            initial_cluster,
            "--initial-cluster-state",
            state,
            "--heartbeat-interval",
            "100",
            "--election-timeout",
            "1000",
            "--cert-file",
            &file(pki, "server.crt"),
            "--key-file",
            &file(pki, "server.key"),
            "--trusted-ca-file",
            &file(pki, "ca.crt"),
            "--client-cert-auth",
            "--peer-cert-file",
            &file(pki, "peer.crt"),
            "--peer-key-file",
            &file(pki, "peer.key"),
            "--peer-trusted-ca-file",
            &file(pki, "ca.crt"),
            "--peer-client-cert-auth",
        ]
        .map(String::from);
        let log = std::fs::File::create(self.log_path()).unwrap();
        let child = Command::new(etcdlab_bin())
            .args(args)
            .args(&self.extra)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("starting etcdlab");
        self.process = Some(Process { child });
    }
}

/// The real etcdctl with the client files of `pki` (or none).
fn etcdctl(endpoints: &str, pki: Option<&Path>, args: &[&str]) -> Output {
    let mut all = vec![format!("--endpoints={endpoints}")];
    if let Some(pki) = pki {
        all.extend(tls_flags(pki));
    }
    all.extend(args.iter().map(|s| s.to_string()));
    support::run(
        &real_etcdctl(),
        &all,
        &[("ETCDCTL_API", "3")],
        None,
        Duration::from_secs(20),
    )
}

fn tls_flags(pki: &Path) -> Vec<String> {
    vec![
        format!("--cacert={}", file(pki, "ca.crt")),
        format!("--cert={}", file(pki, "apiserver-etcd-client.crt")),
        format!("--key={}", file(pki, "apiserver-etcd-client.key")),
    ]
}

fn healthy(endpoint: &str, pki: &Path) -> Result<(), String> {
    let out = etcdctl(endpoint, Some(pki), &["endpoint", "health"]);
    if out.code == 0 {
        Ok(())
    } else {
        Err(out.stdout + &out.stderr)
    }
}

/// Starts `names.len()` TLS members as one new cluster and waits until all are healthy.
fn start_cluster(pki: &Path, size: usize) -> Vec<TlsMember> {
    let mut members: Vec<TlsMember> = (1..=size)
        .map(|i| TlsMember::new(&format!("m{i}"), pki))
        .collect();
    let initial = members
        .iter()
        .map(|m| format!("{}={}", m.name, m.peer_url()))
        .collect::<Vec<_>>()
        .join(",");
    for m in &mut members {
        m.launch(&initial, "new");
    }
    for m in &members {
        wait_for("member healthy", Duration::from_secs(30), || {
            healthy(&m.endpoint(), pki)
        });
    }
    members
}

#[test]
fn a_tls_cluster_serves_certified_clients_and_refuses_others() {
    let dir = tempfile::tempdir().unwrap();
    let pki = certs_init(&dir.path().join("pki"));
    let other = certs_init(&dir.path().join("other-pki"));
    let members = start_cluster(&pki, 3);
    let all = members
        .iter()
        .map(TlsMember::endpoint)
        .collect::<Vec<_>>()
        .join(",");

    // The real etcdctl with the right files: writes, reads, the member list over TLS.
    let put = etcdctl(&all, Some(&pki), &["put", "/tls/a", "1"]);
    assert_eq!((put.code, put.stdout.trim()), (0, "OK"), "{}", put.stderr);
    let get = etcdctl(&all, Some(&pki), &["get", "/tls/a"]);
    assert_eq!(get.stdout, "/tls/a\n1\n", "{}", get.stderr);
    let list = etcdctl(&all, Some(&pki), &["member", "list"]);
    assert_eq!(list.code, 0, "{}", list.stderr);
    for m in &members {
        assert!(
            list.stdout.contains(&m.peer_url()) && list.stdout.contains(&m.endpoint()),
            "{}",
            list.stdout
        );
    }
    let health = etcdctl(&all, Some(&pki), &["endpoint", "health"]);
    assert_eq!(health.code, 0, "{}{}", health.stdout, health.stderr);
    assert_eq!(
        health.stderr.matches("is healthy").count(),
        3,
        "{}",
        health.stderr
    );

    // Without a client certificate, and with one from another CA: refused, nothing written.
    let target = members[0].endpoint();
    let ca_only = [format!("--cacert={}", file(&pki, "ca.crt"))];
    let mut args: Vec<&str> = ca_only.iter().map(String::as_str).collect();
    args.extend(["--command-timeout=3s", "put", "/tls/no-cert", "x"]);
    let refused = etcdctl(&target, None, &args);
    assert_ne!(refused.code, 0, "{}", refused.stdout);
    let foreign = [
        format!("--cacert={}", file(&pki, "ca.crt")),
        format!("--cert={}", file(&other, "apiserver-etcd-client.crt")),
        format!("--key={}", file(&other, "apiserver-etcd-client.key")),
    ];
    let mut args: Vec<&str> = foreign.iter().map(String::as_str).collect();
    args.extend(["--command-timeout=3s", "put", "/tls/foreign", "x"]);
    let refused = etcdctl(&target, None, &args);
    assert_ne!(refused.code, 0, "{}", refused.stdout);
    // Plain text to a TLS port is refused too.
    let plain = etcdctl(
        &format!("http://127.0.0.1:{}", members[0].client_port),
        None,
        &["--command-timeout=3s", "put", "/tls/plain", "x"],
    );
    assert_ne!(plain.code, 0, "{}", plain.stdout);
    let keys = etcdctl(
        &all,
        Some(&pki),
        &["get", "/tls/", "--prefix", "--keys-only"],
    );
    assert_eq!(keys.stdout.trim(), "/tls/a", "{}", keys.stderr);
    let log = members[0].log();
    assert!(
        log.contains("rejected a client: TLS handshake failed")
            && log.contains("peer sent no certificates"),
        "{log}"
    );
    // (Both CAs have the same name, so rustls finds the signature wrong rather than the issuer unknown.)
    assert!(log.contains("invalid peer certificate"), "{log}");

    // Our own client with the same flags.
    let mut args = vec!["ctl".to_string(), format!("--endpoints={all}")];
    args.extend(tls_flags(&pki));
    args.extend(["put".into(), "/tls/ctl".into(), "2".into()]);
    let ctl = support::run(&etcdlab_bin(), &args, &[], None, Duration::from_secs(20));
    assert_eq!((ctl.code, ctl.stdout.trim()), (0, "OK"), "{}", ctl.stderr);
    let mut args = vec!["ctl".to_string(), format!("--endpoints={all}")];
    args.extend(tls_flags(&pki));
    args.extend(["endpoint".into(), "health".into()]);
    let ctl = support::run(&etcdlab_bin(), &args, &[], None, Duration::from_secs(20));
    assert_eq!(ctl.code, 0, "{}{}", ctl.stdout, ctl.stderr);
    // A bare host:port is dialled over TLS when a certificate flag is given, and
    // --insecure-skip-tls-verify needs no CA (our client and the real one alike).
    let bare = format!("127.0.0.1:{}", members[1].client_port);
    let skip = [
        "--insecure-skip-tls-verify".to_string(),
        format!("--cert={}", file(&pki, "apiserver-etcd-client.crt")),
        format!("--key={}", file(&pki, "apiserver-etcd-client.key")),
    ];
    let mut args = vec!["ctl".to_string(), format!("--endpoints={bare}")];
    args.extend(skip.iter().cloned());
    args.extend(["get".into(), "/tls/a".into(), "--print-value-only".into()]);
    let ctl = support::run(&etcdlab_bin(), &args, &[], None, Duration::from_secs(20));
    assert_eq!((ctl.code, ctl.stdout.trim()), (0, "1"), "{}", ctl.stderr);
    let mut args: Vec<&str> = skip.iter().map(String::as_str).collect();
    args.extend(["get", "/tls/a", "--print-value-only"]);
    let real = etcdctl(&bare, None, &args);
    assert_eq!((real.code, real.stdout.trim()), (0, "1"), "{}", real.stderr);
    // ... without a client certificate it is refused, and says so within its timeout.
    let ctl = support::run(
        &etcdlab_bin(),
        &[
            "ctl".into(),
            format!("--endpoints={target}"),
            format!("--cacert={}", file(&pki, "ca.crt")),
            "--command-timeout=2s".into(),
            "get".into(),
            "/tls/a".into(),
        ],
        &[],
        None,
        Duration::from_secs(20),
    );
    assert_ne!(ctl.code, 0, "{}", ctl.stdout);
    let get = etcdctl(&all, Some(&pki), &["get", "/tls/ctl", "--print-value-only"]);
    assert_eq!(get.stdout.trim(), "2", "{}", get.stderr);
}

#[test]
fn an_expired_client_certificate_is_refused_and_logged() {
    let dir = tempfile::tempdir().unwrap();
    let pki = certs_init(&dir.path().join("pki"));
    let now = time::OffsetDateTime::now_utc();
    let day = time::Duration::days(1);
    // The same CA, the same name: one certificate expired yesterday, one valid until tomorrow.
    pki::client_cert(&pki, "expired", "student", now - 30 * day, now - day);
    pki::client_cert(&pki, "current", "student", now - day, now + day);
    let members = start_cluster(&pki, 1);
    let with_cert = |stem: &str, args: &[&str]| {
        let flags = [
            format!("--cacert={}", file(&pki, "ca.crt")),
            format!("--cert={}", file(&pki, &format!("{stem}.crt"))),
            format!("--key={}", file(&pki, &format!("{stem}.key"))),
            "--command-timeout=3s".to_string(),
        ];
        let mut all: Vec<&str> = flags.iter().map(String::as_str).collect();
        all.extend(args);
        etcdctl(&members[0].endpoint(), None, &all)
    };
    let refused = with_cert("expired", &["put", "/expired", "x"]);
    assert_ne!(refused.code, 0, "{}", refused.stdout);
    let accepted = with_cert("current", &["put", "/current", "y"]);
    assert_eq!(
        (accepted.code, accepted.stdout.trim()),
        (0, "OK"),
        "{}",
        accepted.stderr
    );
    let keys = etcdctl(
        &members[0].endpoint(),
        Some(&pki),
        &["get", "/", "--prefix", "--keys-only"],
    );
    assert_eq!(keys.stdout.trim(), "/current", "{}", keys.stderr);
    let log = members[0].log();
    assert!(
        log.lines()
            .any(|l| l.contains("rejected a client: TLS handshake failed")
                && l.contains("certificate expired")),
        "{log}"
    );
}

#[test]
fn an_https_metrics_url_needs_a_client_certificate_too() {
    let dir = tempfile::tempdir().unwrap();
    let pki = certs_init(&dir.path().join("pki"));
    let metrics = format!("https://127.0.0.1:{}", free_port());
    let mut member = TlsMember::new("m1", &pki);
    member.extra = vec!["--listen-metrics-urls".into(), metrics.clone()];
    member.launch(&format!("m1={}", member.peer_url()), "new");
    wait_for("member healthy", Duration::from_secs(30), || {
        healthy(&member.endpoint(), &pki)
    });
    let curl = |cert: bool, path: &str| {
        let mut args = vec![
            "-sS".to_string(),
            "--max-time".into(),
            "5".into(),
            "--cacert".into(),
            file(&pki, "ca.crt"),
        ];
        if cert {
            args.extend([
                "--cert".into(),
                file(&pki, "healthcheck-client.crt"),
                "--key".into(),
                file(&pki, "healthcheck-client.key"),
            ]);
        }
        args.push(format!("{metrics}{path}"));
        support::run(Path::new("curl"), &args, &[], None, Duration::from_secs(20))
    };
    let health = curl(true, "/health");
    assert_eq!(
        (health.code, health.stdout.as_str()),
        (0, r#"{"health":"true"}"#),
        "{}",
        health.stderr
    );
    let scraped = curl(true, "/metrics");
    assert!(
        scraped.stdout.contains("\netcd_server_has_leader 1\n"),
        "{}{}",
        scraped.stdout,
        scraped.stderr
    );
    let refused = curl(false, "/metrics");
    assert_ne!(refused.code, 0, "{}", refused.stdout);
    assert!(
        !refused.stdout.contains("etcd_server"),
        "{}",
        refused.stdout
    );
    wait_for("the refusal is logged", Duration::from_secs(5), || {
        let log = member.log();
        if log.contains("rejected a client: TLS handshake failed") {
            Ok(())
        } else {
            Err(log)
        }
    });
}

#[test]
fn a_member_with_a_peer_certificate_from_another_ca_cannot_join() {
    let dir = tempfile::tempdir().unwrap();
    let pki = certs_init(&dir.path().join("pki"));
    let other = certs_init(&dir.path().join("other-pki"));
    let mut members = start_cluster(&pki, 2);
    let endpoints = members
        .iter()
        .map(TlsMember::endpoint)
        .collect::<Vec<_>>()
        .join(",");
    let mut stranger = TlsMember::new("m3", &other);
    let add = etcdctl(
        &endpoints,
        Some(&pki),
        &[
            "member",
            "add",
            "m3",
            &format!("--peer-urls={}", stranger.peer_url()),
        ],
    );
    assert_eq!(add.code, 0, "{}", add.stderr);
    let initial = members
        .iter()
        .map(|m| format!("{}={}", m.name, m.peer_url()))
        .chain([format!("m3={}", stranger.peer_url())])
        .collect::<Vec<_>>()
        .join(",");
    stranger.launch(&initial, "existing");
    wait_for(
        "the stranger gives up",
        Duration::from_secs(20),
        || match stranger.process.as_mut().unwrap().child.try_wait() {
            Ok(Some(_)) => Ok(()),
            _ => Err(stranger.log()),
        },
    );
    assert!(
        stranger.log().contains("TLS handshake") || stranger.log().contains("certificate"),
        "{}",
        stranger.log()
    );
    wait_for(
        "a member logs the refused peer",
        Duration::from_secs(10),
        || {
            let log = members[0].log() + &members[1].log();
            if log.contains("refused a peer connection: TLS handshake failed") {
                Ok(())
            } else {
                Err(log)
            }
        },
    );
    // The cluster is unharmed.
    let put = etcdctl(&endpoints, Some(&pki), &["put", "k", "v"]);
    assert_eq!(put.code, 0, "{}", put.stderr);
    members.clear();
}

#[test]
fn a_bad_certificate_file_stops_the_member_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let pki = certs_init(&dir.path().join("pki"));
    let garbage = dir.path().join("garbage.crt");
    std::fs::write(&garbage, "not a certificate\n").unwrap();
    let port = free_port();
    let peer = free_port();
    for (cert, said) in [
        (garbage.display().to_string(), "holds no PEM certificate"),
        (file(&pki, "missing.crt"), "missing.crt"),
    ] {
        let out = support::run(
            &etcdlab_bin(),
            &[
                "etcd",
                "--data-dir",
                &dir.path().join("data").display().to_string(),
                "--listen-client-urls",
                &format!("https://127.0.0.1:{port}"),
                "--advertise-client-urls",
                &format!("https://127.0.0.1:{port}"),
                "--listen-peer-urls",
                &format!("http://127.0.0.1:{peer}"),
                "--initial-advertise-peer-urls",
                &format!("http://127.0.0.1:{peer}"),
                "--initial-cluster",
                &format!("default=http://127.0.0.1:{peer}"),
                "--cert-file",
                &cert,
                "--key-file",
                &file(&pki, "server.key"),
            ]
            .map(String::from),
            &[],
            None,
            Duration::from_secs(20),
        );
        assert_ne!(out.code, 0);
        assert!(
            out.stderr.contains(said) && !out.stderr.contains("panicked"),
            "{}",
            out.stderr
        );
    }
}

#[test]
fn the_lab_with_tls_prints_an_etcdctl_line_that_works() {
    let dir = tempfile::tempdir().unwrap();
    let addr = format!("127.0.0.1:{}", free_port());
    let out_path = dir.path().join("lab.out");
    let child = Command::new(etcdlab_bin())
        .args(["lab", "--tls", "--size", "3", "--ui-addr", &addr])
        .args(["--data-dir", &dir.path().join("data").to_string_lossy()])
        .args(["--base-port", &support::free_lab_base(3).to_string()])
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting etcdlab lab");
    let lab = support::Lab {
        addr,
        dir,
        process: Process { child },
    };
    let mut line = String::new();
    wait_for(
        "the lab prints its etcdctl line",
        Duration::from_secs(20),
        || {
            let printed = std::fs::read_to_string(&out_path).unwrap_or_default();
            match printed.lines().find(|l| l.contains("put key1 value1")) {
                Some(found) => {
                    line = found.trim().to_string();
                    Ok(())
                }
                None => Err(printed),
            }
        },
    );
    assert!(line.contains("--cacert") && line.contains("--cert") && line.contains("--key"));
    let args: Vec<String> = line
        .split_whitespace()
        .skip(1) // "etcdctl"
        .map(String::from)
        .collect();
    wait_for(
        "the printed etcdctl line works",
        Duration::from_secs(30),
        || {
            let out = support::run(
                &real_etcdctl(),
                &args,
                &[("ETCDCTL_API", "3")],
                None,
                Duration::from_secs(20),
            );
            if out.code == 0 && out.stdout.trim() == "OK" {
                Ok(())
            } else {
                Err(out.stdout + &out.stderr)
            }
        },
    );
    // The lab itself reaches its TLS members: their status, their events, the KV API.
    wait_for(
        "a leader and event streams",
        Duration::from_secs(30),
        || {
            let members = lab.members();
            let leaders = members.iter().filter(|m| m["role"] == "leader").count();
            let streaming = members.iter().all(|m| {
                lab.events(0)
                    .iter()
                    .any(|e| e["node"] == m["name"] && e["seq"].as_u64() > Some(0))
            });
            if members.len() == 3 && leaders == 1 && streaming {
                Ok(())
            } else {
                Err(format!("{members:?}"))
            }
        },
    );
    let (status, answer) = lab.post("/api/kv", r#"{"op":"get","key":"key1"}"#);
    assert_eq!(
        (status, &answer["value"]),
        (200, &serde_json::json!("value1")),
        "{answer}"
    );
}

#[test]
fn with_auth_enabled_a_client_certificate_without_a_token_acts_as_its_cn() {
    let dir = tempfile::tempdir().unwrap();
    let pki = certs_init(&dir.path().join("pki"));
    let members = start_cluster(&pki, 1);
    let ep = members[0].endpoint();
    // apiserver-etcd-client.crt has CN kube-apiserver-etcd-client; healthcheck-client.crt has
    // CN kube-etcd-healthcheck-client, which is no user here.
    let cn_user = "kube-apiserver-etcd-client";
    for args in [
        vec!["user", "add", "root:rootpw", "--interactive=false"],
        vec!["user", "grant-role", "root", "root"],
        vec![
            "user",
            "add",
            &format!("{cn_user}:pw"),
            "--interactive=false",
        ],
        vec!["role", "add", "cn"],
        vec![
            "role",
            "grant-permission",
            "cn",
            "readwrite",
            "/cn/",
            "--prefix=true",
        ],
        vec!["user", "grant-role", cn_user, "cn"],
        vec!["auth", "enable"],
    ] {
        let out = etcdctl(&ep, Some(&pki), &args);
        assert_eq!(out.code, 0, "{args:?}: {}{}", out.stdout, out.stderr);
    }
    let put = etcdctl(&ep, Some(&pki), &["put", "/cn/a", "1"]);
    assert_eq!((put.code, put.stdout.trim()), (0, "OK"), "{}", put.stderr);
    let denied = etcdctl(&ep, Some(&pki), &["put", "/elsewhere", "1"]);
    assert!(
        denied.stderr.contains("permission denied"),
        "{}",
        denied.stderr
    );
    let health_cert = [
        format!("--cacert={}", file(&pki, "ca.crt")),
        format!("--cert={}", file(&pki, "healthcheck-client.crt")),
        format!("--key={}", file(&pki, "healthcheck-client.key")),
    ];
    let mut args: Vec<&str> = health_cert.iter().map(String::as_str).collect();
    args.extend(["put", "/cn/b", "2"]);
    let stranger = etcdctl(&ep, None, &args);
    assert_ne!(stranger.code, 0, "{}", stranger.stdout);
    let root = etcdctl(
        &ep,
        Some(&pki),
        &["--user=root:rootpw", "get", "/", "--prefix", "--keys-only"],
    );
    assert_eq!(root.stdout.trim(), "/cn/a", "{}", root.stderr);
}

#[test]
fn a_renewed_server_certificate_is_served_without_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let pki = certs_init(&dir.path().join("pki"));
    let other = certs_init(&dir.path().join("other-pki"));
    let members = start_cluster(&pki, 1);
    let ep = members[0].endpoint();
    // Trusting the other CA for the server, with the cluster's own client certificate.
    let other_ca = [
        format!("--cacert={}", file(&other, "ca.crt")),
        format!("--cert={}", file(&pki, "apiserver-etcd-client.crt")),
        format!("--key={}", file(&pki, "apiserver-etcd-client.key")),
        "--command-timeout=3s".to_string(),
    ];
    let with_other_ca = |args: &[&str]| {
        let mut all: Vec<&str> = other_ca.iter().map(String::as_str).collect();
        all.extend(args);
        etcdctl(&ep, None, &all)
    };
    assert_ne!(with_other_ca(&["put", "k", "before"]).code, 0);
    // The server certificate is replaced by one of the other CA, key first then certificate
    // (a moment with a mismatched pair keeps the old one).
    std::fs::copy(other.join("server.key"), pki.join("server.key")).unwrap();
    std::fs::copy(other.join("server.crt"), pki.join("server.crt")).unwrap();
    wait_for(
        "the new certificate is served",
        Duration::from_secs(15),
        || {
            let out = with_other_ca(&["put", "k", "after"]);
            if out.code == 0 {
                Ok(())
            } else {
                Err(out.stderr)
            }
        },
    );
    assert_ne!(etcdctl(&ep, Some(&pki), &["get", "k"]).code, 0);
    assert!(members[0].log().contains("reloaded the TLS certificate"));
}

#[test]
fn a_renewed_trusted_ca_file_is_used_without_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let pki = certs_init(&dir.path().join("pki"));
    let other = certs_init(&dir.path().join("other-pki"));
    let members = start_cluster(&pki, 1);
    let ep = members[0].endpoint();
    // A client of the other CA, trusting the cluster's CA for the server.
    let other_client = [
        format!("--cacert={}", file(&pki, "ca.crt")),
        format!("--cert={}", file(&other, "apiserver-etcd-client.crt")),
        format!("--key={}", file(&other, "apiserver-etcd-client.key")),
        "--command-timeout=3s".to_string(),
    ];
    let as_other_client = |args: &[&str]| {
        let mut all: Vec<&str> = other_client.iter().map(String::as_str).collect();
        all.extend(args);
        etcdctl(&ep, None, &all)
    };
    assert_ne!(as_other_client(&["put", "k", "refused"]).code, 0);
    // The trusted CA file becomes a bundle of both CAs (the cluster's first, so the member
    // still trusts its own clients and peers).
    let bundle = std::fs::read_to_string(pki.join("ca.crt")).unwrap()
        + &std::fs::read_to_string(other.join("ca.crt")).unwrap();
    std::fs::write(pki.join("ca.crt.new"), bundle).unwrap();
    std::fs::rename(pki.join("ca.crt.new"), pki.join("ca.crt")).unwrap();
    wait_for(
        "a client of the newly trusted CA is served",
        Duration::from_secs(15),
        || {
            let out = as_other_client(&["put", "k", "accepted"]);
            if out.code == 0 {
                Ok(())
            } else {
                Err(out.stderr)
            }
        },
    );
    let get = etcdctl(&ep, Some(&pki), &["get", "k", "--print-value-only"]);
    assert_eq!(
        (get.code, get.stdout.trim()),
        (0, "accepted"),
        "{}",
        get.stderr
    );
    assert!(members[0].log().contains("reloaded the trusted CA file"));
}

#[test]
fn without_a_ca_file_clients_trust_the_system_roots_like_etcdctl() {
    let dir = tempfile::tempdir().unwrap();
    let pki = certs_init(&dir.path().join("pki"));
    let members = start_cluster(&pki, 1);
    let ep = members[0].endpoint();
    let identity = [
        format!("--endpoints={ep}"),
        format!("--cert={}", file(&pki, "apiserver-etcd-client.crt")),
        format!("--key={}", file(&pki, "apiserver-etcd-client.key")),
        "--command-timeout=3s".to_string(),
    ];
    // SSL_CERT_FILE names the system's bundle for Go's crypto/x509 and for ours alike.
    let ca = file(&pki, "ca.crt");
    for (env, trusted) in [
        (vec![("SSL_CERT_FILE", ca.as_str())], true),
        (vec![], false),
    ] {
        let mut env = env;
        env.push(("ETCDCTL_API", "3"));
        let mut real_args: Vec<String> = identity.to_vec();
        real_args.extend(["put".into(), "/system-roots".into(), "real".into()]);
        let real = support::run(
            &real_etcdctl(),
            &real_args,
            &env,
            None,
            Duration::from_secs(20),
        );
        let mut our_args = vec!["ctl".to_string()];
        our_args.extend(identity.iter().cloned());
        our_args.extend(["put".into(), "/system-roots".into(), "ours".into()]);
        let ours = support::run(
            &etcdlab_bin(),
            &our_args,
            &env,
            None,
            Duration::from_secs(20),
        );
        assert_eq!(real.code == 0, trusted, "real etcdctl: {}", real.stderr);
        assert_eq!(ours.code == 0, trusted, "etcdlab ctl: {}", ours.stderr);
    }
    let get = etcdctl(
        &ep,
        Some(&pki),
        &["get", "/system-roots", "--print-value-only"],
    );
    assert_eq!(get.stdout.trim(), "ours", "{}", get.stderr);
}

#[test]
fn viz_and_events_follow_tls_members_with_etcdctl_tls_flags() {
    let dir = tempfile::tempdir().unwrap();
    let pki = certs_init(&dir.path().join("pki"));
    let members = start_cluster(&pki, 1);
    let ep = members[0].endpoint();
    let tls: Vec<String> = tls_flags(&pki);

    // viz: the page's API lists the member with its role, and its event stream flows.
    let viz = Lab::viz(&ep, &tls);
    wait_for(
        "viz follows the TLS member",
        Duration::from_secs(15),
        || {
            let listed = viz.members();
            let streaming = viz.events(0).iter().any(|e| e["kind"] == "member_started");
            match listed.first() {
                Some(m) if m["role"] == "leader" && streaming => Ok(()),
                _ => Err(format!("{listed:?}")),
            }
        },
    );

    // events: the member's own stream, printed as JSON lines, shows a put being applied.
    let mut args = vec![
        "events".to_string(),
        "--endpoints".to_string(),
        ep.clone(),
        "--json".to_string(),
        "--kinds".to_string(),
        "entry_applied".to_string(),
        "--limit".to_string(),
        "1".to_string(),
    ];
    args.extend(tls.iter().cloned());
    let events = Command::new(etcdlab_bin())
        .args(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting etcdlab events");
    let mut events = Process { child: events };
    wait_for(
        "the put is applied and printed",
        Duration::from_secs(20),
        || {
            let put = etcdctl(&ep, Some(&pki), &["put", "/followed", "over-tls"]);
            if put.code != 0 {
                return Err(put.stderr);
            }
            match events.child.try_wait() {
                Ok(Some(_)) => Ok(()),
                _ => Err("etcdlab events has printed no entry_applied yet".into()),
            }
        },
    );
    let mut printed = String::new();
    events
        .child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut printed)
        .unwrap();
    assert!(
        printed.contains("\"kind\":\"entry_applied\"") && printed.contains("/followed"),
        "{printed}"
    );
}
