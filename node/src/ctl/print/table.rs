//! The `table` format, as etcdctl draws it with Go's tablewriter: `+---+` borders, headers
//! upper-cased and centred, cells right-aligned, and text wider than 30 columns wrapped at
//! spaces with tablewriter's minimal-raggedness line breaking. Only the member and endpoint
//! lists (and `snapshot status`) have a table form.

use super::{Rendered, Report, Rows, hashkv_rows, health_rows, member_rows, status_rows};

pub(super) fn render(report: &Report) -> Option<Rendered> {
    let rows = match report {
        Report::MemberList(r) => member_rows(r),
        Report::EndpointHealth(results) => health_rows(results),
        Report::EndpointStatus(statuses) => status_rows(statuses),
        Report::EndpointHashKv(hashes) => hashkv_rows(hashes),
        _ => return None,
    };
    let Rows { headers, rows } = rows;
    Some(Rendered::stdout(table(headers, &rows)))
}

/// tablewriter's widest line before a cell wraps.
const MAX_CELL_WIDTH: usize = 30;

/// A bordered table of `rows` under `headers`.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let header_cells: Vec<(Vec<String>, usize)> = headers.iter().map(|h| wrap(h)).collect();
    let body: Vec<Vec<(Vec<String>, usize)>> = rows
        .iter()
        .map(|row| row.iter().take(headers.len()).map(|c| wrap(c)).collect())
        .collect();
    let mut widths: Vec<usize> = header_cells.iter().map(|(_, w)| *w).collect();
    for row in &body {
        for (width, (_, w)) in widths.iter_mut().zip(row) {
            *width = (*width).max(*w);
        }
    }
    let border: String = widths
        .iter()
        .map(|w| format!("+{}", "-".repeat(w + 2)))
        .collect::<String>()
        + "+\n";
    let mut out = border.clone();
    let header_height = header_cells.iter().map(|(l, _)| l.len()).max().unwrap_or(0);
    for line in 0..header_height {
        out.push('|');
        for ((cell, _), width) in header_cells.iter().zip(&widths) {
            let text = cell.get(line).map(|h| title(h)).unwrap_or_default();
            let gap = width.saturating_sub(display_width(&text));
            out.push_str(&format!(
                " {}{text}{} |",
                " ".repeat(gap / 2),
                " ".repeat(gap - gap / 2)
            ));
        }
        out.push('\n');
    }
    out.push_str(&border);
    for cells in &body {
        let height = cells.iter().map(|(l, _)| l.len()).max().unwrap_or(0);
        for line in 0..height {
            for ((cell, _), width) in cells.iter().zip(&widths) {
                // tablewriter fills a shorter cell's missing lines with two spaces.
                let text = cell.get(line).map_or("  ", String::as_str);
                let gap = width.saturating_sub(display_width(text));
                out.push_str(&format!("| {}{text} ", " ".repeat(gap)));
            }
            out.push_str("|\n");
        }
    }
    out.push_str(&border);
    out
}

/// tablewriter's `Title` for a header line: `_` as a space, trimmed, upper case.
fn title(header: &str) -> String {
    header.replace('_', " ").trim().to_uppercase()
}

/// A cell's lines and the width it claims (tablewriter's `parseDimension` with wrapping on):
/// lines join into one paragraph that is wrapped to the cell's width, at most 30 columns.
fn wrap(cell: &str) -> (Vec<String>, usize) {
    let widest = cell.split('\n').map(display_width).max().unwrap_or(0);
    let limit = widest.min(MAX_CELL_WIDTH);
    let paragraph = cell.split('\n').collect::<Vec<_>>().join(" ");
    let lines = wrap_words(&paragraph, limit);
    let width = lines
        .iter()
        .map(|l| display_width(l))
        .fold(limit, usize::max);
    (lines, width)
}

/// tablewriter's `WrapString`: words split at single spaces, broken into lines of at most
/// `limit` columns (or the longest word) with the least squared slack.
fn wrap_words(text: &str, limit: usize) -> Vec<String> {
    let words: Vec<&str> = text.split(' ').collect();
    let limit = words
        .iter()
        .map(|w| display_width(w))
        .fold(limit, usize::max) as i64;
    let n = words.len();
    let widths: Vec<i64> = words.iter().map(|w| display_width(w) as i64).collect();
    // length(i, j): words i..=j on one line with single spaces.
    let length = |i: usize, j: usize| widths[i..=j].iter().sum::<i64>() + (j - i) as i64;
    const PENALTY: i64 = 100_000;
    let mut cost = vec![i64::from(i32::MAX); n + 1];
    let mut breaks = vec![n; n];
    cost[n] = 0;
    for i in (0..n).rev() {
        if length(i, n - 1) <= limit {
            cost[i] = 0;
            breaks[i] = n;
            continue;
        }
        for j in i + 1..n {
            let used = length(i, j - 1);
            let slack = limit - used;
            let mut c = slack * slack + cost[j];
            if used > limit {
                c += PENALTY;
            }
            if c < cost[i] {
                cost[i] = c;
                breaks[i] = j;
            }
        }
    }
    let mut lines = Vec::new();
    let mut i = 0;
    while i < n {
        let end = breaks[i].max(i + 1);
        lines.push(words[i..end].join(" "));
        i = end;
    }
    lines
}

/// Columns a string takes in a terminal: East Asian wide characters take two (go-runewidth).
fn display_width(s: &str) -> usize {
    s.chars().map(|c| if is_wide(c) { 2 } else { 1 }).sum()
}

fn is_wide(c: char) -> bool {
    matches!(c as u32,
        0x1100..=0x115F
        | 0x2E80..=0x303E
        | 0x3041..=0x33FF
        | 0x3400..=0x4DBF
        | 0x4E00..=0x9FFF
        | 0xA000..=0xA4CF
        | 0xAC00..=0xD7A3
        | 0xF900..=0xFAFF
        | 0xFE30..=0xFE4F
        | 0xFF00..=0xFF60
        | 0xFFE0..=0xFFE6
        | 0x1F300..=0x1F64F
        | 0x1F900..=0x1F9FF
        | 0x20000..=0x3FFFD)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_as_tablewriter() {
        let t = table(
            &["ID", "Status"],
            &[vec!["2e2c5d87fc929265".into(), "started".into()]],
        );
        assert_eq!(
            t,
            "+------------------+---------+\n|        ID        | STATUS  |\n+------------------+---------+\n| 2e2c5d87fc929265 | started |\n+------------------+---------+\n"
        );
    }

    #[test]
    fn wraps_long_cells_at_spaces() {
        assert_eq!(wrap("short"), (vec!["short".to_string()], 5));
        let (lines, width) = wrap("a member name that is much longer than thirty columns");
        assert!(
            lines.len() > 1 && lines.iter().all(|l| l.len() <= 30),
            "{lines:?}"
        );
        assert_eq!(width, 30);
        assert_eq!(wrap("").0, vec![String::new()]);
        let t = table(
            &["a"],
            &[
                vec!["x y".into()],
                vec!["one two three four five six seven".into()],
            ],
        );
        assert!(t.contains("|                            x y |\n"), "{t}");
    }
}
