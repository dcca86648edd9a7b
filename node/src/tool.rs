//! What every subcommand's entry point shares: parsing its flags (usage errors exit 2, help
//! exits 0) and running its async body on a runtime, printing a failure as `<tool>: <error>`.

use std::ffi::OsString;
use std::future::Future;
use std::process::ExitCode;

use anyhow::Context;

/// Parses `args` into `T`, or gives the exit code after clap printed help or the usage error.
pub fn parse<T: clap::Parser>(args: Vec<OsString>) -> Result<T, ExitCode> {
    T::try_parse_from(args).map_err(|e| {
        let _ = e.print();
        ExitCode::from(if e.use_stderr() { 2 } else { 0 })
    })
}

/// Runs `body` on a multi-threaded runtime; a failure is printed as `<tool>: <error>`.
pub fn run(tool: &str, body: impl Future<Output = anyhow::Result<()>>) -> ExitCode {
    let result = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
        .and_then(|rt| rt.block_on(body));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{tool}: {e:#}");
            ExitCode::FAILURE
        }
    }
}
