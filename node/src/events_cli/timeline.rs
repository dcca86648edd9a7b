//! One event as one readable line: `12:00:01.250 m1 ▶ m2 append [7..9] t3`.
//!
//! Arrows point from the member that acts to the one it talks to (`▶` a send, `◀` a
//! receipt); `★` a new leader, `✓` an entry applied, `⇒` the commit index moving, `✂` a
//! message dropped by a fault. Member ids (hex) are shown by name once a name is known.

use std::collections::HashMap;

use serde_json::Value;

/// Turns events into lines, learning member names from the events as they pass.
#[derive(Default)]
pub struct Timeline {
    names: HashMap<String, String>,
    order: Vec<String>,
    pub color: bool,
}

const COLORS: [&str; 7] = ["36", "33", "35", "32", "34", "31", "96"];
const DIM: &str = "2";
const BOLD_YELLOW: &str = "1;33";
const GREEN: &str = "32";
const RED: &str = "31";

impl Timeline {
    pub fn new(color: bool) -> Timeline {
        Timeline {
            color,
            ..Timeline::default()
        }
    }

    /// Learns that member `id` (hex) is called `name`.
    pub fn learn(&mut self, id: &str, name: &str) {
        if id.is_empty() || name.is_empty() {
            return;
        }
        if !self.order.iter().any(|n| n == name) {
            self.order.push(name.to_string());
        }
        self.names.insert(id.to_string(), name.to_string());
    }

    fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    /// A member by name (coloured by its place among the members seen), from a name or id.
    fn member(&mut self, who: &str) -> String {
        let name = match self.names.get(who) {
            Some(name) => name.clone(),
            None if who == "0" => "none".to_string(),
            None => who.to_string(),
        };
        if !self.order.contains(&name) {
            self.order.push(name.clone());
        }
        let slot = self.order.iter().position(|n| *n == name).unwrap_or(0);
        self.paint(COLORS[slot % COLORS.len()], &name)
    }

    /// The line for one event (an object from a stream or a recording); `None` for what is
    /// not an event.
    pub fn line(&mut self, event: &Value) -> Option<String> {
        if let Some(notice) = event["notice"].as_str() {
            let dropped = event["dropped"].as_u64().unwrap_or(0);
            let node = event["node"].as_str().unwrap_or("stream");
            return Some(self.paint(
                RED,
                &format!("-- {node}: {notice}, {dropped} events dropped; the stream ended --"),
            ));
        }
        let kind = event["kind"].as_str()?;
        let node = event["node"].as_str().unwrap_or("?").to_string();
        if let Some(id) = event["id"].as_str() {
            self.learn(id, &node);
        }
        let s = |key: &str| event[key].as_str().unwrap_or("").to_string();
        let n = |key: &str| event[key].as_u64().unwrap_or(0);
        let pre = if event["pre_vote"] == true {
            "pre-vote"
        } else {
            "vote"
        };
        let term = format!("t{}", n("term"));
        let me = self.member(&node);
        let text = match kind {
            "role_changed" => {
                let role = s("role");
                let leader = s("leader");
                match role.as_str() {
                    "leader" => format!("{me} {} {term}", self.paint(BOLD_YELLOW, "★ leader")),
                    "follower" if leader != "0" && !leader.is_empty() => {
                        let leader = self.member(&leader);
                        format!("{me} ● follower {term} (leader {leader})")
                    }
                    "candidate" => format!("{me} ◆ candidate {term}"),
                    "pre_candidate" => format!("{me} ◇ pre-candidate {term}"),
                    other => format!("{me} ● {other} {term}"),
                }
            }
            "election_timeout" => format!(
                "{me} ⏰ election timeout ({}/{} ticks) {term}",
                n("elapsed_ticks"),
                n("timeout_ticks")
            ),
            "vote_requested" => {
                let to = self.member(&s("to"));
                format!(
                    "{me} ▶ {to} {pre}? last {}/t{} {term}",
                    n("last_index"),
                    n("last_term")
                )
            }
            "vote_granted" => {
                let to = self.member(&s("to"));
                format!("{me} ▶ {to} {pre} {} {term}", self.paint(GREEN, "✓"))
            }
            "vote_rejected" => {
                let to = self.member(&s("to"));
                format!(
                    "{me} ▶ {to} {pre} {} ({}) {term}",
                    self.paint(RED, "✗"),
                    s("reason")
                )
            }
            "append_sent" | "append_received" => {
                let (arrow, peer) = if kind == "append_sent" {
                    ("▶", s("to"))
                } else {
                    ("◀", s("from"))
                };
                let peer = self.member(&peer);
                let range = if n("first_index") == 0 {
                    format!("[] prev {}", n("prev_index"))
                } else {
                    format!("[{}..{}]", n("first_index"), n("last_index"))
                };
                format!("{me} {arrow} {peer} append {range} {term}")
            }
            "append_acked" => {
                let to = self.member(&s("to"));
                format!("{me} ▶ {to} ack {} {term}", n("match_index"))
            }
            "append_rejected" => {
                let to = self.member(&s("to"));
                format!(
                    "{me} ▶ {to} {} at {} (hint {}) {term}",
                    self.paint(RED, "reject"),
                    n("rejected_index"),
                    n("hint_index")
                )
            }
            "heartbeat_sent" => {
                let to = self.member(&s("to"));
                format!("{me} ▶ {to} {} {term}", self.paint(DIM, "heartbeat"))
            }
            "heartbeat_acked" => {
                let to = self.member(&s("to"));
                format!("{me} ▶ {to} {} {term}", self.paint(DIM, "heartbeat ack"))
            }
            "snapshot_sent" => {
                let to = self.member(&s("to"));
                format!(
                    "{me} ▶ {to} snapshot @{} ({} bytes) {term}",
                    n("index"),
                    n("bytes")
                )
            }
            "message_sent" => {
                let to = self.member(&s("to"));
                format!("{me} ▶ {to} {} {term}", s("msg_type"))
            }
            "message_received" => {
                let from = self.member(&s("from"));
                format!("{me} ◀ {from} {} {term}", s("msg_type"))
            }
            "commit_advanced" => format!("{me} ⇒ commit {} {term}", n("commit")),
            "entry_applied" => format!(
                "{me} {} applied {} {}",
                self.paint(GREEN, "✓"),
                n("index"),
                s("request")
            ),
            "snapshot_applied" => format!(
                "{me} {} snapshot applied @{} {term}",
                self.paint(GREEN, "✓"),
                n("index")
            ),
            "conf_change_applied" => {
                let member = self.member(&s("member"));
                format!("{me} ⚙ {} {member} {term}", s("change"))
            }
            "read_index" => format!("{me} ◎ read index {} {term}", n("index")),
            "message_dropped" => {
                let to = self.member(&s("to"));
                format!(
                    "{me} {} {to} dropped ({}) {term}",
                    self.paint(RED, "✂"),
                    s("reason")
                )
            }
            "message_delayed" => {
                let to = self.member(&s("to"));
                format!("{me} ⌛ {to} delayed {} ms {term}", n("delay_ms"))
            }
            "client_request" => format!("{me} ← client {} (#{})", s("request"), n("request_id")),
            "client_response" => format!("{me} → client {} (#{})", s("result"), n("request_id")),
            "member_started" => format!(
                "{me} ⏻ started (tick {} ms, election {} ticks, heartbeat {} tick)",
                n("tick_ms"),
                n("election_ticks"),
                n("heartbeat_ticks")
            ),
            "member_stopped" => format!("{me} {} ({})", self.paint(RED, "⏻ stopped"), s("reason")),
            "fault_changed" => format!("{me} ⚡ fault: {}", s("description")),
            other => format!("{me} {other} {term}"),
        };
        Some(format!("{} {text}", self.paint(DIM, &clock(n("ts_ms")))))
    }
}

