//! The WebAssembly stage runtime: one engine, one `Store` per stage, limits
//! per call (epoch deadline) and per store (memory), traps contained.

pub mod bindings;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use thiserror::Error;
use wasmtime::component::{Component, HasSelf, Linker, ResourceTable};
use wasmtime::{Config, Engine, Store, StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use bindings::{draw, stats, topics, Detection, FrameInfo, Level, Message, Stat};

/// How often the epoch ticker advances; call deadlines are rounded up to it.
pub const EPOCH_TICK: Duration = Duration::from_millis(5);
/// Default wall-clock budget of one call into a stage.
pub const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_millis(200);
/// Default cap on a stage's linear memory.
pub const DEFAULT_MEMORY_LIMIT: usize = 64 << 20;
/// A stage that faults this many times in a row is disabled.
pub const MAX_CONSECUTIVE_FAULTS: u32 = 3;

#[derive(Debug, Error)]
pub enum PluginError {
    #[error("plugin {name}: file {path} does not exist")]
    Missing { name: String, path: PathBuf },
    #[error("plugin {name}: cannot read {path}: {source}")]
    Read { name: String, path: PathBuf, source: std::io::Error },
    #[error("plugin {name}: {path} is not WebAssembly")]
    NotWasm { name: String, path: PathBuf },
    #[error("plugin {name}: {path} is a core WebAssembly module, not a component (build it for wasm32-wasip2)")]
    CoreModule { name: String, path: PathBuf },
    #[error("plugin {name}: {path} is not a valid component: {reason}")]
    Invalid { name: String, path: PathBuf, reason: String },
    #[error("plugin {name}: {path} is built against {found}; this host serves {PACKAGE}@{VERSION}", PACKAGE = bindings::PACKAGE, VERSION = bindings::VERSION)]
    Version { name: String, path: PathBuf, found: String },
    #[error("plugin {name}: {path} does not implement world `{world}` of {PACKAGE}@{VERSION}: {reason}", PACKAGE = bindings::PACKAGE, VERSION = bindings::VERSION)]
    WrongWorld { name: String, path: PathBuf, world: &'static str, reason: String },
    #[error("plugin {name}: configure failed: {reason}")]
    Configure { name: String, reason: String },
    #[error("plugin runtime: {0}")]
    Engine(String),
}

/// Which world a stage implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StageKind {
    Stats,
    Topics,
    Draw,
}

impl StageKind {
    pub fn world(self) -> &'static str {
        match self {
            StageKind::Stats => "stats",
            StageKind::Topics => "topics",
            StageKind::Draw => "draw",
        }
    }
}

/// Limits applied to every stage.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub call_timeout: Duration,
    pub memory: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { call_timeout: DEFAULT_CALL_TIMEOUT, memory: DEFAULT_MEMORY_LIMIT }
    }
}

/// What a store holds: an empty WASI context (no files, env, args, network),
/// the memory limiter and the stage's name for its log lines.
pub struct StageState {
    name: String,
    wasi: WasiCtx,
    table: ResourceTable,
    limits: StoreLimits,
}

impl WasiView for StageState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

impl stats::edgepipe::plugin::types::Host for StageState {}

impl stats::edgepipe::plugin::host::Host for StageState {
    fn log(&mut self, level: Level, message: String) {
        let plugin = self.name.as_str();
        match level {
            Level::Trace => tracing::trace!(plugin, "{message}"),
            Level::Debug => tracing::debug!(plugin, "{message}"),
            Level::Info => tracing::info!(plugin, "{message}"),
            Level::Warn => tracing::warn!(plugin, "{message}"),
            Level::Error => tracing::error!(plugin, "{message}"),
        }
    }
}

