//! `etcdlab ctl` against the real etcdctl 3.4.23, command for command.
//!
//! A real etcd 3.4.23 is started on two fixed loopback ports and the whole command list runs
//! through the real `/usr/bin/etcdctl`; then a fresh real etcd (empty data dir, same ports, so
//! the same member and cluster ids) replays the list through `etcdlab ctl`. Every command must
//! give the same exit code and the same stdout byte for byte — timings (`took = ...`) and the
//! fresh etcd's database size are the only things masked — and the same error lines on stderr
//! (without the real etcdctl's JSON warning logs and cobra's repeated error line).
//!
//! The list covers get/put/del/txn/compaction/endpoint/version/member with their flags, every
//! output format, txn from stdin (interactive too), the global flags and `ETCDCTL_*`
//! variables, server errors (compacted and future revisions, empty key, duplicate key in a
//! txn), unreachable endpoints, usage errors (usage text on stdout) and `--help`.

mod support;

use std::time::Duration;

use support::{Output, RealEtcd, etcdlab_bin, free_port, real_etcdctl, run};

/// One command line with its stdin and environment.
struct Case {
    args: Vec<String>,
    stdin: Option<&'static str>,
    env: Vec<(&'static str, String)>,
    /// Whether `--endpoints <the etcd>` goes in front of the arguments.
    endpoints: bool,
    /// Whether the error lines on stderr are compared too.
    compare_stderr: bool,
}

/// A command against the etcd under test; `{ep}` in an argument is its endpoint, `{dead}` an
/// endpoint nobody listens on.
fn case(args: &[&str]) -> Case {
    Case {
        args: args.iter().map(|s| s.to_string()).collect(),
        stdin: None,
        env: Vec::new(),
        endpoints: true,
        compare_stderr: true,
    }
}

impl Case {
    fn stdin(mut self, input: &'static str) -> Case {
        self.stdin = Some(input);
        self
    }

    fn env(mut self, name: &'static str, value: &str) -> Case {
        self.env.push((name, value.to_string()));
        self
    }

    /// Stdout and exit code only: etcdctl's stderr here is a Go panic, cobra's default usage
    /// or a timestamped log line, which etcdlab words as a plain error.
    fn stdout_only(mut self) -> Case {
        self.compare_stderr = false;
        self
    }

