//! Alarms (etcd's NOSPACE and CORRUPT): raised, cleared and listed through Raft so every member
//! agrees; the table `alarms` holds a row per raised alarm, keyed by the member id (big-endian)
//! and the alarm type (`byte_rows`), with an empty value.

use redb::{ReadableTable, TableDefinition, WriteTransaction};

use crate::byte_rows::{i64_bytes, read_i64, u64_bytes};
use crate::error::CoreError;
use crate::proto::etcdserverpb::alarm_request::AlarmAction;
use crate::proto::etcdserverpb::{AlarmMember, AlarmRequest, AlarmResponse, AlarmType};

pub(crate) const ALARMS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("alarms");

/// The row of `alarm` raised by `member_id`.
pub(crate) fn row_key(member_id: u64, alarm: i32) -> [u8; 16] {
    let mut key = [0; 16];
    key[..8].copy_from_slice(&u64_bytes(member_id));
    key[8..].copy_from_slice(&i64_bytes(alarm.into()));
    key
}

/// Carries out an applied alarm request: GET lists, ACTIVATE raises, DEACTIVATE clears. The
/// response lists the alarms concerned, as etcd's does.
pub(crate) fn apply(
    txn: &WriteTransaction,
    req: &AlarmRequest,
) -> Result<AlarmResponse, CoreError> {
    let mut table = txn.open_table(ALARMS)?;
    let alarm = AlarmMember {
        member_id: req.member_id,
        alarm: req.alarm,
    };
    let alarms = match AlarmAction::try_from(req.action).unwrap_or(AlarmAction::Get) {
        AlarmAction::Get => list(&table)?,
        AlarmAction::Activate if req.alarm != AlarmType::None as i32 => {
            table.insert(&row_key(req.member_id, req.alarm)[..], &[][..])?;
            vec![alarm]
        }
        AlarmAction::Activate => vec![],
        AlarmAction::Deactivate => match table.remove(&row_key(req.member_id, req.alarm)[..])? {
            Some(_) => vec![alarm],
            None => vec![],
        },
    };
    Ok(AlarmResponse {
        header: None,
        alarms,
    })
}

fn list(
    table: &impl ReadableTable<&'static [u8], &'static [u8]>,
) -> Result<Vec<AlarmMember>, CoreError> {
    let mut alarms = Vec::new();
    for row in table.iter()? {
        let key = row?.0;
        let corrupt = |e: String| CoreError::Corrupt(format!("alarm row: {e}"));
        let Some((member_id, alarm)) = key.value().split_first_chunk::<8>() else {
            return Err(corrupt(format!("{} bytes", key.value().len())));
        };
        let alarm =
            i32::try_from(read_i64(alarm).map_err(corrupt)?).map_err(|e| corrupt(e.to_string()))?;
        alarms.push(AlarmMember {
            member_id: u64::from_be_bytes(*member_id),
            alarm,
        });
    }
    Ok(alarms)
}

/// Whether any member has raised NOSPACE.
pub(crate) fn no_space(txn: &WriteTransaction) -> Result<bool, CoreError> {
    Ok(list(&txn.open_table(ALARMS)?)?
        .iter()
        .any(|a| a.alarm == AlarmType::Nospace as i32))
}

/// The raised alarms as a read snapshot sees them.
pub fn active(txn: &redb::ReadTransaction) -> Result<Vec<AlarmMember>, CoreError> {
    match txn.open_table(ALARMS) {
        Ok(table) => list(&table),
        Err(redb::TableError::TableDoesNotExist(_)) => Ok(Vec::new()),
        Err(e) => Err(e.into()),
    }
}

/// etcd's text form of an alarm (`memberID:7 alarm:NOSPACE `), as status errors and
/// `alarm list` print it.
pub fn describe(alarm: &AlarmMember) -> String {
    let kind = AlarmType::try_from(alarm.alarm)
        .map(|t| t.as_str_name())
        .unwrap_or("UNKNOWN");
    format!("memberID:{} alarm:{kind} ", alarm.member_id)
}
