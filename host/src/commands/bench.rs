//! `edgepipe bench`: in one run, on the same clip and the same model, for
//! each execution provider: the model alone on pre-processed tensors (raw
//! ONNX Runtime, every session/thread shape tried) before and after the full
//! pipeline with the default plugins (frames to /dev/null, MQTT to a local
//! broker). The reference of a provider's pipeline is its best raw shape.
//! The report goes to stdout: in bench mode no frames do.

use std::fmt::Write as _;
use std::fs::File;
use std::time::Instant;

use crate::capture::Capture;
use crate::commands::cli::BenchArgs;
use crate::config::{self, Overrides, Settings};
use crate::engine::metrics::{format_parts, median};
use crate::engine::stages::PLUGINS_PART;
use crate::engine::{self, EngineOptions, RSS_FIRST_FRAME};
use crate::ep::Provider;
use crate::error::{ExitKind, Failure, OrExit};
use crate::layouts::input::InputTensor;
use crate::model::{Detector, LoadedModel};
use crate::pipeline::Summary;
use crate::steady::{SteadyWindow, WARMUP_RUNS};

/// Frames of the clip whose tensors the raw measurement cycles through.
pub const RAW_TENSORS: usize = 8;
/// Runs before timing starts (ONNX Runtime allocates its arenas on the
/// first): each session's, as the pipeline's steady window leaves out each
/// worker's first session runs (`crate::steady`).
pub const RAW_WARMUP: usize = WARMUP_RUNS as usize;
/// Targets of issues 12 and 22 (README, "Throughput"): pipeline / best raw
/// shape of the same provider (issue 22: 0.95), default pipeline / CPU.
pub const TARGET_PIPELINE_OVER_RAW: f64 = 0.95;
pub const TARGET_DEFAULT_OVER_CPU: f64 = 1.25;

/// One raw ONNX Runtime shape and what it did.
#[derive(Debug, Clone)]
pub struct RawResult {
    pub sessions: usize,
    /// Runs in flight at once on each session, each from its own thread.
    pub requests: usize,
    pub threads: usize,
    pub runs: u64,
    pub fps: f64,
    pub median_ms: f64,
}

impl RawResult {
    fn label(&self) -> String {
        match self.requests {
            1 => format!("{} session(s) x {} thread(s)", self.sessions, self.threads),
            r => format!(
                "{} session(s) x {r} requests x {} thread(s)",
                self.sessions, self.threads
            ),
        }
    }
}

/// What one provider did: raw shapes before, the pipeline, the best shape after.
pub struct ProviderRun {
    pub provider: Provider,
    pub raw: Vec<RawResult>,
    /// The best raw shape measured again after the pipelines.
    pub raw_after: Option<RawResult>,
    pub pipeline: Summary,
}

impl ProviderRun {
    /// The best raw shape, any number of sessions.
    pub fn best_raw(&self) -> Option<&RawResult> {
        self.raw.iter().max_by(|a, b| a.fps.total_cmp(&b.fps))
    }
    /// The best raw shape's fps: the mean of its figures before and after the pipelines.
    pub fn reference_fps(&self) -> f64 {
        match (self.best_raw(), &self.raw_after) {
            (Some(b), Some(a)) => (b.fps + a.fps) / 2.0,
            (Some(b), None) => b.fps,
            _ => 0.0,
        }
    }
}

/// Everything the benchmark measured.
pub struct BenchReport {
    pub input: String,
    pub width: u32,
    pub height: u32,
    pub model: String,
    pub cores: usize,
    pub mqtt: String,
    /// The default provider (what `run` uses) first.
    pub runs: Vec<ProviderRun>,
}

fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 {
        a / b
    } else {
        0.0
    }
}

fn verdict(ok: bool) -> &'static str {
    if ok {
        "met"
    } else {
        "missed"
    }
}

impl BenchReport {
    /// The default provider's pipeline (what `run` does).
    pub fn pipeline(&self) -> Option<&Summary> {
        self.runs.first().map(|r| &r.pipeline)
    }

