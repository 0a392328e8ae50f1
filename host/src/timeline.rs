//! The first frames' timeline (issue 22, what a run's start costs a user):
//! with `--log info,edgepipe::timeline=debug`, one line when each step of a
//! run's start ends and when each of its first [`FRAMES`] frames is decoded,
//! goes into and out of inference (with its pre-processing, inference and
//! decoding times), into the stages and out of the sinks (stdout, MQTT),
//! each with `t_ms`, the milliseconds since the process started. Off (the
//! default), each call is one check of tracing's cached interest.

use std::sync::OnceLock;
use std::time::Instant;

/// Frames of a run (by their index in the input) that get timeline lines.
pub const FRAMES: u64 = 10;
/// The target of the timeline's lines.
pub const TARGET: &str = "edgepipe::timeline";

static START: OnceLock<Instant> = OnceLock::new();

/// The time `t_ms` counts from: call first thing in `main`.
pub fn start() {
    START.get_or_init(Instant::now);
}

fn ms() -> f64 {
    START.get_or_init(Instant::now).elapsed().as_secs_f64() * 1000.0
}

/// A step of the start has ended.
pub fn step(what: &'static str) {
    tracing::debug!(target: TARGET, t_ms = format_args!("{:.2}", ms()), "{what}");
}

/// Frame `index` has reached `what` (only the first [`FRAMES`]).
pub fn frame(what: &'static str, index: u64) {
    if index < FRAMES {
        tracing::debug!(target: TARGET, t_ms = format_args!("{:.2}", ms()), frame = index, "{what}");
    }
}

/// Frame `index` is out of inference, which took `t` (only the first [`FRAMES`]).
pub fn inferred(index: u64, t: &crate::model::DetectTimings) {
    if index < FRAMES {
        tracing::debug!(
            target: TARGET,
            t_ms = format_args!("{:.2}", ms()),
            frame = index,
            preprocess_ms = format_args!("{:.2}", t.preprocess * 1000.0),
            inference_ms = format_args!("{:.2}", t.inference * 1000.0),
            postprocess_ms = format_args!("{:.2}", t.postprocess * 1000.0),
            "inferred"
        );
    }
}
