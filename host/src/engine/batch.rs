//! Batches of requests for a model with a dynamic batch dimension: the
//! first request (waited for), then whatever else is queued or arrives
//! within a short window, up to a maximum. Never waits for every camera: a
//! lone camera's frame goes when the window expires. Also the counts that
//! show batches forming (runs and frames).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::queue::{Popped, Queue};

/// How batches are formed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchPolicy {
    /// The most requests in one session run (1: no batching).
    pub max: usize,
    /// How long after the first request others may still join it.
    pub window: Duration,
}

impl BatchPolicy {
    /// One request per run.
    pub const SINGLE: BatchPolicy = BatchPolicy {
        max: 1,
        window: Duration::ZERO,
    };
}

/// The most frames an automatic `max_batch` gives a run.
pub const AUTO_MAX_BATCH: usize = 8;

/// The batches of a model: `max_batch` as set (`None`: the number of
/// `cameras`, at most [`AUTO_MAX_BATCH`]) when its batch dimension is
/// `dynamic`; one frame a run otherwise, and an error when more was set.
pub fn policy(
    max_batch: Option<usize>,
    window: Duration,
    dynamic: bool,
    cameras: usize,
) -> Result<BatchPolicy, String> {
    let max = match (max_batch, dynamic) {
        (Some(n), false) if n > 1 => {
            return Err(format!(
                "{n}, but the model takes one frame a run (its input's batch dimension is fixed; only a model whose dim 0 is dynamic runs batches)"
            ))
        }
        (_, false) => 1,
        (Some(n), true) => n.max(1),
        (None, true) => cameras.clamp(1, AUTO_MAX_BATCH),
    };
    Ok(BatchPolicy { max, window })
}

/// The next batch from `queue`: waits for a first request, then takes what
/// is queued or comes within `policy.window` of it, at most `policy.max`.
/// `None` once the queue is closed and empty.
pub fn next_batch<T>(queue: &Queue<T>, policy: &BatchPolicy) -> Option<Vec<T>> {
    let first = queue.pop()?;
    let mut batch = Vec::with_capacity(policy.max.max(1));
    batch.push(first);
    let until = Instant::now() + policy.window;
    while batch.len() < policy.max {
        let left = until.saturating_duration_since(Instant::now());
        match queue.pop_timeout(left) {
            Popped::Item(item) => batch.push(item),
            Popped::TimedOut | Popped::Closed => break,
        }
    }
    Some(batch)
}

/// Session runs and the frames they took, every worker together.
#[derive(Debug, Default)]
pub struct BatchCounters {
    runs: AtomicU64,
    frames: AtomicU64,
    largest: AtomicU64,
}

/// [`BatchCounters`] read at one moment.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct BatchCounts {
    pub runs: u64,
    pub frames: u64,
    /// The most frames one run took.
    pub largest: u64,
}

impl BatchCounters {
    /// A session run of `frames` frames.
    pub fn record(&self, frames: usize) {
        self.runs.fetch_add(1, Ordering::Relaxed);
        self.frames.fetch_add(frames as u64, Ordering::Relaxed);
        self.largest.fetch_max(frames as u64, Ordering::Relaxed);
    }

    pub fn counts(&self) -> BatchCounts {
        BatchCounts {
            runs: self.runs.load(Ordering::Relaxed),
            frames: self.frames.load(Ordering::Relaxed),
            largest: self.largest.load(Ordering::Relaxed),
        }
    }
}

impl crate::live::metrics::SessionRuns for BatchCounters {
    fn runs_and_frames(&self) -> (u64, u64) {
        let c = self.counts();
        (c.runs, c.frames)
    }
}

