//! etcdctl's global flags (also read from `ETCDCTL_*` variables) and connecting to endpoints
//! with the dial and command timeouts, so no command can hang.

use std::time::Duration;

use clap::Args;
use tonic::transport::{Channel, Endpoint};

use super::print::Format;
use super::{CtlError, exit};

#[derive(Args, Debug, Clone)]
pub struct GlobalArgs {
    /// gRPC endpoints
    #[arg(
        long,
        global = true,
        env = "ETCDCTL_ENDPOINTS",
        default_value = "127.0.0.1:2379",
        value_delimiter = ','
    )]
    pub endpoints: Vec<String>,
    /// set the output format (fields, json, protobuf, simple, table)
    #[arg(
        short = 'w',
        long = "write-out",
        global = true,
        env = "ETCDCTL_WRITE_OUT",
        default_value = "simple"
    )]
    pub write_out: Format,
    /// print byte strings as hex encoded strings
    #[arg(long, global = true, env = "ETCDCTL_HEX")]
    pub hex: bool,
    /// dial timeout for client connections
    #[arg(long = "dial-timeout", global = true, env = "ETCDCTL_DIAL_TIMEOUT", default_value = "2s", value_parser = humantime::parse_duration)]
    pub dial_timeout: Duration,
    /// timeout for short running command (excluding dial timeout)
    #[arg(long = "command-timeout", global = true, env = "ETCDCTL_COMMAND_TIMEOUT", default_value = "5s", value_parser = humantime::parse_duration)]
    pub command_timeout: Duration,
    /// keepalive time for client connections
    #[arg(long = "keepalive-time", global = true, default_value = "2s", value_parser = humantime::parse_duration)]
    pub keepalive_time: Duration,
    /// keepalive timeout for client connections
    #[arg(long = "keepalive-timeout", global = true, default_value = "6s", value_parser = humantime::parse_duration)]
    pub keepalive_timeout: Duration,
    /// enable client-side debug logging
    #[arg(long, global = true)]
    pub debug: bool,
    /// verify certificates of TLS-enabled secure servers using this CA bundle
    #[arg(long, global = true, env = "ETCDCTL_CACERT")]
    pub cacert: Option<String>,
    /// identify secure client using this TLS certificate file
    #[arg(long, global = true, env = "ETCDCTL_CERT")]
    pub cert: Option<String>,
    /// identify secure client using this TLS key file
    #[arg(long, global = true, env = "ETCDCTL_KEY")]
    pub key: Option<String>,
    /// disable transport security for client connections
    #[arg(long = "insecure-transport", global = true, default_value_t = true, num_args = 0..=1, default_missing_value = "true", action = clap::ArgAction::Set)]
    pub insecure_transport: bool,
    /// skip server certificate verification
    #[arg(long = "insecure-skip-tls-verify", global = true)]
    pub insecure_skip_tls_verify: bool,
    /// username[:password] for authentication (prompt if password is not supplied)
    #[arg(long, global = true, env = "ETCDCTL_USER")]
    pub user: Option<String>,
    /// password for authentication (if this option is used, --user option shouldn't include password)
    #[arg(long, global = true, env = "ETCDCTL_PASSWORD")]
    pub password: Option<String>,
    /// domain name to query for SRV records describing cluster endpoints
    #[arg(short = 'd', long = "discovery-srv", global = true)]
    pub discovery_srv: Option<String>,
}

impl GlobalArgs {
    /// Connects to the first endpoint that answers within the dial timeout.
    pub async fn connect(&self) -> Result<Channel, CtlError> {
        if self.cacert.is_some() || self.cert.is_some() || self.key.is_some() {
            return Err(CtlError::new(
                exit::BAD_FEATURE,
                "TLS client connections are not supported by etcdlab ctl yet; use the real etcdctl",
            ));
        }
        if self.user.is_some() {
            return Err(CtlError::new(
                exit::BAD_FEATURE,
                "authentication is not supported by etcdlab ctl yet",
            ));
        }
        for endpoint in &self.endpoints {
            if let Ok(channel) = self.dial(endpoint).await {
                return Ok(channel);
            }
        }
        Err(CtlError::new(exit::ERROR, "context deadline exceeded"))
    }

    /// Dials one endpoint.
    pub async fn dial(&self, endpoint: &str) -> Result<Channel, CtlError> {
        let url = if endpoint.contains("://") {
            endpoint.to_string()
        } else {
            format!("http://{endpoint}")
        };
        if url.starts_with("https://") {
            return Err(CtlError::new(
                exit::BAD_FEATURE,
                "https endpoints are not supported by etcdlab ctl yet",
            ));
        }
        let endpoint = Endpoint::from_shared(url)
            .map_err(|e| {
                CtlError::new(
                    exit::BAD_ARGS,
                    format!("invalid endpoint {endpoint:?}: {e}"),
                )
            })?
            .connect_timeout(self.dial_timeout)
            .timeout(self.command_timeout)
            .tcp_nodelay(true)
            .http2_keep_alive_interval(self.keepalive_time)
            .keep_alive_timeout(self.keepalive_timeout);
        match tokio::time::timeout(self.dial_timeout, endpoint.connect()).await {
            Ok(Ok(channel)) => Ok(channel),
            _ => Err(CtlError::new(exit::ERROR, "context deadline exceeded")),
        }
    }
}
