//! The threaded engine: a capture thread, one inference thread per ONNX
//! Runtime session, and the stages+sinks on the calling thread, joined by
//! bounded queues. A file never drops a frame (the reader waits); a live
//! source keeps the newest frame and counts what it skipped. Results of
//! parallel sessions are put back in frame order before the stages. A stop
//! request ends capture; what was decoded still goes through. A panic in any
//! thread stops the others and ends the run with an error.

pub mod batch;
pub mod camera_folder;
pub mod camera_set;
pub mod camera_start;
pub mod cameras;
pub mod capture_thread;
pub mod infer;
pub mod metrics;
pub mod probe;
pub mod process_status;
pub mod progress;
pub mod queue;
pub mod reorder;
pub mod runtime;
pub mod service;
pub mod source_health;
pub mod stages;

use std::io::Write;
use std::sync::{mpsc, Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use opencv::core::Mat;

use crate::capture::Capture;
use crate::chain::{Chain, ChainLimits, TopicPolicy};
use crate::checkpoint::Checkpoints;
use crate::config::{CameraSettings, Settings};
use crate::error::{ExitKind, Failure, OrExit};
use crate::pipeline::{StopReason, Summary};
use crate::plugin::StageSet;
use crate::sink::{Recorder, StdoutSink};
use crate::steady::SteadyClock;
use crate::stop::StopToken;
use camera_start::{CameraStart, CaptureOptions, CaptureState, CaptureThread, InputInfo};
use capture_thread::CaptureEnd;
use infer::Inferred;
use metrics::{format_parts, rss_kib};
use progress::Progress;
use queue::Popped;
use reorder::Reorder;
use runtime::Runtime;
use service::{CameraFeed, InferenceService};
use source_health::SourceHealth;
use stages::{Flow, Outputs, StageRunner};

/// How often the stats line goes to stderr (at info).
pub const STATS_EVERY: Duration = Duration::from_secs(5);
/// Decoded frames waiting for inference, for a file. Two are enough: the
/// request queue holds more, and decoding a frame (~1 ms) is far quicker
/// than inferring it; each frame of depth is a buffer (1.3 MB at 768x576)
/// resident for the whole run (issue 22: 4 -> 2 took 2.5 MiB off the peak).
pub const CAPTURE_DEPTH: usize = 2;
/// A live source waits in a one-frame slot: always the newest.
pub const LIVE_DEPTH: usize = 1;
/// Medians of a run cover this many recent frames.
pub const MEDIAN_WINDOW: usize = 1024;
/// The frame at which the first resident-memory figure is taken.
pub const RSS_FIRST_FRAME: u64 = 100;
/// The stages thread waits this long for a frame before doing the work that
/// needs none (source events, checkpoints, a pending stop).
pub const IDLE_TICK: Duration = Duration::from_millis(200);
/// How often the live view's status is refreshed.
pub const LIVE_STATUS_EVERY: Duration = Duration::from_secs(1);
/// After a stop request, capture gets this long to notice (it may be blocked
/// reading the source) before its queue is closed under it.
pub const STOP_GRACE: Duration = Duration::from_secs(2);

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
    pub fn take(&self) -> Option<Failure> {
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
    /// A graceful stop (signals) is asked for here.
    pub stop: StopToken,
    /// Each frame's latency and the MQTT queue depth (the soak benchmark).
    pub probe: Option<Arc<probe::Probe>>,
    /// The process ends when this run does (`edgepipe run`): the sessions
    /// are not freed at the end ([`Runtime::finish`]).
    pub process_ends: bool,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            loop_input: false,
            frames_to: None,
            median_window: MEDIAN_WINDOW,
            progress: true,
            stop: StopToken::new(),
            probe: None,
            process_ends: false,
        }
    }
}

