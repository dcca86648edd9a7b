//! Go's text conventions that etcdctl's output and error messages inherit, so ours read byte
//! for byte the same: `%q` quoting, `time.Duration` strings and parsing, `strconv` number and
//! boolean parsing with their error texts, and go-humanize's byte sizes.

use std::time::Duration;

/// Go's `strconv.Quote` (`%q`): printable runes as they are, the rest escaped, invalid UTF-8
/// bytes as `\xNN`.
pub fn quote(bytes: &[u8]) -> String {
    let mut out = String::from("\"");
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\u{7}' => out.push_str("\\a"),
                '\u{8}' => out.push_str("\\b"),
                '\u{c}' => out.push_str("\\f"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                '\u{b}' => out.push_str("\\v"),
                c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                    out.push_str(&format!("\\x{:02x}", c as u32))
                }
                c if is_printable(c) => out.push(c),
                c if (c as u32) < 0x10000 => out.push_str(&format!("\\u{:04x}", c as u32)),
                c => out.push_str(&format!("\\U{:08x}", c as u32)),
            }
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out.push('"');
    out
}

/// Go's `unicode.IsPrint` for a rune that is not an ASCII control character, through the standard library's own table of
/// printable characters (the one `{:?}` uses). `str::escape_debug` leaves a combining mark
/// alone unless it starts the string, so the rune is tested after a letter, as Go treats marks
/// as printable. Non-ASCII spaces are not printable in Go.
fn is_printable(c: char) -> bool {
    if c != ' ' && c.is_whitespace() {
        return false;
    }
    let mut probe = String::from("a");
    probe.push(c);
    probe.escape_debug().count() == probe.chars().count()
}

/// Go's `time.Duration.String()`: `1.365748ms`, `850µs`, `1m30.5s`.
pub fn duration(d: Duration) -> String {
    let nanos = d.as_nanos();
    if nanos == 0 {
        return "0s".to_string();
    }
    if nanos < 1_000 {
        return format!("{nanos}ns");
    }
    if nanos < 1_000_000 {
        return format!("{}µs", decimal(nanos, 3));
    }
    if nanos < 1_000_000_000 {
        return format!("{}ms", decimal(nanos, 6));
    }
    let seconds = nanos / 1_000_000_000;
    let fraction = nanos % 1_000_000_000;
    let secs_text = decimal((seconds % 60) * 1_000_000_000 + fraction, 9);
    let minutes = seconds / 60;
    if minutes == 0 {
        return format!("{secs_text}s");
    }
    let hours = minutes / 60;
    if hours == 0 {
        return format!("{minutes}m{secs_text}s");
    }
    format!("{hours}h{}m{secs_text}s", minutes % 60)
}

/// `value / 10^digits` with its fraction, trailing zeros (and a bare point) left out.
fn decimal(value: u128, digits: u32) -> String {
    let scale = 10u128.pow(digits);
    let (whole, fraction) = (value / scale, value % scale);
    if fraction == 0 {
        return whole.to_string();
    }
    let fraction = format!("{fraction:0width$}", width = digits as usize);
    format!("{whole}.{}", fraction.trim_end_matches('0'))
}

/// Go's `time.ParseDuration`: `2s`, `1m30s`, `1.5h`, `500ms`, `-3us`, `0`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let invalid = || format!("time: invalid duration {}", quote(text.as_bytes()));
    let mut rest = text;
    if let Some(r) = rest.strip_prefix('-') {
        // etcdctl's durations are all non-negative in practice; Go accepts the sign.
        rest = r;
    } else if let Some(r) = rest.strip_prefix('+') {
        rest = r;
    }
    if rest == "0" {
        return Ok(Duration::ZERO);
    }
    if rest.is_empty() {
        return Err(invalid());
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number = &rest[..number_len];
        if number.is_empty() || number == "." || number.matches('.').count() > 1 {
            return Err(invalid());
        }
        rest = &rest[number_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let nanos_per_unit = match unit {
            "" => {
                return Err(format!(
                    "time: missing unit in duration {}",
                    quote(text.as_bytes())
                ));
            }
            "ns" => 1e0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            other => {
                return Err(format!(
                    "time: unknown unit {} in duration {}",
                    quote(other.as_bytes()),
                    quote(text.as_bytes())
                ));
            }
        };
        let value: f64 = number.parse().map_err(|_| invalid())?;
        total += value * nanos_per_unit;
    }
    if !total.is_finite() || total > i64::MAX as f64 {
        return Err(invalid());
    }
    Ok(Duration::from_nanos(total as u64))
}

/// Go's `strconv.ParseBool`.
pub fn parse_bool(text: &str) -> Result<bool, String> {
    match text {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(false),
        _ => Err(format!(
            "strconv.ParseBool: parsing {}: invalid syntax",
            quote(text.as_bytes())
        )),
    }
}

/// Go's `strconv.ParseInt(text, base, 64)`; base 0 reads the `0x`, `0o`, `0b` and `0` prefixes
/// and allows `_` between digits.
pub fn parse_int(text: &str, base: u32) -> Result<i64, String> {
    let (negative, magnitude) = parse_magnitude("ParseInt", text, base)?;
    let limit = if negative {
        i64::MIN.unsigned_abs()
    } else {
        i64::MAX as u64
    };
    if magnitude > limit {
        return Err(strconv_error("ParseInt", text, "value out of range"));
    }
    Ok(if negative {
        (magnitude as i64).wrapping_neg()
    } else {
        magnitude as i64
    })
}

/// Go's `strconv.ParseUint(text, base, 64)`.
pub fn parse_uint(text: &str, base: u32) -> Result<u64, String> {
    if text.starts_with(['+', '-']) {
        return Err(strconv_error("ParseUint", text, "invalid syntax"));
    }
    parse_magnitude("ParseUint", text, base).map(|(_, m)| m)
}

