//! The lesson runner beside the ring: pick one of the lessons embedded in the core
//! (`etcdlab_core::lesson::catalog`), read each step in Korean or English, copy its command or
//! run it in the page's terminal, and move on by itself once the step's goal holds.
//!
//! [`LessonRunner`] is the state (which lesson and step, the language, the baseline and the
//! verdict of the step's goal) and turns each [`LessonMsg`] into [`Effect`]s the page carries
//! out: read the cluster (a live lab's `POST /api/observe`, or in demo mode an observation
//! built from the page's own view, see [`crate::view_observation`]), run the step's scenario,
//! type a line into the terminal, copy, advance after a pause. A step whose goal holds at once
//! (a step to read and try) waits for *next*, as the terminal tutor waits for Enter, so it is
//! not skipped unread. Goals that cannot be seen
//! from the page (a file on the student's disk; in demo mode TLS, alarms, learners) are
//! marked "check by hand" and the student moves on with *next*. Goals about change read the
//! Raft events since the step began: the lab folds them for `/api/observe`, the demo folds
//! the simulator's here ([`LessonRunner::record_events`]). In demo mode the lessons the
//! simulator cannot run (`etcdlab_core::lesson::simulated::support`, which `lesson verify`
//! asks too) are marked as needing a lab.
//!
//! Instructor mode (`?instructor`, or presenter mode) adds two buttons: reset the cluster to
//! the lesson's start (the lab's `POST /api/lesson/reset`, or a fresh simulation in the
//! demo) and run the step's scenario again.
//!
//! Its state lives in the URL (`lesson=5&step=2&lang=ko`): lesson and step numbers count
//! from 1, as `etcdlab lesson start 5` does.

use std::hash::{DefaultHasher, Hash, Hasher};

use etcdlab_core::events::RaftEvent;
use etcdlab_core::lesson::command::fill_placeholders;
use etcdlab_core::lesson::file::Panel;
use etcdlab_core::lesson::simulated::{goal_simulated, support};
use etcdlab_core::lesson::{
    Baseline, Goal, GoalStatus, Language, Lesson, Observation, ObservationRequest, Step,
    StepEvents, catalog,
};
use serde_json::Value;
use web_sys::HtmlSelectElement;
use yew::prelude::*;

use crate::terminal;

/// After this long on one step, the hint (or what is still missing) is shown, as the
/// terminal tutor (`etcdlab lesson start`) does.
const HINT_AFTER_MS: f64 = 30_000.0;
/// A met goal stays on screen this long before the next step.
pub const ADVANCE_AFTER_MS: u32 = 2_000;

/// What the student (or the page) did.
#[derive(Clone)]
pub enum LessonMsg {
    /// A lesson picked by number (from 1); `None` closes the lesson.
    Pick(Option<usize>),
    Language(Language),
    /// Go to a step (from 0).
    Goto(usize),
    /// The cluster as read for the step of this epoch; `demo`: read from the simulated view.
    Observed {
        epoch: u64,
        observation: Box<Observation>,
        demo: bool,
    },
    /// The pause after the goal of this epoch's step was met is over.
    Advance(u64),
    Run,
    Copy,
    /// Instructor: put the cluster in the lesson's starting state.
    Reset,
    /// Instructor: run the step's scenario again.
    Scenario,
}

/// What the page must do for the runner.
#[derive(Debug, PartialEq)]
pub enum Effect {
    /// Read the cluster for the current step ([`LessonRunner::request`]).
    Observe,
    /// A step's scenario action: a `POST /api/faults` body.
    Fault(Value),
    /// Run this line in the terminal.
    RunLine(String),
    /// Put this text on the clipboard.
    Copy(String),
    /// Send [`LessonMsg::Advance`] with this epoch after [`ADVANCE_AFTER_MS`].
    AdvanceLater(u64),
    /// Put the cluster in this lesson's (numbered from 1) starting state, then send
    /// [`LessonMsg::Goto`] step 0.
    Reset(usize),
}