/// Run the pipeline described by `settings` (one camera) to the end of its input.
pub fn run(settings: &Settings, opts: EngineOptions) -> Result<Summary, Failure> {
    let [camera] = settings.cameras.as_slice() else {
        return Err(Failure::msg(
            ExitKind::Internal,
            format!(
                "one camera expected, {} given (several run with engine::cameras)",
                settings.cameras.len()
            ),
        ));
    };
    // Sessions load in the background while the input opens, the stages
    // load and a file's first frames are decoded (`camera_start`).
    let loading = infer::load_detectors(settings.model.detector(), settings.model.sessions)?;
    let capture = Capture::open(&camera.input).or_exit(ExitKind::Input)?;
    let copts = CaptureOptions {
        sessions: loading.workers(),
        loop_input: opts.loop_input,
        stop: opts.stop.clone(),
    };
    crate::timeline::step("input open");
    let ready = runtime::plugin_host(&settings.runtime).and_then(|host| {
        let start = CameraStart::prepare(&host, &settings.runtime, camera, capture, &copts)?;
        Ok((host, start))
    });
    // The model's own error comes first, as when nothing ran beside its load.
    let (host, start) = match ready {
        Ok(r) => r,
        Err(f) => return Err(infer::model_error_or(loading, f)),
    };
    crate::timeline::step("stages loaded");
    let rt = Runtime::start_with(host, &settings.runtime, &settings.model, loading, 1)
        .and_then(|rt| rt.with_live(false));
    let mut rt = match rt {
        Ok(rt) => rt,
        Err(f) => {
            start.abandon();
            return Err(f);
        }
    };
    crate::timeline::step("inference service started");
    rt.camera_names = vec![camera.name.clone()];
    let process_ends = opts.process_ends;
    let summary = run_prepared(&rt, camera, start, opts);
    rt.report_batches();
    rt.finish(process_ends);
    summary
}

/// The frames' sinks of a camera: stdout (or the benchmark's writer) and the record.
fn frame_sinks(
    settings: &CameraSettings,
    input: &InputInfo,
    frames_to: Option<Box<dyn Write>>,
) -> Result<(Option<StdoutSink>, Option<Recorder>), Failure> {
    let (width, height, fps) = (input.width, input.height, input.fps);
    let stdout = match frames_to {
        Some(w) => Some(StdoutSink::with_writer(width, height, w)),
        None if settings.stdout => {
            eprintln!(
                "edgepipe: stdout: raw BGR24 {width}x{height}; read it with: {}",
                crate::sink::ffmpeg_hint(width, height, fps)
            );
            Some(StdoutSink::new(width, height))
        }
        None => None,
    };
    let recorder = match &settings.record {
        Some(p) => Some(Recorder::create(p).or_exit(ExitKind::Output)?),
        None => None,
    };
    Ok((stdout, recorder))
}

/// The camera's tenants (their chains run after the operator's) and live view.
fn attach_tenants_and_live(
    rt: &Runtime,
    camera: &CameraSettings,
    runner: &mut StageRunner,
    size: (u32, u32),
) -> Result<Option<crate::live::CameraView>, Failure> {
    let settings = &rt.settings;
    let mut tenant_frames = None;
    if let Some(dir) = &settings.tenants_dir {
        let ctx = crate::tenants::TenantContext {
            host: rt.host.clone(),
            plugin_dir: settings.plugin_dir.clone(),
            default_qos: settings.default_qos,
            maxima: settings.tenant_maxima,
            mqtt: runner.mqtt_settings(),
            reload: settings.reload,
            state: camera.state.clone(),
            camera: camera.name.clone(),
            cameras: with_camera(&rt.camera_names, &camera.name),
            logins: rt.tenant_logins.clone(),
        };
        let set = crate::tenants::TenantSet::start(
            ctx,
            dir,
            &settings.pipeline_name,
            &camera.host_topics,
            settings.reload,
        )
        .map_err(|e| Failure::msg(ExitKind::Config, e))?;
        tracing::info!(dir = %dir.display(), tenants = set.len(), ids = %set.ids().join(","), "tenants loaded");
        tenant_frames = Some(set.frames());
        runner.with_tenants(set);
    }
    let view = match &rt.live {
        Some(l) => {
            let prefix = camera
                .topic_prefix
                .as_deref()
                .filter(|p| !p.is_empty())
                .map_or(String::new(), |p| format!("{}/", p.trim_end_matches('/')));
            let v = l
                .add_camera(&camera.name, &prefix, size, tenant_frames)
                .map_err(|e| Failure::new(ExitKind::Output, e))?;
            runner.with_live(v.tap.clone());
            Some(v)
        }
        None => None,
    };
    Ok(view)
}

