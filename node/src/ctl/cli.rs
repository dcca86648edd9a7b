//! A small work-alike of cobra and pflag, the Go libraries etcdctl is built on, so command lines
//! parse as etcdctl parses them: a command found by its name or a unique prefix of it (`compact`),
//! flags anywhere (`--limit 2`, `--limit=2`, `-w json`, `-wjson`), booleans alone or with a value
//! (`--prefix`, `--prefix=false`), Go value syntax (`0x10`, `2s`), persistent flags inherited
//! by subcommands (and read from `ETCDCTL_*` variables), `--` ending the flags, and cobra's
//! error messages. The command tree itself is data: each command module declares its
//! [`Command`] and [`Flag`]s next to the code that runs it.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use futures::future::LocalBoxFuture;

use super::{CtlResult, gotext};

/// What a flag holds, as pflag's value types.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Bool,
    Text,
    Int,
    Duration,
    List,
}

/// One flag, as etcdctl declares it.
#[derive(Debug)]
pub struct Flag {
    pub name: &'static str,
    pub short: Option<char>,
    pub kind: Kind,
    /// The default, written as it would be given on the command line.
    pub default: &'static str,
    pub usage: &'static str,
}

impl Flag {
    pub const fn new(
        name: &'static str,
        kind: Kind,
        default: &'static str,
        usage: &'static str,
    ) -> Flag {
        Flag {
            name,
            short: None,
            kind,
            default,
            usage,
        }
    }

    /// A boolean flag that is off unless given.
    pub const fn switch(name: &'static str, usage: &'static str) -> Flag {
        Flag::new(name, Kind::Bool, "false", usage)
    }

    pub const fn short(self, short: char) -> Flag {
        Flag {
            short: Some(short),
            ..self
        }
    }

    /// Parses `text` as this flag's value; a list flag given again appends to `current`.
    fn parse(&self, text: &str, current: Option<&Value>) -> Result<Value, String> {
        Ok(match self.kind {
            Kind::Bool => Value::Bool(gotext::parse_bool(text)?),
            Kind::Text => Value::Text(text.to_string()),
            Kind::Int => Value::Int(gotext::parse_int(text, 0)?),
            Kind::Duration => Value::Duration(gotext::parse_duration(text)?),
            Kind::List => {
                let mut items = match current {
                    Some(Value::List(items)) => items.clone(),
                    _ => Vec::new(),
                };
                items.extend(csv_fields(text)?);
                Value::List(items)
            }
        })
    }

    /// The name pflag shows in an invalid-value error: `-w, --write-out` or `--limit`.
    fn display_name(&self) -> String {
        match self.short {
            Some(c) => format!("-{c}, --{}", self.name),
            None => format!("--{}", self.name),
        }
    }

    /// The variable that sets this flag when the command line does not: `ETCDCTL_DIAL_TIMEOUT`.
    fn env_name(&self) -> String {
        format!("ETCDCTL_{}", self.name.to_uppercase().replace('-', "_"))
    }
}

/// cobra's help flag, which every command has (its usage ends with the command's name).
pub static HELP: Flag = Flag::switch("help", "help for").short('h');

/// A parsed value.
#[derive(Clone, Debug)]
enum Value {
    Bool(bool),
    Text(String),
    Int(i64),
    Duration(Duration),
    List(Vec<String>),
}

/// Runs a command.
pub type Run = fn(Invocation) -> LocalBoxFuture<'static, CtlResult>;

/// One command of the tree, as a cobra command.
pub struct Command {
    /// cobra's `Use`: the name, then what the usage line shows after it.
    pub use_line: &'static str,
    pub short: &'static str,
    pub long: &'static str,
    pub flags: &'static [Flag],
    /// Flags this command's subcommands inherit too.
    pub persistent: &'static [Flag],
    pub subcommands: &'static [&'static Command],
    pub run: Option<Run>,
}

