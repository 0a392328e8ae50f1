//! One loaded stage: its compiled component, its live instance, its limits,
//! and how it survives faults (a checkpoint every few good calls and the
//! calls since in a [`Journal`], re-create from them with back-off, disable
//! after repeated faults) and
//! hot reloads (a [`Candidate`] instantiated and configured off the frame
//! path; between two frames only `save` of the old instance into `restore`
//! of the new one, and the switch).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmtime::component::{InstancePre, ResourceTable};
use wasmtime::{Engine, Store, StoreLimitsBuilder};

use super::bindings::{ApiVersion, Detection, Exports, FrameInfo, Message, Stat};
use super::events::{PluginEvent, PluginVersion};
use super::frame::Frame;
use super::journal::{Call, Journal};
use super::raster::{self, Painted};
use super::sandbox::{wasi_ctx, StageState};
use super::ticker::Gate;
use super::{
    budget, Limits, PluginError, StageKind, FAULT_BACKOFF_BASE, FAULT_BACKOFF_MAX,
    MAX_CONSECUTIVE_FAULTS, START_TIMEOUT,
};

/// A validated, compiled component, ready to instantiate.
pub struct Compiled {
    pub(crate) pre: InstancePre<StageState>,
    pub api: ApiVersion,
    /// sha256 of the `.wasm` bytes, hex.
    pub hash: String,
    pub exports: Vec<String>,
}

impl Compiled {
    /// Whether it is a draw stage of world `overlay` (it returns shapes).
    pub fn is_overlay(&self) -> bool {
        self.api.contract().overlay && self.exports.iter().any(|e| e == "overlay")
    }
}

struct Live {
    store: Store<StageState>,
    exports: Box<dyn Exports>,
}

/// Everything needed to make a configured instance of a stage, on any thread:
/// the reload worker makes the next version's instance with it, the frame
/// loop re-creates a faulted one.
#[derive(Clone)]
pub struct Recipe {
    pub name: String,
    pub path: PathBuf,
    pub kind: StageKind,
    pub settings: Vec<(String, String)>,
    pub limits: Limits,
    engine: Engine,
    ticker: Arc<Gate>,
}

/// A new version of a stage, instantiated and configured (off the frame
/// path), waiting for [`Stage::swap`] to hand it the running state.
pub struct Candidate {
    compiled: Arc<Compiled>,
    live: Live,
}

impl Candidate {
    /// sha256 of the new version's `.wasm` bytes.
    pub fn hash(&self) -> &str {
        &self.compiled.hash
    }
}

/// A loaded stage. Calls never fail: a fault is logged, counted and turned
/// into an event; the frame goes on without this stage's output.
pub struct Stage {
    recipe: Recipe,
    compiled: Arc<Compiled>,
    generation: u32,
    live: Option<Live>,
    /// The last `save`: what a re-created instance restores, before it is
    /// handed the journal's calls (a stats or topics stage saves every
    /// [`super::journal::CHECKPOINT_EVERY`] calls, a draw stage every call).
    checkpoint: Vec<u8>,
    journal: Journal,
    faults: u64,
    consecutive_faults: u32,
    retry_at: Option<Instant>,
    /// The instance being re-created after a fault, on a thread of its own.
    recreating: Option<std::thread::JoinHandle<Result<Live, PluginError>>>,
    skipped: u64,
    disabled: bool,
    reloads: u64,
    events: Vec<PluginEvent>,
    busy: Duration,
    calls: u64,
    /// A message it returned was refused by MQTT (counted there) and said so.
    refusal_reported: bool,
    /// Shapes it returned beyond a frame's bounds (`raster`), not painted.
    shapes_refused: u64,
}

fn trap_text(e: &wasmtime::Error, limits: &Limits) -> String {
    if let Some(exceeded) = e.downcast_ref::<budget::Exceeded>() {
        return exceeded.to_string();
    }
    match e.downcast_ref::<wasmtime::Trap>() {
        Some(wasmtime::Trap::Interrupt) => format!(
            "deadline of {} ms exceeded",
            limits.call_timeout.as_millis()
        ),
        Some(t) => format!("trap: {t}"),
        None => {
            let text = format!("{e:#}");
            if text.contains("memory") && text.contains("limit")
                || text.contains("forcing trap when growing memory")
            {
                format!(
                    "memory limit of {} MiB reached: {text}",
                    limits.memory >> 20
                )
            } else {
                // A host call's own error (e.g. a call that would wait), without
                // the multi-line wasm backtrace wrapped around it.
                e.root_cause().to_string()
            }
        }
    }
}

