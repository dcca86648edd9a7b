//! TLS toward members, for the lab and for `etcdlab viz`/`etcdlab events`: the client
//! configurations used to reach members over gRPC and HTTP ([`MemberTls`]), made from
//! etcdctl's flags ([`TlsFlags`]: `--cacert --cert --key --insecure-skip-tls-verify`) or, for
//! `etcdlab lab --tls`, from the lab's own certificates ([`LabTls`]: made once by
//! [`crate::certs`] in the lab's data dir, `pki/`, with the flags its members run with and the
//! etcdctl flags it prints).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio_rustls::TlsConnector;
use tonic::transport::{Channel, Endpoint};

use crate::tls::{self, ClientFiles};

/// How to reach TLS members.
pub struct MemberTls {
    /// For gRPC (ALPN h2).
    grpc: Arc<rustls::ClientConfig>,
    /// For the members' HTTP endpoints (ALPN http/1.1).
    pub http: TlsConnector,
}

impl MemberTls {
    pub fn new(files: &ClientFiles) -> anyhow::Result<MemberTls> {
        Ok(MemberTls {
            grpc: tls::client_config(files, tls::ALPN_H2)?,
            http: tls::client_config(files, &[b"http/1.1"])?.into(),
        })
    }
}

/// etcdctl's TLS flags, for the commands that follow members someone else runs.
#[derive(clap::Args, Debug, Default)]
pub struct TlsFlags {
    /// Verify the members' certificates with this CA bundle (default: the system's roots)
    #[arg(long)]
    pub cacert: Option<PathBuf>,
    /// Identify with this client certificate (with --key)
    #[arg(long, requires = "key")]
    pub cert: Option<PathBuf>,
    /// The client certificate's key (with --cert)
    #[arg(long, requires = "cert")]
    pub key: Option<PathBuf>,
    /// Accept any server certificate (the connection is still encrypted)
    #[arg(long = "insecure-skip-tls-verify")]
    pub insecure_skip_tls_verify: bool,
}

impl TlsFlags {
    /// How to reach the members at `urls`: over TLS when one is `https://` or a TLS flag is
    /// given, in plain text otherwise.
    pub fn member_tls(&self, urls: &[String]) -> anyhow::Result<Option<MemberTls>> {
        let wanted = self.cacert.is_some()
            || self.cert.is_some()
            || self.insecure_skip_tls_verify
            || urls.iter().any(|url| url.trim().starts_with("https://"));
        if !wanted {
            return Ok(None);
        }
        let files = ClientFiles {
            trusted_ca: self.cacert.clone(),
            identity: self.cert.clone().zip(self.key.clone()),
            skip_verify: self.insecure_skip_tls_verify,
        };
        MemberTls::new(&files).map(Some)
    }
}

/// The lab's TLS material.
pub struct LabTls {
    pki: PathBuf,
    pub client: MemberTls,
}

impl LabTls {
    /// Makes the certificates in `data_dir/pki` unless they are there from an earlier run.
    pub fn prepare(data_dir: &Path) -> anyhow::Result<LabTls> {
        let pki = data_dir.join("pki");
        if !pki.join("ca.crt").exists() {
            crate::certs::init_for_lab(&pki).context("making the lab's certificates")?;
        }
        let client = ClientFiles {
            trusted_ca: Some(pki.join("ca.crt")),
            identity: Some((
                pki.join("apiserver-etcd-client.crt"),
                pki.join("apiserver-etcd-client.key"),
            )),
            skip_verify: false,
        };
        Ok(LabTls {
            client: MemberTls::new(&client)?,
            pki,
        })
    }

    /// The folder of the certificates.
    pub fn pki_dir(&self) -> &Path {
        &self.pki
    }

    fn file(&self, name: &str) -> String {
        self.pki.join(name).display().to_string()
    }

    /// The TLS flags of `etcdlab etcd` for a lab member.
    pub fn member_flags(&self) -> Vec<String> {
        let ca = self.file("ca.crt");
        [
            ("--cert-file", self.file("server.crt")),
            ("--key-file", self.file("server.key")),
            ("--trusted-ca-file", ca.clone()),
            ("--client-cert-auth", "true".into()),
            ("--peer-cert-file", self.file("peer.crt")),
            ("--peer-key-file", self.file("peer.key")),
            ("--peer-trusted-ca-file", ca),
            ("--peer-client-cert-auth", "true".into()),
        ]
        .into_iter()
        .map(|(flag, value)| format!("{flag}={value}"))
        .collect()
    }

    /// `--cacert .. --cert .. --key ..` for etcdctl.
    pub fn etcdctl_flags(&self) -> String {
        format!(
            "--cacert {} --cert {} --key {}",
            self.file("ca.crt"),
            self.file("apiserver-etcd-client.crt"),
            self.file("apiserver-etcd-client.key")
        )
    }
}

/// A gRPC channel to a member's client address (`host:port`), over TLS if `tls` is given.
pub async fn channel(
    tls: Option<&MemberTls>,
    addr: &str,
    timeout: Duration,
) -> anyhow::Result<Channel> {
    let endpoint = Endpoint::from_shared(format!("http://{addr}"))?
        .connect_timeout(timeout)
        .timeout(Duration::from_secs(3));
    Ok(match tls {
        Some(tls) => tls::grpc_channel(endpoint, tls.grpc.clone()).await?,
        None => endpoint.connect().await?,
    })
}
