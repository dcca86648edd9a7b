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
///
/// Without the LIFO slot: with it, a task woken by another runs right after it, so every gRPC
/// response finished by a handler had its connection task write it out alone, one `writev`
/// each; without it the connection task runs after the handlers woken together and writes
/// their responses at once (64-client puts +15–22 %, watch fan-out +8–10 %, alternating
/// runs). The option is tokio's unstable API: `.cargo/config.toml` sets `tokio_unstable`.
pub fn run(tool: &str, body: impl Future<Output = anyhow::Result<()>>) -> ExitCode {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    #[cfg(tokio_unstable)]
    builder.disable_lifo_slot();
    let result = builder
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