/// One camera's pipeline on the shared runtime: its stages, sinks, tenants
/// and live view, its capture and feeder threads, its frame loop (on the
/// calling thread), to the end of its input.
pub fn run_camera(
    rt: &Runtime,
    settings: &CameraSettings,
    capture: Capture,
    opts: EngineOptions,
) -> Result<Summary, Failure> {
    let copts = CaptureOptions {
        sessions: rt.service.sessions(),
        loop_input: opts.loop_input,
        stop: opts.stop.clone(),
    };
    let start = CameraStart::prepare(&rt.host, &rt.settings, settings, capture, &copts)?;
    run_prepared(rt, settings, start, opts)
}

/// The rest of a camera's start once its model is ready (its publisher,
/// sinks, stage runner, tenants and live view, its feeder), then its frame
/// loop. An error before the frame loop stops the capture thread.
pub fn run_prepared(
    rt: &Runtime,
    settings: &CameraSettings,
    start: CameraStart,
    mut opts: EngineOptions,
) -> Result<Summary, Failure> {
    let CameraStart {
        input,
        stages,
        checkpoints,
        health,
        capture,
    } = start;
    let frames_to = opts.frames_to.take();
    let parts = (stages, checkpoints, health.clone());
    let (runner, view) =
        match camera_runner(rt, settings, &input, parts, frames_to, opts.median_window) {
            Ok(r) => r,
            Err(f) => {
                capture.abandon();
                return Err(f);
            }
        };
    let total = if input.live || opts.loop_input {
        settings.max_frames
    } else {
        match (input.frames_left, settings.max_frames) {
            (Some(n), Some(m)) => Some(n.min(m)),
            (n, m) => n.or(m),
        }
    };
    let progress = if opts.progress && !input.live {
        Progress::for_terminal(total)
    } else {
        None
    };
    crate::timeline::step("camera ready (publisher, sinks, stage runner)");
    // Start-up's garbage (the session build's above all) goes back before
    // frames flow, rather than staying resident for the whole run. (After
    // the first frame instead, that frame is out 1.5-9 ms sooner but the
    // peak is 7 MiB higher: its first allocations come on top of the garbage.)
    crate::malloc::release_free();
    crate::timeline::step("free heap handed back");
    let started = Instant::now();
    let copts = CaptureOptions {
        sessions: rt.service.sessions(),
        loop_input: opts.loop_input,
        stop: opts.stop.clone(),
    };
    let threads = Threads::start(capture, &rt.service, settings, &copts, &health)?;
    let mut frame_loop = FrameLoop {
        runner,
        threads,
        progress,
        stop: opts.stop,
        health,
        live: input.live,
        rss: Vec::with_capacity(2),
        probe: opts.probe,
        steady: SteadyClock::new(rt.service.sessions()),
    };
    let outcome = frame_loop.run();
    let summary = frame_loop.end(outcome, started, rt.threads);
    if let Some(v) = view {
        v.close();
    }
    summary
}

/// A camera's stage runner on `rt`: its stages, publisher and sinks, its
/// tenants and live view.
fn camera_runner(
    rt: &Runtime,
    settings: &CameraSettings,
    input: &InputInfo,
    (stages, checkpoints, health): (StageSet, Option<Checkpoints>, Arc<SourceHealth>),
    frames_to: Option<Box<dyn Write>>,
    median_window: usize,
) -> Result<(StageRunner, Option<crate::live::CameraView>), Failure> {
    let publisher = crate::pipeline::connect(&rt.settings, settings, rt.mqtt_url.as_deref())?;
    let (stdout, recorder) = frame_sinks(settings, input, frames_to)?;
    let operator = Chain::new(
        "operator",
        stages,
        TopicPolicy::camera(
            &rt.settings.delivery.host_prefixes,
            settings.topic_prefix.as_deref(),
        ),
        ChainLimits::default(),
    );
    let size = (input.width, input.height);
    let mut runner = StageRunner::new(
        operator,
        Outputs {
            publisher,
            stdout,
            recorder,
        },
        rt.labels.clone(),
        size,
        median_window,
        rt.settings.pipeline_name.clone(),
    );
    runner.with_camera(&settings.name);
    runner.with_host_topics(&settings.host_topics);
    if let Some(cp) = checkpoints {
        runner.keep_checkpoints(cp);
    }
    let view = attach_tenants_and_live(rt, settings, &mut runner, size)?;
    if input.live {
        runner.watch_source(
            health,
            settings.input.clone(),
            format!("{}/source", settings.host_topics),
        );
    }
    Ok((runner, view))
}

