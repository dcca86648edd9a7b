//! `etcdlab lab --tls`: the lab's certificates (made once by [`crate::certs`] in the lab's data
//! dir, `pki/`), the flags its members run with (client and peer TLS, client certificates
//! required), the etcdctl flags it prints, and the client configurations the lab itself uses
//! to reach its members over gRPC and HTTP.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio_rustls::TlsConnector;
use tonic::transport::{Channel, Endpoint};

use crate::tls::{self, ClientFiles};

/// The lab's TLS material.
pub struct LabTls {
    pki: PathBuf,
    /// For gRPC (ALPN h2).
    grpc: Arc<rustls::ClientConfig>,
    /// For the members' HTTP endpoints (ALPN http/1.1).
    pub http: TlsConnector,
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
            grpc: tls::client_config(&client, tls::ALPN_H2)?,
            http: tls::client_config(&client, &[b"http/1.1"])?.into(),
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
    tls: Option<&LabTls>,
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
