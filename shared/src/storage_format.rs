//! Which storage format a database is in, and bringing one opened from disk to the current.
//!
//! Format 1 (etcdlab up to December 2026) used typed redb tables and recorded no format.
//! Format 2 keeps every table but `mvcc_history` as `&[u8] → &[u8]` (`byte_rows`) and
//! records `"format" → 2` (big-endian) in the table `etcdlab_format`. Format 3 is a snapshot
//! file's: format 2 less the live-key table ([`SNAPSHOT_FILE`]). [`prepare`] runs once per open
//! of a data dir or a snapshot file: it records the format in a new database, converts a
//! format-1 one in place (natively; the browser never sees one) and a format-3 one by
//! rebuilding its live keys, and refuses one written by a newer etcdlab. Raft snapshots carry
//! their format too, see [`crate::state_snapshot`].

use redb::{Database, ReadableTable, TableDefinition, TableHandle, WriteTransaction};

use crate::byte_rows::{read_u64, u64_bytes};
use crate::error::CoreError;

/// The format this build writes.
pub const CURRENT: u64 = 2;

/// The format of the snapshot files this build writes: format 2 without `mvcc_latest`, which
/// repeats the newest row of each key's history and is rebuilt when the file is opened
/// ([`prepare`] converts it to format 2). Leaving it out makes a file about half the size. No
/// data dir stays in it; a future storage format takes the next number.
pub const SNAPSHOT_FILE: u64 = 3;

pub(crate) const FORMAT: TableDefinition<&[u8], &[u8]> = TableDefinition::new("etcdlab_format");
pub(crate) const FORMAT_KEY: &[u8] = b"format";

/// What [`prepare`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prepared {
    /// An empty database, now recorded as the current format.
    New,
    /// Already in the current format.
    Current,
    /// Converted from this older format, in the same write transaction that recorded the new one.
    Migrated { from: u64 },
}

/// The refusal of data in a format this build does not know.
pub(crate) fn unknown_format(format: u64) -> CoreError {
    CoreError::Storage(format!(
        "the data is in storage format {format}, written by a newer etcdlab; this etcdlab reads \
         formats 1 to {SNAPSHOT_FILE} (run the newer etcdlab, or restore a snapshot it saved into a new --data-dir)"
    ))
}

/// Records the current format in `txn` (a new database).
pub fn record(txn: &WriteTransaction) -> Result<(), CoreError> {
    record_format(txn, CURRENT)
}

/// Records [`SNAPSHOT_FILE`] in `txn`, a snapshot file's database.
pub fn record_snapshot_file(txn: &WriteTransaction) -> Result<(), CoreError> {
    record_format(txn, SNAPSHOT_FILE)
}

fn record_format(txn: &WriteTransaction, format: u64) -> Result<(), CoreError> {
    txn.open_table(FORMAT)?
        .insert(FORMAT_KEY, &u64_bytes(format)[..])?;
    Ok(())
}

/// Brings `db` to the current format in one write transaction (committed only when it wrote
/// something): a crash or an error leaves it as it was, and the next open tries again.
pub fn prepare(db: &Database) -> Result<Prepared, CoreError> {
    let txn = db.begin_write()?;
    let names: Vec<String> = txn.list_tables()?.map(|t| t.name().to_string()).collect();
    let prepared = if names.iter().any(|n| n == FORMAT.name()) {
        let table = txn.open_table(FORMAT)?;
        let format = match table.get(FORMAT_KEY)? {
            Some(v) => read_u64(v.value()).map_err(CoreError::Corrupt)?,
            None => return Err(CoreError::Corrupt("the format table is empty".into())),
        };
        drop(table);
        match format {
            CURRENT => {
                // Nothing to write: every start would otherwise pay for a synced commit.
                txn.abort()?;
                return Ok(Prepared::Current);
            }
            SNAPSHOT_FILE => {
                crate::mvcc::MvccStore::rebuild_latest(&txn)?;
                record(&txn)?;
                Prepared::Migrated { from: format }
            }
            _ => return Err(unknown_format(format)),
        }
    } else if names.is_empty() {
        record(&txn)?;
        Prepared::New
    } else {
        migrate_format_1(&txn)?;
        record(&txn)?;
        Prepared::Migrated { from: 1 }
    };
    txn.commit()?;
    Ok(prepared)
}

#[cfg(not(target_arch = "wasm32"))]
fn migrate_format_1(txn: &WriteTransaction) -> Result<(), CoreError> {
    crate::legacy::migrate(txn)
}

#[cfg(target_arch = "wasm32")]
fn migrate_format_1(_txn: &WriteTransaction) -> Result<(), CoreError> {
    Err(CoreError::Storage(
        "storage format 1 is converted only by the etcdlab binary".into(),
    ))
}

#[cfg(test)]
mod tests {
    use redb::backends::InMemoryBackend;

    use super::*;

    fn memory() -> Database {
        Database::builder()
            .create_with_backend(InMemoryBackend::new())
            .unwrap()
    }

    #[test]
    fn a_new_database_is_recorded_then_found_current() {
        let db = memory();
        assert_eq!(prepare(&db).unwrap(), Prepared::New);
        assert_eq!(prepare(&db).unwrap(), Prepared::Current);
    }

    #[test]
    fn a_newer_format_is_refused_and_left_as_it_was() {
        let db = memory();
        let txn = db.begin_write().unwrap();
        txn.open_table(FORMAT)
            .unwrap()
            .insert(FORMAT_KEY, &u64_bytes(4)[..])
            .unwrap();
        txn.commit().unwrap();
        let error = prepare(&db).unwrap_err().to_string();
        assert!(
            error.contains("storage format 4, written by a newer etcdlab"),
            "{error}"
        );
        assert!(prepare(&db).is_err(), "still refused: nothing was changed");
    }
}
