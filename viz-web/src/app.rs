//! The page: the cluster ring, the logs and state machines, time controls, member controls,
//! the in-browser terminal and the inspector, over a live lab's event stream, or over a
//! simulated cluster when no lab answers (or the URL says `?demo`; `seed` and `scenario` in
//! the URL pick the run, and a scenario picker changes them).
//!
//! Keyboard: space pauses or plays, → steps one event, l goes live, k kills the leader, p
//! partitions the leader away, h heals, f freezes or thaws the cluster. `?presenter` in the
//! URL (or the button) gives large type and high contrast and hides the controls; the speed
//! is kept in the URL too. `?demo&bench=5` times the simulator first (in its worker, see
//! [`crate::sim_host`]), then plays the benchmark's workload at the fastest speed.
//!
//! The lesson panel ([`crate::lesson_panel`]) sits above the member controls; the page carries
//! out what it asks (read the cluster, run a line in the terminal, a scenario's faults, an
//! instructor's reset) and keeps its lesson, step and language in the URL.

use etcdlab_core::cluster_view::MemberState;
use etcdlab_core::lesson::view::observe_view;
use etcdlab_core::sim::bench::BenchParams;
use gloo_render::AnimationFrame;
use gloo_timers::callback::{Interval, Timeout};
use serde_json::{Value, json};
use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;
use web_sys::{HtmlInputElement, KeyboardEvent, WebSocket};
use yew::prelude::*;

use crate::demo::{DEFAULT_SCENARIO, DEFAULT_SEED};
use crate::lesson_panel::{ADVANCE_AFTER_MS, Effect, LessonMsg, LessonRunner};
use crate::logs::logs;
use crate::memo::MemoCache;
use crate::playback::Playback;
use crate::ring::{RingProps, ring, role_name};
use crate::sim_protocol::RunKind;
use crate::simulator::{SimEvent, Simulator, Update};
use crate::source::{self, Backend, StreamLine};
use crate::terminal::{self, Command};

