//! etcdctl's global flags (also read from `ETCDCTL_*` variables), the settings a command derives
//! from them, and the connection to the endpoints. As in etcdctl, every request runs under the
//! command timeout (5s unless `--command-timeout` says otherwise), connecting included: each
//! dial gives up after the dial timeout and is retried, so no command can hang on a dead
//! endpoint, and a server that comes up within the timeout is still reached.
//!
//! With `--user name[:password]` (or `--user name --password pw`; the password is asked for
//! when neither gives it) the client authenticates before its first request, as clientv3 does,
//! and sends the token in the `token` metadata of every request. A failed authentication
//! ends the command with exit code 2; a server without auth enabled needs no token. A request
//! refused because the token went stale (the auth store changed since) is sent once more
//! with a new token, as clientv3 retries it.
//!
//! TLS as etcdctl 3.4 decides it per endpoint: `https://` endpoints always, bare `host:port`
//! endpoints when `--cacert`, `--cert` or `--key` is given (or `--insecure-transport=false`),
//! `http://` endpoints never. `--cacert` is the CA the server must be signed by, `--cert` and
//! `--key` our client certificate, `--insecure-skip-tls-verify` accepts any server certificate.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use etcdlab_core::proto::etcdserverpb::AuthenticateRequest;
use tonic::metadata::{AsciiMetadataValue, MetadataValue};
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint};

use crate::rpc::etcdserverpb::auth_client::AuthClient;
use crate::tls::{self, ClientFiles};

use super::cli::{Flag, Invocation, Kind};
use super::print::{Format, Printer};
use super::{CtlError, exit, gotext};

pub const ENDPOINTS: Flag = Flag::new("endpoints", Kind::List, "127.0.0.1:2379", "gRPC endpoints");
pub const DEBUG: Flag = Flag::switch("debug", "enable client-side debug logging");
pub const WRITE_OUT: Flag = Flag::new(
    "write-out",
    Kind::Text,
    "simple",
    "set the output format (fields, json, protobuf, simple, table)",
)
.short('w');
pub const HEX: Flag = Flag::switch("hex", "print byte strings as hex encoded strings");
pub const DIAL_TIMEOUT: Flag = Flag::new(
    "dial-timeout",
    Kind::Duration,
    "2s",
    "dial timeout for client connections",
);
pub const COMMAND_TIMEOUT: Flag = Flag::new(
    "command-timeout",
    Kind::Duration,
    "5s",
    "timeout for short running command (excluding dial timeout)",
);
pub const KEEPALIVE_TIME: Flag = Flag::new(
    "keepalive-time",
    Kind::Duration,
    "2s",
    "keepalive time for client connections",
);
pub const KEEPALIVE_TIMEOUT: Flag = Flag::new(
    "keepalive-timeout",
    Kind::Duration,
    "6s",
    "keepalive timeout for client connections",
);
pub const INSECURE_TRANSPORT: Flag = Flag::new(
    "insecure-transport",
    Kind::Bool,
    "true",
    "disable transport security for client connections",
);
pub const INSECURE_DISCOVERY: Flag = Flag::new(
    "insecure-discovery",
    Kind::Bool,
    "true",
    "accept insecure SRV records describing cluster endpoints",
);
pub const INSECURE_SKIP_TLS_VERIFY: Flag = Flag::switch(
    "insecure-skip-tls-verify",
    "skip server certificate verification (CAUTION: this option should be enabled only for testing purposes)",
);
pub const CERT: Flag = Flag::new(
    "cert",
    Kind::Text,
    "",
    "identify secure client using this TLS certificate file",
);
pub const KEY: Flag = Flag::new(
    "key",
    Kind::Text,
    "",
    "identify secure client using this TLS key file",
);
pub const CACERT: Flag = Flag::new(
    "cacert",
    Kind::Text,
    "",
    "verify certificates of TLS-enabled secure servers using this CA bundle",
);
pub const USER: Flag = Flag::new(
    "user",
    Kind::Text,
    "",
    "username[:password] for authentication (prompt if password is not supplied)",
);
pub const PASSWORD: Flag = Flag::new(
    "password",
    Kind::Text,
    "",
    "password for authentication (if this option is used, --user option shouldn't include password)",
);
pub const DISCOVERY_SRV: Flag = Flag::new(
    "discovery-srv",
    Kind::Text,
    "",
    "domain name to query for SRV records describing cluster endpoints",
)
.short('d');
pub const DISCOVERY_SRV_NAME: Flag = Flag::new(
    "discovery-srv-name",
    Kind::Text,
    "",
    "service name to query when using DNS discovery",
);

