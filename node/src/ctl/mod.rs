//! `etcdlab ctl` (also the binary invoked as `etcdctl`): the etcdctl 3.4 client, with its
//! syntax, output formats, messages and exit codes, so course commands and scripts behave the
//! same with either binary.
//!
//! A command line goes through [`cli`] (a cobra/pflag work-alike over the command tree that
//! each command module declares) to the command's `run`, which reads [`global`] settings,
//! sends its requests through a [`global::Client`] and hands the answer to [`print`] in the
//! chosen format. Modules: [`kv`] get/put/del/compaction, [`txn`] the transaction language,
//! [`endpoint`] health/status/hashkv, [`member`] membership, [`maintenance`] alarm,
//! move-leader and snapshots, [`watch`] event streams, [`lease`] leases, [`concurrency`] lock
//! and elect, [`user`], [`role`] and [`auth`] for users, roles and `auth enable|disable`,
//! [`version`]; [`usage`] renders help text; [`gotext`] holds the Go text conventions
//! etcdctl's output inherits; [`v2`] answers `ETCDCTL_API=2`.

mod auth;
mod cli;
mod concurrency;
mod endpoint;
mod global;
mod gotext;
mod kv;
mod lease;
mod maintenance;
mod member;
pub mod print;
mod role;
mod txn;
mod usage;
mod user;
mod v2;
mod version;
mod watch;

use std::ffi::OsString;
use std::process::ExitCode;

use self::cli::{CliError, Command, Invocation, Outcome};

/// etcdctl's exit codes.
pub mod exit {
    pub const ERROR: u8 = 1;
    pub const BAD_CONNECTION: u8 = 2;
    /// Unreadable txn input.
    pub const INVALID_INPUT: u8 = 3;
    /// A valid flag with a value this command cannot use.
    pub const BAD_FEATURE: u8 = 4;
    pub const INTERRUPTED: u8 = 5;
    pub const BAD_ARGS: u8 = 128;
}

/// A failed command: what etcdctl prints after `Error: ` (nothing if empty) and its exit code.
#[derive(Debug)]
pub struct CtlError {
    pub code: u8,
    pub message: String,
}

impl CtlError {
    pub fn new(code: u8, message: impl Into<String>) -> CtlError {
        CtlError {
            code,
            message: message.into(),
        }
    }

    /// A usage mistake etcdctl catches itself (exit 128).
    pub fn bad_args(message: impl Into<String>) -> CtlError {
        CtlError::new(exit::BAD_ARGS, message)
    }

    /// Exits with `code` without a message (the command already said what failed).
    pub fn silent(code: u8) -> CtlError {
        CtlError::new(code, "")
    }

    pub fn deadline_exceeded() -> CtlError {
        CtlError::new(exit::ERROR, "context deadline exceeded")
    }

    /// A failed request, as clientv3 reports it: etcd's own errors by their message, any
    /// other gRPC error as Go's `rpc error: code = ... desc = ...`.
    pub fn rpc(status: tonic::Status) -> CtlError {
        let message = status.message();
        if status.code() == tonic::Code::DeadlineExceeded {
            return CtlError::deadline_exceeded();
        }
        if message.starts_with("etcdserver: ") {
            return CtlError::new(exit::ERROR, message);
        }
        CtlError::new(
            exit::ERROR,
            format!(
                "rpc error: code = {} desc = {message}",
                go_code_name(status.code())
            ),
        )
    }
}

/// grpc-go's name of a status code.
fn go_code_name(code: tonic::Code) -> &'static str {
    use tonic::Code::*;
    match code {
        Ok => "OK",
        Cancelled => "Canceled",
        Unknown => "Unknown",
        InvalidArgument => "InvalidArgument",
        DeadlineExceeded => "DeadlineExceeded",
        NotFound => "NotFound",
        AlreadyExists => "AlreadyExists",
        PermissionDenied => "PermissionDenied",
        ResourceExhausted => "ResourceExhausted",
        FailedPrecondition => "FailedPrecondition",
        Aborted => "Aborted",
        OutOfRange => "OutOfRange",
        Unimplemented => "Unimplemented",
        Internal => "Internal",
        Unavailable => "Unavailable",
        DataLoss => "DataLoss",
        Unauthenticated => "Unauthenticated",
    }
}

pub type CtlResult = Result<(), CtlError>;

