//! The progress bar with ETA drawn on stderr when the input is a file of
//! known length and stderr is a terminal.

use std::io::Write;
use std::time::{Duration, Instant};

/// How often the bar is redrawn at most.
pub const REDRAW_EVERY: Duration = Duration::from_millis(250);
const BAR_WIDTH: usize = 30;

pub struct Progress {
    total: u64,
    started: Instant,
    last_draw: Option<Instant>,
}

impl Progress {
    /// A bar for `total` frames, or `None` when stderr is not a terminal or
    /// the length is unknown.
    pub fn for_terminal(total: Option<u64>) -> Option<Progress> {
        let total = total.filter(|&t| t > 0)?;
        if !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
            return None;
        }
        Some(Progress {
            total,
            started: Instant::now(),
            last_draw: None,
        })
    }

    /// Redraw after `done` frames (throttled to [`REDRAW_EVERY`]).
    pub fn update(&mut self, done: u64) {
        let now = Instant::now();
        if self.last_draw.is_some_and(|t| now - t < REDRAW_EVERY) && done < self.total {
            return;
        }
        self.last_draw = Some(now);
        let line = render(done, self.total, now - self.started);
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r{line}\x1b[K");
        let _ = err.flush();
    }

    /// Wipe the bar so that a log line can take its place.
    pub fn clear(&mut self) {
        let _ = write!(std::io::stderr().lock(), "\r\x1b[2K");
        self.last_draw = None;
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.clear();
    }
}

/// `[#####-----] 123/795 15% 11.2 fps ETA 0:58`
pub fn render(done: u64, total: u64, elapsed: Duration) -> String {
    let done_c = done.min(total);
    let frac = if total == 0 {
        0.0
    } else {
        done_c as f64 / total as f64
    };
    let filled = (frac * BAR_WIDTH as f64).round() as usize;
    let secs = elapsed.as_secs_f64();
    let fps = if secs > 0.0 { done as f64 / secs } else { 0.0 };
    let eta = if fps > 0.0 {
        let s = ((total - done_c) as f64 / fps).round() as u64;
        format!("{}:{:02}", s / 60, s % 60)
    } else {
        "?".to_string()
    };
    format!(
        "[{}{}] {done_c}/{total} {:.0}% {fps:.1} fps ETA {eta}",
        "#".repeat(filled),
        "-".repeat(BAR_WIDTH - filled),
        frac * 100.0
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bar_shows_progress_rate_and_time_left() {
        let s = render(100, 400, Duration::from_secs(10));
        assert!(
            s.starts_with("[########----------------------] 100/400 25%"),
            "{s}"
        );
        assert!(s.ends_with("10.0 fps ETA 0:30"), "{s}");
        assert!(render(0, 10, Duration::ZERO).ends_with("ETA ?"));
        assert!(render(10, 10, Duration::from_secs(1)).contains("100%"));
    }
}