/// Where the current step's goal stands.
#[derive(Clone, Debug, PartialEq, Hash)]
enum Check {
    /// Not read yet.
    Pending,
    NotYet(String),
    Met,
    /// Met on the step's first check: the student goes on with *next*.
    MetAtOnce,
    /// The page cannot see what the goal is about.
    ByHand,
}

/// The current step.
struct Progress {
    /// From 0.
    step: usize,
    /// Changes with every step (or lesson) begun, so late answers for an old step are ignored.
    epoch: u64,
    started_ms: f64,
    /// The cluster when the step began (taken from the step's first observation).
    baseline: Option<Baseline>,
    /// The step's goal with its placeholders filled in, from the first observation.
    goal: Option<Goal>,
    /// The demo's events since the step began.
    events: StepEvents,
    /// The instructor asked for the step's scenario again.
    scenario_again: bool,
    check: Check,
    /// The command with its placeholders filled in from the cluster, once read.
    command: Option<String>,
    /// The member the step is about, by name, once read.
    focus_member: Option<String>,
    /// A scenario that could not run, or a placeholder that could not be filled.
    problem: Option<String>,
}

impl Progress {
    fn begin(step: usize, epoch: u64, now_ms: f64) -> Progress {
        Progress {
            step,
            epoch,
            started_ms: now_ms,
            baseline: None,
            goal: None,
            events: StepEvents::default(),
            scenario_again: false,
            check: Check::Pending,
            command: None,
            focus_member: None,
            problem: None,
        }
    }
}

/// The lesson panel's state.
pub struct LessonRunner {
    /// The catalog, or why it could not be read.
    lessons: Result<Vec<Lesson>, String>,
    /// The lesson shown (index into `lessons`).
    chosen: Option<usize>,
    language: Language,
    progress: Progress,
    finished: bool,
    /// Something wrong with the URL's lesson or step.
    notice: Option<String>,
    /// The page runs the simulated cluster.
    demo: bool,
    /// The instructor's buttons are shown.
    instructor: bool,
}

fn say(language: Language, ko: &'static str, en: &'static str) -> &'static str {
    match language {
        Language::Ko => ko,
        Language::En => en,
    }
}

/// The language's code in the URL.
fn code(language: Language) -> &'static str {
    say(language, "ko", "en")
}

impl LessonRunner {
    /// The runner as the URL's `lesson`, `step` and `lang` say; the language otherwise
    /// follows the browser's (`navigator.language` starting with `ko`: Korean).
    pub fn new(
        lesson: Option<&str>,
        step: Option<&str>,
        lang: Option<&str>,
        browser_language: Option<&str>,
        now_ms: f64,
    ) -> LessonRunner {
        let language = lang
            .and_then(Language::parse)
            .unwrap_or_else(|| Language::from_locale(None, browser_language));
        let lessons = catalog::lessons()
            .map(|all| all.into_iter().map(|(_, lesson)| lesson).collect())
            .map_err(|e| e.to_string());
        let mut runner = LessonRunner {
            lessons,
            chosen: None,
            language,
            progress: Progress::begin(0, 0, now_ms),
            finished: false,
            notice: None,
            demo: false,
            instructor: false,
        };
        let Some(lesson) = lesson else {
            return runner;
        };
        let count = runner.lessons.as_ref().map_or(0, Vec::len);
        match lesson.parse::<usize>() {
            Ok(n) if (1..=count).contains(&n) => runner.chosen = Some(n - 1),
            _ => {
                runner.notice = Some(format!(
                    "{} \"{lesson}\" (1–{count})",
                    say(language, "없는 레슨입니다:", "There is no lesson")
                ));
                return runner;
            }
        }
        let steps = runner.lesson().map_or(0, |l| l.steps.len());
        if let Some(step) = step {
            match step.parse::<usize>() {
                Ok(k) if (1..=steps).contains(&k) => runner.progress.step = k - 1,
                _ => {
                    runner.notice = Some(format!(
                        "{} \"{step}\" (1–{steps})",
                        say(
                            language,
                            "이 레슨에 없는 단계라 1단계부터 시작합니다:",
                            "This lesson has no such step, so it starts at step 1:"
                        )
                    ))
                }
            }
        }
        runner
    }

