//! etcd's command-line flags and `ETCD_*` environment variables, with etcd's names and
//! defaults, turned into a checked [`ServerConfig`].
//!
//! Go's flag package accepts `-name` as well as `--name`; [`normalize_go_flags`] rewrites the
//! single-dash form so unit files written for etcd work unchanged.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Parser;
use url::Url;

use super::data_dir;
use crate::tls::ServerFiles;

const AFTER_HELP: &str = "\
Honoured now: --name --data-dir --listen-client-urls --advertise-client-urls
  --listen-peer-urls --initial-advertise-peer-urls --initial-cluster --initial-cluster-state
  --initial-cluster-token --heartbeat-interval --election-timeout --max-request-bytes --pre-vote
  --snapshot-count (applied entries kept before the Raft log is compacted; members further
  behind are caught up by snapshot), --quota-backend-bytes (a write beyond it raises the
  NOSPACE alarm; then only reads and deletes work until `etcdctl alarm disarm`), --wal-dir
  (where the Raft journal is kept, e.g. on another disk; default: the data dir's member/).
Accepted, honoured as their features land:
  --auto-compaction-mode and --auto-compaction-retention (automatic compaction).
--listen-metrics-urls: extra http(s) listeners for /metrics, /health, /livez, /readyz and
  /debug/raft/events only.
TLS: https:// client URLs are served with --cert-file/--key-file; --trusted-ca-file with
  --client-cert-auth requires client certificates signed by that CA. With --peer-cert-file/
  --peer-key-file peers dial and accept TLS (--peer-trusted-ca-file, --peer-client-cert-auth).
Every flag can also be set by its ETCD_* environment variable (e.g. ETCD_DATA_DIR).";

/// `etcdlab etcd`: one etcd member.
#[derive(Parser, Debug, Clone)]
#[command(name = "etcd", version = etcdlab_core::member::CLUSTER_API_VERSION, after_help = AFTER_HELP)]
pub struct EtcdFlags {
    /// Human-readable name for this member.
    #[arg(long, env = "ETCD_NAME", default_value = "default")]
    pub name: String,
    /// Path to the data directory (default: ${name}.etcd).
    #[arg(long = "data-dir", env = "ETCD_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Path to the dedicated WAL directory: etcdlab keeps its Raft journal there.
    #[arg(long = "wal-dir", env = "ETCD_WAL_DIR")]
    pub wal_dir: Option<PathBuf>,
    /// List of URLs to listen on for client traffic.
    #[arg(
        long = "listen-client-urls",
        env = "ETCD_LISTEN_CLIENT_URLS",
        default_value = "http://localhost:2379"
    )]
    pub listen_client_urls: String,
    /// List of URLs to listen on for the metrics and health endpoints (`/metrics`, `/health`,
    /// `/livez`, `/readyz`, and `/debug/raft/events`); https:// ones use the client TLS files.
    #[arg(long = "listen-metrics-urls", env = "ETCD_LISTEN_METRICS_URLS")]
    pub listen_metrics_urls: Option<String>,
    /// List of this member's client URLs to advertise to the rest of the cluster.
    #[arg(
        long = "advertise-client-urls",
        env = "ETCD_ADVERTISE_CLIENT_URLS",
        default_value = "http://localhost:2379"
    )]
    pub advertise_client_urls: String,
    /// List of URLs to listen on for peer traffic.
    #[arg(
        long = "listen-peer-urls",
        env = "ETCD_LISTEN_PEER_URLS",
        default_value = "http://localhost:2380"
    )]
    pub listen_peer_urls: String,
    /// List of this member's peer URLs to advertise to the rest of the cluster.
    #[arg(
        long = "initial-advertise-peer-urls",
        env = "ETCD_INITIAL_ADVERTISE_PEER_URLS",
        default_value = "http://localhost:2380"
    )]
    pub initial_advertise_peer_urls: String,
    /// Initial cluster configuration for bootstrapping: name=peerURL,... (default: ${name}=<initial-advertise-peer-urls>).
    #[arg(long = "initial-cluster", env = "ETCD_INITIAL_CLUSTER")]
    pub initial_cluster: Option<String>,
    /// Initial cluster state ('new' or 'existing').
    #[arg(
        long = "initial-cluster-state",
        env = "ETCD_INITIAL_CLUSTER_STATE",
        default_value = "new"
    )]
    pub initial_cluster_state: String,
    /// Initial cluster token for the etcd cluster during bootstrap.
    #[arg(
        long = "initial-cluster-token",
        env = "ETCD_INITIAL_CLUSTER_TOKEN",
        default_value = "etcd-cluster"
    )]
    pub initial_cluster_token: String,
    /// Time (in milliseconds) of a heartbeat interval.
    #[arg(
        long = "heartbeat-interval",
        env = "ETCD_HEARTBEAT_INTERVAL",
        default_value_t = 100
    )]
    pub heartbeat_interval: u64,
    /// Time (in milliseconds) for an election to timeout.
    #[arg(
        long = "election-timeout",
        env = "ETCD_ELECTION_TIMEOUT",
        default_value_t = 1000
    )]
    pub election_timeout: u64,
    /// Maximum client request size in bytes the server will accept.
    #[arg(
        long = "max-request-bytes",
        env = "ETCD_MAX_REQUEST_BYTES",
        default_value_t = 1_572_864
    )]
    pub max_request_bytes: u32,
    /// Raise alarms when backend size exceeds the given quota (0 defaults to low space quota).
    #[arg(
        long = "quota-backend-bytes",
        env = "ETCD_QUOTA_BACKEND_BYTES",
        default_value_t = 0
    )]
    pub quota_backend_bytes: i64,
    /// Interpret 'auto-compaction-retention' one of: periodic|revision.
    #[arg(
        long = "auto-compaction-mode",
        env = "ETCD_AUTO_COMPACTION_MODE",
        default_value = "periodic"
    )]
    pub auto_compaction_mode: String,
    /// Auto compaction retention for mvcc key value store. 0 means disable auto compaction.
    #[arg(
        long = "auto-compaction-retention",
        env = "ETCD_AUTO_COMPACTION_RETENTION",
        default_value = "0"
    )]
    pub auto_compaction_retention: String,
    /// Number of committed transactions to trigger a snapshot to disk.
    #[arg(
        long = "snapshot-count",
        env = "ETCD_SNAPSHOT_COUNT",
        default_value_t = 100_000
    )]
    pub snapshot_count: u64,
    /// Enable the Raft pre-vote algorithm to prevent disruption when a partitioned or restarted
    /// member rejoins (on by default, as in etcd 3.5; `--pre-vote=false` for etcd 3.4's behaviour).
    #[arg(long = "pre-vote", env = "ETCD_PRE_VOTE", default_value_t = true, num_args = 0..=1, default_missing_value = "true", action = clap::ArgAction::Set)]
    pub pre_vote: bool,
    /// Accept injected faults (partitions, message loss and delay, pause, slow disk) on
    /// `POST /debug/faults` of the client URL: for labs and tests, never for production.
    #[arg(long = "experimental-fault-injection", env = "ETCD_EXPERIMENTAL_FAULT_INJECTION", default_value_t = false, num_args = 0..=1, default_missing_value = "true", action = clap::ArgAction::Set)]
    pub experimental_fault_injection: bool,
    /// Duration of periodic watch progress notifications.
    #[arg(
        long = "experimental-watch-progress-notify-interval",
        env = "ETCD_EXPERIMENTAL_WATCH_PROGRESS_NOTIFY_INTERVAL",
        default_value = "10m0s"
    )]
    pub experimental_watch_progress_notify_interval: String,
    /// etcdlab only: MiB of the database's page cache (pages read or written are kept up to this
    /// size). Beyond it reads go to the file, which the kernel's page cache still holds.
    #[arg(
        long = "experimental-backend-cache-mib",
        env = "ETCD_EXPERIMENTAL_BACKEND_CACHE_MIB",
        default_value_t = data_dir::DEFAULT_CACHE_MIB
    )]
    pub experimental_backend_cache_mib: usize,
    /// Path to the client server TLS cert file.
    #[arg(long = "cert-file", env = "ETCD_CERT_FILE")]
    pub cert_file: Option<PathBuf>,
    /// Path to the client server TLS key file.
    #[arg(long = "key-file", env = "ETCD_KEY_FILE")]
    pub key_file: Option<PathBuf>,
    /// Path to the client server TLS trusted CA cert file.
    #[arg(long = "trusted-ca-file", env = "ETCD_TRUSTED_CA_FILE")]
    pub trusted_ca_file: Option<PathBuf>,
    /// Enable client cert authentication.
    #[arg(long = "client-cert-auth", env = "ETCD_CLIENT_CERT_AUTH", default_value_t = false, num_args = 0..=1, default_missing_value = "true", action = clap::ArgAction::Set)]
    pub client_cert_auth: bool,
    /// Path to the peer server TLS cert file.
    #[arg(long = "peer-cert-file", env = "ETCD_PEER_CERT_FILE")]
    pub peer_cert_file: Option<PathBuf>,
    /// Path to the peer server TLS key file.
    #[arg(long = "peer-key-file", env = "ETCD_PEER_KEY_FILE")]
    pub peer_key_file: Option<PathBuf>,
    /// Path to the peer server TLS trusted CA file.
    #[arg(long = "peer-trusted-ca-file", env = "ETCD_PEER_TRUSTED_CA_FILE")]
    pub peer_trusted_ca_file: Option<PathBuf>,
    /// Enable peer client cert authentication.
    #[arg(long = "peer-client-cert-auth", env = "ETCD_PEER_CLIENT_CERT_AUTH", default_value_t = false, num_args = 0..=1, default_missing_value = "true", action = clap::ArgAction::Set)]
    pub peer_client_cert_auth: bool,
    /// Currently only supports 'zap' for structured logging (accepted for compatibility).
    #[arg(long = "logger", env = "ETCD_LOGGER", default_value = "zap")]
    pub logger: String,
    /// Configures log level. Only supports debug, info, warn, error, panic, or fatal.
    #[arg(long = "log-level", env = "ETCD_LOG_LEVEL", default_value = "info")]
    pub log_level: String,
}

