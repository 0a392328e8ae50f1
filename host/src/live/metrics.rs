//! `/metrics`: the Prometheus text exposition format (version 0.0.4), every
//! name prefixed `edgepipe_`.

use std::fmt::Write as _;
use std::sync::atomic::Ordering;

use super::status::BUCKETS;
use super::Hub;

fn escape(label: &str) -> String {
    label
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn metric(o: &mut String, name: &str, kind: &str, help: &str, value: impl std::fmt::Display) {
    let _ = writeln!(
        o,
        "# HELP edgepipe_{name} {help}\n# TYPE edgepipe_{name} {kind}\nedgepipe_{name} {value}"
    );
}

pub fn render(hub: &Hub) -> String {
    let s = hub.status.get();
    let mut o = String::with_capacity(4096);
    metric(
        &mut o,
        "frames_total",
        "counter",
        "Frames through the stages.",
        s.frames,
    );
    metric(
        &mut o,
        "messages_total",
        "counter",
        "Messages the pipeline published (chains and host events).",
        hub.status.counters.messages.load(Ordering::Relaxed),
    );
    metric(
        &mut o,
        "faults_total",
        "counter",
        "Stage faults (traps, deadlines, memory).",
        s.faults,
    );
    metric(
        &mut o,
        "drops_total",
        "counter",
        "Frames a live source skipped because the pipeline was behind.",
        s.dropped,
    );
    metric(
        &mut o,
        "reloads_total",
        "counter",
        "Stage versions swapped in while running.",
        s.reloads,
    );
    metric(
        &mut o,
        "jpeg_encoded_total",
        "counter",
        "JPEG frames encoded for viewers.",
        hub.frames.encoded.load(Ordering::Relaxed),
    );
    metric(
        &mut o,
        "fps",
        "gauge",
        "Frames per second over the last interval.",
        s.fps,
    );
    metric(
        &mut o,
        "viewers",
        "gauge",
        "Open video and event streams.",
        hub.viewers.load(Ordering::Relaxed),
    );
    let _ = writeln!(o, "# HELP edgepipe_queue_depth Items waiting in a queue of the engine.\n# TYPE edgepipe_queue_depth gauge");
    let _ = writeln!(
        o,
        "edgepipe_queue_depth{{queue=\"capture\"}} {}",
        s.queue_capture
    );
    let _ = writeln!(
        o,
        "edgepipe_queue_depth{{queue=\"results\"}} {}",
        s.queue_results
    );
    let _ = writeln!(
        o,
        "edgepipe_queue_depth{{queue=\"mqtt\"}} {}",
        s.mqtt_queued
    );
    let _ = writeln!(o, "# HELP edgepipe_part_ms Median milliseconds per frame of each part of the loop.\n# TYPE edgepipe_part_ms gauge");
    for (part, ms) in &s.stage_ms {
        let _ = writeln!(o, "edgepipe_part_ms{{part=\"{}\"}} {ms}", escape(part));
    }
    let (buckets, count, sum) = hub.status.stage_time.read();
    let _ = writeln!(o, "# HELP edgepipe_stage_seconds Time of all stages (every chain) per frame.\n# TYPE edgepipe_stage_seconds histogram");
    for (le, n) in BUCKETS.iter().zip(&buckets) {
        let _ = writeln!(o, "edgepipe_stage_seconds_bucket{{le=\"{le}\"}} {n}");
    }
    let _ = writeln!(o, "edgepipe_stage_seconds_bucket{{le=\"+Inf\"}} {count}\nedgepipe_stage_seconds_sum {sum}\nedgepipe_stage_seconds_count {count}");
    o
}