    fn lesson(&self) -> Option<&Lesson> {
        self.lessons.as_ref().ok()?.get(self.chosen?)
    }

    fn step(&self) -> Option<&Step> {
        self.lesson()?.steps.get(self.progress.step)
    }

    /// What to read for the current step, with the step's epoch; `None` when no lesson is
    /// under way.
    pub fn request(&self) -> Option<(u64, ObservationRequest)> {
        let step = self.step().filter(|_| !self.finished)?;
        let request = match (&self.progress.goal, &self.progress.baseline) {
            (Some(goal), Some(baseline)) => baseline.since(goal.request()),
            _ => step.request(),
        };
        Some((self.progress.epoch, request))
    }

    /// Whether the page runs the simulated cluster (lessons it cannot run are marked).
    pub fn set_demo(&mut self, demo: bool) {
        self.demo = demo;
    }

    /// Shows or hides the instructor's buttons.
    pub fn set_instructor(&mut self, instructor: bool) {
        self.instructor = instructor;
    }

    /// Folds the simulated cluster's new events into the current step's.
    pub fn record_events(&mut self, events: &[RaftEvent]) {
        for event in events {
            self.progress.events.record(event);
        }
    }

    /// The member the current step is about, by name.
    pub fn focus_member(&self) -> Option<&str> {
        self.progress.focus_member.as_deref()
    }