/// What a good call leaves for a re-created instance.
enum After {
    /// Nothing (the end-of-stream calls).
    Nothing,
    /// A checkpoint (`save`) right away (a draw stage: its frames are not journaled).
    Save,
    /// The call in the journal; a checkpoint once one is due.
    Record(Call),
}

/// Drop a replaced instance and its compiled code on a thread of their own.
fn retire(live: Option<Live>, compiled: Arc<Compiled>) {
    let spawned = std::thread::Builder::new()
        .name("plugin-retire".into())
        .spawn(move || drop((live, compiled)));
    if let Err(e) = spawned {
        // The closure (and what it owns) is dropped right here instead.
        tracing::debug!("no thread to free a replaced plugin version ({e}); freed between frames");
    }
}

impl Recipe {
    pub(crate) fn new(
        name: &str,
        path: &Path,
        kind: StageKind,
        settings: Vec<(String, String)>,
        engine: Engine,
        ticker: Arc<Gate>,
        limits: Limits,
    ) -> Recipe {
        Recipe {
            name: name.to_string(),
            path: path.to_path_buf(),
            kind,
            settings,
            limits,
            engine,
            ticker,
        }
    }

    /// Limits while an instance is made (instantiate + `configure`): off the
    /// frame path, with the longer [`START_TIMEOUT`] as its deadline.
    fn start_limits(&self) -> Limits {
        Limits {
            call_timeout: self.limits.call_timeout.max(START_TIMEOUT),
            ..self.limits
        }
    }

    /// A new instance of `compiled`, configured with the stage's settings.
    fn instantiate(&self, compiled: &Compiled) -> Result<Live, PluginError> {
        let state = StageState {
            name: self.name.clone(),
            wasi: wasi_ctx(),
            table: ResourceTable::new(),
            limits: StoreLimitsBuilder::new()
                .memory_size(self.limits.memory)
                .trap_on_grow_failure(true)
                .build(),
            budget: None,
            ticker: self.ticker.clone(),
            in_flight: None,
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.limits);
        budget::install(&mut store);
        let start = self.start_limits();
        budget::arm(&mut store, start.call_timeout);
        let world = self.kind.world();
        let wrong = |e: wasmtime::Error| PluginError::WrongWorld {
            name: self.name.clone(),
            path: self.path.clone(),
            world,
            version: compiled.api.as_str(),
            reason: format!("{e:#}"),
        };
        let instance =
            compiled
                .pre
                .instantiate(&mut store)
                .map_err(|e| PluginError::Instantiate {
                    name: self.name.clone(),
                    reason: trap_text(&e, &start),
                })?;
        let exports =
            (compiled.api.contract().bind)(self.kind, &mut store, &instance).map_err(wrong)?;
        let mut live = Live { store, exports };
        budget::arm(&mut live.store, start.call_timeout);
        let res = live.exports.configure(&mut live.store, &self.settings);
        budget::disarm(&mut live.store);
        match res {
            Ok(Ok(())) => Ok(live),
            Ok(Err(reason)) => Err(PluginError::Configure {
                name: self.name.clone(),
                reason,
            }),
            Err(e) => Err(PluginError::Configure {
                name: self.name.clone(),
                reason: format!("trapped: {}", trap_text(&e, &start)),
            }),
        }
    }

    /// The next version of this stage, instantiated and configured: what the
    /// reload worker does off the frame path.
    pub fn candidate(&self, compiled: Compiled) -> Result<Candidate, PluginError> {
        let live = self.instantiate(&compiled)?;
        Ok(Candidate {
            compiled: Arc::new(compiled),
            live,
        })
    }

    fn call_live<R>(
        &self,
        live: &mut Live,
        f: impl FnOnce(&dyn Exports, &mut Store<StageState>) -> wasmtime::Result<R>,
    ) -> wasmtime::Result<R> {
        budget::arm(&mut live.store, self.limits.call_timeout);
        let r = f(&*live.exports, &mut live.store);
        budget::disarm(&mut live.store);
        r
    }

