//! Certificates for the TLS tests: a set from `etcdlab certs init` (as students make theirs),
//! paths into it, and client certificates signed by its CA with a validity the test chooses
//! (an expired one, for the refusal tests), made with rcgen as `etcdlab certs` makes its own.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
};
use time::OffsetDateTime;

use super::{Output, etcdlab_bin, run};

/// `etcdlab certs init --dir dir --hosts hosts` with `more` flags, as run.
pub fn certs_init(dir: &Path, hosts: &str, more: &[&str]) -> Output {
    let mut args = vec![
        "certs".to_string(),
        "init".into(),
        "--dir".into(),
        dir.display().to_string(),
        "--hosts".into(),
        hosts.into(),
    ];
    args.extend(more.iter().map(|s| s.to_string()));
    run(&etcdlab_bin(), &args, &[], None, Duration::from_secs(30))
}

/// A kubeadm-layout set in `dir` for `hosts`, which must be made.
pub fn pki(dir: &Path, hosts: &str) -> PathBuf {
    let out = certs_init(dir, hosts, &[]);
    assert_eq!(out.code, 0, "certs init: {}", out.stderr);
    dir.to_path_buf()
}

/// The path of `name` in `pki`, as a flag value.
pub fn file(pki: &Path, name: &str) -> String {
    pki.join(name).display().to_string()
}

/// A client certificate for `common_name`, signed by the kubeadm-layout CA of `pki`, valid
/// from `not_before` to `not_after`; written as `<stem>.crt` and `<stem>.key` in `pki`.
pub fn client_cert(
    pki: &Path,
    stem: &str,
    common_name: &str,
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
) {
    let ca_key = KeyPair::from_pem(&std::fs::read_to_string(pki.join("ca.key")).unwrap())
        .expect("the CA key of certs init");
    // The issuer as `etcdlab certs init` names its CA; the signature is what clients check.
    let mut ca = CertificateParams::default();
    ca.distinguished_name.push(DnType::CommonName, "etcd-ca");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let issuer = Issuer::new(ca, ca_key);
    let mut params = CertificateParams::default();
    params
        .distinguished_name
        .push(DnType::CommonName, common_name);
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    params.use_authority_key_identifier_extension = true;
    params.not_before = not_before;
    params.not_after = not_after;
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, &issuer).unwrap();
    std::fs::write(pki.join(format!("{stem}.crt")), cert.pem()).unwrap();
    std::fs::write(pki.join(format!("{stem}.key")), key.serialize_pem()).unwrap();
}
