//! `etcdlab etcd`: one etcd-compatible member.
//!
//! [`config`] reads etcd's flags, [`data_dir`] opens the member's redb file, the core's
//! `Member` is started on its own thread by [`member_loop`], and the gRPC services ([`kv`],
//! [`watch`], [`lease`], [`maintenance`], [`cluster`], [`auth_service`], and [`lock`] and
//! [`election`] over [`recipes`], checked by [`auth`]) are served on every
//! `--listen-client-urls` address until SIGINT or SIGTERM, when the member finishes its current
//! ready and stops. Beside gRPC the client URLs serve HTTP: [`gateway`] (etcd's JSON gateway,
//! `/v3/...`), [`health_http`] (`/health`, `/version`, `/metrics`, ...) and [`debug_http`]
//! (Raft events, fault injection); `--listen-metrics-urls` serve only the probes, `/metrics`
//! and the Raft events. `https://` client URLs are served over TLS by
//! [`tls_listener`], with the configurations of [`crate::tls`]; the certificate files are read
//! at startup, so a bad one stops the member.

pub mod auth;
pub mod auth_service;
pub mod cluster;
pub mod config;
pub mod config_file;
pub mod data_dir;
pub mod debug_http;
pub mod election;
pub mod errors;
pub mod faults;
pub mod gateway;
pub mod health_http;
pub mod journal_file;
pub mod kv;
pub mod lease;
pub mod lock;
pub mod maintenance;
pub mod member_loop;
pub mod metrics;
pub mod peer;
pub mod raft_logging;
pub mod recipes;
pub mod systemd;
pub mod tls_listener;
pub mod watch;
pub mod watch_feed;

use std::ffi::OsString;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use etcdlab_core::membership;
use etcdlab_core::proto::etcdserverpb::Member as MemberInfo;
use etcdlab_core::{Bootstrap, Member, MemberConfig};
use tokio::net::TcpListener;

use self::config::{EtcdFlags, ServerConfig};
use crate::rpc::etcdserverpb::{
    auth_server::AuthServer, cluster_server::ClusterServer, kv_server::KvServer,
    lease_server::LeaseServer, maintenance_server::MaintenanceServer, watch_server::WatchServer,
};
use crate::rpc::v3electionpb::election_server::ElectionServer;
use crate::rpc::v3lockpb::lock_server::LockServer;

/// gRPC framing allowance on top of `--max-request-bytes`, as etcd adds.
const GRPC_OVERHEAD_BYTES: usize = 512 * 1024;

/// Entry point of `etcdlab etcd` (and of the binary invoked as `etcd`).
pub fn main(args: Vec<OsString>) -> ExitCode {
    let known = |name: &str| {
        <EtcdFlags as clap::CommandFactory>::command()
            .get_arguments()
            .any(|a| a.get_long() == Some(name))
    };
    let expanded = match config_file::expand(config::normalize_go_flags(args), known) {
        Ok(expanded) => expanded,
        Err(e) => {
            eprintln!("etcd: {e:#}");
            return ExitCode::from(2);
        }
    };
    let flags = match crate::tool::parse::<EtcdFlags>(expanded.args) {
        Ok(flags) => flags,
        Err(code) => return code,
    };
    init_logging(&flags.log_level);
    for warning in expanded.warnings {
        tracing::warn!("{warning}");
    }
    crate::tool::run("etcd", async move { run(flags.into_config()?).await })
}