    /// Without `--endpoints`: the case says where to connect itself.
    fn own_endpoints(mut self) -> Case {
        self.endpoints = false;
        self
    }
}

const POD: &str = r#"{"kind":"Pod","metadata":{"name":"nginx-pod","namespace":"default"}}"#;
const TXN_VALUE: &str =
    "value(\"txnkey\") = \"old\"\n\nput txnkey new\nget txnkey\n\nput txnkey failed\n\n";
const TXN_REVISIONS: &str = "mod(\"txnkey\") > \"1\"\ncreate(\"txnkey\") > \"0\"\nversion(\"txnkey\") = \"2\"\n\nput a 1\nput b 2\n\ndel txnkey\n\n";
const TXN_CREATE_IF_MISSING: &str =
    "create(\"newtxnkey\") = \"0\"\n\nput newtxnkey created\n\nget newtxnkey\n\n";
const TXN_RANGES: &str = "val(\"a\") != \"x\"\nc(\"a\") < \"1000\"\nm(\"a\") > \"0\"\nver(\"a\") = \"1\"\n\n\
get /registry --prefix --keys-only\nput \"quoted key\" \"a value with spaces\" --prev-kv\ndel /tmp --prefix --prev-kv\n\n\n";
const TXN_DUPLICATE: &str = "\nput dup 1\nput dup 2\n\n\n";
const TXN_EOF: &str = "value(\"a\") = \"1\"\n";
const TXN_MALFORMED: &str = "nonsense\n\n\n\n";
const TXN_MISSING_OPERAND: &str = "value(\"a\")=\"1\"\n\n\n\n";
const TXN_UNKNOWN_TARGET: &str = "foo(\"a\") = \"1\"\n\n\n\n";
const TXN_BAD_NUMBER: &str = "mod(\"a\") > \"x\"\n\n\n\n";
const TXN_UNKNOWN_OP: &str = "\nfrobnicate k\n\n\n";
const TXN_ONE_WORD: &str = "\nget\n\n\n";
const TXN_GET_WITHOUT_KEY: &str = "\nget --prefix\n\n\n";
const TXN_OP_WITH_GLOBAL_FLAG: &str = "\nget a -w json\n\n\n";
const TXN_DOUBLE_EQUALS: &str = "ver(\"a\") == \"1\"\n\n\n\n";

fn cases() -> Vec<Case> {
    vec![
        case(&["version"]),
        // Course notes 000-003: keys of a Kubernetes registry.
        case(&["put", "key1", "value1"]),
        case(&["get", "key1"]),
        case(&["put", "/registry/pods/default/nginx-pod", POD]),
        case(&[
            "put",
            "/registry/apiregistration.k8s.io/apiservices/v1.apps",
            "{}",
        ]),
        case(&[
            "put",
            "/registry/configmaps/kube-system/kubeadm-config",
            "cfg",
        ]),
        case(&["put", "/a/b", "1"]),
        case(&["put", "/a/c", "2"]),
        case(&["put", "/d", "3"]),
        case(&["put", "/tmp/x", "\u{d0a4} value \"quoted\"\ttab <&>"]),
        case(&["get", "/", "--prefix", "--keys-only"]),
        case(&["get", "/", "--prefix", "--keys-only", "--limit=10"]),
        case(&["get", "/", "--prefix", "--keys-only", "--limit", "2"]),
        case(&["get", "/registry/pods/default/nginx-pod", "-w", "json"]),
        case(&["get", "/registry", "--prefix", "-w", "json"]),
        case(&["get", "/registry", "--prefix", "-w", "fields"]),
        case(&["get", "/registry", "--prefix", "-w", "protobuf"]),
        case(&["get", "/registry", "--prefix", "-w", "table"]),
        case(&["get", "/registry", "--prefix", "-w=simple"]),
        case(&["get", "/tmp/x", "-w", "json"]),
        case(&["get", "/tmp/x", "-w", "fields"]),
        case(&["get", "/tmp/x", "--hex"]),
        case(&["get", "/", "--prefix", "--limit", "1", "-w", "json"]),
        case(&["get", "/registry", "--prefix", "--print-value-only"]),
        case(&[
            "get",
            "/registry",
            "--prefix",
            "--print-value-only",
            "-w",
            "json",
        ]),
        case(&["get", "/registry", "--prefix", "--consistency=s"]),
        case(&["get", "/registry", "--prefix", "--consistency", "x"]),
        case(&["get", "", "--from-key", "--keys-only"]),
        case(&["get", "/a", "--from-key", "--keys-only"]),
        case(&["get", "", "--prefix", "--keys-only"]),
        case(&["get", "/a", "/d"]),
        case(&["get", "/a", "/d", "ignored"]),
        case(&[
            "get",
            "/",
            "--prefix",
            "--sort-by=MODIFY",
            "--order=DESCEND",
        ]),
        case(&[
            "get",
            "/",
            "--prefix",
            "--sort-by=CREATE",
            "--order=ASCEND",
            "--keys-only",
        ]),
        case(&["get", "/", "--prefix", "--sort-by=value"]),
        case(&[
            "get",
            "/",
            "--prefix",
            "--sort-by=VERSION",
            "--order=descend",
            "--keys-only",
        ]),
        case(&[
            "get",
            "/",
            "--prefix",
            "--sort-by=KEY",
            "--order=DESCEND",
            "--keys-only",
        ]),
        case(&["get", "/", "--prefix", "--order=sideways"]),
        case(&["get", "/", "--prefix", "--sort-by=size"]),
        case(&["get", "/", "--prefix", "--hex"]),
        case(&["get", "nonexistent"]),
        case(&["get", "nonexistent", "-w", "json"]),
        case(&["get", "key1", "--rev", "1"]),
        case(&["get", "key1", "--rev=2"]),
        case(&["get", "key1", "--rev", "-1"]),
        case(&["get", "key1", "--rev", "0x2"]),
        case(&["get", "key1", "--rev", "999"]),
        case(&["get"]),
        case(&["get", "a", "--prefix", "--from-key"]),
        case(&["get", "a", "b", "--prefix"]),
        case(&["get", "key1", "--prefix=false"]),
        // put
        case(&["put", "key1", "value2", "--prev-kv"]),
        case(&["put", "key1", "value3", "--prev-kv", "-w", "json"]),
        case(&["put", "key1", "value4", "--prev-kv", "-w", "fields"]),
        case(&["put", "key1", "value5", "--prev-kv", "-w", "protobuf"]),
        case(&["put", "key1", "value6", "-w", "table"]),
        case(&["put", "key1", "--ignore-value"]),
        case(&["put", "newkey", "--ignore-value"]),
        case(&["put", "key1", "v", "--ignore-value"]),
        case(&["put", "key1", "v", "--ignore-lease"]),
        case(&["put", "key1", "v", "--lease=zz"]),
        case(&["put", "key1", "v", "--lease", "1234abcd"]),
        case(&["put", "", "empty-key"]),
        case(&["put", "stdinkey"]).stdin("from stdin\n"),
        case(&["put", "stdinkey"]),
        case(&["put", "dashkey", "--", "-dash-value"]),
        case(&["put", "k1", "v1", "extra"]),
        case(&["put"]),
        case(&["get", "k", "--prefix", "--keys-only"]),
        // del
        case(&["del", "nonexistent"]),
        case(&["del", "/a", "--prefix", "--prev-kv"]),
        case(&["del", "/d", "--prev-kv", "-w", "json"]),
        case(&["del", "dashkey", "-w", "fields", "--prev-kv"]),
        case(&["del", "stdinkey", "-w", "protobuf"]),
        case(&["del", "newkey", "-w", "table"]),
        case(&["del", "a", "b", "c"]),
        case(&["del", "a", "--prefix", "--from-key"]),
        case(&["del", "a", "b", "--from-key"]),
        case(&["del"]),
        // txn
        case(&["put", "txnkey", "old"]),
        case(&["txn"]).stdin(TXN_VALUE),
        case(&["txn", "-w", "json"]).stdin(TXN_VALUE),
        case(&["txn", "-w", "fields"]).stdin(TXN_VALUE),
        case(&["txn", "-w", "protobuf"]).stdin(TXN_VALUE),
        case(&["txn", "-w", "table"]).stdin(TXN_VALUE),
        case(&["txn", "--interactive"]).stdin(TXN_REVISIONS),
        case(&["txn", "-i"]).stdin(TXN_CREATE_IF_MISSING),
        case(&["txn", "-w", "json"]).stdin(TXN_CREATE_IF_MISSING),
        case(&["txn"]).stdin(TXN_RANGES),
        case(&["txn", "-w", "json"]).stdin(TXN_RANGES),
        case(&["txn"]).stdin(TXN_DUPLICATE),
        case(&["txn"]).stdin(TXN_EOF),
        case(&["txn"]),
        case(&["txn"]).stdin(TXN_MALFORMED),
        case(&["txn"]).stdin(TXN_MISSING_OPERAND),
        case(&["txn"]).stdin(TXN_UNKNOWN_TARGET),
        case(&["txn"]).stdin(TXN_BAD_NUMBER),
        case(&["txn"]).stdin(TXN_UNKNOWN_OP),
        case(&["txn"]).stdin(TXN_ONE_WORD),
        case(&["txn"]).stdin(TXN_GET_WITHOUT_KEY),
        case(&["txn"]).stdin(TXN_OP_WITH_GLOBAL_FLAG).stdout_only(),
        case(&["txn"]).stdin(TXN_DOUBLE_EQUALS).stdout_only(),
        case(&["txn", "extra"]).stdin(TXN_VALUE),
        // compaction
        case(&["compaction", "3"]),
        case(&["get", "key1", "--rev", "2"]),
        case(&["get", "key1", "--rev", "2", "-w", "json"]),
        case(&["compaction", "3"]),
        case(&["compaction", "1000"]),
        case(&["compact", "5", "--physical"]),
        case(&["compaction", "abc"]),
        case(&["compaction"]),
        case(&["get", "key1", "--rev", "4"]),
        // endpoint
        case(&["endpoint", "health"]),
        case(&["endpoint", "health", "-w", "json"]),
        case(&["endpoint", "health", "-w", "table"]),
        case(&["endpoint", "health", "-w", "fields"]),
        case(&["endpoint", "health", "-w", "protobuf"]),
        case(&["endpoint", "health", "--cluster"]),
        case(&["endpoint", "--cluster", "health", "-w", "json"]),
        case(&["endpoint", "status"]),
        case(&["endpoint", "status", "-w", "json"]),
        case(&["endpoint", "status", "-w", "table"]),
        case(&["endpoint", "status", "-w", "fields"]),
        case(&["endpoint", "status", "-w", "protobuf"]),
        case(&["endpoint", "status", "--cluster", "-w", "table"]),
        case(&["endpoint", "hashkv"]),
        case(&["endpoint", "hashkv", "-w", "json"]),
        case(&["endpoint", "hashkv", "-w", "table"]),
        case(&["endpoint", "hashkv", "-w", "fields"]),
        case(&["endpoint", "hashkv", "--rev", "6"]),
        case(&["endpoint", "hashkv", "--cluster"]),
        // member
        case(&["member", "list"]),
        case(&["member", "list", "-w", "json"]),
        case(&["member", "list", "-w", "table"]),
        case(&["member", "list", "-w", "fields"]),
        case(&["member", "list", "-w", "protobuf"]),
        case(&["member", "add"]),
        case(&["member", "add", "m2", "http://127.0.0.1:1"]),
        case(&["member", "add", "m2"]),
        case(&["member", "remove"]),
        case(&["member", "remove", "zz"]),
        case(&["member", "remove", "1234"]),
        case(&["member", "update", "1234"]),
        case(&["member", "update", "1234", "--peer-urls=http://127.0.0.1:1"]),
        case(&["member", "promote", "1234"]),
        // global flags and the environment
        case(&["--endpoints", "http://{ep}", "get", "key1"]).own_endpoints(),
        case(&["get", "key1", "--endpoints={ep}"]).own_endpoints(),
        case(&["get", "key1"])
            .own_endpoints()
            .env("ETCDCTL_ENDPOINTS", "{ep}"),
        case(&["get", "key1"]).env("ETCDCTL_WRITE_OUT", "json"),
        case(&["get", "key1", "-w", "simple"])
            .env("ETCDCTL_WRITE_OUT", "json")
            .stdout_only(),
        case(&["-w", "bogus", "get", "key1"]),
        case(&[
            "--dial-timeout=3s",
            "--command-timeout",
            "4s",
            "--keepalive-time=5s",
            "--keepalive-timeout=1m30s",
            "--insecure-transport",
            "--insecure-skip-tls-verify=false",
            "--debug=false",
            "get",
            "key1",
        ]),
        case(&["get", "key1", "--dial-timeout=2"]),
        case(&["--endpoints", "{dead},{ep}", "get", "key1"]).own_endpoints(),
        case(&[
            "--endpoints",
            "{dead}",
            "--command-timeout=1s",
            "get",
            "key1",
        ])
        .own_endpoints(),
        case(&[
            "--endpoints",
            "{dead}",
            "--command-timeout=1s",
            "endpoint",
            "health",
        ])
        .own_endpoints(),
        case(&[
            "--endpoints",
            "{dead},{ep}",
            "--command-timeout=1s",
            "endpoint",
            "health",
            "-w",
            "json",
        ])
        .own_endpoints(),
        case(&[
            "--endpoints",
            "{ep},{dead}",
            "--command-timeout=1s",
            "endpoint",
            "status",
        ])
        .own_endpoints(),
        case(&[
            "--endpoints",
            "{dead},{ep}",
            "--command-timeout=1s",
            "endpoint",
            "hashkv",
        ])
        .own_endpoints(),
        case(&["--endpoints", "", "endpoint", "health"]).own_endpoints(),
        case(&["--endpoints", "", "get", "key1"]).own_endpoints(),
        case(&["--cert", "", "get", "key1"]),
        // usage errors and help
        case(&["get", "key1", "--bogus"]),
        case(&["put", "key1", "-x"]),
        case(&["get", "key1", "--limit", "x"]),
        case(&["get", "key1", "--limit"]),
        case(&["get", "key1", "-w"]),
        case(&["get", "key1", "--prefix=maybe"]),
        case(&["endpoint", "status", "--rev=1"]),
        case(&["bogus"]),
        case(&["endpoint"]),
        case(&["endpoint", "bogus"]),
        case(&["member"]),
        case(&["get", "--help"]),
        case(&["endpoint", "hashkv", "-h"]),
        case(&["help", "txn"]),
        case(&["help", "member", "add"]),
        case(&["version", "extra", "-w", "json"]),
        // locks and elections that end by themselves
        case(&["lock", "--help"]),
        case(&["lock"]),
        case(&["lock", "mylock", "echo", "held"]),
        case(&["lock", "mylock", "false"]),
        case(&["lock", "mylock", "sh", "-c", "true"]),
        case(&["elect", "--help"]),
        case(&["elect"]),
        case(&["elect", "e1"]),
        case(&["elect", "-l", "e1", "proposal"]),
        // watches that end by themselves
        case(&["watch", "--help"]),
        case(&["watch"]),
        case(&["watch", "a", "--"]),
        case(&["watch", "a", "b", "--prefix"]),
        case(&["watch", "b", "a"]),
        case(&["watch", "b", "a", "-w", "json"]),
        case(&["watch", "key1", "--rev", "-1", "-w", "fields"]),
        case(&["watch"]).env("ETCDCTL_WATCH_RANGE_END", "z"),
        case(&["watch", "a"]).env("ETCDCTL_WATCH_KEY", "k"),
        case(&["get", "/", "--prefix", "--keys-only"]).env("ETCDCTL_API", "4"),
        // Last: whatever is left, then nothing.
        case(&["del", "", "--from-key", "--prev-kv", "-w", "json"]),
        case(&["get", "", "--from-key"]),
    ]
}

enum Client {
    RealEtcdctl,
    EtcdlabCtl,
}

fn run_case(client: &Client, case: &Case, endpoint: &str, dead: &str) -> Output {
    let (program, mut args) = match client {
        Client::RealEtcdctl => (real_etcdctl(), Vec::new()),
        Client::EtcdlabCtl => (etcdlab_bin(), vec!["ctl".to_string()]),
    };
    let fill = |s: &str| s.replace("{ep}", endpoint).replace("{dead}", dead);
    if case.endpoints {
        args.push("--endpoints".to_string());
        args.push(endpoint.to_string());
    }
    args.extend(case.args.iter().map(|a| fill(a)));
    let mut env: Vec<(&str, String)> = vec![("ETCDCTL_API", "3".to_string())];
    for (name, value) in &case.env {
        env.retain(|(n, _)| n != name);
        env.push((name, fill(value)));
    }
    let env: Vec<(&str, &str)> = env.iter().map(|(n, v)| (*n, v.as_str())).collect();
    run(&program, &args, &env, case.stdin, Duration::from_secs(30))
}

/// Runs every case against a fresh real etcd on `ports`.
fn run_all(client: Client, ports: (u16, u16), dead: &str) -> Vec<Output> {
    let etcd = RealEtcd::start_on(ports.0, ports.1);
    cases()
        .iter()
        .map(|c| run_case(&client, c, &etcd.endpoint(), dead))
        .collect()
}

/// Output with what differs between two fresh etcds masked: Go durations (where a `took` is),
/// and database sizes (a new bbolt file grows with the timing of its commits, 25 or 29 kB);
/// where one was, table padding too (its width varies).
fn mask_varying(bytes: &[u8]) -> Vec<u8> {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return bytes.to_vec();
    };
    let duration = regex_lite::Regex::new(r"\b[0-9]+(\.[0-9]+)?(ns|µs|ms|s)\b").unwrap();
    let took =
        regex_lite::Regex::new(r#"(took = |"took":"|"Took" : |\| +)[0-9.]+(ns|µs|ms|s)"#).unwrap();
    let timed = took.is_match(text);
    let sized = support::mask_sizes(text);
    if !timed && sized == text {
        return bytes.to_vec();
    }
    let masked = if timed {
        duration.replace_all(&sized, "<duration>").into_owned()
    } else {
        sized
    };
    let dashes = regex_lite::Regex::new(r"-+").unwrap();
    let spaces = regex_lite::Regex::new(r" +").unwrap();
    masked
        .lines()
        .map(|line| match line.chars().next() {
            Some('+') => dashes.replace_all(line, "-").into_owned(),
            Some('|') => spaces.replace_all(line, " ").into_owned(),
            _ => line.to_string(),
        })
        .map(|line| line + "\n")
        .collect::<String>()
        .into_bytes()
}

/// The error lines a user sees: without the real etcdctl's JSON logs, blank lines and the
/// second copy cobra prints of an error.
fn error_lines(stderr: &str) -> Vec<String> {
    let text = String::from_utf8_lossy(&mask_varying(stderr.as_bytes())).into_owned();
    let mut lines: Vec<String> = Vec::new();
    for line in text.lines() {
        if line.is_empty() || line.starts_with("{\"level\"") || lines.iter().any(|l| l == line) {
            continue;
        }
        lines.push(line.to_string());
    }
    lines
}

fn shown(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(text) => text.to_string(),
        Err(_) => format!("{bytes:02x?}\n"),
    }
}