/// `--resume` on a file: continue at the frame the restored state was saved
/// at. Returns the frame reading starts at.
fn resume_at(capture: &mut Capture, at: u64) -> u64 {
    if capture.spec().is_live() || at == 0 {
        return 0;
    }
    if capture.seek_to(at) {
        tracing::info!(input = %capture.name(), frame = at, "resuming at the saved frame");
        at
    } else {
        tracing::warn!(input = %capture.name(), frame = at, "the input cannot seek: resuming the state from its first frame");
        0
    }
}

/// A camera's capture thread, its feeder to the inference service and the
/// queues between them.
struct Threads {
    capture: JoinHandle<Option<CaptureEnd>>,
    feeder: JoinHandle<Option<()>>,
    feed: CameraFeed,
    /// The inference service's own failures.
    service_errors: Arc<ErrorSlot>,
    pool: mpsc::Sender<Mat>,
    max_buffers: usize,
    sessions: usize,
}

/// Start a named thread whose panic becomes the run's error and stops the
/// other threads (`on_panic`), instead of leaving them waiting.
fn spawn_guarded<T: Send + 'static>(
    name: String,
    errors: Arc<ErrorSlot>,
    on_panic: impl FnOnce() + Send + 'static,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<JoinHandle<Option<T>>, Failure> {
    std::thread::Builder::new()
        .name(name)
        .spawn(move || match crate::panics::guarded(f) {
            Ok(v) => Some(v),
            Err(text) => {
                errors.set(Failure::msg(ExitKind::Internal, text));
                on_panic();
                None
            }
        })
        .map_err(|e| Failure::msg(ExitKind::Internal, format!("cannot start a thread: {e}")))
}

impl Threads {
    /// The camera's capture thread (started now unless it already runs)
    /// and its feeder to `service`.
    fn start(
        capture: CaptureState,
        service: &InferenceService,
        settings: &CameraSettings,
        opts: &CaptureOptions,
        health: &Arc<SourceHealth>,
    ) -> Result<Threads, Failure> {
        let thread = match capture {
            CaptureState::Started(t) => t,
            CaptureState::Waiting(c) => CaptureThread::start(c, settings, opts, health.clone())?,
        };
        let feeder = match service.feed(&settings.name, &thread.feed) {
            Ok(h) => h,
            Err(f) => {
                thread.abandon();
                return Err(f);
            }
        };
        Ok(Threads {
            capture: thread.handle,
            feeder,
            feed: thread.feed,
            service_errors: service.errors(),
            pool: thread.pool,
            max_buffers: thread.max_buffers,
            sessions: thread.sessions,
        })
    }
}

/// Wait for `h` at most `grace`; a thread still blocked then is left behind
/// (it is reading a source that does not answer) and the run ends without it.
fn join_within<T>(h: JoinHandle<Option<T>>, grace: Duration) -> Option<T> {
    let until = Instant::now() + grace;
    while !h.is_finished() && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(10));
    }
    if h.is_finished() {
        h.join().ok().flatten()
    } else {
        tracing::warn!("capture thread still blocked reading the source; ending without it");
        None
    }
}

/// The stages thread's side of a run: frames in order through the stages
/// and sinks, the periodic stats line, and the end of the run.
struct FrameLoop {
    runner: StageRunner,
    threads: Threads,
    progress: Option<Progress>,
    stop: StopToken,
    health: Arc<SourceHealth>,
    live: bool,
    rss: Vec<(u64, u64)>,
    probe: Option<Arc<probe::Probe>>,
    /// When each frame went out, for the steady-state figure.
    steady: SteadyClock,
}

