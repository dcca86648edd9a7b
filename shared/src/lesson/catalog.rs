//! The lessons that ship with etcdlab: the files of the repository's `lessons/` folder,
//! embedded at build time so the binary and the browser have them wherever they run.

#[cfg(not(target_arch = "wasm32"))]
use super::file::parse_lesson;
#[cfg(any(test, target_arch = "wasm32"))]
use super::file::parse_lesson_json;
use super::file::{Lesson, LessonFileError};

macro_rules! lesson_files {
    ($($name:literal),* $(,)?) => {
        /// (file name, text) of every lesson, in teaching order.
        pub const LESSON_FILES: &[(&str, &str)] =
            &[$(($name, include_str!(concat!("../../../lessons/", $name)))),*];
        /// The same, each file as JSON (build.rs converts them): what the wasm embeds and
        /// parses, so the page carries no YAML parser.
        #[cfg(any(test, target_arch = "wasm32"))]
        const LESSON_JSON: &[(&str, &str)] =
            &[$(($name, include_str!(concat!(env!("OUT_DIR"), "/lessons/", $name, ".json")))),*];
    };
}

lesson_files!(
    "01-key-value.yaml",
    "02-etcdctl-versions.yaml",
    "03-kubernetes.yaml",
    "04-replicated-log.yaml",
    "05-leader-election.yaml",
    "06-quorum.yaml",
    "07-membership.yaml",
    "08-backup-restore.yaml",
    "09-tls.yaml",
    "10-endpoint-status.yaml",
    "11-watch-lease.yaml",
);

/// Every lesson, parsed, with its file name; the first bad file is an error.
pub fn lessons() -> Result<Vec<(&'static str, Lesson)>, LessonFileError> {
    #[cfg(not(target_arch = "wasm32"))]
    let (files, parse) = (LESSON_FILES, parse_lesson);
    #[cfg(target_arch = "wasm32")]
    let (files, parse) = (LESSON_JSON, parse_lesson_json);
    files
        .iter()
        .map(|(name, text)| parse(name, text).map(|lesson| (*name, lesson)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lesson::file::Language;

    #[test]
    fn every_lesson_parses_in_both_languages_with_goals_from_the_vocabulary() {
        // Parsing rejects goals outside the vocabulary and missing or empty translations.
        let lessons = lessons().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(lessons.len(), LESSON_FILES.len());
        for (name, lesson) in &lessons {
            for language in [Language::Ko, Language::En] {
                assert!(!lesson.title.get(language).trim().is_empty(), "{name}");
                for step in &lesson.steps {
                    assert!(!step.text.get(language).trim().is_empty(), "{name}");
                }
            }
        }
    }

    #[test]
    fn the_wasm_reads_the_same_lessons_from_json() {
        assert_eq!(LESSON_JSON.len(), LESSON_FILES.len());
        for ((name, yaml), (json_name, json)) in LESSON_FILES.iter().zip(LESSON_JSON) {
            assert_eq!(name, json_name);
            let from_yaml = parse_lesson(name, yaml).unwrap_or_else(|e| panic!("{e}"));
            let from_json = parse_lesson_json(name, json).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(from_yaml, from_json, "{name}");
        }
    }

    #[test]
    fn lesson_files_are_numbered_in_order() {
        for (i, (name, _)) in LESSON_FILES.iter().enumerate() {
            assert!(name.starts_with(&format!("{:02}-", i + 1)), "{name}");
        }
    }
}