/// The root command's persistent flags, which every command inherits.
pub const FLAGS: &[Flag] = &[
    ENDPOINTS,
    DEBUG,
    WRITE_OUT,
    HEX,
    DIAL_TIMEOUT,
    COMMAND_TIMEOUT,
    KEEPALIVE_TIME,
    KEEPALIVE_TIMEOUT,
    INSECURE_TRANSPORT,
    INSECURE_DISCOVERY,
    INSECURE_SKIP_TLS_VERIFY,
    CERT,
    KEY,
    CACERT,
    USER,
    PASSWORD,
    DISCOVERY_SRV,
    DISCOVERY_SRV_NAME,
];

/// What a command takes from the global flags: etcdctl's `clientConfigFromCmd`.
pub struct Global {
    pub endpoints: Vec<String>,
    pub format: Format,
    pub hex: bool,
    /// Bare `host:port` endpoints use TLS.
    tls: bool,
    tls_files: ClientFiles,
    /// `--user` and `--password` as given.
    user: String,
    password: String,
    dial_timeout: Duration,
    command_timeout: Duration,
    keepalive_time: Duration,
    keepalive_timeout: Duration,
}

impl Global {
    /// Reads the global flags in etcdctl's order: the environment, endpoints, TLS files,
    /// credentials, then the output format (`unsupported output format`, exit 4).
    pub fn from(inv: &Invocation) -> Result<Global, CtlError> {
        if let Some(name) = inv.env_conflict() {
            return Err(CtlError::new(
                exit::ERROR,
                format!(
                    "conflicting environment variable {} is shadowed by corresponding \
                     command-line flag (either unset environment variable or disable flag)",
                    gotext::quote(name.as_bytes())
                ),
            ));
        }
        if !inv.text(&DISCOVERY_SRV).is_empty() {
            return Err(CtlError::new(
                exit::BAD_FEATURE,
                "DNS discovery (--discovery-srv) is not supported by etcdlab ctl; give --endpoints",
            ));
        }
        let endpoints = inv
            .list(&ENDPOINTS)
            .iter()
            .map(|e| e.trim().to_string())
            .collect();
        let mut tls = !inv.bool(&INSECURE_TRANSPORT);
        for file in [&CERT, &KEY, &CACERT] {
            let path = inv.text(file);
            if path.is_empty() && inv.changed(file) {
                return Err(CtlError::bad_args(format!(
                    "empty string is passed to --{} option",
                    file.name
                )));
            }
            tls |= !path.is_empty();
        }
        let identity = match (inv.text(&CERT), inv.text(&KEY)) {
            (cert, key) if cert.is_empty() && key.is_empty() => None,
            (cert, key) if !cert.is_empty() && !key.is_empty() => Some((cert.into(), key.into())),
            (cert, key) => {
                return Err(CtlError::new(
                    exit::ERROR,
                    format!("KeyFile and CertFile must both be present[key: {key}, cert: {cert}]"),
                ));
            }
        };
        let cacert = inv.text(&CACERT);
        let tls_files = ClientFiles {
            trusted_ca: (!cacert.is_empty()).then(|| cacert.into()),
            identity,
            skip_verify: inv.bool(&INSECURE_SKIP_TLS_VERIFY),
        };
        let Some(format) = Format::from_name(&inv.text(&WRITE_OUT)) else {
            return Err(CtlError::new(
                exit::BAD_FEATURE,
                "unsupported output format",
            ));
        };
        Ok(Global {
            endpoints,
            format,
            hex: inv.bool(&HEX),
            tls,
            tls_files,
            user: inv.text(&USER),
            password: inv.text(&PASSWORD),
            dial_timeout: inv.duration(&DIAL_TIMEOUT),
            command_timeout: inv.duration(&COMMAND_TIMEOUT),
            keepalive_time: inv.duration(&KEEPALIVE_TIME),
            keepalive_timeout: inv.duration(&KEEPALIVE_TIMEOUT),
        })
    }

