//! Storage format 1, read only to convert it to format 2 (native builds only, so the wasm
//! does not carry these table types).
//!
//! Format 1 kept integers as redb's typed keys and values (little-endian, tuples in redb's own
//! encoding) and names as `&str`. Each old table here names its format-2 table (the same name
//! with other types) and converts one row from format 1's raw bytes: [`migrate`] does so for a
//! whole database inside the caller's write transaction ([`crate::storage_format::prepare`]),
//! [`upgrade_dumps`] for the tables of a Raft snapshot sent by a member of the older version.
//! `mvcc_history` and `mvcc_latest` are the same in both formats and are not touched.

use redb::{Key, ReadableTable, TableDefinition, TableError, Value, WriteTransaction};

use crate::byte_rows::{i64_bytes, u64_bytes};
use crate::error::CoreError;
use crate::proto::etcdlab::TableDump;

type Row = (Vec<u8>, Vec<u8>);
type Bytes = TableDefinition<'static, &'static [u8], &'static [u8]>;

/// A format-1 table, the format-2 table it becomes, and the conversion of one raw row.
struct Old<K: Key + 'static, V: Value + 'static> {
    table: TableDefinition<'static, K, V>,
    new: Bytes,
    row: fn(&[u8], &[u8]) -> Result<Row, CoreError>,
}

trait Convert {
    fn old_name(&self) -> String;
    fn new_name(&self) -> String;
    fn row(&self, key: &[u8], value: &[u8]) -> Result<Row, CoreError>;
    /// Replaces the old table in `txn` by the new one holding every row converted.
    fn migrate(&self, txn: &WriteTransaction) -> Result<(), CoreError>;
}

impl<K: Key + 'static, V: Value + 'static> Convert for Old<K, V> {
    fn old_name(&self) -> String {
        self.table.to_string()
    }

    fn new_name(&self) -> String {
        self.new.to_string()
    }

    fn row(&self, key: &[u8], value: &[u8]) -> Result<Row, CoreError> {
        (self.row)(key, value)
    }

    fn migrate(&self, txn: &WriteTransaction) -> Result<(), CoreError> {
        let rows = match txn.open_table(self.table) {
            Ok(table) => {
                let mut rows = Vec::new();
                for row in table.iter()? {
                    let (k, v) = row?;
                    rows.push(self.row(
                        K::as_bytes(&k.value()).as_ref(),
                        V::as_bytes(&v.value()).as_ref(),
                    )?);
                }
                rows
            }
            Err(TableError::TableDoesNotExist(_)) => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        // Some tables keep their name: the old one must go before the new one is created.
        txn.delete_table(self.table)?;
        let mut new = txn.open_table(self.new)?;
        for (k, v) in &rows {
            new.insert(k.as_slice(), v.as_slice())?;
        }
        Ok(())
    }
}

/// A format-1 value of fixed width `T` from its raw bytes, refusing a wrong length.
fn fixed<T: Value>(bytes: &[u8]) -> Result<T::SelfType<'_>, CoreError> {
    match T::fixed_width() {
        Some(width) if width != bytes.len() => Err(CoreError::Corrupt(format!(
            "a format-1 field of {} bytes where {width} were expected",
            bytes.len()
        ))),
        _ => Ok(T::from_bytes(bytes)),
    }
}

/// A row whose bytes are the same in both formats (only redb's type name changed).
fn same(key: &[u8], value: &[u8]) -> Result<Row, CoreError> {
    Ok((key.to_vec(), value.to_vec()))
}

/// `name → i64` or `name → u64` counters: the name stays, the integer becomes big-endian.
fn signed_counter(key: &[u8], value: &[u8]) -> Result<Row, CoreError> {
    Ok((key.to_vec(), i64_bytes(fixed::<i64>(value)?).to_vec()))
}

fn unsigned_counter(key: &[u8], value: &[u8]) -> Result<Row, CoreError> {
    Ok((key.to_vec(), u64_bytes(fixed::<u64>(value)?).to_vec()))
}

/// `u64 → bytes` (members, Raft entries): the id or index becomes big-endian.
fn unsigned_key(key: &[u8], value: &[u8]) -> Result<Row, CoreError> {
    Ok((u64_bytes(fixed::<u64>(key)?).to_vec(), value.to_vec()))
}

fn change(key: &[u8], value: &[u8]) -> Result<Row, CoreError> {
    let (main, sub) = fixed::<(u64, u64)>(key)?;
    Ok((crate::mvcc::change_key(main, sub).to_vec(), value.to_vec()))
}

fn lease_key(key: &[u8], _value: &[u8]) -> Result<Row, CoreError> {
    let (lease, key) = <(i64, &[u8])>::from_bytes(key);
    Ok((crate::mvcc::lease_key_row(lease, key), Vec::new()))
}

fn lease(key: &[u8], value: &[u8]) -> Result<Row, CoreError> {
    Ok((
        i64_bytes(fixed::<i64>(key)?).to_vec(),
        i64_bytes(fixed::<i64>(value)?).to_vec(),
    ))
}

fn alarm(key: &[u8], _value: &[u8]) -> Result<Row, CoreError> {
    let (member, alarm) = fixed::<(u64, i32)>(key)?;
    Ok((crate::alarms::row_key(member, alarm).to_vec(), Vec::new()))
}

/// Every table of format 1 but the two that did not change.
fn tables() -> Vec<Box<dyn Convert>> {
    fn old<K: Key + 'static, V: Value + 'static>(
        name: &'static str,
        new: Bytes,
        row: fn(&[u8], &[u8]) -> Result<Row, CoreError>,
    ) -> Box<dyn Convert> {
        Box::new(Old::<K, V> {
            table: TableDefinition::new(name),
            new,
            row,
        })
    }
    vec![
        old::<(u64, u64), &[u8]>("mvcc_changes", crate::mvcc::CHANGES, change),
        old::<&str, i64>("mvcc_meta", crate::mvcc::META, signed_counter),
        old::<(i64, &[u8]), ()>("mvcc_lease_keys", crate::mvcc::LEASE_KEYS, lease_key),
        old::<i64, i64>("leases", crate::lease::LEASES, lease),
        old::<(u64, i32), ()>("alarms", crate::alarms::ALARMS, alarm),
        old::<u64, &[u8]>("members", crate::membership::MEMBERS, unsigned_key),
        old::<&str, &str>("cluster_version", crate::member::CLUSTER_VERSION, same),
        old::<&str, &[u8]>("auth_users", crate::auth::store::USERS, same),
        old::<&str, &[u8]>("auth_roles", crate::auth::store::ROLES, same),
        old::<&str, &[u8]>("auth_meta", crate::auth::store::META, same),
        old::<&str, u64>("member_meta", crate::member::META, unsigned_counter),
        old::<u64, &[u8]>("raft_entries", crate::raft_log::ENTRIES, unsigned_key),
        old::<&str, &[u8]>("raft_state", crate::raft_log::STATE, same),
    ]
}

/// Converts every format-1 table in `txn` to format 2.
pub(crate) fn migrate(txn: &WriteTransaction) -> Result<(), CoreError> {
    for table in tables() {
        table.migrate(txn)?;
    }
    Ok(())
}

/// Converts the tables of a format-1 Raft snapshot to format 2, in place.
pub(crate) fn upgrade_dumps(dumps: &mut [TableDump]) -> Result<(), CoreError> {
    let tables = tables();
    for dump in dumps {
        let Some(table) = tables.iter().find(|t| t.old_name() == dump.name) else {
            continue;
        };
        dump.name = table.new_name();
        for row in &mut dump.rows {
            (row.key, row.value) = table.row(&row.key, &row.value)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
