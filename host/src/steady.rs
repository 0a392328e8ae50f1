//! The pipeline's steady state, measured the way `edgepipe bench` measures
//! raw ONNX Runtime: raw times its runs after every detector has done
//! [`WARMUP_RUNS`] runs with its inputs ready, so its figure leaves out the
//! sessions' first runs; a run's whole-run figure (threads' start to the
//! end) also holds the pipeline's fill (first capture, first
//! pre-processing, each worker's first inferences, the stages' first calls)
//! and its drain. The steady window opens when the last frame of any
//! worker's first [`WARMUP_RUNS`] session runs has gone out (every frame out
//! up to it is left out) and closes at the last frame out.

use std::time::{Duration, Instant};

/// Session runs of each worker before its steady state: the same as the
/// raw measurement's warm-up (ONNX Runtime allocates its arenas and
/// OpenVINO its stream's buffers on the first ones).
pub const WARMUP_RUNS: u64 = 2;

/// Which worker (inference thread) ran a frame, in which of its session runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkerRun {
    pub worker: usize,
    /// The worker's session runs before this one (0: its first).
    pub run: u64,
}

impl WorkerRun {
    pub fn is_warmup(&self) -> bool {
        self.run < WARMUP_RUNS
    }
}

/// A warm-up frame: its worker's run and its position among the frames out (1-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WarmupFrame {
    pub run: WorkerRun,
    pub out: u64,
}

/// Watches the frames go out (in order), for the steady window.
#[derive(Debug)]
pub struct SteadyClock {
    workers: usize,
    frames: u64,
    warmups: Vec<WarmupFrame>,
    /// Out time and position of the last warm-up frame so far.
    opened: Option<(Instant, u64)>,
    last: Option<Instant>,
}

/// The steady part of a run: the frames out after every worker's warm-up.
#[derive(Debug, Clone, PartialEq)]
pub struct SteadyWindow {
    /// Frames out before the window (the warm-up frames and any frame out
    /// before the last of them).
    pub skipped: u64,
    /// Frames out in the window, and the time from the last warm-up frame
    /// out to the last frame out.
    pub frames: u64,
    pub elapsed: Duration,
    /// Every warm-up frame, in the order they went out.
    pub warmups: Vec<WarmupFrame>,
}

/// `count` a second over `elapsed` (0 for no time).
pub fn per_second(count: u64, elapsed: Duration) -> f64 {
    let s = elapsed.as_secs_f64();
    if s > 0.0 {
        count as f64 / s
    } else {
        0.0
    }
}

impl SteadyWindow {
    pub fn fps(&self) -> f64 {
        per_second(self.frames, self.elapsed)
    }
}

impl SteadyClock {
    /// For a run whose inference service has `workers` workers.
    pub fn new(workers: usize) -> SteadyClock {
        SteadyClock {
            workers,
            frames: 0,
            warmups: Vec::with_capacity(workers * WARMUP_RUNS as usize),
            opened: None,
            last: None,
        }
    }

    /// A frame went out at `at`, inferred in `run` (`None`: not inferred).
    pub fn frame_out(&mut self, run: Option<WorkerRun>, at: Instant) {
        self.frames += 1;
        self.last = Some(at);
        if let Some(r) = run.filter(WorkerRun::is_warmup) {
            self.warmups.push(WarmupFrame {
                run: r,
                out: self.frames,
            });
            self.opened = Some((at, self.frames));
        }
    }

    /// The window, once every worker has gone out of its warm-up and at
    /// least one frame went out after; `None` before (or when this camera
    /// did not see every worker's warm-up: cameras share the workers).
    pub fn window(&self) -> Option<SteadyWindow> {
        let (from, skipped) = self.opened?;
        let last = self.last?;
        let warm = (0..self.workers).all(|w| {
            (0..WARMUP_RUNS).all(|r| {
                self.warmups
                    .iter()
                    .any(|f| f.run == WorkerRun { worker: w, run: r })
            })
        });
        let frames = self.frames - skipped;
        if !warm || frames == 0 {
            return None;
        }
        Some(SteadyWindow {
            skipped,
            frames,
            elapsed: last.saturating_duration_since(from),
            warmups: self.warmups.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(worker: usize, run: u64) -> Option<WorkerRun> {
        Some(WorkerRun { worker, run })
    }

    /// Frames out every 10 ms from `t0`: (run, out time).
    fn feed(clock: &mut SteadyClock, t0: Instant, runs: &[Option<WorkerRun>]) {
        for (i, r) in runs.iter().enumerate() {
            clock.frame_out(*r, t0 + Duration::from_millis(10 * (i as u64 + 1)));
        }
    }

    #[test]
    fn the_window_opens_at_the_last_warmup_frame_and_counts_the_frames_after() {
        let t0 = Instant::now();
        let mut c = SteadyClock::new(2);
        // Worker 1 joins late: worker 0 runs frames 1-3 alone.
        feed(
            &mut c,
            t0,
            &[
                run(0, 0),
                run(0, 1),
                run(0, 2),
                run(1, 0),
                run(0, 3),
                run(1, 1),
                run(0, 4),
                run(1, 2),
                None, // over detect_fps: out, not inferred
                run(0, 5),
            ],
        );
        let w = c.window().expect("both workers warm");
        // The last warm-up frame is the 6th out (worker 1's second run).
        assert_eq!(w.skipped, 6);
        assert_eq!(w.frames, 4);
        // From the 6th frame's out time (60 ms) to the 10th's (100 ms).
        assert_eq!(w.elapsed, Duration::from_millis(40));
        assert!((w.fps() - 100.0).abs() < 1e-9, "{}", w.fps());
        let outs: Vec<(usize, u64, u64)> = w
            .warmups
            .iter()
            .map(|f| (f.run.worker, f.run.run, f.out))
            .collect();
        assert_eq!(outs, [(0, 0, 1), (0, 1, 2), (1, 0, 4), (1, 1, 6)]);
    }

    #[test]
    fn a_batch_run_keeps_all_its_frames_in_the_warmup() {
        let t0 = Instant::now();
        let mut c = SteadyClock::new(1);
        // Runs of two frames each: the first two runs are four frames.
        feed(
            &mut c,
            t0,
            &[
                run(0, 0),
                run(0, 0),
                run(0, 1),
                run(0, 1),
                run(0, 2),
                run(0, 2),
            ],
        );
        let w = c.window().unwrap();
        assert_eq!((w.skipped, w.frames), (4, 2));
        assert_eq!(w.elapsed, Duration::from_millis(20));
    }

    #[test]
    fn no_window_before_every_worker_is_warm_or_without_frames_after() {
        let t0 = Instant::now();
        let mut c = SteadyClock::new(2);
        feed(&mut c, t0, &[run(0, 0), run(0, 1), run(0, 2), run(0, 3)]);
        assert_eq!(c.window(), None, "worker 1 never ran");
        let mut c = SteadyClock::new(1);
        assert_eq!(c.window(), None, "nothing out");
        feed(&mut c, t0, &[run(0, 0), run(0, 1)]);
        assert_eq!(c.window(), None, "nothing out after the warm-up");
        c.frame_out(run(0, 2), t0 + Duration::from_millis(25));
        let w = c.window().unwrap();
        assert_eq!((w.skipped, w.frames), (2, 1));
        assert_eq!(w.elapsed, Duration::from_millis(5));
    }
}