/// Advances the engine's epoch every [`EPOCH_TICK`] until dropped.
struct Ticker {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// One engine and linker shared by all stages.
pub struct PluginHost {
    engine: Engine,
    linker: Linker<StageState>,
    limits: Limits,
    _ticker: Ticker,
}

impl PluginHost {
    pub fn new(limits: Limits) -> Result<PluginHost, PluginError> {
        let mut config = Config::new();
        config.epoch_interruption(true);
        config.wasm_component_model(true);
        let engine = Engine::new(&config).map_err(|e| PluginError::Engine(format!("{e:#}")))?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(|e| PluginError::Engine(format!("{e:#}")))?;
        stats::Stats::add_to_linker::<StageState, HasSelf<StageState>>(&mut linker, |s| s)
            .map_err(|e| PluginError::Engine(format!("{e:#}")))?;
        let stop = Arc::new(AtomicBool::new(false));
        let weak = engine.weak();
        let stop2 = stop.clone();
        let thread = std::thread::Builder::new()
            .name("epoch-ticker".into())
            .spawn(move || {
                while !stop2.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    match weak.upgrade() {
                        Some(engine) => engine.increment_epoch(),
                        None => break,
                    }
                }
            })
            .map_err(|e| PluginError::Engine(format!("cannot start epoch ticker: {e}")))?;
        Ok(PluginHost { engine, linker, limits, _ticker: Ticker { stop, thread: Some(thread) } })
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Read, validate and compile a stage's component. Nothing is instantiated.
    pub fn compile(&self, name: &str, path: &Path, kind: StageKind) -> Result<Component, PluginError> {
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(PluginError::Missing { name: name.into(), path: path.into() })
            }
            Err(source) => return Err(PluginError::Read { name: name.into(), path: path.into(), source }),
        };
        if bytes.len() < 8 || &bytes[..4] != b"\0asm" {
            return Err(PluginError::NotWasm { name: name.into(), path: path.into() });
        }
        // Bytes 4..8: version 1 with layer 0 is a core module; layer 1 a component.
        if bytes[6..8] == [0, 0] {
            return Err(PluginError::CoreModule { name: name.into(), path: path.into() });
        }
        let component = Component::new(&self.engine, &bytes)
            .map_err(|e| PluginError::Invalid { name: name.into(), path: path.into(), reason: format!("{e:#}") })?;
        self.check_world(name, path, kind, &component)?;
        Ok(component)
    }

    /// Reject a component built for another version or world with a message
    /// that names both.
    fn check_world(&self, name: &str, path: &Path, kind: StageKind, component: &Component) -> Result<(), PluginError> {
        let ty = component.component_type();
        let prefix = format!("{}/", bindings::PACKAGE);
        for (import, _) in ty.imports(&self.engine) {
            if let Some(rest) = import.strip_prefix(&prefix) {
                let version = rest.split_once('@').map(|(_, v)| v).unwrap_or("(unversioned)");
                if version != bindings::VERSION {
                    return Err(PluginError::Version {
                        name: name.into(),
                        path: path.into(),
                        found: format!("{}@{version}", bindings::PACKAGE),
                    });
                }
            }
        }
        let exports: Vec<String> = ty.exports(&self.engine).map(|(n, _)| n.to_string()).collect();
        let required: &[&str] = match kind {
            StageKind::Stats => &["configure", "update", "finish", "save", "restore"],
            StageKind::Topics => &["configure", "route", "save", "restore"],
            StageKind::Draw => &["configure", "draw", "save", "restore"],
        };
        let missing: Vec<&str> = required.iter().copied().filter(|r| !exports.iter().any(|e| e == r)).collect();
        if !missing.is_empty() {
            return Err(PluginError::WrongWorld {
                name: name.into(),
                path: path.into(),
                world: kind.world(),
                reason: format!("missing export(s) {}; it exports: {}", missing.join(", "), exports.join(", ")),
            });
        }
        Ok(())
    }

    /// Compile, instantiate and configure a stage.
    pub fn load(
        &self,
        name: &str,
        path: &Path,
        kind: StageKind,
        settings: Vec<(String, String)>,
    ) -> Result<Stage, PluginError> {
        let component = self.compile(name, path, kind)?;
        let pre = self
            .linker
            .instantiate_pre(&component)
            .map_err(|e| PluginError::WrongWorld { name: name.into(), path: path.into(), world: kind.world(), reason: format!("{e:#}") })?;
        let mut stage = Stage {
            name: name.to_string(),
            path: path.to_path_buf(),
            kind,
            settings,
            engine: self.engine.clone(),
            pre,
            limits: self.limits,
            live: None,
            faults: 0,
            consecutive_faults: 0,
            disabled: false,
            busy: Duration::ZERO,
            calls: 0,
        };
        stage.instantiate()?;
        Ok(stage)
    }
}

