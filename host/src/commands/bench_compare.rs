//! What the comparison benchmarks (`bench --tenants N`, `bench --viewers N`)
//! share: settings for runs of the pipeline with and without the thing
//! measured, one run with frames to /dev/null, and the median of the runs.

use std::fs::File;

use crate::commands::cli::BenchArgs;
use crate::config::{self, CameraSettings, Overrides, Settings};
use crate::engine::{self, EngineOptions};
use crate::error::{ExitKind, Failure, OrExit};
use crate::pipeline::Summary;

/// Rounds of (without, with) runs, alternating so drift hits both alike.
pub const ROUNDS: usize = 2;

/// The bench's input, model and shape; MQTT only with `--mqtt-url`; no
/// reload, no stage state.
pub fn settings(args: &BenchArgs) -> Result<Settings, Failure> {
    if args.frames == 0 {
        return Err(Failure::msg(
            ExitKind::Config,
            "bench: --frames must be at least 1",
        ));
    }
    let o = Overrides {
        input: args.input.clone(),
        max_frames: Some(args.frames),
        model: args.model.clone(),
        ort_lib: args.ort_lib.clone(),
        threads: args.threads,
        sessions: args.sessions,
        mqtt_url: args.mqtt_url.clone(),
        no_mqtt: args.mqtt_url.is_none(),
        plugin_dir: args.plugin_dir.clone(),
        no_reload: true,
        ..Overrides::default()
    };
    let mut settings = config::resolve(None, &o).or_exit(ExitKind::Config)?;
    settings.drop_state();
    Ok(settings)
}

/// The bench's one camera: what it reads, its chain.
pub fn camera(settings: &Settings) -> Result<&CameraSettings, Failure> {
    settings
        .cameras
        .first()
        .ok_or_else(|| Failure::msg(ExitKind::Config, "bench: no camera to read"))
}

/// One run of the pipeline, frames to /dev/null.
pub fn run(args: &BenchArgs, settings: &Settings) -> Result<Summary, Failure> {
    let devnull = File::create("/dev/null").or_exit(ExitKind::Output)?;
    engine::run(
        settings,
        EngineOptions {
            loop_input: args.loop_input,
            frames_to: Some(Box::new(devnull)),
            median_window: args.frames as usize,
            progress: false,
            ..Default::default()
        },
    )
}

pub fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}
