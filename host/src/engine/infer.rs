//! An inference worker: one ONNX Runtime session on its own thread, taking
//! the next request of any camera and handing the frame with its detections
//! back to that camera, numbered so its stages thread can restore the order.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex, PoisonError};

use opencv::core::Mat;

use super::batch::{next_batch, BatchCounters, BatchPolicy};
use super::capture_thread::Captured;
use super::queue::Queue;
use super::ErrorSlot;
use crate::capture::Frame;
use crate::detect::Detection;
use crate::error::Failure;
use crate::error::{ExitKind, OrExit};
use crate::layouts::batch::BatchTensor;
use crate::model::{DetectTimings, Detector, DetectorSettings, LoadedModel};
use crate::steady::WorkerRun;

/// A frame with what the detector found in it.
pub struct Inferred {
    /// Position in the order frames left the capture queue (no gaps).
    pub seq: u64,
    pub frame: Frame,
    pub detections: Vec<Detection>,
    pub capture_ms: f64,
    /// This frame's pre-processing, inference and decoding times.
    pub timings: DetectTimings,
    /// `false`: over the camera's `detect_fps`, not sent to the model (its
    /// stages see the detections of the last frame that was).
    pub inferred: bool,
    /// The worker and its session run that inferred the frame (`None`: not
    /// inferred); the steady-state figure leaves out each worker's first runs.
    pub run: Option<WorkerRun>,
}

/// One camera's frame for the shared sessions, with where its result goes.
pub struct Request {
    /// The frame's position in its camera's order (no gaps).
    pub seq: u64,
    pub captured: Captured,
    pub reply: Arc<Reply>,
}

/// Where one camera's results go. Its results queue is closed when the
/// last holder is gone: the camera's feeder and every request in flight.
pub struct Reply {
    pub results: Arc<Queue<Inferred>>,
    /// The camera's error slot: a detector error ends this camera only.
    pub errors: Arc<ErrorSlot>,
    /// The camera's capture queue, aborted when its frames can no longer
    /// be delivered in order.
    pub input: Arc<Queue<Captured>>,
}

impl Drop for Reply {
    fn drop(&mut self) {
        self.results.close();
    }
}

/// One session on its own thread, serving every camera's requests in the
/// order they were queued; a model with a dynamic batch dimension takes
/// several at a time (see [`next_batch`]).
pub struct Worker {
    /// Its position among the service's workers.
    pub id: usize,
    pub detector: LazyDetector,
    pub requests: Arc<Queue<Request>>,
    /// The service's own errors (a session that fails to load).
    pub errors: Arc<ErrorSlot>,
    pub batches: BatchPolicy,
    pub counters: Arc<BatchCounters>,
}

impl Worker {
    /// Work until the requests end; hands the detector back so that it is
    /// freed after the run's last memory figure is taken, not before. A
    /// session still loading is waited for first; one that fails to load
    /// stops the service with its error.
    pub fn run(self) -> Option<Detector> {
        let Worker {
            id,
            detector,
            requests,
            errors,
            batches,
            counters,
        } = self;
        let mut detector = match detector {
            LazyDetector::Ready(d) => *d,
            LazyDetector::Pending(next) => match next_detector(&next) {
                Ok(d) => d,
                Err(f) => {
                    errors.set(f);
                    requests.abort();
                    return None;
                }
            },
        };
        crate::timeline::step("inference worker ready");
        let mut batch = BatchTensor::default();
        let mut run = WorkerRun { worker: id, run: 0 };
        while let Some(requests) = next_batch(&requests, &batches) {
            counters.record(requests.len());
            tracing::debug!(frames = requests.len(), "session run");
            run_batch(&mut detector, &mut batch, requests, run);
            run.run += 1;
        }
        Some(detector)
    }
}