    pub fn render(&self) -> String {
        let mut o = String::new();
        let _ = writeln!(
            o,
            "edgepipe bench: {} ({}x{}), model {}, {} core(s)",
            self.input, self.width, self.height, self.model, self.cores
        );
        let _ = writeln!(o, "1. raw ONNX Runtime: the model alone on pre-processed tensors of the clip's first {RAW_TENSORS} frames");
        for r in &self.runs {
            for x in &r.raw {
                let _ = writeln!(
                    o,
                    "   {:<9}{:<28} {:>7.2} fps  (median {:.1} ms per run, {} runs)",
                    r.provider.name(),
                    x.label(),
                    x.fps,
                    x.median_ms,
                    x.runs
                );
            }
            if let Some(b) = r.best_raw() {
                let after = r
                    .raw_after
                    .as_ref()
                    .map(|a| format!(", {:.2} fps again after the pipelines", a.fps))
                    .unwrap_or_default();
                let _ = writeln!(
                    o,
                    "   {:<9}best: {} at {:.2} fps{after}",
                    r.provider.name(),
                    b.label(),
                    b.fps
                );
            }
        }
        self.render_pipelines(&mut o);
        self.render_ratios(&mut o);
        self.render_providers(&mut o);
        if let Some(p) = self.pipeline() {
            render_parts(&mut o, p, self.runs[0].provider, (self.width, self.height));
        }
        o
    }

    /// Section 2: each provider's pipeline, its whole run and its steady state.
    fn render_pipelines(&self, o: &mut String) {
        let _ = writeln!(
            o,
            "2. full pipeline: default plugins, frames to /dev/null, MQTT to {}",
            self.mqtt
        );
        let _ = writeln!(o, "   whole run: every frame, from the threads' start to the end (the pipeline's fill and drain included);");
        let _ = writeln!(o, "   steady state: the frames out after the last of every worker's first {WARMUP_RUNS} session runs, from that frame out to the last (as raw times its runs after {RAW_WARMUP} warm-up runs a session)");
        for r in &self.runs {
            let p = &r.pipeline;
            let name = r.provider.name();
            let _ = writeln!(
                o,
                "   {name:<9}{} worker(s) x {} thread(s): {} frames in {:.2} s = {:.2} fps (whole run)",
                p.sessions,
                p.threads,
                p.frames,
                p.elapsed.as_secs_f64(),
                p.fps()
            );
            match &p.steady {
                Some(w) => {
                    let _ = writeln!(
                        o,
                        "   {name:<9}steady state: {} frames in {:.2} s = {:.2} fps, after the first {} frames out (warm-up frames out: {})",
                        w.frames,
                        w.elapsed.as_secs_f64(),
                        w.fps(),
                        w.skipped,
                        warmup_list(w)
                    );
                }
                None => {
                    let _ = writeln!(o, "   {name:<9}steady state: none (the run ended before a frame went out after every worker's warm-up: give more --frames)");
                }
            }
        }
    }

    /// Section 3: pipeline / best raw shape, steady state (the target's
    /// figure: like with like) and whole run.
    fn render_ratios(&self, o: &mut String) {
        let _ = writeln!(
            o,
            "3. pipeline / best raw shape of the same provider (raw: mean of before and after):"
        );
        for r in &self.runs {
            let name = r.provider.name();
            let reference = r.reference_fps();
            match steady_fps(&r.pipeline) {
                Some(fps) => {
                    let x = ratio(fps, reference);
                    let _ = writeln!(
                        o,
                        "   {name:<9}steady state {fps:.2} / {reference:.2} = {x:.3} (target >= {TARGET_PIPELINE_OVER_RAW}: {})",
                        verdict(x >= TARGET_PIPELINE_OVER_RAW)
                    );
                }
                None => {
                    let _ = writeln!(o, "   {name:<9}steady state: none (target >= {TARGET_PIPELINE_OVER_RAW}: not measured)");
                }
            }
            let whole = r.pipeline.fps();
            let x = ratio(whole, reference);
            let _ = writeln!(
                o,
                "   {name:<9}whole run {whole:.2} / {reference:.2} = {x:.3} (fill and drain included; >= {TARGET_PIPELINE_OVER_RAW}: {})",
                verdict(x >= TARGET_PIPELINE_OVER_RAW)
            );
        }
    }

