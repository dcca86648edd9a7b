//! The lesson file format: YAML, one lesson per file, every text in Korean and English.
//!
//! ```yaml
//! title: {ko: "키-값 저장소", en: "A key-value store"}
//! requires: {sample: kubernetes}       # optional: tls, sample, size
//! steps:
//!   - text: {ko: "...", en: "..."}
//!     command: etcdctl --endpoints 127.0.0.1:2379 put greeting hello   # optional
//!     focus: {member: leader, panel: log}                              # optional
//!     scenario: [{kill: leader}]                                       # optional
//!     goal: {key_equals: {key: greeting, value: hello, on: all}}
//!     hint: {ko: "...", en: "..."}                                     # optional
//! ```
//!
//! Unknown fields, goals outside the vocabulary and missing translations are errors that name
//! the file, line and column, so a lesson author finds the mistake at once.

use serde::Deserialize;

use super::command::port_names;
use super::goal::Goal;
use super::observation::ObservationRequest;
use super::scenario::{MemberRef, ScenarioAction};
use super::yaml_enum::{list_of_word_or_map, word_or_map};

/// The language a lesson is shown in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Language {
    Ko,
    En,
}

impl Language {
    /// Korean when the locale (`LC_ALL`, else `LANG`) starts with `ko`, English otherwise.
    pub fn from_locale(lc_all: Option<&str>, lang: Option<&str>) -> Language {
        let locale = lc_all.filter(|v| !v.is_empty()).or(lang).unwrap_or("");
        if locale.starts_with("ko") {
            Language::Ko
        } else {
            Language::En
        }
    }

    /// `ko` or `en` (as `--lang` takes it); `None` for anything else.
    pub fn parse(code: &str) -> Option<Language> {
        match code {
            "ko" => Some(Language::Ko),
            "en" => Some(Language::En),
            _ => None,
        }
    }
}

/// A text in both languages; both are required and non-empty.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Text {
    #[serde(deserialize_with = "non_empty")]
    pub ko: String,
    #[serde(deserialize_with = "non_empty")]
    pub en: String,
}

impl Text {
    pub fn get(&self, language: Language) -> &str {
        match language {
            Language::Ko => &self.ko,
            Language::En => &self.en,
        }
    }
}

fn non_empty<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    let text = String::deserialize(deserializer)?;
    if text.trim().is_empty() {
        return Err(serde::de::Error::custom("a translation must not be empty"));
    }
    Ok(text)
}

/// What a lesson needs from the lab it runs on.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Requirements {
    /// The lab must run with client and peer TLS (`etcdlab lab --tls`).
    #[serde(default)]
    pub tls: bool,
    /// A data set the lab loads before the lesson (`etcdlab lab --sample kubernetes`).
    #[serde(default)]
    pub sample: Option<String>,
    /// The number of members (3 unless given).
    #[serde(default)]
    pub size: Option<u16>,
}

/// Which part of the visualizer a step is about.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Focus {
    /// The member to highlight (`leader`, `follower` or a name).
    #[serde(default)]
    pub member: Option<MemberRef>,
    /// The panel to highlight.
    #[serde(default)]
    pub panel: Option<Panel>,
}

/// The visualizer's panels a step can point at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Panel {
    Cluster,
    Log,
    Kv,
    Events,
    Terminal,
}

/// One step: what to read, optionally what to type, and the goal that ends it.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    pub text: Text,
    /// The command exactly as a student types it (may hold the placeholders of
    /// [`super::command`]).
    #[serde(default)]
    pub command: Option<String>,
    /// The command keeps running (a watch, a member): the student runs it in a second
    /// terminal; `lesson verify` starts it and stops it when the lesson ends.
    #[serde(default)]
    pub background: bool,
    /// The command is meant to fail (a write without quorum); `lesson verify` checks it does.
    #[serde(default)]
    pub fails: bool,
    #[serde(default)]
    pub focus: Option<Focus>,
    /// Lab actions this step is about ("kill the leader"), run by the runner before the step's
    /// command, and on demand by `etcdlab lesson scenario`.
    #[serde(default, deserialize_with = "list_of_word_or_map")]
    pub scenario: Vec<ScenarioAction>,
    #[serde(deserialize_with = "word_or_map")]
    pub goal: Goal,
    /// Shown when the goal takes a while.
    #[serde(default)]
    pub hint: Option<Text>,
}

impl Step {
    /// What to read when the step begins: what its goal reads, and the ports its command and
    /// goal name.
    pub fn request(&self) -> ObservationRequest {
        let mut request = self.goal.request();
        request
            .ports
            .extend(self.command.as_deref().map(port_names).unwrap_or_default());
        request
    }
}

/// A lesson: a title, what it needs from the lab, and its steps.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lesson {
    pub title: Text,
    #[serde(default)]
    pub requires: Requirements,
    pub steps: Vec<Step>,
}

