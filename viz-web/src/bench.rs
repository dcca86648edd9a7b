//! Bench mode, `?demo&bench=5` (optionally `&seconds=60&seed=1`): the page times the core's
//! simulator on the benchmark workload of `etcdlab demo --bench` (`etcdlab_core::sim::bench`:
//! a steady replication workload, events recorded, nothing drawn) with the browser's clock,
//! and shows the same one-line report in its `data-sim-bench` attribute and in the terminal.
//! Then the page plays that workload as a demo at its fastest playback speed, so a script
//! (`bench/demo-sim`) can also measure what the page sustains while it animates.

use etcdlab_core::sim::bench::{self, BenchParams, BenchReport};

/// The playback speed of the animated part: the fastest the page offers.
pub const ANIMATED_SPEED: f64 = 4.0;

/// Runs the benchmark as fast as the page can, timed by `performance.now()`.
pub fn run(params: BenchParams) -> BenchReport {
    let performance = web_sys::window().and_then(|w| w.performance());
    bench::run(params, || match &performance {
        Some(p) => p.now(),
        None => js_sys::Date::now(),
    })
}
