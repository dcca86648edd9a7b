//! The lease churn workload: each client loops over one cycle of four requests, grant (TTL 60 s)
//! → put a key with the lease → keep-alive once (its own stream, as `etcdctl lease keep-alive
//! --once`) → revoke. A request is one whole cycle.

use std::sync::Arc;

use anyhow::{Context, bail};
use etcdlab_core::proto::etcdserverpb::{
    LeaseGrantRequest, LeaseKeepAliveRequest, LeaseRevokeRequest,
};
use tonic::transport::Channel;

use super::BenchFlags;
use super::driver::{Client, closed_loop, spread_clients};
use super::kv::{put_request, written_key};
use super::report::Summary;
use crate::rpc::etcdserverpb::kv_client::KvClient;
use crate::rpc::etcdserverpb::lease_client::LeaseClient;

/// The TTL every lease is granted with: long enough that none expires during a run.
const TTL_SECONDS: i64 = 60;
/// Requests in one cycle.
const REQUESTS_PER_CYCLE: f64 = 4.0;

struct LeaseBench {
    kv: KvClient<Channel>,
    leases: LeaseClient<Channel>,
    key_space_size: u64,
    key_size: usize,
    value: Arc<Vec<u8>>,
}

pub(super) async fn run(flags: &BenchFlags, channels: &[Channel]) -> anyhow::Result<Summary> {
    let clients = spread_clients(flags, channels, |channel, value| LeaseBench {
        kv: KvClient::new(channel.clone()),
        leases: LeaseClient::new(channel),
        key_space_size: flags.key_space_size,
        key_size: flags.key_size,
        value,
    });
    let mut summary = closed_loop(clients, flags.total).await?;
    let rpcs = summary.latencies.len() as f64 * REQUESTS_PER_CYCLE;
    summary.extra.push((
        "rpcs_per_sec",
        (rpcs / summary.elapsed.as_secs_f64().max(1e-9)).into(),
    ));
    Ok(summary)
}

impl Client for LeaseBench {
    async fn request(&mut self, n: u64) -> anyhow::Result<()> {
        let granted = self
            .leases
            .lease_grant(LeaseGrantRequest {
                ttl: TTL_SECONDS,
                id: 0,
            })
            .await
            .context("grant")?
            .into_inner();
        if !granted.error.is_empty() {
            bail!("grant: {}", granted.error);
        }
        let id = granted.id;
        let key = written_key(n, self.key_space_size, self.key_size);
        self.kv
            .put(put_request(key, &self.value, id))
            .await
            .context("put with the lease")?;
        let once = futures::stream::iter([LeaseKeepAliveRequest { id }]);
        let kept = self
            .leases
            .lease_keep_alive(once)
            .await
            .context("keep-alive")?
            .into_inner()
            .message()
            .await
            .context("keep-alive")?
            .context("keep-alive: the stream ended without an answer")?;
        if kept.ttl <= 0 {
            bail!("keep-alive: lease {id:x} not found");
        }
        self.leases
            .lease_revoke(LeaseRevokeRequest { id })
            .await
            .context("revoke")?;
        Ok(())
    }
}
