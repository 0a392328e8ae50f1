//! The frame loop: capture -> detect -> stages (stats, topics, draw) -> sinks
//! (MQTT, stdout, record), and the summary printed at the end.

use std::time::{Duration, Instant};

use opencv::prelude::*;

use crate::capture::Capture;
use crate::config::{MqttTarget, Settings};
use crate::detect::Detection;
use crate::error::{ExitKind, Failure, OrExit};
use crate::model::{DetectTimings, Detector, DetectorSettings};
use crate::mqtt::{PublishReport, Publisher};
use crate::plugin::bindings::{self as wit, FrameInfo};
use crate::plugin::{ComponentCache, Limits, PluginEvent, PluginHost, StageKind, StageSet};
use crate::sink::{RecordDetection, RecordLine, Recorder, StdoutSink, Written};

/// Why the loop stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    EndOfInput,
    MaxFrames,
    ReaderGone,
}

/// What a run did; printed on stderr at the end.
#[derive(Debug, Clone)]
pub struct Summary {
    pub frames: u64,
    pub elapsed: Duration,
    pub stop: StopReason,
    /// (part, mean milliseconds per frame)
    pub stage_ms: Vec<(String, f64)>,
    pub mqtt: Option<PublishReport>,
    pub faults: Vec<(String, u64)>,
    pub frames_written: u64,
    /// Plugin versions swapped in while running, and reload attempts rejected.
    pub reloads: u64,
    pub rejected_reloads: u64,
}

impl Summary {
    pub fn fps(&self) -> f64 {
        let s = self.elapsed.as_secs_f64();
        if s > 0.0 {
            self.frames as f64 / s
        } else {
            0.0
        }
    }
    pub fn total_faults(&self) -> u64 {
        self.faults.iter().map(|(_, n)| n).sum()
    }

    pub fn print(&self) {
        let parts: Vec<String> = self.stage_ms.iter().map(|(n, ms)| format!("{n} {ms:.2}")).collect();
        eprintln!(
            "edgepipe: summary: {} frames in {:.2} s ({:.2} fps), stopped: {}",
            self.frames,
            self.elapsed.as_secs_f64(),
            self.fps(),
            match self.stop {
                StopReason::EndOfInput => "end of input",
                StopReason::MaxFrames => "max frames reached",
                StopReason::ReaderGone => "stdout reader went away",
            }
        );
        eprintln!("edgepipe: summary: mean ms per frame: {}", parts.join(", "));
        if let Some(m) = &self.mqtt {
            eprintln!(
                "edgepipe: summary: MQTT messages published: {}, sent: {}, acknowledged: {}/{} (unacknowledged: {})",
                m.published,
                m.sent,
                m.acked,
                m.expected_acks,
                m.unacknowledged()
            );
            let ms = |us: Option<u64>| us.map(|u| format!("{:.1} ms", u as f64 / 1000.0)).unwrap_or_else(|| "n/a".into());
            eprintln!(
                "edgepipe: summary: MQTT dropped (queue full): {}, rejected: {}, not sent: {}, re-sent: {}, reconnects: {}, publish->ack p50 {}, p99 {}",
                m.dropped,
                m.rejected,
                m.unsent,
                m.resent,
                m.reconnects,
                ms(m.latency_p50_us),
                ms(m.latency_p99_us)
            );
        } else {
            eprintln!("edgepipe: summary: MQTT off");
        }
        if self.frames_written > 0 {
            eprintln!("edgepipe: summary: frames written to stdout: {}", self.frames_written);
        }
        let faults: Vec<String> = self.faults.iter().filter(|(_, n)| *n > 0).map(|(s, n)| format!("{s}: {n}")).collect();
        if !faults.is_empty() {
            eprintln!("edgepipe: summary: stage faults: {}", faults.join(", "));
        }
        if self.reloads + self.rejected_reloads > 0 {
            eprintln!("edgepipe: summary: plugin reloads: {} applied, {} rejected (old version kept)", self.reloads, self.rejected_reloads);
        }
    }
}

/// Accumulated wall time per part of the loop.
#[derive(Default)]
struct Clock {
    parts: Vec<(String, Duration)>,
}

impl Clock {
    fn add(&mut self, name: &str, d: Duration) {
        match self.parts.iter_mut().find(|(n, _)| n == name) {
            Some((_, t)) => *t += d,
            None => self.parts.push((name.to_string(), d)),
        }
    }
}

/// Convert the detector's output to the plugin contract's records.
pub fn to_wit(dets: &[Detection], detector: &Detector) -> Vec<wit::Detection> {
    dets.iter()
        .map(|d| wit::Detection {
            class_id: d.class_id,
            label: detector.label(d.class_id).to_string(),
            score: d.score,
            bbox: wit::Rect { x: d.bbox.x, y: d.bbox.y, width: d.bbox.width, height: d.bbox.height },
        })
        .collect()
}