/// One member of `--initial-cluster`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InitialMember {
    pub name: String,
    pub peer_urls: Vec<String>,
}

/// The checked configuration the server runs with.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    pub name: String,
    pub data_dir: PathBuf,
    /// Where the Raft journal goes instead of `<data-dir>/member` (`--wal-dir`).
    pub wal_dir: Option<PathBuf>,
    pub listen_client: Vec<Url>,
    pub listen_peer: Vec<Url>,
    /// Extra listeners for the metrics and health endpoints only (`--listen-metrics-urls`).
    pub listen_metrics: Vec<Url>,
    /// What `https://` client (and metrics) URLs serve with (`--cert-file`, `--key-file`, ...).
    pub client_tls: Option<ServerFiles>,
    /// When set, peer connections (both ways) use TLS (`--peer-cert-file`, ...).
    pub peer_tls: Option<ServerFiles>,
    pub advertise_client_urls: Vec<String>,
    pub initial_cluster: Vec<InitialMember>,
    pub new_cluster: bool,
    pub token: String,
    pub tick: Duration,
    pub election_ticks: usize,
    pub max_request_bytes: usize,
    pub pre_vote: bool,
    pub snapshot_count: u64,
    pub fault_injection: bool,
    /// How often watchers that asked for progress notifications get one.
    pub watch_progress_interval: Duration,
    /// Backend size beyond which writes raise NOSPACE (None: no quota).
    pub quota_backend_bytes: Option<u64>,
    /// Bytes of the database's page cache.
    pub backend_cache_bytes: usize,
}

