//! The lesson runner's view of a running lab, through its JSON API: what a goal needs
//! (`POST /api/observe`, plus files looked up here, relative to where the lesson runs),
//! scenarios as fault requests, and the resets of instructor mode (`POST /api/lesson/reset`).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use etcdlab_core::lesson::{Observation, ObservationRequest, ScenarioAction};
use serde_json::{Value, json};

use crate::lab::http;

const ANSWER: Duration = Duration::from_secs(15);
/// A reset may wait for members to start and for a leader twice, and load a sample.
const RESET_ANSWER: Duration = Duration::from_secs(90);
/// How long a reset waits for members to start and a leader to be elected.
const SETTLE: Duration = Duration::from_secs(30);

/// A running lab at its `--ui-addr`.
pub struct LabClient {
    pub addr: String,
    /// Where the lesson's commands run; files in goals are relative to it.
    pub workdir: PathBuf,
}

impl LabClient {
    /// Sends one request; the answer's JSON, or the lab's error.
    async fn call(&self, method: &str, path: &str, body: Option<&Value>) -> anyhow::Result<Value> {
        self.call_within(method, path, body, ANSWER).await
    }

    async fn call_within(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
        limit: Duration,
    ) -> anyhow::Result<Value> {
        let body = body.map(Value::to_string);
        let (_, answer) = http::request(None, &self.addr, method, path, body.as_deref(), limit)
            .await
            .with_context(|| {
                format!(
                    "no lab answers at {} (start one with `etcdlab lab`, or pass --lab)",
                    self.addr
                )
            })?;
        let parsed: Value = serde_json::from_str(&answer)
            .with_context(|| format!("the lab at {} answered {answer:?}", self.addr))?;
        if parsed["ok"] == false {
            bail!("{}", parsed["error"].as_str().unwrap_or(answer.trim()));
        }
        Ok(parsed)
    }

    /// The members' client addresses, in member order (m1 first).
    pub async fn endpoints(&self) -> anyhow::Result<Vec<String>> {
        let cluster = self.call("GET", "/api/cluster", None).await?;
        Ok(cluster["endpoints"]
            .as_str()
            .unwrap_or("")
            .split(',')
            .filter(|e| !e.is_empty())
            .map(str::to_string)
            .collect())
    }

    pub async fn observe(&self, request: &ObservationRequest) -> anyhow::Result<Observation> {
        let body = serde_json::to_value(request)?;
        let answer = self.call("POST", "/api/observe", Some(&body)).await?;
        let mut observation: Observation =
            serde_json::from_value(answer).context("the lab's observation")?;
        observation.files = request
            .files
            .iter()
            .filter(|f| self.workdir.join(f).exists())
            .cloned()
            .collect();
        Ok(observation)
    }

    /// Carries out scenario actions on the cluster as it is now, waiting after a repair until
    /// the cluster settles; what was done, for the user.
    pub async fn run_scenario(&self, actions: &[ScenarioAction]) -> anyhow::Result<Vec<String>> {
        let mut done = Vec::new();
        for action in actions {
            done.extend(self.apply(action).await?);
            if action.repairs() {
                self.wait_until("the cluster did not settle", SETTLE, Observation::settled)
                    .await?;
            }
        }
        Ok(done)
    }

    /// Sends one action's fault requests; what was sent.
    async fn apply(&self, action: &ScenarioAction) -> anyhow::Result<Vec<String>> {
        let observation = self.observe(&ObservationRequest::default()).await?;
        let mut sent = Vec::new();
        for fault in action.fault_requests(&observation)? {
            self.call("POST", "/api/faults", Some(&fault)).await?;
            sent.push(fault.to_string());
        }
        Ok(sent)
    }

    /// Waits (at most `limit`) until the cluster is as `ready` wants; `what` names it.
    async fn wait_until(
        &self,
        what: &str,
        limit: Duration,
        ready: impl Fn(&Observation) -> bool,
    ) -> anyhow::Result<()> {
        let deadline = Instant::now() + limit;
        loop {
            if let Ok(seen) = self.observe(&ObservationRequest::default()).await
                && ready(&seen)
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("the lab at {}: {what} after {limit:?}", self.addr);
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }

    /// Puts the lab in lesson `number`'s starting state (the lab's `POST /api/lesson/reset`).
    pub async fn reset(&self, number: usize) -> anyhow::Result<()> {
        let body = json!({ "lesson": number });
        self.call_within("POST", "/api/lesson/reset", Some(&body), RESET_ANSWER)
            .await?;
        Ok(())
    }
}
