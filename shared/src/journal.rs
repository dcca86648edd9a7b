//! The Raft journal: what makes a ready durable without a synced database commit.
//!
//! A synced redb commit rewrites a dozen scattered B-tree pages and syncs them; appending the
//! same Raft entries to a file and syncing it costs a fraction of that (etcd's WAL does the
//! same). So a member with a journal writes each ready that raft-rs wants synced (new entries,
//! a new term or vote) as one journal record, synced, and commits the ready's redb transaction
//! without a sync. Every [`CHECKPOINT_ENTRIES`] entries (or [`CHECKPOINT_RECORDS`] records, or
//! [`CHECKPOINT_BYTES`]) one ready's commit is synced instead, with the sequence number of the
//! last record it covers stored in the same transaction (a *checkpoint*); then the journal
//! starts again at its beginning, overwriting records the database now holds. A received
//! snapshot is always a checkpoint.
//!
//! The host keeps the journal in a file of [`PREALLOCATED_BYTES`] written once (zeros), so a
//! record overwrites blocks the file already has and its sync flushes data, not the file's
//! size or block map; and starting over is a seek, not a truncation.
//!
//! After a crash redb holds the last checkpoint; [`replay`] puts the journal's later records
//! (their entries and hard state) back into the Raft log in one synced commit, and raft-rs
//! applies the committed entries again from the applied index of that checkpoint, as after
//! any restart. The journal's live records are the run from its beginning whose sequence
//! numbers follow one another; it ends at zeros (never written), at an older record (written
//! before the last checkpoint, so never newer than it), or at a record the crash cut short —
//! never synced, so never acknowledged: it is dropped. A damaged record followed by a newer
//! record than the last live one is corruption, and refused.
//!
//! This module holds the format and the replay; the host owns the file ([`JournalStore`]).
//! Record: payload length (u32 LE, never 0), CRC-32C of the payload (u32 LE), payload:
//! sequence number (u64 LE), hard state length (u32 LE, 0 when absent) and bytes, entry count
//! (u32 LE), then each entry's length (u32 LE) and protobuf bytes.

use std::sync::Arc;

use protobuf::Message as _;
use raft::eraftpb::{Entry, HardState};
use redb::{Database, ReadableDatabase, WriteTransaction};

use crate::byte_rows::{read_u64, u64_bytes};
use crate::error::CoreError;
use crate::raft_log::{RaftLog, STATE};

/// Entries between two checkpoints. A checkpoint's commit writes every page the unsynced
/// commits since the last one dirtied and syncs them, stalling its member's loop meanwhile, so
/// its cost grows with the entries applied since; fewer checkpoints make writes cheaper overall.
/// Under 64 clients about 2,000 entries (then ~128 records) were best: after four times as
/// many, throughput was no better and a write's tail grew; after half as many or a quarter,
/// throughput fell by 6–9 % (3 members, alternating rounds of `bench/compare`'s put workloads).
pub const CHECKPOINT_ENTRIES: u64 = 2048;
/// Records between two checkpoints at most, however few entries they hold: with one client each
/// record holds one entry, and a checkpoint after every 128 set the tail of its writes (its
/// leader's stall of ~2 ms fell on 1 in 128 writes).
pub const CHECKPOINT_RECORDS: u64 = 1024;
/// Journal bytes that force a checkpoint before the entries or records do (large entries).
pub const CHECKPOINT_BYTES: u64 = 4 << 20;
/// The size a host's journal file is given (zeros) before its first record: what the records
/// between two checkpoints take, but for the last one's overshoot of [`CHECKPOINT_BYTES`].
pub const PREALLOCATED_BYTES: u64 = CHECKPOINT_BYTES + (1 << 20);
/// `raft_state` row: the sequence number of the last journal record the database holds.
const CHECKPOINT_KEY: &[u8] = b"journal_checkpoint";
/// `raft_state` row: where the host keeps the journal ([`record_location`]).
const LOCATION_KEY: &[u8] = b"journal_location";
const HEADER_LEN: usize = 8;

/// Where a member's journal records go: natively a preallocated file (the node crate's),
/// written from its start again after each checkpoint.
pub trait JournalStore: Send {
    /// Writes `record` after the previous one and returns once it is on stable storage.
    fn append_durably(&mut self, record: &[u8]) -> std::io::Result<()>;
    /// Makes the next record go to the journal's beginning: every record so far is in a
    /// synced database commit (no sync needed: [`replay`] tells those from newer ones).
    fn rewind(&mut self);
}

