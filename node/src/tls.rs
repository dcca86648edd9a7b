//! TLS shared by every side of etcdlab: reading PEM certificate and key files, and building the
//! rustls configurations the member's client port and peer port accept with, and the ones our
//! clients (`etcdlab ctl`, the peer transport, the lab) dial with.
//!
//! Everything uses the `ring` crypto provider explicitly, so no process-wide default is needed.
//! A file that is missing or holds no usable PEM is an error naming the file, never a panic.
//!
//! Certificate, key and trusted CA files are read again when they change on disk (checked at
//! most once a second, at a handshake): a renewed certificate or CA bundle takes effect without
//! a restart, on the listening side and on the dialing side (a member dialing its peers) alike,
//! and a changed file that does not load keeps the old one (logged). A client given no CA file
//! trusts the system's roots (`SSL_CERT_FILE`, `SSL_CERT_DIR` or the distribution's bundle), as
//! etcdctl does.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, bail};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{ResolvesClientCert, WebPkiServerVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls::{
    ClientConfig, DigitallySignedStruct, DistinguishedName, RootCertStore, ServerConfig,
    SignatureScheme,
};

/// ALPN for a port that serves gRPC (HTTP/2) and plain HTTP/1.1 endpoints.
pub const ALPN_HTTP: &[&[u8]] = &[b"h2", b"http/1.1"];
/// ALPN a gRPC client offers.
pub const ALPN_H2: &[&[u8]] = &[b"h2"];

/// What a listening side (a member's client or peer port) serves with.
#[derive(Clone, Debug)]
pub struct ServerFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
    /// The CA clients' certificates must be signed by (`--trusted-ca-file`).
    pub trusted_ca: Option<PathBuf>,
    /// Require a client certificate signed by `trusted_ca` (`--client-cert-auth`).
    pub client_cert_auth: bool,
}

/// What a dialing side presents and trusts.
#[derive(Clone, Debug, Default)]
pub struct ClientFiles {
    /// The CA the server's certificate must be signed by (`--cacert`).
    pub trusted_ca: Option<PathBuf>,
    /// Our certificate and key (`--cert`, `--key`).
    pub identity: Option<(PathBuf, PathBuf)>,
    /// Accept any server certificate (`--insecure-skip-tls-verify`).
    pub skip_verify: bool,
}

impl ServerFiles {
    /// The client side of the same files, as a member dials its peers: its own certificate as
    /// identity, the same CA as trust.
    pub fn as_client(&self) -> ClientFiles {
        ClientFiles {
            trusted_ca: self.trusted_ca.clone(),
            identity: Some((self.cert.clone(), self.key.clone())),
            skip_verify: false,
        }
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Every certificate in a PEM file (at least one).
fn certificates(path: &Path) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .with_context(|| format!("cannot read PEM certificates from {}", path.display()))?;
    if certs.is_empty() {
        bail!("{} holds no PEM certificate", path.display());
    }
    Ok(certs)
}

fn private_key(path: &Path) -> anyhow::Result<PrivateKeyDer<'static>> {
    PrivateKeyDer::from_pem_file(path)
        .with_context(|| format!("cannot read a PEM private key from {}", path.display()))
}

fn roots(ca: &Path) -> anyhow::Result<Arc<RootCertStore>> {
    let mut store = RootCertStore::empty();
    for cert in certificates(ca)? {
        store
            .add(cert)
            .with_context(|| format!("{} holds an unusable CA certificate", ca.display()))?;
    }
    Ok(Arc::new(store))
}

/// The configuration a member's port accepts TLS connections with.
pub fn server_config(files: &ServerFiles, alpn: &[&[u8]]) -> anyhow::Result<Arc<ServerConfig>> {
    let builder = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?;
    let builder = match (&files.trusted_ca, files.client_cert_auth) {
        (Some(ca), true) => builder
            .with_client_cert_verifier(Arc::new(ReloadingVerifier::new(ca, client_verifier)?)),
        (None, true) => bail!("client certificate authentication needs a trusted CA file"),
        (_, false) => builder.with_no_client_auth(),
    };
    let mut config =
        builder.with_cert_resolver(Arc::new(ReloadingCert::new(&files.cert, &files.key)?));
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(Arc::new(config))
}

/// A certificate and key (a member's, or a client's identity) read again when their files
/// change.
#[derive(Debug)]
struct ReloadingCert {
    cert: PathBuf,
    key: PathBuf,
    loaded: Mutex<Loaded<Arc<CertifiedKey>>>,
}

/// What was last read from some files, and when they were last looked at.
#[derive(Debug)]
struct Loaded<T> {
    value: T,
    /// Modification times of the files when last looked at.
    stamp: Option<Vec<SystemTime>>,
    checked: Instant,
}

impl<T: Clone> Loaded<T> {
    fn new(value: T, paths: &[&Path]) -> Loaded<T> {
        Loaded {
            value,
            stamp: file_stamp(paths),
            checked: Instant::now(),
        }
    }

