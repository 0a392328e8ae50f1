//! The inference service: one model's sessions shared by every camera of the
//! process. Each camera's feeder numbers its frames and queues them on the
//! one request queue every session's worker takes from; each result goes
//! back to its camera's own results queue, where the camera's frame loop
//! puts it back in order. A camera has at most `in_flight` frames between
//! its feeder and its frame loop (credits), so its results queue always has
//! room: a slow camera never holds the sessions up, and a camera that fails
//! never stops the others.
//!
//! Batching: a model whose batch dimension (dim 0) is dynamic takes, per
//! session run, the first request and whatever else is queued or comes
//! within `[model] batch_window_ms`, up to `[model] max_batch` (never
//! waiting for every camera; [`super::batch`]); the outputs are split per
//! frame and each goes back to its camera. A model of batch 1 runs one
//! request at a time.

use std::sync::Arc;
use std::thread::JoinHandle;

use super::batch::{BatchCounters, BatchCounts, BatchPolicy};
use super::capture_thread::Captured;
use super::infer::{Inferred, LazyDetector, Reply, Request, Worker};
use super::queue::{Pushed, Queue, WhenFull};
use super::{spawn_guarded, ErrorSlot};
use crate::error::Failure;
use crate::model::Detector;

/// A camera's `detect_fps`: which frames go to the model, by their timestamps.
pub struct DetectCap {
    every_ms: f64,
    next_ms: Option<f64>,
}

impl DetectCap {
    pub fn new(fps: f64) -> DetectCap {
        DetectCap {
            every_ms: 1000.0 / fps.max(f64::MIN_POSITIVE),
            next_ms: None,
        }
    }

    /// Whether the frame at `timestamp_ms` goes to the model.
    pub fn due(&mut self, timestamp_ms: u64) -> bool {
        let t = timestamp_ms as f64;
        match self.next_ms {
            Some(next) if t + 0.5 < next => false,
            Some(next) => {
                // A period after the last due time; after a gap, a period
                // after this frame (no catching up).
                let n = next + self.every_ms;
                self.next_ms = Some(if t < n { n } else { t + self.every_ms });
                true
            }
            None => {
                self.next_ms = Some(t + self.every_ms);
                true
            }
        }
    }
}

/// Requests queued per session: enough to keep every session busy.
pub const REQUESTS_PER_SESSION: usize = 2;

/// The sessions' threads and the queue that feeds them.
pub struct InferenceService {
    requests: Arc<Queue<Request>>,
    batches: BatchPolicy,
    counters: Arc<BatchCounters>,
    workers: Vec<JoinHandle<Option<Option<Detector>>>>,
    errors: Arc<ErrorSlot>,
    sessions: usize,
}

/// One camera's connection to the service.
pub struct CameraFeed {
    /// Decoded frames of the camera, numbered by the feeder.
    pub captured: Arc<Queue<Captured>>,
    /// Its results, in any order (the frame loop re-orders them).
    pub results: Arc<Queue<Inferred>>,
    /// One credit per frame in flight; the frame loop gives one back per
    /// frame it is done with.
    pub credits: Arc<Queue<()>>,
    /// The camera's own failures.
    pub errors: Arc<ErrorSlot>,
    /// At most this many frames a second go to the model (`None`: all).
    pub detect_fps: Option<f64>,
}

impl CameraFeed {
    /// The queues of a camera with at most `in_flight` frames between its
    /// feeder and its frame loop.
    pub fn new(captured: Arc<Queue<Captured>>, in_flight: usize) -> CameraFeed {
        CameraFeed {
            captured,
            results: Arc::new(Queue::new(in_flight + 1, WhenFull::Block)),
            credits: Arc::new(Queue::new(in_flight, WhenFull::Block)),
            errors: Arc::new(ErrorSlot::default()),
            detect_fps: None,
        }
    }

    /// The frame loop is done with a frame: one more may be sent.
    pub fn frame_done(&self) {
        let _ = self.credits.pop_timeout(std::time::Duration::ZERO);
    }

    /// Stop this camera's feeding at once (its frame loop is ending early).
    pub fn abort(&self) {
        self.captured.abort();
        self.credits.abort();
        self.results.abort();
    }
}

