//! CRC-32C (Castagnoli): etcd's checksum for `Hash` and `HashKV`, and ours for journal records
//! and snapshot files. One definition, its slice-by-16 tables built at compile time, so large
//! inputs (a snapshot file, a whole key space) go at table speed.

pub const CRC32C: crc::Crc<u32, crc::Table<16>> =
    crc::Crc::<u32, crc::Table<16>>::new(&crc::CRC_32_ISCSI);
