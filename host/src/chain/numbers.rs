//! What one chain did: frames, stage calls, chain time per frame (mean and
//! p99 over recent frames), faults, budget overruns, refused messages and
//! messages handed on. Shown in the stats line and the summary.

/// Recent frames the p99 covers.
const WINDOW: usize = 1024;

#[derive(Debug, Clone, Default)]
pub struct ChainNumbers {
    pub frames: u64,
    pub calls: u64,
    pub overruns: u64,
    pub skipped: u64,
    pub refusals: u64,
    pub messages: u64,
    total_ms: f64,
    recent: Vec<f32>,
    pos: usize,
}

impl ChainNumbers {
    pub fn add_frame(&mut self, ms: f64) {
        self.frames += 1;
        self.total_ms += ms;
        if self.recent.len() < WINDOW {
            self.recent.push(ms as f32);
        } else {
            self.recent[self.pos] = ms as f32;
            self.pos = (self.pos + 1) % WINDOW;
        }
    }

    pub fn mean_ms(&self) -> f64 {
        if self.frames == 0 {
            0.0
        } else {
            self.total_ms / self.frames as f64
        }
    }

    /// The 99th percentile of the chain's time per frame over recent frames.
    pub fn p99_ms(&self) -> f64 {
        if self.recent.is_empty() {
            return 0.0;
        }
        let mut v = self.recent.clone();
        v.sort_unstable_by(f32::total_cmp);
        let i = ((v.len() as f64 * 0.99).ceil() as usize).clamp(1, v.len()) - 1;
        v[i] as f64
    }

    /// One line: `frames 10, calls 30, mean 0.41 ms, p99 0.90 ms, faults 0, ...`.
    pub fn line(&self, faults: u64) -> String {
        format!(
            "frames {}, calls {}, mean {:.2} ms, p99 {:.2} ms, faults {}, overruns {}, stage calls skipped {}, refused {}, messages {}",
            self.frames,
            self.calls,
            self.mean_ms(),
            self.p99_ms(),
            faults,
            self.overruns,
            self.skipped,
            self.refusals,
            self.messages
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_and_p99() {
        let mut n = ChainNumbers::default();
        for i in 1..=100 {
            n.add_frame(i as f64);
        }
        assert_eq!(n.frames, 100);
        assert!((n.mean_ms() - 50.5).abs() < 1e-9);
        assert_eq!(n.p99_ms(), 99.0);
        assert!(n.line(2).contains("faults 2"));
    }
}
