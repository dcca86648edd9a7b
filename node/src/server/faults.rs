//! Injected faults (`--experimental-fault-injection`): what this member does to its own
//! outgoing Raft messages and its own progress, set over HTTP by the lab or a user.
//!
//! - **partition**: groups of members (by id); a message to a member of another group is
//!   dropped. Members named in no group form one more group together. The lab sets the same
//!   partition on every member, so a cut is symmetric.
//! - **link**: a loss rate (0–1) and a delay for messages from this member to one peer.
//! - **pause**: the member stops ticking and processing (messages and requests wait), the
//!   process keeps running and keeps reporting.
//! - **slow disk**: extra latency on every durable write, as a slow fsync.
//!
//! Faults are decided on the sending side only; a fault never touches what was persisted.

use std::collections::HashMap;
use std::time::Duration;

use serde::Serialize;

/// Loss and delay on the link from this member to one peer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct LinkFault {
    /// Fraction of messages dropped, 0 to 1.
    pub loss: f64,
    pub delay_ms: u64,
}

/// What to do with one outgoing message.
#[derive(Debug, PartialEq)]
pub enum Verdict {
    Send,
    Drop(&'static str),
    Delay(Duration),
}

/// The faults in force on this member.
#[derive(Debug, Default)]
pub struct Faults {
    /// Groups of member ids; empty when there is no partition.
    partition: Vec<Vec<u64>>,
    links: HashMap<u64, LinkFault>,
    pub paused: bool,
    pub disk_delay: Duration,
    rng: XorShift,
}

/// A change of faults, as the member's fault endpoint accepts it (ids already resolved).
#[derive(Clone, Debug, PartialEq)]
pub enum FaultChange {
    Partition(Vec<Vec<u64>>),
    /// Clears partitions and link faults.
    Heal,
    Link {
        to: u64,
        fault: LinkFault,
    },
    Pause,
    Resume,
    DiskDelay(Duration),
}

impl Faults {
    pub fn apply(&mut self, change: FaultChange) {
        match change {
            FaultChange::Partition(groups) => self.partition = groups,
            FaultChange::Heal => {
                self.partition.clear();
                self.links.clear();
            }
            FaultChange::Link { to, fault } if fault == LinkFault::default() => {
                self.links.remove(&to);
            }
            FaultChange::Link { to, fault } => {
                self.links.insert(to, fault);
            }
            FaultChange::Pause => self.paused = true,
            FaultChange::Resume => self.paused = false,
            FaultChange::DiskDelay(delay) => self.disk_delay = delay,
        }
    }

    /// Whether any fault that affects messages is in force.
    pub fn affects_messages(&self) -> bool {
        !self.partition.is_empty() || !self.links.is_empty()
    }

    /// What happens to a message from `from` to `to`.
    pub fn verdict(&mut self, from: u64, to: u64) -> Verdict {
        if !self.partition.is_empty() && self.group_of(from) != self.group_of(to) {
            return Verdict::Drop("partition");
        }
        let Some(link) = self.links.get(&to).copied() else {
            return Verdict::Send;
        };
        if link.loss > 0.0 && self.rng.next_fraction() < link.loss {
            return Verdict::Drop("loss");
        }
        if link.delay_ms > 0 {
            return Verdict::Delay(Duration::from_millis(link.delay_ms));
        }
        Verdict::Send
    }

    /// The partition group of `id`; members in no group share the group after the last.
    fn group_of(&self, id: u64) -> usize {
        self.partition
            .iter()
            .position(|group| group.contains(&id))
            .unwrap_or(self.partition.len())
    }

    /// The faults as JSON, with member ids in hex.
    pub fn describe(&self) -> serde_json::Value {
        let hex = |ids: &Vec<u64>| ids.iter().map(|id| format!("{id:x}")).collect::<Vec<_>>();
        serde_json::json!({
            "partition": self.partition.iter().map(hex).collect::<Vec<_>>(),
            "links": self.links.iter().map(|(to, l)| (format!("{to:x}"), *l)).collect::<HashMap<_, _>>(),
            "paused": self.paused,
            "disk_delay_ms": self.disk_delay.as_millis() as u64,
        })
    }
}

/// A small, fast random source for loss decisions (no need for cryptographic quality).
#[derive(Debug)]
struct XorShift(u64);

impl Default for XorShift {
    fn default() -> Self {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1);
        XorShift(seed | 1)
    }
}

impl XorShift {
    fn next_fraction(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_partition_cuts_between_groups_and_the_unnamed_stay_together() {
        let mut faults = Faults::default();
        faults.apply(FaultChange::Partition(vec![vec![1], vec![2, 3]]));
        assert_eq!(faults.verdict(1, 2), Verdict::Drop("partition"));
        assert_eq!(faults.verdict(2, 3), Verdict::Send);
        assert_eq!(faults.verdict(4, 5), Verdict::Send);
        assert_eq!(faults.verdict(3, 4), Verdict::Drop("partition"));
        faults.apply(FaultChange::Heal);
        assert_eq!(faults.verdict(1, 2), Verdict::Send);
        assert!(!faults.affects_messages());
    }

    #[test]
    fn link_loss_drops_about_its_rate_and_delay_holds_the_rest() {
        let mut faults = Faults::default();
        faults.apply(FaultChange::Link {
            to: 2,
            fault: LinkFault {
                loss: 0.3,
                delay_ms: 50,
            },
        });
        let dropped = (0..10_000)
            .filter(|_| faults.verdict(1, 2) == Verdict::Drop("loss"))
            .count();
        assert!(
            (2_500..3_500).contains(&dropped),
            "{dropped} of 10000 dropped"
        );
        let mut faults = Faults::default();
        faults.apply(FaultChange::Link {
            to: 2,
            fault: LinkFault {
                loss: 0.0,
                delay_ms: 50,
            },
        });
        assert_eq!(
            faults.verdict(1, 2),
            Verdict::Delay(Duration::from_millis(50))
        );
        assert_eq!(faults.verdict(1, 3), Verdict::Send);
    }
}
