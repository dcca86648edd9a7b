//! Backup and restore as the course does it: the real `etcdctl snapshot save` against our
//! member, `etcdutl snapshot status|restore` (our binary under that name), a member started on
//! the restored data dir with the data and a new identity; damaged files are refused.

mod support;

use std::time::Duration;

use support::{OurMember, etcdctl, etcdlab_bin, run};

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}

#[test]
fn snapshot_save_status_restore_and_start() {
    let member = OurMember::start_single("source");
    for i in 0..5 {
        assert_eq!(
            etcdctl(
                &member.endpoint(),
                &strings(&["put", &format!("/registry/pods/p{i}"), "spec"]),
                None
            )
            .code,
            0
        );
    }
    // A key's newer value and a deleted key: the file carries history, and the live keys are
    // rebuilt from it when it is opened.
    for words in [
        &["put", "/registry/pods/p1", "respec"][..],
        &["del", "/registry/pods/p4"][..],
    ] {
        assert_eq!(etcdctl(&member.endpoint(), &strings(words), None).code, 0);
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("backup.db");
    let file_arg = file.to_string_lossy().to_string();
    let save = etcdctl(
        &member.endpoint(),
        &strings(&["snapshot", "save", &file_arg]),
        None,
    );
    assert_eq!(
        save.stdout,
        format!("Snapshot saved at {file_arg}\n"),
        "{}",
        save.stderr
    );

    let etcdutl = dir.path().join("etcdutl");
    std::os::unix::fs::symlink(etcdlab_bin(), &etcdutl).unwrap();
    let status = run(
        &etcdutl,
        &strings(&["snapshot", "status", &file_arg, "-w", "table"]),
        &[],
        None,
        Duration::from_secs(20),
    );
    assert_eq!(status.code, 0, "{}", status.stderr);
    let row = status.stdout.lines().nth(3).expect("a table row");
    let cells: Vec<&str> = row.split('|').map(str::trim).collect();
    assert_eq!(
        (cells[2], cells[3]),
        ("8", "4"),
        "revision and key count: {}",
        status.stdout
    );

    // Restore for a new one-member cluster, then start it.
    let mut restored = OurMember::new("restored", &[]);
    restored.initial_cluster = format!("restored={}", restored.peer_url());
    let data_dir = restored.data_dir().to_string_lossy().to_string();
    let peer_url = restored.peer_url();
    let restore = run(
        &etcdutl,
        &strings(&[
            "snapshot",
            "restore",
            &file_arg,
            "--data-dir",
            &data_dir,
            "--name",
            "restored",
            "--initial-cluster",
            &restored.initial_cluster,
            "--initial-advertise-peer-urls",
            &peer_url,
        ]),
        &[],
        None,
        Duration::from_secs(20),
    );
    assert_eq!(restore.code, 0, "{}", restore.stderr);
    let again = run(
        &etcdutl,
        &strings(&["snapshot", "restore", &file_arg, "--data-dir", &data_dir]),
        &[],
        None,
        Duration::from_secs(20),
    );
    assert_eq!(again.code, 1);
    assert!(again.stderr.contains("exists"), "{}", again.stderr);

    restored.launch();
    restored.wait_healthy(Duration::from_secs(30));
    let live = etcdctl(
        &restored.endpoint(),
        &strings(&["get", "/registry", "--prefix"]),
        None,
    );
    assert_eq!(
        live.stdout,
        "/registry/pods/p0\nspec\n/registry/pods/p1\nrespec\n/registry/pods/p2\nspec\n\
         /registry/pods/p3\nspec\n"
    );
    let earlier = etcdctl(
        &restored.endpoint(),
        &strings(&[
            "get",
            "/registry/pods/p4",
            "--rev",
            "7",
            "--print-value-only",
        ]),
        None,
    );
    assert_eq!(
        earlier.stdout, "spec\n",
        "history travels: {}",
        earlier.stderr
    );
    let members = etcdctl(&restored.endpoint(), &strings(&["member", "list"]), None);
    assert_eq!(members.stdout.lines().count(), 1);
    assert!(
        members.stdout.contains(", started, restored, "),
        "{}",
        members.stdout
    );
}

#[test]
fn damaged_snapshot_files_are_refused() {
    let member = OurMember::start_single("source");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("backup.db");
    let file_arg = file.to_string_lossy().to_string();
    assert_eq!(
        etcdctl(
            &member.endpoint(),
            &strings(&["snapshot", "save", &file_arg]),
            None
        )
        .code,
        0
    );
    let mut bytes = std::fs::read(&file).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&file, &bytes).unwrap();
    let target = dir.path().join("restored");
    let out = run(
        &etcdlab_bin(),
        &strings(&[
            "utl",
            "snapshot",
            "restore",
            &file_arg,
            "--data-dir",
            &target.to_string_lossy(),
        ]),
        &[],
        None,
        Duration::from_secs(20),
    );
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("integrity check failed"),
        "{}",
        out.stderr
    );
    assert!(
        !target.exists(),
        "nothing may be written from a damaged snapshot"
    );
    std::fs::write(
        &file,
        b"not a snapshot at all, just some text that is long enough",
    )
    .unwrap();
    let out = run(
        &etcdlab_bin(),
        &strings(&["utl", "snapshot", "status", &file_arg]),
        &[],
        None,
        Duration::from_secs(20),
    );
    assert_eq!(out.code, 1);
    assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
}
