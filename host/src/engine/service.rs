//! The inference service: one model's sessions shared by every camera of the
//! process. Each camera's feeder numbers its frames and queues them on the
//! one request queue every session's worker takes from; each result goes
//! back to its camera's own results queue, where the camera's frame loop
//! puts it back in order. A camera has at most `in_flight` frames between
//! its feeder and its frame loop (credits), so its results queue always has
//! room: a slow camera never holds the sessions up, and a camera that fails
//! never stops the others.
//!
//! Batching: the detector takes `[1, 3, H, W]` (batch 1; checked at load,
//! yolov12n is such a model), so a request is one session run. A model with
//! a batch dimension would take what is queued within a short window here
//! (never waiting for every camera), in [`Worker::run`](super::infer::Worker).

use std::sync::Arc;
use std::thread::JoinHandle;

use super::capture_thread::Captured;
use super::infer::{Inferred, LazyDetector, Reply, Request, Worker};
use super::queue::{Pushed, Queue, WhenFull};
use super::{spawn_guarded, ErrorSlot};
use crate::error::Failure;
use crate::model::Detector;

/// Requests queued per session: enough to keep every session busy.
pub const REQUESTS_PER_SESSION: usize = 2;

/// The sessions' threads and the queue that feeds them.
pub struct InferenceService {
    requests: Arc<Queue<Request>>,
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
    /// Start one worker per session (sessions still loading join as they come).
    pub fn start(detectors: Vec<LazyDetector>) -> Result<InferenceService, Failure> {
        let sessions = detectors.len();
        let requests = Arc::new(Queue::new(sessions * REQUESTS_PER_SESSION, WhenFull::Block));
        let errors = Arc::new(ErrorSlot::default());
        let mut workers = Vec::with_capacity(sessions);
        for (i, detector) in detectors.into_iter().enumerate() {
            let worker = Worker {
                detector,
                requests: requests.clone(),
                errors: errors.clone(),
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
                    let request = Request {
                        seq,
                        captured: frame,
                        reply: reply.clone(),
                    };
                    if matches!(credits.push(()), Pushed::Closed(_))
                        || matches!(requests.push(request), Pushed::Closed(_))
                    {
                        captured.abort();
                        break;
                    }
                }
            },
        )
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
