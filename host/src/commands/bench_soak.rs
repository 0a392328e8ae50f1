//! `edgepipe bench --soak DURATION`: the pipeline runs that long (a file
//! looped, or a live source), frames to /dev/null, MQTT to the embedded
//! broker (or `--mqtt-url`); every `--soak-every` (a minute) the process's
//! resident memory, open file descriptors and threads, the frames' p50/p99
//! latency over that interval ([`crate::engine::probe`]) and the MQTT queue
//! depth; at the end the slope of each per hour, over the samples after a
//! warm-up (the first quarter of the run, at least one sample).

use std::fmt::Write as _;
use std::fs::File;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::commands::cli::BenchArgs;
use crate::config::{self, Overrides, Settings};
use crate::engine::probe::Probe;
use crate::engine::{self, EngineOptions};
use crate::error::{ExitKind, Failure, OrExit};
use crate::stop::StopToken;

/// Target of issue 21: resident memory grows less than this per hour.
pub const TARGET_RSS_MIB_PER_HOUR: f64 = 1.0;

/// One row of the table.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Sample {
    pub at_s: f64,
    pub frames: u64,
    pub rss_kib: u64,
    pub fds: u64,
    pub threads: u64,
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub mqtt_queued: usize,
}

/// `90`, `90s`, `15m`, `2h` (whole numbers).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (n, unit) = s
        .find(|c: char| !c.is_ascii_digit())
        .map_or((s, "s"), |i| (&s[..i], &s[i..]));
    let n: u64 = n
        .parse()
        .map_err(|_| format!("{s:?} is not a duration like 90s, 15m or 2h"))?;
    let secs = match unit {
        "s" => Some(n),
        "m" => n.checked_mul(60),
        "h" => n.checked_mul(3600),
        _ => None,
    }
    .filter(|&v| v > 0)
    .ok_or_else(|| format!("{s:?} is not a duration like 90s, 15m or 2h (above zero)"))?;
    Ok(Duration::from_secs(secs))
}

/// `Name:   value kB` of /proc/self/status.
fn status_field(status: &str, name: &str) -> u64 {
    status
        .lines()
        .find_map(|l| l.strip_prefix(name))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn sample(started: Instant, probe: &Probe) -> Sample {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let fds = std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count() as u64);
    let i = probe.take();
    Sample {
        at_s: started.elapsed().as_secs_f64(),
        frames: i.frames,
        rss_kib: status_field(&status, "VmRSS:"),
        fds,
        threads: status_field(&status, "Threads:"),
        p50_ms: i.p50_ms,
        p99_ms: i.p99_ms,
        mqtt_queued: i.mqtt_queued,
    }
}

/// Least-squares slope of (x, y); `None` with fewer than two points.
pub fn slope(points: &[(f64, f64)]) -> Option<f64> {
    if points.len() < 2 {
        return None;
    }
    let n = points.len() as f64;
    let mx = points.iter().map(|p| p.0).sum::<f64>() / n;
    let my = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
    let sxy: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    (sxx > 0.0).then(|| sxy / sxx)
}

fn settings(args: &BenchArgs) -> Result<Settings, Failure> {
    let broker_port = match args.mqtt_url {
        Some(_) => None,
        None => Some(crate::commands::bench::free_loopback_port()?),
    };
    let o = Overrides {
        input: args.input.clone(),
        model: args.model.clone(),
        ort_lib: args.ort_lib.clone(),
        threads: args.threads,
        sessions: args.sessions,
        mqtt_url: args.mqtt_url.clone(),
        broker_port,
        plugin_dir: args.plugin_dir.clone(),
        no_reload: true,
        ..Overrides::default()
    };
    let mut settings = config::resolve(None, &o).or_exit(ExitKind::Config)?;
    settings.drop_state();
    Ok(settings)
}

/// Run the pipeline for `duration`, a sample every `every`; the report.
pub fn run(args: &BenchArgs, duration: Duration, every: Duration) -> Result<String, Failure> {
    let settings = settings(args)?;
    let probe = Arc::new(Probe::default());
    let stop = StopToken::new();
    let done = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let sampler = {
        let (probe, stop, done) = (probe.clone(), stop.clone(), done.clone());
        std::thread::Builder::new()
            .name("soak-sampler".into())
            .spawn(move || {
                let mut rows = Vec::new();
                let mut next = started + every;
                while !done.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(200));
                    if Instant::now() >= next {
                        rows.push(sample(started, &probe));
                        next += every;
                    }
                    if started.elapsed() >= duration {
                        stop.request();
                    }
                }
                rows
            })
            .or_exit(ExitKind::Internal)?
    };
    let devnull = File::create("/dev/null").or_exit(ExitKind::Output)?;
    let summary = engine::run(
        &settings,
        EngineOptions {
            loop_input: true,
            frames_to: Some(Box::new(devnull)),
            progress: false,
            stop,
            probe: Some(probe),
            ..Default::default()
        },
    );
    done.store(true, Ordering::Relaxed);
    let rows = sampler
        .join()
        .map_err(|_| Failure::msg(ExitKind::Internal, "the soak sampler panicked"))?;
    summary?.print();
    let input = &crate::commands::bench_compare::camera(&settings)?.input;
    Ok(render(input, duration, every, &rows))
}