/// etcd's default backend quota when `--quota-backend-bytes` is 0.
const DEFAULT_QUOTA_BYTES: u64 = 2 * 1024 * 1024 * 1024;

/// Rewrites Go-style `-flag` / `-flag=value` into `--flag` so clap accepts etcd's spellings.
pub fn normalize_go_flags(args: Vec<OsString>) -> Vec<OsString> {
    args.into_iter()
        .enumerate()
        .map(|(i, a)| match a.to_str() {
            Some(s) if i > 0 && s.len() > 2 && s.starts_with('-') && !s.starts_with("--") => {
                OsString::from(format!("-{s}"))
            }
            _ => a,
        })
        .collect()
}

impl EtcdFlags {
    /// Checks the flags the way etcd does and derives the server configuration.
    pub fn into_config(self) -> anyhow::Result<ServerConfig> {
        let listen_client = parse_urls(&self.listen_client_urls, "--listen-client-urls")?;
        let client_tls = tls_files(
            (&self.cert_file, "--cert-file"),
            (&self.key_file, "--key-file"),
            &self.trusted_ca_file,
            self.client_cert_auth,
        )?;
        check_schemes(
            &listen_client,
            "--listen-client-urls",
            &client_tls,
            "--cert-file",
        )?;
        let listen_metrics = match &self.listen_metrics_urls {
            Some(list) if !list.trim().is_empty() => parse_urls(list, "--listen-metrics-urls")?,
            _ => Vec::new(),
        };
        check_schemes(
            &listen_metrics,
            "--listen-metrics-urls",
            &client_tls,
            "--cert-file",
        )?;
        let advertise_client_urls =
            url_strings(&self.advertise_client_urls, "--advertise-client-urls")?;
        let advertise_peer_urls = url_strings(
            &self.initial_advertise_peer_urls,
            "--initial-advertise-peer-urls",
        )?;
        let listen_peer = parse_urls(&self.listen_peer_urls, "--listen-peer-urls")?;
        let peer_tls = tls_files(
            (&self.peer_cert_file, "--peer-cert-file"),
            (&self.peer_key_file, "--peer-key-file"),
            &self.peer_trusted_ca_file,
            self.peer_client_cert_auth,
        )?;
        check_schemes(
            &listen_peer,
            "--listen-peer-urls",
            &peer_tls,
            "--peer-cert-file",
        )?;
        let initial_cluster = match &self.initial_cluster {
            Some(spec) => parse_initial_cluster(spec)?,
            None => vec![InitialMember {
                name: self.name.clone(),
                peer_urls: advertise_peer_urls.clone(),
            }],
        };
        let new_cluster = match self.initial_cluster_state.as_str() {
            "new" => true,
            "existing" => false,
            other => bail!(
                "invalid value {other:?} for --initial-cluster-state (expected 'new' or 'existing')"
            ),
        };
        let me = initial_cluster
            .iter()
            .find(|m| m.name == self.name)
            .with_context(|| {
                format!(
                    "couldn't find local name {:?} in the initial cluster configuration",
                    self.name
                )
            })?;
        let mut mine = me.peer_urls.clone();
        let mut advertised = advertise_peer_urls.clone();
        mine.sort();
        advertised.sort();
        if mine != advertised {
            bail!(
                "--initial-cluster has {}={} but missing from --initial-advertise-peer-urls={} (mismatch)",
                self.name,
                me.peer_urls.join(","),
                advertise_peer_urls.join(",")
            );
        }
        if self.heartbeat_interval == 0 {
            bail!("--heartbeat-interval must be greater than 0");
        }
        if self.election_timeout < 5 * self.heartbeat_interval {
            bail!(
                "--election-timeout[{}ms] should be at least as 5 times as --heartbeat-interval[{}ms]",
                self.election_timeout,
                self.heartbeat_interval
            );
        }
        match self.auto_compaction_mode.as_str() {
            "periodic" | "revision" => {}
            other => {
                bail!("unknown auto-compaction-mode {other:?} (expected 'periodic' or 'revision')")
            }
        }
        let data_dir = self
            .data_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from(format!("{}.etcd", self.name)));
        Ok(ServerConfig {
            name: self.name,
            data_dir,
            wal_dir: self.wal_dir,
            listen_client,
            listen_peer,
            listen_metrics,
            client_tls,
            peer_tls,
            advertise_client_urls,
            initial_cluster,
            new_cluster,
            token: self.initial_cluster_token,
            tick: Duration::from_millis(self.heartbeat_interval),
            election_ticks: (self.election_timeout / self.heartbeat_interval) as usize,
            max_request_bytes: self.max_request_bytes as usize,
            pre_vote: self.pre_vote,
            snapshot_count: self.snapshot_count,
            fault_injection: self.experimental_fault_injection,
            watch_progress_interval: go_duration(
                &self.experimental_watch_progress_notify_interval,
                "--experimental-watch-progress-notify-interval",
            )?,
            quota_backend_bytes: match self.quota_backend_bytes {
                q if q < 0 => None,
                0 => Some(DEFAULT_QUOTA_BYTES),
                q => Some(q as u64),
            },
            backend_cache_bytes: self.experimental_backend_cache_mib << 20,
        })
    }
}

