//! `edgepipe bench`: in one run, on the same clip and the same model, the
//! model alone on pre-processed tensors (raw ONNX Runtime, thread settings
//! tried) against the full pipeline with the default plugins, frames to
//! /dev/null and MQTT to a local broker. The report goes to stdout: in bench
//! mode no frames do.

use std::fmt::Write as _;
use std::fs::File;
use std::time::Instant;

use crate::capture::Capture;
use crate::cli::BenchArgs;
use crate::config::{self, Overrides, Settings};
use crate::engine::metrics::{format_parts, median};
use crate::engine::stages::PLUGINS_PART;
use crate::engine::{self, EngineOptions, RSS_FIRST_FRAME};
use crate::error::{ExitKind, Failure, OrExit};
use crate::model::Detector;
use crate::pipeline::Summary;

/// Frames of the clip whose tensors the raw measurement cycles through.
pub const RAW_TENSORS: usize = 8;
/// Runs before timing starts (ONNX Runtime allocates its arenas on the first).
pub const RAW_WARMUP: usize = 2;

/// One raw ONNX Runtime setting and what it did.
#[derive(Debug, Clone)]
pub struct RawResult {
    pub sessions: usize,
    pub threads: usize,
    pub runs: u64,
    pub fps: f64,
    pub median_ms: f64,
}

impl RawResult {
    fn label(&self) -> String {
        format!("{} session(s) x {} thread(s)", self.sessions, self.threads)
    }
}

/// Everything the benchmark measured.
pub struct BenchReport {
    pub input: String,
    pub width: u32,
    pub height: u32,
    pub model: String,
    pub cores: usize,
    pub raw: Vec<RawResult>,
    /// The best single-session setting measured again after the pipeline.
    pub raw_after: Option<RawResult>,
    pub mqtt: String,
    pub pipeline: Summary,
}

impl BenchReport {
    /// The best single-session raw result.
    pub fn best_raw(&self) -> Option<&RawResult> {
        self.raw.iter().filter(|r| r.sessions == 1).max_by(|a, b| a.fps.total_cmp(&b.fps))
    }

    pub fn render(&self) -> String {
        let mut o = String::new();
        let p = &self.pipeline;
        let _ = writeln!(o, "edgepipe bench: {} ({}x{}), model {}, {} core(s)", self.input, self.width, self.height, self.model, self.cores);
        let _ = writeln!(o, "1. raw ONNX Runtime: the model alone on pre-processed tensors of the clip's first {RAW_TENSORS} frames");
        for r in &self.raw {
            let _ = writeln!(o, "   {:<28} {:>7.2} fps  (median {:.1} ms per run, {} runs)", r.label(), r.fps, r.median_ms, r.runs);
        }
        let best = self.best_raw();
        if let Some(b) = best {
            let _ = writeln!(o, "   best single session: {} at {:.2} fps", b.label(), b.fps);
        }
        let _ = writeln!(
            o,
            "2. full pipeline: {} session(s) x {} thread(s), default plugins, frames to /dev/null, MQTT to {}: {} frames in {:.2} s = {:.2} fps",
            p.sessions,
            p.threads,
            self.mqtt,
            p.frames,
            p.elapsed.as_secs_f64(),
            p.fps()
        );
        if let Some(b) = best {
            let ratio = if b.fps > 0.0 { p.fps() / b.fps } else { 0.0 };
            let _ = writeln!(o, "3. pipeline / raw single-session ORT: {ratio:.3} (target >= 1.0: {})", if ratio >= 1.0 { "met" } else { "missed" });
            if let Some(a) = &self.raw_after {
                let again = if a.fps > 0.0 { p.fps() / a.fps } else { 0.0 };
                let _ = writeln!(
                    o,
                    "   raw {} again after the pipeline: {:.2} fps; pipeline / that: {again:.3} (the spread shows the machine's load drift)",
                    a.label(),
                    a.fps
                );
            }
        }
        let _ = writeln!(o, "4. median ms per frame: {}", format_parts(&p.stage_median_ms));
        let plugins: Vec<(String, f64)> = p
            .stage_median_ms
            .iter()
            .filter(|(n, _)| p.faults.iter().any(|(s, _)| s == n))
            .cloned()
            .collect();
        let sum = p.stage_median_ms.iter().find(|(n, _)| n == PLUGINS_PART).map(|(_, ms)| *ms).unwrap_or(0.0);
        let _ = writeln!(
            o,
            "   default plugins: {}; together (median of the per-frame sum): {sum:.3} ms per {}x{} frame (target <= 0.5: {})",
            plugins.iter().map(|(n, ms)| format!("{n} {ms:.3}")).collect::<Vec<_>>().join(", "),
            self.width,
            self.height,
            if sum <= 0.5 { "met" } else { "missed" }
        );
        let mib = |k: u64| k as f64 / 1024.0;
        let at = |f: u64| p.rss_kib.iter().find(|(n, _)| *n == f).map(|(_, k)| *k);
        let first = at(RSS_FIRST_FRAME);
        let last = p.rss_kib.last().copied();
        match (first, last) {
            (Some(a), Some((n, b))) if n > RSS_FIRST_FRAME => {
                let _ = writeln!(
                    o,
                    "5. resident memory: {:.1} MiB at frame {RSS_FIRST_FRAME}, {:.1} MiB at frame {n}: {:+.1} MiB",
                    mib(a),
                    mib(b),
                    mib(b) - mib(a)
                );
            }
            (_, Some((n, b))) => {
                let _ = writeln!(o, "5. resident memory: {:.1} MiB at frame {n} (run more than {RSS_FIRST_FRAME} frames for the growth)", mib(b));
            }
            _ => {}
        }
        if let Some(m) = &p.mqtt {
            let _ = writeln!(o, "   MQTT: {} published, {} acknowledged of {}", m.published, m.acked, m.expected_acks);
        }
        o
    }
}

