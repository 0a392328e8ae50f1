//! `edgepipe bench --tenants N`: what N tenants, each running a copy of the
//! default chain (people-counter -> course-topics -> draw-boxes), cost the
//! pipeline. Runs without and with the tenants alternate (so the machine's
//! drift hits both alike); the report gives the median fps of each, their
//! ratio, and the median time of all tenants' chains per frame. No live view
//! runs here, so the tenants' draw stages are skipped, as they are whenever
//! nobody watches a tenant.

use std::fmt::Write as _;

use crate::commands::bench_compare::{self, median, ROUNDS};
use crate::commands::cli::BenchArgs;
use crate::error::{ExitKind, Failure, OrExit};

/// Measure and return the report (for stdout).
pub fn run(args: &BenchArgs, tenants: usize) -> Result<String, Failure> {
    let mut settings = bench_compare::settings(args)?;
    let dir = std::env::temp_dir().join(format!("edgepipe-bench-tenants-{}", std::process::id()));
    std::fs::create_dir_all(&dir).or_exit(ExitKind::Output)?;
    let stages = bench_compare::camera(&settings)?.stages.clone();
    let chain = stages
        .iter()
        .map(|s| {
            format!(
                "[[stages]]\nname = {:?}\nkind = {:?}\npath = {:?}\n",
                s.name,
                s.kind.world(),
                s.path
            )
        })
        .collect::<String>();
    for i in 0..tenants {
        std::fs::write(dir.join(format!("t{i:03}.toml")), &chain).or_exit(ExitKind::Output)?;
    }
    let (mut without, mut with, mut tenant_ms) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        for on in [false, true] {
            settings.runtime.tenants_dir = on.then(|| dir.clone());
            tracing::info!(
                round,
                tenants = if on { tenants } else { 0 },
                "bench: pipeline"
            );
            let s = bench_compare::run(args, &settings)?;
            if on {
                with.push(s.fps());
                tenant_ms.push(
                    s.stage_median_ms
                        .iter()
                        .find(|(n, _)| n == "tenants")
                        .map(|(_, ms)| *ms)
                        .unwrap_or(0.0),
                );
            } else {
                without.push(s.fps());
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    let (a, b, ms) = (
        median(without.clone()),
        median(with.clone()),
        median(tenant_ms.clone()),
    );
    let ratio = if a > 0.0 { b / a } else { 0.0 };
    let mut o = String::new();
    let _ = writeln!(o, "edgepipe bench --tenants {tenants}: {} frames per run, {} session(s) x {} request(s) x {} thread(s), {ROUNDS} rounds alternating", args.frames, settings.model.sessions, settings.model.requests, settings.model.threads);
    let _ = writeln!(
        o,
        "   each tenant: {} ({} stages; its draw stages run only while its live view is watched: not here)",
        stages.iter().map(|s| s.name.as_str()).collect::<Vec<_>>().join(" -> "),
        stages.len()
    );
    let _ = writeln!(
        o,
        "   fps without tenants: {} -> median {a:.2}",
        without
            .iter()
            .map(|f| format!("{f:.2}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let _ = writeln!(
        o,
        "   fps with {tenants} tenants: {} -> median {b:.2}",
        with.iter()
            .map(|f| format!("{f:.2}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let _ = writeln!(
        o,
        "   with / without: {ratio:.3} (target >= 0.9: {})",
        if ratio >= 0.9 { "met" } else { "missed" }
    );
    let _ = writeln!(
        o,
        "   all tenants' chains, median ms per frame: {} -> {ms:.3} (target <= 3 ms for 10 tenants x 3 stages: {})",
        tenant_ms.iter().map(|m| format!("{m:.3}")).collect::<Vec<_>>().join(", "),
        if ms <= 3.0 { "met" } else { "missed" }
    );
    Ok(o)
}
