//! The key-value workloads: put, range (linearizable or serializable) and txn (a compare on the
//! key's version plus a put), each request on a key of the key space.

use std::sync::Arc;

use etcdlab_core::proto::etcdserverpb::compare::{CompareResult, CompareTarget, TargetUnion};
use etcdlab_core::proto::etcdserverpb::request_op::Request;
use etcdlab_core::proto::etcdserverpb::{Compare, PutRequest, RangeRequest, RequestOp, TxnRequest};
use tonic::transport::Channel;

use super::driver::{Client, closed_loop, spread_clients};
use super::report::Summary;
use super::{BenchFlags, Consistency, Workload};
use crate::rpc::etcdserverpb::kv_client::KvClient;

/// One client of the KV service, `flags.clients` of them spread over the connections.
struct KvBench {
    kv: KvClient<Channel>,
    workload: Workload,
    serializable: bool,
    key_space_size: u64,
    key_size: usize,
    value: Arc<Vec<u8>>,
}

pub(super) async fn run(flags: &BenchFlags, channels: &[Channel]) -> anyhow::Result<Summary> {
    let clients = spread_clients(flags, channels, |channel, value| KvBench {
        kv: KvClient::new(channel),
        workload: flags.workload,
        serializable: flags.consistency == Consistency::S,
        key_space_size: flags.key_space_size,
        key_size: flags.key_size,
        value,
    });
    closed_loop(clients, flags.total).await
}

impl Client for KvBench {
    async fn request(&mut self, n: u64) -> anyhow::Result<()> {
        let key = if self.workload == Workload::Range {
            key(0, self.key_size)
        } else {
            written_key(n, self.key_space_size, self.key_size)
        };
        match self.workload {
            Workload::Range => {
                let range = RangeRequest {
                    key,
                    serializable: self.serializable,
                    ..Default::default()
                };
                self.kv.range(range).await?;
            }
            Workload::Txn => {
                self.kv.txn(txn_request(key, &self.value)).await?;
            }
            _ => {
                self.kv.put(put_request(key, &self.value, 0)).await?;
            }
        }
        Ok(())
    }
}

/// The key request `n` writes: cycling through `space` keys (0: every request a new key).
pub(super) fn written_key(n: u64, space: u64, size: usize) -> Vec<u8> {
    key(if space == 0 { n } else { n % space }, size)
}

/// Key number `index`, zero-padded to `size` bytes (cut to `size` if longer).
fn key(index: u64, size: usize) -> Vec<u8> {
    let mut key = format!("{index:0size$}").into_bytes();
    key.truncate(size);
    key
}

/// A put of `value` at `key`, attached to `lease` (0: none).
pub(super) fn put_request(key: Vec<u8>, value: &[u8], lease: i64) -> PutRequest {
    PutRequest {
        key,
        value: value.to_vec(),
        lease,
        ..Default::default()
    }
}

/// A txn that checks the key's version and writes it: one compare, one put.
fn txn_request(key: Vec<u8>, value: &[u8]) -> TxnRequest {
    let compare = Compare {
        result: CompareResult::Greater as i32,
        target: CompareTarget::Version as i32,
        key: key.clone(),
        target_union: Some(TargetUnion::Version(-1)),
        range_end: vec![],
    };
    let put = RequestOp {
        request: Some(Request::RequestPut(put_request(key, value, 0))),
    };
    TxnRequest {
        compare: vec![compare],
        success: vec![put],
        failure: vec![],
    }
}
