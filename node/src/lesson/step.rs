//! One step's mechanics, shared by the tutor (`lesson start`) and `lesson verify`: the
//! baseline when the step begins, its command as the student should type it and its goal
//! with their placeholders filled in, and the wait for the goal (on the lab's state and the
//! events since the baseline).

use std::time::{Duration, Instant};

use etcdlab_core::lesson::command::fill_placeholders;
use etcdlab_core::lesson::{Baseline, Goal, GoalStatus, Step};

use super::lab_client::LabClient;
use super::shell::LabAddresses;

/// How often the goal is checked.
const POLL: Duration = Duration::from_millis(400);

/// A step about to begin.
pub struct Begun {
    pub baseline: Baseline,
    /// The command with placeholders filled and the lab's addresses in.
    pub command: Option<String>,
    /// The goal with its placeholders filled.
    pub goal: Goal,
}

/// Takes the baseline and prepares the command; runs the step's scenario first.
pub async fn begin(
    lab: &LabClient,
    addresses: &LabAddresses,
    step: &Step,
) -> anyhow::Result<(Begun, Vec<String>)> {
    let done = lab.run_scenario(&step.scenario).await?;
    let seen = lab.observe(&step.request()).await?;
    let command = match &step.command {
        Some(text) => Some(addresses.rewrite(&fill_placeholders(text, &seen)?)),
        None => None,
    };
    Ok((
        Begun {
            baseline: Baseline::of(&seen),
            command,
            goal: step.goal.filled(&seen)?,
        },
        done,
    ))
}

/// Checks the goal until it is met or `limit` passes (`None`: no limit); `waiting` is
/// called on every check that falls short, with the time waited so far.
pub async fn wait_for_goal(
    lab: &LabClient,
    begun: &Begun,
    limit: Option<Duration>,
    mut waiting: impl FnMut(Duration, &str),
) -> anyhow::Result<GoalStatus> {
    let request = begun.baseline.since(begun.goal.request());
    let started = Instant::now();
    loop {
        let status = match lab.observe(&request).await {
            Ok(seen) => begun.goal.evaluate(&seen, &begun.baseline),
            Err(e) => GoalStatus::NotYet(e.to_string()),
        };
        let GoalStatus::NotYet(missing) = &status else {
            return Ok(status);
        };
        if limit.is_some_and(|limit| started.elapsed() >= limit) {
            return Ok(status);
        }
        waiting(started.elapsed(), missing);
        tokio::time::sleep(POLL).await;
    }
}