    fn save_live(&self, live: &mut Live) -> wasmtime::Result<Vec<u8>> {
        self.call_live(live, |e, s| e.save(s))
    }

    fn restore_live(&self, live: &mut Live, state: &[u8]) -> Result<(), String> {
        let r = self.call_live(live, |e, s| e.restore(s, state));
        match r {
            Ok(r) => r,
            Err(e) => Err(format!("restore trapped: {}", trap_text(&e, &self.limits))),
        }
    }

    /// A new instance in the state of the last good call: `checkpoint`
    /// restored, then the journal's calls again (outputs dropped).
    fn revive(
        &self,
        compiled: &Compiled,
        checkpoint: &[u8],
        journal: &[Call],
    ) -> Result<Live, PluginError> {
        let mut live = self.instantiate(compiled)?;
        let restore = |reason| PluginError::Restore {
            name: self.name.clone(),
            reason,
        };
        self.restore_live(&mut live, checkpoint).map_err(restore)?;
        for (i, call) in journal.iter().enumerate() {
            let r = self.call_live(&mut live, |e, s| match call {
                Call::Update(info, dets) => e.update(s, info, dets).map(drop),
                Call::Route(info, stats) => e.route(s, info, stats).map(drop),
            });
            r.map_err(|e| {
                restore(format!(
                    "call {} of the {} since the checkpoint trapped when handed again: {}",
                    i + 1,
                    journal.len(),
                    trap_text(&e, &self.limits)
                ))
            })?;
        }
        Ok(live)
    }
}

impl Stage {
    pub(crate) fn new(recipe: Recipe, compiled: Arc<Compiled>) -> Result<Stage, PluginError> {
        let live = recipe.instantiate(&compiled)?;
        Ok(Stage {
            recipe,
            compiled,
            generation: 1,
            live: Some(live),
            checkpoint: Vec::new(),
            journal: Journal::default(),
            faults: 0,
            consecutive_faults: 0,
            retry_at: None,
            recreating: None,
            skipped: 0,
            disabled: false,
            reloads: 0,
            events: Vec::new(),
            busy: Duration::ZERO,
            calls: 0,
            refusal_reported: false,
            shapes_refused: 0,
        })
    }

    pub fn name(&self) -> &str {
        &self.recipe.name
    }
    pub fn kind(&self) -> StageKind {
        self.recipe.kind
    }
    pub fn path(&self) -> &Path {
        &self.recipe.path
    }
    /// How to make another instance of this stage (for the reload worker).
    pub fn recipe(&self) -> &Recipe {
        &self.recipe
    }
    pub fn faults(&self) -> u64 {
        self.faults
    }
    pub fn is_disabled(&self) -> bool {
        self.disabled
    }
    pub fn api(&self) -> ApiVersion {
        self.compiled.api
    }
    /// Frames this stage sat out while waiting to be re-created.
    pub fn skipped(&self) -> u64 {
        self.skipped
    }
    pub fn reloads(&self) -> u64 {
        self.reloads
    }
    /// Which version of the plugin is running: a generation counted from 1
    /// at start, and the content hash.
    pub fn version(&self) -> PluginVersion {
        PluginVersion {
            generation: self.generation,
            hash: self.compiled.hash.clone(),
        }
    }
    pub fn take_events(&mut self) -> Vec<PluginEvent> {
        std::mem::take(&mut self.events)
    }
    /// Mean wall time of a call, in milliseconds.
    pub fn mean_ms(&self) -> f64 {
        if self.calls == 0 {
            0.0
        } else {
            self.busy.as_secs_f64() * 1000.0 / self.calls as f64
        }
    }

