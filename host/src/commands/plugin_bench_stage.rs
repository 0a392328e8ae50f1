//! `edgepipe plugin bench --stage FILE.wasm`: start-up, per-frame cost and
//! hot reload of any stage, whatever language built it, beside the Rust
//! default stage of the same world, interleaved in one run (the machine is
//! noisy: only figures of one run compare).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::commands::plugin_bench::{load_frames, ms, quantile, BenchOptions, Frame, DEFAULTS};
use crate::config::StageSettings;
use crate::error::{ExitKind, Failure, OrExit};
use crate::plugin::bindings::{self as wit, FrameInfo};
use crate::plugin::{ComponentCache, Limits, PluginHost, Stage, StageKind, StageSet};

/// A scratch folder removed on drop.
struct Scratch(PathBuf);
impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn io_err(what: &Path) -> impl FnOnce(std::io::Error) -> Failure + '_ {
    move |e| Failure::msg(ExitKind::Output, format!("{}: {e}", what.display()))
}

/// One call of the stage's world on frame `f` (stats from the default stats stage).
fn call(stage: &mut Stage, f: &Frame, info: &FrameInfo, stats: &[wit::Stat]) -> Duration {
    let t = Instant::now();
    match stage.kind() {
        StageKind::Stats => drop(stage.update(info, &f.dets)),
        StageKind::Topics => drop(stage.route(info, stats)),
        StageKind::Draw => drop(stage.draw(info, &f.pixels, &f.dets, stats)),
    }
    t.elapsed()
}

/// The Rust default stage of `kind`, from the plugin folder.
fn reference(host: &PluginHost, o: &BenchOptions, kind: StageKind) -> Result<Stage, Failure> {
    let (name, _) = DEFAULTS
        .iter()
        .find(|(_, k)| *k == kind)
        .copied()
        .unwrap_or(DEFAULTS[0]);
    host.load(
        name,
        &o.plugin_dir.join(format!("{name}.wasm")),
        kind,
        Vec::new(),
    )
    .or_exit(ExitKind::Plugin)
}

/// Bench every file in `files`; the report goes to stdout.
pub fn bench(o: &BenchOptions, files: &[PathBuf]) -> Result<(), Failure> {
    let scratch =
        Scratch(std::env::temp_dir().join(format!("edgepipe-stage-bench-{}", std::process::id())));
    let frames = load_frames(o)?;
    // Stats for topics and draw stages: the default counter's, per frame.
    let limits = Limits::default();
    let host = PluginHost::new(limits).or_exit(ExitKind::Plugin)?;
    let mut counter = reference(&host, o, StageKind::Stats)?;
    let stats: Vec<Vec<wit::Stat>> = frames
        .iter()
        .map(|f| counter.update(&f.info, &f.dets))
        .collect();
    for (i, file) in files.iter().enumerate() {
        bench_one(o, file, &frames, &stats, &scratch.0.join(i.to_string()))?;
    }
    Ok(())
}

fn bench_one(
    o: &BenchOptions,
    file: &Path,
    frames: &[Frame],
    stats: &[Vec<wit::Stat>],
    dir: &Path,
) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    let limits = Limits::default();
    let name = file
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "stage".into());
    let bytes = PluginHost::read(&name, file).or_exit(ExitKind::Plugin)?;
    let cache = dir.join("cache");

    // 1. Cold: read, validate, compile, write the cache entry.
    let host = PluginHost::with_cache(limits, ComponentCache::new(Some(cache.clone())))
        .or_exit(ExitKind::Plugin)?;
    let t = Instant::now();
    let info = host
        .inspect(&name, file, &bytes)
        .or_exit(ExitKind::Plugin)?;
    let cold = t.elapsed();
    let kind = *info.worlds.first().ok_or_else(|| {
        Failure::msg(
            ExitKind::Plugin,
            format!("{}: no stage world", file.display()),
        )
    })?;
    let t = Instant::now();
    drop(
        host.load(&name, file, kind, Vec::new())
            .or_exit(ExitKind::Plugin)?,
    );
    let first = t.elapsed();
    // 2. Cached start in a fresh engine: cache read + instantiate + configure.
    let mut cached = Vec::new();
    for _ in 0..o.rounds {
        let host = PluginHost::with_cache(limits, ComponentCache::new(Some(cache.clone())))
            .or_exit(ExitKind::Plugin)?;
        let t = Instant::now();
        drop(
            host.load(&name, file, kind, Vec::new())
                .or_exit(ExitKind::Plugin)?,
        );
        cached.push(ms(t.elapsed()));
    }
    let _ = writeln!(
        out,
        "stage {name} ({}, {:.1} MB):",
        kind.world(),
        bytes.len() as f64 / 1e6
    );
    let _ = writeln!(
        out,
        "  cold start (compile + write cache): {:.0} ms; first instance: {:.1} ms",
        ms(cold),
        ms(first)
    );
    let _ = writeln!(
        out,
        "  cached start (fresh engine, median of {}): {:.1} ms",
        o.rounds,
        quantile(&mut cached, 0.5)
    );

    // 3. Per frame, interleaved with the Rust default stage of the same world.
    let mut stage = host
        .load(&name, file, kind, Vec::new())
        .or_exit(ExitKind::Plugin)?;
    let mut rust = reference(&host, o, kind)?;
    let (mut mine, mut theirs) = (Vec::new(), Vec::new());
    for (f, s) in frames.iter().zip(stats) {
        mine.push(ms(call(&mut stage, f, &f.info, s)));
        theirs.push(ms(call(&mut rust, f, &f.info, s)));
    }
    let (m, r) = (quantile(&mut mine, 0.5), quantile(&mut theirs, 0.5));
    let _ = writeln!(
        out,
        "  per frame on {} real frames (median / p95 ms, checkpoints included): {m:.3} / {:.3}; Rust {}: {r:.3} / {:.3}; ratio {:.1}",
        frames.len(),
        quantile(&mut mine, 0.95),
        rust.name(),
        quantile(&mut theirs, 0.95),
        m / r
    );
    if stage.faults() > 0 {
        let _ = writeln!(out, "  faults during the per-frame run: {}", stage.faults());
    }
    let points = crate::commands::plugin_bench_memory::CHECKPOINTS
        .map(|n| n.to_string())
        .join(" / ");
    let _ = match crate::commands::plugin_bench_memory::memory_after(
        &host, &bytes, kind, frames, stats,
    ) {
        Ok(sizes) => {
            let mib: Vec<String> = sizes
                .iter()
                .map(|b| format!("{:.1}", *b as f64 / 1048576.0))
                .collect();
            writeln!(out, "  guest memory after {points} frames (measured without the stage's {} MiB cap): {} MiB", limits.memory >> 20, mib.join(" / "))
        }
        Err(e) => writeln!(
            out,
            "  guest memory after {points} frames: not measured ({e:#})"
        ),
    };
    drop(out);
    reload(o, file, &bytes, kind, frames, stats, dir)
}

