//! Latencies in a histogram of fixed size (publish -> acknowledgement here,
//! a frame's in the soak benchmark's probe): a run of months records every
//! one in the same few kilobytes.

use hdrhistogram::Histogram;

/// Longest latency told apart (an hour, in microseconds); longer ones count as an hour.
const HIGHEST_US: u64 = 3_600_000_000;
/// Significant digits kept: a recorded value is within 1 % of the true one
/// (the counts then take about 27 KiB).
const DIGITS: u8 = 2;

/// Latencies in microseconds.
#[derive(Debug)]
pub struct Latencies {
    hist: Option<Histogram<u64>>,
}

impl Default for Latencies {
    fn default() -> Self {
        Latencies::new()
    }
}

impl Latencies {
    pub fn new() -> Latencies {
        // The bounds are constants that `new_with_bounds` accepts; should it
        // ever refuse them, latencies are simply not reported.
        let hist = Histogram::new_with_bounds(1, HIGHEST_US, DIGITS).ok();
        Latencies { hist }
    }

    /// Count one acknowledged message; never allocates.
    pub fn record(&mut self, us: u64) {
        if let Some(h) = self.hist.as_mut() {
            h.saturating_record(us.max(1));
        }
    }

    /// Forget what was recorded (keeps its memory).
    pub fn reset(&mut self) {
        if let Some(h) = self.hist.as_mut() {
            h.reset();
        }
    }

    /// The latency at quantile `q` (0..=1), `None` before the first one.
    pub fn quantile(&self, q: f64) -> Option<u64> {
        self.hist
            .as_ref()
            .filter(|h| !h.is_empty())
            .map(|h| h.value_at_quantile(q))
    }

    /// Bytes held for the counts (the same from the first message on).
    pub fn footprint(&self) -> usize {
        self.hist.as_ref().map_or(0, |h| {
            h.distinct_values() * std::mem::size_of::<u64>() + std::mem::size_of::<Histogram<u64>>()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_are_within_one_percent() {
        let mut l = Latencies::new();
        assert_eq!(l.quantile(0.5), None);
        for us in 1..=100_000u64 {
            l.record(us);
        }
        let p50 = l.quantile(0.5).unwrap() as f64;
        let p99 = l.quantile(0.99).unwrap() as f64;
        assert!((p50 - 50_000.0).abs() / 50_000.0 < 0.01, "{p50}");
        assert!((p99 - 99_000.0).abs() / 99_000.0 < 0.01, "{p99}");
        // Beyond the hour: counted as the hour, not lost.
        l.record(u64::MAX);
        assert!(l.quantile(1.0).unwrap() >= HIGHEST_US);
    }
}