impl FrameLoop {
    fn run(&mut self) -> Result<Flow, Failure> {
        let mut reorder: Reorder<Inferred> = Reorder::with_capacity(self.threads.max_buffers);
        let mut last_report = (Instant::now(), 0u64);
        let mut live_mark = (Instant::now(), 0u64);
        let mut stop_seen: Option<Instant> = None;
        loop {
            if self.stop.is_requested() {
                self.on_stop(&mut stop_seen);
            }
            let item = match self.threads.feed.results.pop_timeout(IDLE_TICK) {
                Popped::Item(item) => item,
                Popped::Closed => return Ok(Flow::Continue),
                Popped::TimedOut => {
                    if live_mark.0.elapsed() >= LIVE_STATUS_EVERY {
                        self.refresh_live(&mut live_mark, reorder.waiting());
                    }
                    self.runner.between_frames()?;
                    continue;
                }
            };
            if let Err(dup) = reorder.insert(item.seq, item) {
                return Err(Failure::msg(
                    ExitKind::Internal,
                    format!("frame sequence {} delivered twice", dup.seq),
                ));
            }
            while let Some(mut item) = reorder.pop() {
                crate::timeline::frame("stages", item.frame.index);
                let t = Instant::now();
                let flow = self.runner.process_frame(&mut item);
                let out = Instant::now();
                crate::timeline::frame("out", item.frame.index);
                self.steady.frame_out(item.run, out);
                self.threads.feed.frame_done();
                if let Some(p) = &self.probe {
                    p.frame(&item, t.elapsed(), self.runner.mqtt_queued());
                }
                // The buffer goes back to the reader; a reader that has stopped no longer needs it.
                let _ = self.threads.pool.send(item.frame.mat);
                if !matches!(flow, Ok(Flow::Continue)) {
                    return flow;
                }
                let done = self.runner.frames();
                if done == RSS_FIRST_FRAME {
                    self.rss.push((done, rss_kib().unwrap_or(0)));
                }
                if let Some(p) = self.progress.as_mut() {
                    p.update(done);
                }
                if live_mark.0.elapsed() >= LIVE_STATUS_EVERY {
                    self.refresh_live(&mut live_mark, reorder.waiting());
                }
                if last_report.0.elapsed() >= STATS_EVERY {
                    self.stats_line(&last_report, reorder.waiting());
                    last_report = (Instant::now(), done);
                }
            }
        }
    }

    /// A stop was requested: say so once; if capture has not ended within
    /// [`STOP_GRACE`] (blocked on its source), close its queue under it so
    /// the frames already decoded still go through.
    fn on_stop(&mut self, seen: &mut Option<Instant>) {
        let first = seen.get_or_insert_with(|| {
            if let Some(p) = self.progress.as_mut() {
                p.clear();
            }
            // One camera of several: the process says it once (a signal), or
            // the camera set logs why this camera alone stops.
            if !self.stop.is_child() {
                announce_stop(&self.stop, "the frames in flight");
            }
            Instant::now()
        });
        if first.elapsed() >= STOP_GRACE
            && !self.threads.capture.is_finished()
            && !self.threads.feed.captured.is_closed()
        {
            self.threads.feed.captured.close();
        }
    }

    /// The live view's status: fps since the last refresh, drops, queues.
    fn refresh_live(&mut self, mark: &mut (Instant, u64), _reordering: usize) {
        let done = self.runner.frames();
        let secs = mark.0.elapsed().as_secs_f64();
        let t = &self.threads;
        let fps = if secs > 0.0 {
            (done - mark.1) as f64 / secs
        } else {
            0.0
        };
        self.runner
            .refresh_live(crate::live::status::EngineFigures {
                fps,
                dropped: t.feed.captured.dropped(),
                queue_capture: t.feed.captured.len(),
                queue_results: t.feed.results.len(),
            });
        *mark = (Instant::now(), done);
    }