    /// The value, read again with `load` first if `paths` changed since they were last looked
    /// at (at most once a second); a reading that fails keeps the old value. `what` names the
    /// value in the log.
    fn current(
        &mut self,
        what: &str,
        paths: &[&Path],
        load: impl FnOnce() -> anyhow::Result<T>,
    ) -> T {
        if self.checked.elapsed() >= Duration::from_secs(1) {
            self.checked = Instant::now();
            let stamp = file_stamp(paths);
            if stamp != self.stamp {
                self.stamp = stamp;
                match load() {
                    Ok(value) => {
                        tracing::info!(file = %paths[0].display(), "reloaded the {what}");
                        self.value = value;
                    }
                    Err(e) => tracing::warn!("keeping the {what} in use: {e:#}"),
                }
            }
        }
        self.value.clone()
    }
}

fn file_stamp(paths: &[&Path]) -> Option<Vec<SystemTime>> {
    paths
        .iter()
        .map(|path| std::fs::metadata(path).and_then(|m| m.modified()).ok())
        .collect()
}

impl ReloadingCert {
    fn new(cert: &Path, key: &Path) -> anyhow::Result<ReloadingCert> {
        Ok(ReloadingCert {
            loaded: Mutex::new(Loaded::new(certified_key(cert, key)?, &[cert, key])),
            cert: cert.to_path_buf(),
            key: key.to_path_buf(),
        })
    }

    fn current(&self) -> Arc<CertifiedKey> {
        let mut loaded = self.loaded.lock().unwrap_or_else(|p| p.into_inner());
        loaded.current("TLS certificate", &[&self.cert, &self.key], || {
            certified_key(&self.cert, &self.key)
        })
    }
}

fn certified_key(cert: &Path, key: &Path) -> anyhow::Result<Arc<CertifiedKey>> {
    let pair = CertifiedKey::from_der(certificates(cert)?, private_key(key)?, &provider())
        .with_context(|| {
            format!(
                "{} and {} are not a usable certificate and key pair",
                cert.display(),
                key.display()
            )
        })?;
    Ok(Arc::new(pair))
}

impl ResolvesServerCert for ReloadingCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current())
    }
}

impl ResolvesClientCert for ReloadingCert {
    fn resolve(
        &self,
        _root_hint_subjects: &[&[u8]],
        _sigschemes: &[SignatureScheme],
    ) -> Option<Arc<CertifiedKey>> {
        Some(self.current())
    }

    fn has_certs(&self) -> bool {
        true
    }
}

/// A certificate verifier (of clients' or of servers' certificates) built again from its CA
/// file when the file changes. Handshake signatures do not depend on the CA: they are checked
/// with the provider's algorithms, without looking at the files again.
#[derive(Debug)]
struct ReloadingVerifier<V: ?Sized> {
    ca: PathBuf,
    build: fn(&Path) -> anyhow::Result<Arc<V>>,
    loaded: Mutex<Loaded<Arc<V>>>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl<V: ?Sized> ReloadingVerifier<V> {
    fn new(ca: &Path, build: fn(&Path) -> anyhow::Result<Arc<V>>) -> anyhow::Result<Self> {
        Ok(ReloadingVerifier {
            loaded: Mutex::new(Loaded::new(build(ca)?, &[ca])),
            ca: ca.to_path_buf(),
            build,
            algorithms: provider().signature_verification_algorithms,
        })
    }

    fn current(&self) -> Arc<V> {
        let mut loaded = self.loaded.lock().unwrap_or_else(|p| p.into_inner());
        loaded.current("trusted CA file", &[&self.ca], || (self.build)(&self.ca))
    }
}

fn client_verifier(ca: &Path) -> anyhow::Result<Arc<dyn ClientCertVerifier>> {
    WebPkiClientVerifier::builder_with_provider(roots(ca)?, provider())
        .build()
        .context("client certificate verifier")
}

fn server_verifier(ca: &Path) -> anyhow::Result<Arc<WebPkiServerVerifier>> {
    WebPkiServerVerifier::builder_with_provider(roots(ca)?, provider())
        .build()
        .context("server certificate verifier")
}

impl ClientCertVerifier for ReloadingVerifier<dyn ClientCertVerifier> {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        // The CA may change under us; clients pick their certificate without hints.
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        self.current()
            .verify_client_cert(end_entity, intermediates, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

impl ServerCertVerifier for ReloadingVerifier<WebPkiServerVerifier> {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.current().verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        )
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// The configuration a client dials TLS servers with.
pub fn client_config(files: &ClientFiles, alpn: &[&[u8]]) -> anyhow::Result<Arc<ClientConfig>> {
    let builder = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?;
    let builder = if files.skip_verify {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyServerCertificate(
                provider().signature_verification_algorithms,
            )))
    } else {
        match &files.trusted_ca {
            Some(ca) => builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(ReloadingVerifier::new(
                    ca,
                    server_verifier,
                )?)),
            None => builder.with_root_certificates(system_roots()),
        }
    };
    let mut config = match &files.identity {
        Some((cert, key)) => {
            builder.with_client_cert_resolver(Arc::new(ReloadingCert::new(cert, key)?))
        }
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(Arc::new(config))
}

/// The system's trusted roots, as Go programs such as etcdctl find them; certificates that do
/// not load are skipped (logged), and no usable root leaves the store empty (every server is
/// then refused with "unknown issuer").
fn system_roots() -> Arc<RootCertStore> {
    let found = rustls_native_certs::load_native_certs();
    for error in &found.errors {
        tracing::debug!("system trusted roots: {error}");
    }
    let mut store = RootCertStore::empty();
    let (_, unusable) = store.add_parsable_certificates(found.certs);
    if unusable > 0 {
        tracing::debug!("skipped {unusable} unusable system root certificates");
    }
    Arc::new(store)
}

/// The name a server's certificate is checked against: the host of `host:port` (an IP address
/// or a DNS name; IPv6 may be bracketed).
pub fn server_name(host_port: &str) -> std::io::Result<ServerName<'static>> {
    let host = host_port
        .rsplit_once(':')
        .map_or(host_port, |(host, _)| host)
        .trim_start_matches('[')
        .trim_end_matches(']');
    ServerName::try_from(host.to_string()).map_err(|_| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("{host:?} is not a valid TLS server name"),
        )
    })
}

