//! Leases: etcd's time-to-live handles that keys can be attached to.
//!
//! What is replicated lives in redb and changes only by applying Raft entries, so every member
//! agrees on it: the table `leases` maps a lease id to its granted TTL in seconds, and the key
//! space keeps the index of attached keys (`mvcc_lease_keys`, maintained by every put and
//! delete). Granting inserts a row; revoking deletes the attached keys in one revision through
//! the key space's writer (so watchers see DELETE events) and then the row.
//!
//! What is *not* replicated is time: only the leader knows when a lease expires. [`Lessor`]
//! keeps those deadlines in memory on the leader, from a clock the host passes in, and tells
//! the member which leases to revoke through Raft. A new leader gives every lease its full TTL
//! again (plus an election timeout), so a leader change never expires a lease early.

mod lessor;

use redb::{ReadableTable, TableDefinition, WriteTransaction};

pub use lessor::Lessor;

use crate::byte_rows::{i64_bytes, read_i64};
use crate::mvcc::{MvccError, MvccStore};
use crate::proto::etcdserverpb::{
    LeaseGrantRequest, LeaseGrantResponse, LeaseRevokeResponse, LeaseStatus, ResponseHeader,
};

/// Lease id → granted TTL in seconds, both as `byte_rows` integers.
pub(crate) const LEASES: TableDefinition<&[u8], &[u8]> = TableDefinition::new("leases");

/// How many expired leases the leader revokes a second at most (etcd's `leaseRevokeRate`).
pub const REVOKES_PER_SECOND: u64 = 1000;

/// The longest TTL etcd grants (`MaxLeaseTTL`, about 285 years).
pub const MAX_LEASE_TTL: i64 = 9_000_000_000;

/// etcd's shortest TTL for a cluster's timing: one and a half election timeouts (counted in
/// whole heartbeats), rounded up to a second, so a lease outlives a leader election.
pub fn min_lease_ttl(election_tick: usize, tick_ms: u64) -> i64 {
    let ms = (3 * election_tick as u64 / 2) * tick_ms;
    ms.div_ceil(1000) as i64
}

/// Creates the lease table if this database has none yet.
pub(crate) fn create_table(txn: &WriteTransaction) -> Result<(), MvccError> {
    txn.open_table(LEASES)?;
    Ok(())
}

/// Applies a grant: a new lease with this id and TTL (the proposer chose both).
pub(crate) fn grant(
    txn: &WriteTransaction,
    req: &LeaseGrantRequest,
) -> Result<LeaseGrantResponse, MvccError> {
    if req.ttl > MAX_LEASE_TTL {
        return Err(MvccError::LeaseTtlTooLarge);
    }
    let mut table = txn.open_table(LEASES)?;
    let id = i64_bytes(req.id);
    if req.id == 0 || table.get(&id[..])?.is_some() {
        // A zero id never reaches the log (the proposer picks one); refuse it like a duplicate.
        return Err(MvccError::LeaseExists);
    }
    table.insert(&id[..], &i64_bytes(req.ttl)[..])?;
    Ok(LeaseGrantResponse {
        header: None,
        id: req.id,
        ttl: req.ttl,
        error: String::new(),
    })
}

/// Applies a revoke: the attached keys are deleted in one revision, then the lease.
pub(crate) fn revoke(
    txn: &WriteTransaction,
    mvcc: &mut MvccStore,
    id: i64,
) -> Result<LeaseRevokeResponse, MvccError> {
    let key = i64_bytes(id);
    if txn.open_table(LEASES)?.get(&key[..])?.is_none() {
        return Err(MvccError::LeaseNotFound);
    }
    let revision = mvcc.delete_leased_keys(txn, id)?;
    txn.open_table(LEASES)?.remove(&key[..])?;
    Ok(LeaseRevokeResponse {
        header: Some(ResponseHeader {
            revision,
            ..Default::default()
        }),
    })
}

/// The granted TTL of a lease, if it exists.
pub fn granted_ttl(txn: &redb::ReadTransaction, id: i64) -> Result<Option<i64>, MvccError> {
    match txn.open_table(LEASES) {
        Ok(table) => match table.get(&i64_bytes(id)[..])? {
            Some(ttl) => Ok(Some(read_i64(ttl.value()).map_err(MvccError::Storage)?)),
            None => Ok(None),
        },
        Err(redb::TableError::TableDoesNotExist(_)) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Every lease, by id (etcd's `LeaseLeases`).
pub fn list(txn: &redb::ReadTransaction) -> Result<Vec<LeaseStatus>, MvccError> {
    match txn.open_table(LEASES) {
        Ok(table) => all(&table).map(|leases| {
            leases
                .into_iter()
                .map(|(id, _)| LeaseStatus { id })
                .collect()
        }),
        Err(redb::TableError::TableDoesNotExist(_)) => Ok(Vec::new()),
        Err(e) => Err(e.into()),
    }
}

/// Every lease with its granted TTL, in id order.
pub(crate) fn all(
    table: &impl ReadableTable<&'static [u8], &'static [u8]>,
) -> Result<Vec<(i64, i64)>, MvccError> {
    let mut leases = Vec::new();
    for row in table.iter()? {
        let (id, ttl) = row?;
        let read = |bytes: &[u8]| read_i64(bytes).map_err(MvccError::Storage);
        leases.push((read(id.value())?, read(ttl.value())?));
    }
    Ok(leases)
}

#[cfg(test)]
mod tests;
