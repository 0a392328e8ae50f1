//! `edgepipe plugin bench`: the figures behind the plugin runtime's claims,
//! measured in one run: stage start-up cold (compile) vs cached, per-frame
//! cost of the default stages on real 768x576 frames, and hot-reload latency
//! (file written -> new version active) with the frames lost across reloads.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use opencv::prelude::*;

use crate::capture::Capture;
use crate::config::StageSettings;
use crate::error::{ExitKind, Failure, OrExit};
use crate::plugin::bindings::{self as wit, FrameInfo};
use crate::plugin::{ComponentCache, Limits, PluginHost, StageKind, StageSet};
use crate::sink::RecordLine;

pub struct BenchOptions {
    pub plugin_dir: PathBuf,
    pub record: PathBuf,
    pub video: PathBuf,
    pub reloads: usize,
    pub rounds: usize,
}

pub(crate) const DEFAULTS: [(&str, StageKind); 3] = [
    ("people-counter", StageKind::Stats),
    ("course-topics", StageKind::Topics),
    ("draw-boxes", StageKind::Draw),
];

fn specs(dir: &Path) -> Vec<StageSettings> {
    DEFAULTS
        .iter()
        .map(|(n, k)| StageSettings {
            name: n.to_string(),
            kind: *k,
            path: dir.join(format!("{n}.wasm")),
            settings: Vec::new(),
        })
        .collect()
}

pub(crate) fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The q-quantile (0..=1) of `v`, nearest rank.
pub(crate) fn quantile(v: &mut [f64], q: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let i = ((v.len() as f64 * q).ceil() as usize).clamp(1, v.len()) - 1;
    v[i]
}

pub(crate) struct Frame {
    pub(crate) info: FrameInfo,
    pub(crate) dets: Vec<wit::Detection>,
    pub(crate) pixels: Vec<u8>,
}

/// `bytes` with a custom section named `name` appended: new bytes (and
/// hash), same behaviour.
pub(crate) fn with_custom_section(bytes: &[u8], name: &str) -> Vec<u8> {
    let mut out = bytes.to_vec();
    let mut section = vec![name.len() as u8];
    section.extend_from_slice(name.as_bytes());
    out.push(0);
    out.push(section.len() as u8);
    out.extend_from_slice(&section);
    out
}

pub(crate) fn load_frames(o: &BenchOptions) -> Result<Vec<Frame>, Failure> {
    let file = std::fs::File::open(&o.record).map_err(|e| {
        Failure::msg(
            ExitKind::Input,
            format!("cannot open {}: {e}", o.record.display()),
        )
    })?;
    let mut cap = Capture::open(&o.video.to_string_lossy()).or_exit(ExitKind::Input)?;
    let mut frames = Vec::new();
    for line in std::io::BufReader::new(file).lines() {
        let line = line.map_err(|e| Failure::msg(ExitKind::Input, e.to_string()))?;
        let r: RecordLine = serde_json::from_str(&line)
            .map_err(|e| Failure::msg(ExitKind::Input, format!("{}: {e}", o.record.display())))?;
        let Some(f) = cap.next_frame().or_exit(ExitKind::Input)? else {
            break;
        };
        frames.push(Frame {
            info: FrameInfo {
                index: r.index,
                timestamp_ms: r.timestamp_ms,
                width: r.width,
                height: r.height,
                camera: wit::DEFAULT_CAMERA.to_string(),
            },
            dets: crate::commands::plugin_tool::record_detections(&r),
            pixels: f.mat.data_bytes().or_exit(ExitKind::Internal)?.to_vec(),
        });
    }
    if frames.is_empty() {
        return Err(Failure::msg(ExitKind::Input, "no frames to bench on"));
    }
    Ok(frames)
}

