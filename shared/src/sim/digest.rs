//! A fingerprint of a simulated run: the SHA-1 of its event log as JSON lines (the format
//! `etcdlab events --record` writes) up to a virtual time. The browser's demo shows it for the
//! run in the page and `etcdlab demo --digest` computes it natively; equal digests mean the
//! wasm build ran the seed exactly as the native one did.

use sha1::{Digest, Sha1};

use super::player::Player;
use super::scenario::Scenario;
use crate::events::RaftEvent;

/// The virtual time the demo's digest covers.
pub const DEMO_DIGEST_AT_MS: u64 = 10_000;

/// The digest of the events up to (and at) `until_ms`, fed as they come.
pub struct EventLogDigest {
    until_ms: u64,
    hasher: Sha1,
    events: u64,
}

impl EventLogDigest {
    pub fn new(until_ms: u64) -> EventLogDigest {
        EventLogDigest {
            until_ms,
            hasher: Sha1::new(),
            events: 0,
        }
    }

    /// Adds events in the order they happened; those after `until_ms` are left out.
    pub fn feed(&mut self, events: &[RaftEvent]) {
        for event in events.iter().filter(|e| e.ts_ms <= self.until_ms) {
            let line = serde_json::to_string(event).expect("an event always serializes");
            self.hasher.update(line.as_bytes());
            self.hasher.update(b"\n");
            self.events += 1;
        }
    }

    /// `"<events> <sha1 hex>"` once the run is past `until_ms` (nothing more can happen at
    /// or before it), `None` before.
    pub fn finish(&self, now_ms: u64) -> Option<String> {
        if now_ms <= self.until_ms {
            return None;
        }
        let hex: String = self
            .hasher
            .clone()
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        Some(format!("{} {hex}", self.events))
    }
}

/// The digest of `scenario` played with `seed` up to `until_ms`, computed in one go.
pub fn scenario_digest(scenario: &Scenario, seed: u64, until_ms: u64) -> String {
    let mut player = Player::new(scenario, seed);
    player.run_to(until_ms + 1);
    let mut digest = EventLogDigest::new(until_ms);
    digest.feed(&player.sim_mut().take_events());
    digest
        .finish(player.sim().now_ms())
        .expect("the run is past the digest's time")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::scenario;

    #[test]
    fn the_digest_depends_on_the_run_and_its_time_only() {
        let s = scenario::named("normal_replication", 5).unwrap();
        let digest = scenario_digest(&s, 5, 4_000);
        assert_eq!(digest, scenario_digest(&s, 5, 4_000));
        assert_ne!(digest, scenario_digest(&s, 6, 4_000));
        assert_ne!(digest, scenario_digest(&s, 5, 5_000));
        let (count, hex) = digest.split_once(' ').unwrap();
        assert!(count.parse::<u64>().unwrap() > 100, "{digest}");
        assert_eq!(hex.len(), 40);

        // Fed in slices, as the page does, it comes out the same.
        let mut player = Player::new(&s, 5);
        let mut fed = EventLogDigest::new(4_000);
        for t in (0..=6_000).step_by(17) {
            player.run_to(t);
            fed.feed(&player.sim_mut().take_events());
            assert_eq!(fed.finish(t).is_some(), t > 4_000);
        }
        assert_eq!(fed.finish(6_000).unwrap(), digest);
    }
}