#[test]
fn etcdlab_ctl_prints_what_the_real_etcdctl_prints() {
    let ports = (free_port(), free_port());
    let dead = format!("127.0.0.1:{}", free_port());
    let theirs = run_all(Client::RealEtcdctl, ports, &dead);
    let ours = run_all(Client::EtcdlabCtl, ports, &dead);
    let mut differences = Vec::new();
    for ((case, real), mine) in cases().iter().zip(&theirs).zip(&ours) {
        let (expected, got) = (
            mask_varying(&real.stdout_bytes),
            mask_varying(&mine.stdout_bytes),
        );
        let (expected_errors, got_errors) = (error_lines(&real.stderr), error_lines(&mine.stderr));
        let errors_differ = case.compare_stderr && expected_errors != got_errors;
        if expected != got || real.code != mine.code || errors_differ {
            differences.push(format!(
                "$ etcdctl {}{}\n--- etcdctl (exit {})\n{}{:?}\n--- etcdlab ctl (exit {})\n{}{:?}\n",
                if case.endpoints { "--endpoints EP " } else { "" },
                case.args.join(" "),
                real.code,
                shown(&expected),
                expected_errors,
                mine.code,
                shown(&got),
                got_errors,
            ));
        }
    }
    assert!(
        differences.is_empty(),
        "{} of {} commands differ:\n\n{}",
        differences.len(),
        theirs.len(),
        differences.join("\n")
    );
}

