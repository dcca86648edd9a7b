//! `etcdlab lesson start <n>`: walks a student through a lesson against their running lab —
//! prints each step and its command, runs the step's scenario, waits for the goal, and shows
//! the hint (or what is missing) when the goal takes a while.

use std::time::Duration;

use etcdlab_core::lesson::{Language, Lesson};

use super::lab_client::LabClient;
use super::shell::LabAddresses;
use super::step;

/// After this long on one step, the hint (or what is still missing) is shown.
const HINT_AFTER: Duration = Duration::from_secs(30);

fn say(language: Language, ko: &str, en: &str) -> String {
    match language {
        Language::Ko => ko.to_string(),
        Language::En => en.to_string(),
    }
}

pub async fn start(
    lab: &LabClient,
    number: usize,
    lesson: &Lesson,
    language: Language,
) -> anyhow::Result<()> {
    let addresses = LabAddresses {
        endpoints: lab.endpoints().await?,
        ui_addr: lab.addr.clone(),
    };
    println!("== {number}. {} ==\n", lesson.title.get(language));
    if let Some(export) = addresses.endpoint_note() {
        println!(
            "{}\n  $ {export}\n",
            say(
                language,
                "이 랩의 m1 은 127.0.0.1:2379 가 아닙니다. --endpoints 가 없는 명령을 위해 먼저:",
                "This lab's m1 is not at 127.0.0.1:2379. For commands without --endpoints, first:"
            )
        );
    }
    let total = lesson.steps.len();
    for (i, step) in lesson.steps.iter().enumerate() {
        println!("[{}/{total}] {}", i + 1, step.text.get(language).trim_end());
        let (begun, done) = step::begin(lab, &addresses, step).await?;
        for fault in done {
            println!(
                "  ({} {fault})",
                say(language, "랩에서 실행함:", "the lab did:")
            );
        }
        if let Some(command) = &begun.command {
            let note = match (step.background, language) {
                (true, Language::Ko) => "   # 다른 터미널에서, 켜 둔 채로",
                (true, Language::En) => "   # in another terminal; leave it running",
                (false, _) => "",
            };
            println!("\n  $ {command}{note}\n");
        }
        let mut hinted = false;
        let mut checks = 0;
        step::wait_for_goal(lab, &begun, None, |waited, missing| {
            checks += 1;
            if waited >= HINT_AFTER && !hinted {
                hinted = true;
                match &step.hint {
                    Some(hint) => println!(
                        "  {} {}",
                        say(language, "힌트:", "hint:"),
                        hint.get(language).trim_end()
                    ),
                    None => println!("  {} {missing}", say(language, "아직:", "not yet:")),
                }
            }
        })
        .await?;
        if checks == 0 && begun.command.is_some() {
            // The goal held at once (a step to read and try): go on when the student says so.
            println!(
                "  {}",
                say(language, "(Enter 를 누르면 계속)", "(press Enter to go on)")
            );
            let mut line = String::new();
            tokio::task::spawn_blocking(move || std::io::stdin().read_line(&mut line)).await??;
        }
        println!("  ✓ {}\n", say(language, "완료", "done"));
    }
    println!(
        "{}",
        say(
            language,
            "이 레슨을 모두 마쳤습니다. `etcdlab lesson list` 로 다음 레슨을 고르세요.",
            "Lesson complete. `etcdlab lesson list` shows the next one."
        )
    );
    Ok(())
}