fn init_logging(level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("ETCDLAB_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// Runs the member until a signal asks it to stop.
async fn run(config: ServerConfig) -> anyhow::Result<()> {
    let client_tls = match &config.client_tls {
        Some(files) => Some(
            crate::tls::server_config(files, crate::tls::ALPN_HTTP)
                .context("client TLS (--cert-file, --key-file, --trusted-ca-file)")?,
        ),
        None => None,
    };
    let peer_tls = peer::PeerTls::new(config.peer_tls.as_ref())
        .context("peer TLS (--peer-cert-file, --peer-key-file, --peer-trusted-ca-file)")?;
    let existing = data_dir::has_member(&config.data_dir);
    let db = data_dir::open(&config.data_dir, config.backend_cache_bytes)?;
    let metrics = Arc::new(metrics::Metrics::default());
    let journal = journal_file::recover(
        &config.data_dir,
        config.wal_dir.as_deref(),
        &db,
        !existing,
        metrics.clone(),
    )?;
    let (mut member_config, mut bootstrap) = identity(&config);
    let mut join_peers = Vec::new();
    if !existing && !config.new_cluster {
        let (id, cluster_id, members) = join_identity(&config, &peer_tls).await?;
        tracing::info!("joining the running cluster {cluster_id:x} as member {id:x}");
        member_config.id = id;
        bootstrap = Bootstrap::JoinExisting { cluster_id };
        join_peers = members.into_iter().filter(|m| m.id != id).collect();
    }
    let mut member = Member::open(
        db,
        member_config.clone(),
        bootstrap,
        &raft_logging::logger(),
    )
    .context("opening the member")?;
    member
        .attach_journal(Box::new(journal))
        .context("opening the member")?;
    tracing::info!(
        name = %config.name,
        member_id = %format!("{:x}", member.id()),
        cluster_id = %format!("{:x}", member.cluster_id()),
        data_dir = %config.data_dir.display(),
        "starting member"
    );
    let cluster_id = member.cluster_id();
    let mut peers = peer::PeerSender::new(
        tokio::runtime::Handle::current(),
        cluster_id,
        peer_tls.clone(),
    );
    // Until a joining member's log arrives its member table is empty: know the peers from the list.
    for m in &join_peers {
        if let Some(url) = m.peer_ur_ls.first() {
            peers.set_peer(m.id, url);
        }
    }
    let request_timeout = Duration::from_secs(5) + config.tick * config.election_ticks as u32 * 2;
    let peer_listeners = bind_all(&config.listen_peer).await?;
    let (handle, member_thread) =
        member_loop::spawn(member, peers, config.tick, request_timeout, metrics);
    for (_, listener) in peer_listeners {
        tracing::info!(address = %listener.local_addr()?, tls = peer_tls.enabled(), "serving peer traffic");
        let to_member = handle.clone();
        let lister = handle.clone();
        tokio::spawn(peer::serve(
            listener,
            cluster_id,
            peer_tls.clone(),
            move |msg| to_member.step(msg),
            move || lister.member_list_bytes(),
        ));
    }

    let listeners = bind_all(&config.listen_client).await?;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let leases = lease::LeaseService::new(handle.clone());
    let mut servers = Vec::new();
    for (url, listener) in listeners {
        tracing::info!(address = %listener.local_addr()?, %url, "serving client requests");
        let limit = config.max_request_bytes + GRPC_OVERHEAD_BYTES;
        let routes = tonic::service::Routes::new(
            KvServer::new(kv::KvService::new(
                handle.clone(),
                config.max_request_bytes,
                config
                    .quota_backend_bytes
                    .map(|q| kv::Quota::new(q, data_dir::db_path(&config.data_dir))),
            ))
            .max_decoding_message_size(limit),
        )
        .add_service(
            MaintenanceServer::new(maintenance::MaintenanceService::new(
                handle.clone(),
                data_dir::db_path(&config.data_dir),
                config.tick * config.election_ticks as u32 * 2,
            ))
            .max_decoding_message_size(limit),
        )
        .add_service(
            ClusterServer::new(cluster::ClusterService::new(handle.clone()))
                .max_decoding_message_size(limit),
        )
        .add_service(
            AuthServer::new(auth_service::AuthService::new(handle.clone()))
                .max_decoding_message_size(limit),
        )
        .add_service(
            WatchServer::new(watch::WatchService::new(
                handle.clone(),
                config.max_request_bytes,
                config.watch_progress_interval,
            ))
            .max_decoding_message_size(limit),
        )
        .add_service(LeaseServer::new(leases.clone()).max_decoding_message_size(limit))
        .add_service(LockServer::new(lock::LockService::new(
            recipes::Recipes::new(handle.clone(), leases.clone()),
        )))
        .add_service(ElectionServer::new(election::ElectionService::new(
            recipes::Recipes::new(handle.clone(), leases.clone()),
        )));
        // gRPC (HTTP/2) and the debug endpoints (HTTP/1.1, WebSocket) share the port.
        let gateway = gateway::router(routes.clone());
        let app = routes
            .into_axum_router()
            .merge(gateway)
            .merge(debug_http::router(
                handle.clone(),
                config.fault_injection,
                stop_rx.clone(),
            ))
            .merge(health_http::router(
                handle.clone(),
                data_dir::db_path(&config.data_dir),
            ));
        servers.push(serve_url(&url, listener, &client_tls, app, stop_rx.clone()));
    }
    for (url, listener) in bind_all(&config.listen_metrics).await? {
        tracing::info!(address = %listener.local_addr()?, %url, "serving metrics and health");
        let app = health_http::probes_router(handle.clone(), data_dir::db_path(&config.data_dir))
            .merge(debug_http::events_router(handle.clone(), stop_rx.clone()));
        servers.push(serve_url(&url, listener, &client_tls, app, stop_rx.clone()));
    }

    tokio::spawn(systemd::notify_when_ready(handle.clone()));
    let member_failed = tokio::task::spawn_blocking(move || member_thread.join());
    tokio::pin!(member_failed);
    tokio::select! {
        _ = shutdown_signal() => {
            tracing::info!("received a stop signal; shutting down");
            handle.shutdown();
            let _ = stop_tx.send(true);
            let _ = (&mut member_failed).await;
        }
        joined = &mut member_failed => {
            let _ = stop_tx.send(true);
            match joined {
                Ok(Ok(Ok(()))) => bail!("the member stopped unexpectedly"),
                Ok(Ok(Err(e))) => bail!("the member failed: {e}"),
                _ => bail!("the member thread panicked"),
            }
        }
    }
    for server in servers {
        let _ = tokio::time::timeout(Duration::from_secs(5), server).await;
    }
    Ok(())
}

/// Serves `app` on `listener` until `stop` turns true, over TLS (`tls`) when `url` is https.
fn serve_url(
    url: &url::Url,
    listener: TcpListener,
    tls: &Option<std::sync::Arc<rustls::ServerConfig>>,
    app: axum::Router,
    stop: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<std::io::Result<()>> {
    match (url.scheme(), tls) {
        ("https", Some(tls)) => serve_http(
            axum::serve::ListenerExt::tap_io(
                tls_listener::TlsListener::new(listener, tls.clone()),
                |_| {},
            ),
            app,
            stop,
        ),
        _ => serve_http(
            axum::serve::ListenerExt::tap_io(listener, |tcp| {
                let _ = tcp.set_nodelay(true);
            }),
            app,
            stop,
        ),
    }
}

/// Serves `app` on `listener` until `stop` turns true; requests carry the listener's peer
/// address (a [`tls_listener::TlsPeer`] on TLS ports) for [`tls_listener::ClientCertUser`].
fn serve_http<L, F>(
    listener: axum::serve::TapIo<L, F>,
    app: axum::Router,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<std::io::Result<()>>
where
    L: axum::serve::Listener,
    L::Addr: Clone + Send + Sync + std::fmt::Debug + 'static,
    F: FnMut(&mut L::Io) + Send + 'static,
{
    let app = app.layer(tls_listener::ClientCertUser);
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<L::Addr>(),
        )
        .with_graceful_shutdown(async move {
            let _ = stop.wait_for(|s| *s).await;
        })
        .await
    })
}

/// This member's id and how to bootstrap it, derived from the flags as etcd derives them.
pub fn identity(config: &ServerConfig) -> (MemberConfig, Bootstrap) {
    let members: Vec<MemberInfo> = config
        .initial_cluster
        .iter()
        .map(|m| MemberInfo {
            id: membership::member_id(&m.peer_urls, &config.token, None),
            name: m.name.clone(),
            peer_ur_ls: m.peer_urls.clone(),
            client_ur_ls: vec![],
            is_learner: false,
        })
        .collect();
    let me = members
        .iter()
        .find(|m| m.name == config.name)
        .map(|m| m.id)
        .unwrap_or_default();
    let cluster_id = membership::cluster_id(&members.iter().map(|m| m.id).collect::<Vec<_>>());
    let bootstrap = if config.new_cluster {
        Bootstrap::NewCluster {
            cluster_id,
            members,
        }
    } else {
        Bootstrap::JoinExisting { cluster_id }
    };
    let member_config = MemberConfig {
        id: me,
        name: config.name.clone(),
        client_urls: config.advertise_client_urls.clone(),
        election_tick: config.election_ticks,
        heartbeat_tick: 1,
        tick_ms: config.tick.as_millis() as u64,
        pre_vote: config.pre_vote,
        snapshot_count: config.snapshot_count,
    };
    (member_config, bootstrap)
}

/// Binds a listener for every URL (each URL's first resolved address).
async fn bind_all(urls: &[url::Url]) -> anyhow::Result<Vec<(url::Url, TcpListener)>> {
    let mut listeners = Vec::new();
    for url in urls {
        for addr in resolve(url).await? {
            let listener = TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot listen on {url} ({addr})"))?;
            listeners.push((url.clone(), listener));
        }
    }
    Ok(listeners)
}

/// A member joining a running cluster asks the other members (from `--initial-cluster`) for
/// the member list and finds itself by its peer URLs, as `member add` registered it.
async fn join_identity(
    config: &ServerConfig,
    peer_tls: &peer::PeerTls,
) -> anyhow::Result<(u64, u64, Vec<MemberInfo>)> {
    let mine = &config
        .initial_cluster
        .iter()
        .find(|m| m.name == config.name)
        .context("own entry")?
        .peer_urls;
    let mut last_error = anyhow::anyhow!("--initial-cluster lists no other member to join");
    for other in config
        .initial_cluster
        .iter()
        .filter(|m| m.name != config.name)
    {
        for url in &other.peer_urls {
            match peer::fetch_members(url, peer_tls).await {
                Ok(list) => {
                    let cluster_id = list.header.map(|h| h.cluster_id).unwrap_or_default();
                    return match list
                        .members
                        .iter()
                        .find(|m| m.peer_ur_ls.iter().any(|u| mine.contains(u)))
                    {
                        Some(me) => Ok((me.id, cluster_id, list.members.clone())),
                        None => bail!(
                            "this member ({}) is not in the cluster's member list; add it first with `etcdctl member add {} --peer-urls={}`",
                            mine.join(","),
                            config.name,
                            mine.join(",")
                        ),
                    };
                }
                Err(e) => last_error = e.context(format!("asking {url} for the member list")),
            }
        }
    }
    Err(last_error)
}

async fn resolve(url: &url::Url) -> anyhow::Result<Vec<SocketAddr>> {
    let host = url.host_str().context("listen URL without a host")?;
    let port = url
        .port_or_known_default()
        .context("listen URL without a port")?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
        .await
        .with_context(|| format!("cannot resolve {url}"))?
        .collect();
    // `localhost` resolves to 127.0.0.1 and ::1; listening on the first is what clients reach.
    Ok(addrs.into_iter().take(1).collect())
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
