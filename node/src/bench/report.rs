//! What a workload measured and how it is printed: etcd's benchmark summary (totals, latency
//! distribution) or, with `--json`, one line of the same numbers for scripts.

use std::time::Duration;

use super::BenchFlags;

/// One workload's result: a latency per completed request (a put's delivery to one watcher, a
/// lease cycle, ...), the time it all took, the failures (the first one's reason kept), and
/// numbers only that workload has.
#[derive(Default)]
pub(super) struct Summary {
    pub latencies: Vec<Duration>,
    pub elapsed: Duration,
    pub errors: u64,
    pub first_error: Option<String>,
    pub extra: Vec<(&'static str, serde_json::Value)>,
}

impl Summary {
    /// Counts one failure.
    pub fn error(&mut self, reason: impl std::fmt::Display) {
        self.failures(1, reason);
    }

    /// Counts `count` failures of one reason.
    pub fn failures(&mut self, count: u64, reason: impl std::fmt::Display) {
        self.errors += count;
        self.first_error
            .get_or_insert_with(|| format!("{reason:#}"));
    }

    /// Adds the latencies and failures of another part of the same run.
    pub fn merge(&mut self, part: Summary) {
        self.latencies.extend(part.latencies);
        self.errors += part.errors;
        if self.first_error.is_none() {
            self.first_error = part.first_error;
        }
    }

    /// Prints the summary (the first failure's reason on stderr).
    pub fn print(mut self, flags: &BenchFlags) {
        self.latencies.sort_unstable();
        if let Some(reason) = &self.first_error {
            eprintln!("etcdlab bench: {} errors; the first: {reason}", self.errors);
        }
        if flags.json {
            println!("{}", self.json(flags));
        } else {
            self.print_text();
        }
    }

    fn rate(&self) -> f64 {
        self.latencies.len() as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// The `p`th percentile latency in seconds (the latencies sorted).
    fn percentile(&self, p: f64) -> f64 {
        let n = self.latencies.len();
        if n == 0 {
            return 0.0;
        }
        self.latencies[((p / 100.0) * (n - 1) as f64).round() as usize].as_secs_f64()
    }

    fn json(&self, flags: &BenchFlags) -> serde_json::Value {
        let mut out = serde_json::json!({
            "workload": format!("{:?}", flags.workload).to_lowercase(),
            "clients": flags.clients,
            "requests": self.latencies.len(),
            "errors": self.errors,
            "seconds": self.elapsed.as_secs_f64(),
            "requests_per_sec": self.rate(),
            "p50_ms": self.percentile(50.0) * 1e3,
            "p90_ms": self.percentile(90.0) * 1e3,
            "p99_ms": self.percentile(99.0) * 1e3,
        });
        for (key, value) in &self.extra {
            out[*key] = value.clone();
        }
        out
    }

    fn print_text(&self) {
        let secs: Vec<f64> = self.latencies.iter().map(Duration::as_secs_f64).collect();
        let n = secs.len().max(1) as f64;
        let mean = secs.iter().sum::<f64>() / n;
        let var = secs.iter().map(|s| (s - mean).powi(2)).sum::<f64>() / n;
        println!("\nSummary:");
        println!("  Total:\t{:.4} secs.", self.elapsed.as_secs_f64());
        println!(
            "  Slowest:\t{:.4} secs.",
            secs.last().copied().unwrap_or(0.0)
        );
        println!(
            "  Fastest:\t{:.4} secs.",
            secs.first().copied().unwrap_or(0.0)
        );
        println!("  Average:\t{mean:.4} secs.");
        println!("  Stddev:\t{:.4} secs.", var.sqrt());
        println!("  Requests/sec:\t{:.4}", self.rate());
        if self.errors > 0 {
            println!("  Errors:\t{}", self.errors);
        }
        for (key, value) in &self.extra {
            println!("  {key}:\t{value}");
        }
        println!("\nLatency distribution:");
        for p in [10.0, 25.0, 50.0, 75.0, 90.0, 95.0, 99.0, 99.9] {
            println!("  {p}% in {:.4} secs.", self.percentile(p));
        }
    }
}