pub enum Msg {
    Line(String),
    StreamClosed,
    Reconnect,
    Frame(f64),
    PollCluster,
    Cluster(Value),
    /// The lab's member list could not be read.
    NoLab,
    /// Runs the demo again with this URL parameter (`seed` or `scenario`) changed.
    DemoRerun(&'static str, String),
    /// The simulator (demo mode) sent something, failed or did not start in time.
    Simulator(SimEvent),
    TogglePause,
    Step,
    Live,
    Speed(f64),
    Seek(usize),
    Select(Selection),
    /// Cut a working link both ways, or mend a cut one (`true`: it is cut now).
    ToggleLink(String, String, bool),
    Fault(Value),
    Post(&'static str),
    Answer(Vec<String>),
    TerminalInput(String),
    TerminalSubmit,
    Key(String),
    TogglePresenter,
    Lesson(LessonMsg),
}

/// What the inspector shows.
#[derive(Clone, PartialEq)]
pub enum Selection {
    Member(String),
    Flight(String, u64),
    Entry(String, u64),
}

/// Playback speed of a demo whose URL gives none: virtual time runs at twice real time.
const DEMO_SPEED: f64 = 2.0;
/// Playback speed of bench mode's animated part: the fastest the page offers.
const BENCH_SPEED: f64 = 4.0;

pub struct App {
    backend: Backend,
    playback: Playback,
    /// The lab's cursor of the last event received, to resume after a reconnect.
    lab_cursor: u64,
    socket: Option<WebSocket>,
    connected: bool,
    frame: Option<AnimationFrame>,
    last_frame_ms: Option<f64>,
    _poll: Interval,
    cluster: Value,
    selection: Option<Selection>,
    terminal_input: String,
    terminal_lines: Vec<String>,
    presenter: bool,
    frozen: bool,
    /// Bench mode's result: the report line, or what is wrong with the URL's parameters (or
    /// why the simulator could not be spawned).
    bench: Option<String>,
    logs_part: MemoCache,
    side_part: MemoCache,
    terminal_part: MemoCache,
    lesson: LessonRunner,
    lesson_part: MemoCache,
}

impl Component for App {
    type Message = Msg;
    type Properties = ();

    fn create(ctx: &Context<Self>) -> Self {
        let link = ctx.link().clone();
        let poll = Interval::new(1_000, move || link.send_message(Msg::PollCluster));
        // The event stream is opened once the lab has answered (see `Msg::Cluster`).
        ctx.link().send_message(Msg::PollCluster);
        listen_to_keys(ctx.link().callback(Msg::Key));
        let mut playback = Playback::default();
        if let Some(speed) = url_param("speed").and_then(|s| s.parse::<f64>().ok()) {
            playback.speed = speed.clamp(0.1, 4.0);
        }
        let (backend, bench) = match url_param("demo").or(url_param("bench")) {
            Some(_) => start_demo(ctx, &mut playback),
            None => (Backend::Lab, None),
        };
        let mut app = App {
            backend,
            playback,
            lab_cursor: 0,
            socket: None,
            connected: false,
            frame: Some(request_frame(ctx)),
            last_frame_ms: None,
            _poll: poll,
            cluster: Value::Null,
            selection: None,
            terminal_input: String::new(),
            terminal_lines: [terminal::HELP.to_string()]
                .into_iter()
                .chain(bench.clone())
                .collect(),
            presenter: url_param("presenter").is_some(),
            frozen: false,
            bench,
            logs_part: MemoCache::default(),
            side_part: MemoCache::default(),
            terminal_part: MemoCache::default(),
            lesson: LessonRunner::new(
                url_param("lesson").as_deref(),
                url_param("step").as_deref(),
                url_param("lang").as_deref(),
                web_sys::window()
                    .and_then(|w| w.navigator().language())
                    .as_deref(),
                js_sys::Date::now(),
            ),
            lesson_part: MemoCache::default(),
        };
        app.lesson
            .set_demo(matches!(app.backend, Backend::Simulated(_)));
        app.lesson.set_instructor(instructor(app.presenter));
        app
    }

    fn update(&mut self, ctx: &Context<Self>, msg: Msg) -> bool {
        match msg {
            Msg::Line(text) => match source::parse_line(&text) {
                Some(StreamLine::Event { cursor, event }) => {
                    self.lab_cursor = self.lab_cursor.max(cursor);
                    self.playback.push(event);
                }
                Some(StreamLine::Notice(notice)) => {
                    self.terminal_lines.push(format!("stream: {notice}"));
                }
                None => {}
            },
            Msg::StreamClosed => {
                self.connected = false;
                self.socket = None;
                let link = ctx.link().clone();
                Timeout::new(1_000, move || link.send_message(Msg::Reconnect)).forget();
            }
            Msg::Reconnect => {
                let since = self.lab_cursor;
                self.socket = source::connect_events(
                    since,
                    ctx.link().callback(Msg::Line),
                    ctx.link().callback(|()| Msg::StreamClosed),
                );
                self.connected = self.socket.is_some();
            }
            Msg::Frame(now) => {
                self.frame = Some(request_frame(ctx));
                if let Backend::Simulated(sim) = &self.backend
                    && sim.advancing()
                {
                    // The clock waits for the simulated cluster to catch up with it; the time
                    // waited is played on the next frame.
                    return false;
                }
                if let Some(last) = self.last_frame_ms {
                    self.playback.advance((now - last).min(250.0));
                }
                self.last_frame_ms = Some(now);
                if let Backend::Simulated(sim) = &mut self.backend {
                    // The simulated cluster lives at the playback clock; the page is drawn
                    // when its answer is in (`Msg::Simulator`).
                    sim.advance_to(self.playback.clock_ms());
                    return !sim.advancing();
                }
            }
            Msg::Simulator(event) => {
                let Backend::Simulated(sim) = &mut self.backend else {
                    return false;
                };
                match sim.receive(event) {
                    Update::Nothing => return false,
                    Update::Progress {
                        now_ms,
                        events,
                        lines,
                    } => {
                        self.lesson.record_events(&events);
                        for event in events {
                            self.playback.push(event);
                        }
                        // Frozen, the simulated present stands still and so does the clock.
                        self.playback.hold_clock(now_ms);
                        self.terminal_lines.extend(lines);
                    }
                    Update::Answer(lines) => {
                        self.terminal_lines.extend(lines);
                        ctx.link().send_message(Msg::PollCluster);
                    }
                    Update::Bench(report) => {
                        self.terminal_lines
                            .push(format!("benchmark, the simulator alone: {report}"));
                        self.bench = Some(report);
                    }
                    Update::Failed(why) => self.terminal_lines.push(format!("error: {why}")),
                }
            }
            Msg::PollCluster => {
                self.observe_for_lesson(ctx);
                if let Backend::Simulated(sim) = &self.backend {
                    if !sim.cluster().is_null() {
                        ctx.link().send_message(Msg::Cluster(sim.cluster().clone()));
                    }
                    return false;
                }
                let link = ctx.link().clone();
                wasm_bindgen_futures::spawn_local(async move {
                    match source::get_json("/api/cluster").await {
                        Ok(cluster) => link.send_message(Msg::Cluster(cluster)),
                        Err(_) => link.send_message(Msg::NoLab),
                    }
                });
                return false;
            }
            Msg::NoLab => {
                // Only a page that never reached a lab turns into a demo; a lab that stops
                // answering later is waited for.
                if !self.cluster.is_null() || !matches!(self.backend, Backend::Lab) {
                    return false;
                }
                (self.backend, self.bench) = start_demo(ctx, &mut self.playback);
                self.lesson.set_demo(true);
                self.terminal_lines.extend(self.bench.clone());
            }
            Msg::DemoRerun(name, value) => {
                set_url_param("demo", Some(""));
                set_url_param(name, Some(&value));
                if let Some(window) = web_sys::window() {
                    let _ = window.location().reload();
                }
                return false;
            }
            Msg::Cluster(cluster) => {
                if self.cluster.is_null() && matches!(self.backend, Backend::Lab) {
                    ctx.link().send_message(Msg::Reconnect);
                }
                for m in cluster["members"].as_array().into_iter().flatten() {
                    let state = match m["state"].as_str() {
                        Some("down") => MemberState::Down,
                        Some("paused") => MemberState::Paused,
                        _ => MemberState::Up,
                    };
                    let (Some(id), Some(name)) = (m["id"].as_str(), m["name"].as_str()) else {
                        continue;
                    };
                    // Only the present is corrected from the member list, never a replay.
                    let role = serde_json::from_value(m["role"].clone())
                        .ok()
                        .zip(m["term"].as_u64())
                        .filter(|_| self.playback.at_head() && !self.playback.paused);
                    self.playback.view_mut().know_member(id, name, state, role);
                }
                self.cluster = cluster;
            }
            Msg::TogglePause => {
                if self.playback.paused && self.playback.at_head() {
                    self.playback.go_live();
                } else {
                    self.playback.paused = !self.playback.paused;
                }
            }
            Msg::Step => self.playback.step(),
            Msg::Live => self.playback.go_live(),
            Msg::Speed(speed) => {
                self.playback.speed = speed;
                set_url_param("speed", Some(&format!("{speed}")));
            }
            Msg::Seek(cursor) => self.playback.seek(cursor),
            Msg::Select(selection) => self.selection = Some(selection),
            Msg::ToggleLink(a, b, cut) => {
                let view = self.playback.view();
                let (a, b) = (view.name_of(&a).to_string(), view.name_of(&b).to_string());
                if cut && !view.partition.is_empty() {
                    ctx.link().send_message(Msg::Fault(json!({"heal": true})));
                } else {
                    let drop = if cut { 0.0 } else { 1.0 };
                    for (from, to) in [(&a, &b), (&b, &a)] {
                        ctx.link().send_message(Msg::Fault(
                            json!({"link": {"from": from, "to": to, "drop": drop}}),
                        ));
                    }
                }
            }
            Msg::Fault(body) => {
                self.terminal_lines.push(format!("> fault {body}"));
                self.send(ctx, "/api/faults", Some(body));
            }
            Msg::Post(path) => {
                self.frozen = path == "/api/freeze";
                self.send(ctx, path, None);
            }
            Msg::Answer(lines) => self.terminal_lines.extend(lines),
            Msg::TerminalInput(text) => self.terminal_input = text,
            Msg::TerminalSubmit => {
                let line = std::mem::take(&mut self.terminal_input);
                self.run_terminal_line(ctx, &line);
            }
            Msg::Key(key) => return self.on_key(ctx, &key),
            Msg::TogglePresenter => {
                self.presenter = !self.presenter;
                self.lesson.set_instructor(instructor(self.presenter));
                set_url_param("presenter", self.presenter.then_some(""));
            }
            Msg::Lesson(msg) => {
                let keep_url = !matches!(msg, LessonMsg::Observed { .. });
                let effects = self.lesson.update(msg, js_sys::Date::now());
                if keep_url {
                    for (name, value) in self.lesson.url_state() {
                        set_url_param(name, value.as_deref());
                    }
                }
                self.lesson_effects(ctx, effects);
            }
        }
        let excess = self.terminal_lines.len().saturating_sub(200);
        self.terminal_lines.drain(..excess);
        true
    }

    fn view(&self, ctx: &Context<Self>) -> Html {
        let view = self.playback.view();
        let now_ms = js_sys::Date::now();
        let link = ctx.link();
        let selected_member = match &self.selection {
            Some(Selection::Member(id)) => Some(id.as_str()),
            _ => None,
        };
        let ring_props = RingProps {
            view,
            clock_ms: self.playback.clock_ms(),
            selected: selected_member,
            focused: self.lesson.focus_member(),
            on_member: link.callback(|id| Msg::Select(Selection::Member(id))),
            on_flight: link.callback(|(from, id)| Msg::Select(Selection::Flight(from, id))),
            on_link: link.callback(|(a, b, cut)| Msg::ToggleLink(a, b, cut)),
        };
        html! {
            <main class={classes!("app", self.presenter.then_some("presenter"), self.lesson.focus_class())}>
                <header>
                    <h1>{ "etcdlab" }</h1>
                    { self.source_status(ctx) }
                    { self.time_controls(ctx) }
                    <button class="presenter-toggle" onclick={link.callback(|_| Msg::TogglePresenter)}>
                        { if self.presenter { "exit presenter" } else { "presenter" } }
                    </button>
                </header>
                <div class="stage">
                    { ring(&ring_props) }
                    <aside class="side">
                        { self.lesson_part.get(self.lesson.version(now_ms), || {
                            self.lesson.view(now_ms, &link.callback(Msg::Lesson))
                        }) }
                        { self.side_part.get(self.side_version(), || html! { <>
                            { self.member_controls(ctx) }
                            { self.inspector() }
                        </> }) }
                    </aside>
                </div>
                { self.logs_part.get(logs_version(view), || {
                    logs(view, &link.callback(|(m, i)| Msg::Select(Selection::Entry(m, i))))
                }) }
                { self.terminal_part.get(self.terminal_version(), || self.terminal(ctx)) }
            </main>
        }
    }
}

impl App {
    fn send(&mut self, ctx: &Context<Self>, path: &'static str, body: Option<Value>) {
        if let Backend::Simulated(sim) = &mut self.backend {
            // The answer comes as `Update::Answer`.
            if let Err(line) = sim.request(path, body) {
                self.terminal_lines.push(line);
            }
            return;
        }
        let link = ctx.link().clone();
        wasm_bindgen_futures::spawn_local(async move {
            let lines = match source::post_json(path, body.as_ref()).await {
                Ok(answer) if path == "/api/kv" => terminal::kv_answer(&answer),
                Ok(answer) => match answer.get("error") {
                    Some(error) => vec![format!("Error: {}", error.as_str().unwrap_or_default())],
                    None => vec!["OK".into()],
                },
                Err(e) => vec![format!("Error: {e}")],
            };
            link.send_message(Msg::Answer(lines));
            link.send_message(Msg::PollCluster);
        });
    }

    /// Carries out what the lesson panel asks for.
    fn lesson_effects(&mut self, ctx: &Context<Self>, effects: Vec<Effect>) {
        for effect in effects {
            match effect {
                Effect::Observe => self.observe_for_lesson(ctx),
                Effect::Fault(body) => ctx.link().send_message(Msg::Fault(body)),
                Effect::RunLine(line) => self.run_terminal_line(ctx, &line),
                Effect::Copy(text) => {
                    if let Some(window) = web_sys::window() {
                        // The promise is left alone: a refused copy leaves the text on screen.
                        let _ = window.navigator().clipboard().write_text(&text);
                    }
                }
                Effect::Reset(lesson) => self.reset_for_lesson(ctx, lesson),
                Effect::AdvanceLater(epoch) => {
                    let link = ctx.link().clone();
                    Timeout::new(ADVANCE_AFTER_MS, move || {
                        link.send_message(Msg::Lesson(LessonMsg::Advance(epoch)))
                    })
                    .forget();
                }
            }
        }
    }

    /// Instructor mode: the lesson's starting state — the lab's `POST /api/lesson/reset`, or
    /// in the demo a fresh simulated cluster (same seed and scenario) — then its first step.
    fn reset_for_lesson(&mut self, ctx: &Context<Self>, lesson: usize) {
        let link = ctx.link().clone();
        if let Backend::Simulated(sim) = &mut self.backend {
            sim.reset();
            let speed = self.playback.speed;
            self.playback = Playback::default();
            self.playback.speed = speed;
            self.terminal_lines
                .push(format!("> lesson {lesson}: a fresh simulated cluster"));
            link.send_message(Msg::Lesson(LessonMsg::Goto(0)));
            return;
        }
        self.terminal_lines
            .push(format!("> lesson {lesson}: resetting the lab"));
        wasm_bindgen_futures::spawn_local(async move {
            let body = json!({ "lesson": lesson });
            let line = match source::post_json("/api/lesson/reset", Some(&body)).await {
                Ok(answer) => match answer.get("error") {
                    Some(error) => format!("Error: {}", error.as_str().unwrap_or_default()),
                    None => "OK".into(),
                },
                Err(e) => format!("Error: {e}"),
            };
            link.send_message(Msg::Answer(vec![line]));
            link.send_message(Msg::Lesson(LessonMsg::Goto(0)));
        });
    }

    /// Reads what the lesson's step needs: from the lab (`POST /api/observe`), or in demo
    /// mode from the page's view of the simulated cluster.
    fn observe_for_lesson(&self, ctx: &Context<Self>) {
        let Some((epoch, request)) = self.lesson.request() else {
            return;
        };
        let link = ctx.link().clone();
        if let Backend::Simulated(_) = &self.backend {
            let observation = observe_view(self.playback.view(), &request);
            link.send_message(Msg::Lesson(LessonMsg::Observed {
                epoch,
                observation: Box::new(observation),
                demo: true,
            }));
            return;
        }
        wasm_bindgen_futures::spawn_local(async move {
            let Ok(body) = serde_json::to_value(&request) else {
                return;
            };
            // An answer that is not an observation (the lab busy or gone) waits for the next poll.
            if let Ok(answer) = source::post_json("/api/observe", Some(&body)).await
                && let Ok(observation) = serde_json::from_value(answer)
            {
                link.send_message(Msg::Lesson(LessonMsg::Observed {
                    epoch,
                    observation: Box::new(observation),
                    demo: false,
                }));
            }
        });
    }

    fn run_terminal_line(&mut self, ctx: &Context<Self>, line: &str) {
        self.terminal_lines.push(format!("$ {line}"));
        if let Backend::Simulated(sim) = &self.backend {
            self.cluster = sim.cluster().clone();
        }
        match terminal::parse(line) {
            Ok(Command::Kv(body)) => self.send(ctx, "/api/kv", Some(body)),
            Ok(Command::Fault(body)) => self.send(ctx, "/api/faults", Some(body)),
            Ok(Command::Post(path)) => {
                self.frozen = path == "/api/freeze";
                self.send(ctx, path, None)
            }
            Ok(Command::MemberList) => {
                for m in self.cluster["members"].as_array().into_iter().flatten() {
                    self.terminal_lines.push(format!(
                        "{}, started, {}, {}, {}, false",
                        m["id"].as_str().unwrap_or_default(),
                        m["name"].as_str().unwrap_or_default(),
                        join(&m["peer_urls"]),
                        join(&m["client_urls"]),
                    ));
                }
            }
            Ok(Command::EndpointStatus) => {
                for m in self.cluster["members"].as_array().into_iter().flatten() {
                    self.terminal_lines.push(format!(
                        "{}, {}, state {}, role {}, term {}, commit {}, applied {}",
                        m["endpoint"].as_str().unwrap_or_default(),
                        m["id"].as_str().unwrap_or_default(),
                        m["state"].as_str().unwrap_or_default(),
                        m["role"].as_str().unwrap_or("-"),
                        m["term"],
                        m["commit_index"],
                        m["applied_index"],
                    ));
                }
            }
            Ok(Command::Help) => self.terminal_lines.push(terminal::HELP.into()),
            Ok(Command::Clear) => self.terminal_lines.clear(),
            Err(e) if e.is_empty() => {}
            Err(e) => self.terminal_lines.push(e),
        }
    }

    /// Keyboard shortcuts; returns whether to redraw.
    fn on_key(&mut self, ctx: &Context<Self>, key: &str) -> bool {
        let leader = self.playback.view().leader().map(|m| m.name.clone());
        let others: Vec<String> = self
            .playback
            .view()
            .members_by_name()
            .iter()
            .map(|m| m.name.clone())
            .filter(|n| Some(n) != leader.as_ref())
            .collect();
        let msg = match key {
            " " => Msg::TogglePause,
            "ArrowRight" => Msg::Step,
            "l" => Msg::Live,
            "f" => Msg::Post(if self.frozen {
                "/api/thaw"
            } else {
                "/api/freeze"
            }),
            "h" => Msg::Fault(json!({"heal": true})),
            "k" => match leader {
                Some(name) => Msg::Fault(json!({ "kill": name })),
                None => return false,
            },
            "p" => match leader {
                Some(name) => Msg::Fault(json!({ "partition": [[name], others] })),
                None => return false,
            },
            _ => return false,
        };
        ctx.link().send_message(msg);
        false
    }

    /// The lab connection's state, or the demo's run: its scenario and seed (changing either
    /// runs the demo again) and the digest of its events for the browser test.
    fn source_status(&self, ctx: &Context<Self>) -> Html {
        let Backend::Simulated(sim) = &self.backend else {
            return html! {
                <span class={classes!("conn", self.connected.then_some("up"))}>
                    { if self.connected { "live" } else { "connecting…" } }
                </span>
            };
        };
        let on_scenario = ctx.link().callback(|e: Event| {
            let select: web_sys::HtmlSelectElement = e.target_unchecked_into();
            Msg::DemoRerun("scenario", select.value())
        });
        let on_seed = ctx.link().callback(|e: Event| {
            let input: HtmlInputElement = e.target_unchecked_into();
            Msg::DemoRerun("seed", input.value())
        });
        let chosen = if sim.scenario().starts_with("random") {
            "random"
        } else {
            sim.scenario()
        };
        let names = etcdlab_core::sim::scenario::builtin()
            .into_iter()
            .map(|s| s.name)
            .chain(["random".to_string()]);
        html! {
            <span class="conn demo controls" data-demo="">
                { "demo (simulated) " }
                <select data-demo-scenario="" onchange={on_scenario}>
                    { for names.map(|name| html! {
                        <option value={name.clone()} selected={name == chosen}>{ name.clone() }</option>
                    }) }
                </select>
                <label>{ " seed " }
                    <input data-demo-seed="" type="number" min="0" value={sim.seed().to_string()} onchange={on_seed} />
                </label>
                if let Some(why) = sim.failure() {
                    <span class="sim-error" data-sim-error="">{ " simulator failed: " }{ why }</span>
                }
                <span hidden=true data-sim-digest={sim.digest().unwrap_or_default().to_string()}
                    data-sim-now={sim.now_ms().to_string()} data-sim-bench={self.bench.clone()}></span>
            </span>
        }
    }

    fn time_controls(&self, ctx: &Context<Self>) -> Html {
        let link = ctx.link();
        let playback = &self.playback;
        let on_speed = link.callback(|e: InputEvent| {
            let input: HtmlInputElement = e.target_unchecked_into();
            Msg::Speed(input.value().parse::<f64>().unwrap_or(1.0))
        });
        let on_seek = link.callback(|e: InputEvent| {
            let input: HtmlInputElement = e.target_unchecked_into();
            Msg::Seek(input.value().parse::<usize>().unwrap_or(0))
        });
        html! {
            <div class="time controls">
                <button data-action="pause" onclick={link.callback(|_| Msg::TogglePause)}>
                    { if playback.paused { "▶ play" } else { "❚❚ pause" } }
                </button>
                <button data-action="step" onclick={link.callback(|_| Msg::Step)}>{ "step →" }</button>
                <button data-action="live" onclick={link.callback(|_| Msg::Live)}>{ "live" }</button>
                <label>{ format!("speed {:.1}×", playback.speed) }
                    <input type="range" min="0.1" max="4" step="0.1" value={playback.speed.to_string()} oninput={on_speed} />
                </label>
                <label class="scrub">{ format!("event {}/{}", playback.cursor(), playback.len()) }
                    <input type="range" min="0" max={playback.len().to_string()} value={playback.cursor().to_string()} oninput={on_seek} />
                </label>
                <button data-action="freeze" onclick={link.callback({
                    let frozen = self.frozen;
                    move |_| Msg::Post(if frozen { "/api/thaw" } else { "/api/freeze" })
                })}>{ if self.frozen { "thaw cluster" } else { "freeze cluster" } }</button>
            </div>
        }
    }

    /// A number that changes when the terminal's lines or input change.
    fn terminal_version(&self) -> u64 {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        use std::hash::{Hash, Hasher};
        (
            self.terminal_lines.len(),
            self.terminal_lines.last(),
            &self.terminal_input,
        )
            .hash(&mut hasher);
        hasher.finish()
    }

    /// A number that changes when the side panel (controls, inspector) would show otherwise.
    fn side_version(&self) -> u64 {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        use std::hash::{Hash, Hasher};
        match &self.selection {
            None => 0u8.hash(&mut hasher),
            Some(Selection::Member(id)) => (1u8, id, self.playback.cursor()).hash(&mut hasher),
            Some(Selection::Flight(from, id)) => {
                (2u8, from, id, self.playback.cursor()).hash(&mut hasher)
            }
            Some(Selection::Entry(member, index)) => (3u8, member, index).hash(&mut hasher),
        }
        hasher.finish()
    }

    fn member_controls(&self, ctx: &Context<Self>) -> Html {
        let Some(Selection::Member(id)) = &self.selection else {
            return html! { <div class="member-controls controls"><p>{ "Click a member to kill, restart, pause or resume it, or make it time out (campaign)." }</p></div> };
        };
        let Some(member) = self.playback.view().members.get(id) else {
            return html! {};
        };
        let name = member.name.clone();
        let button = |verb: &'static str| {
            let name = name.clone();
            let onclick = ctx
                .link()
                .callback(move |_| Msg::Fault(json!({ verb: name.clone() })));
            html! { <button data-action={verb} onclick={onclick}>{ verb }</button> }
        };
        html! {
            <div class="member-controls controls" data-selected={name.clone()}>
                <h2>{ format!("{} ({})", name, role_name(member)) }</h2>
                { button("kill") }{ button("restart") }
                // The simulator has no pause: a demo offers what it can do.
                if matches!(self.backend, Backend::Lab) { { button("pause") }{ button("resume") } }
                { button("campaign") }
            </div>
        }
    }

    fn inspector(&self) -> Html {
        let view = self.playback.view();
        let text = match &self.selection {
            None => "Click a member, a message or a log entry to see its fields.".to_string(),
            Some(Selection::Member(id)) => view
                .members
                .get(id)
                .map(|m| {
                    let mut m = m.clone();
                    let start = m.log.len().saturating_sub(5);
                    m.log.drain(..start);
                    serde_json::to_string_pretty(&m).unwrap_or_default()
                })
                .unwrap_or_default(),
            Some(Selection::Flight(from, id)) => view
                .flights
                .iter()
                .find(|f| &f.from == from && f.msg_id == *id)
                .map(|f| serde_json::to_string_pretty(f).unwrap_or_default())
                .unwrap_or_else(|| "(that message is no longer kept)".into()),
            Some(Selection::Entry(member, index)) => view
                .members
                .get(member)
                .and_then(|m| m.entry(*index))
                .map(|e| serde_json::to_string_pretty(e).unwrap_or_default())
                .unwrap_or_default(),
        };
        html! { <div class="inspector"><h2>{ "Inspector" }</h2><pre>{ text }</pre></div> }
    }

    fn terminal(&self, ctx: &Context<Self>) -> Html {
        let link = ctx.link();
        let oninput = link.callback(|e: InputEvent| {
            let input: HtmlInputElement = e.target_unchecked_into();
            Msg::TerminalInput(input.value())
        });
        let onsubmit = link.callback(|e: SubmitEvent| {
            e.prevent_default();
            Msg::TerminalSubmit
        });
        let lines: Html = self
            .terminal_lines
            .iter()
            .rev()
            .take(14)
            .rev()
            .map(|l| html! { <div class="line">{ l }</div> })
            .collect();
        html! {
            <section class="terminal controls">
                <h2>{ "etcdctl" }</h2>
                <div class="output" data-terminal="">{ lines }</div>
                <form onsubmit={onsubmit}>
                    <span>{ "$ " }</span>
                    <input data-terminal-input="" value={self.terminal_input.clone()} oninput={oninput}
                        placeholder="put key1 value1" autocomplete="off" spellcheck="false" />
                </form>
            </section>
        }
    }
}

/// A number that changes when anything the logs panel shows changes.
fn logs_version(view: &etcdlab_core::cluster_view::ClusterView) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    use std::hash::{Hash, Hasher};
    for m in view.members.values() {
        (
            &m.name,
            m.last_index(),
            m.log.first().map(|e| e.index),
            m.commit,
            m.applied,
        )
            .hash(&mut hasher);
        (m.term, role_name(m), m.kv.len()).hash(&mut hasher);
        m.log.last().map(|e| e.term).hash(&mut hasher);
        m.kv.iter().next_back().hash(&mut hasher);
    }
    hasher.finish()
}

