//! The usage text etcdctl prints for `--help` and after a bad flag: its own template (NAME,
//! USAGE, COMMANDS, DESCRIPTION, OPTIONS, GLOBAL OPTIONS) laid out by Go's `text/tabwriter`,
//! whose column rules are reproduced here so the text matches byte for byte.

use super::cli::{Command, HELP, Kind, ScopedFlag, flags_of};
use super::gotext;

/// etcdctl's version, and the API version it speaks.
pub const VERSION: &str = "3.4.23";
pub const API_VERSION: &str = "3.4";

/// The usage of the last command of `path` (which starts at the root).
pub fn usage(path: &[&'static Command]) -> String {
    let Some((command, ancestors)) = path.split_last() else {
        return String::new();
    };
    let mut text = String::from("NAME:\n");
    let name = if ancestors.is_empty() {
        command.name().to_string()
    } else {
        path[1..]
            .iter()
            .map(|c| c.name())
            .collect::<Vec<_>>()
            .join(" ")
    };
    text.push_str(&format!("\t{name} - {}\n", command.short));
    text.push_str(&format!("\nUSAGE:\n\t{}\n", use_line(path)));
    if ancestors.is_empty() {
        text.push_str(&format!("\nVERSION:\n\t{VERSION}\n"));
    }
    if !command.subcommands.is_empty() {
        text.push_str(&format!("\nAPI VERSION:\n\t{API_VERSION}\n"));
        text.push_str("\n\nCOMMANDS:\n");
        for (relative, sub) in descendants(command, "") {
            if sub.run.is_some() {
                text.push_str(&format!("\t{relative}\t{}\n", sub.short));
            }
        }
    }
    let long = command.long.trim_matches(['\n', '\t', ' ']);
    if !long.is_empty() {
        text.push_str("\nDESCRIPTION:\n");
        for line in long.split('\n') {
            text.push_str(&format!("\t{line}\n"));
        }
    }
    let flags = flags_of(path);
    let (inherited, local): (Vec<ScopedFlag>, Vec<ScopedFlag>) =
        flags.into_iter().partition(|s| s.inherited);
    if !local.is_empty() {
        text.push_str("\nOPTIONS:\n");
        text.push_str(&flag_lines(local, command.name()));
    }
    if !inherited.is_empty() {
        text.push_str("\nGLOBAL OPTIONS:\n");
        text.push_str(&flag_lines(inherited, command.name()));
    }
    text.push('\n');
    tabwrite(&text)
}

/// cobra's `UseLine`: the parents' names, the command's `Use`, then `[flags]`.
fn use_line(path: &[&'static Command]) -> String {
    let Some((command, ancestors)) = path.split_last() else {
        return String::new();
    };
    let mut words: Vec<&str> = ancestors.iter().map(|c| c.name()).collect();
    words.push(command.use_line);
    let line = words.join(" ");
    if line.contains("[flags]") {
        line
    } else {
        format!("{line} [flags]")
    }
}

/// Every command below `command`, depth first in name order, with its path relative to it.
fn descendants(command: &'static Command, prefix: &str) -> Vec<(String, &'static Command)> {
    let mut subs: Vec<&'static Command> = command.subcommands.to_vec();
    subs.sort_by_key(|c| c.name());
    subs.into_iter()
        .flat_map(|sub| {
            let relative = format!("{prefix}{}", sub.name());
            let below = descendants(sub, &format!("{relative} "));
            std::iter::once((relative, sub)).chain(below)
        })
        .collect()
}

/// etcdctl's `etcdFlagUsages`: one line per flag in name order, the default after `=`.
fn flag_lines(mut flags: Vec<ScopedFlag>, command_name: &str) -> String {
    flags.sort_by_key(|s| s.flag.name);
    flags
        .iter()
        .map(|s| {
            let f = s.flag;
            let mut line = match f.short {
                Some(c) => format!("  -{c}, --{}", f.name),
                None => format!("      --{}", f.name),
            };
            match f.kind {
                Kind::Bool => line.push_str(&format!("[={}]", f.default)),
                Kind::Text => line.push_str(&format!("={}", gotext::quote(f.default.as_bytes()))),
                Kind::List => line.push_str(&format!("=[{}]", f.default)),
                Kind::Int | Kind::Duration => line.push_str(&format!("={}", f.default)),
            }
            let usage = if std::ptr::eq(f, &HELP) {
                format!("{} {command_name}", f.usage)
            } else {
                f.usage.to_string()
            };
            format!("{line}\t{usage}\n")
        })
        .collect()
}

/// Go's `text/tabwriter` as etcdctl sets it up (tab width 8, padding 1, padded with tabs):
/// tab-terminated cells of consecutive lines form columns as wide as their widest cell.
pub fn tabwrite(text: &str) -> String {
    let lines: Vec<Vec<&str>> = text.split('\n').map(|l| l.split('\t').collect()).collect();
    let mut out = String::new();
    format_block(&lines, 0, lines.len(), &mut Vec::new(), &mut out);
    out
}

const TAB_WIDTH: usize = 8;
const PADDING: usize = 1;

/// tabwriter's `format`: lines `[line0, line1)`, whose columns left of `widths.len()` are sized.
fn format_block(
    lines: &[Vec<&str>],
    line0: usize,
    line1: usize,
    widths: &mut Vec<usize>,
    out: &mut String,
) {
    let column = widths.len();
    let has_column = |line: &Vec<&str>| column + 1 < line.len();
    let mut written = line0;
    let mut this = line0;
    while this < line1 {
        if !has_column(&lines[this]) {
            this += 1;
            continue;
        }
        write_lines(lines, written, this, widths, out);
        let start = this;
        let mut width = 0;
        while this < line1 && has_column(&lines[this]) {
            width = width.max(lines[this][column].chars().count() + PADDING);
            this += 1;
        }
        widths.push(width);
        format_block(lines, start, this, widths, out);
        widths.pop();
        written = this;
    }
    write_lines(lines, written, line1, widths, out);
}

fn write_lines(
    lines: &[Vec<&str>],
    line0: usize,
    line1: usize,
    widths: &[usize],
    out: &mut String,
) {
    for (i, line) in lines.iter().enumerate().take(line1).skip(line0) {
        for (j, cell) in line.iter().enumerate() {
            out.push_str(cell);
            if let Some(width) = widths.get(j) {
                let cell_width = width.div_ceil(TAB_WIDTH) * TAB_WIDTH;
                let padding = cell_width - cell.chars().count();
                out.push_str(&"\t".repeat(padding.div_ceil(TAB_WIDTH)));
            }
        }
        if i + 1 < lines.len() {
            out.push('\n');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tabwriter_pads_columns_with_tabs() {
        let text = "OPTIONS:\n      --cacert=\"\"\tverify\n      --insecure-skip-tls-verify[=false]\tskip\n\nx\n";
        assert_eq!(
            tabwrite(text),
            "OPTIONS:\n      --cacert=\"\"\t\t\t\tverify\n      --insecure-skip-tls-verify[=false]\tskip\n\nx\n"
        );
        assert_eq!(tabwrite("\tget - Gets\n"), "\tget - Gets\n");
        assert_eq!(
            tabwrite("\ta\tshort\n\tlonger name\tx\n"),
            "\ta\t\tshort\n\tlonger name\tx\n"
        );
    }
}
