//! A TLS listener for `axum::serve`: TCP connections are accepted and their handshakes run
//! concurrently (a slow or hostile client never holds up the others), bounded by a timeout.
//! A failed handshake — no client certificate, one from another CA, plain HTTP on a TLS port —
//! is logged with the client's address and the reason; only finished handshakes reach axum.
//!
//! Each connection comes with a [`TlsPeer`]: its client certificate's CN, which
//! [`ClientCertUser`] hands to the auth gate.

use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::http::Request;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use super::auth::CERT_USER;

const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Connections whose TLS handshake has completed.
pub struct TlsListener {
    accepted: mpsc::Receiver<(TlsStream<TcpStream>, TlsPeer)>,
}

/// Who is on the other end of a TLS connection: the CN of the client's certificate (when
/// clients must present one).
#[derive(Clone, Debug)]
pub struct TlsPeer {
    pub cert_user: Option<String>,
}

/// The layer every client port's routes sit behind: drops a [`CERT_USER`] entry a client
/// sent, and sets it from the connection's client certificate when there is one. A plain
/// tower layer, so a request costs no boxed future or cloned service on its way through.
#[derive(Clone, Copy)]
pub struct ClientCertUser;

impl<S> tower::Layer<S> for ClientCertUser {
    type Service = ClientCertUserService<S>;

    fn layer(&self, inner: S) -> ClientCertUserService<S> {
        ClientCertUserService(inner)
    }
}

/// A service behind [`ClientCertUser`].
#[derive(Clone)]
pub struct ClientCertUserService<S>(S);

impl<S, B> tower::Service<Request<B>> for ClientCertUserService<S>
where
    S: tower::Service<Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> S::Future {
        let user = request
            .extensions()
            .get::<ConnectInfo<TlsPeer>>()
            .and_then(|info| info.0.cert_user.clone())
            .and_then(|name| axum::http::HeaderValue::from_str(&name).ok());
        request.headers_mut().remove(CERT_USER);
        if let Some(user) = user {
            request.headers_mut().insert(CERT_USER, user);
        }
        self.0.call(request)
    }
}

impl TlsListener {
    /// Starts accepting on `tcp`; the accept task ends when the listener is dropped.
    pub fn new(tcp: TcpListener, config: Arc<rustls::ServerConfig>) -> Self {
        let (tx, accepted) = mpsc::channel(64);
        tokio::spawn(accept_loop(tcp, TlsAcceptor::from(config), tx));
        TlsListener { accepted }
    }
}

async fn accept_loop(
    tcp: TcpListener,
    acceptor: TlsAcceptor,
    handshaken: mpsc::Sender<(TlsStream<TcpStream>, TlsPeer)>,
) {
    loop {
        let (stream, from) = tokio::select! {
            _ = handshaken.closed() => return,
            accepted = tcp.accept() => match accepted {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!("client accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let acceptor = acceptor.clone();
        let handshaken = handshaken.clone();
        tokio::spawn(async move {
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                Ok(Ok(tls)) => {
                    let cert_user = tls
                        .get_ref()
                        .1
                        .peer_certificates()
                        .and_then(|chain| chain.first())
                        .and_then(crate::tls::common_name);
                    let _ = handshaken.send((tls, TlsPeer { cert_user })).await;
                }
                Ok(Err(e)) => tracing::warn!(%from, "rejected a client: TLS handshake failed: {e}"),
                Err(_) => tracing::warn!(%from, "rejected a client: TLS handshake timed out"),
            }
        });
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = TlsPeer;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.accepted.recv().await {
            Some(connection) => connection,
            // The accept task only ends when this listener is dropped.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<TlsPeer> {
        Ok(TlsPeer { cert_user: None })
    }
}

#[cfg(test)]
mod tests {
    use tower::{Layer, Service, ServiceExt};

    use super::*;

    /// The `CERT_USER` entry the service behind the layer sees for `request`.
    async fn seen_user(request: Request<()>) -> Option<String> {
        let inner = tower::service_fn(|request: Request<()>| async move {
            let user = request
                .headers()
                .get(CERT_USER)
                .map(|v| v.to_str().unwrap().to_string());
            Ok::<_, std::convert::Infallible>(user)
        });
        let mut service = ClientCertUser.layer(inner);
        service.ready().await.unwrap().call(request).await.unwrap()
    }

    fn request(sent_user: Option<&str>, peer: Option<TlsPeer>) -> Request<()> {
        let mut request = Request::new(());
        if let Some(user) = sent_user {
            request
                .headers_mut()
                .insert(CERT_USER, user.parse().unwrap());
        }
        if let Some(peer) = peer {
            request.extensions_mut().insert(ConnectInfo(peer));
        }
        request
    }

    #[tokio::test]
    async fn a_client_cannot_name_its_own_certificate_user() {
        assert_eq!(seen_user(request(Some("root"), None)).await, None);
        let anonymous = TlsPeer { cert_user: None };
        assert_eq!(
            seen_user(request(Some("root"), Some(anonymous))).await,
            None
        );
    }

    #[tokio::test]
    async fn the_certificate_cn_is_the_user() {
        let alice = || TlsPeer {
            cert_user: Some("alice".into()),
        };
        assert_eq!(
            seen_user(request(None, Some(alice()))).await.as_deref(),
            Some("alice")
        );
        assert_eq!(
            seen_user(request(Some("root"), Some(alice())))
                .await
                .as_deref(),
            Some("alice")
        );
    }
}
