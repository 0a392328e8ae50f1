//! The stages+sinks side of the engine. [`StageRunner`] owns the stages, the
//! MQTT publisher and the outputs; [`StageRunner::process_frame`] is all that
//! happens to one frame after inference (stats.update -> topics.route ->
//! publish -> draw.draw -> record -> stdout), on the one thread that owns the
//! stages, so a stage can be swapped between two calls of it.

use std::time::Instant;

use opencv::prelude::*;

use super::infer::Inferred;
use super::metrics::{PartId, Timings};
use crate::error::{ExitKind, Failure, OrExit};
use crate::mqtt::{PublishReport, Publisher};
use crate::plugin::bindings::{self as wit, FrameInfo, Message, Stat};
use crate::plugin::{StageKind, StageSet};
use crate::sink::{RecordDetection, RecordLine, RecordStat, Recorder, StdoutSink, Written};

/// Whether the run goes on after a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    Continue,
    /// The stdout reader went away: end the run cleanly.
    ReaderGone,
}

/// Name of the per-frame sum of every stage call (the plugins' total cost).
pub const PLUGINS_PART: &str = "plugins";

struct PartIds {
    capture: PartId,
    preprocess: PartId,
    inference: PartId,
    postprocess: PartId,
    stages: Vec<PartId>,
    plugins: PartId,
    mqtt: PartId,
    record: PartId,
    stdout: PartId,
}

/// What the runner did, handed back by [`StageRunner::finish`].
pub struct RunnerReport {
    pub frames: u64,
    pub mqtt: Option<PublishReport>,
    pub faults: Vec<(String, u64)>,
    pub frames_written: u64,
    pub timings: Timings,
    pub reloads: u64,
    pub rejected_reloads: u64,
}

pub struct StageRunner {
    stages: StageSet,
    /// Plugin events go to `edgepipe/<pipeline>/plugins`.
    pipeline: String,
    publisher: Option<Publisher>,
    stdout: Option<StdoutSink>,
    recorder: Option<Recorder>,
    labels: Vec<String>,
    width: u32,
    height: u32,
    timings: Timings,
    ids: PartIds,
    frames: u64,
    // Reused from frame to frame.
    detections: Vec<wit::Detection>,
    stats: Vec<Stat>,
    messages: Vec<Message>,
}

/// Where a frame's results go: MQTT, stdout (or the benchmark's /dev/null), the record.
pub struct Outputs {
    pub publisher: Option<Publisher>,
    pub stdout: Option<StdoutSink>,
    pub recorder: Option<Recorder>,
}

impl StageRunner {
    /// `window`: how many recent frames the per-part medians cover.
    pub fn new(
        stages: StageSet,
        outputs: Outputs,
        labels: Vec<String>,
        size: (u32, u32),
        window: usize,
        pipeline: String,
    ) -> StageRunner {
        let mut timings = Timings::new(window);
        let capture = timings.part("capture");
        let preprocess = timings.part("preprocess");
        let inference = timings.part("inference");
        let postprocess = timings.part("postprocess");
        let stage_ids = stages.stages().iter().map(|s| timings.part(s.name())).collect();
        let plugins = timings.part(PLUGINS_PART);
        let mqtt = timings.part("mqtt");
        let record = timings.part("record");
        let stdout = timings.part("stdout");
        StageRunner {
            stages,
            pipeline,
            publisher: outputs.publisher,
            stdout: outputs.stdout,
            recorder: outputs.recorder,
            labels,
            width: size.0,
            height: size.1,
            timings,
            ids: PartIds { capture, preprocess, inference, postprocess, stages: stage_ids, plugins, mqtt, record, stdout },
            frames: 0,
            detections: Vec::new(),
            stats: Vec::new(),
            messages: Vec::new(),
        }
    }

    pub fn frames(&self) -> u64 {
        self.frames
    }
    pub fn timings_mut(&mut self) -> &mut Timings {
        &mut self.timings
    }

    fn label(&self, class_id: u32) -> String {
        self.labels.get(class_id as usize).cloned().unwrap_or_else(|| "unknown".to_string())
    }

