//! The threaded engine: a capture thread, one inference thread per ONNX
//! Runtime session, and the stages+sinks on the calling thread, joined by
//! bounded queues. A file never drops a frame (the reader waits); a live
//! source keeps the newest frame and counts what it skipped. Results of
//! parallel sessions are put back in frame order before the stages.

pub mod capture_thread;
pub mod infer;
pub mod metrics;
pub mod progress;
pub mod queue;
pub mod reorder;
pub mod stages;

use std::io::Write;
use std::sync::atomic::AtomicUsize;
use std::sync::{mpsc, Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use opencv::core::Mat;

use crate::capture::Capture;
use crate::config::Settings;
use crate::error::{ExitKind, Failure, OrExit};
use crate::model::{Detector, DetectorSettings};
use crate::pipeline::{StopReason, Summary};
use crate::plugin::{ComponentCache, Limits, PluginHost};
use crate::sink::{Recorder, StdoutSink};
use capture_thread::{CaptureEnd, CaptureJob};
use infer::{Inferred, LastOneCloses, Worker};
use metrics::{format_parts, rss_kib};
use progress::Progress;
use queue::{Queue, WhenFull};
use reorder::Reorder;
use stages::{Flow, Outputs, StageRunner};

/// How often the stats line goes to stderr (at info).
pub const STATS_EVERY: Duration = Duration::from_secs(5);
/// Decoded frames waiting for inference, for a file.
pub const CAPTURE_DEPTH: usize = 4;
/// A live source waits in a one-frame slot: always the newest.
pub const LIVE_DEPTH: usize = 1;
/// Medians of a run cover this many recent frames.
pub const MEDIAN_WINDOW: usize = 1024;
/// The frame at which the first resident-memory figure is taken.
pub const RSS_FIRST_FRAME: u64 = 100;

/// The first error of any thread; it ends the run.
#[derive(Default)]
pub struct ErrorSlot(Mutex<Option<Failure>>);

impl ErrorSlot {
    pub fn set(&self, f: Failure) {
        let mut g = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if g.is_none() {
            *g = Some(f);
        }
    }
    fn take(&self) -> Option<Failure> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).take()
    }
}

/// What differs between `edgepipe run` and the benchmark.
pub struct EngineOptions {
    /// Read a file again from the start at its end (until `max_frames`).
    pub loop_input: bool,
    /// Frames go here instead of stdout (the benchmark's /dev/null).
    pub frames_to: Option<Box<dyn Write>>,
    /// Medians cover this many recent frames.
    pub median_window: usize,
    /// Draw a progress bar when stderr is a terminal.
    pub progress: bool,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions { loop_input: false, frames_to: None, median_window: MEDIAN_WINDOW, progress: true }
    }
}

pub fn detector_settings(settings: &Settings) -> DetectorSettings {
    DetectorSettings {
        model: settings.model.clone(),
        labels: settings.labels.clone(),
        ort_lib: settings.ort_lib.clone(),
        confidence: settings.confidence,
        iou: settings.iou,
        intra_threads: settings.threads,
        max_detections: settings.max_detections,
        ep: settings.ep.clone(),
    }
}

