//! `lesson verify` on the simulator: a lesson that [`simulated::support`] accepts runs on a
//! fresh deterministic cluster (`etcdlab_core::sim`, the demo's simulator, with its safety
//! checks on): each step's scenario, then its command as the simulator reads it, then its
//! goal checked on the cluster as the simulator's events show it (the page's demo builds its
//! observation the same way) and on the events since the step began. Time is virtual, so a
//! whole lesson takes a fraction of a second.

use anyhow::{Context, anyhow, bail};
use etcdlab_core::cluster_view::ClusterView;
use etcdlab_core::lesson::command::fill_placeholders;
use etcdlab_core::lesson::simulated::{self, SimCommand};
use etcdlab_core::lesson::view::observe_view;
use etcdlab_core::lesson::{
    Baseline, GoalStatus, Lesson, Observation, ObservationRequest, ScenarioAction, StepEvents,
};
use etcdlab_core::sim::{ClientOp, Outcome, SimConfig, Simulator};

/// The seed of every verification run: a failure replays exactly.
const SEED: u64 = 1;
/// Virtual time for a cluster to elect a leader and settle.
const SETTLE_MS: u64 = 15_000;
/// Virtual time a goal may take after its command.
const GOAL_LIMIT_MS: u64 = 30_000;
/// A request without `--command-timeout` waits this long (etcdctl's default is 5 s).
const COMMAND_TIMEOUT_MS: u64 = 5_000;

/// A simulated cluster with the view of its events and the events of the current step.
struct SimLab {
    sim: Simulator,
    view: ClusterView,
    step: StepEvents,
}

impl SimLab {
    fn new(lesson: &Lesson) -> anyhow::Result<SimLab> {
        let config = SimConfig {
            members: lesson.requires.size.map_or(3, usize::from),
            ..SimConfig::default()
        };
        let mut lab = SimLab {
            sim: Simulator::new(config, SEED),
            view: ClusterView::new(),
            step: StepEvents::default(),
        };
        lab.settle()?;
        Ok(lab)
    }

    /// Runs the cluster for `ms` of virtual time, taking in its events.
    fn advance(&mut self, ms: u64) {
        self.sim.step_ms(ms);
        for event in self.sim.take_events() {
            self.view.apply(&event);
            self.step.record(&event);
        }
    }

    /// Advances a tick at a time until `done` holds, at most `limit_ms`; whether it held.
    fn run_until(&mut self, limit_ms: u64, mut done: impl FnMut(&mut SimLab) -> bool) -> bool {
        let tick = self.sim.config().tick_ms;
        let mut waited = 0;
        while !done(self) {
            if waited >= limit_ms {
                return false;
            }
            self.advance(tick);
            waited += tick;
        }
        true
    }

    fn observe(&self, request: &ObservationRequest) -> Observation {
        let mut observation = observe_view(&self.view, request);
        observation.events = Some(self.step.clone());
        observation
    }

    /// Waits until a leader leads and every running member knows one.
    fn settle(&mut self) -> anyhow::Result<()> {
        let settled = self.run_until(SETTLE_MS, |lab| {
            lab.observe(&ObservationRequest::default()).settled()
        });
        if !settled {
            bail!("the simulated cluster did not settle in {SETTLE_MS} ms");
        }
        Ok(())
    }

    /// Carries out a scenario action, as the lab would; after a repair, waits to settle.
    fn act(&mut self, action: &ScenarioAction) -> anyhow::Result<()> {
        let seen = self.observe(&ObservationRequest::default());
        let sim = &mut self.sim;
        let done = match action {
            ScenarioAction::Kill(m) => sim.kill(&m.resolve(&seen)?),
            ScenarioAction::Restart(m) => sim.restart(&m.resolve(&seen)?),
            ScenarioAction::Campaign(m) => sim.campaign(&m.resolve(&seen)?),
            ScenarioAction::Isolate(m) => {
                let name = m.resolve(&seen)?;
                let others = seen
                    .members
                    .iter()
                    .map(|m| m.name.clone())
                    .filter(|other| *other != name)
                    .collect();
                sim.partition(&[vec![name], others])
            }
            ScenarioAction::Heal => {
                sim.heal();
                Ok(())
            }
            ScenarioAction::ReviveAll => sim
                .members()
                .iter()
                .filter(|m| !m.running && !m.removed)
                .try_for_each(|m| sim.restart(&m.name)),
            ScenarioAction::Pause(_) | ScenarioAction::Resume(_) => {
                Err("pause and resume are not simulated".into())
            }
        };
        done.map_err(|e| anyhow!("{action:?}: {e}"))?;
        // The action's effect (a member gone, a vote) shows in the next events.
        self.advance(1);
        if action.repairs() {
            self.settle()?;
        }
        Ok(())
    }