/// The TLS files of one side (client or peer): none, or a certificate with its key.
fn tls_files(
    (cert, cert_flag): (&Option<PathBuf>, &str),
    (key, key_flag): (&Option<PathBuf>, &str),
    trusted_ca: &Option<PathBuf>,
    client_cert_auth: bool,
) -> anyhow::Result<Option<ServerFiles>> {
    match (cert, key) {
        (None, None) => Ok(None),
        (Some(cert), Some(key)) => Ok(Some(ServerFiles {
            cert: cert.clone(),
            key: key.clone(),
            trusted_ca: trusted_ca.clone(),
            client_cert_auth,
        })),
        (Some(_), None) => bail!("{cert_flag} needs {key_flag}"),
        (None, Some(_)) => bail!("{key_flag} needs {cert_flag}"),
    }
}

/// `https://` (TLS) listen URLs need a certificate; `unix` sockets are not served.
fn check_schemes(
    urls: &[Url],
    flag: &str,
    tls: &Option<ServerFiles>,
    cert_flag: &str,
) -> anyhow::Result<()> {
    for url in urls {
        match url.scheme() {
            "http" => {}
            "https" if tls.is_some() => {}
            "https" => bail!("{flag} {url}: https:// needs {cert_flag} and its key file"),
            _ => bail!("{flag} {url}: only http:// and https:// are served"),
        }
    }
    Ok(())
}

