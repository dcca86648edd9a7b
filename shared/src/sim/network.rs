//! The simulated network between members: messages in flight ordered by delivery time, faults
//! per directed link (delay range, loss, duplication; a delay range reorders messages) and
//! partitions into groups. Every random choice comes from the simulator's seeded [`Rng`].

use std::collections::BTreeMap;

use raft::eraftpb::{Message, MessageType};
use serde::{Deserialize, Serialize};

use super::rng::Rng;

/// The faults of one directed link.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct LinkFaults {
    /// Each message takes a delay drawn from `min_delay_ms..=max_delay_ms` (at least 1 ms), so
    /// a wide range reorders messages.
    pub min_delay_ms: u64,
    pub max_delay_ms: u64,
    /// Probability that a message is lost.
    pub loss: f64,
    /// Probability that a message is delivered twice (never a forwarded proposal).
    pub duplicate: f64,
}

impl Default for LinkFaults {
    fn default() -> LinkFaults {
        LinkFaults {
            min_delay_ms: 1,
            max_delay_ms: 10,
            loss: 0.0,
            duplicate: 0.0,
        }
    }
}

/// A Raft message on the wire.
#[derive(Clone, Debug)]
pub struct Envelope {
    pub from: u64,
    pub to: u64,
    pub msg_id: u64,
    pub message: Message,
}

/// Messages in flight and the faults that shape them.
#[derive(Debug, Default)]
pub struct Network {
    default_faults: LinkFaults,
    links: BTreeMap<(u64, u64), LinkFaults>,
    /// Members in different groups cannot talk; members in no group form one more group.
    partition: Vec<Vec<u64>>,
    /// By (delivery time, sequence number): the order of delivery.
    in_flight: BTreeMap<(u64, u64), Envelope>,
    next_seq: u64,
}

impl Network {
    pub fn new(default_faults: LinkFaults) -> Network {
        Network {
            default_faults,
            ..Network::default()
        }
    }

    /// Sets the faults of the link `from → to` (`None`: back to the default).
    pub fn set_link(&mut self, from: u64, to: u64, faults: Option<LinkFaults>) {
        match faults {
            Some(f) => self.links.insert((from, to), f),
            None => self.links.remove(&(from, to)),
        };
    }

    /// Sets the faults of every link without its own.
    pub fn set_default_faults(&mut self, faults: LinkFaults) {
        self.default_faults = faults;
    }

    pub fn partition(&mut self, groups: Vec<Vec<u64>>) {
        self.partition = groups;
    }

    /// Removes the partition and every link fault.
    pub fn heal(&mut self, default_faults: LinkFaults) {
        self.partition.clear();
        self.links.clear();
        self.default_faults = default_faults;
    }

    fn group_of(&self, id: u64) -> usize {
        self.partition
            .iter()
            .position(|g| g.contains(&id))
            .unwrap_or(self.partition.len())
    }

    /// Whether the partition separates `a` and `b`.
    pub fn is_cut(&self, a: u64, b: u64) -> bool {
        self.group_of(a) != self.group_of(b)
    }

    /// Puts a message on the wire at `now`; `Err` names why it was dropped.
    pub fn send(
        &mut self,
        rng: &mut Rng,
        now: u64,
        envelope: Envelope,
    ) -> Result<(), &'static str> {
        if self.is_cut(envelope.from, envelope.to) {
            return Err("partition");
        }
        let faults = *self
            .links
            .get(&(envelope.from, envelope.to))
            .unwrap_or(&self.default_faults);
        if rng.chance(faults.loss) {
            return Err("loss");
        }
        // A forwarded proposal is never doubled: etcd's transport (TCP) does not duplicate, and
        // a member applies a proposal as often as it is committed.
        let proposal = envelope.message.get_msg_type() == MessageType::MsgPropose;
        let copies = if rng.chance(faults.duplicate) && !proposal {
            2
        } else {
            1
        };
        for _ in 0..copies {
            let delay = rng.range(faults.min_delay_ms, faults.max_delay_ms).max(1);
            self.in_flight
                .insert((now + delay, self.next_seq), envelope.clone());
            self.next_seq += 1;
        }
        Ok(())
    }

    /// When the next message arrives.
    pub fn next_delivery(&self) -> Option<u64> {
        self.in_flight.keys().next().map(|(at, _)| *at)
    }

    /// The next message due at or before `now`.
    pub fn pop_due(&mut self, now: u64) -> Option<Envelope> {
        let entry = self.in_flight.first_entry()?;
        (entry.key().0 <= now).then(|| entry.remove())
    }

    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn envelope(from: u64, to: u64, msg_id: u64) -> Envelope {
        Envelope {
            from,
            to,
            msg_id,
            message: Message::default(),
        }
    }

    #[test]
    fn faults_and_partitions_shape_delivery() {
        let mut rng = Rng::new(1);
        let mut net = Network::new(LinkFaults {
            min_delay_ms: 5,
            max_delay_ms: 5,
            ..LinkFaults::default()
        });
        net.send(&mut rng, 0, envelope(1, 2, 1)).unwrap();
        assert_eq!(net.next_delivery(), Some(5));
        assert!(net.pop_due(4).is_none());
        assert_eq!(net.pop_due(5).map(|e| e.msg_id), Some(1));

        net.partition(vec![vec![1]]);
        assert!(net.is_cut(1, 2) && !net.is_cut(2, 3));
        assert_eq!(net.send(&mut rng, 0, envelope(1, 2, 2)), Err("partition"));
        net.heal(LinkFaults::default());
        let lossy = LinkFaults {
            loss: 1.0,
            ..LinkFaults::default()
        };
        net.set_link(1, 2, Some(lossy));
        assert_eq!(net.send(&mut rng, 0, envelope(1, 2, 3)), Err("loss"));
        assert!(
            net.send(&mut rng, 0, envelope(2, 1, 4)).is_ok(),
            "links are directed"
        );
        let doubled = LinkFaults {
            duplicate: 1.0,
            ..LinkFaults::default()
        };
        net.set_link(1, 2, Some(doubled));
        net.send(&mut rng, 0, envelope(1, 2, 5)).unwrap();
        assert_eq!(net.in_flight(), 3);
    }
}