/// A lesson file that cannot be used, with where the problem is.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{file}:{line}:{column}: {message}")]
pub struct LessonFileError {
    pub file: String,
    /// 1-based; 0 when the problem is the whole file.
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// The parser's message without its " at line L column C" tail (the error names the place).
fn without_location(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(at) => message[..at].to_string(),
        None => message.to_string(),
    }
}

/// Parses the lesson file `file` (its name, for errors) holding `text`.
#[cfg(not(target_arch = "wasm32"))]
pub fn parse_lesson(file: &str, text: &str) -> Result<Lesson, LessonFileError> {
    let lesson: Lesson = serde_yaml::from_str(text).map_err(|error| {
        let (line, column) = error
            .location()
            .map(|l| (l.line(), l.column()))
            .unwrap_or((0, 0));
        LessonFileError {
            file: file.to_string(),
            line,
            column,
            message: without_location(&error.to_string()),
        }
    })?;
    with_steps(file, lesson)
}

/// Parses a lesson file converted to JSON at build time (the wasm's copy of `lessons/`, see
/// `build.rs`); an error's line and column are the JSON's.
#[cfg(any(test, target_arch = "wasm32"))]
pub fn parse_lesson_json(file: &str, json: &str) -> Result<Lesson, LessonFileError> {
    let lesson: Lesson = serde_json::from_str(json).map_err(|error| LessonFileError {
        file: file.to_string(),
        line: error.line(),
        column: error.column(),
        message: without_location(&error.to_string()),
    })?;
    with_steps(file, lesson)
}

fn with_steps(file: &str, lesson: Lesson) -> Result<Lesson, LessonFileError> {
    if lesson.steps.is_empty() {
        return Err(LessonFileError {
            file: file.to_string(),
            line: 0,
            column: 0,
            message: "a lesson needs at least one step".into(),
        });
    }
    Ok(lesson)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lesson::goal::{Goal, KeyScope};

    #[test]
    fn a_lesson_parses_with_goals_in_both_forms() {
        let text = "title: {ko: 제목, en: Title}\n\
                    requires: {sample: kubernetes}\n\
                    steps:\n\
                    \x20 - text: {ko: 하나, en: One}\n\
                    \x20   command: etcdctl put k v\n\
                    \x20   scenario: [{kill: leader}, heal]\n\
                    \x20   goal: {key_equals: {key: k, value: v, on: m2}}\n\
                    \x20 - text: {ko: 둘, en: Two}\n\
                    \x20   goal: leader_elected\n";
        let lesson = parse_lesson("t.yaml", text).expect("parses");
        assert_eq!(lesson.requires.sample.as_deref(), Some("kubernetes"));
        assert_eq!(
            lesson.steps[0].goal,
            Goal::KeyEquals {
                key: "k".into(),
                value: "v".into(),
                on: KeyScope::Member("m2".into())
            }
        );
        assert_eq!(lesson.steps[0].scenario.len(), 2);
        assert_eq!(lesson.steps[1].goal, Goal::LeaderElected);
        assert_eq!(lesson.steps[1].text.get(Language::Ko), "둘");
    }

    #[test]
    fn an_unknown_goal_is_rejected_with_file_and_line() {
        let error = parse_lesson(
            "unknown-goal.yaml",
            include_str!("testdata/unknown-goal.yaml"),
        )
        .expect_err("rejected");
        assert_eq!((error.file.as_str(), error.line), ("unknown-goal.yaml", 6));
        assert!(
            error.message.contains("unknown variant `key_is_purple`"),
            "{error}"
        );
        assert!(!error.message.contains("at line"), "{error}");
        assert!(
            error.to_string().starts_with("unknown-goal.yaml:6:"),
            "{error}"
        );
    }

    #[test]
    fn a_missing_translation_is_rejected_with_file_and_line() {
        let error = parse_lesson(
            "missing-translation.yaml",
            include_str!("testdata/missing-translation.yaml"),
        )
        .expect_err("rejected");
        assert_eq!(error.file, "missing-translation.yaml");
        assert!(error.line == 3 || error.line == 4, "{error}");
        assert!(error.message.contains("missing field `ko`"), "{error}");
    }

    #[test]
    fn an_empty_translation_is_rejected_with_file_and_line() {
        let error = parse_lesson(
            "empty-translation.yaml",
            include_str!("testdata/empty-translation.yaml"),
        )
        .expect_err("rejected");
        assert_eq!(error.line, 6, "{error}");
        assert!(error.message.contains("must not be empty"), "{error}");
    }

    #[test]
    fn the_locale_picks_the_language() {
        assert_eq!(
            Language::from_locale(None, Some("ko_KR.UTF-8")),
            Language::Ko
        );
        assert_eq!(
            Language::from_locale(Some("en_US.UTF-8"), Some("ko_KR")),
            Language::En
        );
        assert_eq!(Language::from_locale(Some(""), Some("ko")), Language::Ko);
        assert_eq!(Language::from_locale(None, None), Language::En);
    }
}
