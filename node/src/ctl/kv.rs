//! `get`, `put`, `del` and `compaction`: arguments and flags turned into etcd requests exactly
//! as etcdctl builds them (prefix and from-key ranges, sort defaults, the empty-key rules, a
//! value read from stdin), checked in etcdctl's order so each mistake gets etcdctl's message.
//! [`txn`](super::txn) reuses the request builders for its op lines.

use std::io::Read;

use etcdlab_core::mvcc::prefix_end;
use etcdlab_core::proto::etcdserverpb::range_request::{SortOrder, SortTarget};
use etcdlab_core::proto::etcdserverpb::{
    CompactionRequest, DeleteRangeRequest, PutRequest, RangeRequest,
};

use super::cli::{Command, Flag, Invocation, Kind};
use super::global::Global;
use super::print::{Format, Report, stdout};
use super::{CtlError, CtlResult, exit, gotext};
use crate::rpc::etcdserverpb::kv_client::KvClient;

const CONSISTENCY: Flag = Flag::new(
    "consistency",
    Kind::Text,
    "l",
    "Linearizable(l) or Serializable(s)",
);
const ORDER: Flag = Flag::new(
    "order",
    Kind::Text,
    "",
    "Order of results; ASCEND or DESCEND (ASCEND by default)",
);
const SORT_BY: Flag = Flag::new(
    "sort-by",
    Kind::Text,
    "",
    "Sort target; CREATE, KEY, MODIFY, VALUE, or VERSION",
);
const LIMIT: Flag = Flag::new("limit", Kind::Int, "0", "Maximum number of results");
const GET_PREFIX: Flag = Flag::switch("prefix", "Get keys with matching prefix");
const GET_FROM_KEY: Flag = Flag::switch(
    "from-key",
    "Get keys that are greater than or equal to the given key using byte compare",
);
const REV: Flag = Flag::new("rev", Kind::Int, "0", "Specify the kv revision");
const KEYS_ONLY: Flag = Flag::switch("keys-only", "Get only the keys");
const PRINT_VALUE_ONLY: Flag = Flag::switch(
    "print-value-only",
    "Only write values when using the \"simple\" output format",
);

pub static GET: Command = Command::new(
    "get [options] <key> [range_end]",
    "Gets the key or a range of keys",
)
.flags(&[
    CONSISTENCY,
    ORDER,
    SORT_BY,
    LIMIT,
    GET_PREFIX,
    GET_FROM_KEY,
    REV,
    KEYS_ONLY,
    PRINT_VALUE_ONLY,
])
.run(|inv| Box::pin(get(inv)));

const LEASE: Flag = Flag::new(
    "lease",
    Kind::Text,
    "0",
    "lease ID (in hexadecimal) to attach to the key",
);
const PUT_PREV_KV: Flag = Flag::switch(
    "prev-kv",
    "return the previous key-value pair before modification",
);
const IGNORE_VALUE: Flag = Flag::switch("ignore-value", "updates the key using its current value");
const IGNORE_LEASE: Flag = Flag::switch("ignore-lease", "updates the key using its current lease");

pub static PUT: Command = Command::new(
    "put [options] <key> <value> (<value> can also be given from stdin)",
    "Puts the given key into the store",
)
.long(
    "
Puts the given key into the store.

When <value> begins with '-', <value> is interpreted as a flag.
Insert '--' for workaround:

$ put <key> -- <value>
$ put -- <key> <value>

If <value> isn't given as a command line argument and '--ignore-value' is not specified,
this command tries to read the value from standard input.

If <lease> isn't given as a command line argument and '--ignore-lease' is not specified,
this command tries to read the value from standard input.

For example,
$ cat file | put <key>
will store the content of the file to <key>.
",
)
.flags(&[LEASE, PUT_PREV_KV, IGNORE_VALUE, IGNORE_LEASE])
.run(|inv| Box::pin(put(inv)));

