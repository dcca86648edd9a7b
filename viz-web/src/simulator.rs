//! The page's handle on its simulator, which runs in a Web Worker (the `etcdlab-sim` binary,
//! [`crate::sim_host`]) so the page's own wasm stays small: only demo mode, bench mode and a
//! lesson in demo mode spawn it; a page on a lab never loads it.
//!
//! [`Simulator`] starts the worker, sends the run to start once the worker is ready, and keeps
//! what the page reads synchronously (the run's seed and scenario, its present, digest and
//! member list) from the worker's answers. A worker that has not started its run within
//! [`START_TIMEOUT_MS`], or that fails, is reported as an error instead of a page that waits.

use serde_json::Value;
use wasm_bindgen::JsCast;
use wasm_bindgen::JsValue;
use wasm_bindgen::closure::Closure;
use web_sys::{ErrorEvent, Event, MessageEvent, Worker};
use yew::Callback;

use gloo_timers::callback::Timeout;

use crate::sim_protocol::{self, FromSimulator, RunKind, ToSimulator};

/// The worker's script, beside the page (trunk's loader for `etcdlab-sim.js` and its wasm).
pub const WORKER_SCRIPT: &str = "etcdlab-sim_loader.js";
/// How long the worker may take to load and start its run.
pub const START_TIMEOUT_MS: u32 = 15_000;

/// What the worker did, for the page to hand to [`Simulator::receive`].
pub enum SimEvent {
    Message(FromSimulator),
    /// The worker failed (its script or wasm did not load, or it panicked), or sent
    /// something unreadable.
    Error(String),
    /// [`START_TIMEOUT_MS`] passed since the worker was spawned.
    StartTimeout,
}

/// What the page must do after an event of the simulator.
pub enum Update {
    Nothing,
    /// The cluster ran to `now_ms`: new events and lines for the terminal.
    Progress {
        now_ms: f64,
        events: Vec<etcdlab_core::events::RaftEvent>,
        lines: Vec<String>,
    },
    /// Lines for the terminal (an answer to a request).
    Answer(Vec<String>),
    /// Bench mode's report line.
    Bench(String),
    /// The simulator cannot go on; the page shows why.
    Failed(String),
}

enum Status {
    /// The worker is loading, or a (re)started run has not begun yet.
    Starting,
    Running,
    Failed(String),
}

/// A simulated cluster in a Web Worker, as the page sees it.
pub struct Simulator {
    worker: Option<Worker>,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_error: Closure<dyn FnMut(Event)>,
    _start_timeout: Timeout,
    /// The run to start when the worker is ready.
    start: Option<RunKind>,
    /// The number of the current run; answers of another are dropped.
    run: u64,
    status: Status,
    /// An advance is on its way: the page waits for it before asking again.
    advancing: bool,
    seed: u64,
    scenario: String,
    now_ms: f64,
    digest: Option<String>,
    cluster: Value,
}

impl Simulator {
    /// Spawns the worker and has it start `kind` once it is ready; `on_event` gets what it
    /// sends. A browser that refuses the worker gives a simulator that has failed already.
    pub fn spawn(kind: RunKind, on_event: Callback<SimEvent>) -> Simulator {
        let (seed, scenario) = match &kind {
            RunKind::Demo { seed, scenario } => (*seed, scenario.clone()),
            // Named by the worker when it starts.
            RunKind::Bench { seed, .. } => (*seed, String::new()),
        };
        let on_message = {
            let on_event = on_event.clone();
            Closure::<dyn FnMut(MessageEvent)>::new(move |e: MessageEvent| {
                let event = match e.data().as_string() {
                    Some(text) => match sim_protocol::decode(&text) {
                        Ok(message) => SimEvent::Message(message),
                        Err(e) => SimEvent::Error(e),
                    },
                    None => SimEvent::Error("a simulator message that is not text".into()),
                };
                on_event.emit(event);
            })
        };
        let on_error = {
            let on_event = on_event.clone();
            Closure::<dyn FnMut(Event)>::new(move |e: Event| {
                // An error in the worker is an `ErrorEvent`; a script that did not load, a
                // plain event.
                let why = e.dyn_ref::<ErrorEvent>().map_or_else(
                    || format!("the simulator's script {WORKER_SCRIPT} did not load"),
                    |e| format!("the simulator stopped: {}", e.message()),
                );
                on_event.emit(SimEvent::Error(why))
            })
        };
        let start_timeout = Timeout::new(START_TIMEOUT_MS, move || {
            on_event.emit(SimEvent::StartTimeout)
        });
        let (worker, status) = match Worker::new(WORKER_SCRIPT) {
            Ok(worker) => {
                worker.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
                worker.set_onerror(Some(on_error.as_ref().unchecked_ref()));
                (Some(worker), Status::Starting)
            }
            Err(e) => (
                None,
                Status::Failed(format!(
                    "the browser did not start the simulator's Web Worker ({})",
                    describe(&e)
                )),
            ),
        };
        Simulator {
            worker,
            _on_message: on_message,
            _on_error: on_error,
            _start_timeout: start_timeout,
            start: Some(kind),
            run: 1,
            status,
            advancing: false,
            seed,
            scenario,
            now_ms: 0.0,
            digest: None,
            cluster: Value::Null,
        }
    }

