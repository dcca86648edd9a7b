//! How fast the simulator runs a cluster, natively (`etcdlab demo --bench`) and in the page
//! (`?demo&bench=5`): a steady replication workload — the members elect a leader, then a
//! client puts a new key to any member every [`PUT_EVERY_MS`] of virtual time — played by a
//! [`Player`] with events recorded and no safety checks, as the demo plays its scenarios.
//!
//! The core reads no clock: the host passes its own (`Instant` natively, `performance.now()`
//! in the page) to [`run`], and both print the same [`BenchReport`] line.

use std::fmt;

use super::SimConfig;
use super::player::Player;
use super::scenario::{Action, Scenario};

/// Virtual time between two puts of the workload.
pub const PUT_EVERY_MS: u64 = 100;
/// Virtual time for the first election, before the first put.
const ELECT_MS: u64 = 3_000;
/// The largest cluster benchmarked (the lab's largest too).
pub const MAX_MEMBERS: usize = 7;
/// The longest run, in virtual seconds.
pub const MAX_SECONDS: u64 = 3_600;
/// Virtual time run between two collections of events (so a long run does not keep them all).
const SLICE_MS: u64 = 1_000;

/// What to benchmark: a cluster size, a virtual duration and a seed.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BenchParams {
    pub members: usize,
    pub seconds: u64,
    pub seed: u64,
}

impl BenchParams {
    /// Checked parameters: 1 to [`MAX_MEMBERS`] members, 1 to [`MAX_SECONDS`] seconds.
    pub fn new(members: usize, seconds: u64, seed: u64) -> Result<BenchParams, String> {
        if !(1..=MAX_MEMBERS).contains(&members) {
            return Err(format!(
                "a benchmark runs 1 to {MAX_MEMBERS} members, not {members}"
            ));
        }
        if !(1..=MAX_SECONDS).contains(&seconds) {
            return Err(format!(
                "a benchmark runs 1 to {MAX_SECONDS} virtual seconds, not {seconds}"
            ));
        }
        Ok(BenchParams {
            members,
            seconds,
            seed,
        })
    }

    /// The same from text (a URL's parameters): a missing one takes its default.
    pub fn parse(
        members: &str,
        seconds: Option<&str>,
        seed: Option<&str>,
    ) -> Result<BenchParams, String> {
        let number = |what: &str, text: &str| {
            text.trim()
                .parse::<u64>()
                .map_err(|_| format!("the benchmark's {what} must be a whole number, not {text:?}"))
        };
        let members = number("member count", members)?;
        let seconds = seconds.map_or(Ok(DEFAULT_SECONDS), |s| number("seconds", s))?;
        let seed = seed.map_or(Ok(DEFAULT_SEED), |s| number("seed", s))?;
        BenchParams::new(
            usize::try_from(members).unwrap_or(usize::MAX),
            seconds,
            seed,
        )
    }

    /// The workload as a scenario: an election, then a put every [`PUT_EVERY_MS`] until the
    /// end (the page's demo can show it as it shows any scenario).
    pub fn scenario(&self) -> Scenario {
        let end_ms = self.seconds * 1_000;
        let mut steps = vec![Action::Wait {
            ms: ELECT_MS.min(end_ms),
        }];
        let puts = end_ms.saturating_sub(ELECT_MS) / PUT_EVERY_MS;
        for i in 0..puts {
            steps.push(Action::Put {
                key: format!("k{i}"),
                value: format!("v{i}"),
                member: None,
            });
            steps.push(Action::Wait { ms: PUT_EVERY_MS });
        }
        Scenario {
            name: format!("bench_{}", self.members),
            description: format!(
                "Benchmark: {} members, a put every {PUT_EVERY_MS} ms.",
                self.members
            ),
            config: SimConfig {
                members: self.members,
                check_invariants: false,
                ..SimConfig::default()
            },
            steps,
        }
    }
}