    pub fn printer(&self) -> Printer {
        Printer {
            format: self.format,
            hex: self.hex,
            value_only: false,
        }
    }

    /// A client of every endpoint (etcdctl's `mustClient`).
    pub fn client(&self) -> Result<Client<'_>, CtlError> {
        self.client_of(self.endpoints.clone())
    }

    /// A client of `endpoints` only.
    pub fn client_of(&self, endpoints: Vec<String>) -> Result<Client<'_>, CtlError> {
        if endpoints.is_empty() {
            return Err(CtlError::new(
                exit::BAD_CONNECTION,
                "etcdclient: no available endpoints",
            ));
        }
        let tls = if endpoints.iter().any(|e| self.target(e).1) {
            let config = tls::client_config(&self.tls_files, tls::ALPN_H2)
                .map_err(|e| CtlError::new(exit::ERROR, format!("{e:#}")))?;
            Some(config)
        } else {
            None
        };
        Ok(Client {
            global: self,
            endpoints,
            tls,
            credentials: self.credentials()?,
            token: TokenSlot::default(),
        })
    }

    /// The `http://host:port` URI to dial for `endpoint`, and whether to dial it over TLS.
    fn target(&self, endpoint: &str) -> (String, bool) {
        match endpoint.split_once("://") {
            Some(("https", rest)) => (format!("http://{rest}"), true),
            Some(_) => (endpoint.to_string(), false),
            None => (format!("http://{endpoint}"), self.tls),
        }
    }

    /// The user and password to authenticate with, as etcdctl's `authCfgFromCmd` reads them.
    fn credentials(&self) -> Result<Option<Credentials>, CtlError> {
        if self.user.is_empty() {
            return Ok(None);
        }
        let (user, password) = if !self.password.is_empty() {
            (self.user.clone(), self.password.clone())
        } else if let Some((user, password)) = self.user.split_once(':') {
            (user.to_string(), password.to_string())
        } else {
            (self.user.clone(), ask_password()?)
        };
        Ok(Some(Credentials { user, password }))
    }
}

/// Asks for the password on the terminal, as etcdctl does when `--user` has none.
fn ask_password() -> Result<String, CtlError> {
    super::print::stdout(b"Password: ");
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .map_err(|e| CtlError::bad_args(format!("failed to read password: {e}")))?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

struct Credentials {
    user: String,
    password: String,
}

/// The token the client sends, once it has one; shared by every connection of a command.
#[derive(Clone, Default)]
pub struct TokenSlot(Arc<Mutex<Option<AsciiMetadataValue>>>);

impl TokenSlot {
    fn get(&self) -> Option<AsciiMetadataValue> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn set(&self, token: Option<AsciiMetadataValue>) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = token;
    }
}

impl Interceptor for TokenSlot {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(token) = self.get() {
            request.metadata_mut().insert("token", token);
        }
        Ok(request)
    }
}

/// A connection that sends the command's token with every request.
pub type Connection = InterceptedService<Channel, TokenSlot>;

/// Whether the server refused a request for a token that is no longer good.
fn stale_token(status: &tonic::Status) -> bool {
    matches!(
        status.message(),
        "etcdserver: revision of auth store is old" | "etcdserver: invalid auth token"
    )
}

/// Requests to a set of endpoints, each under the command timeout.
pub struct Client<'a> {
    global: &'a Global,
    endpoints: Vec<String>,
    /// Set when some endpoint is dialled over TLS.
    tls: Option<Arc<rustls::ClientConfig>>,
    credentials: Option<Credentials>,
    token: TokenSlot,
}

