//! etcd's Prometheus metrics for the essentials, under etcd's names, in the text exposition
//! format: leadership (`etcd_server_has_leader`, `_is_leader`, `_leader_changes_seen_total`),
//! proposals (`etcd_server_proposals_committed_total`, `_applied_total`, `_pending`,
//! `_failed_total`), disk latency histograms, the database size and key count, and the
//! server and cluster versions.
//!
//! `etcd_disk_wal_fsync_duration_seconds` times the synced appends to the member's Raft
//! journal (etcd's WAL fsyncs); `etcd_disk_backend_commit_duration_seconds` times each ready
//! that wrote durably, from its journal record to its redb commit (or its synced commit, at a
//! checkpoint).

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use etcdlab_core::member::MemberStatus;

use super::maintenance::ETCD_VERSION;

/// Counters and histograms the member loop updates; gauges are read at scrape time.
#[derive(Default)]
pub struct Metrics {
    leader_changes: AtomicU64,
    proposals_failed: AtomicU64,
    proposals_pending: AtomicU64,
    wal_fsync: Histogram,
    backend_commit: Histogram,
}

impl Metrics {
    pub fn leader_changed(&self) {
        self.leader_changes.fetch_add(1, Ordering::Relaxed);
    }

    pub fn proposal_failed(&self) {
        self.proposals_failed.fetch_add(1, Ordering::Relaxed);
    }

    pub fn set_pending(&self, pending: usize) {
        self.proposals_pending
            .store(pending as u64, Ordering::Relaxed);
    }

    /// One synced append to the Raft journal, and how long it took.
    pub fn journal_synced(&self, took: Duration) {
        self.wal_fsync.observe(took);
    }

    /// One ready that wrote durably, and how long its writing took.
    pub fn ready_committed(&self, took: Duration) {
        self.backend_commit.observe(took);
    }

    /// The metrics as Prometheus text, with the gauges read now.
    pub fn render(&self, s: &MemberStatus, db_size: u64, keys: u64) -> String {
        let mut out = String::new();
        let counter = |out: &mut String, name: &str, help: &str, kind: &str, value: u64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
            );
        };
        let has_leader = u64::from(s.leader_id != 0);
        let is_leader = u64::from(s.leader_id != 0 && s.leader_id == s.id);
        counter(
            &mut out,
            "etcd_server_has_leader",
            "Whether or not a leader exists. 1 is existence, 0 is not.",
            "gauge",
            has_leader,
        );
        counter(
            &mut out,
            "etcd_server_is_leader",
            "Whether or not this member is a leader. 1 if is, 0 otherwise.",
            "gauge",
            is_leader,
        );
        counter(
            &mut out,
            "etcd_server_leader_changes_seen_total",
            "The number of leader changes seen.",
            "counter",
            self.leader_changes.load(Ordering::Relaxed),
        );
        counter(
            &mut out,
            "etcd_server_proposals_committed_total",
            "The total number of consensus proposals committed.",
            "gauge",
            s.commit_index,
        );
        counter(
            &mut out,
            "etcd_server_proposals_applied_total",
            "The total number of consensus proposals applied.",
            "gauge",
            s.applied_index,
        );
        counter(
            &mut out,
            "etcd_server_proposals_pending",
            "The current number of pending proposals to commit.",
            "gauge",
            self.proposals_pending.load(Ordering::Relaxed),
        );
        counter(
            &mut out,
            "etcd_server_proposals_failed_total",
            "The total number of failed proposals seen.",
            "counter",
            self.proposals_failed.load(Ordering::Relaxed),
        );
        counter(
            &mut out,
            "etcd_mvcc_db_total_size_in_bytes",
            "Total size of the underlying database physically allocated in bytes.",
            "gauge",
            db_size,
        );
        counter(
            &mut out,
            "etcd_debugging_mvcc_keys_total",
            "Total number of keys.",
            "gauge",
            keys,
        );
        let _ = writeln!(
            out,
            "# HELP etcd_server_id Server or member ID in hexadecimal format. 1 for 'server_id' label with current ID.\n\
             # TYPE etcd_server_id gauge\netcd_server_id{{server_id=\"{:x}\"}} 1",
            s.id
        );
        let _ = writeln!(
            out,
            "# HELP etcd_server_version Which version is running. 1 for 'server_version' label with current version.\n\
             # TYPE etcd_server_version gauge\netcd_server_version{{server_version=\"{ETCD_VERSION}\"}} 1"
        );
        self.wal_fsync.render(
            &mut out,
            "etcd_disk_wal_fsync_duration_seconds",
            "The latency distributions of fsync called by WAL.",
        );
        self.backend_commit.render(
            &mut out,
            "etcd_disk_backend_commit_duration_seconds",
            "The latency distributions of commit called by backend.",
        );
        out
    }
}

