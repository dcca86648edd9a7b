//! The journal's record format, its torn-tail and corruption rules, and replay into a log.

use std::sync::Mutex;

use raft::Storage as _;
use redb::backends::InMemoryBackend;

use super::*;

fn entry(index: u64, term: u64) -> Entry {
    let mut e = Entry::default();
    e.set_index(index);
    e.set_term(term);
    e.set_data(format!("put k{index}").into_bytes().into());
    e
}

fn entries(range: std::ops::RangeInclusive<u64>, term: u64) -> Vec<Entry> {
    range.map(|i| entry(i, term)).collect()
}

fn hard_state(term: u64, vote: u64, commit: u64) -> HardState {
    let mut hs = HardState::default();
    hs.set_term(term);
    hs.set_vote(vote);
    hs.set_commit(commit);
    hs
}

/// A database whose log holds entries 1..=5 of term 1, committed (a checkpoint of sequence 0).
fn database() -> Arc<Database> {
    let db = Arc::new(
        Database::builder()
            .create_with_backend(InMemoryBackend::new())
            .unwrap(),
    );
    let mut log = RaftLog::load(db.clone()).unwrap();
    let txn = db.begin_write().unwrap();
    log.append(&txn, &entries(1..=5, 1)).unwrap();
    log.set_hard_state(&txn, &hard_state(1, 1, 5)).unwrap();
    txn.commit().unwrap();
    db
}

/// A journal in memory, shared with the test: what a host's preallocated file holds.
#[derive(Clone, Default)]
struct MemoryStore {
    bytes: Arc<Mutex<Vec<u8>>>,
    offset: usize,
}

impl MemoryStore {
    fn bytes(&self) -> Vec<u8> {
        self.bytes.lock().unwrap().clone()
    }
}

impl JournalStore for MemoryStore {
    fn append_durably(&mut self, record: &[u8]) -> std::io::Result<()> {
        let mut bytes = self.bytes.lock().unwrap();
        let end = self.offset + record.len();
        if bytes.len() < end {
            bytes.resize(end, 0);
        }
        bytes[self.offset..end].copy_from_slice(record);
        self.offset = end;
        Ok(())
    }

    fn rewind(&mut self) {
        self.offset = 0;
    }
}

/// The journal bytes of two readies after `database()`'s log: entries 6..=8 (term 1, commit
/// 7), then a new leader's term 2 overwriting 8 and adding 9.
fn two_records(db: &Database) -> Vec<u8> {
    let store = MemoryStore::default();
    let mut journal = Journal::attach(db, Box::new(store.clone()), 0).unwrap();
    journal
        .append(&entries(6..=8, 1), Some(&hard_state(1, 1, 7)))
        .unwrap();
    journal
        .append(&entries(8..=9, 2), Some(&hard_state(2, 3, 7)))
        .unwrap();
    store.bytes()
}

fn terms(log: &RaftLog) -> Vec<(u64, u64)> {
    (log.first_index()..=log.last_index())
        .map(|i| (i, log.term(i).unwrap()))
        .collect()
}

#[test]
fn replay_puts_the_records_back_into_the_log_once() {
    let db = database();
    let journal = two_records(&db);
    // Zeros after the records (the rest of a preallocated file) end them.
    let mut preallocated = journal.clone();
    preallocated.resize(journal.len() + 4096, 0);
    assert_eq!(replay(&db, &preallocated).unwrap(), 2);
    let log = RaftLog::load(db.clone()).unwrap();
    let mut expected: Vec<(u64, u64)> = (1..=7).map(|i| (i, 1)).collect();
    expected.extend([(8, 2), (9, 2)]);
    assert_eq!(terms(&log), expected);
    assert_eq!(log.hard_state(), &hard_state(2, 3, 7));
    assert_eq!(
        &log.entries(9, 10, None, any()).unwrap()[0].data[..],
        b"put k9"
    );

    // The database now holds both records: the same journal replays nothing.
    assert_eq!(replay(&db, &journal).unwrap(), 0);
    // A journal attached afterwards goes on from sequence 3.
    let store = MemoryStore::default();
    let mut next = Journal::attach(&db, Box::new(store.clone()), 0).unwrap();
    next.append(&entries(10..=10, 2), None).unwrap();
    let records = live_records(&store.bytes(), 2).unwrap();
    assert_eq!(records[0].seq, 3);
}

