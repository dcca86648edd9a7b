//! `version`: the etcdctl release and API version this client matches.

use super::CtlResult;
use super::cli::{Command, Invocation};
use super::print::stdout;
use super::usage::{API_VERSION, VERSION as ETCDCTL_VERSION};

pub static VERSION: Command =
    Command::new("version", "Prints the version of etcdctl").run(|inv| Box::pin(version(inv)));

async fn version(_: Invocation) -> CtlResult {
    stdout(format!("etcdctl version: {ETCDCTL_VERSION}\nAPI version: {API_VERSION}\n").as_bytes());
    Ok(())
}
