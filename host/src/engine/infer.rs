//! An inference worker: one ONNX Runtime session on its own thread, taking
//! the next captured frame and passing on the frame with its detections,
//! numbered so the stages thread can restore the order.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use super::capture_thread::Captured;
use super::queue::{Pushed, Queue};
use super::ErrorSlot;
use crate::capture::Frame;
use crate::detect::Detection;
use crate::error::{ExitKind, OrExit};
use crate::error::Failure;
use crate::model::{DetectTimings, Detector, DetectorSettings};

/// A frame with what the detector found in it.
pub struct Inferred {
    /// Position in the order frames left the capture queue (no gaps).
    pub seq: u64,
    pub frame: Frame,
    pub detections: Vec<Detection>,
    pub capture_ms: f64,
    /// This frame's pre-processing, inference and decoding times.
    pub timings: DetectTimings,
}

/// Closes the results queue when the last worker ends, however it ends.
pub struct LastOneCloses {
    pub remaining: Arc<AtomicUsize>,
    pub queue: Arc<Queue<Inferred>>,
}

impl Drop for LastOneCloses {
    fn drop(&mut self) {
        if self.remaining.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.queue.close();
        }
    }
}

pub struct Worker {
    pub detector: Detector,
    pub input: Arc<Queue<Captured>>,
    pub output: Arc<Queue<Inferred>>,
    pub errors: Arc<ErrorSlot>,
    pub done: LastOneCloses,
}

impl Worker {
    /// Work until the input ends; hands the detector back so that it is
    /// freed after the run's last memory figure is taken, not before.
    pub fn run(mut self) -> Detector {
        self.work();
        let Worker { detector, done, .. } = self;
        drop(done);
        detector
    }

    fn work(&mut self) {
        while let Some((seq, captured)) = self.input.pop_numbered() {
            let mut timings = DetectTimings::default();
            match self.detector.detect(&captured.frame.mat, &mut timings).or_exit(ExitKind::Model) {
                Ok(detections) => {
                    let item = Inferred { seq, frame: captured.frame, detections, capture_ms: captured.capture_ms, timings };
                    if let Pushed::Closed(_) = self.output.push(item) {
                        break;
                    }
                }
                Err(f) => {
                    self.errors.set(f);
                    // Frames after this one cannot be delivered in order: stop
                    // taking new ones; those before it still reach the sinks.
                    self.input.abort();
                    break;
                }
            }
        }
    }
}

/// Sessions being loaded in the background.
pub type Loading = std::thread::JoinHandle<Result<Vec<Detector>, Failure>>;

/// Load `n` sessions of `settings`, each on its own thread, in the
/// background: start-up costs about one session load, and overlaps the
/// plugins' and the broker's start. Join the handle for the sessions.
pub fn load_detectors(settings: DetectorSettings, n: usize) -> Result<Loading, Failure> {
    let spawn_err = |e: std::io::Error| Failure::msg(ExitKind::Internal, format!("cannot start a thread: {e}"));
    std::thread::Builder::new()
        .name("load-model".into())
        .spawn(move || {
            std::thread::scope(|scope| {
                let handles: Vec<_> =
                    (0..n.max(1)).map(|_| scope.spawn(|| Detector::load(settings.clone()).or_exit(ExitKind::Model))).collect();
                handles
                    .into_iter()
                    .map(|h| h.join().unwrap_or_else(|_| Err(Failure::msg(ExitKind::Internal, "a model-loading thread panicked"))))
                    .collect()
            })
        })
        .map_err(spawn_err)
}

/// Wait for [`load_detectors`].
pub fn join_loading(loading: Loading) -> Result<Vec<Detector>, Failure> {
    loading.join().unwrap_or_else(|_| Err(Failure::msg(ExitKind::Internal, "the model-loading thread panicked")))
}
