//! Format-1 rows (written here with format 1's own table types) come out of [`migrate`] and of
//! [`upgrade_dumps`] as the format-2 modules read them.

use prost::Message as _;
use redb::backends::InMemoryBackend;
use redb::{Database, ReadableDatabase};

use super::*;
use crate::proto::etcdlab::table_dump::Row as DumpRow;
use crate::proto::etcdlab::{StateSnapshot, TableDump};
use crate::proto::etcdserverpb::{AlarmMember, Member as MemberInfo};
use crate::storage_format::{Prepared, prepare};

fn memory() -> Database {
    Database::builder()
        .create_with_backend(InMemoryBackend::new())
        .unwrap()
}

fn def<K: Key + 'static, V: Value + 'static>(name: &'static str) -> TableDefinition<'static, K, V> {
    TableDefinition::new(name)
}

fn member() -> MemberInfo {
    MemberInfo {
        id: 0x8000_0000_0000_0005,
        name: "m5".into(),
        ..Default::default()
    }
}

/// A small state in format 1, as the etcdlab of that format wrote it.
fn format_1() -> Database {
    let db = memory();
    let txn = db.begin_write().unwrap();
    {
        let mut t = txn.open_table(def::<&str, i64>("mvcc_meta")).unwrap();
        t.insert("current_revision", 9).unwrap();
        t.insert("compact_revision", 3).unwrap();
        let mut t = txn
            .open_table(def::<(u64, u64), &[u8]>("mvcc_changes"))
            .unwrap();
        t.insert((3, 0), &b"k"[..]).unwrap();
        t.insert((256, 1), &b"j"[..]).unwrap();
        let mut t = txn
            .open_table(def::<(i64, &[u8]), ()>("mvcc_lease_keys"))
            .unwrap();
        t.insert((7, &b"k"[..]), ()).unwrap();
        let mut t = txn.open_table(def::<i64, i64>("leases")).unwrap();
        t.insert(7, 60).unwrap();
        t.insert(-5, 10).unwrap();
        let mut t = txn.open_table(def::<(u64, i32), ()>("alarms")).unwrap();
        t.insert((5, 1), ()).unwrap();
        let mut t = txn.open_table(def::<u64, &[u8]>("members")).unwrap();
        t.insert(member().id, &member().encode_to_vec()[..])
            .unwrap();
        let mut t = txn.open_table(def::<&str, u64>("member_meta")).unwrap();
        t.insert("applied_index", 4).unwrap();
        let mut t = txn
            .open_table(def::<&str, &str>("cluster_version"))
            .unwrap();
        t.insert("version", "3.4.0").unwrap();
        let mut t = txn.open_table(def::<&str, &[u8]>("auth_meta")).unwrap();
        t.insert("enabled", &[1u8][..]).unwrap();
        let mut t = txn.open_table(def::<&str, &[u8]>("auth_users")).unwrap();
        t.insert("root", &b"user"[..]).unwrap();
        let mut t = txn.open_table(def::<u64, &[u8]>("raft_entries")).unwrap();
        t.insert(300, &b"entry"[..]).unwrap();
        let mut t = txn.open_table(def::<&str, &[u8]>("raft_state")).unwrap();
        t.insert("hard_state", &b"hs"[..]).unwrap();
    }
    txn.commit().unwrap();
    db
}

/// Reads the state [`format_1`] wrote through the format-2 code.
fn check_format_2(db: &Database, with_local_tables: bool) {
    let txn = db.begin_read().unwrap();
    let leases: Vec<i64> = crate::lease::list(&txn)
        .unwrap()
        .iter()
        .map(|l| l.id)
        .collect();
    assert_eq!(leases, [-5, 7], "in id order");
    assert_eq!(crate::lease::granted_ttl(&txn, 7).unwrap(), Some(60));
    assert_eq!(
        crate::alarms::active(&txn).unwrap(),
        [AlarmMember {
            member_id: 5,
            alarm: 1
        }]
    );
    assert_eq!(crate::membership::list(&txn).unwrap(), [member()]);
    let bytes = |t: Bytes, k: &[u8]| {
        txn.open_table(t)
            .unwrap()
            .get(k)
            .unwrap()
            .map(|v| v.value().to_vec())
    };
    assert_eq!(
        bytes(crate::mvcc::META, b"current_revision"),
        Some(i64_bytes(9).to_vec())
    );
    assert_eq!(
        bytes(crate::mvcc::CHANGES, &crate::mvcc::change_key(256, 1)),
        Some(b"j".to_vec())
    );
    let changes: Vec<Vec<u8>> = txn
        .open_table(crate::mvcc::CHANGES)
        .unwrap()
        .iter()
        .unwrap()
        .map(|r| r.unwrap().1.value().to_vec())
        .collect();
    assert_eq!(changes, [b"k".to_vec(), b"j".to_vec()], "in revision order");
    assert_eq!(
        bytes(
            crate::mvcc::LEASE_KEYS,
            &crate::mvcc::lease_key_row(7, b"k")
        ),
        Some(Vec::new())
    );
    assert_eq!(
        bytes(crate::member::CLUSTER_VERSION, b"version"),
        Some(b"3.4.0".to_vec())
    );
    let auth = crate::auth::store::view(&txn).unwrap();
    assert!(auth.state().unwrap().enabled);
    assert_eq!(
        bytes(crate::auth::store::USERS, b"root"),
        Some(b"user".to_vec())
    );
    if with_local_tables {
        assert_eq!(crate::member::applied_index(&txn).unwrap(), 4);
        assert_eq!(
            bytes(crate::raft_log::ENTRIES, &u64_bytes(300)),
            Some(b"entry".to_vec())
        );
        assert_eq!(
            bytes(crate::raft_log::STATE, b"hard_state"),
            Some(b"hs".to_vec())
        );
    }
}

#[test]
fn a_format_1_database_is_converted_once_with_every_row() {
    let db = format_1();
    assert_eq!(prepare(&db).unwrap(), Prepared::Migrated { from: 1 });
    check_format_2(&db, true);
    let txn = db.begin_read().unwrap();
    assert!(matches!(
        txn.open_table(def::<i64, i64>("leases")),
        Err(redb::TableError::TableTypeMismatch { .. })
    ));
    drop(txn);
    assert_eq!(prepare(&db).unwrap(), Prepared::Current, "converted once");
    check_format_2(&db, true);
}

/// A format-1 member's Raft snapshot: its replicated tables in redb's format-1 encoding.
fn format_1_raft_snapshot(db: &Database) -> Vec<u8> {
    fn dump<K: Key + 'static, V: Value + 'static>(
        txn: &redb::ReadTransaction,
        name: &'static str,
    ) -> TableDump {
        let rows = match txn.open_table(def::<K, V>(name)) {
            Ok(table) => table
                .iter()
                .unwrap()
                .map(|row| {
                    let (k, v) = row.unwrap();
                    DumpRow {
                        key: K::as_bytes(&k.value()).as_ref().to_vec(),
                        value: V::as_bytes(&v.value()).as_ref().to_vec(),
                    }
                })
                .collect(),
            Err(_) => Vec::new(),
        };
        TableDump {
            name: def::<K, V>(name).to_string(),
            rows,
        }
    }
    let txn = db.begin_read().unwrap();
    let tables = vec![
        dump::<(&[u8], u64), &[u8]>(&txn, "mvcc_history"),
        dump::<&[u8], &[u8]>(&txn, "mvcc_latest"),
        dump::<(u64, u64), &[u8]>(&txn, "mvcc_changes"),
        dump::<&str, i64>(&txn, "mvcc_meta"),
        dump::<(i64, &[u8]), ()>(&txn, "mvcc_lease_keys"),
        dump::<i64, i64>(&txn, "leases"),
        dump::<u64, &[u8]>(&txn, "members"),
        dump::<&str, &str>(&txn, "cluster_version"),
        dump::<(u64, i32), ()>(&txn, "alarms"),
        dump::<&str, &[u8]>(&txn, "auth_users"),
        dump::<&str, &[u8]>(&txn, "auth_roles"),
        dump::<&str, &[u8]>(&txn, "auth_meta"),
    ];
    StateSnapshot { tables }.encode_to_vec()
}

#[test]
fn a_raft_snapshot_from_a_format_1_member_is_converted_on_arrival() {
    let data = format_1_raft_snapshot(&format_1());
    let target = memory();
    prepare(&target).unwrap();
    let txn = target.begin_write().unwrap();
    crate::state_snapshot::apply(&txn, &data).unwrap();
    txn.commit().unwrap();
    check_format_2(&target, false);
}