const DEL_PREFIX: Flag = Flag::switch("prefix", "delete keys with matching prefix");
const DEL_PREV_KV: Flag = Flag::switch("prev-kv", "return deleted key-value pairs");
const DEL_FROM_KEY: Flag = Flag::switch(
    "from-key",
    "delete keys that are greater than or equal to the given key using byte compare",
);

pub static DEL: Command = Command::new(
    "del [options] <key> [range_end]",
    "Removes the specified key or range of keys [key, range_end)",
)
.flags(&[DEL_PREFIX, DEL_PREV_KV, DEL_FROM_KEY])
.run(|inv| Box::pin(del(inv)));

const PHYSICAL: Flag = Flag::switch(
    "physical",
    "'true' to wait for compaction to physically remove all old revisions",
);

pub static COMPACTION: Command = Command::new(
    "compaction [options] <revision>",
    "Compacts the event history in etcd",
)
.flags(&[PHYSICAL])
.run(|inv| Box::pin(compaction(inv)));

/// The key and range end of a key, an explicit range, `--prefix` or `--from-key` (an empty
/// key with either means the whole key space).
pub(super) fn key_range(
    key: &str,
    range_end: Option<&String>,
    prefix: bool,
    from_key: bool,
) -> (Vec<u8>, Vec<u8>) {
    let key = key.as_bytes().to_vec();
    if prefix || from_key {
        if key.is_empty() {
            return (vec![0], vec![0]);
        }
        let end = if prefix { prefix_end(&key) } else { vec![0] };
        return (key, end);
    }
    (
        key,
        range_end.map(|e| e.as_bytes().to_vec()).unwrap_or_default(),
    )
}

/// The range a `--prefix`/`--from-key` command covers, refusing both at once or a range end too.
fn checked_range(
    inv: &Invocation,
    prefix: &Flag,
    from_key: &Flag,
) -> Result<(bool, bool), CtlError> {
    let (prefix, from_key) = (inv.bool(prefix), inv.bool(from_key));
    if prefix && from_key {
        return Err(CtlError::bad_args(
            "`--prefix` and `--from-key` cannot be set at the same time, choose one",
        ));
    }
    Ok((prefix, from_key))
}

const TOO_MANY_WITH_RANGE: &str =
    "too many arguments, only accept one argument when `--prefix` or `--from-key` is set";

/// A Range request from get's arguments, as etcdctl's `getGetOp`.
pub fn range_request(inv: &Invocation) -> Result<RangeRequest, CtlError> {
    let Some(key) = inv.args.first() else {
        return Err(CtlError::bad_args(
            "get command needs one argument as key and an optional argument as range_end",
        ));
    };
    let (prefix, from_key) = checked_range(inv, &GET_PREFIX, &GET_FROM_KEY)?;
    let consistency = inv.text(&CONSISTENCY);
    let serializable = match consistency.as_str() {
        "s" => true,
        "l" => false,
        _ => {
            return Err(CtlError::new(
                exit::BAD_FEATURE,
                format!(
                    "unknown consistency flag {}",
                    gotext::quote(consistency.as_bytes())
                ),
            ));
        }
    };
    if inv.args.len() > 1 && (prefix || from_key) {
        return Err(CtlError::bad_args(TOO_MANY_WITH_RANGE));
    }
    let order_text = inv.text(&ORDER);
    let order = match order_text.to_uppercase().as_str() {
        "ASCEND" => SortOrder::Ascend,
        "DESCEND" => SortOrder::Descend,
        "" => SortOrder::None,
        _ => {
            return Err(CtlError::new(
                exit::BAD_FEATURE,
                format!("bad sort order {order_text}"),
            ));
        }
    };
    let target_text = inv.text(&SORT_BY);
    let target = match target_text.to_uppercase().as_str() {
        "CREATE" => SortTarget::Create,
        "KEY" | "" => SortTarget::Key,
        "MODIFY" => SortTarget::Mod,
        "VALUE" => SortTarget::Value,
        "VERSION" => SortTarget::Version,
        _ => {
            return Err(CtlError::new(
                exit::BAD_FEATURE,
                format!("bad sort target {target_text}"),
            ));
        }
    };
    // clientv3 sends key-ascending as no sort: the server's natural order.
    let order = if target == SortTarget::Key && order == SortOrder::Ascend {
        SortOrder::None
    } else {
        order
    };
    let (key, range_end) = key_range(key, inv.args.get(1), prefix, from_key);
    Ok(RangeRequest {
        key,
        range_end,
        limit: inv.int(&LIMIT),
        revision: inv.int(&REV).max(0),
        sort_order: order as i32,
        sort_target: target as i32,
        serializable,
        keys_only: inv.bool(&KEYS_ONLY),
        ..Default::default()
    })
}

