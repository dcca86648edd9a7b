//! `txn`: etcdctl's transaction language, read from stdin in three blank-line-ended blocks —
//! compares such as `value("k") = "v"`, `mod("k") > "3"`, `create("k") = "0"`,
//! `version("k") != "2"`, `lease("k") = "694d5e1ca8b4e417"`; then the success ops; then the
//! failure ops. An op line is a `put`, `get` or `del` command line with that command's flags,
//! words split as etcdctl splits them (double-quoted words unquoted as Go strings).

use std::io::BufRead;

use etcdlab_core::proto::etcdserverpb::compare::{CompareResult, CompareTarget, TargetUnion};
use etcdlab_core::proto::etcdserverpb::request_op::Request;
use etcdlab_core::proto::etcdserverpb::{Compare, RequestOp, TxnRequest};

use super::cli::{self, Command, Flag, Invocation, Outcome};
use super::global::Global;
use super::print::{Report, stdout};
use super::{CtlError, CtlResult, exit, gotext, kv};
use crate::rpc::etcdserverpb::kv_client::KvClient;

const INTERACTIVE: Flag =
    Flag::switch("interactive", "Input transaction in interactive mode").short('i');

pub static TXN: Command = Command::new(
    "txn [options]",
    "Txn processes all the requests in one transaction",
)
.flags(&[INTERACTIVE])
.run(|inv| Box::pin(run(inv)));

/// The commands an op line may be.
static OPS: Command = Command::new("", "").subcommands(&[&kv::PUT, &kv::GET, &kv::DEL]);

fn invalid_input(message: impl Into<String>) -> CtlError {
    CtlError::new(exit::INVALID_INPUT, message)
}

async fn run(inv: Invocation) -> CtlResult {
    if !inv.args.is_empty() {
        return Err(CtlError::bad_args("txn command does not accept argument"));
    }
    let g = Global::from(&inv)?;
    let client = g.client()?;
    let prompt = |text: &str| {
        if inv.bool(&INTERACTIVE) {
            stdout(format!("{text}\n").as_bytes());
        }
    };
    let request = {
        let mut input = std::io::stdin().lock();
        prompt("compares:");
        let compare = read_block(&mut input)?
            .iter()
            .map(|line| parse_compare(line))
            .collect::<Result<_, _>>()?;
        prompt("success requests (get, put, del):");
        let success = read_ops(&mut input)?;
        prompt("failure requests (get, put, del):");
        let failure = read_ops(&mut input)?;
        TxnRequest {
            compare,
            success,
            failure,
        }
    };
    let response = client
        .request(async |channel| KvClient::new(channel).txn(request).await)
        .await?;
    g.printer().print(&Report::Txn(&response))
}

/// One line, trimmed; input ending before a newline is an `EOF` error, as in etcdctl.
fn read_line(input: &mut impl BufRead) -> Result<String, CtlError> {
    let mut line = String::new();
    match input.read_line(&mut line) {
        Ok(_) if line.ends_with('\n') => Ok(line.trim().to_string()),
        Ok(_) => Err(invalid_input("EOF")),
        Err(e) => Err(invalid_input(e.to_string())),
    }
}

/// Lines up to the next blank line.
fn read_block(input: &mut impl BufRead) -> Result<Vec<String>, CtlError> {
    let mut block = Vec::new();
    loop {
        let line = read_line(input)?;
        if line.is_empty() {
            return Ok(block);
        }
        block.push(line);
    }
}

/// Op lines up to the next blank line; a `put` without a value takes the rest of the input.
fn read_ops(input: &mut impl BufRead) -> Result<Vec<RequestOp>, CtlError> {
    let mut ops = Vec::new();
    loop {
        let line = read_line(input)?;
        if line.is_empty() {
            return Ok(ops);
        }
        let rest_of_input = || {
            let mut rest = Vec::new();
            std::io::Read::read_to_end(input, &mut rest)
                .ok()
                .filter(|_| !rest.is_empty())
                .map(|_| rest)
        };
        ops.push(parse_op(&line, rest_of_input)?);
    }
}