    /// The class that outlines the part of the page the current step is about.
    pub fn focus_class(&self) -> Option<&'static str> {
        Some(match self.step()?.focus.as_ref()?.panel? {
            // The ring shows the cluster and its events (messages, elections) alike.
            Panel::Cluster | Panel::Events => "focus-cluster",
            Panel::Log => "focus-log",
            Panel::Kv => "focus-kv",
            Panel::Terminal => "focus-terminal",
        })
    }

    /// The URL parameters that restore this state.
    pub fn url_state(&self) -> [(&'static str, Option<String>); 3] {
        let chosen = self.chosen.filter(|_| self.lesson().is_some());
        [
            ("lesson", chosen.map(|i| (i + 1).to_string())),
            ("step", chosen.map(|_| (self.progress.step + 1).to_string())),
            ("lang", Some(code(self.language).to_string())),
        ]
    }

    fn begin(&mut self, step: usize, now_ms: f64) -> Vec<Effect> {
        self.progress = Progress::begin(step, self.progress.epoch + 1, now_ms);
        self.finished = false;
        vec![Effect::Observe]
    }

    /// The current command, if the terminal can run it as it stands.
    fn runnable(&self) -> Option<&str> {
        let command = self.progress.command.as_deref()?;
        (!command.contains('{') && terminal::parse(command).is_ok()).then_some(command)
    }

    pub fn update(&mut self, msg: LessonMsg, now_ms: f64) -> Vec<Effect> {
        match msg {
            LessonMsg::Pick(lesson) => {
                self.notice = None;
                self.chosen = lesson.and_then(|n| n.checked_sub(1));
                self.begin(0, now_ms)
            }
            LessonMsg::Language(language) => {
                self.language = language;
                vec![]
            }
            LessonMsg::Goto(step) => {
                let steps = self.lesson().map_or(0, |l| l.steps.len());
                if step >= steps {
                    return vec![];
                }
                self.notice = None;
                self.begin(step, now_ms)
            }
            LessonMsg::Observed {
                epoch,
                observation,
                demo,
            } => self.observed(epoch, &observation, demo),
            LessonMsg::Advance(epoch) => {
                if epoch != self.progress.epoch || !self.met() {
                    return vec![];
                }
                let steps = self.lesson().map_or(0, |l| l.steps.len());
                if self.progress.step + 1 < steps {
                    self.begin(self.progress.step + 1, now_ms)
                } else {
                    self.finished = true;
                    vec![]
                }
            }
            LessonMsg::Run => self
                .runnable()
                .map(|c| Effect::RunLine(c.to_string()))
                .into_iter()
                .collect(),
            LessonMsg::Copy => self
                .progress
                .command
                .clone()
                .map(Effect::Copy)
                .into_iter()
                .collect(),
            LessonMsg::Reset => self
                .chosen
                .filter(|_| self.lesson().is_some())
                .map(|i| Effect::Reset(i + 1))
                .into_iter()
                .collect(),
            LessonMsg::Scenario => {
                if self.step().is_none_or(|s| s.scenario.is_empty()) {
                    return vec![];
                }
                self.progress.scenario_again = true;
                vec![Effect::Observe]
            }
        }
    }

    fn observed(&mut self, epoch: u64, observation: &Observation, demo: bool) -> Vec<Effect> {
        if epoch != self.progress.epoch || self.finished {
            return vec![];
        }
        let Some(step) = self.step().cloned() else {
            return vec![];
        };
        if self.met() {
            // A met step waits for the student; the instructor may still run its scenario.
            if !std::mem::take(&mut self.progress.scenario_again) {
                return vec![];
            }
            return scenario_faults(&step, observation, &mut self.progress.problem);
        }
        let mut effects = Vec::new();
        let progress = &mut self.progress;
        let first_check = progress.baseline.is_none();
        if first_check {
            progress.baseline = Some(Baseline::of(observation));
            progress.events = StepEvents::default();
            progress.goal = match step.goal.filled(observation) {
                Ok(goal) => Some(goal),
                Err(e) => {
                    progress.problem = Some(e.to_string());
                    None
                }
            };
        }
        let mut observation = observation.clone();
        if demo {
            observation.events = Some(progress.events.clone());
        }
        let observation = &observation;
        if first_check || progress.scenario_again {
            progress.scenario_again = false;
            effects.extend(scenario_faults(&step, observation, &mut progress.problem));
        }
        if let Some(command) = &step.command {
            progress.command = Some(match fill_placeholders(command, observation) {
                Ok(filled) => filled,
                Err(e) => {
                    progress.problem = Some(e.to_string());
                    command.clone()
                }
            });
        }
        progress.focus_member = step
            .focus
            .as_ref()
            .and_then(|f| f.member.as_ref())
            .and_then(|m| m.resolve(observation).ok());
        let goal = progress.goal.as_ref().unwrap_or(&step.goal);
        let by_hand = match goal {
            // The lab does not look at the student's disk, and neither can the page.
            Goal::SnapshotFileExists { .. } => true,
            goal => demo && !goal_simulated(goal),
        };
        progress.check = if by_hand {
            Check::ByHand
        } else {
            let baseline = progress.baseline.clone().unwrap_or_default();
            match goal.evaluate(observation, &baseline) {
                GoalStatus::Met if first_check && step.command.is_some() => Check::MetAtOnce,
                GoalStatus::Met => {
                    effects.push(Effect::AdvanceLater(epoch));
                    Check::Met
                }
                GoalStatus::NotYet(missing) => Check::NotYet(missing),
            }
        };
        effects
    }

    fn met(&self) -> bool {
        matches!(self.progress.check, Check::Met | Check::MetAtOnce)
    }

    fn hint_due(&self, now_ms: f64) -> bool {
        now_ms - self.progress.started_ms >= HINT_AFTER_MS
    }

    /// A number that changes whenever the panel would look otherwise at `now_ms`.
    pub fn version(&self, now_ms: f64) -> u64 {
        let mut hasher = DefaultHasher::new();
        let p = &self.progress;
        (self.chosen, code(self.language), p.step, p.epoch, &p.check).hash(&mut hasher);
        (&p.command, &p.problem, &self.notice, self.finished).hash(&mut hasher);
        (self.demo, self.instructor).hash(&mut hasher);
        self.hint_due(now_ms).hash(&mut hasher);
        hasher.finish()
    }

    pub fn view(&self, now_ms: f64, on: &Callback<LessonMsg>) -> Html {
        let language = self.language;
        let lessons = match &self.lessons {
            Ok(lessons) => lessons,
            Err(e) => {
                return html! { <section class="lesson"><p class="lesson-notice">{ e }</p></section> };
            }
        };
        let on_pick = on.reform(|e: Event| {
            let select: HtmlSelectElement = e.target_unchecked_into();
            LessonMsg::Pick(select.value().parse().ok())
        });
        let other = match language {
            Language::Ko => Language::En,
            Language::En => Language::Ko,
        };
        let on_language = on.reform(move |_| LessonMsg::Language(other));
        let number = self.chosen.map(|i| (i + 1).to_string()).unwrap_or_default();
        let met = self.met();
        html! {
            <section class="lesson" data-lesson={number.clone()}
                data-step={(self.progress.step + 1).to_string()}
                data-goal-met={met.to_string()} data-lang={code(language)}>
                <div class="lesson-bar">
                    <select data-lesson-pick="" onchange={on_pick}>
                        <option value="" selected={self.chosen.is_none()}>
                            { say(language, "— 레슨 고르기 —", "— pick a lesson —") }
                        </option>
                        { for lessons.iter().enumerate().map(|(i, lesson)| html! {
                            <option value={(i + 1).to_string()} selected={self.chosen == Some(i)}
                                data-needs-lab={(self.demo && support(lesson).is_err()).then_some("")}>
                                { format!("{}. {}{}", i + 1, lesson.title.get(language), self.needs_lab(lesson)) }
                            </option>
                        }) }
                    </select>
                    <button data-lesson-lang={code(other)} onclick={on_language}>
                        { say(language, "English", "한국어") }
                    </button>
                </div>
                if let Some(notice) = &self.notice {
                    <p class="lesson-notice" data-lesson-notice="">{ notice }</p>
                }
                { self.step_view(now_ms, on) }
            </section>
        }
    }

    /// The picker's mark for a lesson the demo cannot run.
    fn needs_lab(&self, lesson: &Lesson) -> &'static str {
        if self.demo && support(lesson).is_err() {
            say(self.language, " (랩 필요)", " (needs a lab)")
        } else {
            ""
        }
    }

    /// The instructor's buttons: reset to the lesson's start, run the step's scenario.
    fn instructor_view(&self, step: &Step, on: &Callback<LessonMsg>) -> Html {
        let language = self.language;
        html! {
            <div class="lesson-instructor" data-lesson-instructor="">
                <button data-lesson-reset="" onclick={on.reform(|_| LessonMsg::Reset)}>
                    { say(language, "레슨 처음 상태로 되돌리기", "reset to this lesson's start") }
                </button>
                if !step.scenario.is_empty() {
                    <button data-lesson-scenario="" onclick={on.reform(|_| LessonMsg::Scenario)}>
                        { say(language, "이 단계의 시나리오 실행", "run this step's scenario") }
                    </button>
                }
            </div>
        }
    }

    fn step_view(&self, now_ms: f64, on: &Callback<LessonMsg>) -> Html {
        let (Some(lesson), Some(step)) = (self.lesson(), self.step()) else {
            return html! {};
        };
        let language = self.language;
        let p = &self.progress;
        let total = lesson.steps.len();
        let paragraphs = step
            .text
            .get(language)
            .trim()
            .split("\n\n")
            .map(|paragraph| html! { <p>{ paragraph.split_whitespace().collect::<Vec<_>>().join(" ") }</p> });
        let status = match (&p.check, self.finished) {
            (_, true) => say(language, "레슨 완료 ✓", "Lesson complete ✓").to_string(),
            (Check::Met, false) => {
                say(language, "✓ 완료 — 다음 단계로", "✓ done — next step").to_string()
            }
            (Check::MetAtOnce, false) => say(
                language,
                "✓ 완료 — 읽고 해 본 뒤 다음을 누르세요",
                "✓ done — read, try it, then press next",
            )
            .to_string(),
            (Check::Pending, false) => say(language, "확인 중…", "checking…").to_string(),
            (Check::NotYet(_), false) => {
                say(language, "기다리는 중…", "waiting for the goal…").to_string()
            }
            (Check::ByHand, false) => say(
                language,
                "이 단계는 이 페이지에서 확인할 수 없습니다: 직접 확인하고 다음으로 넘어가세요.",
                "This page cannot check this step: check it by hand, then press next.",
            )
            .to_string(),
        };
        let hint = match (&p.check, &step.hint) {
            (Check::NotYet(_), Some(hint)) => Some(format!(
                "{} {}",
                say(language, "힌트:", "Hint:"),
                hint.get(language).trim()
            )),
            (Check::NotYet(missing), None) => {
                Some(format!("{} {missing}", say(language, "아직:", "Not yet:")))
            }
            _ => None,
        }
        .filter(|_| self.hint_due(now_ms));
        let command = p.command.as_ref().or(step.command.as_ref()).map(|command| {
            let run = self.runnable().is_some();
            html! {
                <div class="lesson-command">
                    <code data-lesson-command="">{ command }</code>
                    <button data-lesson-copy="" onclick={on.reform(|_| LessonMsg::Copy)}>{ say(language, "복사", "copy") }</button>
                    if run {
                        <button data-lesson-run="" onclick={on.reform(|_| LessonMsg::Run)}>{ say(language, "실행", "run") }</button>
                    } else {
                        <small>{ say(language, "셸에서 실행하세요", "run it in a shell") }</small>
                    }
                </div>
            }
        });
        let step_index = p.step;
        // Next after a met goal is the advance the goal earned (on the last step: the end).
        let next = if self.met() {
            LessonMsg::Advance(p.epoch)
        } else {
            LessonMsg::Goto(step_index + 1)
        };
        let next_disabled = self.finished || (step_index + 1 >= total && !self.met());
        let unsimulated = support(lesson).err().filter(|_| self.demo).map(|why| {
            format!(
                "{} ({why})",
                say(
                    language,
                    "데모는 이 레슨을 다 실행하지 못합니다. `etcdlab lab` 을 시작하세요",
                    "The demo cannot run all of this lesson; start `etcdlab lab` for it"
                )
            )
        });
        html! { <>
            <h2>{ lesson.title.get(language) }</h2>
            if let Some(why) = unsimulated {
                <p class="lesson-notice" data-lesson-needs-lab="">{ why }</p>
            }
            if self.instructor {
                { self.instructor_view(step, on) }
            }
            <p class="lesson-progress">{ match language {
                Language::Ko => format!("{total}단계 중 {}단계", step_index + 1),
                Language::En => format!("step {} of {total}", step_index + 1),
            } }</p>
            <div class="lesson-text">{ for paragraphs }</div>
            { for command }
            if let Some(problem) = &p.problem {
                <p class="lesson-notice">{ problem }</p>
            }
            <p class={classes!("lesson-status", (self.met() || self.finished).then_some("met"))}
                data-lesson-status="">{ status }</p>
            if let Some(hint) = hint {
                <p class="lesson-hint" data-lesson-hint="">{ hint }</p>
            }
            <div class="lesson-nav">
                <button data-lesson-prev="" disabled={step_index == 0}
                    onclick={on.reform(move |_| LessonMsg::Goto(step_index.saturating_sub(1)))}>
                    { say(language, "← 이전", "← back") }
                </button>
                <button data-lesson-next="" disabled={next_disabled}
                    onclick={on.reform(move |_| next.clone())}>
                    { say(language, "다음 →", "next →") }
                </button>
            </div>
        </> }
    }
}

