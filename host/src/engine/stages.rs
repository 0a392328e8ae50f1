//! The stages+sinks side of the engine. [`StageRunner`] owns the stages, the
//! MQTT publisher and the outputs; [`StageRunner::process_frame`] is all that
//! happens to one frame after inference (stats.update -> topics.route ->
//! publish -> draw.draw -> record -> stdout), on the one thread that owns the
//! stages, so a stage can be swapped between two calls of it.

use std::sync::Arc;
use std::time::Instant;

use opencv::prelude::*;

use super::infer::Inferred;
use super::metrics::{PartId, Timings};
use super::source_health::SourceHealth;
use crate::chain::inventory::Place;
use crate::chain::runner::{Outlets, Route};
use crate::chain::Chain;
use crate::checkpoint::Checkpoints;
use crate::error::{ExitKind, Failure, OrExit};
use crate::mqtt::{PublishReport, Publisher};
use crate::plugin::bindings::{self as wit, FrameInfo, Message};
use crate::plugin::frame::Frame;
use crate::sink::{RecordDetection, RecordLine, RecordStat, Recorder, StdoutSink, Written};
use crate::tenants::{TenantReport, TenantSet};

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
    tenants: PartId,
    mqtt: PartId,
    record: PartId,
    stdout: PartId,
}

/// What the runner did, handed back by [`StageRunner::finish`].
pub struct RunnerReport {
    pub frames: u64,
    /// Frames that went to the model.
    pub inferred: u64,
    pub mqtt: Option<PublishReport>,
    pub faults: Vec<(String, u64)>,
    /// Messages refused per stage (host topics, `$`, invalid).
    pub refusals: Vec<(String, u64)>,
    /// Shapes of `overlay` stages beyond a frame's bounds, per stage that had any.
    pub shapes_refused: Vec<(String, u64)>,
    pub frames_written: u64,
    pub timings: Timings,
    pub reloads: u64,
    pub rejected_reloads: u64,
    pub tenants: Vec<TenantReport>,
}