/// `HH:MM:SS.mmm` (UTC) of a time in milliseconds since the Unix epoch.
fn clock(ts_ms: u64) -> String {
    let secs = ts_ms / 1000;
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        (secs / 3600) % 24,
        (secs / 60) % 60,
        secs % 60,
        ts_ms % 1000
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn events_read_as_lines_with_names_for_ids() {
        let mut t = Timeline::new(false);
        t.learn("b2", "m2");
        let base = |kind: &str| json!({"v":1,"seq":1,"ts_ms":3_723_250,"node":"m1","id":"a1","term":3,"kind":kind});
        let mut append = base("append_sent");
        for (k, v) in [
            ("to", json!("b2")),
            ("first_index", json!(7)),
            ("last_index", json!(9)),
        ] {
            append[k] = v;
        }
        assert_eq!(
            t.line(&append).unwrap(),
            "01:02:03.250 m1 ▶ m2 append [7..9] t3"
        );
        let mut leader = base("role_changed");
        leader["role"] = json!("leader");
        leader["term"] = json!(4);
        assert_eq!(t.line(&leader).unwrap(), "01:02:03.250 m1 ★ leader t4");
        let mut applied = base("entry_applied");
        applied["index"] = json!(8);
        applied["request"] = json!("put key1=value1");
        assert_eq!(
            t.line(&applied).unwrap(),
            "01:02:03.250 m1 ✓ applied 8 put key1=value1"
        );
        let mut ack = json!({"node":"m2","id":"b2","term":3,"ts_ms":0,"kind":"append_acked"});
        ack["to"] = json!("a1");
        ack["match_index"] = json!(9);
        assert_eq!(t.line(&ack).unwrap(), "00:00:00.000 m2 ▶ m1 ack 9 t3");
        assert!(t.line(&json!({"foo": 1})).is_none());
        let mut coloured = Timeline::new(true);
        assert!(coloured.line(&leader).unwrap().contains("\x1b["));
    }
}
