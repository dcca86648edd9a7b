//! `etcdlab certs init`: the files land in kubeadm's and cfssl's layouts, `openssl verify`
//! accepts every certificate against the CA, and real etcd 3.4.23 serves TLS with them — the
//! real etcdctl with `--cacert --cert --key` gets in, without a client certificate it does not.

mod support;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::{Process, free_port, real_etcdctl};

fn certs_init(dir: &Path, more: &[&str]) -> support::Output {
    support::pki::certs_init(dir, "127.0.0.1,node1.example", more)
}

fn openssl(args: &[&str]) -> (bool, String) {
    let out = Command::new("openssl")
        .args(args)
        .output()
        .expect("openssl");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

#[test]
fn certificates_verify_with_openssl_in_both_layouts_and_are_not_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let kubeadm = dir.path().join("pki");
    assert_eq!(certs_init(&kubeadm, &[]).code, 0);
    let ca = kubeadm.join("ca.crt");
    for name in [
        "server",
        "peer",
        "healthcheck-client",
        "apiserver-etcd-client",
    ] {
        let cert = kubeadm.join(format!("{name}.crt"));
        let (ok, said) = openssl(&[
            "verify",
            "-CAfile",
            &ca.to_string_lossy(),
            &cert.to_string_lossy(),
        ]);
        assert!(ok, "{name}: {said}");
        let key = kubeadm.join(format!("{name}.key"));
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    let (_, text) = openssl(&[
        "x509",
        "-noout",
        "-text",
        "-in",
        &kubeadm.join("server.crt").to_string_lossy(),
    ]);
    for needed in [
        "IP Address:127.0.0.1",
        "DNS:node1.example",
        "DNS:localhost",
        "TLS Web Server Authentication",
        "TLS Web Client Authentication",
    ] {
        assert!(text.contains(needed), "server.crt lacks {needed}:\n{text}");
    }
    // A second run refuses to replace the CA (the members' certificates hang on it).
    let again = certs_init(&kubeadm, &[]);
    assert_ne!(again.code, 0);
    assert!(again.stderr.contains("already exists"), "{}", again.stderr);
    assert_eq!(certs_init(&kubeadm, &["--force"]).code, 0);

    let cfssl = dir.path().join("cert");
    assert_eq!(certs_init(&cfssl, &["--layout", "cfssl"]).code, 0);
    let (ok, said) = openssl(&[
        "verify",
        "-CAfile",
        &cfssl.join("ca.pem").to_string_lossy(),
        &cfssl.join("etcd.pem").to_string_lossy(),
    ]);
    assert!(ok, "{said}");
    assert!(cfssl.join("etcd-key.pem").exists() && cfssl.join("ca-key.pem").exists());
}

#[test]
fn real_etcd_serves_tls_with_them_and_etcdctl_needs_a_client_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let pki = dir.path().join("pki");
    assert_eq!(certs_init(&pki, &[]).code, 0);
    let file = |name: &str| pki.join(name).to_string_lossy().into_owned();
    let (client_port, peer_port) = (free_port(), free_port());
    let client = format!("https://127.0.0.1:{client_port}");
    let peer = format!("https://127.0.0.1:{peer_port}");
    let log = std::fs::File::create(dir.path().join("etcd.log")).unwrap();
    let _etcd = Process {
        child: Command::new("/usr/bin/etcd")
            .args(["--name", "tls", "--data-dir"])
            .arg(dir.path().join("data"))
            .args([
                "--listen-client-urls",
                &client,
                "--advertise-client-urls",
                &client,
            ])
            .args([
                "--listen-peer-urls",
                &peer,
                "--initial-advertise-peer-urls",
                &peer,
            ])
            .args(["--initial-cluster", &format!("tls={peer}")])
            .args([
                "--cert-file",
                &file("server.crt"),
                "--key-file",
                &file("server.key"),
            ])
            .args(["--trusted-ca-file", &file("ca.crt"), "--client-cert-auth"])
            .args([
                "--peer-cert-file",
                &file("peer.crt"),
                "--peer-key-file",
                &file("peer.key"),
            ])
            .args([
                "--peer-trusted-ca-file",
                &file("ca.crt"),
                "--peer-client-cert-auth",
            ])
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("real etcd"),
    };
    let etcdctl = |cert: Option<&str>, args: &[&str]| {
        let mut all = vec![
            "--endpoints".to_string(),
            client.clone(),
            "--cacert".into(),
            file("ca.crt"),
        ];
        if let Some(name) = cert {
            all.extend([
                "--cert".into(),
                file(&format!("{name}.crt")),
                "--key".into(),
                file(&format!("{name}.key")),
            ]);
        }
        all.extend(args.iter().map(|s| s.to_string()));
        support::run(
            &real_etcdctl(),
            &all,
            &[("ETCDCTL_API", "3")],
            None,
            Duration::from_secs(20),
        )
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while etcdctl(Some("server"), &["endpoint", "health"]).code != 0 {
        assert!(
            Instant::now() < deadline,
            "real etcd never served TLS with our certificates"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // The course's line: the server certificate as etcdctl's client certificate.
    assert_eq!(etcdctl(Some("server"), &["put", "k", "v"]).stdout, "OK\n");
    assert_eq!(
        etcdctl(
            Some("healthcheck-client"),
            &["get", "k", "--print-value-only"]
        )
        .stdout,
        "v\n"
    );
    let refused = etcdctl(None, &["--command-timeout", "2s", "get", "k"]);
    assert_ne!(refused.code, 0, "a client without a certificate got in");
}
