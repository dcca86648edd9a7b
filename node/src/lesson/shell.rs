//! Runs a lesson's commands as a student types them: through `sh -c`, with `etcdctl`,
//! `etcdutl` and `etcdlab` on the PATH as this binary (so `etcdctl` is always our
//! etcdctl-compatible client, whatever else is installed), in the lesson's working folder.
//!
//! Lessons are written for the lab's default addresses (127.0.0.1:2379, :12379, :22379 and
//! the control API on 127.0.0.1:8379). When the lab runs elsewhere, [`LabAddresses::rewrite`]
//! puts its real addresses into the command; the student sees the rewritten command.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::Context;
use tokio::process::{Child, Command};

use crate::lab::DEFAULT_UI_ADDR;

/// The default client address of member `index` (0-based), as lessons write it.
fn default_endpoint(index: usize) -> String {
    format!("127.0.0.1:{}", 2379 + 10000 * index)
}

/// Where the lab really is.
pub struct LabAddresses {
    /// Client addresses, m1 first.
    pub endpoints: Vec<String>,
    pub ui_addr: String,
}

/// `text` with every `from` that is not followed by a digit replaced by `to`.
fn replace_address(text: &str, from: &str, to: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(from) {
        let after = &rest[at + from.len()..];
        out.push_str(&rest[..at]);
        if after.starts_with(|c: char| c.is_ascii_digit()) {
            out.push_str(from);
        } else {
            out.push_str(to);
        }
        rest = after;
    }
    out.push_str(rest);
    out
}

impl LabAddresses {
    /// When m1 is not at etcdctl's default endpoint, the line that makes commands without
    /// `--endpoints` reach it.
    pub fn endpoint_note(&self) -> Option<String> {
        let m1 = self.endpoints.first()?;
        (*m1 != default_endpoint(0)).then(|| format!("export ETCDCTL_ENDPOINTS={m1}"))
    }

    /// The command with the lab's real addresses in place of the defaults.
    pub fn rewrite(&self, command: &str) -> String {
        let mut text = command.to_string();
        for (i, endpoint) in self.endpoints.iter().enumerate() {
            let default = default_endpoint(i);
            if *endpoint != default {
                // Through a marker, so a replacement is never replaced again.
                text = replace_address(&text, &default, &format!("\u{1}{i}\u{1}"));
            }
        }
        for (i, endpoint) in self.endpoints.iter().enumerate() {
            text = text.replace(&format!("\u{1}{i}\u{1}"), endpoint);
        }
        if self.ui_addr != DEFAULT_UI_ADDR {
            text = text.replace(
                "etcdlab lab ",
                &format!("etcdlab lab --ui-addr {} ", self.ui_addr),
            );
        }
        text
    }
}

/// A folder of links to this binary named `etcdctl`, `etcdutl` and `etcdlab`, put first on
/// the commands' PATH.
pub struct Shell {
    pub workdir: PathBuf,
    links: PathBuf,
}

/// What a finished command did.
pub struct Finished {
    pub success: bool,
    /// stdout and stderr together.
    pub output: String,
}

impl Shell {
    /// Links this binary into `links` (created) and runs commands in `workdir`.
    pub fn new(workdir: &Path, links: &Path) -> anyhow::Result<Shell> {
        let binary = std::env::current_exe().context("finding this binary")?;
        std::fs::create_dir_all(links)
            .with_context(|| format!("cannot create {}", links.display()))?;
        for name in ["etcdctl", "etcdutl", "etcdlab"] {
            let link = links.join(name);
            let _ = std::fs::remove_file(&link);
            std::os::unix::fs::symlink(&binary, &link)
                .with_context(|| format!("cannot link {}", link.display()))?;
        }
        Ok(Shell {
            workdir: workdir.to_path_buf(),
            links: links.to_path_buf(),
        })
    }

    fn command(&self, text: &str, endpoints: &[String]) -> Command {
        let path = std::env::var_os("PATH").unwrap_or_default();
        let mut paths = vec![self.links.clone()];
        paths.extend(std::env::split_paths(&path));
        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg(text)
            .current_dir(&self.workdir)
            .env("PATH", std::env::join_paths(paths).unwrap_or(path))
            .env_remove("ETCDCTL_ENDPOINTS")
            .stdin(Stdio::null())
            .process_group(0)
            .kill_on_drop(true);
        // etcdctl's default endpoint is 127.0.0.1:2379; where m1 is elsewhere, say so (only
        // when the command names none: etcdctl refuses a variable its flags shadow).
        if let Some(m1) = endpoints.first()
            && *m1 != default_endpoint(0)
            && !text.contains("--endpoints")
        {
            command.env("ETCDCTL_ENDPOINTS", m1);
        }
        command
    }

    /// Runs `text` to its end (at most `limit`, then it is killed).
    pub async fn run(
        &self,
        text: &str,
        endpoints: &[String],
        limit: Duration,
    ) -> anyhow::Result<Finished> {
        let child = self
            .command(text, endpoints)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .context("starting sh")?;
        let pid = child.id();
        match tokio::time::timeout(limit, child.wait_with_output()).await {
            Ok(output) => {
                let output = output.context("running the command")?;
                let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
                text.push_str(&String::from_utf8_lossy(&output.stderr));
                Ok(Finished {
                    success: output.status.success(),
                    output: text,
                })
            }
            Err(_) => {
                if let Some(pid) = pid {
                    kill_group(pid);
                }
                anyhow::bail!("`{text}` did not finish in {limit:?}")
            }
        }
    }

    /// Starts `text` and leaves it running (a watch, a member); its output is discarded.
    pub fn start(&self, text: &str, endpoints: &[String]) -> anyhow::Result<Background> {
        let child = self
            .command(text, endpoints)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("starting `{text}`"))?;
        Ok(Background(child))
    }
}

/// A command left running; dropping it kills its whole process group.
pub struct Background(Child);

impl Drop for Background {
    fn drop(&mut self) {
        if let Some(pid) = self.0.id() {
            kill_group(pid);
        }
    }
}

fn kill_group(pid: u32) {
    // SAFETY: kill(2) on a process group we created (process_group(0) made pid its leader).
    unsafe {
        libc::kill(-(pid as i32), libc::SIGKILL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_addresses_become_the_labs() {
        let lab = LabAddresses {
            endpoints: vec!["127.0.0.1:40001".into(), "127.0.0.1:2379".into()],
            ui_addr: "127.0.0.1:40100".into(),
        };
        assert_eq!(
            lab.rewrite("etcdctl --endpoints 127.0.0.1:2379,127.0.0.1:12379 put k v"),
            "etcdctl --endpoints 127.0.0.1:40001,127.0.0.1:2379 put k v"
        );
        assert_eq!(
            lab.rewrite("etcdctl --endpoints http://127.0.0.1:23790 get k"),
            "etcdctl --endpoints http://127.0.0.1:23790 get k"
        );
        assert_eq!(
            lab.rewrite("etcdlab lab kill m1"),
            "etcdlab lab --ui-addr 127.0.0.1:40100 kill m1"
        );
        let default = LabAddresses {
            endpoints: vec!["127.0.0.1:2379".into()],
            ui_addr: DEFAULT_UI_ADDR.into(),
        };
        assert_eq!(default.rewrite("etcdlab lab heal"), "etcdlab lab heal");
    }
}
