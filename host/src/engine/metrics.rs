//! Per-part timings (mean over the run, median over recent frames), kept in
//! buffers sized once so that measuring adds no allocation per frame, and the
//! process's resident memory.

use std::time::Duration;

/// One part of the frame's journey (capture, inference, a stage, a sink).
struct Part {
    name: String,
    /// The last `ring.len()` samples in milliseconds, written round-robin.
    ring: Vec<f32>,
    pos: usize,
    filled: usize,
    total_ms: f64,
    count: u64,
}

/// Timings of every part, by index (see [`Timings::part`]).
pub struct Timings {
    parts: Vec<Part>,
    window: usize,
    scratch: Vec<f32>,
}

/// Index of a part in [`Timings`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartId(usize);

impl Timings {
    /// Medians are taken over the last `window` samples of each part.
    pub fn new(window: usize) -> Timings {
        let window = window.max(1);
        Timings {
            parts: Vec::new(),
            window,
            scratch: Vec::with_capacity(window),
        }
    }

    /// Register a part (or find it by name); call before the frame loop.
    pub fn part(&mut self, name: &str) -> PartId {
        if let Some(i) = self.parts.iter().position(|p| p.name == name) {
            return PartId(i);
        }
        self.parts.push(Part {
            name: name.to_string(),
            ring: vec![0.0; self.window],
            pos: 0,
            filled: 0,
            total_ms: 0.0,
            count: 0,
        });
        PartId(self.parts.len() - 1)
    }

    pub fn add(&mut self, id: PartId, d: Duration) {
        self.add_ms(id, d.as_secs_f64() * 1000.0);
    }

    pub fn add_ms(&mut self, id: PartId, ms: f64) {
        let Some(p) = self.parts.get_mut(id.0) else {
            return;
        };
        p.ring[p.pos] = ms as f32;
        p.pos = (p.pos + 1) % p.ring.len();
        p.filled = (p.filled + 1).min(p.ring.len());
        p.total_ms += ms;
        p.count += 1;
    }

    /// (part, mean ms per sample) for every part with samples, in registration order.
    pub fn means(&self) -> Vec<(String, f64)> {
        self.parts
            .iter()
            .filter(|p| p.count > 0)
            .map(|p| (p.name.clone(), p.total_ms / p.count as f64))
            .collect()
    }

    /// (part, median ms over the window) for every part with samples.
    pub fn medians(&mut self) -> Vec<(String, f64)> {
        let mut out = Vec::with_capacity(self.parts.len());
        for i in 0..self.parts.len() {
            if let Some(m) = self.median_of(PartId(i)) {
                out.push((self.parts[i].name.clone(), m));
            }
        }
        out
    }

    pub fn median_of(&mut self, id: PartId) -> Option<f64> {
        let p = self.parts.get(id.0)?;
        if p.filled == 0 {
            return None;
        }
        self.scratch.clear();
        self.scratch.extend_from_slice(&p.ring[..p.filled]);
        Some(median(&mut self.scratch))
    }
}

/// Median of `v` (reordered in place); the mean of the two middle values
/// for an even length. `v` must not be empty.
pub fn median(v: &mut [f32]) -> f64 {
    let n = v.len();
    let mid = n / 2;
    let (_, m, _) = v.select_nth_unstable_by(mid, f32::total_cmp);
    let upper = *m as f64;
    if n % 2 == 1 {
        upper
    } else {
        let lower = v[..mid].iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
        (lower + upper) / 2.0
    }
}

/// Resident set size of this process in KiB (`VmRSS` of /proc/self/status),
/// `None` where that file does not exist.
pub fn rss_kib() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/status").ok()?;
    parse_vmrss(&text)
}

fn parse_vmrss(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

pub use crate::pipeline::format_parts;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_of_odd_and_even_lengths() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut [4.0, 1.0, 3.0, 2.0]), 2.5);
        assert_eq!(median(&mut [7.0]), 7.0);
    }

    #[test]
    fn the_window_keeps_the_latest_samples_and_the_mean_all_of_them() {
        let mut t = Timings::new(3);
        let a = t.part("a");
        let b = t.part("b");
        assert_eq!(t.part("a"), a, "registering twice finds the same part");
        for ms in [100.0, 1.0, 2.0, 3.0] {
            t.add_ms(a, ms);
        }
        assert_eq!(t.median_of(a), Some(2.0), "100 fell out of the window");
        assert_eq!(t.median_of(b), None);
        let means = t.means();
        assert_eq!(means.len(), 1, "parts without samples are left out");
        assert!((means[0].1 - 26.5).abs() < 1e-9);
    }

    #[test]
    fn vmrss_is_read_in_kib() {
        let status = "Name:\tedgepipe\nVmPeak:\t  300 kB\nVmRSS:\t  123456 kB\nThreads:\t4\n";
        assert_eq!(parse_vmrss(status), Some(123456));
        assert_eq!(parse_vmrss("Name: x\n"), None);
        assert!(rss_kib().is_some_and(|k| k > 0), "this test runs on Linux");
    }
}
