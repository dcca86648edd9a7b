//! `etcdlab lesson`: the guided lessons of `etcdlab_core::lesson` in the terminal.
//!
//! `list` shows them; `start <n>` walks a student through one against the running lab
//! ([`tutor`]); `reset <n>` and `scenario <n> <step>` are the instructor's: a lesson's starting
//! state, or one step's scenario, on demand; `verify` runs lessons end to end on labs of its
//! own and on the simulator where the lesson supports it ([`verify`], [`simulate`]).
//! [`lab_client`] talks to the lab's API, [`shell`] runs commands as a student types them,
//! [`step`] holds what the tutor and verify share. Texts are in Korean when
//! the locale says so (`LANG`/`LC_ALL` starting with `ko`), else in English; `--lang` decides.

mod lab_client;
mod shell;
mod simulate;
mod step;
mod tutor;
mod verify;

use std::ffi::OsString;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::Parser;
use etcdlab_core::lesson::catalog;
use etcdlab_core::lesson::{Language, Lesson};

use self::lab_client::LabClient;
use self::verify::Mode;
use crate::lab::DEFAULT_UI_ADDR;

/// `etcdlab lesson`: guided lessons on etcd and Raft, checked against the lab.
#[derive(Parser, Debug)]
#[command(name = "etcdlab lesson")]
struct LessonFlags {
    /// Language of the texts: ko or en [default: from LC_ALL / LANG]
    #[arg(long, global = true, value_parser = ["ko", "en"])]
    lang: Option<String>,
    /// The lab's page and control API (`etcdlab lab --ui-addr`): host:port, or its URL as the
    /// lab prints it (http://host:port/).
    #[arg(long, global = true, default_value = DEFAULT_UI_ADDR, value_parser = lab_address)]
    lab: String,
    #[command(subcommand)]
    action: LessonAction,
}

#[derive(clap::Subcommand, Debug)]
enum LessonAction {
    /// List the lessons
    List,
    /// Walk through a lesson against the running lab
    Start {
        /// Lesson number (or file name, e.g. 01-key-value)
        lesson: String,
    },
    /// Instructor: put the lab in a lesson's starting state (heal, restart, wipe keys, sample)
    Reset { lesson: String },
    /// Instructor: run one step's scenario now (e.g. kill or cut off the leader)
    Scenario {
        lesson: String,
        /// Step number, from 1
        step: usize,
    },
    /// Run lessons end to end, each on a fresh lab of its own
    Verify {
        /// Every lesson
        #[arg(long, conflicts_with = "lesson")]
        all: bool,
        lesson: Option<String>,
        /// Only on a lab, or only on the simulator [default: both]
        #[arg(long, value_parser = ["lab", "sim"])]
        only: Option<String>,
    },
}

pub fn main(args: Vec<OsString>) -> ExitCode {
    let flags = match crate::tool::parse::<LessonFlags>(args) {
        Ok(flags) => flags,
        Err(code) => return code,
    };
    let language = match flags.lang.as_deref().and_then(Language::parse) {
        Some(language) => language,
        None => Language::from_locale(
            std::env::var("LC_ALL").ok().as_deref(),
            std::env::var("LANG").ok().as_deref(),
        ),
    };
    crate::tool::run("etcdlab lesson", run(flags, language))
}

/// Every lesson with its number and file name.
fn all_lessons() -> anyhow::Result<Vec<(usize, &'static str, Lesson)>> {
    Ok(catalog::lessons()?
        .into_iter()
        .enumerate()
        .map(|(i, (file, lesson))| (i + 1, file, lesson))
        .collect())
}

/// The lesson of that number or file name (with or without `.yaml`, with or without the
/// number in front).
fn find(wanted: &str) -> anyhow::Result<(usize, &'static str, Lesson)> {
    let wanted = wanted.trim_end_matches(".yaml");
    let lessons = all_lessons()?;
    let count = lessons.len();
    lessons
        .into_iter()
        .find(|(number, file, _)| {
            let stem = file.trim_end_matches(".yaml");
            wanted.parse::<usize>().ok() == Some(*number)
                || stem == wanted
                || stem.split_once('-').map(|(_, name)| name) == Some(wanted)
        })
        .with_context(|| {
            format!("no lesson {wanted:?}: there are lessons 1 to {count} (`etcdlab lesson list`)")
        })
}

