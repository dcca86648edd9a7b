//! The lessons that ship with etcdlab: the files of the repository's `lessons/` folder,
//! embedded at build time so the binary and the browser have them wherever they run.

use super::file::{Lesson, LessonFileError, parse_lesson};

macro_rules! lesson_files {
    ($($name:literal),* $(,)?) => {
        &[$(($name, include_str!(concat!("../../../lessons/", $name)))),*]
    };
}

/// (file name, text) of every lesson, in teaching order.
pub const LESSON_FILES: &[(&str, &str)] = lesson_files!(
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
    LESSON_FILES
        .iter()
        .map(|(name, text)| parse_lesson(name, text).map(|lesson| (*name, lesson)))
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
    fn lesson_files_are_numbered_in_order() {
        for (i, (name, _)) in LESSON_FILES.iter().enumerate() {
            assert!(name.starts_with(&format!("{:02}-", i + 1)), "{name}");
        }
    }
}