fn opt(v: Option<f64>) -> String {
    v.map_or_else(|| "-".into(), |v| format!("{v:.1}"))
}

/// The table and the slopes after the warm-up.
pub fn render(input: &str, duration: Duration, every: Duration, rows: &[Sample]) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "edgepipe bench --soak {} s: {input} (looped), a sample every {} s",
        duration.as_secs(),
        every.as_secs()
    );
    let _ = writeln!(
        o,
        "  minute   frames  rss MiB   fds  threads  p50 ms  p99 ms  mqtt queued"
    );
    for r in rows {
        let _ = writeln!(
            o,
            "  {:>6.1} {:>8} {:>8.1} {:>5} {:>8} {:>7} {:>7} {:>12}",
            r.at_s / 60.0,
            r.frames,
            r.rss_kib as f64 / 1024.0,
            r.fds,
            r.threads,
            opt(r.p50_ms),
            opt(r.p99_ms),
            r.mqtt_queued
        );
    }
    let warm = (rows.len() / 4).max(1);
    let after = rows.get(warm..).unwrap_or_default();
    let per_hour = |f: &dyn Fn(&Sample) -> Option<f64>| {
        let pts: Vec<(f64, f64)> = after
            .iter()
            .filter_map(|r| f(r).map(|y| (r.at_s / 3600.0, y)))
            .collect();
        slope(&pts)
    };
    let _ = writeln!(
        o,
        "slopes per hour after a warm-up of {warm} sample(s), over {} sample(s):",
        after.len()
    );
    let rss = per_hour(&|r| Some(r.rss_kib as f64 / 1024.0));
    let line = |name: &str, v: Option<f64>, unit: &str| match v {
        Some(v) => format!("  {name:<17} {v:+.2} {unit}/h"),
        None => format!("  {name:<17} - (needs two samples after the warm-up)"),
    };
    let verdict = match rss {
        Some(v) if v < TARGET_RSS_MIB_PER_HOUR => "met",
        Some(_) => "missed",
        None => "not measured",
    };
    let _ = writeln!(
        o,
        "{} (target < {TARGET_RSS_MIB_PER_HOUR} MiB/h: {verdict})",
        line("resident memory", rss, "MiB")
    );
    let _ = writeln!(
        o,
        "{}",
        line("file descriptors", per_hour(&|r| Some(r.fds as f64)), "")
    );
    let _ = writeln!(
        o,
        "{}",
        line("threads", per_hour(&|r| Some(r.threads as f64)), "")
    );
    let _ = writeln!(o, "{}", line("p50 latency", per_hour(&|r| r.p50_ms), "ms"));
    let _ = writeln!(o, "{}", line("p99 latency", per_hour(&|r| r.p99_ms), "ms"));
    let _ = writeln!(
        o,
        "{}",
        line(
            "mqtt queue depth",
            per_hour(&|r| Some(r.mqtt_queued as f64)),
            ""
        )
    );
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("15m"), Ok(Duration::from_secs(900)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        for bad in ["", "0s", "5d", "m", "-3m", "99999999999999999999h"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn slopes_fit_a_line() {
        let pts: Vec<(f64, f64)> = (0..5).map(|x| (x as f64, 3.0 + 2.0 * x as f64)).collect();
        assert!((slope(&pts).unwrap() - 2.0).abs() < 1e-9);
        assert_eq!(slope(&pts[..1]), None);
    }

    #[test]
    fn the_report_says_the_memory_verdict() {
        let rows: Vec<Sample> = (1..=4)
            .map(|m| Sample {
                at_s: 60.0 * m as f64,
                rss_kib: 100 * 1024,
                fds: 20,
                threads: 30,
                ..Sample::default()
            })
            .collect();
        let r = render(
            "clip",
            Duration::from_secs(240),
            Duration::from_secs(60),
            &rows,
        );
        assert!(
            r.contains("resident memory   +0.00 MiB/h (target < 1 MiB/h: met)"),
            "{r}"
        );
    }
}