/// The root of the command tree.
static ROOT: Command = Command::new("etcdctl", "A simple command line client for etcd3.")
    .persistent(global::FLAGS)
    .subcommands(&[
        &maintenance::ALARM,
        &auth::AUTH,
        &kv::COMPACTION,
        &kv::DEL,
        &concurrency::ELECT,
        &endpoint::ENDPOINT,
        &kv::GET,
        &HELP,
        &lease::LEASE,
        &concurrency::LOCK,
        &member::MEMBER,
        &maintenance::MOVE_LEADER,
        &kv::PUT,
        &role::ROLE,
        &maintenance::SNAPSHOT,
        &txn::TXN,
        &user::USER,
        &version::VERSION,
        &watch::WATCH,
    ]);

/// cobra's `help [command]`.
static HELP: Command = Command::new("help [command]", "Help about any command")
    .long(
        "Help provides help for any command in the application.\n\
         Simply type etcdctl help [path to command] for full details.",
    )
    .run(|inv| Box::pin(help(inv)));

async fn help(inv: Invocation) -> CtlResult {
    let no_env = |_: &str| None;
    match cli::parse(&ROOT, &inv.args, &no_env) {
        Ok(Outcome::Help(path)) => print::stdout(usage::usage(&path).as_bytes()),
        Ok(Outcome::Run(found)) => print::stdout(usage::usage(&found.path).as_bytes()),
        Err(_) => {
            let topics: Vec<String> = inv.args.iter().map(|a| format!("`{a}`")).collect();
            print::stdout(format!("Unknown help topic [{}]\n", topics.join(" ")).as_bytes());
            print::stdout(usage::usage(&[&ROOT]).as_bytes());
        }
    }
    Ok(())
}

/// Entry point of `etcdlab ctl` (and of the binary invoked as `etcdctl`); `args[0]` is the
/// program name.
pub fn main(args: Vec<OsString>) -> ExitCode {
    // As etcdctl 3.4: v3 unless ETCDCTL_API says otherwise.
    match std::env::var("ETCDCTL_API").unwrap_or_default().as_str() {
        "" | "3" => {}
        "2" => return v2::explain(&args),
        other => {
            print::stderr(&format!("unsupported API version {other}\n"));
            return ExitCode::from(exit::ERROR);
        }
    }
    let args: Vec<String> = args
        .iter()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let inv = match cli::parse(&ROOT, &args, &|name| std::env::var(name).ok()) {
        Ok(Outcome::Run(inv)) => inv,
        Ok(Outcome::Help(path)) => {
            print::stdout(usage::usage(&path).as_bytes());
            return ExitCode::SUCCESS;
        }
        Err(CliError::UnknownCommand(message)) => {
            print::stderr(&format!(
                "Error: {message}\nRun '{} --help' for usage.\n",
                ROOT.name()
            ));
            return ExitCode::from(exit::ERROR);
        }
        Err(CliError::Flag(message, path)) => {
            print::stdout(usage::usage(&path).as_bytes());
            print::stderr(&format!("Error: {message}\n"));
            return ExitCode::from(exit::ERROR);
        }
    };
    let Some(run) = inv.command().run else {
        return ExitCode::SUCCESS;
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            print::stderr(&format!("Error: {e}\n"));
            return ExitCode::from(exit::ERROR);
        }
    };
    match runtime.block_on(run(inv)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if !e.message.is_empty() {
                print::stderr(&format!("Error: {}\n", e.message));
            }
            ExitCode::from(e.code)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every command is reachable by its path, and every flag's default parses as its kind,
    /// so accessors never fall back silently.
    #[test]
    fn every_command_parses_its_defaults() {
        fn visit(path: &mut Vec<&'static Command>) {
            let words: Vec<String> = path[1..].iter().map(|c| c.name().to_string()).collect();
            for scoped in cli::flags_of(path) {
                let f = scoped.flag;
                let mut given = words.clone();
                given.push(format!("--{}={}", f.name, f.default));
                match cli::parse(&ROOT, &given, &|_| None) {
                    Ok(Outcome::Run(inv)) => {
                        assert!(std::ptr::eq(inv.command(), path[path.len() - 1]))
                    }
                    Ok(Outcome::Help(p)) => assert_eq!(p.len(), path.len()),
                    Err(e) => panic!("{given:?}: {e:?}"),
                }
            }
            let last = path[path.len() - 1];
            for sub in last.subcommands {
                path.push(sub);
                visit(path);
                path.pop();
            }
        }
        visit(&mut vec![&ROOT]);
    }

    #[test]
    fn grpc_errors_read_as_clientv3_reports_them() {
        let e = CtlError::rpc(tonic::Status::invalid_argument(
            "etcdserver: key is not provided",
        ));
        assert_eq!(e.message, "etcdserver: key is not provided");
        let e = CtlError::rpc(tonic::Status::unimplemented("unknown service"));
        assert_eq!(
            e.message,
            "rpc error: code = Unimplemented desc = unknown service"
        );
    }
}