/// Run the three stages on one frame; (per-stage durations, had output).
fn run_frame(set: &mut StageSet, f: &Frame, info: &FrameInfo) -> ([Duration; 3], bool) {
    let t = Instant::now();
    let stats: Vec<wit::Stat> = set
        .of_kind(StageKind::Stats)
        .flat_map(|s| s.update(info, &f.dets))
        .collect();
    let t1 = t.elapsed();
    let t = Instant::now();
    let msgs: Vec<wit::Message> = set
        .of_kind(StageKind::Topics)
        .flat_map(|s| s.route(info, &stats))
        .collect();
    let t2 = t.elapsed();
    let t = Instant::now();
    let mut drawn = None;
    for s in set.of_kind(StageKind::Draw) {
        drawn = s.draw(info, &f.pixels, &f.dets, &stats);
    }
    let t3 = t.elapsed();
    (
        [t1, t2, t3],
        !stats.is_empty() && !msgs.is_empty() && drawn.is_some(),
    )
}

pub fn bench(o: &BenchOptions) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    let limits = Limits::default();
    let specs = specs(&o.plugin_dir);
    let scratch =
        std::env::temp_dir().join(format!("edgepipe-plugin-bench-{}", std::process::id()));
    let _cleanup = Cleanup(scratch.clone());

    // 1. Start-up: load the three stages with an empty cache, then a warm one.
    let (mut cold, mut cached, mut nocache) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..o.rounds {
        let dir = scratch.join(format!("cache-{round}"));
        let host = PluginHost::with_cache(limits, ComponentCache::new(Some(dir.clone())))
            .or_exit(ExitKind::Plugin)?;
        let t = Instant::now();
        StageSet::load(&host, &specs).or_exit(ExitKind::Plugin)?;
        cold.push(ms(t.elapsed()));
        let host = PluginHost::with_cache(limits, ComponentCache::new(Some(dir)))
            .or_exit(ExitKind::Plugin)?;
        let t = Instant::now();
        StageSet::load(&host, &specs).or_exit(ExitKind::Plugin)?;
        cached.push(ms(t.elapsed()));
        let host = PluginHost::new(limits).or_exit(ExitKind::Plugin)?;
        let t = Instant::now();
        StageSet::load(&host, &specs).or_exit(ExitKind::Plugin)?;
        nocache.push(ms(t.elapsed()));
    }
    let _ = writeln!(
        out,
        "start-up, loading the 3 default stages ({} rounds, median):",
        o.rounds
    );
    let (c, w, n) = (
        quantile(&mut cold, 0.5),
        quantile(&mut cached, 0.5),
        quantile(&mut nocache, 0.5),
    );
    let _ = writeln!(out, "  cold (compile + write cache): {c:.2} ms");
    let _ = writeln!(
        out,
        "  cached (load from cache):     {w:.2} ms  ({:.1}x faster)",
        c / w
    );
    let _ = writeln!(out, "  no cache (compile only):      {n:.2} ms");

    // 2. Per-frame cost on real frames.
    let frames = load_frames(o)?;
    let host = PluginHost::new(limits).or_exit(ExitKind::Plugin)?;
    let mut set = StageSet::load(&host, &specs).or_exit(ExitKind::Plugin)?;
    let mut per: [Vec<f64>; 3] = Default::default();
    let mut sum = Vec::new();
    for f in &frames {
        let (d, _) = run_frame(&mut set, f, &f.info);
        for (i, x) in d.iter().enumerate() {
            per[i].push(ms(*x));
        }
        sum.push(ms(d[0] + d[1] + d[2]));
    }
    let (w, h) = (frames[0].info.width, frames[0].info.height);
    let _ = writeln!(out, "per-frame cost on {} real {w}x{h} frames (median / p95, ms; calls include the checkpoint save):", frames.len());
    for (i, (name, _)) in DEFAULTS.iter().enumerate() {
        let med = quantile(&mut per[i], 0.5);
        let p95 = quantile(&mut per[i], 0.95);
        let _ = writeln!(out, "  {name:<15} {med:.3} / {p95:.3}");
    }
    let med = quantile(&mut sum, 0.5);
    let p95 = quantile(&mut sum, 0.95);
    let _ = writeln!(out, "  all three       {med:.3} / {p95:.3}");

    // 3. Hot reload under a running frame loop.
    let dir = scratch.join("reload");
    std::fs::create_dir_all(&dir).map_err(|e| Failure::msg(ExitKind::Output, e.to_string()))?;
    for s in &specs {
        std::fs::copy(&s.path, dir.join(s.path.file_name().unwrap_or_default()))
            .map_err(|e| Failure::msg(ExitKind::Input, format!("{}: {e}", s.path.display())))?;
    }
    let counter = dir.join("people-counter.wasm");
    let original =
        std::fs::read(&counter).map_err(|e| Failure::msg(ExitKind::Input, e.to_string()))?;
    let host = PluginHost::with_cache(
        limits,
        ComponentCache::new(Some(scratch.join("reload-cache"))),
    )
    .or_exit(ExitKind::Plugin)?;
    let mut set = StageSet::load(&host, &self::specs(&dir)).or_exit(ExitKind::Plugin)?;
    set.watch(&host).or_exit(ExitKind::Plugin)?;
    let writes: Arc<Mutex<Vec<Instant>>> = Arc::default();
    let (reloads, writes2, counter2) = (o.reloads, writes.clone(), counter.clone());
    let writer = std::thread::spawn(move || -> std::io::Result<()> {
        std::thread::sleep(Duration::from_millis(300));
        for i in 0..reloads {
            let bytes = with_custom_section(&original, &format!("bench-{i}"));
            let tmp = counter2.with_extension("tmp");
            std::fs::write(&tmp, &bytes)?;
            if let Ok(mut w) = writes2.lock() {
                w.push(Instant::now());
            }
            std::fs::rename(&tmp, &counter2)?;
            std::thread::sleep(Duration::from_millis(400));
        }
        Ok(())
    });
    let mut active: Vec<Instant> = Vec::new();
    let mut generation = set.stages()[0].version().generation;
    let mut index = 0u64;
    let mut without_output = 0u64;
    let deadline = Instant::now() + Duration::from_millis(300 + 400 * o.reloads as u64 + 5000);
    // About 30 frames a second, cycling through the recorded frames.
    while active.len() < o.reloads && Instant::now() < deadline {
        set.apply_reloads(index);
        let g = set.stages()[0].version().generation;
        if g != generation {
            active.push(Instant::now());
            generation = g;
        }
        let f = &frames[index as usize % frames.len()];
        let info = FrameInfo {
            index,
            ..f.info.clone()
        };
        let (_, ok) = run_frame(&mut set, f, &info);
        if !ok {
            without_output += 1;
        }
        index += 1;
        std::thread::sleep(Duration::from_millis(33));
    }
    match writer.join() {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            return Err(Failure::msg(
                ExitKind::Output,
                format!("writing plugin versions: {e}"),
            ))
        }
        Err(_) => return Err(Failure::msg(ExitKind::Internal, "writer thread failed")),
    }
    let writes = writes.lock().map(|w| w.clone()).unwrap_or_default();
    let mut lat: Vec<f64> = writes
        .iter()
        .zip(&active)
        .map(|(w, a)| ms(a.saturating_duration_since(*w)))
        .collect();
    let faults: u64 = set.stages().iter().map(|s| s.faults()).sum();
    let _ = writeln!(
        out,
        "hot reload of people-counter while frames run at ~30 fps: {} of {} versions active; rejected {}",
        active.len(),
        o.reloads,
        set.rejected_reloads()
    );
    let (p50, p95) = (quantile(&mut lat, 0.5), quantile(&mut lat, 0.95));
    let _ = writeln!(out, "  file written -> new version active: median {p50:.1} ms, p95 {p95:.1} ms (debounce {} ms)", crate::plugin::reload::RELOAD_DEBOUNCE.as_millis());
    let _ = writeln!(out, "  frames processed: {index}; frames without a stage's output: {without_output}; stage faults: {faults}");
    Ok(())
}

struct Cleanup(PathBuf);
impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