pub struct StageRunner {
    /// The operator's chain (the pipeline's `[[stages]]`).
    operator: Chain,
    /// Plugin events go to `edgepipe/<pipeline>/plugins`.
    pipeline: String,
    /// Frames that went to the model (the others were over `detect_fps`).
    inferred: u64,
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
    /// Stage state on disk (off: `None`).
    checkpoints: Option<Checkpoints>,
    /// A live source's outages, published as they happen: (health, input, topic).
    source: Option<(Arc<SourceHealth>, String, String)>,
    /// The tenants' chains, after the operator's.
    tenants: Option<TenantSet>,
    /// The live view: newest frame, messages, status (never waits).
    live: Option<crate::live::Tap>,
    /// The camera's name, in every stage's `frame-info` (contract 0.3.0).
    camera: String,
    /// The camera's host topics (`edgepipe/<pipeline>`, or
    /// `edgepipe/<pipeline>/cameras/<name>` with several cameras).
    host_topics: String,
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
        operator: Chain,
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
        let stage_ids = operator
            .stages()
            .stages()
            .iter()
            .map(|s| timings.part(s.name()))
            .collect();
        let plugins = timings.part(PLUGINS_PART);
        let tenants = timings.part("tenants");
        let mqtt = timings.part("mqtt");
        let record = timings.part("record");
        let stdout = timings.part("stdout");
        StageRunner {
            operator,
            host_topics: format!("edgepipe/{pipeline}"),
            pipeline,
            inferred: 0,
            publisher: outputs.publisher,
            stdout: outputs.stdout,
            recorder: outputs.recorder,
            labels,
            width: size.0,
            height: size.1,
            camera: wit::DEFAULT_CAMERA.to_string(),
            timings,
            ids: PartIds {
                capture,
                preprocess,
                inference,
                postprocess,
                stages: stage_ids,
                plugins,
                tenants,
                mqtt,
                record,
                stdout,
            },
            frames: 0,
            detections: Vec::new(),
            checkpoints: None,
            source: None,
            tenants: None,
            live: None,
        }
    }

    /// Where this camera's host messages go (the stage status among them).
    pub fn with_host_topics(&mut self, root: &str) {
        self.host_topics = root.to_string();
    }

    /// The camera the frames are from (`default` unless named).
    pub fn with_camera(&mut self, name: &str) {
        self.camera = name.to_string();
    }

    /// Hand the live view every frame, message and event from now on.
    pub fn with_live(&mut self, tap: crate::live::Tap) {
        if let Some(t) = self.tenants.as_mut() {
            t.set_live(tap.clone());
        }
        self.live = Some(tap);
        // The tenants' pages exist from the start.
        self.refresh_live(crate::live::status::EngineFigures::default());
    }

    /// Refresh the live view's status (the frame loop calls this about once a second).
    pub fn refresh_live(&mut self, engine: crate::live::status::EngineFigures) {
        let Some(tap) = self.live.clone() else { return };
        let stage_ms = self.timings.medians();
        tap.refresh(crate::live::status::Snapshot {
            pipeline: self.pipeline.clone(),
            width: self.width,
            height: self.height,
            fps: engine.fps,
            dropped: engine.dropped,
            queue_capture: engine.queue_capture,
            queue_results: engine.queue_results,
            faults: self.operator.faults(),
            reloads: self.operator.stages().reloads(),
            mqtt_published: self.publisher.as_ref().map_or(0, |p| p.published()),
            mqtt_queued: self.publisher.as_ref().map_or(0, |p| p.queued()),
            stage_ms,
            stages: crate::live::status::stage_infos(self.operator.stages().stages()),
            tenants: self
                .tenants
                .as_ref()
                .map(|t| t.prefixes())
                .unwrap_or_default(),
            ..Default::default()
        });
    }

    /// Run these tenants' chains on every frame after the operator's.
    pub fn with_tenants(&mut self, tenants: TenantSet) {
        self.tenants = Some(tenants);
    }

    /// One line per tenant (for the stats line).
    pub fn tenant_lines(&self) -> Vec<String> {
        self.tenants.as_ref().map(|t| t.lines()).unwrap_or_default()
    }

    /// Keep stage state on disk: write it while running and at the end
    /// (its saved state was restored into the stages before they came here).
    pub fn keep_checkpoints(&mut self, checkpoints: Checkpoints) {
        self.checkpoints = Some(checkpoints);
    }

    /// Publish the outages of a live source on `topic`
    /// (`edgepipe/<pipeline>/source`, or the camera's with several).
    pub fn watch_source(&mut self, health: Arc<SourceHealth>, input: String, topic: String) {
        self.source = Some((health, input, topic));
    }

    /// The camera whose frames these are.
    pub fn camera(&self) -> &str {
        &self.camera
    }

    /// The operator's connection settings (tenants with a login of their
    /// own connect alike).
    pub fn mqtt_settings(&self) -> Option<crate::mqtt::MqttSettings> {
        self.publisher.as_ref().map(|p| p.settings().clone())
    }

    /// Work that does not wait for a frame: source events, checkpoints.
    /// Called after every frame, and while no frame comes.
    pub fn between_frames(&mut self) -> Result<(), Failure> {
        if let Some(cp) = self.checkpoints.as_mut() {
            cp.tick(self.operator.stages_mut());
        }
        if let Some(t) = self.tenants.as_mut() {
            t.tick();
            t.apply_changes(self.frames, &mut self.publisher.as_mut());
        }
        let Some((health, input, topic)) = &self.source else {
            return Ok(());
        };
        let events = health.take_events();
        if let (Some(p), false) = (self.publisher.as_mut(), events.is_empty()) {
            for e in events {
                let m = Message {
                    topic: topic.clone(),
                    payload: e.to_json(input),
                    qos: wit::Qos::AtLeastOnce,
                    retain: false,
                };
                if let Some(l) = &self.live {
                    l.message(&m.topic, &m.payload);
                }
                if let Err(why) = p.publish(&m) {
                    tracing::warn!(topic = %m.topic, "source event not queued: {why}");
                }
            }
        }
        Ok(())
    }

    pub fn frames(&self) -> u64 {
        self.frames
    }
    /// MQTT messages waiting in the operator's queue.
    pub fn mqtt_queued(&self) -> usize {
        self.publisher.as_ref().map_or(0, |p| p.queued())
    }
    pub fn timings_mut(&mut self) -> &mut Timings {
        &mut self.timings
    }

    /// Someone looks at the operator's frames (stdout, a viewer, a snapshot
    /// asked): only then do its draw stages run.
    fn frame_shown(&self) -> bool {
        self.stdout.is_some() || self.live.as_ref().is_some_and(|l| l.wants_frame())
    }

    fn label(&self, class_id: u32) -> String {
        self.labels
            .get(class_id as usize)
            .cloned()
            .unwrap_or_else(|| "unknown".to_string())
    }

    /// Everything that happens to one frame after inference, in order.
    pub fn process_frame(&mut self, item: &mut Inferred) -> Result<Flow, Failure> {
        let ids = &self.ids;
        self.timings.add_ms(ids.capture, item.capture_ms);
        self.timings
            .add_ms(ids.preprocess, item.timings.preprocess * 1000.0);
        self.timings
            .add_ms(ids.inference, item.timings.inference * 1000.0);
        self.timings
            .add_ms(ids.postprocess, item.timings.postprocess * 1000.0);

        let frame = &mut item.frame;
        crate::fault::check(crate::fault::Thread::Stages, frame.index);
        let info = FrameInfo {
            index: frame.index,
            timestamp_ms: frame.timestamp_ms,
            width: self.width,
            height: self.height,
            camera: self.camera.clone(),
        };
        let mut wdets = std::mem::take(&mut self.detections);
        if item.inferred {
            self.inferred += 1;
            wdets.clear();
        }
        // A frame over the camera's detect_fps keeps the last frame's detections.
        wdets.extend(item.detections.iter().map(|d| wit::Detection {
            class_id: d.class_id,
            label: self.label(d.class_id),
            score: d.score,
            bbox: wit::Rect {
                x: d.bbox.x,
                y: d.bbox.y,
                width: d.bbox.width,
                height: d.bbox.height,
            },
        }));

        let pixels = frame.mat.data_bytes_mut().or_exit(ExitKind::Internal)?;
        // Draw stages paint on the frame itself unless tenants need it undrawn.
        let canvas = match self.tenants {
            None => Frame::in_place(&mut *pixels),
            Some(_) => Frame::new(&*pixels),
        };
        let started = Instant::now();
        let events_topic = crate::plugin::events::topic(&self.pipeline);
        let shown = self.frame_shown();
        let out = crate::chain::runner::run_frame(
            &mut self.operator,
            (&info, &wdets, canvas),
            shown,
            &mut Outlets::host(self.publisher.as_mut()),
            &Route {
                place: Place {
                    pipeline: &self.pipeline,
                    camera: &self.camera,
                    chain: "operator",
                    host_topics: &self.host_topics,
                },
                events_topic: &events_topic,
                live: self.live.as_ref(),
            },
        );
        let pixels: &[u8] = pixels;
        let mut plugins_ms = 0.0;
        for (&id, &ms) in self.ids.stages.iter().zip(self.operator.stage_ms()) {
            self.timings.add_ms(id, ms);
            plugins_ms += ms;
        }
        // What the chain's own stages did not take: its publishing.
        let chain_ms = started.elapsed().as_secs_f64() * 1000.0;
        self.timings
            .add_ms(self.ids.mqtt, (chain_ms - plugins_ms).max(0.0));
        let mut tenants_ms = 0.0;
        if let Some(t) = self.tenants.as_mut() {
            let started = Instant::now();
            t.process(&info, &wdets, pixels, &mut self.publisher.as_mut());
            self.timings.add(self.ids.tenants, started.elapsed());
            tenants_ms = started.elapsed().as_secs_f64() * 1000.0;
        }
        let drawn = out.drawn;
        self.timings.add_ms(self.ids.plugins, plugins_ms);
        self.frames += 1;
        if let Some(cp) = self.checkpoints.as_mut() {
            cp.position(frame.index + 1);
        }

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
                    .map(|(d, w)| RecordDetection {
                        class_id: d.class_id,
                        label: w.label.clone(),
                        score: d.score,
                        bbox: d.bbox,
                    })
                    .collect(),
                stats: self
                    .operator
                    .stats()
                    .iter()
                    .map(|s| RecordStat {
                        name: s.name.clone(),
                        value: s.value.clone(),
                    })
                    .collect(),
            };
            r.write(&line).or_exit(ExitKind::Output)?;
            self.timings.add(self.ids.record, t.elapsed());
        }
        self.detections = wdets;
        if let Some(out) = self.stdout.as_mut() {
            let t = Instant::now();
            let written = out
                .write(drawn.as_deref().unwrap_or(pixels))
                .or_exit(ExitKind::Output)?;
            self.timings.add(self.ids.stdout, t.elapsed());
            if written == Written::ReaderGone {
                eprintln!(
                    "edgepipe: stdout reader went away after {} frames; stopping",
                    out.frames()
                );
                return Ok(Flow::ReaderGone);
            }
        }
        if let Some(l) = &self.live {
            l.frame_done(frame.index, drawn, pixels, plugins_ms + tenants_ms);
        }
        self.between_frames()?;
        Ok(Flow::Continue)
    }

    /// End of stream: the stats stages' final word, MQTT acknowledgements,
    /// the record flushed.
    pub fn finish(mut self) -> Result<RunnerReport, Failure> {
        // The state of the stream's last frame, before the end-of-stream calls.
        if let Some(mut cp) = self.checkpoints.take() {
            cp.save(self.operator.stages_mut());
            cp.flush();
            tracing::debug!(written = cp.written(), "stage state written");
        }
        let _ = self.between_frames();
        // Stats stages' `finish`, handed to the topics stages' `finish` (0.2.0).
        let events_topic = crate::plugin::events::topic(&self.pipeline);
        crate::chain::runner::run_finish(
            &mut self.operator,
            self.frames,
            &mut Outlets::host(self.publisher.as_mut()),
            &Route {
                place: Place {
                    pipeline: &self.pipeline,
                    camera: &self.camera,
                    chain: "operator",
                    host_topics: &self.host_topics,
                },
                events_topic: &events_topic,
                live: self.live.as_ref(),
            },
        );
        let tenants = match self.tenants.take() {
            Some(t) => t.finish(self.frames, &mut self.publisher.as_mut()),
            None => Vec::new(),
        };
        let mqtt = self.publisher.take().map(Publisher::finish);
        if let Some(r) = self.recorder.take() {
            r.finish().or_exit(ExitKind::Output)?;
        }
        Ok(RunnerReport {
            frames: self.frames,
            inferred: self.inferred,
            mqtt,
            faults: self
                .operator
                .stages()
                .stages()
                .iter()
                .map(|s| (s.name().to_string(), s.faults()))
                .collect(),
            refusals: self.operator.refusals_by_stage(),
            shapes_refused: self.operator.shapes_refused_by_stage(),
            reloads: self.operator.stages().reloads(),
            rejected_reloads: self.operator.stages().rejected_reloads(),
            tenants,
            frames_written: self.stdout.as_ref().map(|s| s.frames()).unwrap_or(0),
            timings: self.timings,
        })
    }
}