/// The fault requests of `step`'s scenario on the cluster as observed; a scenario that cannot
/// be carried out (a member it names is missing) is reported as the step's problem.
fn scenario_faults(
    step: &Step,
    observation: &Observation,
    problem: &mut Option<String>,
) -> Vec<Effect> {
    let mut effects = Vec::new();
    for action in &step.scenario {
        match action.fault_requests(observation) {
            Ok(bodies) => effects.extend(bodies.into_iter().map(Effect::Fault)),
            Err(e) => *problem = Some(e.to_string()),
        }
    }
    effects
}

#[cfg(test)]
mod tests {
    use super::*;
    use etcdlab_core::lesson::{MemberState, ObservedMember};

    fn cluster(leader: &str, term: u64) -> Observation {
        let member = |name: &str| ObservedMember {
            name: name.into(),
            id: format!("id-{name}"),
            state: MemberState::Up,
            role: Some(if name == leader { "leader" } else { "follower" }.into()),
            term,
            leader: Some(format!("id-{leader}")),
            commit_index: 5,
            applied_index: 5,
        };
        Observation {
            members: vec![member("m1"), member("m2"), member("m3")],
            ..Observation::default()
        }
    }

    fn observed(runner: &mut LessonRunner, observation: Observation) -> Vec<Effect> {
        let epoch = runner.request().expect("a step under way").0;
        runner.update(
            LessonMsg::Observed {
                epoch,
                observation: Box::new(observation),
                demo: false,
            },
            0.0,
        )
    }

