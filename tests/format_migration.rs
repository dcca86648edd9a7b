//! Storage format 1 → 2: a data dir and a snapshot file written by the real format-1 etcdlab
//! (tests/fixtures/fmt1, made by scripts/make-fmt1-fixture) are converted and read back in
//! full with the real etcdctl; a converted member restarts without converting again; a data
//! dir of a newer format is refused with a clear error and left as it was.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use support::{Output, Process, etcdctl, etcdlab_bin, free_port, run, wait_for};

/// The fixture member's identity: its id is derived from this peer URL, so it must be
/// advertised again (the member listens on a free port instead).
const NAME: &str = "fmt1";
const PEER_URL: &str = "http://127.0.0.1:23801";
const ROOT: &str = "--user=root:rootpw";

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/fmt1")
}

fn lease_id() -> String {
    std::fs::read_to_string(fixtures().join("lease-id"))
        .unwrap()
        .trim()
        .to_string()
}

fn args(words: &[&str]) -> Vec<String> {
    words.iter().map(|s| s.to_string()).collect()
}

/// Unpacks the format-1 data dir into `dir/data`.
fn unpack_data_dir(dir: &Path) -> PathBuf {
    let status = Command::new("tar")
        .arg("-xzf")
        .arg(fixtures().join("data.tar.gz"))
        .arg("-C")
        .arg(dir)
        .status()
        .unwrap();
    assert!(status.success());
    dir.join("data")
}

/// One run of a member on `data_dir`, its output in `log`.
struct Run {
    _process: Process,
    endpoint: String,
    log: PathBuf,
}

fn start(name: &str, peer_url: &str, data_dir: &Path, log: PathBuf) -> Run {
    let client = format!("http://127.0.0.1:{}", free_port());
    let listen_peer = format!("http://127.0.0.1:{}", free_port());
    let out = std::fs::File::create(&log).unwrap();
    let child = Command::new(etcdlab_bin())
        .args(["etcd", "--name", name, "--data-dir"])
        .arg(data_dir)
        .args([
            "--listen-client-urls",
            &client,
            "--advertise-client-urls",
            &client,
        ])
        .args(["--listen-peer-urls", &listen_peer])
        .args(["--initial-advertise-peer-urls", peer_url])
        .args(["--initial-cluster", &format!("{name}={peer_url}")])
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .unwrap();
    let run = Run {
        _process: Process { child },
        endpoint: client.trim_start_matches("http://").to_string(),
        log,
    };
    wait_for("the member answers", Duration::from_secs(30), || {
        let out = run.ctl(&[ROOT, "get", "a"]);
        match out.code {
            0 => Ok(()),
            _ => Err(format!("{}{}", out.stderr, run.log())),
        }
    });
    run
}

impl Run {
    fn ctl(&self, words: &[&str]) -> Output {
        let mut all = args(&["--command-timeout=5s"]);
        all.extend(args(words));
        etcdctl(&self.endpoint, &all, None)
    }