/// `--insecure-skip-tls-verify`: any server certificate is accepted; signatures are still
/// checked so the handshake itself stays sound.
#[derive(Debug)]
struct AnyServerCertificate(WebPkiSupportedAlgorithms);

impl ServerCertVerifier for AnyServerCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_schemes()
    }
}

/// A gRPC channel to `endpoint` (an `http://host:port` URI) over TLS made with `config`.
pub async fn grpc_channel(
    endpoint: tonic::transport::Endpoint,
    config: Arc<ClientConfig>,
) -> Result<tonic::transport::Channel, tonic::transport::Error> {
    let connector = tokio_rustls::TlsConnector::from(config);
    endpoint
        .connect_with_connector(tower::service_fn(move |uri: tonic::codegen::http::Uri| {
            let connector = connector.clone();
            async move {
                let addr = uri.authority().map(|a| a.to_string()).unwrap_or_default();
                let tcp = tokio::net::TcpStream::connect(&addr).await?;
                tcp.set_nodelay(true)?;
                let tls = connector.connect(server_name(&addr)?, tcp).await?;
                Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(tls))
            }
        }))
        .await
}

/// The subject's common name (CN) of a DER certificate, if it has one: what etcd takes as the
/// user name of a client that sends no auth token.
pub fn common_name(cert: &CertificateDer<'_>) -> Option<String> {
    // Certificate ::= SEQUENCE { tbsCertificate SEQUENCE { [0] version OPTIONAL, serial,
    //   signature, issuer, validity, subject, ... }, ... }
    let (_, certificate, _) = der_item(cert.as_ref())?;
    let (_, tbs, _) = der_item(certificate)?;
    let mut rest = tbs;
    let (tag, _, after) = der_item(rest)?;
    if tag == 0xA0 {
        rest = after;
    }
    for _ in 0..4 {
        rest = der_item(rest)?.2; // serial, signature, issuer, validity
    }
    let (_, mut subject, _) = der_item(rest)?;
    // Name ::= SEQUENCE OF SET OF SEQUENCE { type OID, value }
    while !subject.is_empty() {
        let (_, set, after) = der_item(subject)?;
        subject = after;
        let (_, attribute, _) = der_item(set)?;
        let (_, oid, value) = der_item(attribute)?;
        if oid == [0x55, 0x04, 0x03] {
            let (_, name, _) = der_item(value)?;
            return String::from_utf8(name.to_vec()).ok();
        }
    }
    None
}

/// One DER item: its tag, its contents and what follows it.
fn der_item(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, input) = input.split_first()?;
    let (&first, mut input) = input.split_first()?;
    let len = if first < 0x80 {
        first as usize
    } else {
        let bytes = (first & 0x7f) as usize;
        if bytes == 0 || bytes > 4 || input.len() < bytes {
            return None;
        }
        let (len_bytes, after) = input.split_at(bytes);
        input = after;
        len_bytes.iter().fold(0usize, |n, b| (n << 8) | *b as usize)
    };
    (input.len() >= len).then(|| (tag, &input[..len], &input[len..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_common_name_is_read_from_a_certificate() {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()]).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::OrganizationName, "system:masters");
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "kube-apiserver-etcd-client");
        let cert = params.self_signed(&key).unwrap();
        assert_eq!(
            common_name(cert.der()).as_deref(),
            Some("kube-apiserver-etcd-client")
        );
        let params = rcgen::CertificateParams::new(vec!["x".to_string()]).unwrap();
        let mut params = params;
        params.distinguished_name = rcgen::DistinguishedName::new();
        let cert = params.self_signed(&key).unwrap();
        assert_eq!(common_name(cert.der()), None);
        assert_eq!(common_name(&CertificateDer::from(vec![0x30, 0x85])), None);
    }
}