    #[test]
    fn the_url_picks_lesson_step_and_language() {
        let runner = LessonRunner::new(Some("5"), Some("2"), None, Some("ko-KR"), 0.0);
        assert_eq!(
            runner.url_state(),
            [
                ("lesson", Some("5".into())),
                ("step", Some("2".into())),
                ("lang", Some("ko".into()))
            ]
        );
        assert!(runner.notice.is_none());
        let english = LessonRunner::new(None, None, Some("en"), Some("ko"), 0.0);
        assert_eq!(english.url_state()[2].1.as_deref(), Some("en"));
        assert!(english.request().is_none());
    }

    #[test]
    fn a_bad_lesson_or_step_in_the_url_is_a_notice() {
        let runner = LessonRunner::new(Some("99"), None, Some("en"), None, 0.0);
        assert!(runner.request().is_none());
        assert!(
            runner
                .notice
                .as_deref()
                .unwrap()
                .contains("no lesson \"99\"")
        );
        let runner = LessonRunner::new(Some("5"), Some("x"), Some("en"), None, 0.0);
        assert!(runner.request().is_some());
        assert_eq!(runner.progress.step, 0);
        assert!(runner.notice.is_some());
    }

    #[test]
    fn a_met_goal_advances_after_a_pause() {
        let mut runner = LessonRunner::new(Some("5"), None, Some("en"), None, 0.0);
        // Step 1's goal holds at once: it waits for next.
        assert_eq!(observed(&mut runner, cluster("m1", 2)), vec![]);
        assert_eq!(runner.progress.check, Check::MetAtOnce);
        assert_eq!(
            runner.update(LessonMsg::Advance(0), 0.0),
            vec![Effect::Observe]
        );
        assert_eq!(runner.progress.step, 1);
        // Step 2 (leader_changed): the baseline is m1; the command names the leader.
        assert_eq!(observed(&mut runner, cluster("m1", 2)), vec![]);
        assert_eq!(runner.runnable(), Some("etcdlab lab kill m1"));
        assert_eq!(
            runner.update(LessonMsg::Run, 0.0),
            vec![Effect::RunLine("etcdlab lab kill m1".into())]
        );
        assert_eq!(
            observed(&mut runner, cluster("m2", 3)),
            vec![Effect::AdvanceLater(1)]
        );
        // An answer for an older step changes nothing.
        assert_eq!(runner.update(LessonMsg::Advance(0), 0.0), vec![]);
    }