impl Command {
    pub const fn new(use_line: &'static str, short: &'static str) -> Command {
        Command {
            use_line,
            short,
            long: "",
            flags: &[],
            persistent: &[],
            subcommands: &[],
            run: None,
        }
    }

    pub const fn long(self, long: &'static str) -> Command {
        Command { long, ..self }
    }

    pub const fn flags(self, flags: &'static [Flag]) -> Command {
        Command { flags, ..self }
    }

    pub const fn persistent(self, persistent: &'static [Flag]) -> Command {
        Command { persistent, ..self }
    }

    pub const fn subcommands(self, subcommands: &'static [&'static Command]) -> Command {
        Command {
            subcommands,
            ..self
        }
    }

    pub const fn run(self, run: Run) -> Command {
        Command {
            run: Some(run),
            ..self
        }
    }

    pub fn name(&self) -> &'static str {
        self.use_line.split(' ').next().unwrap_or_default()
    }

    /// The subcommand called `word`, or the only one whose name starts with it.
    fn find(&self, word: &str) -> Option<&'static Command> {
        if let Some(exact) = self.subcommands.iter().find(|c| c.name() == word) {
            return Some(exact);
        }
        let mut prefixed = self
            .subcommands
            .iter()
            .filter(|c| c.name().starts_with(word));
        match (prefixed.next(), prefixed.next()) {
            (Some(only), None) => Some(only),
            _ => None,
        }
    }

    /// cobra's "Did you mean this?" candidates: names within two edits, or starting with `word`.
    fn suggestions(&self, word: &str) -> Vec<&'static str> {
        let word = word.to_lowercase();
        self.subcommands
            .iter()
            .map(|c| c.name())
            .filter(|name| levenshtein(&word, &name.to_lowercase()) <= 2 || name.starts_with(&word))
            .collect()
    }
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous + usize::from(ca != *cb);
            previous = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(previous + 1);
        }
    }
    row[b.len()]
}

/// A flag as seen from a command: its own, or inherited from an ancestor's persistent flags.
#[derive(Clone, Copy)]
pub struct ScopedFlag {
    pub flag: &'static Flag,
    pub inherited: bool,
}

/// Every flag the last command of `path` accepts, help included.
pub fn flags_of(path: &[&'static Command]) -> Vec<ScopedFlag> {
    let Some((command, ancestors)) = path.split_last() else {
        return Vec::new();
    };
    let own = command
        .flags
        .iter()
        .chain(command.persistent)
        .chain([&HELP])
        .map(|flag| ScopedFlag {
            flag,
            inherited: false,
        });
    let inherited = ancestors
        .iter()
        .flat_map(|c| c.persistent)
        .map(|flag| ScopedFlag {
            flag,
            inherited: true,
        });
    own.chain(inherited).collect()
}

/// A command ready to run: its path from the root, its arguments and its flags' values.
#[derive(Debug)]
pub struct Invocation {
    pub path: Vec<&'static Command>,
    pub args: Vec<String>,
    values: HashMap<&'static str, Value>,
    changed: HashSet<&'static str>,
    /// An `ETCDCTL_*` variable set for an inherited flag the command line gave as well.
    env_conflict: Option<String>,
}

impl Invocation {
    /// The command being run.
    pub fn command(&self) -> &'static Command {
        self.path.last().copied().unwrap_or(&EMPTY)
    }

    fn value(&self, flag: &Flag) -> Option<Value> {
        self.values
            .get(flag.name)
            .cloned()
            .or_else(|| flag.parse(flag.default, None).ok())
    }

    pub fn bool(&self, flag: &Flag) -> bool {
        matches!(self.value(flag), Some(Value::Bool(true)))
    }

    pub fn text(&self, flag: &Flag) -> String {
        match self.value(flag) {
            Some(Value::Text(s)) => s,
            _ => String::new(),
        }
    }

    pub fn int(&self, flag: &Flag) -> i64 {
        match self.value(flag) {
            Some(Value::Int(n)) => n,
            _ => 0,
        }
    }

    pub fn duration(&self, flag: &Flag) -> Duration {
        match self.value(flag) {
            Some(Value::Duration(d)) => d,
            _ => Duration::ZERO,
        }
    }

    pub fn list(&self, flag: &Flag) -> Vec<String> {
        match self.value(flag) {
            Some(Value::List(items)) => items,
            _ => Vec::new(),
        }
    }

    /// Whether the command line gave this flag.
    pub fn changed(&self, flag: &Flag) -> bool {
        self.changed.contains(flag.name)
    }

    /// The variable that would set a flag the command line already set (etcd's `pkg/flags`
    /// refuses such a pair).
    pub fn env_conflict(&self) -> Option<&str> {
        self.env_conflict.as_deref()
    }
}