/// A Put request from put's arguments, as etcdctl's `getPutOp`; without a value argument the
/// value is whatever `stdin_value` reads.
pub fn put_request(
    inv: &Invocation,
    stdin_value: impl FnOnce() -> Option<Vec<u8>>,
) -> Result<PutRequest, CtlError> {
    const USAGE: &str = "put command needs 1 argument and input from stdin or 2 arguments";
    let Some(key) = inv.args.first() else {
        return Err(CtlError::bad_args(USAGE));
    };
    let ignore_value = inv.bool(&IGNORE_VALUE);
    if ignore_value && inv.args.len() > 1 {
        return Err(CtlError::bad_args(
            "put command needs only 1 argument when 'ignore-value' is set",
        ));
    }
    let value = if ignore_value {
        Vec::new()
    } else {
        match inv.args.get(1) {
            Some(v) => v.clone().into_bytes(),
            None => stdin_value().ok_or_else(|| CtlError::bad_args(USAGE))?,
        }
    };
    let lease = gotext::parse_int(&inv.text(&LEASE), 16)
        .map_err(|e| CtlError::bad_args(format!("bad lease ID ({e}), expecting ID in Hex")))?;
    Ok(PutRequest {
        key: key.clone().into_bytes(),
        value,
        lease,
        prev_kv: inv.bool(&PUT_PREV_KV),
        ignore_value,
        ignore_lease: inv.bool(&IGNORE_LEASE),
    })
}

/// A DeleteRange request from del's arguments, as etcdctl's `getDelOp`.
pub fn delete_request(inv: &Invocation) -> Result<DeleteRangeRequest, CtlError> {
    let (Some(key), 1..=2) = (inv.args.first(), inv.args.len()) else {
        return Err(CtlError::bad_args(
            "del command needs one argument as key and an optional argument as range_end",
        ));
    };
    let (prefix, from_key) = checked_range(inv, &DEL_PREFIX, &DEL_FROM_KEY)?;
    if inv.args.len() > 1 && (prefix || from_key) {
        return Err(CtlError::bad_args(TOO_MANY_WITH_RANGE));
    }
    let (key, range_end) = key_range(key, inv.args.get(1), prefix, from_key);
    Ok(DeleteRangeRequest {
        key,
        range_end,
        prev_kv: inv.bool(&DEL_PREV_KV),
    })
}

/// All of stdin, if there is any (etcdctl's `argOrStdin`).
fn read_stdin() -> Option<Vec<u8>> {
    let mut value = Vec::new();
    match std::io::stdin().read_to_end(&mut value) {
        Ok(_) if !value.is_empty() => Some(value),
        _ => None,
    }
}

async fn get(inv: Invocation) -> CtlResult {
    let request = range_request(&inv)?;
    let g = Global::from(&inv)?;
    let response = g
        .client()?
        .request(async |channel| KvClient::new(channel).range(request).await)
        .await?;
    let mut printer = g.printer();
    if inv.bool(&PRINT_VALUE_ONLY) {
        if g.format != Format::Simple {
            return Err(CtlError::bad_args(
                "print-value-only is only for `--write-out=simple`",
            ));
        }
        printer.value_only = true;
    }
    printer.print(&Report::Get(&response))
}

