//! A chain of stages (stats -> topics -> draw) with its limits, topic policy,
//! reload watcher, events and numbers: the unit of per-frame work. This layer
//! has no threads and no exit codes: the engine hands each inferred frame to
//! every chain; what a chain returns (messages already checked and placed,
//! a drawn frame) goes to the sinks. The operator's chain comes from the
//! pipeline's `[[stages]]`; each tenant has one of its own.

pub mod inventory;
pub mod numbers;
pub mod policy;
pub mod publish;
pub mod runner;

use std::time::{Duration, Instant};

use crate::plugin::bindings::{Detection, FrameInfo, Message, Stat};
use crate::plugin::frame::Frame;
use crate::plugin::{PluginEvent, StageKind, StageSet};
pub use numbers::ChainNumbers;
pub use policy::{Refusal, TopicPolicy};

/// A stage whose frames run over the chain's budget this many times in a row
/// is disabled, like a stage that faults.
pub const MAX_CONSECUTIVE_OVERRUNS: u32 = 3;

/// Per-frame limits of a chain.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ChainLimits {
    /// Time of the whole chain per frame; stages after it is spent skip the frame.
    pub frame_budget: Option<Duration>,
    pub max_message_bytes: usize,
    pub max_messages_per_frame: usize,
}

impl Default for ChainLimits {
    fn default() -> Self {
        ChainLimits {
            frame_budget: None,
            max_message_bytes: usize::MAX,
            max_messages_per_frame: usize::MAX,
        }
    }
}

pub struct Chain {
    id: String,
    stages: StageSet,
    policy: TopicPolicy,
    limits: ChainLimits,
    numbers: ChainNumbers,
    /// Per stage: overruns in a row, ms of the last frame (0 when skipped),
    /// messages refused.
    overruns_in_a_row: Vec<u32>,
    stage_ms: Vec<f64>,
    refused: Vec<u64>,
    stats: Vec<Stat>,
    events: Vec<PluginEvent>,
}

/// What one frame produced in a chain.
pub struct ChainOutput {
    /// Checked and placed (tenant topics carry the prefix).
    pub messages: Vec<Message>,
    /// The stage (index) each message came from.
    pub origins: Vec<usize>,
    /// The frame as the draw stages left it (`None`: not drawn).
    pub drawn: Option<Vec<u8>>,
}

impl Chain {
    pub fn new(id: &str, stages: StageSet, policy: TopicPolicy, limits: ChainLimits) -> Chain {
        let n = stages.stages().len();
        Chain {
            id: id.to_string(),
            stages,
            policy,
            limits,
            numbers: ChainNumbers::default(),
            overruns_in_a_row: vec![0; n],
            stage_ms: vec![0.0; n],
            refused: vec![0; n],
            stats: Vec::new(),
            events: Vec::new(),
        }
    }

    pub fn id(&self) -> &str {
        &self.id
    }
    pub fn policy(&self) -> &TopicPolicy {
        &self.policy
    }
    pub fn stages(&self) -> &StageSet {
        &self.stages
    }
    pub fn stages_mut(&mut self) -> &mut StageSet {
        &mut self.stages
    }
    pub fn numbers(&self) -> &ChainNumbers {
        &self.numbers
    }
    /// Each stage's ms in the last frame, in stage order.
    pub fn stage_ms(&self) -> &[f64] {
        &self.stage_ms
    }
    /// This frame's stats (after [`process`](Self::process)).
    pub fn stats(&self) -> &[Stat] {
        &self.stats
    }
    pub fn faults(&self) -> u64 {
        self.stages.stages().iter().map(|s| s.faults()).sum()
    }
    /// (stage, shapes refused) for `overlay` stages that had any.
    pub fn shapes_refused_by_stage(&self) -> Vec<(String, u64)> {
        self.stages
            .stages()
            .iter()
            .filter(|s| s.shapes_refused() > 0)
            .map(|s| (s.name().to_string(), s.shapes_refused()))
            .collect()
    }
    /// (stage, messages refused) for stages that had any.
    pub fn refusals_by_stage(&self) -> Vec<(String, u64)> {
        self.stages
            .stages()
            .iter()
            .zip(&self.refused)
            .filter(|(_, n)| **n > 0)
            .map(|(s, n)| (s.name().to_string(), *n))
            .collect()
    }

