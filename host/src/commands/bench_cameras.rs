//! `edgepipe bench --cameras N`: N cameras of the clip in one `edgepipe run`
//! process against N `edgepipe run` processes of one camera each, the two
//! alternating round by round so the machine's drift hits both alike. Each
//! side reports its aggregate fps (N x frames / wall time), each camera's
//! fps, its peak resident memory (the sum over its processes, sampled every
//! 20 ms) and, with `--detect-fps`, the frames inferred against the frames
//! shown.

use std::fmt::Write as _;
use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::commands::bench_compare::{median, ROUNDS};
use crate::commands::cli::BenchArgs;
use crate::error::{ExitKind, Failure, OrExit};

/// How often the children's resident memory is read.
const SAMPLE: Duration = Duration::from_millis(20);

/// What one side of a round measured.
struct Side {
    wall_s: f64,
    /// Each camera's fps as its summary says.
    camera_fps: Vec<f64>,
    peak_mib: f64,
    /// (inferred, shown) over every camera.
    inferred: (u64, u64),
}

/// The flags every child gets: the bench's input, model and shape.
fn common_args(args: &BenchArgs, state: &std::path::Path) -> Vec<String> {
    let mut a: Vec<String> = vec![
        "run".into(),
        "--no-mqtt".into(),
        "--no-http".into(),
        "--no-reload".into(),
        "--max-frames".into(),
        args.frames.to_string(),
        "--state-dir".into(),
        state.display().to_string(),
    ];
    let mut opt = |flag: &str, v: Option<String>| {
        if let Some(v) = v {
            a.push(flag.into());
            a.push(v);
        }
    };
    opt("--sessions", args.sessions.map(|v| v.to_string()));
    opt("--threads", args.threads.map(|v| v.to_string()));
    opt(
        "--model",
        args.model.as_ref().map(|p| p.display().to_string()),
    );
    opt(
        "--ort-lib",
        args.ort_lib.as_ref().map(|p| p.display().to_string()),
    );
    opt(
        "--plugin-dir",
        args.plugin_dir.as_ref().map(|p| p.display().to_string()),
    );
    opt("--detect-fps", args.detect_fps.map(|v| v.to_string()));
    a
}

/// Resident memory of `pid` in KiB (0 once it is gone).
fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(0)
}

/// Start the children, sample their memory until all have ended, and read
/// their summaries.
fn measure(children: Vec<Vec<String>>) -> Result<Side, Failure> {
    let exe = std::env::current_exe().or_exit(ExitKind::Internal)?;
    let started = Instant::now();
    let mut running: Vec<Child> = Vec::new();
    for args in &children {
        let child = Command::new(&exe)
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .or_exit(ExitKind::Internal)?;
        running.push(child);
    }
    let readers: Vec<_> = running
        .iter_mut()
        .filter_map(|c| c.stderr.take())
        .map(|mut e| {
            std::thread::spawn(move || {
                let mut s = String::new();
                let _ = e.read_to_string(&mut s);
                s
            })
        })
        .collect();
    let mut peak = 0u64;
    while running.iter_mut().any(|c| matches!(c.try_wait(), Ok(None))) {
        peak = peak.max(running.iter().map(|c| rss_kib(c.id())).sum());
        std::thread::sleep(SAMPLE);
    }
    let wall_s = started.elapsed().as_secs_f64();
    let mut side = Side {
        wall_s,
        camera_fps: Vec::new(),
        peak_mib: peak as f64 / 1024.0,
        inferred: (0, 0),
    };
    for (child, reader) in running.iter_mut().zip(readers) {
        let stderr = reader.join().unwrap_or_default();
        let ok = child.wait().map(|s| s.success()).unwrap_or(false);
        if !ok {
            let last = stderr.lines().last().unwrap_or("no output");
            return Err(Failure::msg(
                ExitKind::Internal,
                format!("bench --cameras: a run failed: {last}"),
            ));
        }
        read_summaries(&stderr, &mut side);
    }
    Ok(side)
}

