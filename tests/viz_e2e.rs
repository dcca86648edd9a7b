//! The visualizer end to end, in real headless Chromium (Debian's `chromium`, driven by
//! `tests/e2e/viz.mjs` through playwright-core): a three-member lab, its page showing one
//! leader; the leader killed from the page and a new one with a higher term; a put typed into
//! the page's terminal committed in every live member's log; the killed member restarted
//! from the page and caught up; a link cut and mended by clicking it. Screenshots of each
//! stage are kept in
//! `target/e2e-artifacts/viz/`.
//!
//! And the demo (`tests/e2e/demo.mjs`): `etcdlab demo --export` served by Python's plain
//! `http.server` from a sub-folder, no lab anywhere; the page simulates a cluster, a leader is
//! killed from it, the terminal answers; seeded runs (a crash, random faults, membership
//! changes) digested in the page equal the native digests (`etcdlab demo --digest`): wasm and
//! native run the simulator identically. The page's bench mode (`?demo&bench=3`) simulates the
//! same events as `etcdlab demo --bench` (only the count and the virtual time are compared:
//! speed is a benchmark, never a test). The simulator runs in a Web Worker: the same export
//! without the worker's script shows a clear error instead of waiting.
//! Screenshots in `target/e2e-artifacts/demo/`.
//!
//! And the lesson panel (`tests/e2e/lesson.mjs`): lesson 5 (leader election) done through the
//! page on a three-member lab, each step's goal seen met and the panel moving on; the language
//! switch kept in the URL, presenter mode, an unknown lesson, instructor mode (a step's
//! scenario run again, the lesson reset) on the lab and in demo mode.
//! Screenshots in `target/e2e-artifacts/lesson/`.

mod support;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use support::{Lab, Process, etcdlab_bin, run};

#[test]
fn the_page_shows_and_drives_a_live_lab() {
    let root = e2e_root();
    let script = root.join("tests/e2e/viz.mjs");
    let artifacts = root.join("target/e2e-artifacts/viz");
    let lab = Lab::start(3, &[]);
    let out = Command::new("node")
        .arg(&script)
        .arg(format!("http://{}/", lab.addr))
        .arg(&artifacts)
        .output()
        .expect("running node (Debian's nodejs)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    for stage in [
        "1-leader",
        "2-new-leader",
        "3-put-committed",
        "4-caught-up",
        "5-link-cut",
    ] {
        assert!(
            artifacts.join(format!("{stage}.png")).exists(),
            "{stage} screenshot"
        );
    }
}

#[test]
fn the_lesson_panel_walks_through_leader_election() {
    let root = e2e_root();
    let artifacts = root.join("target/e2e-artifacts/lesson");
    let lab = Lab::start(3, &[]);
    let out = run(
        &PathBuf::from("node"),
        &[
            root.join("tests/e2e/lesson.mjs").display().to_string(),
            format!("http://{}/", lab.addr),
            artifacts.display().to_string(),
        ],
        &[],
        None,
        Duration::from_secs(240),
    );
    assert!(out.code == 0, "{}\n{}", out.stdout, out.stderr);
    print!("{}", out.stdout);
    for stage in [
        "1-lesson-step1",
        "2-lesson-leader-killed",
        "3-lesson-put",
        "4-lesson-complete",
        "5-lesson-korean-presenter",
        "6-lesson-instructor",
        "7-lesson-demo",
    ] {
        assert!(
            artifacts.join(format!("{stage}.png")).exists(),
            "{stage} screenshot"
        );
    }
}

/// The project's root, once playwright-core is known to be installed.
fn e2e_root() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    assert!(
        root.join("tests/e2e/node_modules/playwright-core").exists(),
        "playwright-core is missing: run scripts/ensure-tools --all (it runs npm ci in tests/e2e)"
    );
    root
}

#[test]
fn the_exported_demo_runs_a_simulated_cluster_from_a_plain_file_server() {
    let root = e2e_root();
    let sites = tempfile::tempdir().unwrap();
    let site = sites.path().join("etcdlab");
    let export = run(
        &etcdlab_bin(),
        &["demo".into(), "--export".into(), site.display().to_string()],
        &[],
        None,
        Duration::from_secs(30),
    );
    assert_eq!(export.code, 0, "{}{}", export.stdout, export.stderr);
    let broken = sites.path().join("no-worker");
    std::fs::create_dir(&broken).unwrap();
    for entry in std::fs::read_dir(&site).unwrap() {
        let path = entry.unwrap().path();
        if path
            .file_name()
            .is_some_and(|n| n != "etcdlab-sim_loader.js")
        {
            std::fs::copy(&path, broken.join(path.file_name().unwrap())).unwrap();
        }
    }
    // Runs the page replays, each with its digest computed natively: a crash, random faults,
    // membership changes.
    let runs: Vec<serde_json::Value> = [
        (42, "leader-crash"),
        (7, "random"),
        (3, "member-add-remove"),
    ]
    .into_iter()
    .map(|(seed, scenario)| {
        let args = [
            "demo",
            "--digest",
            "--seed",
            &seed.to_string(),
            "--scenario",
            scenario,
        ];
        let digest = run(
            &etcdlab_bin(),
            &args.map(String::from),
            &[],
            None,
            Duration::from_secs(60),
        );
        assert_eq!(digest.code, 0, "{}", digest.stderr);
        serde_json::json!({ "seed": seed, "scenario": scenario, "digest": digest.stdout.trim() })
    })
    .collect();

    let bench = run(
        &etcdlab_bin(),
        &["demo", "--bench", "--members", "3", "--seconds", "5"].map(String::from),
        &[],
        None,
        Duration::from_secs(60),
    );
    assert_eq!(bench.code, 0, "{}", bench.stderr);

    let (server, port) = serve_folder(sites.path());
    let artifacts = root.join("target/e2e-artifacts/demo");
    let out = run(
        &PathBuf::from("node"),
        &[
            root.join("tests/e2e/demo.mjs").display().to_string(),
            format!("http://127.0.0.1:{port}/etcdlab/"),
            artifacts.display().to_string(),
            serde_json::Value::from(runs).to_string(),
            bench.stdout.trim().to_string(),
            format!("http://127.0.0.1:{port}/no-worker/"),
        ],
        &[],
        None,
        Duration::from_secs(120),
    );
    drop(server);
    assert!(out.code == 0, "{}\n{}", out.stdout, out.stderr);
    print!("{}", out.stdout);
    for stage in [
        "1-demo-leader",
        "2-demo-new-leader",
        "3-demo-terminal",
        "4-demo-digest-member-add-remove",
        "5-demo-bench",
        "6-demo-no-worker",
    ] {
        assert!(
            artifacts.join(format!("{stage}.png")).exists(),
            "{stage} screenshot"
        );
    }
}

/// Python's `http.server` serving `dir` on a free port of 127.0.0.1 (killed on drop).
fn serve_folder(dir: &std::path::Path) -> (Process, u16) {
    let mut child = Command::new("python3")
        .args([
            "-u",
            "-m",
            "http.server",
            "0",
            "--bind",
            "127.0.0.1",
            "--directory",
        ])
        .arg(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("running python3 -m http.server");
    let stdout = child.stdout.take().unwrap();
    let server = Process { child };
    // "Serving HTTP on 127.0.0.1 port 41234 (http://127.0.0.1:41234/) ..."
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("http.server says where it listens within 10 s");
    let port = line
        .split_whitespace()
        .skip_while(|w| *w != "port")
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no port in {line:?}"));
    (server, port)
}