impl Client<'_> {
    /// Sends one request to whichever endpoint answers first.
    pub async fn request<T>(
        &self,
        call: impl AsyncFnOnce(Connection) -> Result<tonic::Response<T>, tonic::Status> + Clone,
    ) -> Result<T, CtlError> {
        self.request_within(&self.endpoints, call).await
    }

    /// A connection for a long-lived stream (a watch): the first endpoint to answer within
    /// the dial timeout, authenticated if the command has a user.
    pub async fn connect(&self) -> Result<Connection, CtlError> {
        let channel = tokio::time::timeout(self.global.dial_timeout, self.channel(&self.endpoints))
            .await
            .map_err(|_| CtlError::deadline_exceeded())?;
        let authenticated = self.authenticate(channel.clone());
        tokio::time::timeout(self.global.command_timeout, authenticated)
            .await
            .unwrap_or_else(|_| Err(CtlError::deadline_exceeded()))?;
        Ok(InterceptedService::new(channel, self.token.clone()))
    }

    /// Gets a token for the command's user unless it has one (or no user): clientv3's
    /// `getToken`. A server without auth enabled is used without a token.
    async fn authenticate(&self, channel: Channel) -> Result<(), CtlError> {
        let Some(credentials) = &self.credentials else {
            return Ok(());
        };
        if self.token.get().is_some() {
            return Ok(());
        }
        let request = AuthenticateRequest {
            name: credentials.user.clone(),
            password: credentials.password.clone(),
        };
        match AuthClient::new(channel).authenticate(request).await {
            Ok(response) => {
                let token = MetadataValue::try_from(response.into_inner().token).map_err(|_| {
                    CtlError::new(exit::BAD_CONNECTION, "etcdserver: invalid auth token")
                })?;
                self.token.set(Some(token));
                Ok(())
            }
            Err(status) if status.message() == "etcdserver: authentication is not enabled" => {
                Ok(())
            }
            Err(status) => Err(CtlError {
                code: exit::BAD_CONNECTION,
                ..CtlError::rpc(status)
            }),
        }
    }

    /// Sends one request to `endpoint` itself (status, hash: answers about one member).
    pub async fn request_to<T>(
        &self,
        endpoint: &str,
        call: impl AsyncFnOnce(Connection) -> Result<tonic::Response<T>, tonic::Status> + Clone,
    ) -> Result<T, CtlError> {
        self.request_within(&[endpoint.to_string()], call).await
    }

    async fn request_within<T>(
        &self,
        endpoints: &[String],
        call: impl AsyncFnOnce(Connection) -> Result<tonic::Response<T>, tonic::Status> + Clone,
    ) -> Result<T, CtlError> {
        let attempt = async {
            let channel = self.channel(endpoints).await;
            self.authenticate(channel.clone()).await?;
            let again = call.clone();
            let connection = || InterceptedService::new(channel.clone(), self.token.clone());
            let answer = match call(connection()).await {
                // The auth store changed since the token was issued: once more with a new one.
                Err(status) if stale_token(&status) && self.credentials.is_some() => {
                    self.token.set(None);
                    self.authenticate(channel.clone()).await?;
                    again(connection()).await
                }
                answer => answer,
            };
            answer
                .map(tonic::Response::into_inner)
                .map_err(CtlError::rpc)
        };
        tokio::time::timeout(self.global.command_timeout, attempt)
            .await
            .unwrap_or_else(|_| Err(CtlError::deadline_exceeded()))
    }

    /// A connection to the first of `endpoints` to accept one, dialling again (with backoff)
    /// until the caller's timeout ends the wait.
    async fn channel(&self, endpoints: &[String]) -> Channel {
        let mut backoff = Duration::from_millis(50);
        loop {
            let dials = endpoints.iter().map(|e| Box::pin(self.dial(e)));
            if let Ok((channel, _)) = futures::future::select_ok(dials).await {
                return channel;
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(1));
        }
    }

    /// One connection attempt (TLS or not, as [`Global::target`] decides).
    async fn dial(&self, endpoint: &str) -> Result<Channel, ()> {
        let g = self.global;
        let (url, secure) = g.target(endpoint);
        let endpoint = Endpoint::from_shared(url)
            .map_err(drop)?
            .connect_timeout(g.dial_timeout)
            .tcp_nodelay(true)
            .http2_keep_alive_interval(g.keepalive_time)
            .keep_alive_timeout(g.keepalive_timeout);
        let connect = async {
            match (&self.tls, secure) {
                (Some(config), true) => tls::grpc_channel(endpoint, config.clone()).await,
                _ => endpoint.connect().await,
            }
        };
        match tokio::time::timeout(g.dial_timeout, connect).await {
            Ok(Ok(channel)) => Ok(channel),
            _ => Err(()),
        }
    }
}