    /// What the command printed, asserting it succeeded.
    fn ok(&self, words: &[&str]) -> String {
        let out = self.ctl(words);
        assert_eq!(out.code, 0, "{words:?}: {}", out.stderr);
        out.stdout
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

/// The key space the fixture's member wrote: a at revisions 2, 3 and 5, b at 4 (deleted at 6),
/// c at 7, "leased" at 8 with the lease, compacted at 3, revision 10 after the quota test.
fn check_key_space(run: &Run, auth: &[&str]) {
    let with = |words: &[&str]| run.ok(&[auth, words].concat());
    let all = json(&with(&["get", "", "--prefix", "-w", "json"]));
    assert_eq!(all["header"]["revision"], 10, "{all}");
    let kvs = all["kvs"].as_array().unwrap();
    let keys: Vec<&str> = kvs.iter().map(|kv| kv["key"].as_str().unwrap()).collect();
    // base64 of a, c, leased.
    assert_eq!(keys, ["YQ==", "Yw==", "bGVhc2Vk"], "{all}");
    assert_eq!(
        (
            &kvs[0]["create_revision"],
            &kvs[0]["mod_revision"],
            &kvs[0]["version"]
        ),
        (&2.into(), &5.into(), &3.into())
    );
    assert_eq!(
        format!("{:x}", kvs[2]["lease"].as_i64().unwrap()),
        lease_id()
    );
    assert_eq!(with(&["get", "a", "--rev", "3"]), "a\nv2\n");
    assert_eq!(with(&["get", "b", "--rev", "4"]), "b\nb1\n");
    assert_eq!(with(&["get", "b", "--rev", "6"]), "");
    let compacted = run.ctl(&[auth, &["get", "a", "--rev", "2"]].concat());
    assert!(
        compacted
            .stderr
            .contains("required revision has been compacted"),
        "{}",
        compacted.stderr
    );
    let ttl = with(&["lease", "timetolive", &lease_id(), "--keys"]);
    assert!(
        ttl.contains("granted with TTL(3600s)") && ttl.contains("attached keys([leased])"),
        "{ttl}"
    );
}

#[test]
fn a_format_1_data_dir_is_converted_once_and_keeps_everything() {
    let dir = tempfile::tempdir().unwrap();
    let data = unpack_data_dir(dir.path());
    let first = start(NAME, PEER_URL, &data, dir.path().join("first.log"));
    assert!(
        first.log().contains("from storage format 1 to 2"),
        "{}",
        first.log()
    );
    check_key_space(&first, &[ROOT]);

    // Auth: enabled, root and alice with the role reader (read a, readwrite dir/).
    let anonymous = first.ctl(&["get", "a"]);
    assert!(
        anonymous.stderr.contains("user name is empty"),
        "{}",
        anonymous.stderr
    );
    assert_eq!(first.ok(&["--user=alice:alicepw", "get", "a"]), "a\nv3\n");
    let denied = first.ctl(&["--user=alice:alicepw", "get", "c"]);
    assert!(
        denied.stderr.contains("permission denied"),
        "{}",
        denied.stderr
    );
    assert_eq!(first.ok(&[ROOT, "user", "list"]), "alice\nroot\n");
    assert_eq!(
        first.ok(&[ROOT, "role", "get", "reader"]),
        "Role reader\nKV Read:\n\ta\n\t[dir/, dir0) (prefix dir/)\nKV Write:\n\t[dir/, dir0) (prefix dir/)\n"
    );

    // The one member, the NOSPACE alarm the fixture raised.
    let members = first.ok(&[ROOT, "member", "list"]);
    assert!(
        members.lines().count() == 1
            && members.contains(&format!(", started, {NAME}, {PEER_URL}, ")),
        "{members}"
    );
    assert!(
        first.ok(&[ROOT, "alarm", "list"]).contains("alarm:NOSPACE"),
        "the alarm survived"
    );

    // The converted member takes writes: revision 11.
    first.ok(&[ROOT, "alarm", "disarm"]);
    assert_eq!(first.ok(&[ROOT, "put", "a", "v4"]), "OK\n");
    drop(first);

    let second = start(NAME, PEER_URL, &data, dir.path().join("second.log"));
    assert!(
        !second.log().contains("storage format"),
        "converted twice: {}",
        second.log()
    );
    let a = json(&second.ok(&[ROOT, "get", "a", "-w", "json"]));
    assert_eq!(a["header"]["revision"], 11, "{a}");
    assert_eq!(second.ok(&[ROOT, "get", "a", "--rev", "3"]), "a\nv2\n");
    assert_eq!(second.ok(&[ROOT, "alarm", "list"]), "");
    assert_eq!(second.ok(&["--user=alice:alicepw", "get", "a"]), "a\nv4\n");
}

#[test]
fn a_format_1_snapshot_file_reports_its_status_and_restores() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("fmt1.snapshot");
    let unpacked = Command::new("gzip")
        .arg("-dc")
        .arg(fixtures().join("snapshot.db.gz"))
        .output()
        .unwrap();
    assert!(unpacked.status.success());
    std::fs::write(&file, &unpacked.stdout).unwrap();
    let before = std::fs::read(&file).unwrap();

    let tool = |words: &[&str]| {
        let out = run(
            &etcdlab_bin(),
            &args(words),
            &[],
            None,
            Duration::from_secs(30),
        );
        assert_eq!(out.code, 0, "{words:?}: {}", out.stderr);
        out.stdout
    };
    let file_arg = file.to_str().unwrap();
    let status = json(&tool(&[
        "utl", "snapshot", "status", file_arg, "-w", "json",
    ]));
    assert_eq!(
        (&status["revision"], &status["totalKey"]),
        (&10.into(), &3.into()),
        "{status}"
    );
    // The etcdctl-compatible path reads it too.
    let status = tool(&["ctl", "snapshot", "status", file_arg]);
    assert!(status.contains(", 10, 3, "), "{status}");
    assert_eq!(
        std::fs::read(&file).unwrap(),
        before,
        "the file is not changed"
    );

    let peer = format!("http://127.0.0.1:{}", free_port());
    let data = dir.path().join("restored");
    tool(&[
        "ctl",
        "snapshot",
        "restore",
        file_arg,
        "--data-dir",
        data.to_str().unwrap(),
        "--name",
        "r1",
        "--initial-cluster",
        &format!("r1={peer}"),
        "--initial-advertise-peer-urls",
        &peer,
    ]);
    let restored = start("r1", &peer, &data, dir.path().join("restored.log"));
    // A snapshot carries the key space and leases, not auth: no user needed.
    check_key_space(&restored, &[]);
}

#[test]
fn a_data_dir_of_a_newer_format_is_refused_clearly() {
    let mut member = support::OurMember::new("new", &[]);
    member.initial_cluster = format!("new={}", member.peer_url());
    let data = member.data_dir();
    std::fs::create_dir_all(data.join("member")).unwrap();
    let format: redb::TableDefinition<&[u8], &[u8]> = redb::TableDefinition::new("etcdlab_format");
    {
        let db = redb::Database::create(data.join("member/etcdlab.redb")).unwrap();
        let txn = db.begin_write().unwrap();
        txn.open_table(format)
            .unwrap()
            .insert(&b"format"[..], &4u64.to_be_bytes()[..])
            .unwrap();
        txn.commit().unwrap();
    }
    let out = run(
        &etcdlab_bin(),
        &member.args(),
        &[],
        None,
        Duration::from_secs(30),
    );
    assert_ne!(out.code, 0, "{}", out.stdout);
    assert_ne!(out.code, -1, "it did not exit: {}", out.stdout);
    let said = format!("{}{}", out.stdout, out.stderr);
    assert!(
        said.contains("storage format 4, written by a newer etcdlab"),
        "{said}"
    );
    // Left as it was: only the format table, still saying 4.
    let db = redb::Database::open(data.join("member/etcdlab.redb")).unwrap();
    let txn = redb::ReadableDatabase::begin_read(&db).unwrap();
    let tables: Vec<String> = txn
        .list_tables()
        .unwrap()
        .map(|t| redb::TableHandle::name(&t).to_string())
        .collect();
    assert_eq!(tables, ["etcdlab_format"]);
    let stored = txn
        .open_table(format)
        .unwrap()
        .get(&b"format"[..])
        .unwrap()
        .map(|v| v.value().to_vec());
    assert_eq!(stored, Some(4u64.to_be_bytes().to_vec()));
}