static EMPTY: Command = Command::new("", "");

/// What the command line asks for.
#[derive(Debug)]
pub enum Outcome {
    Run(Invocation),
    /// Print the usage of this command (asked for, or a command that only groups others).
    Help(Vec<&'static Command>),
}

/// A command line cobra refuses.
#[derive(Debug)]
pub enum CliError {
    /// No such command under the root (the message, suggestions included).
    UnknownCommand(String),
    /// A bad flag: the message, and the command whose usage is printed.
    Flag(String, Vec<&'static Command>),
}

/// Parses `args` (without the program name) against the tree under `root`, as cobra's
/// `Execute`: find the command, parse its flags, fill inherited flags from `env`.
pub fn parse(
    root: &'static Command,
    args: &[String],
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Outcome, CliError> {
    let mut path = vec![root];
    let mut rest = args.to_vec();
    loop {
        let flags = flags_of(&path);
        let words = strip_flags(&rest, &flags);
        let Some(word) = words.first() else { break };
        let Some(next) = path.last().and_then(|c| c.find(word)) else {
            if path.len() == 1 {
                let mut message = format!(
                    "unknown command {} for {}",
                    go_quote(word),
                    go_quote(root.name())
                );
                let suggestions = root.suggestions(word);
                if !suggestions.is_empty() {
                    message.push_str("\n\nDid you mean this?\n");
                    for s in suggestions {
                        message.push_str(&format!("\t{s}\n"));
                    }
                }
                return Err(CliError::UnknownCommand(message));
            }
            break;
        };
        remove_first_word(&mut rest, word, &flags);
        path.push(next);
    }
    let flags = flags_of(&path);
    let parsed = parse_flags(&flags, &rest).map_err(|e| CliError::Flag(e, path.clone()))?;
    let (mut values, changed, positional) = parsed;
    if matches!(values.get("help"), Some(Value::Bool(true)))
        || path.last().is_none_or(|c| c.run.is_none())
    {
        return Ok(Outcome::Help(path));
    }
    let mut env_conflict = None;
    for scoped in flags.iter().filter(|s| s.inherited) {
        let flag = scoped.flag;
        let name = flag.env_name();
        let Some(text) = env(&name) else { continue };
        if changed.contains(flag.name) {
            env_conflict.get_or_insert(name);
            continue;
        }
        // As etcd's `SetPflagsFromEnv`: a bad value in the environment leaves the default.
        if let Ok(value) = flag.parse(&text, None) {
            values.insert(flag.name, value);
        }
    }
    Ok(Outcome::Run(Invocation {
        path,
        args: positional,
        values,
        changed,
        env_conflict,
    }))
}

fn go_quote(s: &str) -> String {
    gotext::quote(s.as_bytes())
}

fn lookup_long<'a>(flags: &'a [ScopedFlag], name: &str) -> Option<&'a Flag> {
    flags.iter().map(|s| s.flag).find(|f| f.name == name)
}

fn lookup_short(flags: &[ScopedFlag], short: char) -> Option<&Flag> {
    flags
        .iter()
        .map(|s| s.flag)
        .find(|f| f.short == Some(short))
}

/// Whether `arg` is a flag that takes the next argument as its value (cobra's test, which
/// counts unknown flags as taking one).
fn takes_next(arg: &str, flags: &[ScopedFlag]) -> bool {
    if arg.contains('=') {
        return false;
    }
    if let Some(name) = arg.strip_prefix("--") {
        return lookup_long(flags, name).is_none_or(|f| f.kind != Kind::Bool);
    }
    let mut chars = arg.chars();
    match (chars.next(), chars.next(), chars.next()) {
        (Some('-'), Some(short), None) => {
            lookup_short(flags, short).is_none_or(|f| f.kind != Kind::Bool)
        }
        _ => false,
    }
}

/// The words of `args` that are not flags or flag values (cobra's `stripFlags`).
fn strip_flags(args: &[String], flags: &[ScopedFlag]) -> Vec<String> {
    let mut words = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        i += 1;
        if arg == "--" {
            break;
        }
        if arg.starts_with('-') && takes_next(arg, flags) {
            if args.len() - i <= 1 {
                break;
            }
            i += 1;
        } else if !arg.is_empty() && !arg.starts_with('-') {
            words.push(arg.clone());
        }
    }
    words
}

