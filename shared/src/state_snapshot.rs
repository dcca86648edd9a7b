//! Raft snapshots of the state machine: every replicated table (the key space, the member
//! table, the cluster version, the alarms, the leases, the auth store) dumped row by row in redb's own key and value encoding, so a
//! leader can bring a member up to date whose log it has compacted away.
//!
//! The dump is taken from one read transaction, together with the applied index and conf
//! state recorded in it, so data and Raft metadata always describe the same point.
//!
//! A table's dump is named by its definition, key and value types included, so a member of
//! another storage format finds none of the tables whose types changed and refuses the
//! snapshot. A snapshot also names its storage format in an extra table `etcdlab_format`. One
//! without it comes from a member of storage format 1 (an older etcdlab in the same cluster):
//! its tables are converted on arrival (`legacy`). One of a newer format is refused.

use prost::Message as _;
use redb::{Key, ReadableTable, TableDefinition, TableHandle, Value, WriteTransaction};

use crate::byte_rows::{read_u64, u64_bytes};
use crate::error::CoreError;
use crate::proto::etcdlab::{StateSnapshot, TableDump, table_dump::Row};
use crate::storage_format::{CURRENT, FORMAT, FORMAT_KEY, unknown_format};

/// Dumps or loads one table, whatever its key and value types.
struct Replicated<K: Key + 'static, V: Value + 'static>(TableDefinition<'static, K, V>);

trait Dumpable {
    fn name(&self) -> String;
    fn dump(&self, txn: &redb::ReadTransaction) -> Result<TableDump, CoreError>;
    fn load(&self, txn: &WriteTransaction, dump: &TableDump) -> Result<(), CoreError>;
}

impl<K: Key + 'static, V: Value + 'static> Dumpable for Replicated<K, V> {
    fn name(&self) -> String {
        self.0.to_string()
    }

    fn dump(&self, txn: &redb::ReadTransaction) -> Result<TableDump, CoreError> {
        let mut rows = Vec::new();
        match txn.open_table(self.0) {
            Ok(table) => {
                for row in table.iter()? {
                    let (k, v) = row?;
                    rows.push(Row {
                        key: K::as_bytes(&k.value()).as_ref().to_vec(),
                        value: V::as_bytes(&v.value()).as_ref().to_vec(),
                    });
                }
            }
            Err(redb::TableError::TableDoesNotExist(_)) => {}
            Err(e) => return Err(e.into()),
        }
        Ok(TableDump {
            name: self.name(),
            rows,
        })
    }

    fn load(&self, txn: &WriteTransaction, dump: &TableDump) -> Result<(), CoreError> {
        let mut table = txn.open_table(self.0)?;
        table.retain(|_, _| false)?;
        for row in &dump.rows {
            table.insert(K::from_bytes(&row.key), V::from_bytes(&row.value))?;
        }
        Ok(())
    }
}

/// The tables a snapshot carries: everything applied entries write, except this member's own
/// identity and applied index (the receiver sets those from the snapshot's metadata).
fn tables() -> Vec<Box<dyn Dumpable>> {
    vec![
        Box::new(Replicated(crate::mvcc::HISTORY)),
        Box::new(Replicated(crate::mvcc::LATEST)),
        Box::new(Replicated(crate::mvcc::CHANGES)),
        Box::new(Replicated(crate::mvcc::META)),
        Box::new(Replicated(crate::mvcc::LEASE_KEYS)),
        Box::new(Replicated(crate::lease::LEASES)),
        Box::new(Replicated(crate::membership::MEMBERS)),
        Box::new(Replicated(crate::member::CLUSTER_VERSION)),
        Box::new(Replicated(crate::alarms::ALARMS)),
        Box::new(Replicated(crate::auth::store::USERS)),
        Box::new(Replicated(crate::auth::store::ROLES)),
        Box::new(Replicated(crate::auth::store::META)),
    ]
}

/// Encodes the replicated state as seen by `txn`.
pub fn encode(txn: &redb::ReadTransaction) -> Result<Vec<u8>, CoreError> {
    let mut tables: Vec<TableDump> = tables()
        .iter()
        .map(|t| t.dump(txn))
        .collect::<Result<_, _>>()?;
    tables.push(TableDump {
        name: FORMAT.name().to_string(),
        rows: vec![Row {
            key: FORMAT_KEY.to_vec(),
            value: u64_bytes(CURRENT).to_vec(),
        }],
    });
    Ok(StateSnapshot { tables }.encode_to_vec())
}

/// A CRC-32C over every replicated table's name and rows, in key order: equal on members
/// that have applied the same entries (etcd's `Hash`, over our tables).
pub fn hash(txn: &redb::ReadTransaction) -> Result<u32, CoreError> {
    let mut digest = crate::crc32c::CRC32C.digest();
    for table in tables() {
        let dump = table.dump(txn)?;
        digest.update(dump.name.as_bytes());
        for row in &dump.rows {
            digest.update(&(row.key.len() as u64).to_be_bytes());
            digest.update(&row.key);
            digest.update(&(row.value.len() as u64).to_be_bytes());
            digest.update(&row.value);
        }
    }
    Ok(digest.finalize())
}

/// Replaces the replicated state in `txn` with the snapshot's.
pub fn apply(txn: &WriteTransaction, data: &[u8]) -> Result<(), CoreError> {
    let mut snapshot = StateSnapshot::decode(data)
        .map_err(|e| CoreError::Corrupt(format!("raft snapshot: {e}")))?;
    let format = snapshot.tables.iter().find(|d| d.name == FORMAT.name());
    match format.and_then(|d| d.rows.iter().find(|r| r.key == FORMAT_KEY)) {
        Some(row) => match read_u64(&row.value).map_err(CoreError::Corrupt)? {
            CURRENT => {}
            other => return Err(unknown_format(other)),
        },
        None => upgrade_format_1(&mut snapshot)?,
    }
    for table in tables() {
        let name = table.name();
        match snapshot.tables.iter().find(|d| d.name == name) {
            Some(dump) => table.load(txn, dump)?,
            None => {
                return Err(CoreError::Corrupt(format!(
                    "raft snapshot lacks table {name}"
                )));
            }
        }
    }
    Ok(())
}

#[cfg(not(target_arch = "wasm32"))]
fn upgrade_format_1(snapshot: &mut StateSnapshot) -> Result<(), CoreError> {
    crate::legacy::upgrade_dumps(&mut snapshot.tables)
}

#[cfg(target_arch = "wasm32")]
fn upgrade_format_1(_snapshot: &mut StateSnapshot) -> Result<(), CoreError> {
    Err(CoreError::Storage(
        "a raft snapshot of storage format 1 is converted only by the etcdlab binary".into(),
    ))
}

#[cfg(test)]
mod tests {
    use redb::{Database, backends::InMemoryBackend};

    use crate::mvcc::MvccStore;
    use crate::proto::etcdserverpb::PutRequest;

    fn database_with(values: &[&str]) -> Database {
        let db = Database::builder()
            .create_with_backend(InMemoryBackend::new())
            .unwrap();
        let txn = db.begin_write().unwrap();
        let mut mvcc = MvccStore::open(&txn).unwrap();
        crate::membership::create_table(&txn).unwrap();
        for (i, value) in values.iter().enumerate() {
            let put = PutRequest {
                key: format!("k{i}").into_bytes(),
                value: value.as_bytes().to_vec(),
                ..Default::default()
            };
            mvcc.put(&mut crate::mvcc::KeyTables::open(&txn).unwrap(), &put)
                .unwrap();
        }
        txn.commit().unwrap();
        db
    }

    fn hash_of(db: &Database) -> u32 {
        use redb::ReadableDatabase;
        super::hash(&db.begin_read().unwrap()).unwrap()
    }

    #[test]
    fn equal_states_hash_equal_and_any_difference_changes_the_hash() {
        let a = hash_of(&database_with(&["1", "2"]));
        assert_eq!(a, hash_of(&database_with(&["1", "2"])));
        assert_ne!(a, hash_of(&database_with(&["1", "3"])));
        assert_ne!(a, hash_of(&database_with(&["1"])));
    }

    #[test]
    fn a_snapshot_carries_users_roles_and_the_auth_flag() {
        use crate::auth::store::ROOT;
        use crate::auth::store::tests::{enable, grant_role, user_add};
        use redb::ReadableDatabase;

        let source = database_with(&["1"]);
        let txn = source.begin_write().unwrap();
        crate::auth::store::create_tables(&txn).unwrap();
        let ops = [user_add(ROOT), grant_role(ROOT, ROOT), enable()];
        for op in &ops {
            crate::auth::store::apply(&txn, op).unwrap().unwrap();
        }
        txn.commit().unwrap();
        let data = super::encode(&source.begin_read().unwrap()).unwrap();

        let target = database_with(&[]);
        let txn = target.begin_write().unwrap();
        super::apply(&txn, &data).unwrap();
        txn.commit().unwrap();
        let read = target.begin_read().unwrap();
        let view = crate::auth::store::view(&read).unwrap();
        let state = view.state().unwrap();
        assert!(state.enabled);
        assert_eq!(state.token_secret, b"s");
        assert_eq!(view.user("root").unwrap().unwrap().roles, ["root"]);
        assert_eq!(hash_of(&source), hash_of(&target));
    }

    #[test]
    fn a_snapshot_names_its_format_and_one_of_a_newer_format_is_refused() {
        use prost::Message as _;
        use redb::ReadableDatabase;

        use crate::proto::etcdlab::StateSnapshot;

        let data = super::encode(&database_with(&["1"]).begin_read().unwrap()).unwrap();
        let mut snapshot = StateSnapshot::decode(&data[..]).unwrap();
        let format = snapshot
            .tables
            .iter_mut()
            .find(|t| t.name == "etcdlab_format")
            .expect("a snapshot names its format");
        assert_eq!(format.rows[0].value, 2u64.to_be_bytes());
        format.rows[0].value = 4u64.to_be_bytes().to_vec();
        let target = database_with(&[]);
        let txn = target.begin_write().unwrap();
        let error = super::apply(&txn, &snapshot.encode_to_vec())
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("storage format 4, written by a newer etcdlab"),
            "{error}"
        );
    }
}
