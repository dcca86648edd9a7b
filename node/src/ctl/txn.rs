//! `txn`: etcdctl's transaction language read from stdin — compare lines such as
//! `value("k") = "v"` or `mod("k") > "3"`, a blank line, the success ops (`put k v`, `get k`,
//! `del k`, with their flags), a blank line, the failure ops, a blank line.

use std::io::BufRead;

use clap::{Args, Parser};
use etcdlab_core::proto::etcdserverpb::compare::{CompareResult, CompareTarget, TargetUnion};
use etcdlab_core::proto::etcdserverpb::request_op::Request;
use etcdlab_core::proto::etcdserverpb::{Compare, RequestOp, TxnRequest};

use super::global::GlobalArgs;
use super::kv::{self, DelArgs, GetArgs, PutArgs};
use super::print::Printer;
use super::{CtlError, CtlResult, exit};
use crate::rpc::etcdserverpb::kv_client::KvClient;

#[derive(Args, Debug, Clone)]
pub struct TxnArgs {
    /// Input transaction in interactive mode
    #[arg(short = 'i', long)]
    pub interactive: bool,
}

/// One op line, parsed with the same flags as the command of that name.
#[derive(Parser, Debug)]
#[command(no_binary_name = true)]
enum OpLine {
    Get(GetArgs),
    Put(PutArgs),
    Del(DelArgs),
}

pub async fn run(g: &GlobalArgs, a: TxnArgs) -> CtlResult {
    let stdin = std::io::stdin();
    let mut lines = stdin.lock();
    let prompt = |text: &str| {
        if a.interactive {
            println!("{text}");
        }
    };
    prompt("compares:");
    let compare = read_block(&mut lines)?
        .iter()
        .map(|l| parse_compare(l))
        .collect::<Result<_, _>>()?;
    prompt("\nsuccess requests (get, put, del):");
    let success = read_block(&mut lines)?
        .iter()
        .map(|l| parse_op(l))
        .collect::<Result<_, _>>()?;
    prompt("\nfailure requests (get, put, del):");
    let failure = read_block(&mut lines)?
        .iter()
        .map(|l| parse_op(l))
        .collect::<Result<_, _>>()?;
    if a.interactive {
        println!();
    }
    let mut client = KvClient::new(g.connect().await?);
    let resp = client
        .txn(TxnRequest {
            compare,
            success,
            failure,
        })
        .await
        .map_err(CtlError::rpc)?
        .into_inner();
    Printer {
        format: g.write_out,
        hex: g.hex,
        value_only: false,
    }
    .txn(&resp)
}

/// Lines up to the next blank line; the end of input before it is an error, as in etcdctl.
fn read_block(input: &mut impl BufRead) -> Result<Vec<String>, CtlError> {
    let mut block = Vec::new();
    loop {
        let mut line = String::new();
        let n = input
            .read_line(&mut line)
            .map_err(|e| CtlError::new(exit::INVALID_INPUT, e.to_string()))?;
        if n == 0 || !line.ends_with('\n') {
            return Err(CtlError::new(exit::INVALID_INPUT, "EOF"));
        }
        let line = line.trim();
        if line.is_empty() {
            return Ok(block);
        }
        block.push(line.to_string());
    }
}