#[test]
fn a_record_cut_short_by_a_crash_is_dropped() {
    let journal = two_records(&database());
    let first_len = {
        let len = u32::from_le_bytes(journal[..4].try_into().unwrap()) as usize;
        HEADER_LEN + len
    };
    for cut in [
        first_len + 3,
        first_len + HEADER_LEN + 10,
        journal.len() - 1,
    ] {
        let db = database();
        // What a crash leaves: the start of the record, then the file's zeros.
        let mut torn = journal[..cut].to_vec();
        torn.resize(journal.len() + 64, 0);
        assert_eq!(replay(&db, &torn).unwrap(), 1, "cut at {cut}");
        assert_eq!(RaftLog::load(db).unwrap().last_index(), 8, "cut at {cut}");
    }
    // A last record whose bytes were not all written (here: garbled) is torn too.
    let mut garbled = journal.clone();
    let last = garbled.len() - 1;
    garbled[last] ^= 0xff;
    assert_eq!(replay(&database(), &garbled).unwrap(), 1);
}

#[test]
fn a_damaged_record_followed_by_a_newer_one_is_refused() {
    let db = database();
    let mut journal = two_records(&db);
    journal[HEADER_LEN + 2] ^= 0xff;
    let err = replay(&db, &journal).unwrap_err();
    assert!(
        matches!(&err, CoreError::Corrupt(m) if m.contains("record 2 at byte") && m.contains("beyond a gap or damaged bytes after record 0")),
        "{err}"
    );
    // Nothing was written.
    assert_eq!(RaftLog::load(db).unwrap().last_index(), 5);
}

#[test]
fn after_a_checkpoint_new_records_overwrite_the_old_and_replay_alone() {
    let db = database();
    let store = MemoryStore::default();
    let mut journal = Journal::attach(&db, Box::new(store.clone()), 0).unwrap();
    // Three records of two entries each, then a checkpoint holding them.
    for first in [6, 8, 10] {
        journal
            .append(&entries(first..=first + 1, 1), None)
            .unwrap();
    }
    let mut log = RaftLog::load(db.clone()).unwrap();
    let txn = db.begin_write().unwrap();
    log.append(&txn, &entries(6..=11, 1)).unwrap();
    journal.mark_checkpoint(&txn).unwrap();
    txn.commit().unwrap();
    journal.checkpointed();
    // One shorter record after it: it overwrites the start of the first, the rest stays.
    journal
        .append(&entries(12..=12, 2), Some(&hard_state(2, 2, 11)))
        .unwrap();
    let bytes = store.bytes();
    assert_eq!(live_records(&bytes, 3).unwrap().len(), 1);
    assert_eq!(replay(&db, &bytes).unwrap(), 1);
    let log = RaftLog::load(db.clone()).unwrap();
    assert_eq!(log.last_index(), 12);
    assert_eq!(log.term(12).unwrap(), 2);
    assert_eq!(checkpoint_seq(&db).unwrap(), 4);
    // Replayed again (a crash right after the replay): nothing left to do.
    assert_eq!(replay(&db, &bytes).unwrap(), 0);
}

#[test]
fn a_gap_in_the_sequence_is_refused() {
    let db = database();
    let mut journal = Vec::new();
    encode_record(&mut journal, 1, &entries(6..=6, 1), None).unwrap();
    encode_record(&mut journal, 3, &entries(7..=7, 1), None).unwrap();
    let err = replay(&db, &journal).unwrap_err();
    assert!(
        err.to_string()
            .contains("record 3 at byte 40 lies beyond a gap or damaged bytes after record 1"),
        "{err}"
    );
}

#[test]
fn entries_a_compaction_folded_away_are_skipped() {
    let db = database();
    let journal = two_records(&db);
    // The database moved on past the records' first entries and compacted them.
    let mut log = RaftLog::load(db.clone()).unwrap();
    let txn = db.begin_write().unwrap();
    log.append(&txn, &entries(6..=7, 1)).unwrap();
    log.compact(&txn, 7).unwrap();
    txn.commit().unwrap();
    replay(&db, &journal).unwrap();
    let log = RaftLog::load(db).unwrap();
    assert_eq!(terms(&log), vec![(8, 2), (9, 2)]);
}