/// Removes the first `word` of `args` that is not a flag value (cobra's `argsMinusFirstX`).
fn remove_first_word(args: &mut Vec<String>, word: &str, flags: &[ScopedFlag]) {
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        if arg == "--" {
            return;
        }
        if arg.starts_with('-') && takes_next(arg, flags) {
            i += 2;
            continue;
        }
        if !arg.starts_with('-') && arg == word {
            args.remove(i);
            return;
        }
        i += 1;
    }
}

type ParsedFlags = (
    HashMap<&'static str, Value>,
    HashSet<&'static str>,
    Vec<String>,
);

/// pflag's `Parse`: flags and their values out, positional arguments kept in order.
fn parse_flags(flags: &[ScopedFlag], args: &[String]) -> Result<ParsedFlags, String> {
    let mut values: HashMap<&'static str, Value> = HashMap::new();
    let mut changed = HashSet::new();
    let mut positional = Vec::new();
    let mut set = |flag: &'static Flag, text: &str, values: &mut HashMap<&'static str, Value>| {
        let value = flag.parse(text, values.get(flag.name)).map_err(|e| {
            format!(
                "invalid argument {} for {} flag: {e}",
                go_quote(text),
                go_quote(&flag.display_name())
            )
        })?;
        values.insert(flag.name, value);
        changed.insert(flag.name);
        Ok::<(), String>(())
    };
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        i += 1;
        if arg.len() < 2 || !arg.starts_with('-') {
            positional.push(arg.clone());
            continue;
        }
        if arg == "--" {
            positional.extend_from_slice(&args[i..]);
            break;
        }
        if let Some(body) = arg.strip_prefix("--") {
            if body.starts_with(['-', '=']) {
                return Err(format!("bad flag syntax: {arg}"));
            }
            let (name, inline) = match body.split_once('=') {
                Some((n, v)) => (n, Some(v)),
                None => (body, None),
            };
            let Some(flag) = flags.iter().map(|s| s.flag).find(|f| f.name == name) else {
                return Err(format!("unknown flag: --{name}"));
            };
            let text = match inline {
                Some(v) => v.to_string(),
                None if flag.kind == Kind::Bool => "true".to_string(),
                None if i < args.len() => {
                    i += 1;
                    args[i - 1].clone()
                }
                None => return Err(format!("flag needs an argument: {arg}")),
            };
            set(flag, &text, &mut values)?;
            continue;
        }
        // A run of shorthands: `-w json`, `-wjson`, `-w=json`, `-ih`.
        let shorthands: Vec<char> = arg.chars().skip(1).collect();
        let mut k = 0;
        while k < shorthands.len() {
            let c = shorthands[k];
            let Some(flag) = flags.iter().map(|s| s.flag).find(|f| f.short == Some(c)) else {
                return Err(format!(
                    "unknown shorthand flag: '{c}' in -{}",
                    shorthands[k..].iter().collect::<String>()
                ));
            };
            let after: String = shorthands[k + 1..].iter().collect();
            let text = if let Some(v) = after.strip_prefix('=').filter(|_| after.len() > 1) {
                k = shorthands.len();
                v.to_string()
            } else if flag.kind == Kind::Bool {
                k += 1;
                "true".to_string()
            } else if !after.is_empty() {
                k = shorthands.len();
                after
            } else if i < args.len() {
                k = shorthands.len();
                i += 1;
                args[i - 1].clone()
            } else {
                return Err(format!(
                    "flag needs an argument: '{c}' in -{}",
                    shorthands[k..].iter().collect::<String>()
                ));
            };
            set(flag, &text, &mut values)?;
        }
    }
    Ok((values, changed, positional))
}