enum Bindings {
    Stats(stats::Stats),
    Topics(topics::Topics),
    Draw(draw::Draw),
}

struct Live {
    store: Store<StageState>,
    bindings: Bindings,
}

/// A loaded stage. Calls never fail: a fault is logged and counted, the
/// frame goes on without this stage's output, and the instance is re-created.
pub struct Stage {
    name: String,
    path: PathBuf,
    kind: StageKind,
    settings: Vec<(String, String)>,
    engine: Engine,
    pre: wasmtime::component::InstancePre<StageState>,
    limits: Limits,
    live: Option<Live>,
    faults: u64,
    consecutive_faults: u32,
    disabled: bool,
    busy: Duration,
    calls: u64,
}

impl Stage {
    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn kind(&self) -> StageKind {
        self.kind
    }
    pub fn path(&self) -> &Path {
        &self.path
    }
    pub fn faults(&self) -> u64 {
        self.faults
    }
    pub fn is_disabled(&self) -> bool {
        self.disabled
    }
    /// Mean wall time of a call, in milliseconds.
    pub fn mean_ms(&self) -> f64 {
        if self.calls == 0 {
            0.0
        } else {
            self.busy.as_secs_f64() * 1000.0 / self.calls as f64
        }
    }

    fn deadline_ticks(&self) -> u64 {
        let tick = EPOCH_TICK.as_micros().max(1);
        (self.limits.call_timeout.as_micros().div_ceil(tick) as u64).max(1) + 1
    }

    fn instantiate(&mut self) -> Result<(), PluginError> {
        let state = StageState {
            name: self.name.clone(),
            wasi: WasiCtx::builder().build(),
            table: ResourceTable::new(),
            limits: StoreLimitsBuilder::new().memory_size(self.limits.memory).trap_on_grow_failure(true).build(),
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.limits);
        store.set_epoch_deadline(self.deadline_ticks());
        let world = self.kind.world();
        let wrong = |e: wasmtime::Error| PluginError::WrongWorld {
            name: self.name.clone(),
            path: self.path.clone(),
            world,
            reason: format!("{e:#}"),
        };
        let instance = self.pre.instantiate(&mut store).map_err(wrong)?;
        let bindings = match self.kind {
            StageKind::Stats => Bindings::Stats(stats::Stats::new(&mut store, &instance).map_err(wrong)?),
            StageKind::Topics => Bindings::Topics(topics::Topics::new(&mut store, &instance).map_err(wrong)?),
            StageKind::Draw => Bindings::Draw(draw::Draw::new(&mut store, &instance).map_err(wrong)?),
        };
        let mut live = Live { store, bindings };
        live.store.set_epoch_deadline(self.deadline_ticks());
        let settings = &self.settings;
        let res = match &live.bindings {
            Bindings::Stats(b) => b.call_configure(&mut live.store, settings),
            Bindings::Topics(b) => b.call_configure(&mut live.store, settings),
            Bindings::Draw(b) => b.call_configure(&mut live.store, settings),
        };
        match res {
            Ok(Ok(())) => {}
            Ok(Err(reason)) => return Err(PluginError::Configure { name: self.name.clone(), reason }),
            Err(e) => return Err(PluginError::Configure { name: self.name.clone(), reason: format!("trapped: {e:#}") }),
        }
        self.live = Some(live);
        Ok(())
    }

