//! Percentiles and the server's memory.

/// The server's resident set size in KiB, from `/proc/<pid>/status`.
pub(crate) fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

/// Microseconds since `clock`: the time stamps in load lines.
pub(crate) fn micros(clock: std::time::Instant) -> u64 {
    u64::try_from(clock.elapsed().as_micros()).unwrap_or(u64::MAX)
}

/// Latencies in microseconds, summarised in milliseconds.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Summary {
    pub(crate) count: usize,
    pub(crate) p50_ms: f64,
    pub(crate) p99_ms: f64,
    pub(crate) max_ms: f64,
}

impl Summary {
    pub(crate) fn of(mut micros: Vec<u32>) -> Self {
        if micros.is_empty() {
            return Self::default();
        }
        micros.sort_unstable();
        let at = |q: f64| {
            let index = ((micros.len() - 1) as f64 * q).round() as usize;
            f64::from(micros.get(index).copied().unwrap_or_default()) / 1000.0
        };
        Self {
            count: micros.len(),
            p50_ms: at(0.50),
            p99_ms: at(0.99),
            max_ms: at(1.0),
        }
    }

    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "count": self.count,
            "p50_ms": round(self.p50_ms),
            "p99_ms": round(self.p99_ms),
            "max_ms": round(self.max_ms),
        })
    }
}

/// Three decimals are plenty.
pub(crate) fn round(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles() {
        let summary = Summary::of((1..=1000).map(|i| i * 1000).collect());
        assert_eq!(summary.count, 1000);
        assert!((summary.p50_ms - 500.0).abs() <= 1.0);
        assert!((summary.p99_ms - 990.0).abs() <= 1.0);
        assert_eq!(summary.max_ms, 1000.0);
        assert_eq!(Summary::of(Vec::new()).count, 0);
    }

    #[test]
    fn own_memory_is_readable() {
        assert!(rss_kib(std::process::id()).is_some_and(|kib| kib > 0));
    }
}
