//! Bad input gets a clear error and loses nothing: oversize requests, empty keys, a data dir
//! that is not ours, unknown flags. Each case runs the real binary and the real etcdctl.

mod support;

use std::time::Duration;

use support::{OurMember, etcdctl, etcdlab_bin, run};

fn args(words: &[&str]) -> Vec<String> {
    words.iter().map(|s| s.to_string()).collect()
}

#[test]
fn oversize_request_and_empty_key_are_refused_and_nothing_is_lost() {
    let member = OurMember::start_single_with("m", &["--max-request-bytes", "1024"]);
    let ep = member.endpoint();
    assert_eq!(etcdctl(&ep, &args(&["put", "kept", "v1"]), None).code, 0);

    let big = "x".repeat(2000);
    let out = etcdctl(&ep, &args(&["put", "big", &big]), None);
    assert_eq!(out.code, 1);
    assert_eq!(
        out.stderr.lines().last(),
        Some("Error: etcdserver: request is too large")
    );

    let out = etcdctl(&ep, &args(&["put", "", "v"]), None);
    assert_eq!(out.code, 1);
    assert_eq!(
        out.stderr.lines().last(),
        Some("Error: etcdserver: key is not provided")
    );

    let out = etcdctl(&ep, &args(&["get", ""]), None);
    assert_eq!(
        out.stderr.lines().last(),
        Some("Error: etcdserver: key is not provided")
    );

    // The last member cannot remove itself.
    let list = etcdctl(&ep, &args(&["member", "list", "-w", "json"]), None);
    let id = serde_json::from_str::<serde_json::Value>(&list.stdout).unwrap()["members"][0]["ID"]
        .as_u64()
        .unwrap();
    let out = etcdctl(&ep, &args(&["member", "remove", &format!("{id:x}")]), None);
    assert_eq!(out.code, 1);
    assert_eq!(
        out.stderr.lines().last(),
        Some("Error: etcdserver: re-configuration failed due to not enough started members")
    );
    // A peer URL already in use cannot be added again.
    let peer = member.peer_url();
    let out = etcdctl(
        &ep,
        &args(&["member", "add", "twin", &format!("--peer-urls={peer}")]),
        None,
    );
    assert_eq!(
        out.stderr.lines().last(),
        Some("Error: etcdserver: Peer URLs already exists")
    );

    // The member is still serving and the earlier write is intact; the refused ones left nothing.
    let out = etcdctl(&ep, &args(&["get", "", "--from-key"]), None);
    assert_eq!(out.stdout, "kept\nv1\n");
}

/// Runs a one-member `etcd` on `dir` and returns what it printed when it stopped.
fn etcd_with_data_dir(dir: &std::path::Path) -> support::Output {
    let mut member = support::OurMember::new("m", &[]);
    member.initial_cluster = format!("m={}", member.peer_url());
    let mut args = member.args();
    let at = args.iter().position(|a| a == "--data-dir").unwrap() + 1;
    args[at] = dir.to_string_lossy().into_owned();
    run(&etcdlab_bin(), &args, &[], None, Duration::from_secs(20))
}

#[test]
fn a_data_dir_that_is_not_ours_is_refused_untouched() {
    let tmp = tempfile::tempdir().unwrap();

    let file = tmp.path().join("a-file");
    std::fs::write(&file, b"precious").unwrap();
    let out = etcd_with_data_dir(&file);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stderr.contains("is not a directory"), "{}", out.stderr);
    assert_eq!(std::fs::read(&file).unwrap(), b"precious");

    let real_etcd = tmp.path().join("real-etcd");
    std::fs::create_dir_all(real_etcd.join("member/wal")).unwrap();
    std::fs::create_dir_all(real_etcd.join("member/snap")).unwrap();
    std::fs::write(real_etcd.join("member/snap/db"), b"bolt").unwrap();
    let out = etcd_with_data_dir(&real_etcd);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("holds a real etcd member"),
        "{}",
        out.stderr
    );
    assert_eq!(
        std::fs::read(real_etcd.join("member/snap/db")).unwrap(),
        b"bolt"
    );

    let damaged = tmp.path().join("damaged");
    std::fs::create_dir_all(damaged.join("member")).unwrap();
    let garbage = vec![0x5au8; 16384];
    std::fs::write(damaged.join("member/etcdlab.redb"), &garbage).unwrap();
    let out = etcd_with_data_dir(&damaged);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("not a usable etcdlab database"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
    assert_eq!(
        std::fs::read(damaged.join("member/etcdlab.redb")).unwrap(),
        garbage
    );
}

#[test]
fn unknown_flags_are_usage_errors() {
    let out = run(
        &etcdlab_bin(),
        &args(&["etcd", "--no-such-flag"]),
        &[],
        None,
        Duration::from_secs(10),
    );
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("--no-such-flag"), "{}", out.stderr);

    let out = run(
        &etcdlab_bin(),
        &args(&["etcd", "--initial-cluster-state", "sideways"]),
        &[],
        None,
        Duration::from_secs(10),
    );
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("--initial-cluster-state"),
        "{}",
        out.stderr
    );

    let out = run(
        &etcdlab_bin(),
        &args(&["no-such-command"]),
        &[],
        None,
        Duration::from_secs(10),
    );
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("unknown command"), "{}", out.stderr);
}
