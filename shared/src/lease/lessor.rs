//! The leader's lease clock: when each lease expires, kept in memory on the leader only (time is
//! not replicated), from milliseconds the host passes in. The member asks it which leases have
//! expired and proposes their revokes through Raft; followers keep no deadlines at all.

use std::collections::HashMap;

/// How long after proposing the revoke of an expired lease the leader proposes it again, in
/// case the first proposal was lost (etcd's `expiredLeaseRetryInterval`).
const REVOKE_RETRY_MS: u64 = 3000;

/// Lease deadlines on the leader. See the module docs.
#[derive(Debug, Default)]
pub struct Lessor {
    now_ms: u64,
    /// Whether this member is the leader and times the leases.
    primary: bool,
    /// When each live lease expires.
    deadlines: HashMap<i64, u64>,
    /// Expired leases whose revoke has been proposed, and when to propose it again.
    revoking: HashMap<i64, u64>,
}

fn ttl_ms(ttl: i64) -> u64 {
    (ttl.max(0) as u64).saturating_mul(1000)
}

impl Lessor {
    /// Moves the clock to `now_ms` (it never goes back).
    pub fn set_now(&mut self, now_ms: u64) {
        self.now_ms = self.now_ms.max(now_ms);
    }

    pub fn is_primary(&self) -> bool {
        self.primary
    }

    /// This member became leader: every lease (id, granted TTL) lives its full TTL from now, plus
    /// `extension_ms` (etcd extends by an election timeout), whatever was left of it before.
    pub fn promote(&mut self, leases: impl IntoIterator<Item = (i64, i64)>, extension_ms: u64) {
        let start = self.now_ms + extension_ms;
        self.primary = true;
        self.revoking.clear();
        self.deadlines = leases
            .into_iter()
            .map(|(id, ttl)| (id, start.saturating_add(ttl_ms(ttl))))
            .collect();
    }

    /// This member is no longer leader: it forgets every deadline.
    pub fn demote(&mut self) {
        self.primary = false;
        self.deadlines.clear();
        self.revoking.clear();
    }

    /// A grant was applied: on the leader the lease expires `ttl` seconds from now.
    pub fn granted(&mut self, id: i64, ttl: i64) {
        if self.primary {
            self.deadlines
                .insert(id, self.now_ms.saturating_add(ttl_ms(ttl)));
        }
    }

    /// A revoke was applied (or failed because the lease was already gone).
    pub fn revoked(&mut self, id: i64) {
        self.deadlines.remove(&id);
        self.revoking.remove(&id);
    }

    /// A keep-alive: the lease lives `ttl` seconds from now. False if this leader does not time
    /// the lease or it has already expired (its revoke is on its way).
    pub fn renew(&mut self, id: i64, ttl: i64) -> bool {
        match self.deadlines.get_mut(&id) {
            Some(deadline) if *deadline > self.now_ms => {
                *deadline = self.now_ms.saturating_add(ttl_ms(ttl));
                true
            }
            _ => false,
        }
    }

    /// Milliseconds the lease has left (0 once expired), if this leader times it.
    pub fn remaining_ms(&self, id: i64) -> Option<u64> {
        if self.revoking.contains_key(&id) {
            return Some(0);
        }
        self.deadlines
            .get(&id)
            .map(|deadline| deadline.saturating_sub(self.now_ms))
    }

    /// The leases whose revoke should be proposed now, at most `max`: those whose earlier
    /// revoke has not been applied after [`REVOKE_RETRY_MS`], then those that expired, longest
    /// expired first (etcd limits revokes to a rate too; the rest wait for the next call).
    pub fn take_expired(&mut self, max: usize) -> Vec<i64> {
        if !self.primary {
            return Vec::new();
        }
        let now = self.now_ms;
        let retry_at = now + REVOKE_RETRY_MS;
        let mut retries: Vec<(u64, i64)> = self
            .revoking
            .iter()
            .filter(|(_, at)| **at <= now)
            .map(|(id, at)| (*at, *id))
            .collect();
        let mut expired: Vec<(u64, i64)> = self
            .deadlines
            .iter()
            .filter(|(_, deadline)| **deadline <= now)
            .map(|(id, deadline)| (*deadline, *id))
            .collect();
        retries.sort_unstable();
        expired.sort_unstable();
        let due: Vec<i64> = retries
            .into_iter()
            .chain(expired)
            .take(max)
            .map(|(_, id)| id)
            .collect();
        for id in &due {
            self.deadlines.remove(id);
            self.revoking.insert(*id, retry_at);
        }
        due
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leader_at(now_ms: u64, leases: &[(i64, i64)]) -> Lessor {
        let mut lessor = Lessor::default();
        lessor.set_now(now_ms);
        lessor.promote(leases.iter().copied(), 1000);
        lessor
    }

    #[test]
    fn a_promoted_leader_gives_every_lease_its_full_ttl_plus_the_extension() {
        let mut lessor = leader_at(50_000, &[(1, 5), (2, 60)]);
        assert_eq!(lessor.remaining_ms(1), Some(6000));
        lessor.set_now(55_999);
        assert!(lessor.take_expired(10).is_empty());
        lessor.set_now(56_000);
        assert_eq!(lessor.take_expired(10), vec![1]);
        assert_eq!(lessor.remaining_ms(1), Some(0));
        assert_eq!(lessor.remaining_ms(2), Some(55_000));
    }

    #[test]
    fn an_expired_lease_is_proposed_once_then_again_after_the_retry_interval() {
        let mut lessor = leader_at(0, &[(7, 1)]);
        lessor.set_now(2000);
        assert_eq!(lessor.take_expired(10), vec![7]);
        lessor.set_now(4999);
        assert!(lessor.take_expired(10).is_empty());
        assert!(!lessor.renew(7, 1), "an expired lease cannot be kept alive");
        lessor.set_now(5000);
        assert_eq!(lessor.take_expired(10), vec![7]);
        lessor.revoked(7);
        lessor.set_now(10_000);
        assert!(lessor.take_expired(10).is_empty());
        assert_eq!(lessor.remaining_ms(7), None);
    }

    #[test]
    fn revokes_are_proposed_a_limited_number_at_a_time_longest_expired_first() {
        let mut lessor = leader_at(0, &[(1, 3), (2, 1), (3, 2), (4, 9)]);
        lessor.set_now(5000);
        assert_eq!(lessor.take_expired(2), vec![2, 3]);
        assert!(!lessor.renew(1, 3), "expired, waiting for its turn");
        assert_eq!(lessor.take_expired(2), vec![1]);
        lessor.set_now(10_000);
        assert_eq!(lessor.take_expired(3), vec![1, 2, 3], "retries go first");
        assert_eq!(lessor.take_expired(3), vec![4]);
    }

    #[test]
    fn renewal_and_grants_count_from_now_and_followers_time_nothing() {
        let mut lessor = leader_at(0, &[(1, 10)]);
        lessor.set_now(9000);
        assert!(lessor.renew(1, 10));
        assert_eq!(lessor.remaining_ms(1), Some(10_000));
        lessor.granted(2, 3);
        assert_eq!(lessor.remaining_ms(2), Some(3000));
        lessor.set_now(1000); // the clock never goes back
        assert_eq!(lessor.remaining_ms(2), Some(3000));

        lessor.demote();
        lessor.granted(3, 3);
        lessor.set_now(1_000_000);
        assert!(lessor.take_expired(10).is_empty());
        assert!(!lessor.renew(1, 10));
        assert_eq!(lessor.remaining_ms(3), None);
    }
}