async fn put(inv: Invocation) -> CtlResult {
    let request = put_request(&inv, read_stdin)?;
    let g = Global::from(&inv)?;
    let response = g
        .client()?
        .request(async |channel| KvClient::new(channel).put(request).await)
        .await?;
    g.printer().print(&Report::Put(&response))
}

async fn del(inv: Invocation) -> CtlResult {
    let request = delete_request(&inv)?;
    let g = Global::from(&inv)?;
    let response = g
        .client()?
        .request(async |channel| KvClient::new(channel).delete_range(request).await)
        .await?;
    g.printer().print(&Report::Del(&response))
}

async fn compaction(inv: Invocation) -> CtlResult {
    let [revision] = inv.args.as_slice() else {
        return Err(CtlError::bad_args("compaction command needs 1 argument"));
    };
    let revision = gotext::parse_int(revision, 10).map_err(|e| CtlError::new(exit::ERROR, e))?;
    let physical = inv.bool(&PHYSICAL);
    let g = Global::from(&inv)?;
    g.client()?
        .request(async |channel| {
            KvClient::new(channel)
                .compact(CompactionRequest { revision, physical })
                .await
        })
        .await?;
    stdout(format!("compacted revision {revision}\n").as_bytes());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ctl::cli::{Outcome, parse};

    fn invocation(words: &[&str]) -> Invocation {
        static ROOT: Command = Command::new("etcdctl", "").subcommands(&[&GET, &PUT, &DEL]);
        let words: Vec<String> = words.iter().map(|s| s.to_string()).collect();
        match parse(&ROOT, &words, &|_| None) {
            Ok(Outcome::Run(inv)) => inv,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn ranges_as_clientv3_builds_them() {
        assert_eq!(prefix_end(b"/a"), b"/b");
        assert_eq!(prefix_end(b"a\xff"), b"b");
        assert_eq!(prefix_end(b"\xff\xff"), vec![0]);
        let range = |words: &[&str]| {
            let r = range_request(&invocation(words)).unwrap();
            (r.key, r.range_end)
        };
        assert_eq!(
            range(&["get", "/", "--prefix"]),
            (b"/".to_vec(), b"0".to_vec())
        );
        assert_eq!(range(&["get", "", "--prefix"]), (vec![0], vec![0]));
        assert_eq!(range(&["get", "", "--from-key"]), (vec![0], vec![0]));
        assert_eq!(range(&["get", "a", "--from-key"]), (b"a".to_vec(), vec![0]));
        assert_eq!(
            range(&["get", "a", "c", "extra"]),
            (b"a".to_vec(), b"c".to_vec())
        );
        let r = range_request(&invocation(&[
            "get",
            "a",
            "--sort-by=key",
            "--order=ascend",
        ]))
        .unwrap();
        assert_eq!(r.sort_order, SortOrder::None as i32);
        let e = range_request(&invocation(&["get", "a", "--consistency=x"])).unwrap_err();
        assert_eq!(
            (e.code, e.message.as_str()),
            (exit::BAD_FEATURE, "unknown consistency flag \"x\"")
        );
        let e = delete_request(&invocation(&["del", "a", "b", "c"])).unwrap_err();
        assert_eq!(e.code, exit::BAD_ARGS);
    }

    #[test]
    fn put_takes_its_value_from_arguments_or_stdin() {
        let p = put_request(&invocation(&["put", "k", "v", "extra"]), || None).unwrap();
        assert_eq!((p.key, p.value), (b"k".to_vec(), b"v".to_vec()));
        let p = put_request(&invocation(&["put", "k"]), || {
            Some(b"from stdin\n".to_vec())
        })
        .unwrap();
        assert_eq!(p.value, b"from stdin\n");
        let e = put_request(&invocation(&["put", "k", "v", "--lease=zz"]), || None).unwrap_err();
        assert_eq!(
            e.message,
            "bad lease ID (strconv.ParseInt: parsing \"zz\": invalid syntax), expecting ID in Hex"
        );
        assert!(put_request(&invocation(&["put", "k"]), || None).is_err());
    }
}