/// A member's journal: the store and where the next checkpoint is due.
pub struct Journal {
    store: Box<dyn JournalStore>,
    next_seq: u64,
    records_since_checkpoint: u64,
    entries_since_checkpoint: u64,
    /// Records and entries after which the next checkpoint is due: [`CHECKPOINT_RECORDS`] and
    /// [`CHECKPOINT_ENTRIES`] but for the first interval after attaching (see [`Journal::attach`]).
    records_due: u64,
    entries_due: u64,
    bytes_since_checkpoint: u64,
    buf: Vec<u8>,
}

impl Journal {
    /// A journal for `db` whose records are all in it (after [`replay`], or a new member).
    ///
    /// `stagger` (the member's id) shortens the first interval by up to half: members started
    /// together append one record per leader ready each, so with equal intervals both followers
    /// of a three-member cluster checkpoint in the same ready and the leader, needing one of
    /// their acknowledgements, waits for the slower checkpoint (a write's p99 with one client
    /// was up to 27 % above etcd's); staggered, the other follower acknowledges meanwhile.
    pub fn attach(
        db: &Database,
        store: Box<dyn JournalStore>,
        stagger: u64,
    ) -> Result<Journal, CoreError> {
        let cut = stagger % (CHECKPOINT_RECORDS / 2);
        Ok(Journal {
            store,
            next_seq: checkpoint_seq(db)? + 1,
            records_since_checkpoint: 0,
            entries_since_checkpoint: 0,
            records_due: CHECKPOINT_RECORDS - cut,
            entries_due: CHECKPOINT_ENTRIES - CHECKPOINT_ENTRIES * cut / CHECKPOINT_RECORDS,
            bytes_since_checkpoint: 0,
            buf: Vec::new(),
        })
    }

    /// Whether the next synced ready should be a checkpoint instead of a record.
    pub fn checkpoint_due(&self) -> bool {
        self.records_since_checkpoint >= self.records_due
            || self.entries_since_checkpoint >= self.entries_due
            || self.bytes_since_checkpoint >= CHECKPOINT_BYTES
    }

    /// Writes one record holding `entries` and `hard_state`, synced.
    pub fn append(
        &mut self,
        entries: &[Entry],
        hard_state: Option<&HardState>,
    ) -> Result<(), CoreError> {
        self.buf.clear();
        encode_record(&mut self.buf, self.next_seq, entries, hard_state)?;
        self.store
            .append_durably(&self.buf)
            .map_err(|e| CoreError::Storage(format!("writing the Raft journal: {e}")))?;
        self.next_seq += 1;
        self.records_since_checkpoint += 1;
        self.entries_since_checkpoint += entries.len() as u64;
        self.bytes_since_checkpoint += self.buf.len() as u64;
        Ok(())
    }

    /// Records in `txn` (which the caller commits synced) that the database holds every
    /// record written so far.
    pub fn mark_checkpoint(&self, txn: &WriteTransaction) -> Result<(), CoreError> {
        write_checkpoint_seq(txn, self.next_seq - 1)
    }

    /// Starts the journal over once the transaction of [`Journal::mark_checkpoint`] is
    /// committed.
    pub fn checkpointed(&mut self) {
        self.store.rewind();
        self.records_since_checkpoint = 0;
        self.entries_since_checkpoint = 0;
        self.records_due = CHECKPOINT_RECORDS;
        self.entries_due = CHECKPOINT_ENTRIES;
        self.bytes_since_checkpoint = 0;
    }
}

/// Puts the records of `journal` (a journal file's bytes) that `db` does not hold yet back into
/// its Raft log, in one synced commit, and returns how many there were. Afterwards the
/// journal may start over.
pub fn replay(db: &Arc<Database>, journal: &[u8]) -> Result<u64, CoreError> {
    let checkpoint = checkpoint_seq(db)?;
    let pending = pending_records(journal, checkpoint)?;
    if pending.is_empty() {
        return Ok(0);
    }
    if pending[0].seq != checkpoint + 1 {
        return Err(CoreError::Corrupt(format!(
            "Raft journal: its first record is {}, the database holds records up to {checkpoint}",
            pending[0].seq
        )));
    }
    let mut log = RaftLog::load(db.clone())?;
    let txn = db.begin_write()?;
    for record in &pending {
        // Entries a log compaction already folded into the state are applied; skip them.
        let compacted = log.first_index() - 1;
        let fresh: Vec<Entry> = record
            .entries
            .iter()
            .filter(|e| e.index > compacted)
            .cloned()
            .collect();
        log.append(&txn, &fresh)?;
        if let Some(hs) = &record.hard_state {
            // The commit index may have moved on in an unsynced commit the database kept.
            let mut hs = hs.clone();
            hs.commit = hs.commit.max(log.hard_state().commit);
            log.set_hard_state(&txn, &hs)?;
        }
    }
    let last = pending.last().map_or(checkpoint, |r| r.seq);
    write_checkpoint_seq(&txn, last)?;
    txn.commit()?;
    Ok(pending.len() as u64)
}

