//! The reference transcript (`../shared/reference/etcdctl-3.4.23.txt`, the real etcdctl
//! against real etcd) read as steps to replay: each command's arguments, output and exit code.

/// One `$ etcdctl ...` block of the transcript: its arguments, output and exit code.
pub struct Step {
    pub line: String,
    pub args: Vec<String>,
    pub output: String,
    pub exit: i32,
}

/// Reads the transcript's blocks from the first command starting with `first` (from the
/// beginning if empty) up to (not including) the next one starting with `stop_before`.
pub fn transcript_steps(first: &str, stop_before: &str) -> Vec<Step> {
    let text = std::fs::read_to_string(super::shared_dir().join("reference/etcdctl-3.4.23.txt"))
        .expect("the reference transcript in ../shared/reference");
    let mut steps = Vec::new();
    let mut lines = text.lines().peekable();
    let mut started = first.is_empty();
    while let Some(line) = lines.next() {
        let Some(cmd) = line.strip_prefix("$ etcdctl --endpoints 127.0.0.1:23790 ") else {
            continue;
        };
        started |= cmd.starts_with(first);
        if !started {
            continue;
        }
        if cmd.starts_with(stop_before) {
            break;
        }
        let mut output = String::new();
        // A block ends at `[exit=N]`, or (where the recording left it out) at the next command.
        let mut exit = None;
        while let Some(out) = lines.next_if(|l| !l.starts_with("$ ")) {
            if let Some(code) = out.strip_prefix("[exit=").and_then(|s| s.strip_suffix(']')) {
                exit = Some(code.parse().unwrap());
                break;
            }
            output.push_str(out);
            output.push('\n');
        }
        if exit.is_none() {
            // The blank line before the next command is the recording's, not the output's.
            output = output.trim_end_matches('\n').to_string() + "\n";
        }
        let pipeline = cmd.split(" | ").next().unwrap();
        steps.push(Step {
            line: cmd.to_string(),
            args: shell_words(pipeline),
            output,
            exit: exit.unwrap_or(0),
        });
    }
    steps
}

/// Splits a command line the way the shell did for these simple lines (single quotes only).
pub fn shell_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    let mut started = false;
    for c in line.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                started = true;
            }
            ' ' if !quoted => {
                if started {
                    words.push(std::mem::take(&mut current));
                    started = false;
                }
            }
            _ => {
                current.push(c);
                started = true;
            }
        }
    }
    if started {
        words.push(current);
    }
    words
}

/// The output lines the transcript shows after the command starting with `command` (up to the
/// next command or the exit code), without trailing blank lines.
pub fn reference_block(command: &str) -> String {
    let text = std::fs::read_to_string(super::shared_dir().join("reference/etcdctl-3.4.23.txt"))
        .expect("the reference transcript in ../shared/reference");
    let prefix = format!("$ etcdctl --endpoints 127.0.0.1:23790 {command}");
    let block: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.starts_with(&prefix))
        .skip(1)
        .take_while(|l| !l.starts_with("$ ") && !l.starts_with("[exit="))
        .collect();
    assert!(!block.is_empty(), "no `{command}` in the transcript");
    block.join("\n").trim_end().to_string() + "\n"
}