    /// Why the simulator cannot run, if it cannot.
    pub fn failure(&self) -> Option<&str> {
        match &self.status {
            Status::Failed(why) => Some(why),
            _ => None,
        }
    }

    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The scenario the run plays (after the worker's fallback for an unknown name).
    pub fn scenario(&self) -> &str {
        &self.scenario
    }

    /// The simulated present, in virtual milliseconds, as last reported.
    pub fn now_ms(&self) -> f64 {
        self.now_ms
    }

    /// The run's digest (`etcdlab demo --digest`'s), once the run is past its horizon.
    pub fn digest(&self) -> Option<&str> {
        self.digest.as_deref()
    }

    /// The members as the lab's `/api/cluster` shows them, as last reported.
    pub fn cluster(&self) -> &Value {
        &self.cluster
    }

    /// Whether an advance is on its way (the page's clock waits for it).
    pub fn advancing(&self) -> bool {
        self.advancing
    }

    /// Asks the cluster to run to the playback clock, unless an advance is on its way or the
    /// run has not begun.
    pub fn advance_to(&mut self, clock_ms: f64) {
        if matches!(self.status, Status::Running) && !self.advancing {
            self.advancing = self.post(&ToSimulator::Advance { clock_ms });
        }
    }

    /// Sends a request to the lab's API to the simulated cluster; the answer comes as an
    /// [`Update::Answer`]. Refused (with the line to print) until the run has begun.
    pub fn request(&mut self, path: &str, body: Option<Value>) -> Result<(), String> {
        match &self.status {
            Status::Running => {}
            Status::Starting => return Err("Error: the simulator is still starting".into()),
            Status::Failed(why) => return Err(format!("Error: {why}")),
        }
        let request = ToSimulator::Request {
            path: path.to_string(),
            body,
        };
        if self.post(&request) {
            Ok(())
        } else {
            Err(format!("Error: {}", self.failure().unwrap_or_default()))
        }
    }

    /// A fresh run of the same seed and scenario; what the old run still sends is dropped.
    pub fn reset(&mut self) {
        self.run += 1;
        self.now_ms = 0.0;
        self.digest = None;
        self.cluster = Value::Null;
        match self.status {
            // Not ready yet: the start, still to be sent, takes the new run's number.
            Status::Starting if self.start.is_some() => {}
            Status::Starting | Status::Running => {
                self.status = Status::Starting;
                self.post(&ToSimulator::Reset { run: self.run });
            }
            Status::Failed(_) => {}
        }
    }

    /// Takes in what the worker did; returns what the page must do about it.
    pub fn receive(&mut self, event: SimEvent) -> Update {
        let message = match event {
            SimEvent::Message(message) => message,
            SimEvent::Error(why) => return self.fail(why),
            SimEvent::StartTimeout => {
                if !matches!(self.status, Status::Starting) {
                    return Update::Nothing;
                }
                return self.fail(format!(
                    "the simulator did not start within {} s ({WORKER_SCRIPT} and the files it \
                     loads, etcdlab-sim.js and etcdlab-sim_bg.wasm, must be beside the page)",
                    START_TIMEOUT_MS / 1_000
                ));
            }
        };
        if matches!(self.status, Status::Failed(_)) {
            return Update::Nothing;
        }
        match message {
            FromSimulator::Ready => {
                if let Some(kind) = self.start.take() {
                    self.post(&ToSimulator::Start {
                        run: self.run,
                        kind,
                    });
                }
                Update::Nothing
            }
            FromSimulator::Started {
                run,
                seed,
                scenario,
            } if run == self.run => {
                self.status = Status::Running;
                self.seed = seed;
                self.scenario = scenario;
                Update::Nothing
            }
            FromSimulator::Advanced {
                run,
                now_ms,
                events,
                lines,
                digest,
                cluster,
            } => {
                self.advancing = false;
                if run != self.run {
                    return Update::Nothing;
                }
                self.now_ms = now_ms;
                self.digest = digest;
                self.cluster = cluster;
                Update::Progress {
                    now_ms,
                    events,
                    lines,
                }
            }
            FromSimulator::Answered {
                run,
                lines,
                cluster,
            } if run == self.run => {
                self.cluster = cluster;
                Update::Answer(lines)
            }
            FromSimulator::Bench { run, report } if run == self.run => Update::Bench(report),
            FromSimulator::Failed { error } if matches!(self.status, Status::Starting) => {
                self.fail(error)
            }
            FromSimulator::Failed { error } => Update::Answer(vec![format!("Error: {error}")]),
            // What an earlier run still sent.
            FromSimulator::Started { .. }
            | FromSimulator::Answered { .. }
            | FromSimulator::Bench { .. } => Update::Nothing,
        }
    }

    /// Posts `message` to the worker; a message that cannot be posted fails the simulator.
    fn post(&mut self, message: &ToSimulator) -> bool {
        let Some(worker) = &self.worker else {
            return false;
        };
        let sent = sim_protocol::encode(message).and_then(|text| {
            worker
                .post_message(&JsValue::from_str(&text))
                .map_err(|e| format!("a message to the simulator not sent ({})", describe(&e)))
        });
        match sent {
            Ok(()) => true,
            Err(why) => {
                self.fail(why);
                false
            }
        }
    }

    fn fail(&mut self, why: String) -> Update {
        if let Some(worker) = self.worker.take() {
            worker.terminate();
        }
        self.status = Status::Failed(why.clone());
        Update::Failed(why)
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        if let Some(worker) = &self.worker {
            worker.terminate();
        }
    }
}

/// A JavaScript error as text.
fn describe(error: &JsValue) -> String {
    error
        .dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .or_else(|| error.as_string())
        .unwrap_or_else(|| format!("{error:?}"))
}