/// Hot reloads while frames run at ~30 fps: file written -> new version
/// active, and the longest frame-loop iteration (reload swap included).
fn reload(
    o: &BenchOptions,
    file: &Path,
    bytes: &[u8],
    kind: StageKind,
    frames: &[Frame],
    stats: &[Vec<wit::Stat>],
    dir: &Path,
) -> Result<(), Failure> {
    let name = file
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let watched = dir.join("watched");
    std::fs::create_dir_all(&watched).map_err(io_err(&watched))?;
    let path = watched.join(format!("{name}.wasm"));
    std::fs::write(&path, bytes).map_err(io_err(&path))?;
    let host = PluginHost::with_cache(
        Limits::default(),
        ComponentCache::new(Some(dir.join("cache"))),
    )
    .or_exit(ExitKind::Plugin)?;
    let spec = StageSettings {
        name: name.clone(),
        kind,
        path: path.clone(),
        settings: Vec::new(),
    };
    let mut set = StageSet::load(&host, &[spec]).or_exit(ExitKind::Plugin)?;
    set.watch(&host).or_exit(ExitKind::Plugin)?;
    let (mut written, mut active, mut loop_ms, mut swap_ms, mut apply_ms) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut generation = set.stages()[0].version().generation;
    let mut index = 0u64;
    let deadline = Instant::now() + Duration::from_secs(60 * o.reloads.max(1) as u64);
    while active.len() < o.reloads && Instant::now() < deadline {
        if written.len() == active.len() {
            // The next version: same code, a new custom section (new hash, full compile).
            let variant = crate::commands::plugin_bench::with_custom_section(
                bytes,
                &format!("bench-{}", written.len()),
            );
            let tmp = path.with_extension("tmp");
            std::fs::write(&tmp, &variant).map_err(io_err(&tmp))?;
            written.push(Instant::now());
            std::fs::rename(&tmp, &path).map_err(io_err(&path))?;
        }
        let t = Instant::now();
        set.apply_reloads(index);
        let applied = ms(t.elapsed());
        let swapped = set.stages()[0].version().generation != generation;
        let i = index as usize % frames.len();
        let f = &frames[i];
        let _ = call(
            &mut set.stages_mut()[0],
            f,
            &FrameInfo {
                index,
                ..f.info.clone()
            },
            &stats[i],
        );
        let took = ms(t.elapsed());
        if swapped {
            generation = set.stages()[0].version().generation;
            active.push(Instant::now());
            swap_ms.push(took);
            apply_ms.push(applied);
        } else {
            loop_ms.push(took);
        }
        index += 1;
        std::thread::sleep(Duration::from_millis(33));
    }
    let mut lat: Vec<f64> = written
        .iter()
        .zip(&active)
        .map(|(w, a)| ms(a.saturating_duration_since(*w)))
        .collect();
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "  hot reload ({} of {} applied, {} frames at ~30 fps): file -> active median {:.0} ms (compile off the frame path); frame with the swap median {:.1} ms, max {:.1} ms (the swap itself, save -> restore, median {:.1} ms); other frames median {:.2} ms, max {:.1} ms; faults {}",
        active.len(),
        o.reloads,
        index,
        quantile(&mut lat, 0.5),
        quantile(&mut swap_ms.clone(), 0.5),
        swap_ms.iter().copied().fold(f64::NAN, f64::max),
        quantile(&mut apply_ms, 0.5),
        quantile(&mut loop_ms.clone(), 0.5),
        loop_ms.iter().copied().fold(f64::NAN, f64::max),
        set.stages()[0].faults()
    );
    Ok(())
}
