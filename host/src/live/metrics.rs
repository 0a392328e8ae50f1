//! `/metrics`: the Prometheus text exposition format (version 0.0.4), every
//! name prefixed `edgepipe_`. With several cameras, each series that belongs
//! to a camera carries a `camera` label (one family, a sample per camera);
//! with one camera the series are as they always were, unlabelled.

use std::fmt::Write as _;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::status::{Snapshot, BUCKETS};
use super::Hub;

fn escape(label: &str) -> String {
    label
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// `{camera="door",k="v"}` (or without the camera; empty when no label).
fn labels(camera: Option<&str>, more: &[(&str, &str)]) -> String {
    let all: Vec<String> = camera
        .map(|c| ("camera", c))
        .into_iter()
        .chain(more.iter().copied())
        .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
        .collect();
    if all.is_empty() {
        String::new()
    } else {
        format!("{{{}}}", all.join(","))
    }
}

/// The model's session runs, every camera together, as `/metrics` shows
/// them (the engine's inference service gives them).
pub trait SessionRuns: Send + Sync {
    /// Session runs so far and the frames they took (a batch: one run).
    fn runs_and_frames(&self) -> (u64, u64);
}

/// The process-wide inference series (`runs`: `None` before the service starts).
fn inference(o: &mut String, runs: Option<(u64, u64)>) {
    let Some((runs, frames)) = runs else { return };
    family(
        o,
        "inference_runs_total",
        "counter",
        "Session runs of the model (a batch of frames is one run).",
    );
    let _ = writeln!(o, "edgepipe_inference_runs_total {runs}");
    family(
        o,
        "inference_frames_total",
        "counter",
        "Frames the model's session runs took.",
    );
    let _ = writeln!(o, "edgepipe_inference_frames_total {frames}");
}

/// A family of one sample per camera: name, type, help, the value.
type Family = (&'static str, &'static str, &'static str, fn(&Row) -> String);

/// One camera's figures, read once.
struct Row<'a> {
    hub: &'a Hub,
    s: Snapshot,
    camera: Option<&'a str>,
}

fn family(o: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(
        o,
        "# HELP edgepipe_{name} {help}\n# TYPE edgepipe_{name} {kind}"
    );
}

/// A family with one sample per camera.
fn per_camera(
    o: &mut String,
    rows: &[Row],
    (name, kind, help): (&str, &str, &str),
    value: impl Fn(&Row) -> String,
) {
    family(o, name, kind, help);
    for r in rows {
        let _ = writeln!(o, "edgepipe_{name}{} {}", labels(r.camera, &[]), value(r));
    }
}

/// The metrics of `hubs` (`labelled`: with their `camera` label) and the
/// process's open streams.
pub fn render(
    hubs: &[Arc<Hub>],
    viewers: usize,
    labelled: bool,
    runs: Option<(u64, u64)>,
) -> String {
    let rows: Vec<Row> = hubs
        .iter()
        .map(|h| Row {
            hub: h,
            s: h.status.get(),
            camera: labelled.then_some(h.camera.as_str()),
        })
        .collect();
    let mut o = String::with_capacity(4096 * rows.len().max(1));
    #[rustfmt::skip]
    let counters: [Family; 7] = [
        ("frames_total", "counter", "Frames through the stages.", |r| r.s.frames.to_string()),
        ("messages_total", "counter", "Messages the pipeline published (chains and host events).",
            |r| r.hub.status.counters.messages.load(Ordering::Relaxed).to_string()),
        ("faults_total", "counter", "Stage faults (traps, deadlines, memory).", |r| r.s.faults.to_string()),
        ("drops_total", "counter", "Frames a live source skipped because the pipeline was behind.", |r| r.s.dropped.to_string()),
        ("reloads_total", "counter", "Stage versions swapped in while running.", |r| r.s.reloads.to_string()),
        ("jpeg_encoded_total", "counter", "JPEG frames encoded for viewers.",
            |r| r.hub.frames.encoded.load(Ordering::Relaxed).to_string()),
        ("fps", "gauge", "Frames per second over the last interval.", |r| r.s.fps.to_string()),
    ];
    for (name, kind, help, value) in counters {
        per_camera(&mut o, &rows, (name, kind, help), value);
    }
    family(&mut o, "viewers", "gauge", "Open video and event streams.");
    let _ = writeln!(o, "edgepipe_viewers {viewers}");
    inference(&mut o, runs);
    family(
        &mut o,
        "queue_depth",
        "gauge",
        "Items waiting in a queue of the engine.",
    );
    for r in &rows {
        for (q, n) in [
            ("capture", r.s.queue_capture),
            ("results", r.s.queue_results),
            ("mqtt", r.s.mqtt_queued),
        ] {
            let _ = writeln!(
                o,
                "edgepipe_queue_depth{} {n}",
                labels(r.camera, &[("queue", q)])
            );
        }
    }
    family(
        &mut o,
        "part_ms",
        "gauge",
        "Median milliseconds per frame of each part of the loop.",
    );
    for r in &rows {
        for (part, ms) in &r.s.stage_ms {
            let _ = writeln!(
                o,
                "edgepipe_part_ms{} {ms}",
                labels(r.camera, &[("part", part)])
            );
        }
    }
    family(
        &mut o,
        "stage_seconds",
        "histogram",
        "Time of all stages (every chain) per frame.",
    );
    for r in &rows {
        histogram(&mut o, r);
    }
    o
}

fn histogram(o: &mut String, r: &Row) {
    let (buckets, count, sum) = r.hub.status.stage_time.read();
    for (le, n) in BUCKETS.iter().zip(&buckets) {
        let le = le.to_string();
        let _ = writeln!(
            o,
            "edgepipe_stage_seconds_bucket{} {n}",
            labels(r.camera, &[("le", &le)])
        );
    }
    let only = labels(r.camera, &[]);
    let _ = writeln!(
        o,
        "edgepipe_stage_seconds_bucket{} {count}\nedgepipe_stage_seconds_sum{only} {sum}\nedgepipe_stage_seconds_count{only} {count}",
        labels(r.camera, &[("le", "+Inf")])
    );
}

#[cfg(test)]
mod tests {
    #[test]
    fn labels_are_joined_and_escaped() {
        assert_eq!(super::labels(None, &[]), "");
        assert_eq!(super::labels(Some("door"), &[]), "{camera=\"door\"}");
        assert_eq!(
            super::labels(Some("door"), &[("part", "a\"b")]),
            "{camera=\"door\",part=\"a\\\"b\"}"
        );
        assert_eq!(super::labels(None, &[("le", "0.5")]), "{le=\"0.5\"}");
    }
}