    /// Make sure an instance is live: once the back-off after a fault has
    /// passed and the instance made meanwhile off the frame path is ready,
    /// restore the last checkpoint into it. `false`: sit this call out.
    fn ensure_live(&mut self) -> bool {
        if self.disabled {
            return false;
        }
        if self.live.is_some() {
            return true;
        }
        if self.retry_at.is_some_and(|t| Instant::now() < t)
            || self.recreating.as_ref().is_some_and(|h| !h.is_finished())
        {
            self.skipped += 1;
            return false;
        }
        let result = match self.recreating.take() {
            Some(h) => h.join().unwrap_or_else(|_| {
                Err(PluginError::Instantiate {
                    name: self.recipe.name.clone(),
                    reason: "the thread re-creating it panicked".into(),
                })
            }),
            None => self
                .recipe
                .revive(&self.compiled, &self.checkpoint, self.journal.calls()),
        };
        match result {
            Ok(live) => {
                tracing::info!(plugin = %self.name(), version = %self.version(), "stage re-created from its last checkpoint");
                self.events
                    .push(PluginEvent::recovered(self.name(), self.version()));
                self.live = Some(live);
                true
            }
            Err(e) => {
                self.record_fault("re-create", e.to_string());
                false
            }
        }
    }

    /// Instantiate, configure and revive (checkpoint and journal) a fresh
    /// instance on a thread of its own while the back-off runs (a Python or
    /// JavaScript guest takes ~100 ms). Without a thread,
    /// [`ensure_live`](Self::ensure_live) makes it inline.
    fn start_recreate(&mut self) {
        let (recipe, compiled) = (self.recipe.clone(), self.compiled.clone());
        let (state, calls) = (self.checkpoint.clone(), self.journal.calls().to_vec());
        let spawned = std::thread::Builder::new()
            .name("plugin-recreate".into())
            .spawn(move || recipe.revive(&compiled, &state, &calls));
        self.recreating = match spawned {
            Ok(h) => Some(h),
            Err(e) => {
                tracing::debug!(plugin = %self.name(), "no thread to re-create the stage ({e}); it is re-created between frames");
                None
            }
        };
    }

    /// Stop calling this stage (the chain it is in decided: repeated budget overruns).
    pub fn disable(&mut self, reason: &str) {
        self.disabled = true;
        self.live = None;
        self.recreating = None;
        tracing::error!(plugin = %self.name(), version = %self.version(), "stage disabled: {reason}");
        self.events.push(PluginEvent::disabled(
            self.name(),
            self.version(),
            self.consecutive_faults,
            reason,
        ));
    }

    fn record_fault(&mut self, call: &str, reason: String) {
        self.faults += 1;
        self.consecutive_faults += 1;
        self.live = None;
        tracing::error!(plugin = %self.name(), version = %self.version(), call, faults = self.faults, "stage faulted: {reason}");
        self.events.push(PluginEvent::fault(
            self.name(),
            self.version(),
            call,
            &reason,
        ));
        if self.consecutive_faults >= MAX_CONSECUTIVE_FAULTS {
            self.disabled = true;
            self.recreating = None;
            tracing::error!(plugin = %self.name(), version = %self.version(), faults = self.faults, "stage disabled after {} faults in a row", self.consecutive_faults);
            self.events.push(PluginEvent::disabled(
                self.name(),
                self.version(),
                self.consecutive_faults,
                &reason,
            ));
        } else {
            let backoff = FAULT_BACKOFF_BASE
                .saturating_mul(1 << (self.consecutive_faults - 1).min(16))
                .min(FAULT_BACKOFF_MAX);
            self.retry_at = Some(Instant::now() + backoff);
            self.start_recreate();
        }
    }

    /// One call with the deadline re-armed; a good call is kept as `after`
    /// says (a checkpoint `save` once due), a trap is recorded as a fault.
    fn call<R>(
        &mut self,
        what: &str,
        after: After,
        f: impl FnOnce(&dyn Exports, &mut Store<StageState>) -> wasmtime::Result<R>,
    ) -> Option<R> {
        if !self.ensure_live() {
            return None;
        }
        let mut live = self.live.take()?;
        let t0 = Instant::now();
        let mut res = self.recipe.call_live(&mut live, f);
        let due = match after {
            After::Nothing => false,
            After::Save => true,
            After::Record(call) => res.is_ok() && self.journal.push(call),
        };
        if due {
            if let Ok(r) = res {
                res = self.recipe.save_live(&mut live).map(|state| {
                    self.checkpoint = state;
                    self.journal.clear();
                    r
                });
            }
        }
        self.busy += t0.elapsed();
        self.calls += 1;
        match res {
            Ok(r) => {
                self.live = Some(live);
                self.consecutive_faults = 0;
                self.retry_at = None;
                Some(r)
            }
            Err(e) => {
                // After a trap the instance is unusable; it is re-created on a later call.
                let reason = trap_text(&e, &self.recipe.limits);
                self.record_fault(what, reason);
                None
            }
        }
    }

