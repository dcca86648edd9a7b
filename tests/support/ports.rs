//! Loopback ports for the processes a test starts, reserved so that no other test process and
//! no outgoing connection takes them before the process binds them.
//!
//! A port from binding port 0 is one of the kernel's ephemeral ports: once released, any
//! `connect` on the machine may take it as its source port, and the member started on it fails
//! with "address already in use". Ports here come from below the ephemeral range, and each is
//! reserved by a lock on a file in the temp dir, held until this test process exits, so that
//! the test processes running side by side never hand out the same one.

use std::fs::File;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

/// Reserved ports start here (below the usual ephemeral range, above well-known services).
const FIRST: u32 = 10_000;

/// The locks this process holds: one per port it handed out.
static HELD: Mutex<Vec<File>> = Mutex::new(Vec::new());

/// The first port the kernel may pick for an outgoing connection (32768 unless configured).
fn ephemeral_start() -> u32 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|range| range.split_whitespace().next()?.parse().ok())
        .filter(|start| *start > FIRST + 1000)
        .unwrap_or(32_768)
}

/// The directory of the lock files, created once per process.
fn lock_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join("etcdlab-test-ports");
        std::fs::create_dir_all(&dir).expect("creating the port lock dir");
        dir
    })
}

/// Takes `port`'s lock for this process if no other process holds it and the port is free.
fn reserve(port: u32) -> bool {
    let Ok(file) = File::create(lock_dir().join(port.to_string())) else {
        return false;
    };
    if file.try_lock().is_err() {
        return false;
    }
    // Locked now: keep it even if something outside the tests listens there, so it is skipped.
    HELD.lock().unwrap().push(file);
    TcpListener::bind(("127.0.0.1", port as u16)).is_ok()
}

/// Candidate ports below the ephemeral range, starting at a place that differs per process.
fn candidates(span: u32) -> impl Iterator<Item = u32> {
    // A span too wide to fit below the ephemeral range reaches into it (the locks still hold).
    let count = ephemeral_start().saturating_sub(span + FIRST).max(1000);
    let start = std::process::id().wrapping_mul(7919) % count;
    (0..count).map(move |i| FIRST + (start + i) % count)
}

/// A free port on 127.0.0.1, reserved for this test process.
pub fn free_port() -> u16 {
    candidates(0)
        .find(|p| reserve(*p))
        .expect("no free loopback port left below the ephemeral range") as u16
}

/// A lab's `--base-port` for `size` members: the client port `p` and the peer port `p+1` of
/// each member (`p`, `p+10000`, ...) are free and reserved for this process.
pub fn free_lab_base(size: u16) -> u16 {
    let span = 10_000 * u32::from(size.max(1) - 1) + 1;
    let ports = |base: u32| {
        (0..u32::from(size)).flat_map(move |i| [base + 10_000 * i, base + 10_000 * i + 1])
    };
    candidates(span)
        .find(|base| ports(*base).all(reserve))
        .unwrap_or_else(|| panic!("no free ports for a lab of {size}")) as u16
}
