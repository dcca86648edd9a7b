//! A third-party client against a three-member cluster of ours: the Rust `etcd-client` crate
//! (etcd's protos compiled on its own, nothing shared with etcdlab) for KV, watch, lease, lock
//! and election — what an application using etcd from Rust relies on.

mod support;

use std::time::Duration;

use etcd_client::{
    Client, Compare, CompareOp, EventType, LockOptions, ProclaimOptions, PutOptions, ResignOptions,
    Txn, TxnOp, WatchOptions,
};
use support::OurCluster;

/// A bound on any single call that should answer at once.
const PROMPT: Duration = Duration::from_secs(10);

async fn connect(endpoint: &str) -> Client {
    tokio::time::timeout(PROMPT, Client::connect([endpoint], None))
        .await
        .expect("connect in time")
        .expect("connect")
}

async fn value_of(client: &mut Client, key: &str) -> Option<String> {
    let resp = client.get(key, None).await.unwrap();
    resp.kvs()
        .first()
        .map(|kv| kv.value_str().unwrap().to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn etcd_client_crate_works_for_kv_watch_lease_lock_and_election() {
    let cluster = OurCluster::start(3);
    let endpoints: Vec<String> = cluster.members.iter().map(|m| m.endpoint()).collect();
    let mut a = connect(&endpoints[0]).await;
    let mut b = connect(&endpoints[1]).await;

    // KV and txn, written through one member and read through another.
    a.put("app/config", "v1", None).await.unwrap();
    assert_eq!(value_of(&mut b, "app/config").await.as_deref(), Some("v1"));
    let txn = Txn::new()
        .when([Compare::value("app/config", CompareOp::Equal, "v1")])
        .and_then([TxnOp::put("app/config", "v2", None)])
        .or_else([TxnOp::get("app/config", None)]);
    assert!(b.txn(txn).await.unwrap().succeeded());
    assert_eq!(value_of(&mut a, "app/config").await.as_deref(), Some("v2"));

    // Watch a prefix on one member while another writes.
    let mut watch = b
        .watch("jobs/", Some(WatchOptions::new().with_prefix()))
        .await
        .unwrap();
    let created = tokio::time::timeout(PROMPT, watch.message()).await.unwrap();
    assert!(created.unwrap().unwrap().created());
    a.put("jobs/1", "queued", None).await.unwrap();
    a.delete("jobs/1", None).await.unwrap();
    let mut seen = Vec::new();
    while seen.len() < 2 {
        let resp = tokio::time::timeout(PROMPT, watch.message())
            .await
            .expect("events in time")
            .unwrap()
            .unwrap();
        for event in resp.events() {
            let kv = event.kv().unwrap();
            seen.push((event.event_type(), kv.key_str().unwrap().to_string()));
        }
    }
    assert_eq!(
        seen,
        vec![
            (EventType::Put, "jobs/1".to_string()),
            (EventType::Delete, "jobs/1".to_string())
        ]
    );
    // A client that closes its sending side still receives events, as from etcd.
    let (requests, mut responses) = watch.split();
    drop(requests);
    a.put("jobs/2", "queued", None).await.unwrap();
    let resp = tokio::time::timeout(PROMPT, responses.message())
        .await
        .expect("an event after the client closed its side")
        .unwrap()
        .expect("the stream is still open");
    assert_eq!(resp.events()[0].kv().unwrap().key_str().unwrap(), "jobs/2");

    // A lease: keys attached to it, kept alive, then revoked with them.
    let lease = a.lease_grant(30, None).await.unwrap().id();
    a.put(
        "session/a",
        "alive",
        Some(PutOptions::new().with_lease(lease)),
    )
    .await
    .unwrap();
    let (mut keeper, mut keepalives) = b.lease_keep_alive(lease).await.unwrap();
    keeper.keep_alive().await.unwrap();
    let renewed = tokio::time::timeout(PROMPT, keepalives.message())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!((renewed.id(), renewed.ttl()), (lease, 30));
    let ttl = b
        .lease_time_to_live(
            lease,
            Some(etcd_client::LeaseTimeToLiveOptions::new().with_keys()),
        )
        .await
        .unwrap();
    assert_eq!(ttl.keys(), [b"session/a".to_vec()]);
    a.lease_revoke(lease).await.unwrap();
    assert_eq!(value_of(&mut b, "session/a").await, None);

    // A lock: the second locker waits until the first unlocks.
    let lease_a = a.lease_grant(30, None).await.unwrap().id();
    let lease_b = b.lease_grant(30, None).await.unwrap().id();
    let held = a
        .lock("jobs-lock", Some(LockOptions::new().with_lease(lease_a)))
        .await
        .unwrap();
    let mut waiter = b.clone();
    let second = tokio::spawn(async move {
        waiter
            .lock("jobs-lock", Some(LockOptions::new().with_lease(lease_b)))
            .await
            .unwrap()
            .key()
            .to_vec()
    });
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(!second.is_finished(), "the lock was given twice");
    a.unlock(held.key()).await.unwrap();
    let second_key = tokio::time::timeout(PROMPT, second).await.unwrap().unwrap();
    assert!(second_key.starts_with(b"jobs-lock/"));
    assert_ne!(second_key, held.key());

    // An election: one leader at a time, its proclamations observed, then a successor.
    let mut observer = a.observe("leader-election").await.unwrap();
    let campaign = a
        .campaign("leader-election", "node-a", lease_a)
        .await
        .unwrap();
    let leader_key = campaign.leader().unwrap().clone();
    let mut challenger = b.clone();
    let second = tokio::spawn(async move {
        challenger
            .campaign("leader-election", "node-b", lease_b)
            .await
            .unwrap()
    });
    let leader = b.leader("leader-election").await.unwrap();
    assert_eq!(leader.kv().unwrap().value_str().unwrap(), "node-a");
    a.proclaim(
        "node-a, again",
        Some(ProclaimOptions::new().with_leader(leader_key.clone())),
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!second.is_finished(), "two leaders at once");
    a.resign(Some(ResignOptions::new().with_leader(leader_key)))
        .await
        .unwrap();
    tokio::time::timeout(PROMPT, second).await.unwrap().unwrap();
    let mut observed = Vec::new();
    while observed.len() < 3 {
        let resp = tokio::time::timeout(PROMPT, observer.message())
            .await
            .expect("leaders observed in time")
            .unwrap()
            .unwrap();
        observed.push(resp.kv().unwrap().value_str().unwrap().to_string());
    }
    assert_eq!(observed, ["node-a", "node-a, again", "node-b"]);
}