fn join(urls: &Value) -> String {
    urls.as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect::<Vec<_>>()
        .join(",")
}

fn request_frame(ctx: &Context<App>) -> AnimationFrame {
    let link = ctx.link().clone();
    gloo_render::request_animation_frame(move |now| link.send_message(Msg::Frame(now)))
}

/// Sends key presses (outside text inputs) to the app.
fn listen_to_keys(on_key: Callback<String>) {
    let Some(document) = web_sys::window().and_then(|w| w.document()) else {
        return;
    };
    let listener = Closure::<dyn FnMut(KeyboardEvent)>::new(move |e: KeyboardEvent| {
        let typing = e
            .target()
            .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
            .is_some_and(|el| matches!(el.tag_name().as_str(), "INPUT" | "SELECT"));
        if typing || e.ctrl_key() || e.meta_key() || e.alt_key() {
            return;
        }
        if e.key() == " " || e.key() == "ArrowRight" {
            e.prevent_default();
        }
        on_key.emit(e.key());
    });
    let _ = document.add_event_listener_with_callback("keydown", listener.as_ref().unchecked_ref());
    listener.forget();
}

/// A demo of what the URL asks for, simulated in a Web Worker: with `bench`, the benchmark
/// timed first, then its workload at the fastest speed; otherwise the seed and scenario it
/// names (or the defaults) at the demo's speed. Also returns what is wrong with `bench`'s
/// parameters, or why the simulator could not start.
fn start_demo(ctx: &Context<App>, playback: &mut Playback) -> (Backend, Option<String>) {
    let seed = url_param("seed");
    let bench = url_param("bench").map(|members| {
        BenchParams::parse(&members, url_param("seconds").as_deref(), seed.as_deref())
    });
    let (kind, speed, error) = match bench {
        Some(Ok(params)) => {
            let kind = RunKind::Bench {
                members: params.members,
                seconds: params.seconds,
                seed: params.seed,
            };
            (kind, BENCH_SPEED, None)
        }
        bench => {
            let seed = seed.and_then(|s| s.parse().ok()).unwrap_or(DEFAULT_SEED);
            let scenario = url_param("scenario").unwrap_or_else(|| DEFAULT_SCENARIO.to_string());
            let error = bench.and_then(Result::err).map(|e| format!("error: {e}"));
            (RunKind::Demo { seed, scenario }, DEMO_SPEED, error)
        }
    };
    if url_param("speed").is_none() {
        playback.speed = speed;
    }
    let sim = Simulator::spawn(kind, ctx.link().callback(Msg::Simulator));
    let error = error.or_else(|| sim.failure().map(|why| format!("error: {why}")));
    (Backend::Simulated(Box::new(sim)), error)
}

/// Whether the lesson panel shows the instructor's buttons: in presenter mode, or with
/// `?instructor` in the URL.
fn instructor(presenter: bool) -> bool {
    presenter || url_param("instructor").is_some()
}

fn url_param(name: &str) -> Option<String> {
    let search = web_sys::window()?.location().search().ok()?;
    web_sys::UrlSearchParams::new_with_str(&search)
        .ok()?
        .get(name)
}

/// Keeps a setting in the URL (`None` removes it) so a reload or a shared link restores it.
fn set_url_param(name: &str, value: Option<&str>) {
    let Some(window) = web_sys::window() else {
        return;
    };
    let Ok(href) = window.location().href() else {
        return;
    };
    let Ok(url) = web_sys::Url::new(&href) else {
        return;
    };
    match value {
        Some(v) => url.search_params().set(name, v),
        None => url.search_params().delete(name),
    }
    if let Ok(history) = window.history() {
        let _ = history.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&url.href()));
    }
}
