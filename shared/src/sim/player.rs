//! A [`Scenario`] played against a clock, a slice of virtual time at a time: what the browser's
//! demo does on every animation frame and what a native run does in one go. A wait step uses
//! up virtual time; every other step happens at the moment the steps before it end. Once the
//! steps are done the cluster simply runs on.
//!
//! Splitting time differently gives the same run: `run_to(3_000)` then `run_to(7_000)` is
//! `run_to(7_000)`, so the page and a native check agree on the events of a seed.

use std::collections::VecDeque;

use super::Simulator;
use super::scenario::{Action, Scenario};

/// A simulator and the steps of its scenario still to play.
pub struct Player {
    sim: Simulator,
    steps: VecDeque<Action>,
}

impl Player {
    /// A fresh cluster of the scenario's shape, at virtual time 0, before its first step.
    pub fn new(scenario: &Scenario, seed: u64) -> Player {
        Player {
            sim: Simulator::new(scenario.config.clone(), seed),
            steps: scenario.steps.iter().cloned().collect(),
        }
    }

    pub fn sim(&self) -> &Simulator {
        &self.sim
    }

    /// The simulator, for a user's own requests and faults between slices.
    pub fn sim_mut(&mut self) -> &mut Simulator {
        &mut self.sim
    }

    /// Steps not played yet.
    pub fn steps_left(&self) -> usize {
        self.steps.len()
    }

    /// Plays the steps and runs the cluster until virtual time `until_ms` (nothing if that is
    /// past). Returns a line for each step that could not run (a step naming the leader while
    /// there is none); the run goes on without it.
    pub fn run_to(&mut self, until_ms: u64) -> Vec<String> {
        let mut skipped = Vec::new();
        while self.sim.now_ms() < until_ms {
            match self.steps.front_mut() {
                Some(Action::Wait { ms }) => {
                    let slice = (*ms).min(until_ms - self.sim.now_ms());
                    self.sim.step_ms(slice);
                    *ms -= slice;
                    if *ms == 0 {
                        self.steps.pop_front();
                    }
                }
                Some(_) => {
                    let step = self.steps.pop_front().expect("the front exists");
                    if let Err(e) = self.sim.apply(&step) {
                        skipped.push(format!("scenario step skipped ({step:?}): {e}"));
                    }
                }
                None => self.sim.step_ms(until_ms - self.sim.now_ms()),
            }
        }
        skipped
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::scenario;

    #[test]
    fn any_slicing_of_time_gives_the_same_run() {
        let s = scenario::random(3, 40);
        let mut whole = Player::new(&s, 3);
        whole.run_to(40_000);
        let mut sliced = Player::new(&s, 3);
        let mut t = 0;
        while t < 40_000 {
            t += 1 + (t * 7919) % 97;
            sliced.run_to(t.min(40_000));
        }
        let (a, b) = (whole.sim.take_events(), sliced.sim.take_events());
        assert!(a.len() > 500, "{} events", a.len());
        assert!(a == b, "slicing changed the run");
        assert_eq!(whole.sim.take_results(), sliced.sim.take_results());
    }

    #[test]
    fn steps_play_at_their_time_and_the_cluster_runs_on() {
        let s = scenario::named("leader-crash", 1).unwrap();
        let mut player = Player::new(&s, 1);
        player.run_to(2_000);
        assert!(player.steps_left() > 0);
        assert_eq!(player.sim().now_ms(), 2_000);
        player.run_to(60_000);
        assert_eq!(player.steps_left(), 0);
        assert_eq!(player.sim().now_ms(), 60_000);
        assert!(player.sim().leader().is_some());
        player.run_to(1_000);
        assert_eq!(player.sim().now_ms(), 60_000, "time never goes back");
    }
}
