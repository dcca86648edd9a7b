//! The simulator's side of [`crate::sim_protocol`], in the Web Worker (`etcdlab-sim`): it
//! owns the run — a [`Demo`] — and turns each message from the page into the demo's work and
//! the answers to post back.
//!
//! Bench mode (`?demo&bench=5`, optionally `&seconds=60&seed=1`) times the core's simulator on
//! the workload of `etcdlab demo --bench` (`etcdlab_core::sim::bench`: a steady replication
//! workload, events recorded, nothing drawn) with the worker's clock and reports the same
//! one-line report; then the run plays that workload as a demo, so a script
//! (`bench/demo-sim`) can also measure what the page sustains while it animates.

use etcdlab_core::sim::bench::{self, BenchParams};

use crate::demo::Demo;
use crate::sim_protocol::{FromSimulator, RunKind, ToSimulator};

/// The worker's state: the run under way, if one was started.
pub struct SimHost {
    clock: Box<dyn FnMut() -> f64>,
    run: u64,
    demo: Option<Demo>,
}

impl SimHost {
    /// A host timing benchmarks with `clock` (milliseconds, any origin).
    pub fn new(clock: Box<dyn FnMut() -> f64>) -> SimHost {
        SimHost {
            clock,
            run: 0,
            demo: None,
        }
    }

    /// Carries out `message`, posting its answers through `post` as they are ready (a
    /// benchmark's start is posted before the benchmark holds the worker).
    pub fn handle(&mut self, message: ToSimulator, post: &mut dyn FnMut(FromSimulator)) {
        match message {
            ToSimulator::Start { run, kind } => self.start(run, kind, post),
            ToSimulator::Reset { run } => {
                let Some(demo) = &self.demo else {
                    return post(not_started());
                };
                let fresh = Demo::new(demo.seed, &demo.scenario);
                self.begin(run, fresh, post);
            }
            ToSimulator::Advance { clock_ms } => {
                let Some(demo) = &mut self.demo else {
                    return post(not_started());
                };
                let events = demo.run_to(clock_ms);
                post(FromSimulator::Advanced {
                    run: self.run,
                    now_ms: demo.now_ms(),
                    events,
                    lines: demo.take_lines(),
                    digest: demo.digest(),
                    cluster: demo.cluster(),
                });
            }
            ToSimulator::Request { path, body } => {
                let Some(demo) = &mut self.demo else {
                    return post(not_started());
                };
                let lines = demo.request(&path, body.as_ref());
                post(FromSimulator::Answered {
                    run: self.run,
                    lines,
                    cluster: demo.cluster(),
                });
            }
        }
    }

    fn start(&mut self, run: u64, kind: RunKind, post: &mut dyn FnMut(FromSimulator)) {
        match kind {
            RunKind::Demo { seed, scenario } => self.begin(run, Demo::new(seed, &scenario), post),
            RunKind::Bench {
                members,
                seconds,
                seed,
            } => match BenchParams::new(members, seconds, seed) {
                Ok(params) => {
                    self.begin(run, Demo::play(&params.scenario(), params.seed), post);
                    let report = bench::run(params, &mut self.clock);
                    post(FromSimulator::Bench {
                        run,
                        report: report.to_string(),
                    });
                }
                Err(error) => post(FromSimulator::Failed { error }),
            },
        }
    }

    fn begin(&mut self, run: u64, demo: Demo, post: &mut dyn FnMut(FromSimulator)) {
        post(FromSimulator::Started {
            run,
            seed: demo.seed,
            scenario: demo.scenario.clone(),
        });
        self.run = run;
        self.demo = Some(demo);
    }
}