    /// Best provider / CPU provider, and the default pipeline / best raw CPU;
    /// nothing unless a provider other than the CPU one was measured too
    /// (`--ep cpu` alone would compare the CPU with itself).
    fn render_providers(&self, o: &mut String) {
        let Some(cpu) = self.runs.iter().find(|r| r.provider == Provider::Cpu) else {
            return;
        };
        if self.runs.iter().all(|r| r.provider == Provider::Cpu) {
            return;
        }
        let best = self
            .runs
            .iter()
            .max_by(|a, b| a.reference_fps().total_cmp(&b.reference_fps()));
        if let Some(best) = best {
            let _ = writeln!(
                o,
                "   best provider / cpu provider (best raw shapes): {} {:.2} / cpu {:.2} = {:.3}",
                best.provider.name(),
                best.reference_fps(),
                cpu.reference_fps(),
                ratio(best.reference_fps(), cpu.reference_fps())
            );
        }
        let def = &self.runs[0];
        let cpu_fps = cpu.reference_fps();
        // Like with like when there is a steady state; the whole run beside it.
        let (kind, fps) = match steady_fps(&def.pipeline) {
            Some(fps) => ("steady state", fps),
            None => ("whole run", def.pipeline.fps()),
        };
        let x = ratio(fps, cpu_fps);
        let _ = writeln!(
            o,
            "   default pipeline ({}) / best raw cpu: {kind} {fps:.2} / {cpu_fps:.2} = {x:.3} (target >= {TARGET_DEFAULT_OVER_CPU}: {}); whole run {:.2} / {cpu_fps:.2} = {:.3}",
            def.provider.name(),
            verdict(x >= TARGET_DEFAULT_OVER_CPU),
            def.pipeline.fps(),
            ratio(def.pipeline.fps(), cpu_fps)
        );
    }
}

/// A pipeline's steady-state fps, if it had one.
fn steady_fps(p: &Summary) -> Option<f64> {
    p.steady.as_ref().map(SteadyWindow::fps)
}

/// "worker 0: 1, 2; worker 1: 3, 4": each worker's warm-up frames, by
/// their position among the frames out.
fn warmup_list(w: &SteadyWindow) -> String {
    let mut workers: Vec<usize> = w.warmups.iter().map(|f| f.run.worker).collect();
    workers.sort_unstable();
    workers.dedup();
    workers
        .iter()
        .map(|k| {
            let outs: Vec<String> = w
                .warmups
                .iter()
                .filter(|f| f.run.worker == *k)
                .map(|f| f.out.to_string())
                .collect();
            format!("worker {k}: {}", outs.join(", "))
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Sections 4 and 5: parts, plugins and memory of one pipeline run.
fn render_parts(o: &mut String, p: &Summary, provider: Provider, (width, height): (u32, u32)) {
    let _ = writeln!(
        o,
        "4. median ms per frame ({provider} pipeline): {}",
        format_parts(&p.stage_median_ms)
    );
    let plugins: Vec<(String, f64)> = p
        .stage_median_ms
        .iter()
        .filter(|(n, _)| p.faults.iter().any(|(s, _)| s == n))
        .cloned()
        .collect();
    let sum = p
        .stage_median_ms
        .iter()
        .find(|(n, _)| n == PLUGINS_PART)
        .map(|(_, ms)| *ms)
        .unwrap_or(0.0);
    let _ = writeln!(
        o,
        "   default plugins: {}; together (median of the per-frame sum): {sum:.3} ms per {width}x{height} frame (target <= 0.5: {})",
        plugins.iter().map(|(n, ms)| format!("{n} {ms:.3}")).collect::<Vec<_>>().join(", "),
        verdict(sum <= 0.5)
    );
    let mib = |k: u64| k as f64 / 1024.0;
    let first = p
        .rss_kib
        .iter()
        .find(|(n, _)| *n == RSS_FIRST_FRAME)
        .map(|(_, k)| *k);
    match (first, p.rss_kib.last().copied()) {
        (Some(a), Some((n, b))) if n > RSS_FIRST_FRAME => {
            let _ = writeln!(
                o,
                "5. resident memory ({provider} pipeline): {:.1} MiB at frame {RSS_FIRST_FRAME}, {:.1} MiB at frame {n}: {:+.1} MiB",
                mib(a),
                mib(b),
                mib(b) - mib(a)
            );
        }
        (_, Some((n, b))) => {
            let _ = writeln!(o, "5. resident memory ({provider} pipeline): {:.1} MiB at frame {n} (run more than {RSS_FIRST_FRAME} frames for the growth)", mib(b));
        }
        _ => {}
    }
    if let Some(m) = &p.mqtt {
        let _ = writeln!(
            o,
            "   MQTT: {} published, {} acknowledged of {}",
            m.published, m.acked, m.expected_acks
        );
    }
}

/// The model alone: `shape.0` sessions with `shape.1` runs in flight on
/// each, of `shape.2` threads, each run from its own thread, cycling
/// through `tensors`; `runs` runs in all.
fn raw(
    settings: &Settings,
    (sessions, requests, threads): Shape,
    tensors: &[InputTensor],
    runs: u64,
) -> Result<RawResult, Failure> {
    let mut detectors = Vec::with_capacity(sessions * requests);
    for _ in 0..sessions {
        let mut s = settings.model.detector();
        s.intra_threads = threads;
        s.requests = requests;
        let model = std::sync::Arc::new(LoadedModel::load(s).or_exit(ExitKind::Model)?);
        for _ in 0..requests {
            let mut d = Detector::on(model.clone());
            for t in tensors.iter().cycle().take(RAW_WARMUP) {
                d.run_tensor(t).or_exit(ExitKind::Model)?;
            }
            detectors.push(d);
        }
    }
    let workers = detectors.len();
    let per_session = runs.div_ceil(workers as u64);
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
                        d.run_tensor(&tensors[(i * workers + k) % tensors.len()])
                            .or_exit(ExitKind::Model)?;
                        samples.push(t.elapsed().as_secs_f32() * 1000.0);
                    }
                    Ok(samples)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| {
                    Err(Failure::msg(
                        ExitKind::Internal,
                        "a benchmark thread panicked",
                    ))
                })
            })
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
        requests,
        threads,
        runs: done,
        fps: if elapsed > 0.0 {
            done as f64 / elapsed
        } else {
            0.0
        },
        median_ms: if samples.is_empty() {
            0.0
        } else {
            median(&mut samples)
        },
    })
}