/// Load every configured stage (and watch their files when `reload` is on).
pub fn load_stages(host: &PluginHost, settings: &Settings) -> Result<StageSet, Failure> {
    let mut set = StageSet::load(host, &settings.stages).or_exit(ExitKind::Plugin)?;
    if settings.reload {
        set.watch(host).or_exit(ExitKind::Plugin)?;
    }
    Ok(set)
}

/// Publish plugin events on `edgepipe/<pipeline>/plugins` (QoS 1).
fn publish_events(publisher: Option<&mut Publisher>, pipeline: &str, events: Vec<PluginEvent>) -> Result<(), Failure> {
    let Some(p) = publisher else { return Ok(()) };
    let topic = crate::plugin::events::topic(pipeline);
    for e in events {
        p.publish(&wit::Message { topic: topic.clone(), payload: e.to_json(), qos: wit::Qos::AtLeastOnce, retain: false })
            .or_exit(ExitKind::Mqtt)?;
    }
    Ok(())
}

fn start_mqtt(settings: &Settings) -> Result<Option<Publisher>, Failure> {
    let url = match &settings.mqtt {
        MqttTarget::Off => return Ok(None),
        MqttTarget::External(url) => url.clone(),
        MqttTarget::Embedded(addr) => {
            let broker = crate::broker::BrokerSettings {
                addr: *addr,
                v5: settings.delivery.version == crate::mqtt::MqttVersion::V5,
                ws: settings.delivery.broker_ws,
            };
            crate::broker::start(&broker).or_exit(ExitKind::Mqtt)?;
            eprintln!(
                "edgepipe: MQTT: embedded broker listening on {addr}; watch it with: mosquitto_sub -h {} -p {} -t '#' -v{}",
                addr.ip(),
                addr.port(),
                if broker.v5 { " -V mqttv5" } else { "" }
            );
            if let Some(ws) = broker.ws {
                eprintln!("edgepipe: MQTT: embedded broker WebSocket listener on ws://{ws}/ (subprotocol mqtt)");
            }
            // A wildcard bind is reached through loopback.
            let host = if addr.ip().is_unspecified() { std::net::SocketAddr::new([127, 0, 0, 1].into(), addr.port()) } else { *addr };
            format!("mqtt://{host}")
        }
    };
    let publisher = Publisher::connect(&settings.mqtt_settings(url)).or_exit(ExitKind::Mqtt)?;
    Ok(Some(publisher))
}

