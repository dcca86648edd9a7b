//! `ETCDCTL_API=2`: etcdlab speaks only the v3 API (as Kubernetes has since 1.13). Users of the
//! old v2 commands get the v3 command that does the same job — a mapping the course teaches.

use std::ffi::OsString;
use std::process::ExitCode;

/// (v2 command, v3 replacement, note)
const MAPPING: &[(&str, &str, &str)] = &[
    (
        "set / mk",
        "put <key> <value>",
        "mk fails if the key exists: use a txn with create(\"k\") = \"0\"",
    ),
    ("get", "get <key>", ""),
    (
        "ls",
        "get <prefix> --prefix --keys-only",
        "v3 keys are flat; \"directories\" are prefixes",
    ),
    (
        "mkdir / setdir",
        "(none)",
        "there are no directories in v3; just put keys under a prefix",
    ),
    ("rm / rmdir", "del <key>  |  del <prefix> --prefix", ""),
    (
        "update / updatedir",
        "put <key> <value>",
        "use a txn to require that the key exists",
    ),
    (
        "watch / exec-watch",
        "watch <key> [--prefix]  |  watch <key> -- <command>",
        "",
    ),
    (
        "backup",
        "snapshot save <file>",
        "restore with `etcdutl snapshot restore`",
    ),
    (
        "cluster-health",
        "endpoint health [--cluster]",
        "and `endpoint status -w table` to see the leader",
    ),
    ("member list/add/remove", "member list/add/remove", ""),
    ("user / role / auth", "user / role / auth", ""),
];

/// Prints the v2-to-v3 guide on stderr, the asked command marked, and fails.
pub fn explain(args: &[OsString]) -> ExitCode {
    let asked = args
        .get(1)
        .map(|a| a.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut text = String::from(
        "etcdlab speaks the etcd v3 API only; ETCDCTL_API=2 selects the retired v2 API.\n\
         Unset it (etcdctl 3.4 and later default to v3), or `export ETCDCTL_API=3`, and use the \
         v3 commands:\n\n",
    );
    text.push_str(&format!("  {:<24} v3 command\n", "v2 command"));
    for (v2, v3, note) in MAPPING {
        let is_asked = v2
            .split(" / ")
            .any(|c| c.split_whitespace().next() == Some(asked.as_str()));
        let marker = if is_asked { "->" } else { "  " };
        text.push_str(&format!("{marker}{v2:<24} {v3}\n"));
        if !note.is_empty() {
            text.push_str(&format!("  {:<24}   ({note})\n", ""));
        }
    }
    super::print::stderr(&text);
    ExitCode::from(super::exit::BAD_FEATURE)
}