pub(crate) fn free_loopback_port() -> Result<u16, Failure> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").or_exit(ExitKind::Mqtt)?;
    Ok(l.local_addr().or_exit(ExitKind::Mqtt)?.port())
}

/// Input tensors of the clip's first frames.
type Tensors = Vec<InputTensor>;

/// The clip's first frames as input tensors, and the frame size.
fn prepare_tensors(settings: &Settings) -> Result<(Tensors, (u32, u32)), Failure> {
    let input = &crate::commands::bench_compare::camera(settings)?.input;
    let mut capture = Capture::open(input).or_exit(ExitKind::Input)?;
    let size = (capture.width(), capture.height());
    let mut prep = Detector::load(settings.model.detector()).or_exit(ExitKind::Model)?;
    let mut tensors = Vec::with_capacity(RAW_TENSORS);
    while tensors.len() < RAW_TENSORS {
        match capture.next_frame().or_exit(ExitKind::Input)? {
            Some(f) => tensors.push(prep.tensor_for(&f.mat).or_exit(ExitKind::Model)?),
            None => break,
        }
    }
    Ok((tensors, size))
}

/// A raw shape: sessions, requests in flight on each, threads of each run.
type Shape = (usize, usize, usize);

/// Raw shapes tried for `provider` on `cores` cores.
fn shapes(provider: Provider, cores: usize) -> Vec<Shape> {
    let mut v = vec![(1, 1, cores)];
    if cores > 1 {
        v.push((cores, 1, 1));
        v.push((1, cores, 1));
        if provider == Provider::Cpu {
            v.push((1, 1, 1));
        }
    }
    v
}

/// Settings of the pipeline for `provider` (sessions and threads as `run`
/// would choose them, unless given); each gets its own embedded broker port.
fn settings_for(args: &BenchArgs, provider: Option<Provider>) -> Result<Settings, Failure> {
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
        requests: args.requests,
        ep: provider.map(|p| p.name().to_string()),
        ep_options: if provider == Some(Provider::Cpu) {
            Vec::new()
        } else {
            args.ep_option.clone()
        },
        mqtt_url: args.mqtt_url.clone(),
        broker_port,
        plugin_dir: args.plugin_dir.clone(),
        ..Overrides::default()
    };
    let mut settings = config::resolve(None, &o).or_exit(ExitKind::Config)?;
    // A measurement starts from nothing and leaves nothing behind.
    settings.drop_state();
    Ok(settings)
}