    /// Everything one frame goes through in this chain: stats, then topics,
    /// then draw stages (unless `draw` is off: nobody looks at this chain's
    /// frames), each kind in configured order, within the budget.
    pub fn process(
        &mut self,
        info: &FrameInfo,
        detections: &[Detection],
        mut frame: Frame,
        draw: bool,
    ) -> ChainOutput {
        self.stages.apply_reloads(info.index);
        let started = Instant::now();
        let budget = self.limits.frame_budget;
        let mut over = false;
        let mut overrun_at: Option<usize> = None;
        let mut messages = Vec::new();
        let mut origins = Vec::new();
        self.stats.clear();
        self.stage_ms.iter_mut().for_each(|m| *m = 0.0);
        for kind in StageKind::ALL {
            if kind == StageKind::Draw && !draw {
                continue;
            }
            for i in 0..self.stages.stages().len() {
                if self.stages.stages()[i].kind() != kind {
                    continue;
                }
                if over {
                    self.numbers.skipped += 1;
                    continue;
                }
                let t = Instant::now();
                let stage = &mut self.stages.stages_mut()[i];
                match kind {
                    StageKind::Stats => self.stats.extend(stage.update(info, detections)),
                    StageKind::Topics => {
                        let out = stage.route(info, &self.stats);
                        let room = self
                            .limits
                            .max_messages_per_frame
                            .saturating_sub(messages.len());
                        let (ok, refused) =
                            self.policy.apply(out, self.limits.max_message_bytes, room);
                        messages.extend(ok);
                        origins.resize(messages.len(), i);
                        self.refuse(i, refused, info.index);
                    }
                    StageKind::Draw => stage.draw_on(info, &mut frame, detections, &self.stats),
                }
                self.stage_ms[i] = t.elapsed().as_secs_f64() * 1000.0;
                self.numbers.calls += 1;
                if budget.is_some_and(|b| started.elapsed() > b) {
                    over = true;
                    overrun_at = Some(i);
                }
            }
        }
        self.count_overrun(overrun_at, info.index);
        self.numbers.messages += messages.len() as u64;
        self.numbers
            .add_frame(started.elapsed().as_secs_f64() * 1000.0);
        ChainOutput {
            messages,
            origins,
            drawn: frame.into_drawn(),
        }
    }

    fn refuse(&mut self, stage: usize, refused: Vec<(String, Refusal)>, frame: u64) {
        if refused.is_empty() {
            return;
        }
        self.numbers.refusals += refused.len() as u64;
        self.refused[stage] += refused.len() as u64;
        let (topic, why) = &refused[0];
        let shown: String = topic.chars().take(80).collect();
        self.message_refused(stage, &format!("{why} (topic {shown:?})"), frame);
    }

    /// A message of stage `i` was refused (here or by MQTT): its first
    /// refusal is logged and raised as its event; all are counted.
    pub fn message_refused(&mut self, i: usize, reason: &str, frame: u64) {
        if let Some(s) = self.stages.stages_mut().get_mut(i) {
            s.message_refused(reason, frame);
        }
    }

    /// The name of stage `i`.
    pub fn stage_name(&self, i: usize) -> &str {
        self.stages.stages().get(i).map(|s| s.name()).unwrap_or("?")
    }

    /// The budget ran out during stage `at` (or was kept: `None`).
    fn count_overrun(&mut self, at: Option<usize>, frame: u64) {
        let Some(i) = at else {
            self.overruns_in_a_row.iter_mut().for_each(|n| *n = 0);
            return;
        };
        self.numbers.overruns += 1;
        self.overruns_in_a_row[i] += 1;
        let budget = self.limits.frame_budget.unwrap_or_default();
        let stage = &mut self.stages.stages_mut()[i];
        let reason = format!("chain over its frame budget of {} ms during this stage; later stages skipped the frame", budget.as_millis());
        self.events
            .push(PluginEvent::overrun(stage.name(), stage.version(), &reason).with_frame(frame));
        if self.overruns_in_a_row[i] >= MAX_CONSECUTIVE_OVERRUNS && !stage.is_disabled() {
            stage.disable(&format!(
                "{} frame budget overruns in a row",
                self.overruns_in_a_row[i]
            ));
        }
    }

    /// End of stream: the stats stages' `finish`, handed to the topics
    /// stages' `finish`; their messages, checked and placed.
    pub fn finish(&mut self, frames: u64) -> ChainOutput {
        let mut final_stats = Vec::new();
        for stage in self.stages.of_kind(StageKind::Stats) {
            let out = stage.finish();
            if !out.is_empty() {
                let text: Vec<String> = out
                    .iter()
                    .map(|s| format!("{}={}", s.name, s.value))
                    .collect();
                tracing::info!(chain = %self.id, plugin = %stage.name(), "final stats: {}", text.join(" "));
            }
            final_stats.extend(out);
        }
        let (mut messages, mut origins) = (Vec::new(), Vec::new());
        for i in 0..self.stages.stages().len() {
            if self.stages.stages()[i].kind() != StageKind::Topics {
                continue;
            }
            let out = self.stages.stages_mut()[i].finish_topics(&final_stats);
            let room = self
                .limits
                .max_messages_per_frame
                .saturating_sub(messages.len());
            let (ok, refused) = self.policy.apply(out, self.limits.max_message_bytes, room);
            messages.extend(ok);
            origins.resize(messages.len(), i);
            self.refuse(i, refused, frames);
        }
        self.numbers.messages += messages.len() as u64;
        ChainOutput {
            messages,
            origins,
            drawn: None,
        }
    }

    /// Events since the last call (plugin events, refusals, overruns).
    pub fn take_events(&mut self, frame: u64) -> Vec<PluginEvent> {
        let mut out = self.stages.take_events(frame);
        out.append(&mut self.events);
        out
    }
}