/// One session run for `requests` (one, or a batch); each result, or the
/// run's error, goes to its request's camera.
fn run_batch(
    detector: &mut Detector,
    batch: &mut BatchTensor,
    requests: Vec<Request>,
    run: WorkerRun,
) {
    for r in &requests {
        crate::fault::check(crate::fault::Thread::Infer, r.captured.frame.index);
        crate::timeline::frame("inference start", r.captured.frame.index);
    }
    let mut timings = vec![DetectTimings::default(); requests.len()];
    let found = match requests.as_slice() {
        [one] => detector
            .detect(&one.captured.frame.mat, &mut timings[0])
            .map(|d| vec![d]),
        many => {
            let frames: Vec<&Mat> = many.iter().map(|r| &r.captured.frame.mat).collect();
            detector.detect_batch(&frames, batch, &mut timings)
        }
    };
    match found {
        Ok(found) => {
            for ((req, detections), timings) in requests.into_iter().zip(found).zip(timings) {
                crate::timeline::inferred(req.captured.frame.index, &timings);
                // Room for every frame in flight (see the feeder's credits):
                // a slow camera never holds up the sessions.
                let _ = req.reply.results.push(Inferred {
                    seq: req.seq,
                    frame: req.captured.frame,
                    detections,
                    capture_ms: req.captured.capture_ms,
                    timings,
                    inferred: true,
                    run: Some(run),
                });
            }
        }
        Err(e) => {
            // Each camera of the batch its own copy of the error.
            let text = Failure::new(ExitKind::Model, e).to_string();
            for req in requests {
                req.reply.errors.set(Failure::msg(ExitKind::Model, &text));
                // Frames after this one cannot be delivered in order: the
                // camera takes no new ones; those before it reach its sinks.
                req.reply.input.abort();
            }
        }
    }
}

/// Sessions being loaded, one after the other, on a background thread.
pub struct Loading {
    /// Workers in all: sessions x requests.
    workers: usize,
    next: Arc<Next>,
}

/// Where the loader hands over sessions. When the last holder is gone (the
/// run ended, perhaps early), the loader is told to stop and is waited for:
/// a process must not exit while a thread is inside ONNX Runtime.
pub struct Next {
    rx: Mutex<mpsc::Receiver<Result<Detector, Failure>>>,
    cancel: Arc<AtomicBool>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl Drop for Next {
    fn drop(&mut self) {
        self.cancel.store(true, Ordering::SeqCst);
        if let Some(t) = self
            .thread
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        {
            let _ = t.join();
        }
    }
}

/// A worker's session: loaded, or the next one the loader finishes.
pub enum LazyDetector {
    Ready(Box<Detector>),
    Pending(Arc<Next>),
}

/// Load `n` sessions of `settings` on a background thread, one after the
/// other, each handed over as `settings.requests` workers running it at
/// once: the first frame waits for one session load only (loads at once
/// would share the cores and all finish late), and the start overlaps the
/// input's opening and the plugins' loading. The later workers join as
/// their session loads.
pub fn load_detectors(settings: DetectorSettings, n: usize) -> Result<Loading, Failure> {
    let (tx, rx) = mpsc::channel();
    let cancel = Arc::new(AtomicBool::new(false));
    let stop = cancel.clone();
    let requests = settings.requests.max(1);
    let thread = std::thread::Builder::new()
        .name("load-model".into())
        .spawn(move || {
            for _ in 0..n.max(1) {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let model = match LoadedModel::load(settings.clone()).or_exit(ExitKind::Model) {
                    Ok(m) => Arc::new(m),
                    Err(f) => {
                        let _ = tx.send(Err(f));
                        break;
                    }
                };
                crate::timeline::step("session loaded");
                for _ in 0..requests {
                    if tx.send(Ok(Detector::on(model.clone()))).is_err() {
                        return;
                    }
                }
            }
        })
        .map_err(|e| Failure::msg(ExitKind::Internal, format!("cannot start a thread: {e}")))?;
    let next = Next {
        rx: Mutex::new(rx),
        cancel,
        thread: Mutex::new(Some(thread)),
    };
    Ok(Loading {
        workers: n.max(1) * requests,
        next: Arc::new(next),
    })
}

impl Loading {
    /// Workers in all, once every session is loaded: sessions x requests.
    pub fn workers(&self) -> usize {
        self.workers
    }
}

/// `failure` of what ran while the model loaded, unless the model failed
/// too: then the model's error, which comes first as when the model loaded
/// before anything else (waits for the first session).
pub fn model_error_or(loading: Loading, failure: Failure) -> Failure {
    match first_loaded(loading) {
        Err(model) => model,
        Ok(_) => failure,
    }
}

/// Wait for the first session; the others as [`LazyDetector::Pending`].
pub fn first_loaded(loading: Loading) -> Result<(Detector, Vec<LazyDetector>), Failure> {
    let first = next_detector(&loading.next)?;
    let later = (1..loading.workers)
        .map(|_| LazyDetector::Pending(loading.next.clone()))
        .collect();
    Ok((first, later))
}

fn next_detector(next: &Next) -> Result<Detector, Failure> {
    let rx = next.rx.lock().unwrap_or_else(PoisonError::into_inner);
    rx.recv().unwrap_or_else(|_| {
        Err(Failure::msg(
            ExitKind::Internal,
            "the model-loading thread ended early",
        ))
    })
}