/// How many records of `journal` `db` does not hold yet: what [`replay`] would put back.
pub fn pending(db: &Database, journal: &[u8]) -> Result<u64, CoreError> {
    Ok(pending_records(journal, checkpoint_seq(db)?)?.len() as u64)
}

fn pending_records(journal: &[u8], checkpoint: u64) -> Result<Vec<Record>, CoreError> {
    let records = live_records(journal, checkpoint)?;
    Ok(records.into_iter().filter(|r| r.seq > checkpoint).collect())
}

/// One decoded record.
struct Record {
    seq: u64,
    hard_state: Option<HardState>,
    entries: Vec<Entry>,
}

/// Appends one record to `out`.
fn encode_record(
    out: &mut Vec<u8>,
    seq: u64,
    entries: &[Entry],
    hard_state: Option<&HardState>,
) -> Result<(), CoreError> {
    let start = out.len();
    out.extend_from_slice(&[0; HEADER_LEN]);
    out.extend_from_slice(&seq.to_le_bytes());
    match hard_state {
        Some(hs) => push_message(out, hs)?,
        None => push_len(out, 0)?,
    }
    push_len(out, entries.len())?;
    for entry in entries {
        push_message(out, entry)?;
    }
    let payload = start + HEADER_LEN;
    let crc = crc32c(&out[payload..]);
    let len = u32_len(out.len() - payload)?;
    out[start..start + 4].copy_from_slice(&len.to_le_bytes());
    out[start + 4..payload].copy_from_slice(&crc.to_le_bytes());
    Ok(())
}

/// What the journal holds at one position.
enum Slot {
    /// A whole record, and the position after it.
    Record(Record, usize),
    /// Zeros or the journal's end: nothing was ever written here.
    Unwritten,
    /// Bytes that are not a whole record (cut short by a crash, damaged, or the middle of an
    /// older record), and the position after them if their length field fits the journal.
    Damaged(Option<usize>),
}

fn slot_at(journal: &[u8], at: usize) -> Result<Slot, CoreError> {
    let Some(header) = journal.get(at..at + HEADER_LEN) else {
        return Ok(Slot::Unwritten);
    };
    let len = u32::from_le_bytes(header[..4].try_into().expect("4 bytes")) as usize;
    let crc = u32::from_le_bytes(header[4..].try_into().expect("4 bytes"));
    if len == 0 {
        return Ok(Slot::Unwritten);
    }
    let end = at + HEADER_LEN + len;
    let Some(payload) = journal.get(at + HEADER_LEN..end) else {
        return Ok(Slot::Damaged(None));
    };
    if crc32c(payload) != crc {
        return Ok(Slot::Damaged(Some(end)));
    }
    let record = decode_payload(payload)
        .map_err(|e| CoreError::Corrupt(format!("Raft journal, record at byte {at}: {e}")))?;
    Ok(Slot::Record(record, end))
}

/// The live records of `journal`: the run from its beginning whose sequence numbers follow one
/// another. Refuses a journal holding a record newer
/// than the last live one (or than `checkpoint`) after the end of the run: acknowledged
/// records behind damage.
fn live_records(journal: &[u8], checkpoint: u64) -> Result<Vec<Record>, CoreError> {
    let mut live: Vec<Record> = Vec::new();
    let mut at = 0;
    while let Slot::Record(record, end) = slot_at(journal, at)? {
        if live.last().is_some_and(|last| record.seq != last.seq + 1) {
            break;
        }
        live.push(record);
        at = end;
    }
    let newest = live.last().map_or(checkpoint, |r| r.seq.max(checkpoint));
    // Past the end of the run: older records, zeros or a torn one; never a newer record.
    let mut next = Some(at);
    while let Some(pos) = next {
        next = match slot_at(journal, pos)? {
            Slot::Record(record, end) => {
                if record.seq > newest {
                    return Err(CoreError::Corrupt(format!(
                        "Raft journal: record {} at byte {pos} lies beyond a gap or damaged bytes after record {newest}",
                        record.seq
                    )));
                }
                Some(end)
            }
            Slot::Damaged(end) => end,
            Slot::Unwritten => None,
        };
    }
    Ok(live)
}