/// The fields of one CSV record, as pflag reads a list flag's value.
fn csv_fields(text: &str) -> Result<Vec<String>, String> {
    if text.is_empty() {
        return Ok(Vec::new());
    }
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    let mut at_start = true;
    while let Some(c) = chars.next() {
        match c {
            '"' if at_start => {
                quoted = true;
                at_start = false;
            }
            '"' if quoted => {
                if chars.peek() == Some(&'"') {
                    chars.next();
                    field.push('"');
                } else {
                    quoted = false;
                }
            }
            ',' if !quoted => {
                fields.push(std::mem::take(&mut field));
                at_start = true;
            }
            '"' => {
                return Err(format!(
                    "parse error on line 1: bare \" in non-quoted field: {text}"
                ));
            }
            c => {
                field.push(c);
                at_start = false;
            }
        }
    }
    if quoted {
        return Err(format!(
            "parse error on line 1: extraneous or missing \" in quoted-field: {text}"
        ));
    }
    fields.push(field);
    Ok(fields)
}

#[cfg(test)]
mod tests {
    use super::*;

    static LIMIT: Flag = Flag::new("limit", Kind::Int, "0", "Maximum number of results");
    static PREFIX: Flag = Flag::switch("prefix", "Get keys with matching prefix");
    static OUT: Flag =
        Flag::new("write-out", Kind::Text, "simple", "set the output format").short('w');
    static ENDPOINTS: Flag = Flag::new("endpoints", Kind::List, "127.0.0.1:2379", "gRPC endpoints");
    static GET: Command = Command::new("get [options] <key> [range_end]", "Gets")
        .flags(&[
            Flag::new("limit", Kind::Int, "0", "Maximum number of results"),
            Flag::switch("prefix", "p"),
        ])
        .run(|_| Box::pin(async { Ok(()) }));
    static COMPACTION: Command =
        Command::new("compaction <rev>", "Compacts").run(|_| Box::pin(async { Ok(()) }));
    static ENDPOINT: Command = Command::new("endpoint <subcommand>", "Endpoint related commands")
        .persistent(&[Flag::switch("cluster", "use all endpoints")])
        .subcommands(&[&HEALTH]);
    static HEALTH: Command = Command::new("health", "Checks").run(|_| Box::pin(async { Ok(()) }));
    static ROOT: Command = Command::new("etcdctl", "A simple command line client for etcd3.")
        .persistent(&[
            Flag::new("endpoints", Kind::List, "127.0.0.1:2379", "gRPC endpoints"),
            Flag::new("write-out", Kind::Text, "simple", "set the output format").short('w'),
        ])
        .subcommands(&[&COMPACTION, &ENDPOINT, &GET]);

    fn run(args: &[&str]) -> Result<Outcome, CliError> {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        parse(&ROOT, &args, &|name| {
            (name == "ETCDCTL_ENDPOINTS").then(|| "a:1,b:2".to_string())
        })
    }