    /// Everything that happens to one frame after inference, in order.
    pub fn process_frame(&mut self, item: &Inferred) -> Result<Flow, Failure> {
        let ids = &self.ids;
        self.timings.add_ms(ids.capture, item.capture_ms);
        self.timings.add_ms(ids.preprocess, item.timings.preprocess * 1000.0);
        self.timings.add_ms(ids.inference, item.timings.inference * 1000.0);
        self.timings.add_ms(ids.postprocess, item.timings.postprocess * 1000.0);

        let frame = &item.frame;
        // New plugin versions take over here, between two frames.
        self.stages.apply_reloads(frame.index);
        let info = FrameInfo { index: frame.index, timestamp_ms: frame.timestamp_ms, width: self.width, height: self.height };
        let mut wdets = std::mem::take(&mut self.detections);
        wdets.clear();
        wdets.extend(item.detections.iter().map(|d| wit::Detection {
            class_id: d.class_id,
            label: self.label(d.class_id),
            score: d.score,
            bbox: wit::Rect { x: d.bbox.x, y: d.bbox.y, width: d.bbox.width, height: d.bbox.height },
        }));

        let mut plugins_ms = 0.0;
        self.stats.clear();
        for (stage, &id) in self.stages.stages_mut().iter_mut().zip(&self.ids.stages).filter(|(s, _)| s.kind() == StageKind::Stats) {
            let t = Instant::now();
            self.stats.extend(stage.update(info, &wdets));
            let ms = t.elapsed().as_secs_f64() * 1000.0;
            self.timings.add_ms(id, ms);
            plugins_ms += ms;
        }
        self.messages.clear();
        for (stage, &id) in self.stages.stages_mut().iter_mut().zip(&self.ids.stages).filter(|(s, _)| s.kind() == StageKind::Topics) {
            let t = Instant::now();
            self.messages.extend(stage.route(info, &self.stats));
            let ms = t.elapsed().as_secs_f64() * 1000.0;
            self.timings.add_ms(id, ms);
            plugins_ms += ms;
        }
        if let Some(p) = self.publisher.as_mut() {
            let t = Instant::now();
            for m in &self.messages {
                p.publish(m).or_exit(ExitKind::Mqtt)?;
            }
            self.timings.add(self.ids.mqtt, t.elapsed());
        }
        crate::pipeline::publish_events(self.publisher.as_mut(), &self.pipeline, self.stages.take_events(frame.index))?;

        let pixels = frame.mat.data_bytes().or_exit(ExitKind::Internal)?;
        let mut drawn: Option<Vec<u8>> = None;
        for (stage, &id) in self.stages.stages_mut().iter_mut().zip(&self.ids.stages).filter(|(s, _)| s.kind() == StageKind::Draw) {
            let t = Instant::now();
            let input = drawn.as_deref().unwrap_or(pixels);
            if let Some(out) = stage.draw(info, input, &wdets, &self.stats) {
                drawn = Some(out);
            }
            let ms = t.elapsed().as_secs_f64() * 1000.0;
            self.timings.add_ms(id, ms);
            plugins_ms += ms;
        }
        self.timings.add_ms(self.ids.plugins, plugins_ms);
        self.frames += 1;

        if let Some(r) = self.recorder.as_mut() {
            let t = Instant::now();
            let line = RecordLine {
                index: frame.index,
                timestamp_ms: frame.timestamp_ms,
                width: self.width,
                height: self.height,
                detections: item
                    .detections
                    .iter()
                    .zip(&wdets)
                    .map(|(d, w)| RecordDetection { class_id: d.class_id, label: w.label.clone(), score: d.score, bbox: d.bbox })
                    .collect(),
                stats: self.stats.iter().map(|s| RecordStat { name: s.name.clone(), value: s.value.clone() }).collect(),
            };
            r.write(&line).or_exit(ExitKind::Output)?;
            self.timings.add(self.ids.record, t.elapsed());
        }
        self.detections = wdets;
        if let Some(out) = self.stdout.as_mut() {
            let t = Instant::now();
            let written = out.write(drawn.as_deref().unwrap_or(pixels)).or_exit(ExitKind::Output)?;
            self.timings.add(self.ids.stdout, t.elapsed());
            if written == Written::ReaderGone {
                eprintln!("edgepipe: stdout reader went away after {} frames; stopping", out.frames());
                return Ok(Flow::ReaderGone);
            }
        }
        Ok(Flow::Continue)
    }

    /// End of stream: the stats stages' final word, MQTT acknowledgements,
    /// the record flushed.
    pub fn finish(mut self) -> Result<RunnerReport, Failure> {
        // Stats stages' `finish`, handed to the topics stages' `finish` (0.2.0).
        let mut final_stats = Vec::new();
        for stage in self.stages.of_kind(StageKind::Stats) {
            let out = stage.finish();
            if !out.is_empty() {
                let text: Vec<String> = out.iter().map(|s| format!("{}={}", s.name, s.value)).collect();
                tracing::info!(plugin = %stage.name(), "final stats: {}", text.join(" "));
            }
            final_stats.extend(out);
        }
        let mut final_messages = Vec::new();
        for stage in self.stages.of_kind(StageKind::Topics) {
            final_messages.extend(stage.finish_topics(&final_stats));
        }
        if let Some(p) = self.publisher.as_mut() {
            for m in &final_messages {
                p.publish(m).or_exit(ExitKind::Mqtt)?;
            }
        }
        crate::pipeline::publish_events(self.publisher.as_mut(), &self.pipeline, self.stages.take_events(self.frames))?;
        let mqtt = self.publisher.take().map(Publisher::finish);
        if let Some(r) = self.recorder.take() {
            r.finish().or_exit(ExitKind::Output)?;
        }
        Ok(RunnerReport {
            frames: self.frames,
            mqtt,
            faults: self.stages.stages().iter().map(|s| (s.name().to_string(), s.faults())).collect(),
            reloads: self.stages.reloads(),
            rejected_reloads: self.stages.rejected_reloads(),
            frames_written: self.stdout.as_ref().map(|s| s.frames()).unwrap_or(0),
            timings: self.timings,
        })
    }
}