/// The model alone: `sessions` sessions of `threads` threads, each on its
/// own thread, cycling through `tensors`; `runs` runs in all.
fn raw(settings: &Settings, sessions: usize, threads: usize, tensors: &[Vec<f32>], runs: u64) -> Result<RawResult, Failure> {
    let mut detectors = Vec::with_capacity(sessions);
    for _ in 0..sessions {
        let mut s = engine::detector_settings(settings);
        s.intra_threads = threads;
        let mut d = Detector::load(s).or_exit(ExitKind::Model)?;
        for t in tensors.iter().cycle().take(RAW_WARMUP) {
            d.run_tensor(t).or_exit(ExitKind::Model)?;
        }
        detectors.push(d);
    }
    let per_session = runs.div_ceil(sessions as u64);
    let started = Instant::now();
    let results: Vec<Result<Vec<f32>, Failure>> = std::thread::scope(|scope| {
        let handles: Vec<_> = detectors
            .iter_mut()
            .enumerate()
            .map(|(k, d)| {
                scope.spawn(move || {
                    let mut samples = Vec::with_capacity(per_session as usize);
                    for i in 0..per_session as usize {
                        let t = Instant::now();
                        d.run_tensor(&tensors[(i * sessions + k) % tensors.len()]).or_exit(ExitKind::Model)?;
                        samples.push(t.elapsed().as_secs_f32() * 1000.0);
                    }
                    Ok(samples)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err(Failure::msg(ExitKind::Internal, "a benchmark thread panicked"))))
            .collect()
    });
    let elapsed = started.elapsed().as_secs_f64();
    let mut samples = Vec::new();
    for r in results {
        samples.extend(r?);
    }
    let done = samples.len() as u64;
    Ok(RawResult {
        sessions,
        threads,
        runs: done,
        fps: if elapsed > 0.0 { done as f64 / elapsed } else { 0.0 },
        median_ms: if samples.is_empty() { 0.0 } else { median(&mut samples) },
    })
}

fn free_loopback_port() -> Result<u16, Failure> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").or_exit(ExitKind::Mqtt)?;
    Ok(l.local_addr().or_exit(ExitKind::Mqtt)?.port())
}

/// Input tensors of the clip's first frames.
type Tensors = Vec<Vec<f32>>;

/// The clip's first frames as input tensors, and the frame size.
fn prepare_tensors(settings: &Settings) -> Result<(Tensors, (u32, u32)), Failure> {
    let mut capture = Capture::open(&settings.input).or_exit(ExitKind::Input)?;
    let size = (capture.width(), capture.height());
    let mut prep = Detector::load(engine::detector_settings(settings)).or_exit(ExitKind::Model)?;
    let mut tensors = Vec::with_capacity(RAW_TENSORS);
    while tensors.len() < RAW_TENSORS {
        match capture.next_frame().or_exit(ExitKind::Input)? {
            Some(f) => tensors.push(prep.tensor_for(&f.mat).or_exit(ExitKind::Model)?),
            None => break,
        }
    }
    Ok((tensors, size))
}

/// Run the benchmark described by `args`.
pub fn run(args: &BenchArgs) -> Result<BenchReport, Failure> {
    let broker_port = match args.mqtt_url {
        Some(_) => None,
        None => Some(free_loopback_port()?),
    };
    let o = Overrides {
        input: args.input.clone(),
        max_frames: Some(args.frames),
        model: args.model.clone(),
        ort_lib: args.ort_lib.clone(),
        threads: args.threads,
        sessions: args.sessions,
        mqtt_url: args.mqtt_url.clone(),
        broker_port,
        plugin_dir: args.plugin_dir.clone(),
        ..Overrides::default()
    };
    let mut settings = config::resolve(None, &o).or_exit(ExitKind::Config)?;
    // A measurement starts from nothing and leaves nothing behind.
    settings.state = None;
    if crate::capture::SourceSpec::parse(&settings.input).is_live() {
        return Err(Failure::msg(ExitKind::Config, format!("bench --input {}: a video file is needed, not a live source", settings.input)));
    }
    if args.frames == 0 || args.raw_runs == 0 {
        return Err(Failure::msg(ExitKind::Config, "bench: --frames and --raw-runs must be at least 1"));
    }
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);

    let (tensors, (width, height)) = prepare_tensors(&settings)?;

    let mut settings_tried: Vec<(usize, usize)> = vec![(1, 1)];
    if cores > 1 {
        settings_tried.push((1, cores));
        settings_tried.push((cores, 1));
    }
    let mut raw_results = Vec::with_capacity(settings_tried.len());
    for (sessions, threads) in settings_tried {
        tracing::info!(sessions, threads, runs = args.raw_runs, "bench: raw ONNX Runtime");
        raw_results.push(raw(&settings, sessions, threads, &tensors, args.raw_runs)?);
    }
    drop(tensors);

    let mqtt = match &settings.mqtt {
        config::MqttTarget::External(url) => url.clone(),
        config::MqttTarget::Embedded(addr) => format!("the embedded broker on {addr}"),
        config::MqttTarget::Off => "nowhere (off)".into(),
    };
    tracing::info!(frames = args.frames, sessions = settings.sessions, threads = settings.threads, "bench: full pipeline");
    let devnull = File::create("/dev/null").or_exit(ExitKind::Output)?;
    let summary = engine::run(
        &settings,
        EngineOptions {
            loop_input: args.loop_input,
            frames_to: Some(Box::new(devnull)),
            median_window: args.frames as usize,
            progress: false,
            ..Default::default()
        },
    )?;
    // The best single-session setting once more: how much the machine's
    // load moved while the pipeline ran.
    let raw_after = match raw_results.iter().filter(|r| r.sessions == 1).max_by(|a, b| a.fps.total_cmp(&b.fps)) {
        Some(best) => {
            let (tensors, _) = prepare_tensors(&settings)?;
            Some(raw(&settings, best.sessions, best.threads, &tensors, args.raw_runs)?)
        }
        None => None,
    };
    Ok(BenchReport {
        raw_after,
        input: settings.input.clone(),
        width,
        height,
        model: settings.model.display().to_string(),
        cores,
        raw: raw_results,
        mqtt,
        pipeline: summary,
    })
}