/// Virtual seconds a benchmark runs when not told.
pub const DEFAULT_SECONDS: u64 = 60;
/// The benchmark's seed when not told.
pub const DEFAULT_SEED: u64 = 1;

/// The outcome of a run: virtual time covered, wall time taken, events recorded.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BenchReport {
    pub members: usize,
    pub sim_ms: u64,
    pub wall_ms: f64,
    pub events: u64,
}

impl BenchReport {
    /// Virtual time per wall time: 10 means ten times faster than real time.
    pub fn speedup(&self) -> f64 {
        self.sim_ms as f64 / self.wall_ms.max(f64::MIN_POSITIVE)
    }

    /// Events recorded per wall-clock second.
    pub fn events_per_second(&self) -> f64 {
        self.events as f64 * 1_000.0 / self.wall_ms.max(f64::MIN_POSITIVE)
    }
}

/// One line of `name=value` fields, the same natively and in the page.
impl fmt::Display for BenchReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "members={} sim_s={:.1} wall_s={:.3} speedup={:.1} events={} events_per_s={:.0}",
            self.members,
            self.sim_ms as f64 / 1_000.0,
            self.wall_ms / 1_000.0,
            self.speedup(),
            self.events,
            self.events_per_second(),
        )
    }
}

/// Runs the workload of `params` as fast as it goes; `now_ms` is the host's clock in
/// milliseconds (any origin).
pub fn run(params: BenchParams, mut now_ms: impl FnMut() -> f64) -> BenchReport {
    let mut player = Player::new(&params.scenario(), params.seed);
    let end_ms = params.seconds * 1_000;
    let mut events = 0;
    let started = now_ms();
    while player.sim().now_ms() < end_ms {
        let next = (player.sim().now_ms() + SLICE_MS).min(end_ms);
        player.run_to(next);
        let sim = player.sim_mut();
        events += sim.take_events().len() as u64;
        sim.take_results();
    }
    BenchReport {
        members: params.members,
        sim_ms: end_ms,
        wall_ms: now_ms() - started,
        events,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::{Outcome, scenario};

    #[test]
    fn parameters_are_checked_with_clear_errors() {
        assert_eq!(
            BenchParams::parse("5", None, None).unwrap(),
            BenchParams {
                members: 5,
                seconds: DEFAULT_SECONDS,
                seed: DEFAULT_SEED
            }
        );
        for (members, seconds, error) in [
            ("0", None, "1 to 7 members"),
            ("8", None, "1 to 7 members"),
            ("99999999999999999999", None, "whole number"),
            ("five", None, "whole number"),
            ("3", Some("0"), "virtual seconds"),
            ("3", Some("-1"), "whole number"),
        ] {
            let e = BenchParams::parse(members, seconds, None).unwrap_err();
            assert!(e.contains(error), "{members} {seconds:?}: {e}");
        }
        assert!(scenario::named("bench_5", 1).is_err());
    }

    #[test]
    fn a_run_covers_its_virtual_time_and_writes_steadily() {
        let params = BenchParams::new(3, 5, 2).unwrap();
        let mut clock = 0.0;
        let report = run(params, || {
            clock += 250.0;
            clock
        });
        assert_eq!(report.sim_ms, 5_000);
        assert_eq!(report.wall_ms, 250.0);
        assert!(report.events > 100, "{report}");
        assert_eq!(report.speedup(), 20.0);
        let line = report.to_string();
        assert!(line.starts_with("members=3 sim_s=5.0 wall_s=0.250 speedup=20.0 events="));

        // The same run with the safety checks the benchmark leaves out: it is a safe one.
        let mut checked = params.scenario();
        checked.config.check_invariants = true;
        let mut player = Player::new(&checked, 2);
        player.run_to(5_000);
        let done = player.sim_mut().take_results();
        assert!(done.len() >= 18, "a put every 100 ms after 3 s: {done:?}");
        assert!(
            done.iter().all(|(_, outcome)| *outcome == Outcome::Done),
            "{done:?}"
        );
        assert!(player.sim().violation().is_none());
    }
}
