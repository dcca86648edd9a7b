//! Cluster membership: ids derived exactly as etcd derives them, and the replicated member
//! table (who is in the cluster, their names, peer and client URLs, learner or voter).
//!
//! Ids: a member's id is the first 8 bytes (big-endian) of SHA-1 over its sorted peer URLs,
//! the cluster token and, for members added at run time, the Unix time of the addition; the
//! cluster id is the same over the sorted member ids. So `--initial-cluster` and
//! `--initial-cluster-token` give the same ids as real etcd, and a wrong token is detected.
//!
//! The table `members` (id as big-endian bytes → `etcdserverpb::Member`, protobuf) is
//! changed only by applied Raft entries, so every member holds the same list.

use prost::Message as _;
use redb::{ReadableTable, TableDefinition, WriteTransaction};
use sha1::{Digest, Sha1};

use crate::byte_rows::u64_bytes;
use crate::error::CoreError;
use crate::proto::etcdserverpb::Member as MemberInfo;

pub(crate) const MEMBERS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("members");

/// etcd's member id for `peer_urls` in the cluster named by `token`; `added_at_unix` is the
/// time of a run-time `member add` (None for initial members).
pub fn member_id(peer_urls: &[String], token: &str, added_at_unix: Option<i64>) -> u64 {
    let mut urls = peer_urls.to_vec();
    urls.sort();
    let mut hasher = Sha1::new();
    for url in &urls {
        hasher.update(url.as_bytes());
    }
    hasher.update(token.as_bytes());
    if let Some(t) = added_at_unix {
        hasher.update(t.to_string().as_bytes());
    }
    first_u64(&hasher.finalize())
}

/// etcd's cluster id for the initial member ids.
pub fn cluster_id(member_ids: &[u64]) -> u64 {
    let mut ids = member_ids.to_vec();
    ids.sort_unstable();
    let mut hasher = Sha1::new();
    for id in ids {
        hasher.update(id.to_be_bytes());
    }
    first_u64(&hasher.finalize())
}

fn first_u64(digest: &[u8]) -> u64 {
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(bytes)
}

/// Creates the member table if it does not exist yet.
pub(crate) fn create_table(txn: &WriteTransaction) -> Result<(), CoreError> {
    txn.open_table(MEMBERS)?;
    Ok(())
}

/// Adds or replaces a member.
pub(crate) fn put(txn: &WriteTransaction, member: &MemberInfo) -> Result<(), CoreError> {
    txn.open_table(MEMBERS)?
        .insert(&u64_bytes(member.id)[..], member.encode_to_vec().as_slice())?;
    Ok(())
}

pub(crate) fn remove(txn: &WriteTransaction, id: u64) -> Result<(), CoreError> {
    txn.open_table(MEMBERS)?.remove(&u64_bytes(id)[..])?;
    Ok(())
}

pub(crate) fn get(txn: &WriteTransaction, id: u64) -> Result<Option<MemberInfo>, CoreError> {
    let table = txn.open_table(MEMBERS)?;
    let found = table.get(&u64_bytes(id)[..])?.map(|v| decode(v.value()));
    found.transpose()
}

/// All members, ordered by id.
pub fn list(txn: &redb::ReadTransaction) -> Result<Vec<MemberInfo>, CoreError> {
    collect(&txn.open_table(MEMBERS)?)
}

/// All members as a write transaction sees them.
pub(crate) fn list_in(txn: &WriteTransaction) -> Result<Vec<MemberInfo>, CoreError> {
    collect(&txn.open_table(MEMBERS)?)
}

fn collect(
    table: &impl ReadableTable<&'static [u8], &'static [u8]>,
) -> Result<Vec<MemberInfo>, CoreError> {
    let mut members = Vec::new();
    for row in table.iter()? {
        members.push(decode(row?.1.value())?);
    }
    Ok(members)
}

fn decode(bytes: &[u8]) -> Result<MemberInfo, CoreError> {
    MemberInfo::decode(bytes).map_err(|e| CoreError::Corrupt(format!("member record: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_match_real_etcd() {
        // Real etcd 3.4.23: `--name single --initial-cluster single=http://127.0.0.1:23800`
        // with the default token reports member 2e1259d415f2a040 in cluster 324952591200643719.
        let id = member_id(&["http://127.0.0.1:23800".into()], "etcd-cluster", None);
        assert_eq!(id, 0x2e12_59d4_15f2_a040);
        assert_eq!(cluster_id(&[id]), 324952591200643719);
    }

    #[test]
    fn token_and_url_order() {
        let a = member_id(&["http://b:2380".into(), "http://a:2380".into()], "t", None);
        let b = member_id(&["http://a:2380".into(), "http://b:2380".into()], "t", None);
        assert_eq!(a, b);
        assert_ne!(
            a,
            member_id(&["http://a:2380".into(), "http://b:2380".into()], "u", None)
        );
        assert_ne!(
            a,
            member_id(
                &["http://a:2380".into(), "http://b:2380".into()],
                "t",
                Some(1)
            )
        );
    }
}