/// Parses `target("key") op "value"` (etcdctl scans it with Go's `%q) %s %q`).
pub fn parse_compare(line: &str) -> Result<Compare, CtlError> {
    let malformed = |detail: String| invalid_input(format!("malformed comparison: {line}{detail}"));
    let Some((target, rest)) = line.split_once('(') else {
        return Err(malformed(String::new()));
    };
    let (key, op, value) = match scan_compare(rest) {
        Scanned::All(key, op, value) => (key, op, value),
        Scanned::Partial(key, op) => {
            return Err(malformed(format!(
                "; got {target}({}) {op} \"\"",
                gotext::quote(key.as_bytes())
            )));
        }
    };
    let result = match op.as_str() {
        "=" => CompareResult::Equal,
        "!=" => CompareResult::NotEqual,
        "<" => CompareResult::Less,
        ">" => CompareResult::Greater,
        // etcdctl panics here, which exits with Go's status 2.
        _ => {
            return Err(CtlError::new(
                exit::BAD_CONNECTION,
                format!("malformed comparison: {line} (unknown operator {op}; use =, !=, < or >)"),
            ));
        }
    };
    let invalid = || invalid_input(format!("invalid txn compare request: {line}"));
    let number = |base| gotext::parse_int(&value, base).map_err(|_| invalid());
    let (target, operand) = match target {
        "ver" | "version" => (CompareTarget::Version, TargetUnion::Version(number(10)?)),
        "c" | "create" => (
            CompareTarget::Create,
            TargetUnion::CreateRevision(number(10)?),
        ),
        "m" | "mod" => (CompareTarget::Mod, TargetUnion::ModRevision(number(10)?)),
        "val" | "value" => (
            CompareTarget::Value,
            TargetUnion::Value(value.clone().into_bytes()),
        ),
        // Lease IDs are hex everywhere in etcdctl (etcdctl 3.4 itself panics on this compare).
        "lease" => (CompareTarget::Lease, TargetUnion::Lease(number(16)?)),
        other => return Err(malformed(format!(" (unknown target {other})"))),
    };
    Ok(Compare {
        result: result as i32,
        target: target as i32,
        key: key.into_bytes(),
        target_union: Some(operand),
        range_end: Vec::new(),
    })
}

/// What Go's `Sscanf("%q) %s %q")` got from a compare: all three, or what it had when it stopped.
enum Scanned {
    All(String, String, String),
    Partial(String, String),
}

fn scan_compare(text: &str) -> Scanned {
    let Some((key, rest)) = scan_quoted(text.trim_start()) else {
        return Scanned::Partial(String::new(), String::new());
    };
    // A space in a Go scan format wants at least one space in the input.
    let Some(rest) = rest
        .strip_prefix(')')
        .filter(|r| r.starts_with(char::is_whitespace))
    else {
        return Scanned::Partial(key, String::new());
    };
    let rest = rest.trim_start();
    let op_len = rest.find(char::is_whitespace).unwrap_or(rest.len());
    let (op, rest) = rest.split_at(op_len);
    if op.is_empty() {
        return Scanned::Partial(key, String::new());
    }
    match scan_quoted(rest.trim_start()) {
        Some((value, _)) => Scanned::All(key, op.to_string(), value),
        None => Scanned::Partial(key, op.to_string()),
    }
}

/// A Go quoted string (`"..."` with escapes, or `` `...` ``) at the start of `text`, unquoted,
/// and what follows it.
fn scan_quoted(text: &str) -> Option<(String, &str)> {
    if let Some(raw) = text.strip_prefix('`') {
        let end = raw.find('`')?;
        return Some((raw[..end].to_string(), &raw[end + 1..]));
    }
    let body = text.strip_prefix('"')?;
    let mut escaped = false;
    for (i, c) in body.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => return Some((unquote(&body[..i])?, &body[i + 1..])),
            _ => {}
        }
    }
    None
}