fn decode_payload(payload: &[u8]) -> Result<Record, String> {
    let mut reader = Reader(payload);
    let seq = u64::from_le_bytes(reader.take(8)?.try_into().expect("8 bytes"));
    let hs_len = reader.len()?;
    let hard_state = match hs_len {
        0 => None,
        n => Some(HardState::parse_from_bytes(reader.take(n)?).map_err(|e| e.to_string())?),
    };
    let count = reader.len()?;
    let mut entries = Vec::with_capacity(count.min(payload.len()));
    for _ in 0..count {
        let n = reader.len()?;
        entries.push(Entry::parse_from_bytes(reader.take(n)?).map_err(|e| e.to_string())?);
    }
    if !reader.0.is_empty() {
        return Err(format!(
            "{} unexpected bytes after the entries",
            reader.0.len()
        ));
    }
    Ok(Record {
        seq,
        hard_state,
        entries,
    })
}

/// Reads a payload front to back.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if n > self.0.len() {
            return Err(format!("needs {n} bytes, {} left", self.0.len()));
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Ok(head)
    }

    fn len(&mut self) -> Result<usize, String> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().expect("4 bytes")) as usize)
    }
}

/// Appends `message`'s length and protobuf bytes, encoded in place (no buffer per entry).
fn push_message(out: &mut Vec<u8>, message: &dyn protobuf::Message) -> Result<(), CoreError> {
    let at = out.len();
    push_len(out, 0)?;
    message
        .write_to_vec(out)
        .map_err(|e| CoreError::Encode(e.to_string()))?;
    let len = u32_len(out.len() - at - 4)?;
    out[at..at + 4].copy_from_slice(&len.to_le_bytes());
    Ok(())
}

fn push_len(out: &mut Vec<u8>, len: usize) -> Result<(), CoreError> {
    out.extend_from_slice(&u32_len(len)?.to_le_bytes());
    Ok(())
}

fn u32_len(len: usize) -> Result<u32, CoreError> {
    u32::try_from(len).map_err(|_| CoreError::Encode(format!("{len} bytes in one journal record")))
}

fn crc32c(bytes: &[u8]) -> u32 {
    crate::crc32c::CRC32C.checksum(bytes)
}

/// Where the host keeps `db`'s journal, as it recorded it ([`record_location`]): `None` when it
/// never did.
pub fn recorded_location(db: &Database) -> Result<Option<Vec<u8>>, CoreError> {
    state_row(db, LOCATION_KEY, |v| Ok(v.to_vec()))
}

/// Records, durably, where the host keeps `db`'s journal from now on (any bytes: a path).
pub fn record_location(db: &Database, location: &[u8]) -> Result<(), CoreError> {
    let txn = db.begin_write()?;
    txn.open_table(STATE)?.insert(LOCATION_KEY, location)?;
    txn.commit()?;
    Ok(())
}

/// The sequence number of the last journal record `db` holds (0 when none ever was).
fn checkpoint_seq(db: &Database) -> Result<u64, CoreError> {
    Ok(state_row(db, CHECKPOINT_KEY, |v| {
        read_u64(v).map_err(CoreError::Corrupt)
    })?
    .unwrap_or(0))
}

/// The `raft_state` row `key`, read by `read`; `None` when it (or the table) does not exist.
fn state_row<T>(
    db: &Database,
    key: &[u8],
    read: impl FnOnce(&[u8]) -> Result<T, CoreError>,
) -> Result<Option<T>, CoreError> {
    let txn = db.begin_read()?;
    let table = match txn.open_table(STATE) {
        Ok(table) => table,
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let row = table.get(key)?;
    row.map(|v| read(v.value())).transpose()
}

fn write_checkpoint_seq(txn: &WriteTransaction, seq: u64) -> Result<(), CoreError> {
    txn.open_table(STATE)?
        .insert(CHECKPOINT_KEY, &u64_bytes(seq)[..])?;
    Ok(())
}

#[cfg(test)]
mod tests;