/// etcd's disk histograms: 14 buckets doubling from 1 ms.
const BUCKETS: usize = 14;

fn bucket_bound(i: usize) -> f64 {
    0.001 * f64::from(1u32 << i)
}

#[derive(Default)]
struct Histogram {
    /// Observations at or below each bound (not cumulative: summed when rendered).
    buckets: [AtomicU64; BUCKETS],
    count: AtomicU64,
    sum_nanos: AtomicU64,
}

impl Histogram {
    fn observe(&self, took: Duration) {
        let seconds = took.as_secs_f64();
        if let Some(i) = (0..BUCKETS).find(|&i| seconds <= bucket_bound(i)) {
            self.buckets[i].fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_nanos
            .fetch_add(took.as_nanos() as u64, Ordering::Relaxed);
    }

    fn render(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        let mut cumulative = 0;
        for (i, bucket) in self.buckets.iter().enumerate() {
            cumulative += bucket.load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "{name}_bucket{{le=\"{}\"}} {cumulative}",
                bucket_bound(i)
            );
        }
        let count = self.count.load(Ordering::Relaxed);
        let sum = self.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9;
        let _ = writeln!(
            out,
            "{name}_bucket{{le=\"+Inf\"}} {count}\n{name}_sum {sum}\n{name}_count {count}"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_count_cumulatively_up_to_inf() {
        let metrics = Metrics::default();
        metrics.journal_synced(Duration::from_micros(500));
        metrics.journal_synced(Duration::from_millis(3));
        metrics.journal_synced(Duration::from_secs(20));
        metrics.ready_committed(Duration::from_millis(2));
        let status = MemberStatus {
            id: 0xabc,
            cluster_id: 1,
            term: 2,
            leader_id: 0xabc,
            role: raft::StateRole::Leader,
            commit_index: 7,
            applied_index: 7,
            last_index: 7,
            revision: 3,
            compact_revision: 0,
            auth_enabled: false,
        };
        let text = metrics.render(&status, 4096, 2);
        for line in [
            "etcd_server_is_leader 1",
            "etcd_server_proposals_committed_total 7",
            "etcd_server_id{server_id=\"abc\"} 1",
            "etcd_disk_wal_fsync_duration_seconds_bucket{le=\"0.001\"} 1",
            "etcd_disk_wal_fsync_duration_seconds_bucket{le=\"0.004\"} 2",
            "etcd_disk_wal_fsync_duration_seconds_bucket{le=\"8.192\"} 2",
            "etcd_disk_wal_fsync_duration_seconds_bucket{le=\"+Inf\"} 3",
            "etcd_disk_wal_fsync_duration_seconds_count 3",
            "etcd_disk_backend_commit_duration_seconds_count 1",
            "etcd_disk_backend_commit_duration_seconds_bucket{le=\"0.001\"} 0",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
        // Every sample line is `name{labels} value` with a number.
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let value = line.rsplit(' ').next().unwrap();
            assert!(value.parse::<f64>().is_ok(), "{line}");
        }
    }
}