/// Run the pipeline described by `settings` to the end of its input.
pub fn run(settings: &Settings) -> Result<Summary, Failure> {
    let mut capture = Capture::open(&settings.input).or_exit(ExitKind::Input)?;
    let (width, height) = (capture.width(), capture.height());
    tracing::info!(input = %settings.input, width, height, fps = capture.fps(), "input opened");

    let mut detector = Detector::load(DetectorSettings {
        model: settings.model.clone(),
        labels: settings.labels.clone(),
        ort_lib: settings.ort_lib.clone(),
        confidence: settings.confidence,
        iou: settings.iou,
        intra_threads: settings.threads,
        max_detections: settings.max_detections,
    })
    .or_exit(ExitKind::Model)?;
    let (iw, ih) = detector.input_size();
    tracing::info!(model = %settings.model.display(), input_w = iw, input_h = ih, classes = detector.classes(), threads = settings.threads, "model loaded");

    let host = PluginHost::with_cache(
        Limits { call_timeout: settings.call_timeout, memory: settings.memory_limit },
        ComponentCache::new(settings.plugin_cache.clone()),
    )
    .or_exit(ExitKind::Plugin)?;
    let mut stages = load_stages(&host, settings)?;

    let mut publisher = start_mqtt(settings)?;

    let mut stdout = if settings.stdout {
        eprintln!("edgepipe: stdout: raw BGR24 {width}x{height}; read it with: {}", crate::sink::ffmpeg_hint(width, height, capture.fps()));
        Some(StdoutSink::new(width, height))
    } else {
        None
    };
    let mut recorder = match &settings.record {
        Some(p) => Some(Recorder::create(p).or_exit(ExitKind::Output)?),
        None => None,
    };

    let mut clock = Clock::default();
    let mut timings = DetectTimings::default();
    let mut frames = 0u64;
    let started = Instant::now();
    let stop = loop {
        if settings.max_frames.is_some_and(|m| frames >= m) {
            break StopReason::MaxFrames;
        }
        let t = Instant::now();
        let frame = match capture.next_frame().or_exit(ExitKind::Input)? {
            Some(f) => f,
            None => break StopReason::EndOfInput,
        };
        clock.add("capture", t.elapsed());
        // New plugin versions take over here, between two frames.
        stages.apply_reloads(frame.index);

        let dets = detector.detect(&frame.mat, &mut timings).or_exit(ExitKind::Model)?;
        let wdets = to_wit(&dets, &detector);
        let info = FrameInfo { index: frame.index, timestamp_ms: frame.timestamp_ms, width, height };

        let mut stats = Vec::new();
        for stage in stages.of_kind(StageKind::Stats) {
            let t = Instant::now();
            stats.extend(stage.update(info, &wdets));
            clock.add(stage.name(), t.elapsed());
        }
        let mut messages = Vec::new();
        for stage in stages.of_kind(StageKind::Topics) {
            let t = Instant::now();
            messages.extend(stage.route(info, &stats));
            clock.add(stage.name(), t.elapsed());
        }
        if let Some(p) = publisher.as_mut() {
            let t = Instant::now();
            for m in &messages {
                p.publish(m).or_exit(ExitKind::Mqtt)?;
            }
            clock.add("mqtt", t.elapsed());
        }
        publish_events(publisher.as_mut(), &settings.pipeline_name, stages.take_events(frame.index))?;

        let pixels = frame.mat.data_bytes().or_exit(ExitKind::Internal)?;
        let mut drawn: Option<Vec<u8>> = None;
        for stage in stages.of_kind(StageKind::Draw) {
            let t = Instant::now();
            let input = drawn.as_deref().unwrap_or(pixels);
            if let Some(out) = stage.draw(info, input, &wdets, &stats) {
                drawn = Some(out);
            }
            clock.add(stage.name(), t.elapsed());
        }
        frames += 1;

        if let Some(r) = recorder.as_mut() {
            let t = Instant::now();
            let line = RecordLine {
                index: frame.index,
                timestamp_ms: frame.timestamp_ms,
                width,
                height,
                detections: dets
                    .iter()
                    .map(|d| RecordDetection {
                        class_id: d.class_id,
                        label: detector.label(d.class_id).to_string(),
                        score: d.score,
                        bbox: d.bbox,
                    })
                    .collect(),
            };
            r.write(&line).or_exit(ExitKind::Output)?;
            clock.add("record", t.elapsed());
        }
        if let Some(out) = stdout.as_mut() {
            let t = Instant::now();
            let written = out.write(drawn.as_deref().unwrap_or(pixels)).or_exit(ExitKind::Output)?;
            clock.add("stdout", t.elapsed());
            if written == Written::ReaderGone {
                eprintln!("edgepipe: stdout reader went away after {} frames; stopping", out.frames());
                break StopReason::ReaderGone;
            }
        }
    };
    let elapsed = started.elapsed();

    // End of stream: stats stages' `finish`, handed to the topics stages' `finish` (0.2.0).
    let mut final_stats = Vec::new();
    for stage in stages.of_kind(StageKind::Stats) {
        let out = stage.finish();
        if !out.is_empty() {
            let text: Vec<String> = out.iter().map(|s| format!("{}={}", s.name, s.value)).collect();
            tracing::info!(plugin = %stage.name(), "final stats: {}", text.join(" "));
        }
        final_stats.extend(out);
    }
    let mut final_messages = Vec::new();
    for stage in stages.of_kind(StageKind::Topics) {
        final_messages.extend(stage.finish_topics(&final_stats));
    }
    if let Some(p) = publisher.as_mut() {
        for m in &final_messages {
            p.publish(m).or_exit(ExitKind::Mqtt)?;
        }
    }
    publish_events(publisher.as_mut(), &settings.pipeline_name, stages.take_events(frames))?;
    let mqtt = publisher.map(Publisher::finish);
    if let Some(r) = recorder {
        r.finish().or_exit(ExitKind::Output)?;
    }

    let per_frame = |d: Duration| if frames == 0 { 0.0 } else { d.as_secs_f64() * 1000.0 / frames as f64 };
    // Loop order: capture first, then the detector's parts, then the rest.
    let mut parts = clock.parts.into_iter();
    let mut stage_ms: Vec<(String, f64)> = parts.next().map(|(n, d)| (n, per_frame(d))).into_iter().collect();
    for (name, secs) in [("preprocess", timings.preprocess), ("inference", timings.inference), ("postprocess", timings.postprocess)] {
        stage_ms.push((name.to_string(), per_frame(Duration::from_secs_f64(secs))));
    }
    stage_ms.extend(parts.map(|(n, d)| (n, per_frame(d))));
    Ok(Summary {
        frames,
        elapsed,
        stop,
        stage_ms,
        mqtt,
        faults: stages.stages().iter().map(|s| (s.name().to_string(), s.faults())).collect(),
        reloads: stages.reloads(),
        rejected_reloads: stages.rejected_reloads(),
        frames_written: stdout.map(|s| s.frames()).unwrap_or(0),
    })
}