impl InferenceService {
    /// Start one worker per session (sessions still loading join as they
    /// come), each taking requests as `batches` says.
    pub fn start(
        detectors: Vec<LazyDetector>,
        batches: BatchPolicy,
    ) -> Result<InferenceService, Failure> {
        let sessions = detectors.len();
        // Room for a whole batch per session besides the one running.
        let per_session = REQUESTS_PER_SESSION.max(batches.max);
        let requests = Arc::new(Queue::new(sessions * per_session, WhenFull::Block));
        let counters = Arc::new(BatchCounters::default());
        let errors = Arc::new(ErrorSlot::default());
        let mut workers = Vec::with_capacity(sessions);
        for (i, detector) in detectors.into_iter().enumerate() {
            let worker = Worker {
                id: i,
                detector,
                requests: requests.clone(),
                errors: errors.clone(),
                batches,
                counters: counters.clone(),
            };
            let on_panic = {
                let r = requests.clone();
                move || r.abort()
            };
            match spawn_guarded(format!("infer-{i}"), errors.clone(), on_panic, move || {
                worker.run()
            }) {
                Ok(h) => workers.push(h),
                Err(f) => {
                    requests.abort();
                    return Err(f);
                }
            }
        }
        Ok(InferenceService {
            requests,
            batches,
            counters,
            workers,
            errors,
            sessions,
        })
    }

    pub fn sessions(&self) -> usize {
        self.sessions
    }

    /// The service's own failure (a session that did not load, a panic).
    pub fn errors(&self) -> Arc<ErrorSlot> {
        self.errors.clone()
    }

    /// Start `camera`'s feeder: its frames, numbered, to the sessions.
    pub fn feed(&self, camera: &str, feed: &CameraFeed) -> Result<JoinHandle<Option<()>>, Failure> {
        let reply = Arc::new(Reply {
            results: feed.results.clone(),
            errors: feed.errors.clone(),
            input: feed.captured.clone(),
        });
        let (captured, credits, requests) = (
            feed.captured.clone(),
            feed.credits.clone(),
            self.requests.clone(),
        );
        let mut cap = feed.detect_fps.map(DetectCap::new);
        let on_panic = {
            let c = feed.captured.clone();
            move || c.abort()
        };
        spawn_guarded(
            format!("feed-{camera}"),
            feed.errors.clone(),
            on_panic,
            move || {
                while let Some((seq, frame)) = captured.pop_numbered() {
                    if matches!(credits.push(()), Pushed::Closed(_)) {
                        captured.abort();
                        break;
                    }
                    if cap
                        .as_mut()
                        .is_some_and(|c| !c.due(frame.frame.timestamp_ms))
                    {
                        // Shown and counted, not inferred.
                        let _ = reply.results.push(Inferred {
                            seq,
                            frame: frame.frame,
                            detections: Vec::new(),
                            capture_ms: frame.capture_ms,
                            timings: Default::default(),
                            inferred: false,
                            run: None,
                        });
                        continue;
                    }
                    let request = Request {
                        seq,
                        captured: frame,
                        reply: reply.clone(),
                    };
                    if matches!(requests.push(request), Pushed::Closed(_)) {
                        captured.abort();
                        break;
                    }
                }
            },
        )
    }

    /// How the sessions take requests.
    pub fn batches(&self) -> BatchPolicy {
        self.batches
    }

    /// The counts of session runs, shared (the live view's `/metrics`).
    pub fn counters(&self) -> Arc<BatchCounters> {
        self.counters.clone()
    }

    /// Session runs so far and the frames they took.
    pub fn counts(&self) -> BatchCounts {
        self.counters.counts()
    }

    /// Requests waiting for a session.
    pub fn queued(&self) -> usize {
        self.requests.len()
    }

    /// No more requests: the workers finish what is queued and hand their
    /// sessions back.
    pub fn stop(self) -> Vec<Detector> {
        self.requests.close();
        self.workers
            .into_iter()
            .filter_map(|w| w.join().ok().flatten().flatten())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::DetectCap;

    #[test]
    fn detect_fps_sends_one_frame_per_period_and_never_catches_up() {
        // 10 fps frames, 2 a second to the model.
        let mut cap = DetectCap::new(2.0);
        let due: Vec<u64> = (0..20u64)
            .map(|i| i * 100)
            .filter(|&t| cap.due(t))
            .collect();
        assert_eq!(due, [0, 500, 1000, 1500]);
        // A gap of 5 s: the next frame is due, then one per period again.
        let after: Vec<u64> = (0..8u64)
            .map(|i| 7000 + i * 100)
            .filter(|&t| cap.due(t))
            .collect();
        assert_eq!(after, [7000, 7500]);
    }
}
