//! The real etcdctl 3.4.23 against one etcdlab member, replaying the KV and membership part of the reference
//! transcript (`../shared/reference/etcdctl-3.4.23.txt`, recorded against real etcd) command by
//! command: every output must be byte-identical once member/cluster ids, timings and database
//! sizes are masked. Raft indexes, terms and revisions are compared as they are.

mod support;

use support::transcript::transcript_steps;
use support::{OurMember, etcdctl, normalize, without_logs};

/// Member lists are sorted by member id, and ids differ between servers: compare table rows and
/// `ETCD_INITIAL_CLUSTER` entries without their order.
fn id_order_free(text: &str) -> String {
    let mut rows: Vec<String> = Vec::new();
    let mut out = String::new();
    // Borders seen in the current table: the row after the first is the header, rows after
    // the second are data.
    let mut borders = 0;
    for line in text.lines() {
        if line.starts_with('|') && borders >= 2 {
            rows.push(line.to_string());
            continue;
        }
        rows.sort();
        out.extend(rows.drain(..).map(|r| r + "\n"));
        if line.starts_with('+') {
            borders += 1;
        } else if !line.starts_with('|') {
            borders = 0;
        }
        match line.strip_prefix("ETCD_INITIAL_CLUSTER=") {
            Some(list) => {
                let mut entries: Vec<&str> = list.trim_matches('"').split(',').collect();
                entries.sort_unstable();
                out.push_str(&format!("ETCD_INITIAL_CLUSTER={}\n", entries.join(",")));
            }
            None => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    rows.sort();
    out.extend(rows.into_iter().map(|r| r + "\n"));
    out
}

/// The member id in a `member add` answer (`Member <id> added to cluster ...`).
fn added_id(output: &str) -> Option<String> {
    let line = output.lines().next()?;
    line.contains(" added to cluster ")
        .then(|| line.split_whitespace().nth(1).map(String::from))?
}

/// `xxd | head -5` of bytes, as the transcript shows protobuf output.
fn xxd_head(bytes: &[u8]) -> String {
    let mut out = String::new();
    for (row, chunk) in bytes.chunks(16).take(5).enumerate() {
        let mut hex = String::new();
        for (i, b) in chunk.iter().enumerate() {
            hex.push_str(&format!("{b:02x}"));
            if i % 2 == 1 {
                hex.push(' ');
            }
        }
        let ascii: String = chunk
            .iter()
            .map(|&b| {
                if (0x20..0x7f).contains(&b) {
                    b as char
                } else {
                    '.'
                }
            })
            .collect();
        out.push_str(&format!("{:08x}: {hex:<40} {ascii}\n", row * 16));
    }
    out
}

/// The member and cluster ids of the transcript's real etcd (they are derived from its token).
const REFERENCE_CLUSTER_ID: u64 = 9538809699818750133;
const REFERENCE_MEMBER_ID: u64 = 3327137063359386213;

/// Re-encodes a protobuf `RangeResponse` with the reference's ids in its header, so the bytes
/// can be compared exactly (ids are the only thing allowed to differ).
fn with_reference_ids(bytes: &[u8]) -> Vec<u8> {
    use prost::Message as _;
    let Ok(mut resp) = etcdlab_core::proto::etcdserverpb::RangeResponse::decode(bytes) else {
        return bytes.to_vec();
    };
    if let Some(h) = resp.header.as_mut() {
        h.cluster_id = REFERENCE_CLUSTER_ID;
        h.member_id = REFERENCE_MEMBER_ID;
    }
    resp.encode_to_vec()
}

#[test]
fn kv_and_member_commands_match_the_reference_transcript() {
    let member = OurMember::start_single("single");
    let steps = transcript_steps("", "snapshot save");
    assert!(
        steps.len() >= 33,
        "the transcript's KV and member part has {} steps",
        steps.len()
    );
    let mut failures = Vec::new();
    // Ids the reference's `member add` printed, and the ones ours gave, for later commands.
    let mut id_map: Vec<(String, String)> = Vec::new();
    for step in &steps {
        let args: Vec<String> = step
            .args
            .iter()
            .map(|a| {
                id_map
                    .iter()
                    .find(|(theirs, _)| theirs == a)
                    .map_or(a.clone(), |(_, ours)| ours.clone())
            })
            .collect();
        let out = etcdctl(&member.endpoint(), &args, None);
        if let (Some(theirs), Some(ours)) = (added_id(&step.output), added_id(&out.stdout)) {
            id_map.push((theirs, ours));
        }
        let mut stdout = out.stdout_bytes.clone();
        if step.line.contains("| xxd") {
            stdout = xxd_head(&with_reference_ids(&stdout)).into_bytes();
        }
        let mut got = String::from_utf8_lossy(&stdout).into_owned();
        if step.line.contains("| sed") {
            got = regex_lite::Regex::new(r#""took":"[^"]*""#)
                .unwrap()
                .replace_all(&got, r#""took":"X""#)
                .into_owned();
        }
        // The reference captured stderr too (`endpoint health` reports there, errors end in
        // `Error: ...`); etcdctl's JSON warning logs carry client-side ids and are left out.
        let expected = without_logs(&step.output);
        got.push_str(&without_logs(&out.stderr));
        if id_order_free(&normalize(&got)) != id_order_free(&normalize(&expected))
            || out.code != step.exit
        {
            failures.push(format!(
                "$ etcdctl {}\n--- expected (exit {})\n{}--- got (exit {})\n{}",
                step.line, step.exit, expected, out.code, got
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} commands differ:\n{}",
        failures.len(),
        steps.len(),
        failures.join("\n")
    );
}
