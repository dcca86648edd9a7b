//! Integers in byte tables (storage format 2).
//!
//! Every distinct key/value type pair of a redb table compiles redb's B-tree once more, which
//! the visualizer's wasm (it carries the member code) pays for in size. So every table but
//! `mvcc_history` is `&[u8] → &[u8]`, holding integers as big-endian bytes: unsigned ones as
//! they are, signed ones with the sign bit flipped. Either way byte order is numeric order, so
//! range scans work as on integer keys, and an integer followed by more bytes sorts by the
//! integer first.

/// `v` as 8 bytes whose byte order is `v`'s numeric order.
pub(crate) fn i64_bytes(v: i64) -> [u8; 8] {
    ((v as u64) ^ (1 << 63)).to_be_bytes()
}

/// `v` as 8 big-endian bytes (byte order is numeric order).
pub(crate) fn u64_bytes(v: u64) -> [u8; 8] {
    v.to_be_bytes()
}

/// The 8 bytes at the start of `bytes`, and the bytes after them.
fn split8(bytes: &[u8]) -> Result<([u8; 8], &[u8]), String> {
    match bytes.split_first_chunk::<8>() {
        Some((head, rest)) => Ok((*head, rest)),
        None => Err(format!(
            "a row of {} bytes where an integer of 8 was expected",
            bytes.len()
        )),
    }
}

fn alone<T>((v, rest): (T, &[u8])) -> Result<T, String> {
    match rest {
        [] => Ok(v),
        rest => Err(format!("{} bytes after an integer", rest.len())),
    }
}

/// The integer [`i64_bytes`] wrote at the start of `bytes`, and the bytes after it.
pub(crate) fn split_i64(bytes: &[u8]) -> Result<(i64, &[u8]), String> {
    let (head, rest) = split8(bytes)?;
    Ok(((u64::from_be_bytes(head) ^ (1 << 63)) as i64, rest))
}

/// The integer [`u64_bytes`] wrote at the start of `bytes`, and the bytes after it.
pub(crate) fn split_u64(bytes: &[u8]) -> Result<(u64, &[u8]), String> {
    let (head, rest) = split8(bytes)?;
    Ok((u64::from_be_bytes(head), rest))
}

/// The integer [`i64_bytes`] wrote, alone in `bytes`.
pub(crate) fn read_i64(bytes: &[u8]) -> Result<i64, String> {
    alone(split_i64(bytes)?)
}

/// The integer [`u64_bytes`] wrote, alone in `bytes`.
pub(crate) fn read_u64(bytes: &[u8]) -> Result<u64, String> {
    alone(split_u64(bytes)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_byte_order_is_numeric_order() {
        let values = [i64::MIN, -7, -1, 0, 1, 9, 256, i64::MAX];
        for pair in values.windows(2) {
            assert!(i64_bytes(pair[0]) < i64_bytes(pair[1]), "{pair:?}");
        }
        for v in values {
            assert_eq!(read_i64(&i64_bytes(v)), Ok(v));
        }
        let mut row = i64_bytes(-3).to_vec();
        row.extend_from_slice(b"key");
        assert_eq!(split_i64(&row), Ok((-3, &b"key"[..])));
        assert!(read_i64(&row).is_err());
        assert!(split_i64(b"short").is_err());
    }

    #[test]
    fn unsigned_byte_order_is_numeric_order() {
        let values = [0, 1, 255, 256, 1 << 32, u64::MAX - 1, u64::MAX];
        for pair in values.windows(2) {
            assert!(u64_bytes(pair[0]) < u64_bytes(pair[1]), "{pair:?}");
        }
        for v in values {
            assert_eq!(read_u64(&u64_bytes(v)), Ok(v));
        }
        // An integer followed by more bytes sorts by the integer first.
        let row = |v: u64, tail: &[u8]| [&u64_bytes(v)[..], tail].concat();
        assert!(row(1, b"zzz") < row(2, b""));
        assert_eq!(split_u64(&row(7, b"k")), Ok((7, &b"k"[..])));
        assert!(read_u64(&row(7, b"k")).is_err());
        assert!(read_u64(b"1234567").is_err());
    }
}
