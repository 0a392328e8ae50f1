//! What a camera readies before its model is loaded (issue 22, start-up):
//! its stages loaded and their saved state restored, its input sought to the
//! resumed frame and, for a file, its capture thread decoding the first
//! frames; `engine::run` does all of it while OpenVINO compiles the model.
//! Nothing reaches the model, a stage or a sink before the model is ready:
//! decoded frames wait in the capture queue, where a file's reader blocks
//! when it is full (it drops nothing). A live source's capture starts with
//! the rest of the camera, once the model is ready, so that no frame is
//! counted as dropped while the model loads.

use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;

use opencv::core::Mat;

use super::capture_thread::{CaptureEnd, CaptureJob};
use super::queue::{Queue, WhenFull};
use super::service::CameraFeed;
use super::source_health::SourceHealth;
use super::{join_within, spawn_guarded, CAPTURE_DEPTH, LIVE_DEPTH, STOP_GRACE};
use crate::capture::Capture;
use crate::checkpoint::Checkpoints;
use crate::config::{CameraSettings, RuntimeSettings};
use crate::error::Failure;
use crate::plugin::{PluginHost, StageSet};
use crate::stop::StopToken;

/// A camera's capture thread and the queues it feeds; the feeder to the
/// sessions is started later ([`super::Threads`]).
pub struct CaptureThread {
    pub handle: JoinHandle<Option<CaptureEnd>>,
    pub feed: CameraFeed,
    /// Frame buffers handed back to the reader.
    pub pool: mpsc::Sender<Mat>,
    /// Frames in flight at most.
    pub max_buffers: usize,
    pub sessions: usize,
}

/// How a camera's capture runs.
pub struct CaptureOptions {
    /// Workers of the inference service (sessions x requests).
    pub sessions: usize,
    pub loop_input: bool,
    pub stop: StopToken,
}

impl CaptureThread {
    /// Start reading `capture` into a new capture queue.
    pub fn start(
        capture: Capture,
        settings: &CameraSettings,
        opts: &CaptureOptions,
        health: Arc<SourceHealth>,
    ) -> Result<CaptureThread, Failure> {
        let (policy, depth) = if capture.spec().is_live() {
            (WhenFull::DropOldest, LIVE_DEPTH)
        } else {
            (WhenFull::Block, CAPTURE_DEPTH)
        };
        let captured = Arc::new(Queue::new(depth, policy));
        // Frames in flight: queued, in the sessions, waiting to be re-ordered, in the stages.
        let max_buffers = depth + 2 * opts.sessions + 2;
        let mut feed = CameraFeed::new(captured.clone(), max_buffers);
        feed.detect_fps = settings.detect_fps;
        let (pool_tx, pool_rx) = mpsc::channel::<Mat>();
        let job = CaptureJob {
            capture,
            loop_input: opts.loop_input,
            max_frames: settings.max_frames,
            queue: captured.clone(),
            pool: pool_rx,
            max_buffers,
            errors: feed.errors.clone(),
            stop: opts.stop.clone(),
            retry: settings.source_retry,
            health,
        };
        let stop_all = {
            let (c, r, k) = (captured, feed.results.clone(), feed.credits.clone());
            move || {
                c.abort();
                r.abort();
                k.abort();
            }
        };
        let handle = spawn_guarded("capture".into(), feed.errors.clone(), stop_all, move || {
            job.run()
        })?;
        Ok(CaptureThread {
            handle,
            feed,
            pool: pool_tx,
            max_buffers,
            sessions: opts.sessions,
        })
    }

    /// The run ends before the camera's frames are fed: stop the reader and
    /// wait for it (at most [`STOP_GRACE`]).
    pub fn abandon(self) {
        self.feed.abort();
        drop(self.pool);
        let _ = join_within(self.handle, STOP_GRACE);
    }
}

/// Where the camera's capture is: started (a file, while the model loads)
/// or still to start (a live source).
pub enum CaptureState {
    Started(CaptureThread),
    Waiting(Capture),
}

impl CaptureState {
    /// The run ends before this camera's frames are fed.
    pub fn abandon(self) {
        if let CaptureState::Started(t) = self {
            t.abandon();
        }
    }
}

/// What is known of a camera's input once it is open.
#[derive(Debug, Clone)]
pub struct InputInfo {
    pub width: u32,
    pub height: u32,
    pub fps: f64,
    pub live: bool,
    /// Frames of the input after the resumed one (`None`: unknown).
    pub frames_left: Option<u64>,
}

/// A camera's start up to the model: what [`super::run_prepared`] needs.
pub struct CameraStart {
    pub input: InputInfo,
    pub stages: StageSet,
    pub checkpoints: Option<Checkpoints>,
    pub health: Arc<SourceHealth>,
    pub capture: CaptureState,
}

impl CameraStart {
    /// Load `settings`' stages on `host`, restore their state, seek the
    /// input to the frame it resumes at and start a file's capture thread.
    pub fn prepare(
        host: &PluginHost,
        runtime: &RuntimeSettings,
        settings: &CameraSettings,
        capture: Capture,
        opts: &CaptureOptions,
    ) -> Result<CameraStart, Failure> {
        let (width, height, fps) = (capture.width(), capture.height(), capture.fps());
        let live = capture.spec().is_live();
        tracing::info!(input = %settings.input, width, height, fps, live, "input opened");
        let mut stages = crate::pipeline::load_stages(host, runtime, &settings.stages)?;
        let mut checkpoints = settings.state.as_ref().and_then(Checkpoints::open);
        let at = checkpoints.as_mut().and_then(|cp| cp.restore(&mut stages));
        let mut capture = capture;
        let resumed_at = at.map_or(0, |at| super::resume_at(&mut capture, at));
        let frames_left = capture.frame_count().map(|n| n.saturating_sub(resumed_at));
        let health = Arc::new(SourceHealth::default());
        let capture = if live {
            CaptureState::Waiting(capture)
        } else {
            CaptureState::Started(CaptureThread::start(
                capture,
                settings,
                opts,
                health.clone(),
            )?)
        };
        Ok(CameraStart {
            input: InputInfo {
                width,
                height,
                fps,
                live,
                frames_left,
            },
            stages,
            checkpoints,
            health,
            capture,
        })
    }

    /// The run ends before this camera's frames are fed.
    pub fn abandon(self) {
        self.capture.abandon();
    }
}
