//! The visualizer end to end, in real headless Chromium (Debian's `chromium`, driven by
//! `tests/e2e/viz.mjs` through playwright-core): a three-member lab, its page showing one
//! leader; the leader killed from the page and a new one with a higher term; a put typed into
//! the page's terminal committed in every live member's log; the killed member restarted
//! from the page and caught up; a link cut and mended by clicking it. Screenshots of each
//! stage are kept in
//! `target/e2e-artifacts/viz/`.

mod support;

use std::path::PathBuf;
use std::process::Command;

use support::Lab;

#[test]
fn the_page_shows_and_drives_a_live_lab() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let script = root.join("tests/e2e/viz.mjs");
    assert!(
        root.join("tests/e2e/node_modules/playwright-core").exists(),
        "playwright-core is missing: run scripts/ensure-tools --all (it runs npm ci in tests/e2e)"
    );
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
