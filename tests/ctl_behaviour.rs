//! `etcdlab ctl` where there is no server answer to compare: unreachable endpoints, bad flags,
//! and the binary invoked under the name `etcdctl`. (The `ETCDCTL_API=2` guide is checked in
//! `ctl_vs_real_etcdctl.rs`.)

mod support;

use std::time::Duration;

use support::{OurMember, etcdctl, etcdlab_bin, run, visible_output};

fn ctl(args: &[&str], env: &[(&str, &str)]) -> support::Output {
    let mut all = vec!["ctl".to_string()];
    all.extend(args.iter().map(|s| s.to_string()));
    run(&etcdlab_bin(), &all, env, None, Duration::from_secs(20))
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}

#[test]
fn unreachable_endpoints_fail_like_etcdctl_without_hanging() {
    for args in [&["endpoint", "health"][..], &["get", "x"][..]] {
        let theirs = etcdctl("127.0.0.1:1", &strings(args), None);
        let mut with_endpoint = vec!["--endpoints", "127.0.0.1:1"];
        with_endpoint.extend_from_slice(args);
        let mine = ctl(&with_endpoint, &[("ETCDCTL_API", "3")]);
        assert_eq!(visible_output(&mine), visible_output(&theirs), "{args:?}");
        assert_eq!(mine.code, theirs.code, "{args:?}");
    }
}

#[test]
fn unknown_flags_and_missing_arguments_are_errors() {
    let out = ctl(&["get", "x", "--bogus"], &[]);
    assert_eq!(
        (out.code, out.stderr.as_str()),
        (1, "Error: unknown flag: --bogus\n")
    );
    let out = ctl(&["get"], &[]);
    assert_eq!(out.code, 128);
    assert!(
        out.stderr.contains("get command needs one argument"),
        "{}",
        out.stderr
    );
}

#[test]
fn invoked_as_etcdctl_the_binary_is_the_client() {
    let member = OurMember::start_single("named");
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("etcdctl");
    std::os::unix::fs::symlink(etcdlab_bin(), &link).unwrap();
    let env = [("ETCDCTL_API", "3")];
    let ep = member.endpoint();
    let put = run(
        &link,
        &strings(&["--endpoints", &ep, "put", "key1", "value1"]),
        &env,
        None,
        Duration::from_secs(20),
    );
    assert_eq!(put.stdout, "OK\n");
    let get = run(
        &link,
        &strings(&["--endpoints", &ep, "get", "key1"]),
        &env,
        None,
        Duration::from_secs(20),
    );
    assert_eq!(get.stdout, "key1\nvalue1\n");
}