    #[test]
    fn a_step_scenario_runs_once_when_the_step_begins() {
        let mut runner = LessonRunner::new(Some("5"), Some("3"), Some("en"), None, 0.0);
        let mut seen = cluster("m2", 3);
        seen.members[0].state = MemberState::Down;
        let effects = observed(&mut runner, seen.clone());
        assert_eq!(
            effects,
            vec![Effect::Fault(serde_json::json!({"restart": "m1"}))]
        );
        assert_eq!(observed(&mut runner, seen), vec![]);
    }

    #[test]
    fn the_hint_shows_after_a_while() {
        let runner = LessonRunner::new(Some("5"), None, Some("en"), None, 1_000.0);
        assert!(!runner.hint_due(2_000.0));
        assert!(runner.hint_due(1_000.0 + HINT_AFTER_MS));
    }

    #[test]
    fn the_instructor_resets_the_lesson_and_runs_the_scenario_again() {
        let mut runner = LessonRunner::new(Some("5"), Some("3"), Some("en"), None, 0.0);
        assert_eq!(runner.update(LessonMsg::Reset, 0.0), vec![Effect::Reset(5)]);
        let mut seen = cluster("m2", 3);
        seen.members[0].state = MemberState::Down;
        assert_eq!(
            observed(&mut runner, seen.clone()),
            vec![Effect::Fault(serde_json::json!({"restart": "m1"}))]
        );
        assert_eq!(observed(&mut runner, seen.clone()), vec![]);
        assert_eq!(
            runner.update(LessonMsg::Scenario, 0.0),
            vec![Effect::Observe]
        );
        assert_eq!(
            observed(&mut runner, seen),
            vec![Effect::Fault(serde_json::json!({"restart": "m1"}))],
            "the scenario runs again, on the cluster as it is now"
        );
        // Step 1 has no scenario to run.
        runner.update(LessonMsg::Goto(0), 0.0);
        assert_eq!(runner.update(LessonMsg::Scenario, 0.0), vec![]);
    }