#[test]
fn the_commit_index_never_moves_back() {
    let db = database();
    let mut journal = Vec::new();
    encode_record(&mut journal, 1, &[], Some(&hard_state(2, 2, 3))).unwrap();
    replay(&db, &journal).unwrap();
    assert_eq!(
        RaftLog::load(db).unwrap().hard_state(),
        &hard_state(2, 2, 5)
    );
}

#[test]
fn a_checkpoint_is_due_after_enough_records_and_starts_the_journal_over() {
    let db = database();
    let store = MemoryStore::default();
    let mut journal = Journal::attach(&db, Box::new(store.clone()), 0).unwrap();
    for i in 0..CHECKPOINT_RECORDS {
        assert!(!journal.checkpoint_due());
        journal.append(&entries(6 + i..=6 + i, 1), None).unwrap();
    }
    assert!(journal.checkpoint_due());
    let txn = db.begin_write().unwrap();
    journal.mark_checkpoint(&txn).unwrap();
    txn.commit().unwrap();
    journal.checkpointed();
    assert!(!journal.checkpoint_due());
    assert_eq!(checkpoint_seq(&db).unwrap(), CHECKPOINT_RECORDS);
    // Every record is in the database: the journal replays none of them.
    assert_eq!(replay(&db, &store.bytes()).unwrap(), 0);
}

#[test]
fn a_checkpoint_is_due_after_enough_entries_in_fewer_records() {
    let db = database();
    let mut journal = Journal::attach(&db, Box::new(MemoryStore::default()), 0).unwrap();
    let per_record = 16;
    let mut next = 6;
    let mut records = 0;
    while !journal.checkpoint_due() {
        journal
            .append(&entries(next..=next + per_record - 1, 1), None)
            .unwrap();
        next += per_record;
        records += 1;
    }
    assert_eq!(records, CHECKPOINT_ENTRIES / per_record);
    assert!(records < CHECKPOINT_RECORDS);
}

#[test]
fn members_checkpoint_first_at_different_records_then_at_the_same_interval() {
    let db = database();
    let store = MemoryStore::default();
    // A member id staggers the first checkpoint by up to half an interval.
    let stagger = CHECKPOINT_RECORDS / 2 - 10;
    let mut journal = Journal::attach(&db, Box::new(store.clone()), stagger).unwrap();
    let mut next = 6;
    let mut append_until_due = |journal: &mut Journal| {
        let mut records = 0;
        while !journal.checkpoint_due() {
            journal.append(&entries(next..=next, 1), None).unwrap();
            next += 1;
            records += 1;
        }
        records
    };
    assert_eq!(append_until_due(&mut journal), CHECKPOINT_RECORDS - stagger);
    let txn = db.begin_write().unwrap();
    journal.mark_checkpoint(&txn).unwrap();
    txn.commit().unwrap();
    journal.checkpointed();
    assert_eq!(append_until_due(&mut journal), CHECKPOINT_RECORDS);
    // The stagger never makes the interval shorter than half.
    let other = Journal::attach(&db, Box::new(MemoryStore::default()), u64::MAX).unwrap();
    assert!(other.records_due >= CHECKPOINT_RECORDS / 2);
    assert!(other.entries_due >= CHECKPOINT_ENTRIES / 2);
}

fn any() -> raft::GetEntriesContext {
    raft::GetEntriesContext::empty(false)
}

#[test]
fn pending_counts_what_replay_would_put_back_without_writing() {
    let db = database();
    let journal = two_records(&db);
    assert_eq!(pending(&db, &journal).unwrap(), 2);
    assert_eq!(RaftLog::load(db.clone()).unwrap().last_index(), 5);
    replay(&db, &journal).unwrap();
    assert_eq!(pending(&db, &journal).unwrap(), 0);
}

#[test]
fn the_journals_place_is_recorded_in_the_database() {
    let db = database();
    assert_eq!(recorded_location(&db).unwrap(), None);
    record_location(&db, b"/wal/etcdlab.journal").unwrap();
    assert_eq!(
        recorded_location(&db).unwrap().as_deref(),
        Some(&b"/wal/etcdlab.journal"[..])
    );
}