    fn stats_line(&mut self, last: &(Instant, u64), reordering: usize) {
        if let Some(p) = self.progress.as_mut() {
            p.clear();
        }
        let done = self.runner.frames();
        let fps = (done - last.1) as f64 / last.0.elapsed().as_secs_f64();
        let medians = self.runner.timings_mut().medians();
        let t = &self.threads;
        tracing::info!(
            fps = format_args!("{fps:.2}"),
            frames = done,
            dropped = t.feed.captured.dropped(),
            reconnects = self.health.reconnects(),
            secs_without_frames = format_args!("{:.1}", self.health.seconds_without_frames()),
            queued_capture = t.feed.captured.len(),
            queued_results = t.feed.results.len(),
            reordering,
            rss_mib = rss_kib().unwrap_or(0) / 1024,
            "ms per frame (median): {}",
            format_parts(&medians)
        );
        for line in self.runner.tenant_lines() {
            tracing::info!("{line}");
        }
    }

    /// Stop the other threads, wait for them, finish the stages and sinks
    /// (whatever ended the run: what was accepted is still delivered), and
    /// build the summary.
    fn end(
        self,
        outcome: Result<Flow, Failure>,
        started: Instant,
        threads_per_session: usize,
    ) -> Result<Summary, Failure> {
        let FrameLoop {
            runner,
            threads,
            progress,
            stop,
            health,
            live,
            mut rss,
            probe: _,
            steady,
        } = self;
        if !matches!(outcome, Ok(Flow::Continue)) {
            threads.feed.abort();
        }
        drop(threads.pool);
        let capture_end = join_within(threads.capture, STOP_GRACE).unwrap_or(CaptureEnd::Failed);
        let _ = threads.feeder.join();
        let elapsed = started.elapsed();
        drop(progress);
        let dropped = threads.feed.captured.dropped();
        let (flow, failed) = match outcome {
            Err(f) => (Flow::Continue, Some(f)),
            Ok(flow) => (
                flow,
                threads
                    .feed
                    .errors
                    .take()
                    .or_else(|| threads.service_errors.take()),
            ),
        };
        let frames = runner.frames();
        if frames != RSS_FIRST_FRAME {
            rss.push((frames, rss_kib().unwrap_or(0)));
        }
        if let Some(f) = failed {
            // Deliver what was accepted before the failure, then report it.
            let _ = runner.finish();
            return Err(f);
        }
        let mut report = runner.finish()?;
        let stop = match (flow, capture_end) {
            (Flow::ReaderGone, _) => StopReason::ReaderGone,
            (_, CaptureEnd::MaxFrames) => StopReason::MaxFrames,
            _ if stop.is_requested() => {
                StopReason::Signal(stop.signal_name().unwrap_or("stop request"))
            }
            _ => StopReason::EndOfInput,
        };
        Ok(Summary {
            frames,
            inferred: report.inferred,
            elapsed,
            stop,
            stage_ms: report.timings.means(),
            stage_median_ms: report.timings.medians(),
            mqtt: report.mqtt,
            faults: report.faults,
            refusals: report.refusals,
            shapes_refused: report.shapes_refused,
            tenants: report
                .tenants
                .into_iter()
                .map(|t| (format!("tenant {}: {}", t.id, t.line), t.mqtt))
                .collect(),
            frames_written: report.frames_written,
            reloads: report.reloads,
            rejected_reloads: report.rejected_reloads,
            dropped,
            sessions: threads.sessions,
            threads: threads_per_session,
            rss_kib: rss,
            source: live.then(|| (health.reconnects(), health.seconds_without_frames())),
            steady: steady.window(),
        })
    }
}

/// The cameras a tenant file may name, as this camera sees them: the
/// process's cameras at start, and this one (a camera a folder added later).
fn with_camera(names: &[String], camera: &str) -> Vec<String> {
    let mut all = names.to_vec();
    if !all.iter().any(|n| n == camera) {
        all.push(camera.to_string());
    }
    all
}

/// Say once on stderr that a stop was asked for and what is finished first.
pub(crate) fn announce_stop(stop: &StopToken, finishing: &str) {
    let by = stop.signal_name().unwrap_or("a stop request");
    eprintln!(
        "edgepipe: {by} received: finishing {finishing}, then the stages (again to exit at once)"
    );
}
