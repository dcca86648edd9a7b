//! The in-browser terminal: what a typed line asks for. A student types etcdctl commands
//! (`put k v`, `get k`, `del k`, `member list`, `endpoint status`, with or without a leading
//! `etcdctl`) or lab verbs (`kill m1`, `restart m1`, `pause m1`, `resume m1`, `campaign m1`,
//! `partition m1 / m2 m3`, `heal`, `freeze`, `thaw`, with or without a leading `etcdlab lab`);
//! each becomes a request to the lab's API or an answer from what the page already knows.
//! Flags that only say where to connect or how to print (`--endpoints`, `-w table`, TLS files)
//! are skipped; any other flag would change what the command means, so it is refused.

use serde_json::{Value, json};

/// What a terminal line asks for.
#[derive(Debug, PartialEq)]
pub enum Command {
    /// `POST /api/kv` with this body.
    Kv(Value),
    /// `POST /api/faults` with this body.
    Fault(Value),
    /// `POST` to this path with no body (`/api/freeze`, `/api/thaw`).
    Post(&'static str),
    MemberList,
    EndpointStatus,
    Help,
    Clear,
}

pub const HELP: &str = "commands: put KEY VALUE | get KEY | del KEY | member list | endpoint status | \
kill M | restart M | pause M | resume M | campaign M | partition M1 / M2 M3 | heal | freeze | thaw | clear";

/// etcdctl flags skipped with their value: they pick the connection or the output format,
/// which the lab and the terminal choose here.
const SKIPPED_FLAGS: &[&str] = &[
    "--endpoints",
    "-w",
    "--write-out",
    "--cacert",
    "--cert",
    "--key",
    "--user",
    "--dial-timeout",
    "--command-timeout",
];

/// The words of `line` without the skipped flags (and their values); an error names a flag
/// the terminal cannot honour.
fn words_without_flags(line: &str) -> Result<Vec<&str>, String> {
    let mut words = Vec::new();
    let mut tokens = line.split_whitespace();
    while let Some(word) = tokens.next() {
        if !word.starts_with('-') {
            words.push(word);
            continue;
        }
        let (flag, inline_value) = match word.split_once('=') {
            Some((flag, _)) => (flag, true),
            None => (word, false),
        };
        if !SKIPPED_FLAGS.contains(&flag) {
            return Err(format!("the terminal here does not support {flag}"));
        }
        if !inline_value {
            tokens.next();
        }
    }
    Ok(words)
}

/// Reads one line; an error explains what was wrong.
pub fn parse(line: &str) -> Result<Command, String> {
    let mut words = words_without_flags(line)?;
    match words.as_slice() {
        ["etcdctl", ..] => {
            words.remove(0);
        }
        ["etcdlab", "lab", ..] => {
            words.drain(..2);
        }
        _ => {}
    }
    let usage = |text: &str| Err(format!("usage: {text}"));
    Ok(match words.as_slice() {
        [] => return Err(String::new()),
        ["put", key, value @ ..] if !value.is_empty() => {
            Command::Kv(json!({"op": "put", "key": key, "value": value.join(" ")}))
        }
        ["put", ..] => return usage("put KEY VALUE"),
        ["get", key] => Command::Kv(json!({"op": "get", "key": key})),
        ["get", ..] => return usage("get KEY"),
        ["del", key] => Command::Kv(json!({"op": "delete", "key": key})),
        ["del", ..] => return usage("del KEY"),
        ["member", "list"] => Command::MemberList,
        ["endpoint", "status"] | ["endpoint", "health"] => Command::EndpointStatus,
        [
            verb @ ("kill" | "restart" | "pause" | "resume" | "campaign"),
            member,
        ] => Command::Fault(json!({ *verb: member })),
        ["partition", rest @ ..] if !rest.is_empty() => {
            let groups: Vec<Vec<&str>> = rest
                .split(|w| *w == "/")
                .map(|g| g.to_vec())
                .filter(|g| !g.is_empty())
                .collect();
            if groups.len() < 2 {
                return usage("partition M1 / M2 M3");
            }
            Command::Fault(json!({ "partition": groups }))
        }
        ["heal"] => Command::Fault(json!({"heal": true})),
        ["freeze"] => Command::Post("/api/freeze"),
        ["thaw"] => Command::Post("/api/thaw"),
        ["help"] => Command::Help,
        ["clear"] => Command::Clear,
        [other, ..] => return Err(format!("unknown command \"{other}\"; {HELP}")),
    })
}

/// The lines the terminal prints for an answer of `/api/kv`.
pub fn kv_answer(answer: &Value) -> Vec<String> {
    if let Some(error) = answer["error"].as_str() {
        return vec![format!("Error: {error}")];
    }
    match answer["op"].as_str() {
        Some("put") => vec!["OK".into()],
        Some("get") if answer["found"] == true => vec![
            answer["key"].as_str().unwrap_or_default().to_string(),
            answer["value"].as_str().unwrap_or_default().to_string(),
        ],
        Some("get") => vec![],
        Some("delete") => vec![answer["deleted"].to_string()],
        _ => vec![answer.to_string()],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etcdctl_lines_become_kv_requests() {
        assert_eq!(
            parse("etcdctl --endpoints=127.0.0.1:2379 put key1 hello world"),
            Ok(Command::Kv(
                json!({"op": "put", "key": "key1", "value": "hello world"})
            ))
        );
        assert_eq!(
            parse("get key1"),
            Ok(Command::Kv(json!({"op": "get", "key": "key1"})))
        );
        assert_eq!(
            parse("del key1"),
            Ok(Command::Kv(json!({"op": "delete", "key": "key1"})))
        );
        assert_eq!(parse("member list"), Ok(Command::MemberList));
        assert!(parse("put onlykey").unwrap_err().contains("usage"));
        assert!(parse("frobnicate").unwrap_err().contains("unknown command"));
    }

    #[test]
    fn connection_and_output_flags_are_skipped_and_others_refused() {
        assert_eq!(
            parse("etcdctl --endpoints 127.0.0.1:2379,127.0.0.1:12379 endpoint status -w table"),
            Ok(Command::EndpointStatus)
        );
        assert_eq!(
            parse("etcdctl --write-out=json get k"),
            Ok(Command::Kv(json!({"op": "get", "key": "k"})))
        );
        assert_eq!(
            parse("etcdctl get / --prefix --keys-only"),
            Err("the terminal here does not support --prefix".into())
        );
    }

    #[test]
    fn lab_verbs_become_faults() {
        assert_eq!(parse("kill m1"), Ok(Command::Fault(json!({"kill": "m1"}))));
        assert_eq!(
            parse("etcdlab lab campaign m3"),
            Ok(Command::Fault(json!({"campaign": "m3"})))
        );
        assert_eq!(
            parse("partition m1 / m2 m3"),
            Ok(Command::Fault(json!({"partition": [["m1"], ["m2", "m3"]]})))
        );
        assert!(parse("partition m1").is_err());
        assert_eq!(parse("heal"), Ok(Command::Fault(json!({"heal": true}))));
        assert_eq!(parse("freeze"), Ok(Command::Post("/api/freeze")));
    }

    #[test]
    fn answers_print_like_etcdctl() {
        assert_eq!(kv_answer(&json!({"op": "put"})), vec!["OK"]);
        assert_eq!(
            kv_answer(&json!({"op": "get", "found": true, "key": "k", "value": "v"})),
            vec!["k", "v"]
        );
        assert_eq!(kv_answer(&json!({"op": "delete", "deleted": 1})), vec!["1"]);
        assert_eq!(
            kv_answer(&json!({"error": "etcdserver: request timed out"})),
            vec!["Error: etcdserver: request timed out"]
        );
    }
}