    /// Run one call with the deadline re-armed; on a trap, count it and
    /// re-create the instance (disabling the stage after repeated faults).
    fn call<R>(&mut self, what: &str, f: impl FnOnce(&Bindings, &mut Store<StageState>) -> wasmtime::Result<R>) -> Option<R> {
        if self.disabled {
            return None;
        }
        if self.live.is_none() {
            if let Err(e) = self.instantiate() {
                tracing::error!(plugin = %self.name, error = %e, "re-instantiation failed");
                self.fault_disable();
                return None;
            }
        }
        let ticks = self.deadline_ticks();
        let live = self.live.as_mut()?;
        live.store.set_epoch_deadline(ticks);
        let t0 = Instant::now();
        let res = f(&live.bindings, &mut live.store);
        self.busy += t0.elapsed();
        self.calls += 1;
        match res {
            Ok(r) => {
                self.consecutive_faults = 0;
                Some(r)
            }
            Err(e) => {
                self.faults += 1;
                self.consecutive_faults += 1;
                let kind = match e.downcast_ref::<wasmtime::Trap>() {
                    Some(wasmtime::Trap::Interrupt) => format!("deadline of {:?} exceeded", self.limits.call_timeout),
                    Some(t) => format!("trap: {t}"),
                    None => format!("{e:#}"),
                };
                tracing::error!(plugin = %self.name, call = what, faults = self.faults, "stage faulted: {kind}");
                // After a trap the instance is unusable: drop it, re-create on the next call.
                self.live = None;
                if self.consecutive_faults >= MAX_CONSECUTIVE_FAULTS {
                    self.fault_disable();
                }
                None
            }
        }
    }

    fn fault_disable(&mut self) {
        if !self.disabled {
            self.disabled = true;
            tracing::error!(plugin = %self.name, faults = self.faults, "stage disabled after repeated faults");
        }
    }

    /// `stats.update`; empty for other kinds or on a fault.
    pub fn update(&mut self, info: FrameInfo, detections: &[Detection]) -> Vec<Stat> {
        self.call("update", |b, s| match b {
            Bindings::Stats(b) => b.call_update(s, info, detections),
            _ => Ok(Vec::new()),
        })
        .unwrap_or_default()
    }

    /// `stats.finish`; empty for other kinds or on a fault.
    pub fn finish(&mut self) -> Vec<Stat> {
        self.call("finish", |b, s| match b {
            Bindings::Stats(b) => b.call_finish(s),
            _ => Ok(Vec::new()),
        })
        .unwrap_or_default()
    }

    /// `topics.route`; empty for other kinds or on a fault.
    pub fn route(&mut self, info: FrameInfo, stats: &[Stat]) -> Vec<Message> {
        self.call("route", |b, s| match b {
            Bindings::Topics(b) => b.call_route(s, info, stats),
            _ => Ok(Vec::new()),
        })
        .unwrap_or_default()
    }

    /// `draw.draw`; `None` (frame left as it is) for other kinds, on a fault,
    /// or when the stage returns a buffer of the wrong size.
    pub fn draw(&mut self, info: FrameInfo, pixels: &[u8], detections: &[Detection], stats: &[Stat]) -> Option<Vec<u8>> {
        let out = self.call("draw", |b, s| match b {
            Bindings::Draw(b) => b.call_draw(s, info, pixels, detections, stats).map(Some),
            _ => Ok(None),
        })??;
        if out.len() != pixels.len() {
            self.faults += 1;
            tracing::error!(plugin = %self.name, got = out.len(), expected = pixels.len(), "draw returned a frame of the wrong size; frame left undrawn");
            return None;
        }
        Some(out)
    }

    /// `save` of any world: the state to carry over a reload.
    pub fn save(&mut self) -> Option<Vec<u8>> {
        self.call("save", |b, s| match b {
            Bindings::Stats(b) => b.call_save(s),
            Bindings::Topics(b) => b.call_save(s),
            Bindings::Draw(b) => b.call_save(s),
        })
    }

    /// `restore` of any world.
    pub fn restore(&mut self, state: &[u8]) -> Result<(), String> {
        match self.call("restore", |b, s| match b {
            Bindings::Stats(b) => b.call_restore(s, state),
            Bindings::Topics(b) => b.call_restore(s, state),
            Bindings::Draw(b) => b.call_restore(s, state),
        }) {
            Some(r) => r,
            None => Err("restore trapped".into()),
        }
    }
}
