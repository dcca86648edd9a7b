//! `etcdlab certs init --dir DIR --hosts HOST,...`: the certificates a TLS cluster needs, made
//! without cfssl or kubeadm — a CA, then certificates signed by it for the members' client
//! side (server), their peer side, and clients.
//!
//! The file names follow one of the two layouts the course uses, so its command lines work with
//! only the directory changed:
//!
//! - `kubeadm` (default, `/etc/kubernetes/pki/etcd`): `ca.crt ca.key`, `server.crt server.key`
//!   and `peer.crt peer.key` (serving and client use, for every host given), and the clients
//!   `healthcheck-client.crt/.key` and `apiserver-etcd-client.crt/.key`.
//! - `cfssl` (`course-notes/004`): `ca.pem ca-key.pem`, and one `etcd.pem etcd-key.pem` that the
//!   members use for clients, peers and as etcdctl's client certificate.
//!
//! Keys are ECDSA P-256, written mode 0600. Member certificates name every `--hosts` entry
//! (IP addresses as IP SANs) plus `localhost`, `127.0.0.1` and `::1`. Existing files are never
//! overwritten unless `--force`.

use std::ffi::OsString;
use std::fs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand, ValueEnum};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use time::{Duration, OffsetDateTime};

/// `etcdlab certs`: certificates for TLS clusters.
#[derive(Parser, Debug)]
#[command(name = "etcdlab certs")]
struct CertsFlags {
    #[command(subcommand)]
    command: CertsCommand,
}

#[derive(Subcommand, Debug)]
enum CertsCommand {
    /// Creates a CA and the member and client certificates signed by it.
    Init(InitFlags),
}