    /// `stats.update`; empty for other kinds or on a fault.
    pub fn update(&mut self, info: &FrameInfo, detections: &[Detection]) -> Vec<Stat> {
        let call = Call::Update(info.clone(), detections.to_vec());
        self.call("update", After::Record(call), |e, s| {
            e.update(s, info, detections)
        })
        .unwrap_or_default()
    }

    /// `stats.finish`; empty for other kinds or on a fault.
    pub fn finish(&mut self) -> Vec<Stat> {
        self.call("finish", After::Nothing, |e, s| e.finish_stats(s))
            .unwrap_or_default()
    }

    /// `topics.route`; empty for other kinds or on a fault.
    pub fn route(&mut self, info: &FrameInfo, stats: &[Stat]) -> Vec<Message> {
        let call = Call::Route(info.clone(), stats.to_vec());
        self.call("route", After::Record(call), |e, s| e.route(s, info, stats))
            .unwrap_or_default()
    }

    /// `topics.finish` (0.2.0 on) at the end of the stream; a 0.1.0 topics
    /// stage has none and publishes nothing here.
    pub fn finish_topics(&mut self, stats: &[Stat]) -> Vec<Message> {
        self.call("finish", After::Nothing, |e, s| e.finish_topics(s, stats))
            .unwrap_or_default()
    }

    /// A draw stage on `frame`: `draw.draw` (the pixels it returns replace
    /// the frame) or `overlay.overlay` (the host paints the shapes it returns
    /// on the frame). The frame is left as it is for other kinds, on a fault,
    /// or when a pixel stage returns a buffer of the wrong size.
    pub fn draw_on(
        &mut self,
        info: &FrameInfo,
        frame: &mut Frame,
        detections: &[Detection],
        stats: &[Stat],
    ) {
        if self.compiled.is_overlay() {
            let shapes = self.call("overlay", After::Save, |e, s| {
                e.overlay(s, info, detections, stats)
            });
            if let Some(shapes) = shapes.flatten() {
                let t = Instant::now();
                let done = raster::paint(frame.to_paint(), info.width, info.height, &shapes);
                self.busy += t.elapsed();
                self.count_refused(done, info.index);
            }
            return;
        }
        let pixels = frame.pixels();
        let Some(out) = self
            .call("draw", After::Save, |e, s| {
                e.draw(s, info, pixels, detections, stats)
            })
            .flatten()
        else {
            return;
        };
        if out.len() != pixels.len() {
            let reason = format!(
                "returned {} bytes for a {}-byte frame; frame left undrawn",
                out.len(),
                pixels.len()
            );
            self.record_fault("draw", reason);
            return;
        }
        frame.set(out);
    }

    /// [`draw_on`](Self::draw_on) a frame of its own: the drawn frame, or
    /// `None` if the stage did not draw.
    pub fn draw(
        &mut self,
        info: &FrameInfo,
        pixels: &[u8],
        detections: &[Detection],
        stats: &[Stat],
    ) -> Option<Vec<u8>> {
        let mut frame = Frame::new(pixels);
        self.draw_on(info, &mut frame, detections, stats);
        frame.into_drawn()
    }

    /// Shapes not painted (beyond a frame's bounds) are counted; the first
    /// ones are logged and raised as a `shapes-refused` event.
    fn count_refused(&mut self, done: Painted, frame: u64) {
        let Some(why) = done.reason else {
            return;
        };
        if self.shapes_refused == 0 {
            let reason = format!(
                "{} of {} shapes refused: {why}",
                done.refused,
                done.refused + done.painted
            );
            tracing::warn!(plugin = %self.name(), version = %self.version(), frame, "{reason}; further ones are only counted");
            self.events.push(
                PluginEvent::shapes_refused(self.name(), self.version(), &reason).with_frame(frame),
            );
        }
        self.shapes_refused += done.refused as u64;
    }

    /// Shapes this stage returned that were not painted (beyond a frame's bounds).
    pub fn shapes_refused(&self) -> u64 {
        self.shapes_refused
    }