/// Run the pipeline described by `settings` to the end of its input.
pub fn run(settings: &Settings, opts: EngineOptions) -> Result<Summary, Failure> {
    // Sessions load in the background while the input opens and the plugins load.
    let loading = infer::load_detectors(detector_settings(settings), settings.sessions)?;
    let capture = Capture::open(&settings.input).or_exit(ExitKind::Input)?;
    let (width, height, fps) = (capture.width(), capture.height(), capture.fps());
    let live = capture.spec().is_live();
    tracing::info!(input = %settings.input, width, height, fps, live, "input opened");

    let host = PluginHost::with_cache(
        Limits { call_timeout: settings.call_timeout, memory: settings.memory_limit },
        ComponentCache::new(settings.plugin_cache.clone()),
    )
    .or_exit(ExitKind::Plugin)?;
    let stages = crate::pipeline::load_stages(&host, settings)?;
    // The first session; the others join the workers as they finish loading.
    let (first, later) = infer::first_loaded(loading)?;
    let labels = first.labels().to_vec();
    let (iw, ih) = first.input_size();
    tracing::info!(model = %settings.model.display(), input_w = iw, input_h = ih, classes = first.classes(),
        sessions = settings.sessions, threads = settings.threads, provider = %first.provider(),
        "model loaded (execution provider {})", settings.ep.describe());
    let detectors: Vec<infer::LazyDetector> = std::iter::once(infer::LazyDetector::Ready(Box::new(first))).chain(later).collect();
    let publisher = crate::pipeline::start_mqtt(settings)?;
    let stdout = match opts.frames_to {
        Some(w) => Some(StdoutSink::with_writer(width, height, w)),
        None if settings.stdout => {
            eprintln!("edgepipe: stdout: raw BGR24 {width}x{height}; read it with: {}", crate::sink::ffmpeg_hint(width, height, fps));
            Some(StdoutSink::new(width, height))
        }
        None => None,
    };
    let recorder = match &settings.record {
        Some(p) => Some(Recorder::create(p).or_exit(ExitKind::Output)?),
        None => None,
    };
    let mut runner = StageRunner::new(
        stages,
        Outputs { publisher, stdout, recorder },
        labels,
        (width, height),
        opts.median_window,
        settings.pipeline_name.clone(),
    );

    let total = if live || opts.loop_input { settings.max_frames } else {
        match (capture.frame_count(), settings.max_frames) {
            (Some(n), Some(m)) => Some(n.min(m)),
            (n, m) => n.or(m),
        }
    };
    let mut progress = if opts.progress && !live { Progress::for_terminal(total) } else { None };

    let sessions = detectors.len();
    let (policy, depth) = if live { (WhenFull::DropOldest, LIVE_DEPTH) } else { (WhenFull::Block, CAPTURE_DEPTH) };
    let captured = Arc::new(Queue::new(depth, policy));
    // Frames in flight: queued, in the sessions, waiting to be re-ordered, in the stages.
    let max_buffers = depth + 2 * sessions + 2;
    let results = Arc::new(Queue::new(max_buffers, WhenFull::Block));
    let errors = Arc::new(ErrorSlot::default());
    let (pool_tx, pool_rx) = mpsc::channel::<Mat>();

    let started = Instant::now();
    let spawn_err = |e: std::io::Error| Failure::msg(ExitKind::Internal, format!("cannot start a thread: {e}"));
    let capture_job = CaptureJob {
        capture,
        loop_input: opts.loop_input,
        max_frames: settings.max_frames,
        queue: captured.clone(),
        pool: pool_rx,
        max_buffers,
        errors: errors.clone(),
    };
    let capture_thread =
        std::thread::Builder::new().name("capture".into()).spawn(move || capture_job.run()).map_err(spawn_err)?;
    let remaining = Arc::new(AtomicUsize::new(sessions));
    let mut workers = Vec::with_capacity(sessions);
    for (i, detector) in detectors.into_iter().enumerate() {
        let worker = Worker {
            detector,
            input: captured.clone(),
            output: results.clone(),
            errors: errors.clone(),
            done: LastOneCloses { remaining: remaining.clone(), queue: results.clone() },
        };
        match std::thread::Builder::new().name(format!("infer-{i}")).spawn(move || worker.run()) {
            Ok(h) => workers.push(h),
            Err(e) => {
                captured.abort();
                results.abort();
                return Err(spawn_err(e));
            }
        }
    }

    let mut reorder: Reorder<Inferred> = Reorder::with_capacity(max_buffers);
    let mut rss = Vec::with_capacity(2);
    let mut last_report = (Instant::now(), 0u64);
    let mut outcome: Result<Flow, Failure> = Ok(Flow::Continue);
    'frames: while let Some(item) = results.pop() {
        if let Err(dup) = reorder.insert(item.seq, item) {
            outcome = Err(Failure::msg(ExitKind::Internal, format!("frame sequence {} delivered twice", dup.seq)));
            break;
        }
        while let Some(item) = reorder.pop() {
            outcome = runner.process_frame(&item);
            // The buffer goes back to the reader; a reader that has stopped no longer needs it.
            let _ = pool_tx.send(item.frame.mat);
            if !matches!(outcome, Ok(Flow::Continue)) {
                break 'frames;
            }
            let done = runner.frames();
            if done == RSS_FIRST_FRAME {
                rss.push((done, rss_kib().unwrap_or(0)));
            }
            if let Some(p) = progress.as_mut() {
                p.update(done);
            }
            if last_report.0.elapsed() >= STATS_EVERY {
                if let Some(p) = progress.as_mut() {
                    p.clear();
                }
                let secs = last_report.0.elapsed().as_secs_f64();
                let fps = (done - last_report.1) as f64 / secs;
                let medians = runner.timings_mut().medians();
                tracing::info!(
                    fps = format_args!("{fps:.2}"),
                    frames = done,
                    dropped = captured.dropped(),
                    queued_capture = captured.len(),
                    queued_results = results.len(),
                    reordering = reorder.waiting(),
                    rss_mib = rss_kib().unwrap_or(0) / 1024,
                    "ms per frame (median): {}",
                    format_parts(&medians)
                );
                last_report = (Instant::now(), done);
            }
        }
    }
    // Stop the other threads whatever happened here, then wait for them.
    let stopping_early = !matches!(outcome, Ok(Flow::Continue));
    if stopping_early {
        captured.abort();
        results.abort();
    }
    drop(pool_tx);
    let capture_end = capture_thread.join().unwrap_or(CaptureEnd::Failed);
    // Kept until the last memory figure is taken.
    let sessions_done: Vec<Detector> = workers.into_iter().filter_map(|w| w.join().ok().flatten()).collect();
    let elapsed = started.elapsed();
    drop(progress);
    let dropped = captured.dropped();
    let flow = outcome?;
    if let Some(f) = errors.take() {
        return Err(f);
    }
    let frames = runner.frames();
    if frames != RSS_FIRST_FRAME {
        rss.push((frames, rss_kib().unwrap_or(0)));
    }
    drop(sessions_done);
    let mut report = runner.finish()?;
    let stop = match (flow, capture_end) {
        (Flow::ReaderGone, _) => StopReason::ReaderGone,
        (_, CaptureEnd::MaxFrames) => StopReason::MaxFrames,
        _ => StopReason::EndOfInput,
    };
    Ok(Summary {
        frames,
        elapsed,
        stop,
        stage_ms: report.timings.means(),
        stage_median_ms: report.timings.medians(),
        mqtt: report.mqtt,
        faults: report.faults,
        frames_written: report.frames_written,
        reloads: report.reloads,
        rejected_reloads: report.rejected_reloads,
        dropped,
        sessions,
        threads: settings.threads,
        rss_kib: rss,
    })
}
