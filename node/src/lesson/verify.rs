//! `etcdlab lesson verify --all`: every lesson end to end against a fresh lab of its own — a
//! child `etcdlab lab` on free ports in a temporary folder, started as the lesson requires
//! (`--tls`, `--size`, the sample) — running each step's scenario and command as a student
//! types them ([`super::shell`]) and waiting for each goal; and, for the lessons the
//! simulator supports, the same on a simulated cluster ([`super::simulate`]). One line per
//! lesson and mode (`lab`, `sim`; `-` for a lesson the simulator does not run), then
//! `N/M lessons verified`: a lesson is verified when every mode it ran in passed.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use etcdlab_core::lesson::simulated;
use etcdlab_core::lesson::{GoalStatus, Language, Lesson};

use super::lab_client::LabClient;
use super::shell::{LabAddresses, Shell};
use super::simulate::verify_simulated;
use super::step;

/// How long one command may run, and one goal may take after it.
const COMMAND_LIMIT: Duration = Duration::from_secs(30);
const GOAL_LIMIT: Duration = Duration::from_secs(30);

/// A lab started for one lesson; dropping it stops the lab (its members die with it) and
/// removes its folder.
struct LabProcess {
    child: Child,
    dir: PathBuf,
}

impl LabProcess {
    fn start(lesson: &Lesson, dir: &Path) -> anyhow::Result<(LabProcess, String)> {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let ui_addr = TcpListener::bind("127.0.0.1:0")?.local_addr()?.to_string();
        let log = std::fs::File::create(dir.join("lab.log"))?;
        let mut command = Command::new(std::env::current_exe()?);
        command
            .arg("lab")
            .arg("--data-dir")
            .arg(dir.join("lab"))
            .args(["--ui-addr", &ui_addr])
            // Past the last port: every member gets a free port, none of the defaults.
            .args(["--base-port", &u16::MAX.to_string()])
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        if lesson.requires.tls {
            command.arg("--tls");
        }
        if let Some(size) = lesson.requires.size {
            command.args(["--size", &size.to_string()]);
        }
        let child = command.spawn().context("starting `etcdlab lab`")?;
        Ok((
            LabProcess {
                child,
                dir: dir.to_path_buf(),
            },
            ui_addr,
        ))
    }
}

impl Drop for LabProcess {
    fn drop(&mut self) {
        // SAFETY: kill(2) on our own child: SIGTERM lets the lab stop its members.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Runs one lesson on a fresh lab; `Err` says which step failed and why.
async fn verify_one(number: usize, lesson: &Lesson, dir: &Path) -> anyhow::Result<()> {
    let (_lab_process, ui_addr) = LabProcess::start(lesson, dir)?;
    let workdir = dir.join("work");
    std::fs::create_dir_all(&workdir)?;
    let lab = LabClient {
        addr: ui_addr.clone(),
        workdir: workdir.clone(),
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    let endpoints = loop {
        match lab.endpoints().await {
            Ok(endpoints) => break endpoints,
            Err(e) if Instant::now() > deadline => {
                return Err(e.context(format!("the lab (log: {})", dir.join("lab.log").display())));
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    };
    lab.reset(number).await?;
    let shell = Shell::new(&workdir, &dir.join("bin"))?;
    let addresses = LabAddresses { endpoints, ui_addr };
    // Background commands run until the lesson ends.
    let mut running = Vec::new();
    for (i, step) in lesson.steps.iter().enumerate() {
        let number = i + 1;
        let (begun, _) = step::begin(&lab, &addresses, step)
            .await
            .with_context(|| format!("step {number}"))?;
        let mut output = String::new();
        if let Some(command) = &begun.command {
            if step.background {
                running.push(shell.start(command, &addresses.endpoints)?);
            } else {
                let finished = shell
                    .run(command, &addresses.endpoints, COMMAND_LIMIT)
                    .await
                    .with_context(|| format!("step {number}"))?;
                if finished.success == step.fails {
                    bail!(
                        "step {number}: `{command}` {}:\n{}",
                        if step.fails {
                            "succeeded but should fail"
                        } else {
                            "failed"
                        },
                        finished.output.trim_end()
                    );
                }
                output = finished.output;
            }
        }
        let status = step::wait_for_goal(&lab, &begun, Some(GOAL_LIMIT), |_, _| {}).await?;
        if let GoalStatus::NotYet(missing) = status {
            bail!(
                "step {number}: goal {:?} not met after {GOAL_LIMIT:?}: {missing}{}",
                begun.goal,
                if output.is_empty() {
                    String::new()
                } else {
                    format!("\ncommand output:\n{}", output.trim_end())
                }
            );
        }
    }
    Ok(())
}

/// Where lessons are verified.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// On a fresh `etcdlab lab`.
    Lab,
    /// On the simulator, for the lessons it supports.
    Sim,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Lab => "lab",
            Mode::Sim => "sim",
        }
    }
}

/// Verifies `lessons` (numbered as listed) in `modes`; true when all pass.
pub async fn verify(
    lessons: &[(usize, &str, Lesson)],
    language: Language,
    modes: &[Mode],
) -> anyhow::Result<bool> {
    let root = std::env::temp_dir().join(format!("etcdlab-verify-{}", std::process::id()));
    let (mut passed, mut ran) = (0, 0);
    for (number, file, lesson) in lessons {
        let title = lesson.title.get(language);
        let mut all_passed = true;
        let mut any_ran = false;
        for mode in modes {
            let name = mode.name();
            if *mode == Mode::Sim
                && let Err(why) = simulated::support(lesson)
            {
                println!("-     {file}  {name}  {title}: not simulated: {why}");
                continue;
            }
            any_ran = true;
            let started = Instant::now();
            let result = match mode {
                Mode::Lab => verify_one(*number, lesson, &root.join(format!("{number:02}"))).await,
                Mode::Sim => verify_simulated(lesson),
            };
            let seconds = started.elapsed().as_secs_f64();
            match result {
                Ok(()) => println!("ok    {file}  {name}  {title} ({seconds:.1} s)"),
                Err(e) => {
                    all_passed = false;
                    println!("FAIL  {file}  {name}  {title}: {e:#}");
                }
            }
        }
        if any_ran {
            ran += 1;
            passed += usize::from(all_passed);
        }
    }
    let _ = std::fs::remove_dir_all(&root);
    // With `--only sim`, the lessons the simulator does not run are not counted.
    println!("{passed}/{ran} lessons verified");
    Ok(ran > 0 && passed == ran)
}