/// Each camera's fps and frames inferred of shown, from a run's stderr.
fn read_summaries(stderr: &str, side: &mut Side) {
    for line in stderr.lines() {
        let Some(rest) = line.strip_prefix("edgepipe: summary: ") else {
            continue;
        };
        if let Some((frames, tail)) = rest.split_once(" frames in ") {
            let fps = tail
                .split_once('(')
                .and_then(|(_, r)| r.split(' ').next())
                .and_then(|f| f.parse::<f64>().ok());
            if let (Ok(n), Some(fps)) = (frames.parse::<u64>(), fps) {
                side.camera_fps.push(fps);
                side.inferred.0 += n;
                side.inferred.1 += n;
            }
        } else if let Some(r) = rest.strip_prefix("frames inferred: ") {
            // "X of Y (detect_fps)": this camera sent X of its Y frames.
            let mut it = r.split(' ');
            if let (Some(Ok(x)), Some(Ok(y))) = (
                it.next().map(str::parse::<u64>),
                it.nth(1).map(str::parse::<u64>),
            ) {
                side.inferred.0 -= y - x;
            }
        }
    }
}

fn list(v: &[f64]) -> String {
    v.iter()
        .map(|f| format!("{f:.2}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Measure and return the report (for stdout).
pub fn run(args: &BenchArgs, cameras: usize) -> Result<String, Failure> {
    if cameras == 0 || args.frames == 0 {
        return Err(Failure::msg(
            ExitKind::Config,
            "bench --cameras: N and --frames must be at least 1",
        ));
    }
    let input = args.input.clone().unwrap_or_else(|| {
        crate::config::default_asset(crate::config::DEFAULT_INPUT)
            .display()
            .to_string()
    });
    let state = std::env::temp_dir().join(format!("edgepipe-bench-cameras-{}", std::process::id()));
    let base = common_args(args, &state);
    let mut one_process = base.clone();
    for i in 0..cameras {
        one_process.push("--camera".into());
        one_process.push(format!("cam{i}={input}"));
    }
    let separate: Vec<Vec<String>> = (0..cameras)
        .map(|_| {
            let mut a = base.clone();
            a.extend(["--input".to_string(), input.clone()]);
            a
        })
        .collect();
    let (mut one, mut many) = (Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        tracing::info!(round, cameras, "bench: one process");
        one.push(measure(vec![one_process.clone()])?);
        tracing::info!(round, cameras, "bench: one process per camera");
        many.push(measure(separate.clone())?);
    }
    let _ = std::fs::remove_dir_all(&state);
    Ok(report(args, cameras, &one, &many))
}

fn report(args: &BenchArgs, cameras: usize, one: &[Side], many: &[Side]) -> String {
    let total = (cameras as u64 * args.frames) as f64;
    let mut o = String::new();
    let _ = writeln!(
        o,
        "edgepipe bench --cameras {cameras}: {} frames per camera, {ROUNDS} rounds alternating{}",
        args.frames,
        args.detect_fps
            .map(|f| format!(", detect_fps {f}"))
            .unwrap_or_default()
    );
    let mut medians = Vec::new();
    for (label, sides) in [("one process", one), ("one process per camera", many)] {
        let agg: Vec<f64> = sides.iter().map(|s| total / s.wall_s).collect();
        let peak: Vec<f64> = sides.iter().map(|s| s.peak_mib).collect();
        let (a, p) = (median(agg.clone()), median(peak.clone()));
        medians.push((a, p));
        let _ = writeln!(
            o,
            "   {label}: aggregate fps {} -> median {a:.2}; peak memory MiB {} -> median {p:.0}",
            list(&agg),
            list(&peak)
        );
        for (round, s) in sides.iter().enumerate() {
            let spread = match (
                s.camera_fps.iter().copied().reduce(f64::min),
                s.camera_fps.iter().copied().reduce(f64::max),
            ) {
                (Some(lo), Some(hi)) if hi > 0.0 => (hi - lo) / hi * 100.0,
                _ => 0.0,
            };
            let _ = writeln!(
                o,
                "      round {round}: per-camera fps {} (spread {spread:.1}%); frames inferred {} of {} shown",
                list(&s.camera_fps),
                s.inferred.0,
                s.inferred.1
            );
        }
    }
    let ((a1, p1), (an, pn)) = (medians[0], medians[1]);
    let _ = writeln!(
        o,
        "   one process / separate: aggregate fps {:.3}, peak memory {:.3}",
        if an > 0.0 { a1 / an } else { 0.0 },
        if pn > 0.0 { p1 / pn } else { 0.0 }
    );
    o
}