/// Go's `strconv.Unquote` of a double-quoted string's body.
fn unquote(body: &str) -> Option<String> {
    let mut out: Vec<u8> = Vec::new();
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        if c == '\n' {
            return None;
        }
        if c != '\\' {
            let mut buf = [0; 4];
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            continue;
        }
        let escape = chars.next()?;
        let mut hex = |digits: usize| -> Option<u32> {
            let text: String = chars.by_ref().take(digits).collect();
            (text.len() == digits).then_some(())?;
            u32::from_str_radix(&text, 16).ok()
        };
        match escape {
            'a' => out.push(7),
            'b' => out.push(8),
            'f' => out.push(12),
            'n' => out.push(b'\n'),
            'r' => out.push(b'\r'),
            't' => out.push(b'\t'),
            'v' => out.push(11),
            '\\' => out.push(b'\\'),
            '"' => out.push(b'"'),
            'x' => out.push(u8::try_from(hex(2)?).ok()?),
            'u' | 'U' => {
                let c = char::from_u32(hex(if escape == 'u' { 4 } else { 8 })?)?;
                let mut buf = [0; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
            '0'..='7' => {
                let rest: String = chars.by_ref().take(2).collect();
                let value = u32::from_str_radix(&format!("{escape}{rest}"), 8).ok()?;
                out.push(u8::try_from(value).ok()?);
            }
            _ => return None,
        }
    }
    Some(String::from_utf8_lossy(&out).into_owned())
}

/// Parses an op line (`put k v`, `get k --prefix`, `del k`) into a request.
fn parse_op(
    line: &str,
    stdin_value: impl FnOnce() -> Option<Vec<u8>>,
) -> Result<RequestOp, CtlError> {
    let words = argify(line)?;
    if words.len() < 2 {
        return Err(invalid_input(format!(
            "invalid txn compare request: {line}"
        )));
    }
    let invalid = || invalid_input(format!("invalid txn request: {line}"));
    let Ok(Outcome::Run(op)) = cli::parse(&OPS, &words, &|_| None) else {
        return Err(invalid());
    };
    let command = op.command();
    let request = if std::ptr::eq(command, &kv::PUT) {
        Request::RequestPut(kv::put_request(&op, stdin_value)?)
    } else if std::ptr::eq(command, &kv::GET) {
        Request::RequestRange(kv::range_request(&op)?)
    } else if std::ptr::eq(command, &kv::DEL) {
        Request::RequestDeleteRange(kv::delete_request(&op)?)
    } else {
        return Err(invalid());
    };
    Ok(RequestOp {
        request: Some(request),
    })
}

/// Splits an op line into words as etcdctl's `argify`: double-quoted words (unquoted as Go
/// strings), single-quoted words, and runs of non-space characters.
fn argify(line: &str) -> Result<Vec<String>, CtlError> {
    let is_space = |c: char| matches!(c, ' ' | '\t' | '\n' | '\r' | '\u{c}');
    let mut words = Vec::new();
    let mut rest = line;
    while let Some(c) = rest.chars().next() {
        if c == '"' {
            if let Some(end) = quoted_end(rest) {
                let (word, after) = rest.split_at(end);
                let (unquoted, _) =
                    scan_quoted(word).ok_or_else(|| invalid_input("invalid syntax"))?;
                words.push(unquoted);
                rest = after;
                continue;
            }
        } else if c == '\'' {
            if let Some(end) = rest[1..].find('\'') {
                words.push(rest[1..=end].to_string());
                rest = &rest[end + 2..];
                continue;
            }
        } else if !is_space(c) {
            let end = rest.find(is_space).unwrap_or(rest.len());
            words.push(rest[..end].to_string());
            rest = &rest[end..];
            continue;
        }
        rest = &rest[c.len_utf8()..];
    }
    Ok(words)
}

/// The length of the `"..."` word at the start of `text` (backslash escapes any character but
/// a newline), if it is closed.
fn quoted_end(text: &str) -> Option<usize> {
    let mut chars = text.char_indices().skip(1);
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some((_, '\n')) | None => return None,
                Some(_) => {}
            },
            '\n' => return None,
            '"' => return Some(i + 1),
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compares_parse_like_etcdctl() {
        let c = parse_compare(r#"value("txnkey") = "old""#).unwrap();
        assert_eq!(c.key, b"txnkey");
        assert_eq!(c.target_union, Some(TargetUnion::Value(b"old".to_vec())));
        let c = parse_compare(r#"mod("k") > "3""#).unwrap();
        assert_eq!(
            (c.result, c.target_union),
            (
                CompareResult::Greater as i32,
                Some(TargetUnion::ModRevision(3))
            )
        );
        let c = parse_compare(r#"lease("k") = "1f""#).unwrap();
        assert_eq!(c.target_union, Some(TargetUnion::Lease(31)));
        let error = |line| parse_compare(line).unwrap_err().message;
        assert_eq!(error("nonsense"), "malformed comparison: nonsense");
        assert_eq!(
            error(r#"ver("k") = "x""#),
            r#"invalid txn compare request: ver("k") = "x""#
        );
        assert_eq!(
            error(r#"value("k")="v""#),
            r#"malformed comparison: value("k")="v"; got value("k")  """#
        );
        assert_eq!(
            error(r#"value("k") ="v""#),
            r#"malformed comparison: value("k") ="v"; got value("k") ="v" """#
        );
        assert_eq!(
            error(r#"foo("k") = "v""#),
            r#"malformed comparison: foo("k") = "v" (unknown target foo)"#
        );
        assert_eq!(parse_compare(r#"ver("k") == "1""#).unwrap_err().code, 2);
    }

    #[test]
    fn op_lines_split_and_parse_like_etcdctl() {
        assert_eq!(
            argify(r#"put "a key" 'b c' d"e  \x41"#).unwrap(),
            ["put", "a key", "b c", "d\"e", "\\x41"]
        );
        assert_eq!(argify(r#"put k "\x41\n""#).unwrap(), ["put", "k", "A\n"]);
        let op = parse_op(r#"put "a key" "a value""#, || None).unwrap();
        let Some(Request::RequestPut(p)) = op.request else {
            panic!("{op:?}")
        };
        assert_eq!(
            (p.key.as_slice(), p.value.as_slice()),
            (&b"a key"[..], &b"a value"[..])
        );
        let op = parse_op("g k --prefix", || None).unwrap();
        let Some(Request::RequestRange(r)) = op.request else {
            panic!("{op:?}")
        };
        assert_eq!(r.range_end, b"l");
        assert_eq!(
            parse_op("frobnicate k", || None).unwrap_err().message,
            "invalid txn request: frobnicate k"
        );
        assert_eq!(
            parse_op("get", || None).unwrap_err().message,
            "invalid txn compare request: get"
        );
        assert_eq!(
            parse_op("get --prefix", || None).unwrap_err().code,
            exit::BAD_ARGS
        );
    }
}