    #[test]
    fn in_the_demo_a_leader_change_is_seen_in_the_simulators_events() {
        use etcdlab_core::events::{EventKind, Role, SCHEMA_VERSION};
        let mut runner = LessonRunner::new(Some("5"), Some("2"), Some("en"), None, 0.0);
        runner.set_demo(true);
        let epoch = runner.request().unwrap().0;
        let demo_observed = |runner: &mut LessonRunner, seen| {
            runner.update(
                LessonMsg::Observed {
                    epoch,
                    observation: Box::new(seen),
                    demo: true,
                },
                0.0,
            )
        };
        assert_eq!(demo_observed(&mut runner, cluster("m1", 2)), vec![]);
        // m2 won term 3 and m1 term 4; the page's view still shows m1 in term 2.
        for (node, term) in [("m2", 3), ("m1", 4)] {
            runner.record_events(&[RaftEvent {
                v: SCHEMA_VERSION,
                seq: 1,
                ts_ms: 0,
                node: node.into(),
                id: format!("id-{node}"),
                term,
                kind: EventKind::RoleChanged {
                    role: Role::Leader,
                    leader: format!("id-{node}"),
                    election_timeout_ticks: 10,
                },
            }]);
        }
        assert_eq!(
            demo_observed(&mut runner, cluster("m1", 2)),
            vec![Effect::AdvanceLater(epoch)]
        );
    }

    #[test]
    fn the_demo_marks_the_lessons_the_simulator_cannot_run() {
        let mut runner = LessonRunner::new(None, None, Some("en"), None, 0.0);
        let lessons = runner.lessons.clone().unwrap();
        assert_eq!(runner.needs_lab(&lessons[2]), "", "live mode marks nothing");
        runner.set_demo(true);
        assert_eq!(runner.needs_lab(&lessons[2]), " (needs a lab)");
        assert_eq!(runner.needs_lab(&lessons[4]), "");
    }
}