#[derive(Parser, Debug)]
struct InitFlags {
    /// Directory to write the files into (created if missing).
    #[arg(long)]
    dir: PathBuf,
    /// Host names and IP addresses the members answer on, comma separated.
    #[arg(long, value_delimiter = ',', default_value = "127.0.0.1")]
    hosts: Vec<String>,
    /// File names as kubeadm writes them, or as the cfssl steps of the course do.
    #[arg(long, value_enum, default_value_t = Layout::Kubeadm)]
    layout: Layout,
    /// Days the certificates stay valid (the CA: ten times as long).
    #[arg(long, default_value_t = 365)]
    days: i64,
    /// Replace files that already exist.
    #[arg(long)]
    force: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Layout {
    Kubeadm,
    Cfssl,
}

pub fn main(args: Vec<OsString>) -> ExitCode {
    let flags = match crate::tool::parse::<CertsFlags>(args) {
        Ok(flags) => flags,
        Err(code) => return code,
    };
    let CertsCommand::Init(init) = flags.command;
    match write_all(&init) {
        Ok(files) => {
            for file in files {
                println!("wrote {}", file.display());
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("etcdlab certs: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// One certificate to issue: its file stem, subject, and whether members serve with it.
struct Leaf {
    stem: &'static str,
    common_name: String,
    organization: Option<&'static str>,
    serves: bool,
}

/// `(certificate file, key file)` names of the CA and of each leaf in a layout.
fn file_names(layout: Layout, stem: &str) -> (String, String) {
    match layout {
        Layout::Kubeadm => (format!("{stem}.crt"), format!("{stem}.key")),
        Layout::Cfssl => (format!("{stem}.pem"), format!("{stem}-key.pem")),
    }
}

fn leaves(layout: Layout, hosts: &[String]) -> Vec<Leaf> {
    let member_name = hosts.first().cloned().unwrap_or_else(|| "etcd".into());
    match layout {
        Layout::Kubeadm => vec![
            Leaf {
                stem: "server",
                common_name: member_name.clone(),
                organization: None,
                serves: true,
            },
            Leaf {
                stem: "peer",
                common_name: member_name,
                organization: None,
                serves: true,
            },
            Leaf {
                stem: "healthcheck-client",
                common_name: "kube-etcd-healthcheck-client".into(),
                organization: Some("system:masters"),
                serves: false,
            },
            Leaf {
                stem: "apiserver-etcd-client",
                common_name: "kube-apiserver-etcd-client".into(),
                organization: Some("system:masters"),
                serves: false,
            },
        ],
        Layout::Cfssl => vec![Leaf {
            stem: "etcd",
            common_name: "etcd".into(),
            organization: Some("k8s"),
            serves: true,
        }],
    }
}

/// The certificates of `etcdlab lab --tls` in `dir`: kubeadm's layout, for 127.0.0.1.
pub fn init_for_lab(dir: &Path) -> anyhow::Result<()> {
    write_all(&InitFlags {
        dir: dir.to_path_buf(),
        hosts: vec!["127.0.0.1".into()],
        layout: Layout::Kubeadm,
        days: 365,
        force: false,
    })
    .map(drop)
}

/// Issues everything and writes it; returns the files written.
fn write_all(flags: &InitFlags) -> anyhow::Result<Vec<PathBuf>> {
    if flags.days < 1 {
        bail!("--days must be at least 1");
    }
    fs::create_dir_all(&flags.dir).with_context(|| format!("creating {}", flags.dir.display()))?;
    let leaves = leaves(flags.layout, &flags.hosts);
    let mut planned = vec![file_names(flags.layout, "ca")];
    planned.extend(leaves.iter().map(|l| file_names(flags.layout, l.stem)));
    if !flags.force {
        for (cert, key) in &planned {
            for name in [cert, key] {
                let path = flags.dir.join(name);
                if path.exists() {
                    bail!(
                        "{} already exists: give --force to replace the certificates in {}",
                        path.display(),
                        flags.dir.display()
                    );
                }
            }
        }
    }
    let now = OffsetDateTime::now_utc();
    let (ca_cert_name, ca_key_name) = &planned[0];
    let ca_key = KeyPair::generate().context("generating the CA key")?;
    let ca_key_pem = ca_key.serialize_pem();
    let ca = CertifiedIssuer::self_signed(ca_params(now, flags.days)?, ca_key)
        .context("signing the CA certificate")?;
    let mut written = vec![
        write_file(&flags.dir.join(ca_cert_name), &ca.pem(), false)?,
        write_file(&flags.dir.join(ca_key_name), &ca_key_pem, true)?,
    ];
    for (leaf, (cert_name, key_name)) in leaves.iter().zip(&planned[1..]) {
        let key = KeyPair::generate().context("generating a key")?;
        let params = leaf_params(leaf, &flags.hosts, now, flags.days)?;
        let cert = params
            .signed_by(&key, &ca)
            .with_context(|| format!("signing {cert_name}"))?;
        written.push(write_file(&flags.dir.join(cert_name), &cert.pem(), false)?);
        written.push(write_file(
            &flags.dir.join(key_name),
            &key.serialize_pem(),
            true,
        )?);
    }
    Ok(written)
}

fn ca_params(now: OffsetDateTime, days: i64) -> anyhow::Result<CertificateParams> {
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params
        .distinguished_name
        .push(DnType::CommonName, "etcd-ca");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params.not_before = now - Duration::hours(1);
    params.not_after = now + Duration::days(days * 10);
    Ok(params)
}

fn leaf_params(
    leaf: &Leaf,
    hosts: &[String],
    now: OffsetDateTime,
    days: i64,
) -> anyhow::Result<CertificateParams> {
    let names: Vec<String> = if leaf.serves {
        let mut names: Vec<String> = hosts.iter().map(|h| h.trim().to_string()).collect();
        for local in ["localhost", "127.0.0.1", "::1"] {
            if !names.iter().any(|n| n == local) {
                names.push(local.to_string());
            }
        }
        names.retain(|n| !n.is_empty());
        names
    } else {
        Vec::new()
    };
    let mut params = CertificateParams::new(names)
        .with_context(|| format!("the hosts {hosts:?} are not valid names or addresses"))?;
    params
        .distinguished_name
        .push(DnType::CommonName, leaf.common_name.as_str());
    if let Some(org) = leaf.organization {
        params
            .distinguished_name
            .push(DnType::OrganizationName, org);
    }
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.extended_key_usages = if leaf.serves {
        // Members serve with it and present it to their peers (and the course's etcdctl lines
        // use the server certificate as their client certificate).
        vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ]
    } else {
        vec![ExtendedKeyUsagePurpose::ClientAuth]
    };
    params.use_authority_key_identifier_extension = true;
    params.not_before = now - Duration::hours(1);
    params.not_after = now + Duration::days(days);
    Ok(params)
}

/// Writes `text` to `path` (a key readable by its owner only); returns the path.
fn write_file(path: &Path, text: &str, secret: bool) -> anyhow::Result<PathBuf> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    if secret {
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    file.write_all(text.as_bytes())
        .with_context(|| format!("writing {}", path.display()))?;
    if secret {
        // A replaced key file keeps its old mode otherwise.
        fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o600))
            .with_context(|| format!("restricting {}", path.display()))?;
    }
    Ok(path.to_path_buf())
}