#[test]
fn etcdctl_api_2_maps_the_old_commands_to_v3() {
    let out = run(
        &etcdlab_bin(),
        &["ctl".to_string(), "mkdir".to_string(), "/dir".to_string()],
        &[("ETCDCTL_API", "2")],
        None,
        Duration::from_secs(10),
    );
    assert_ne!(out.code, 0, "{}", out.stderr);
    // Rows are `<v2 commands>  <v3 command>`, the asked command marked with `->`.
    let rows: Vec<(Vec<&str>, &str)> = out
        .stderr
        .lines()
        .filter_map(|l| l.strip_prefix("->").or_else(|| l.strip_prefix("  ")))
        .filter_map(|l| l.split_once("  "))
        .map(|(v2, v3)| (v2.split(" / ").collect(), v3.trim()))
        .collect();
    for (v2, v3) in [
        ("backup", "snapshot save"),
        ("cluster-health", "endpoint health"),
        ("mk", "put"),
        ("set", "put"),
        ("mkdir", "(none)"),
        ("ls", "get <prefix> --prefix --keys-only"),
        ("get", "get"),
        ("rm", "del"),
        ("rmdir", "del"),
        ("watch", "watch"),
        ("exec-watch", "watch"),
        ("update", "put"),
        ("updatedir", "put"),
    ] {
        assert!(
            rows.iter()
                .any(|(old, new)| old.contains(&v2) && new.starts_with(v3)),
            "{v2} -> {v3} missing in:\n{}",
            out.stderr
        );
    }
    assert!(
        out.stderr.lines().any(|l| l.starts_with("->mkdir")),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("ETCDCTL_API=3"), "{}", out.stderr);
}