    /// `save` of the live instance (or, while there is none, the state of
    /// its last good call: see [`last_good_state`](Self::last_good_state)).
    pub fn save(&mut self) -> Option<Vec<u8>> {
        match self.live.take() {
            Some(mut live) => {
                let r = self.recipe.save_live(&mut live);
                match r {
                    Ok(state) => {
                        self.live = Some(live);
                        self.checkpoint.clone_from(&state);
                        self.journal.clear();
                        Some(state)
                    }
                    Err(e) => {
                        let reason = trap_text(&e, &self.recipe.limits);
                        self.record_fault("save", reason);
                        None
                    }
                }
            }
            None => Some(self.last_good_state()),
        }
    }

    /// With no live instance (it trapped): the checkpoint, and when calls
    /// were journaled since, the `save` of a throwaway instance revived from
    /// both (the checkpoint alone if that fails, warned).
    fn last_good_state(&self) -> Vec<u8> {
        if self.journal.is_empty() {
            return self.checkpoint.clone();
        }
        let revived = self
            .recipe
            .revive(&self.compiled, &self.checkpoint, self.journal.calls());
        let saved = revived.and_then(|mut live| {
            self.recipe
                .save_live(&mut live)
                .map_err(|e| PluginError::Restore {
                    name: self.recipe.name.clone(),
                    reason: format!("save trapped: {}", trap_text(&e, &self.recipe.limits)),
                })
        });
        saved.unwrap_or_else(|e| {
            tracing::warn!(plugin = %self.name(), calls = self.journal.len(), "the calls since the last checkpoint are not in the state handed on: {e}");
            self.checkpoint.clone()
        })
    }

    /// `restore` into the live instance.
    pub fn restore(&mut self, state: &[u8]) -> Result<(), String> {
        if !self.ensure_live() {
            return Err("stage is not running".into());
        }
        let mut live = self.live.take().ok_or("stage is not running")?;
        let r = self.recipe.restore_live(&mut live, state);
        self.live = Some(live);
        if r.is_ok() {
            self.checkpoint = state.to_vec();
            self.journal.clear();
        }
        r
    }

    /// Hot reload, between two frames: hand the running instance's state to
    /// `next` (made off the frame path: `save` -> `restore`) and switch to it.
    /// On any failure the running version stays and the reason is returned.
    pub(crate) fn swap(&mut self, next: Candidate) -> Result<(), String> {
        let from = self.version();
        let to = PluginVersion {
            generation: self.generation + 1,
            hash: next.compiled.hash.clone(),
        };
        let state = match self.live.take() {
            Some(mut live) => match self.recipe.save_live(&mut live) {
                Ok(s) => {
                    self.live = Some(live);
                    s
                }
                Err(e) => {
                    // The old instance is gone after a trap: carry its last good state instead.
                    tracing::warn!(plugin = %self.name(), "save before reload trapped ({}); carrying the last checkpoint", trap_text(&e, &self.recipe.limits));
                    self.last_good_state()
                }
            },
            None => self.last_good_state(),
        };
        let Candidate { compiled, mut live } = next;
        self.recipe
            .restore_live(&mut live, &state)
            .map_err(|r| format!("restore failed: {r}"))?;
        // Freeing the old instance and its compiled code (unmapping tens of
        // MB for a Python or JavaScript guest) takes milliseconds: not here.
        retire(
            self.live.replace(live),
            std::mem::replace(&mut self.compiled, compiled),
        );
        self.generation = to.generation;
        self.checkpoint = state;
        self.journal.clear();
        self.reloads += 1;
        self.disabled = false;
        self.consecutive_faults = 0;
        self.retry_at = None;
        self.recreating = None;
        tracing::info!(plugin = %self.name(), %from, %to, "plugin reloaded; state carried over");
        Ok(())
    }

    /// A message this stage returned was refused (MQTT counts them all):
    /// the first one is logged and raised as a `message-refused` event.
    pub fn message_refused(&mut self, reason: &str, frame: u64) {
        if !self.refusal_reported {
            self.refusal_reported = true;
            tracing::warn!(plugin = %self.name(), version = %self.version(), frame, "message refused: {reason}; further ones are only counted");
            self.events.push(
                PluginEvent::message_refused(self.name(), self.version(), reason).with_frame(frame),
            );
        }
    }

    pub(crate) fn push_event(&mut self, e: PluginEvent) {
        self.events.push(e);
    }
}