/// One provider: every raw shape, the pipeline, the best shape again.
fn provider_block(
    args: &BenchArgs,
    s: &Settings,
    cores: usize,
) -> Result<(ProviderRun, (u32, u32)), Failure> {
    let (tensors, size) = prepare_tensors(s)?;
    let mut raw_results = Vec::new();
    for shape in shapes(s.model.ep.provider, cores) {
        let (sessions, requests, threads) = shape;
        tracing::info!(provider = %s.model.ep.provider, sessions, requests, threads, runs = args.raw_runs, "bench: raw ONNX Runtime");
        raw_results.push(raw(s, shape, &tensors, args.raw_runs)?);
    }
    // The tensors (about 5 MB each) stay out of the pipeline's memory figures.
    drop(tensors);
    tracing::info!(provider = %s.model.ep.provider, frames = args.frames, sessions = s.model.sessions, threads = s.model.threads, "bench: full pipeline");
    let devnull = File::create("/dev/null").or_exit(ExitKind::Output)?;
    let opts = EngineOptions {
        loop_input: args.loop_input,
        frames_to: Some(Box::new(devnull)),
        median_window: args.frames as usize,
        progress: false,
        ..Default::default()
    };
    let pipeline = engine::run(s, opts)?;
    // The best shape once more: how much the machine's load moved.
    let (tensors, _) = prepare_tensors(s)?;
    let best = raw_results
        .iter()
        .max_by(|a, b| a.fps.total_cmp(&b.fps))
        .map(|b| (b.sessions, b.requests, b.threads));
    let raw_after = match best {
        Some(shape) => Some(raw(s, shape, &tensors, args.raw_runs)?),
        None => None,
    };
    Ok((
        ProviderRun {
            provider: s.model.ep.provider,
            raw: raw_results,
            raw_after,
            pipeline,
        },
        size,
    ))
}

/// Run the benchmark described by `args`.
pub fn run(args: &BenchArgs) -> Result<BenchReport, Failure> {
    let default = settings_for(args, None)?;
    let input = crate::commands::bench_compare::camera(&default)?
        .input
        .clone();
    if crate::capture::SourceSpec::parse(&input).is_live() {
        return Err(Failure::msg(
            ExitKind::Config,
            format!("bench --input {input}: a video file is needed, not a live source"),
        ));
    }
    if args.frames == 0 || args.raw_runs == 0 {
        return Err(Failure::msg(
            ExitKind::Config,
            "bench: --frames and --raw-runs must be at least 1",
        ));
    }
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    // The default provider first, then the others installed (or those asked for).
    let mut providers: Vec<Provider> = Vec::new();
    let wanted = if args.ep.is_empty() {
        let mut v = vec![default.model.ep.provider];
        v.extend(crate::ep::installed(&default.model.ort_lib));
        v
    } else {
        let mut v = Vec::new();
        for e in &args.ep {
            let choice = e.parse().or_exit(ExitKind::Config)?;
            v.push(
                crate::ep::resolve(choice, Vec::new(), &default.model.ort_lib)
                    .or_exit(ExitKind::Config)?
                    .provider,
            );
        }
        v
    };
    for p in wanted {
        if !providers.contains(&p) {
            providers.push(p);
        }
    }
    // The CPU provider is measured first, each provider in one block (raw
    // shapes, pipeline, best shape again): once OpenVINO has run in a
    // process, the CPU provider's sessions there get about one core.
    let mut order = providers.clone();
    order.sort_by_key(|p| *p != Provider::Cpu);
    let mqtt = match &default.runtime.mqtt {
        config::MqttTarget::External(url) => url.clone(),
        config::MqttTarget::Embedded(addr) => format!(
            "the embedded broker on {} (a free port for each)",
            addr.ip()
        ),
        config::MqttTarget::Off => "nowhere (off)".into(),
    };
    let mut runs = Vec::with_capacity(order.len());
    let mut size = (0, 0);
    for p in order {
        let s = settings_for(args, Some(p))?;
        let (run, frame) = provider_block(args, &s, cores)?;
        size = frame;
        runs.push(run);
    }
    // The default provider first in the report.
    runs.sort_by_key(|r| r.provider != providers[0]);
    let (width, height) = size;
    Ok(BenchReport {
        input,
        width,
        height,
        model: default.model.model.display().to_string(),
        cores,
        mqtt,
        runs,
    })
}