impl std::fmt::Display for BatchCounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let per_run = self.frames as f64 / self.runs.max(1) as f64;
        write!(
            f,
            "{} frames in {} session runs ({per_run:.2} frames a run, largest batch {})",
            self.frames, self.runs, self.largest
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::queue::WhenFull;
    use std::sync::{mpsc, Arc};

    fn policy(max: usize, window_ms: u64) -> BatchPolicy {
        BatchPolicy {
            max,
            window: Duration::from_millis(window_ms),
        }
    }

    fn queue_of(items: &[u32]) -> Queue<u32> {
        let q = Queue::new(16, WhenFull::Block);
        for &i in items {
            q.push(i);
        }
        q
    }

    #[test]
    fn takes_what_is_queued_up_to_the_maximum_in_order() {
        let q = queue_of(&[1, 2, 3, 4, 5]);
        // A window of an hour: a full batch goes at once, not at its end.
        let p = policy(3, 3_600_000);
        assert_eq!(next_batch(&q, &p), Some(vec![1, 2, 3]));
        let p = policy(2, 3_600_000);
        assert_eq!(next_batch(&q, &p), Some(vec![4, 5]));
        assert_eq!(q.len(), 0);
    }

    #[test]
    fn never_more_than_the_maximum() {
        let q = queue_of(&[1, 2, 3]);
        assert_eq!(next_batch(&q, &BatchPolicy::SINGLE), Some(vec![1]));
        assert_eq!(next_batch(&q, &policy(1, 1000)), Some(vec![2]));
        assert_eq!(q.len(), 1);
    }

    /// A lone request goes when the window expires: never waits for more
    /// (a batch that waited for a second request would not come back).
    #[test]
    fn a_lone_request_goes_after_the_window() {
        let q = Arc::new(queue_of(&[7]));
        let (tx, rx) = mpsc::channel();
        let q2 = q.clone();
        let t = std::thread::spawn(move || {
            let start = Instant::now();
            let b = next_batch(&q2, &policy(4, 100));
            let _ = tx.send((b, start.elapsed()));
        });
        let (batch, took) = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("a lone request must go when the window expires");
        assert_eq!(batch, Some(vec![7]));
        assert!(
            took >= Duration::from_millis(100),
            "it waited the window: {took:?}"
        );
        t.join().unwrap();
    }

    #[test]
    fn a_request_that_comes_within_the_window_joins() {
        let q = Arc::new(queue_of(&[1]));
        let q2 = q.clone();
        // An hour's window: the batch is full with the late request.
        let t = std::thread::spawn(move || next_batch(&q2, &policy(2, 3_600_000)));
        q.push(2);
        assert_eq!(t.join().unwrap(), Some(vec![1, 2]));
    }

    #[test]
    fn a_closed_queue_ends_cleanly() {
        let q = queue_of(&[1, 2]);
        q.close();
        // What was queued still goes, then the end; without waiting a window.
        assert_eq!(next_batch(&q, &policy(4, 3_600_000)), Some(vec![1, 2]));
        assert_eq!(next_batch(&q, &policy(4, 3_600_000)), None);
        // A queue closed while a batch waits for more ends the batch.
        let q = Arc::new(queue_of(&[3]));
        let q2 = q.clone();
        let t = std::thread::spawn(move || next_batch(&q2, &policy(4, 3_600_000)));
        q.close();
        assert_eq!(t.join().unwrap(), Some(vec![3]));
    }

    #[test]
    fn the_policy_follows_the_model_and_the_cameras() {
        let w = Duration::from_millis(5);
        let max = |set, dynamic, cameras| super::policy(set, w, dynamic, cameras).map(|p| p.max);
        assert_eq!(max(None, true, 3), Ok(3), "automatic: one frame per camera");
        assert_eq!(max(None, true, 40), Ok(AUTO_MAX_BATCH));
        assert_eq!(max(None, true, 0), Ok(1), "an empty cameras folder");
        assert_eq!(max(Some(2), true, 8), Ok(2));
        assert_eq!(max(None, false, 8), Ok(1), "a fixed batch: one frame a run");
        assert_eq!(max(Some(1), false, 8), Ok(1));
        let e = max(Some(2), false, 8).unwrap_err();
        assert!(
            e.starts_with("2, but the model takes one frame a run"),
            "{e}"
        );
    }

    #[test]
    fn counts_runs_frames_and_the_largest_batch() {
        let c = BatchCounters::default();
        c.record(1);
        c.record(3);
        c.record(2);
        let n = c.counts();
        assert_eq!((n.runs, n.frames, n.largest), (3, 6, 3));
        assert_eq!(
            n.to_string(),
            "6 frames in 3 session runs (2.00 frames a run, largest batch 3)"
        );
    }
}