/// A positive Go duration such as `10m0s` or `500ms`.
fn go_duration(text: &str, flag: &str) -> anyhow::Result<Duration> {
    match humantime::parse_duration(text) {
        Ok(d) if !d.is_zero() => Ok(d),
        _ => bail!("invalid value {text:?} for {flag}: want a positive duration such as 10m0s"),
    }
}

fn parse_urls(list: &str, flag: &str) -> anyhow::Result<Vec<Url>> {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            let url = Url::parse(s).with_context(|| format!("{flag}: invalid URL {s:?}"))?;
            if !matches!(url.scheme(), "http" | "https" | "unix" | "unixs")
                || url.host_str().is_none()
            {
                bail!("{flag}: URL scheme must be http, https, unix or unixs: {s}");
            }
            Ok(url)
        })
        .collect::<anyhow::Result<Vec<_>>>()
        .and_then(|v| {
            if v.is_empty() {
                bail!("{flag} must not be empty")
            } else {
                Ok(v)
            }
        })
}

/// URLs as etcd prints them: scheme://host:port without a trailing slash.
fn url_strings(list: &str, flag: &str) -> anyhow::Result<Vec<String>> {
    Ok(parse_urls(list, flag)?
        .iter()
        .map(|u| u.as_str().trim_end_matches('/').to_string())
        .collect())
}