fn strconv_error(function: &str, text: &str, what: &str) -> String {
    format!(
        "strconv.{function}: parsing {}: {what}",
        quote(text.as_bytes())
    )
}

/// The sign and the value of a Go integer literal in `base` (0: from its prefix).
fn parse_magnitude(function: &str, text: &str, base: u32) -> Result<(bool, u64), String> {
    let syntax = || strconv_error(function, text, "invalid syntax");
    let (negative, mut digits) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let mut base = base;
    let mut underscores_allowed = false;
    if base == 0 {
        base = 10;
        let lower = digits.to_ascii_lowercase();
        if lower.starts_with("0x") || lower.starts_with("0o") || lower.starts_with("0b") {
            base = match lower.as_bytes()[1] {
                b'x' => 16,
                b'o' => 8,
                _ => 2,
            };
            digits = &digits[2..];
        } else if lower.starts_with('0') && lower.len() > 1 {
            base = 8;
            digits = &digits[1..];
        }
        underscores_allowed = true;
    }
    if digits.is_empty() {
        return Err(syntax());
    }
    let mut value: u64 = 0;
    let mut overflow = false;
    let mut previous_underscore = true;
    for c in digits.chars() {
        if c == '_' {
            if !underscores_allowed || previous_underscore {
                return Err(syntax());
            }
            previous_underscore = true;
            continue;
        }
        previous_underscore = false;
        let Some(d) = c.to_digit(base) else {
            return Err(syntax());
        };
        match value
            .checked_mul(u64::from(base))
            .and_then(|v| v.checked_add(u64::from(d)))
        {
            Some(v) => value = v,
            None => overflow = true,
        }
    }
    if digits.ends_with('_') {
        return Err(syntax());
    }
    if overflow {
        return Err(strconv_error(function, text, "value out of range"));
    }
    Ok((negative, value))
}

/// go-humanize's `Bytes`: SI units, one decimal under 10 (`20 kB`, `8.6 MB`).
pub fn humanize_bytes(n: u64) -> String {
    if n < 10 {
        return format!("{n} B");
    }
    const UNITS: [&str; 7] = ["B", "kB", "MB", "GB", "TB", "PB", "EB"];
    let exponent = ((n as f64).ln() / 1000f64.ln()).floor() as usize;
    let exponent = exponent.min(UNITS.len() - 1);
    let value = n as f64 / 1000f64.powi(exponent as i32);
    let value = (value * 10.0 + 0.5).floor() / 10.0;
    if value < 10.0 {
        format!("{value:.1} {}", UNITS[exponent])
    } else {
        format!("{value:.0} {}", UNITS[exponent])
    }
}

/// Go's `fmt.Sprint` of a `[]string`: `[a b c]`.
pub fn string_list(items: &[String]) -> String {
    format!("[{}]", items.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_as_go() {
        assert_eq!(quote(b"a\"b\n\xff"), "\"a\\\"b\\n\\xff\"");
        assert_eq!(quote("키 값".as_bytes()), "\"키 값\"");
        assert_eq!(
            quote("\u{a0}\u{200b}é\u{301}".as_bytes()),
            "\"\\u00a0\\u200bé\u{301}\""
        );
        assert_eq!(quote(b"\x00\x7f"), "\"\\x00\\x7f\"");
    }

    #[test]
    fn durations_as_go() {
        assert_eq!(duration(Duration::from_nanos(1_365_748)), "1.365748ms");
        assert_eq!(duration(Duration::from_micros(850)), "850µs");
        assert_eq!(duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(duration(Duration::from_secs(90)), "1m30s");
        assert_eq!(duration(Duration::from_secs(3661)), "1h1m1s");
        assert_eq!(
            duration(Duration::from_nanos(5_000_123_456)),
            "5.000123456s"
        );
        assert_eq!(duration(Duration::ZERO), "0s");
        assert_eq!(parse_duration("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        assert_eq!(
            parse_duration("5"),
            Err("time: missing unit in duration \"5\"".into())
        );
        assert_eq!(
            parse_duration("5x"),
            Err("time: unknown unit \"x\" in duration \"5x\"".into())
        );
        assert_eq!(
            parse_duration("abc"),
            Err("time: invalid duration \"abc\"".into())
        );
    }

    #[test]
    fn numbers_as_strconv() {
        assert_eq!(parse_int("0x10", 0), Ok(16));
        assert_eq!(parse_int("010", 0), Ok(8));
        assert_eq!(parse_int("1_000", 0), Ok(1000));
        assert_eq!(parse_int("-5", 10), Ok(-5));
        assert_eq!(
            parse_int("x", 0),
            Err("strconv.ParseInt: parsing \"x\": invalid syntax".into())
        );
        assert_eq!(
            parse_int("99999999999999999999", 10),
            Err("strconv.ParseInt: parsing \"99999999999999999999\": value out of range".into())
        );
        assert!(parse_int("1_0", 10).is_err());
        assert_eq!(parse_uint("ff", 16), Ok(255));
        assert!(parse_uint("-1", 16).is_err());
        assert_eq!(parse_bool("T"), Ok(true));
        assert_eq!(
            parse_bool("yes"),
            Err("strconv.ParseBool: parsing \"yes\": invalid syntax".into())
        );
    }

    #[test]
    fn sizes_as_humanize() {
        assert_eq!(humanize_bytes(5), "5 B");
        assert_eq!(humanize_bytes(20480), "20 kB");
        assert_eq!(humanize_bytes(143360), "143 kB");
        assert_eq!(humanize_bytes(8_600_000), "8.6 MB");
    }
}