    fn running(&self, name: &str) -> bool {
        self.sim.member(name).is_some()
    }

    /// Runs a command; whether it succeeded (as etcdctl's exit code would say).
    fn run(&mut self, command: SimCommand) -> anyhow::Result<bool> {
        match command {
            SimCommand::Lab(action) => Ok(self.act(&action).is_ok()),
            SimCommand::Endpoints { health, members } => {
                let leader = self.sim.leader().is_some();
                Ok(members
                    .iter()
                    .all(|m| self.running(m) && (!health || leader)))
            }
            SimCommand::MemberList { members } => Ok(members.iter().any(|m| self.running(m))),
            SimCommand::Kv {
                op,
                members,
                timeout_ms,
            } => {
                // etcdctl tries the endpoints in turn; none running is a refused connection.
                let Some(target) = members.iter().find(|m| self.running(m)).cloned() else {
                    return Ok(false);
                };
                Ok(self.request(op, &target, timeout_ms.unwrap_or(COMMAND_TIMEOUT_MS)))
            }
        }
    }

    /// Sends a key-value request to `target` and waits for its answer; whether it succeeded.
    fn request(&mut self, op: ClientOp, target: &str, timeout_ms: u64) -> bool {
        let id = self.sim.client(op, Some(target));
        let mut outcome = None;
        self.run_until(timeout_ms, |lab| {
            outcome = outcome.take().or_else(|| {
                lab.sim
                    .take_results()
                    .into_iter()
                    .find(|(request, _)| *request == id)
                    .map(|(_, outcome)| outcome)
            });
            outcome.is_some()
        });
        matches!(
            outcome,
            Some(Outcome::Done | Outcome::Deleted(_) | Outcome::Value(_) | Outcome::Swapped(_))
        )
    }
}

/// Runs a lesson on a fresh simulated cluster; `Err` says which step failed and why (or why
/// the simulator cannot run the lesson).
pub fn verify_simulated(lesson: &Lesson) -> anyhow::Result<()> {
    simulated::support(lesson).map_err(|e| anyhow!("not simulated: {e}"))?;
    let mut lab = SimLab::new(lesson)?;
    for (i, step) in lesson.steps.iter().enumerate() {
        let number = i + 1;
        let result = (|| -> anyhow::Result<()> {
            for action in &step.scenario {
                lab.act(action)?;
            }
            let seen = lab.observe(&step.request());
            let baseline = Baseline::of(&seen);
            lab.step = StepEvents::default();
            let goal = step.goal.filled(&seen)?;
            if let Some(text) = &step.command {
                let command = fill_placeholders(text, &seen)?;
                let parsed = simulated::parse_command(&command).map_err(|e| anyhow!(e))?;
                if lab.run(parsed)? == step.fails {
                    bail!(
                        "`{command}` {}",
                        if step.fails {
                            "succeeded but should fail"
                        } else {
                            "failed"
                        }
                    );
                }
            }
            let request = goal.request();
            let mut status = GoalStatus::NotYet(String::new());
            lab.run_until(GOAL_LIMIT_MS, |lab| {
                status = goal.evaluate(&lab.observe(&request), &baseline);
                status == GoalStatus::Met
            });
            if let GoalStatus::NotYet(missing) = status {
                bail!("goal {goal:?} not met after {GOAL_LIMIT_MS} ms: {missing}");
            }
            Ok(())
        })();
        result.with_context(|| format!("step {number}"))?;
    }
    if let Some(violation) = lab.sim.violation() {
        bail!("the simulator saw a safety violation: {violation}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use etcdlab_core::lesson::catalog;

    #[test]
    fn every_lesson_the_simulator_supports_passes_on_it() {
        for (file, lesson) in catalog::lessons().unwrap() {
            if simulated::support(&lesson).is_ok() {
                verify_simulated(&lesson).unwrap_or_else(|e| panic!("{file}: {e:#}"));
            }
        }
    }

    #[test]
    fn a_goal_the_commands_do_not_reach_fails_on_the_simulator() {
        let lesson = etcdlab_core::lesson::parse_lesson(
            "t.yaml",
            "title: {ko: 시험, en: Test}\n\
             steps:\n\
             \x20 - text: {ko: 하나, en: One}\n\
             \x20   command: etcdctl put k v\n\
             \x20   goal: {key_equals: {key: k, value: w, on: all}}\n",
        )
        .unwrap();
        let error = format!("{:#}", verify_simulated(&lesson).unwrap_err());
        assert!(error.starts_with("step 1: goal"), "{error}");
        assert!(error.contains("k is not \"w\""), "{error}");
    }
}