/// Parses `name=url,name=url2,other=url3` (a name may appear twice for two URLs), keeping order.
pub fn parse_initial_cluster(spec: &str) -> anyhow::Result<Vec<InitialMember>> {
    let mut members: Vec<InitialMember> = Vec::new();
    for part in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (name, url) = part
            .split_once('=')
            .with_context(|| format!("--initial-cluster: {part:?} is not name=url"))?;
        let url = url_strings(url, "--initial-cluster")?.remove(0);
        match members.iter_mut().find(|m| m.name == name) {
            Some(m) => m.peer_urls.push(url),
            None => members.push(InitialMember {
                name: name.to_string(),
                peer_urls: vec![url],
            }),
        }
    }
    if members.is_empty() {
        bail!("--initial-cluster must not be empty");
    }
    Ok(members)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags(args: &[&str]) -> Result<EtcdFlags, clap::Error> {
        let argv = std::iter::once("etcd")
            .chain(args.iter().copied())
            .map(OsString::from)
            .collect();
        EtcdFlags::try_parse_from(normalize_go_flags(argv))
    }

    #[test]
    fn defaults_match_etcd() {
        let cfg = flags(&[]).unwrap().into_config().unwrap();
        assert_eq!(cfg.name, "default");
        assert_eq!(cfg.data_dir, PathBuf::from("default.etcd"));
        assert_eq!(
            cfg.initial_cluster[0].peer_urls,
            vec!["http://localhost:2380"]
        );
        assert_eq!(cfg.election_ticks, 10);
        assert_eq!(cfg.max_request_bytes, 1_572_864);
        assert_eq!(cfg.backend_cache_bytes, 16 << 20);
        let cfg = flags(&["--experimental-backend-cache-mib", "256"]).unwrap();
        assert_eq!(cfg.into_config().unwrap().backend_cache_bytes, 256 << 20);
        assert!(flags(&["--experimental-backend-cache-mib", "lots"]).is_err());
    }

    #[test]
    fn course_unit_file_flags_parse() {
        let cfg = flags(&[
            "--name=k8s-01",
            "--data-dir=/tmp/x",
            "--wal-dir=/tmp/x/wal",
            "--listen-peer-urls=http://10.0.0.1:2380",
            "--initial-advertise-peer-urls=http://10.0.0.1:2380",
            "--listen-client-urls=http://10.0.0.1:2379,http://127.0.0.1:2379",
            "--advertise-client-urls=http://10.0.0.1:2379",
            "--initial-cluster-token=etcd-cluster-0",
            "--initial-cluster=k8s-01=http://10.0.0.1:2380,k8s-02=http://10.0.0.2:2380",
            "--initial-cluster-state=new",
            "--auto-compaction-mode=periodic",
            "--auto-compaction-retention=1",
            "--max-request-bytes=33554432",
            "--quota-backend-bytes=6442450944",
            "--heartbeat-interval=250",
            "--election-timeout=2000",
            "--peer-client-cert-auth",
            "--client-cert-auth",
        ])
        .unwrap()
        .into_config()
        .unwrap();
        assert_eq!(cfg.initial_cluster.len(), 2);
        assert_eq!(cfg.election_ticks, 8);
        assert_eq!(cfg.tick, Duration::from_millis(250));
        assert_eq!(cfg.listen_client.len(), 2);
    }

    #[test]
    fn single_dash_flags_as_go_accepts() {
        let cfg = flags(&[
            "-name",
            "n1",
            "-initial-advertise-peer-urls",
            "http://127.0.0.1:3380",
            "-initial-cluster",
            "n1=http://127.0.0.1:3380",
        ])
        .unwrap()
        .into_config()
        .unwrap();
        assert_eq!(cfg.name, "n1");
    }

    #[test]
    fn bad_flags_are_usage_errors() {
        assert!(flags(&["--no-such-flag"]).is_err());
        let err = flags(&[
            "--name",
            "x",
            "--initial-cluster",
            "y=http://localhost:2380",
        ])
        .unwrap()
        .into_config()
        .unwrap_err();
        assert!(
            err.to_string().contains("couldn't find local name \"x\""),
            "{err}"
        );
        let err = flags(&["--initial-cluster-state", "maybe"])
            .unwrap()
            .into_config()
            .unwrap_err();
        assert!(err.to_string().contains("--initial-cluster-state"));
        let err = flags(&["--listen-client-urls", "https://127.0.0.1:2379"])
            .unwrap()
            .into_config()
            .unwrap_err();
        assert!(err.to_string().contains("needs --cert-file"), "{err}");
        let err = flags(&["--listen-metrics-urls", "https://127.0.0.1:2381"])
            .unwrap()
            .into_config()
            .unwrap_err();
        assert!(
            err.to_string().contains(
                "--listen-metrics-urls https://127.0.0.1:2381/: https:// needs --cert-file"
            ),
            "{err}"
        );
        let err = flags(&["--listen-metrics-urls", "2381"])
            .unwrap()
            .into_config()
            .unwrap_err();
        assert!(err.to_string().contains("--listen-metrics-urls"), "{err}");
        let err = flags(&["--peer-cert-file", "p.crt"])
            .unwrap()
            .into_config()
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("--peer-cert-file needs --peer-key-file"),
            "{err}"
        );
        let err = flags(&["--election-timeout", "200"])
            .unwrap()
            .into_config()
            .unwrap_err();
        assert!(err.to_string().contains("5 times"));
    }
}
