//! The closed loop of the request workloads (put, range, txn, lease): each client takes the next
//! request number, issues it, waits for the answer, and takes another, until `total` are done.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use tonic::transport::Channel;

use super::BenchFlags;
use super::report::Summary;

/// One client's way of issuing request number `n`.
pub(super) trait Client: Send + 'static {
    fn request(&mut self, n: u64) -> impl Future<Output = anyhow::Result<()>> + Send;
}

/// The run's `--clients`, each made by `make` from its connection (round-robin over `channels`)
/// and the value every write sends (`--val-size` bytes, shared).
pub(super) fn spread_clients<C>(
    flags: &BenchFlags,
    channels: &[Channel],
    make: impl Fn(Channel, Arc<Vec<u8>>) -> C,
) -> Vec<C> {
    let value = Arc::new(vec![b'v'; flags.val_size]);
    (0..flags.clients.max(1))
        .map(|c| make(channels[c % channels.len()].clone(), value.clone()))
        .collect()
}

/// Runs `clients` concurrently until `total` requests are answered or failed.
pub(super) async fn closed_loop<C: Client>(clients: Vec<C>, total: u64) -> anyhow::Result<Summary> {
    let next = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let tasks: Vec<_> = clients
        .into_iter()
        .map(|mut client| {
            let next = next.clone();
            tokio::spawn(async move {
                let mut part = Summary::default();
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= total {
                        break part;
                    }
                    let sent = Instant::now();
                    match client.request(n).await {
                        Ok(()) => part.latencies.push(sent.elapsed()),
                        Err(e) => part.error(e),
                    }
                }
            })
        })
        .collect();
    let mut summary = Summary::default();
    for task in tasks {
        summary.merge(task.await?);
    }
    summary.elapsed = started.elapsed();
    Ok(summary)
}