    fn invocation(args: &[&str]) -> Invocation {
        match run(args) {
            Ok(Outcome::Run(inv)) => inv,
            other => panic!("{args:?}: {other:?}"),
        }
    }

    #[test]
    fn finds_commands_by_name_or_prefix_with_flags_anywhere() {
        let inv = invocation(&["-w", "json", "get", "k", "--limit=0x10", "--prefix", "end"]);
        assert_eq!(inv.command().name(), "get");
        assert_eq!(inv.args, ["k", "end"]);
        assert_eq!(
            (inv.int(&LIMIT), inv.bool(&PREFIX), inv.text(&OUT)),
            (16, true, "json".into())
        );
        let inv = invocation(&["compact", "3"]);
        assert_eq!(
            (inv.command().name(), inv.args.as_slice()),
            ("compaction", &["3".to_string()][..])
        );
        let inv = invocation(&["get", "k", "--prefix=false", "-wfields", "--", "-v"]);
        assert_eq!(
            (inv.bool(&PREFIX), inv.text(&OUT)),
            (false, "fields".into())
        );
        assert_eq!(inv.args, ["k", "-v"]);
        let inv = invocation(&["endpoint", "--cluster", "health"]);
        assert_eq!(inv.command().name(), "health");
    }

    #[test]
    fn inherited_flags_come_from_the_environment_unless_given() {
        assert_eq!(invocation(&["get", "k"]).list(&ENDPOINTS), ["a:1", "b:2"]);
        let inv = invocation(&["--endpoints", "x:1", "get", "k", "--endpoints=y:2,z:3"]);
        assert_eq!(inv.list(&ENDPOINTS), ["x:1", "y:2", "z:3"]);
    }

    #[test]
    fn errors_read_as_cobra_writes_them() {
        let flag_error = |args: &[&str]| match run(args) {
            Err(CliError::Flag(message, _)) => message,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            flag_error(&["get", "k", "--bogus"]),
            "unknown flag: --bogus"
        );
        assert_eq!(
            flag_error(&["get", "k", "-x"]),
            "unknown shorthand flag: 'x' in -x"
        );
        assert_eq!(
            flag_error(&["get", "k", "--limit"]),
            "flag needs an argument: --limit"
        );
        assert_eq!(
            flag_error(&["get", "-w"]),
            "flag needs an argument: 'w' in -w"
        );
        assert_eq!(
            flag_error(&["get", "k", "--limit", "x"]),
            "invalid argument \"x\" for \"--limit\" flag: strconv.ParseInt: parsing \"x\": invalid syntax"
        );
        assert_eq!(
            flag_error(&["get", "k", "--prefix=x"]),
            "invalid argument \"x\" for \"--prefix\" flag: strconv.ParseBool: parsing \"x\": invalid syntax"
        );
        match run(&["bogus"]) {
            Err(CliError::UnknownCommand(m)) => {
                assert_eq!(m, "unknown command \"bogus\" for \"etcdctl\"")
            }
            other => panic!("{other:?}"),
        }
        match run(&["gte"]) {
            Err(CliError::UnknownCommand(m)) => {
                assert!(m.ends_with("Did you mean this?\n\tget\n"), "{m}")
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(run(&["endpoint"]), Ok(Outcome::Help(p)) if p.len() == 2));
        assert!(matches!(run(&["endpoint", "bogus"]), Ok(Outcome::Help(_))));
        assert!(matches!(run(&["get", "-h"]), Ok(Outcome::Help(_))));
    }

    #[test]
    fn lists_are_csv() {
        assert_eq!(csv_fields("a,b").unwrap(), ["a", "b"]);
        assert_eq!(csv_fields("\"a,b\",c").unwrap(), ["a,b", "c"]);
        assert!(csv_fields("a\"b").is_err());
    }
}