/// Parses `target("key") op "value"`.
pub fn parse_compare(line: &str) -> Result<Compare, CtlError> {
    let malformed = || CtlError::new(exit::INVALID_INPUT, format!("malformed comparison: {line}"));
    let (target, rest) = line.split_once('(').ok_or_else(malformed)?;
    let (key, rest) = quoted(rest).ok_or_else(malformed)?;
    let rest = rest.strip_prefix(')').ok_or_else(malformed)?.trim_start();
    let (op, rest) = rest.split_once(' ').ok_or_else(malformed)?;
    let (value, _) = quoted(rest.trim_start()).ok_or_else(malformed)?;
    let result = match op {
        "=" | "==" => CompareResult::Equal,
        "!=" => CompareResult::NotEqual,
        ">" => CompareResult::Greater,
        "<" => CompareResult::Less,
        _ => {
            return Err(CtlError::new(
                exit::INVALID_INPUT,
                format!("Unknown compare type {op}"),
            ));
        }
    };
    let number = || {
        value.parse::<i64>().map_err(|_| {
            CtlError::new(
                exit::INVALID_INPUT,
                format!("invalid txn compare request: {line}"),
            )
        })
    };
    let (target, operand) = match target {
        "ver" | "version" => (CompareTarget::Version, TargetUnion::Version(number()?)),
        "c" | "create" => (
            CompareTarget::Create,
            TargetUnion::CreateRevision(number()?),
        ),
        "m" | "mod" => (CompareTarget::Mod, TargetUnion::ModRevision(number()?)),
        "val" | "value" => (
            CompareTarget::Value,
            TargetUnion::Value(value.clone().into_bytes()),
        ),
        "lease" => (
            CompareTarget::Lease,
            TargetUnion::Lease(i64::from_str_radix(&value, 16).map_err(|_| malformed())?),
        ),
        other => {
            return Err(CtlError::new(
                exit::INVALID_INPUT,
                format!("malformed comparison: {line} (unknown target {other})"),
            ));
        }
    };
    Ok(Compare {
        result: result as i32,
        target: target as i32,
        key: key.into_bytes(),
        target_union: Some(operand),
        range_end: Vec::new(),
    })
}

/// A Go-style double-quoted string at the start of `s`, and what follows it.
fn quoted(s: &str) -> Option<(String, &str)> {
    let s = s.trim_start().strip_prefix('"')?;
    let mut out = String::new();
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((out, &s[i + 1..])),
            '\\' => match chars.next()?.1 {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                other => out.push(other),
            },
            c => out.push(c),
        }
    }
    None
}

/// Parses an op line (`put k v`, `get k --prefix`, `del k`) into a request.
pub fn parse_op(line: &str) -> Result<RequestOp, CtlError> {
    let invalid = || CtlError::new(exit::INVALID_INPUT, format!("invalid txn request: {line}"));
    let words = argify(line);
    if words.len() < 2 {
        return Err(CtlError::new(
            exit::INVALID_INPUT,
            format!("invalid txn compare request: {line}"),
        ));
    }
    let request = match OpLine::try_parse_from(words).map_err(|_| invalid())? {
        OpLine::Get(a) => Request::RequestRange(kv::range_request(&a).map_err(|_| invalid())?),
        OpLine::Put(a) => Request::RequestPut(kv::put_request(&a, || None).map_err(|_| invalid())?),
        OpLine::Del(a) => {
            Request::RequestDeleteRange(kv::delete_request(&a).map_err(|_| invalid())?)
        }
    };
    Ok(RequestOp {
        request: Some(request),
    })
}

/// Splits an op line into words, honouring double quotes (etcdctl's `argify`).
fn argify(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut rest = line.trim();
    while !rest.is_empty() {
        if rest.starts_with('"')
            && let Some((word, after)) = quoted(rest)
        {
            words.push(word);
            rest = after.trim_start();
            continue;
        }
        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        words.push(rest[..end].to_string());
        rest = rest[end..].trim_start();
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compares_and_ops_parse_like_etcdctl() {
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
        assert!(parse_compare("nonsense").is_err());
        assert!(parse_compare(r#"ver("k") = "x""#).is_err());
        let op = parse_op(r#"put "a key" "a value""#).unwrap();
        let Some(Request::RequestPut(p)) = op.request else {
            panic!()
        };
        assert_eq!(
            (p.key.as_slice(), p.value.as_slice()),
            (&b"a key"[..], &b"a value"[..])
        );
        let op = parse_op("get k --prefix").unwrap();
        let Some(Request::RequestRange(r)) = op.request else {
            panic!()
        };
        assert_eq!(r.range_end, b"l");
        assert!(parse_op("frobnicate k").is_err());
    }
}
