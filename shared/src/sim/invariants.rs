//! Raft's safety properties, checked after every step of a simulation against every running
//! member: one leader per term, the committed log the same everywhere (log matching, and so
//! state-machine safety: members apply only committed entries), leader completeness, no
//! acknowledged write lost, and the same MVCC hash on members at the same applied index.

use std::collections::{BTreeMap, BTreeSet};

use prost::Message as _;
use raft::eraftpb::EntryType;
use raft::{GetEntriesContext, StateRole};
use redb::ReadableDatabase;

use crate::member::Member;
use crate::mvcc::MvccStore;
use crate::proto::etcdlab::RaftRequest;

/// A committed entry as first seen.
#[derive(Debug)]
struct Committed {
    term: u64,
    entry_type: i32,
    data: Vec<u8>,
    /// The observer's term when the entry was first seen committed: it was committed in this
    /// term or earlier, so every leader of a later term must hold it.
    seen_in_term: u64,
}

/// What the checks have learnt so far.
#[derive(Debug, Default)]
pub struct Invariants {
    leaders: BTreeMap<u64, u64>,
    committed: BTreeMap<u64, Committed>,
    /// Per member, the commit index up to which its entries were compared.
    compared: BTreeMap<u64, u64>,
    /// Per (term, leader), the committed index up to which leader completeness was checked.
    completeness: BTreeMap<(u64, u64), u64>,
    /// (origin member, request id) of every committed client write.
    writes: BTreeSet<(u64, u64)>,
    /// Per applied index: the MVCC hash and the member that first had it.
    hashes: BTreeMap<u64, (u32, u64)>,
    /// Per member, the applied index last hashed.
    hashed: BTreeMap<u64, u64>,
}

impl Invariants {
    /// Checks `member`'s current state against what every member showed before.
    pub fn observe(&mut self, member: &Member) -> Result<(), String> {
        let raft = member.raft();
        let id = member.id();
        let log = &raft.raft_log;
        if raft.state == StateRole::Leader
            && let Some(other) = self.leaders.insert(raft.term, id)
            && other != id
        {
            return Err(format!(
                "two leaders in term {}: {other:x} and {id:x}",
                raft.term
            ));
        }
        let status = member.status();
        if status.applied_index > log.committed {
            return Err(format!(
                "{id:x} applied {} beyond its commit index {}",
                status.applied_index, log.committed
            ));
        }

        // Log matching over the committed prefix (compacted entries were compared before).
        let compared = self.compared.get(&id).copied().unwrap_or(0);
        let first = log.first_index();
        if compared + 1 < first
            && first <= log.committed + 1
            && self.committed.range(compared + 1..first).count() as u64 != first - compared - 1
        {
            return Err(format!(
                "{id:x} compacted entries {}..{first} before any member showed them committed \
                 (one ready applied more than the snapshot count keeps: raise it)",
                compared + 1
            ));
        }
        let from = compared.max(first - 1) + 1;
        if from <= log.committed {
            let entries = log
                .slice(
                    from,
                    log.committed + 1,
                    None,
                    GetEntriesContext::empty(false),
                )
                .map_err(|e| format!("{id:x} cannot read its committed log: {e}"))?;
            for e in entries {
                let seen_before = self.committed.contains_key(&e.index);
                let committed = self.committed.entry(e.index).or_insert_with(|| Committed {
                    term: e.term,
                    entry_type: e.entry_type as i32,
                    data: e.data.to_vec(),
                    seen_in_term: raft.term,
                });
                if (committed.term, committed.entry_type, &committed.data[..])
                    != (e.term, e.entry_type as i32, &e.data[..])
                {
                    return Err(format!(
                        "{id:x} committed a different entry at index {} (term {} vs {})",
                        e.index, e.term, committed.term
                    ));
                }
                if e.get_entry_type() == EntryType::EntryNormal
                    && let Ok(RaftRequest { origin, id, .. }) = RaftRequest::decode(&e.data[..])
                    && id != 0
                    && !self.writes.insert((origin, id))
                    && !seen_before
                {
                    return Err(format!(
                        "request {id} from {origin:x} committed twice (again at {})",
                        e.index
                    ));
                }
            }
        }
        self.compared.insert(id, log.committed.max(compared));

        // Leader completeness: a leader holds everything committed in earlier terms.
        if raft.state == StateRole::Leader {
            let checked = self.completeness.entry((raft.term, id)).or_insert(0);
            for (index, c) in self.committed.range(*checked + 1..) {
                if c.seen_in_term < raft.term
                    && *index >= first
                    && log.term(*index).unwrap_or(0) != c.term
                {
                    return Err(format!(
                        "leader {id:x} of term {} lacks entry {index} committed by term {}",
                        raft.term, c.seen_in_term
                    ));
                }
            }
            *checked = self.committed.keys().next_back().copied().unwrap_or(0);
        }

        // Members at the same applied index hold the same key space.
        if self.hashed.insert(id, status.applied_index) != Some(status.applied_index) {
            let txn = member.database().begin_read().map_err(|e| e.to_string())?;
            let (hash, _, _) = MvccStore::hash_kv(&txn, 0).map_err(|e| e.to_string())?;
            let (first, by) = *self
                .hashes
                .entry(status.applied_index)
                .or_insert((hash, id));
            if first != hash {
                return Err(format!(
                    "at applied index {}: hash {hash:08x} on {id:x}, {first:08x} on {by:x}",
                    status.applied_index
                ));
            }
        }
        Ok(())
    }

    /// Checks that a write acknowledged to a client (request `request_id` proposed on member
    /// `origin`) is in the committed log.
    pub fn acknowledged(&self, origin: u64, request_id: u64) -> Result<(), String> {
        if self.writes.contains(&(origin, request_id)) {
            Ok(())
        } else {
            Err(format!(
                "write {request_id} acknowledged by {origin:x} is not committed"
            ))
        }
    }
}