fn not_started() -> FromSimulator {
    FromSimulator::Failed {
        error: "no simulated run was started".into(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// Everything `host` posts for `message`.
    fn answers(host: &mut SimHost, message: ToSimulator) -> Vec<FromSimulator> {
        let mut posted = Vec::new();
        host.handle(message, &mut |m| posted.push(m));
        posted
    }

    fn ticking_clock() -> Box<dyn FnMut() -> f64> {
        let mut now = 0.0;
        Box::new(move || {
            now += 500.0;
            now
        })
    }

    fn advanced(answer: &FromSimulator) -> (u64, f64, usize) {
        match answer {
            FromSimulator::Advanced {
                run,
                now_ms,
                events,
                ..
            } => (*run, *now_ms, events.len()),
            other => panic!("not an advance: {other:?}"),
        }
    }

    #[test]
    fn a_run_starts_advances_and_answers_requests() {
        let mut host = SimHost::new(ticking_clock());
        assert_eq!(
            answers(&mut host, ToSimulator::Advance { clock_ms: 10.0 }),
            [not_started()]
        );
        let start = ToSimulator::Start {
            run: 1,
            kind: RunKind::Demo {
                seed: 3,
                scenario: "no-such-thing".into(),
            },
        };
        assert_eq!(
            answers(&mut host, start),
            [FromSimulator::Started {
                run: 1,
                seed: 3,
                scenario: "normal_replication".into()
            }]
        );
        let moved = answers(&mut host, ToSimulator::Advance { clock_ms: 2_000.0 });
        let (run, now_ms, events) = advanced(&moved[0]);
        assert_eq!((run, now_ms), (1, 2_000.0));
        assert!(events > 0);
        let FromSimulator::Advanced { lines, cluster, .. } = &moved[0] else {
            unreachable!()
        };
        assert!(lines.iter().any(|l| l.contains("no scenario")), "{lines:?}");
        assert_eq!(cluster["members"].as_array().map(Vec::len), Some(3));

        let freeze = ToSimulator::Request {
            path: "/api/freeze".into(),
            body: None,
        };
        let answered = answers(&mut host, freeze);
        assert!(
            matches!(&answered[..], [FromSimulator::Answered { run: 1, lines, .. }] if lines == &["OK"])
        );
        let still = answers(&mut host, ToSimulator::Advance { clock_ms: 5_000.0 });
        assert_eq!(advanced(&still[0]), (1, 2_000.0, 0), "frozen");
    }

    #[test]
    fn a_reset_is_a_fresh_run_of_the_same_seed_and_scenario() {
        let mut host = SimHost::new(ticking_clock());
        let demo = RunKind::Demo {
            seed: 7,
            scenario: "leader_crash".into(),
        };
        answers(&mut host, ToSimulator::Start { run: 1, kind: demo });
        let first = answers(&mut host, ToSimulator::Advance { clock_ms: 3_000.0 });
        let kill = json!({"kill": "m1"});
        answers(
            &mut host,
            ToSimulator::Request {
                path: "/api/faults".into(),
                body: Some(kill),
            },
        );
        answers(&mut host, ToSimulator::Advance { clock_ms: 6_000.0 });

        assert_eq!(
            answers(&mut host, ToSimulator::Reset { run: 2 }),
            [FromSimulator::Started {
                run: 2,
                seed: 7,
                scenario: "leader_crash".into()
            }]
        );
        let again = answers(&mut host, ToSimulator::Advance { clock_ms: 3_000.0 });
        let (FromSimulator::Advanced { events: a, .. }, FromSimulator::Advanced { events: b, .. }) =
            (&first[0], &again[0])
        else {
            unreachable!()
        };
        assert_eq!(a, b, "the fresh run replays the first 3 s exactly");
        assert_eq!(advanced(&again[0]).0, 2);
    }

    #[test]
    fn bench_mode_reports_then_plays_the_workload() {
        let mut host = SimHost::new(ticking_clock());
        let bench = RunKind::Bench {
            members: 3,
            seconds: 2,
            seed: 1,
        };
        let posted = answers(
            &mut host,
            ToSimulator::Start {
                run: 1,
                kind: bench,
            },
        );
        assert!(
            matches!(&posted[0], FromSimulator::Started { run: 1, scenario, .. } if scenario == "bench_3")
        );
        let FromSimulator::Bench { run: 1, report } = &posted[1] else {
            panic!("no report: {posted:?}");
        };
        assert!(
            report.starts_with("members=3 sim_s=2.0 wall_s=0.500"),
            "{report}"
        );

        let too_big = RunKind::Bench {
            members: 9,
            seconds: 2,
            seed: 1,
        };
        let refused = answers(
            &mut host,
            ToSimulator::Start {
                run: 2,
                kind: too_big,
            },
        );
        assert!(
            matches!(&refused[..], [FromSimulator::Failed { error }] if error.contains("1 to 7 members"))
        );
    }
}