/// `--lab` as host:port, from either host:port or the page's `http://host:port/` URL.
fn lab_address(text: &str) -> Result<String, String> {
    let address = match text.split_once("://") {
        Some(("http", rest)) => rest.strip_suffix('/').unwrap_or(rest),
        Some((scheme, _)) => {
            return Err(format!(
                "the lab serves plain http, not {scheme}: give host:port or http://host:port"
            ));
        }
        None => text,
    };
    match address.rsplit_once(':') {
        Some((host, port))
            if !host.is_empty() && !address.contains('/') && port.parse::<u16>().is_ok() =>
        {
            Ok(address.to_string())
        }
        _ => Err(format!("{text:?} is not host:port or http://host:port")),
    }
}

async fn run(flags: LessonFlags, language: Language) -> anyhow::Result<()> {
    let lab = LabClient {
        addr: flags.lab.clone(),
        workdir: std::env::current_dir().context("the current folder")?,
    };
    match flags.action {
        LessonAction::List => {
            for (number, file, lesson) in all_lessons()? {
                let needs = match (&lesson.requires.sample, lesson.requires.tls) {
                    (Some(sample), _) => format!("  [--sample {sample}]"),
                    (None, true) => "  [--tls]".to_string(),
                    (None, false) => String::new(),
                };
                println!(
                    "{number:2}. {}  ({file}, {} steps){needs}",
                    lesson.title.get(language),
                    lesson.steps.len()
                );
            }
            Ok(())
        }
        LessonAction::Start { lesson } => {
            let (number, _, lesson) = find(&lesson)?;
            tutor::start(&lab, number, &lesson, language).await
        }
        LessonAction::Reset { lesson } => {
            let (number, _, lesson) = find(&lesson)?;
            lab.reset(number).await?;
            println!(
                "the lab is ready for lesson {number}: {}",
                lesson.title.get(language)
            );
            Ok(())
        }
        LessonAction::Scenario { lesson, step } => {
            let (number, _, lesson) = find(&lesson)?;
            let Some(chosen) = step.checked_sub(1).and_then(|i| lesson.steps.get(i)) else {
                bail!("lesson {number} has steps 1 to {}", lesson.steps.len());
            };
            if chosen.scenario.is_empty() {
                bail!("step {step} of lesson {number} has no scenario");
            }
            for fault in lab.run_scenario(&chosen.scenario).await? {
                println!("{fault}");
            }
            Ok(())
        }
        LessonAction::Verify { all, lesson, only } => {
            let chosen = match (all, lesson) {
                (true, _) => all_lessons()?,
                (false, Some(wanted)) => vec![find(&wanted)?],
                (false, None) => bail!("name a lesson, or --all"),
            };
            let modes = match only.as_deref() {
                Some("lab") => vec![Mode::Lab],
                Some(_) => vec![Mode::Sim],
                None => vec![Mode::Lab, Mode::Sim],
            };
            if !verify::verify(&chosen, language, &modes).await? {
                bail!("not every lesson passed");
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::lab_address;

    #[test]
    fn the_lab_is_named_by_address_or_by_its_page_url() {
        for given in [
            "127.0.0.1:8080",
            "http://127.0.0.1:8080",
            "http://127.0.0.1:8080/",
        ] {
            assert_eq!(
                lab_address(given).as_deref(),
                Ok("127.0.0.1:8080"),
                "{given}"
            );
        }
        assert_eq!(
            lab_address("localhost:9000").as_deref(),
            Ok("localhost:9000")
        );
        let https = lab_address("https://127.0.0.1:8080").unwrap_err();
        assert!(https.contains("plain http"), "{https}");
        for bad in [
            "127.0.0.1",
            "http://127.0.0.1:8080/api",
            ":8080",
            "host:port",
        ] {
            assert!(lab_address(bad).is_err(), "{bad}");
        }
    }
}
