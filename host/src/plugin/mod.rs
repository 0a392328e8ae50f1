//! The WebAssembly stage runtime: one engine, one `Store` per stage, limits
//! per call (epoch deadline) and per store (memory), traps contained, every
//! contract version in `wit/` served, compiled components cached on disk, and
//! hot reload of changed `.wasm` files (compiled and instantiated off the
//! frame path, switched between two frames); components from an OCI
//! registry (`oci://REF`, tags polled) and signature checks (`signature`).

pub mod bindings;
pub mod budget;
pub mod cache;
mod canvas;
pub mod events;
pub mod frame;
mod journal;
mod no_wait;
pub mod oci;
pub mod raster;
pub mod reload;
mod sandbox;
pub mod signature;
pub mod sources;
mod stage;
pub mod stages;
pub mod ticker;

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use thiserror::Error;
use wasmtime::component::{Component, Linker};
use wasmtime::{Config, Engine};

use bindings::ApiVersion;
pub use cache::{ComponentCache, Origin};
pub use events::{PluginEvent, PluginVersion};
pub use journal::CHECKPOINT_EVERY;
pub use sandbox::StageState;
pub use stage::{Candidate, Compiled, Recipe, Stage};
pub use stages::{StageSet, StageSettings};
use ticker::Ticker;

/// How often the epoch ticker advances; call deadlines are rounded up to it.
pub const EPOCH_TICK: Duration = Duration::from_millis(5);
/// Default wall-clock budget of one call into a stage.
pub const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_millis(50);
/// Deadline for making an instance (instantiate + `configure`), or the call
/// deadline if that is longer. It is never on the frame path (start, the
/// reload worker, the re-create thread), and a 12-18 MB Python or JavaScript
/// guest's first run takes longer than a frame's 50 ms on a busy machine.
pub const START_TIMEOUT: Duration = Duration::from_secs(5);
/// Default cap on a stage's linear memory.
pub const DEFAULT_MEMORY_LIMIT: usize = 64 << 20;
/// A stage that faults this many times in a row is disabled.
pub const MAX_CONSECUTIVE_FAULTS: u32 = 3;
/// Wait after a fault before re-creating the instance; doubles per fault in a row.
pub const FAULT_BACKOFF_BASE: Duration = Duration::from_millis(100);
pub const FAULT_BACKOFF_MAX: Duration = Duration::from_secs(5);

#[derive(Debug, Error)]
pub enum PluginError {
    #[error("plugin {name}: file {path} does not exist")]
    Missing { name: String, path: PathBuf },
    #[error("plugin {name}: cannot read {path}: {source}")]
    Read {
        name: String,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("plugin {name}: {path} is not WebAssembly ({len} bytes, no `\\0asm` header)")]
    NotWasm {
        name: String,
        path: PathBuf,
        len: usize,
    },
    #[error("plugin {name}: {path} is a core WebAssembly module, not a component (build it for wasm32-wasip2)")]
    CoreModule { name: String, path: PathBuf },
    #[error("plugin {name}: {path} is not a valid component: {reason}")]
    Invalid {
        name: String,
        path: PathBuf,
        reason: String,
    },
    #[error("plugin {name}: {path} is built against {found}; this host serves {served}")]
    Version {
        name: String,
        path: PathBuf,
        found: String,
        served: String,
    },
    #[error("plugin {name}: {path} does not implement world `{world}` of edgepipe:plugin@{version}: {reason}")]
    WrongWorld {
        name: String,
        path: PathBuf,
        world: &'static str,
        version: &'static str,
        reason: String,
    },
    #[error("plugin {name}: instantiation failed: {reason}")]
    Instantiate { name: String, reason: String },
    #[error("plugin {name}: configure failed: {reason}")]
    Configure { name: String, reason: String },
    #[error("plugin {name}: restore failed: {reason}")]
    Restore { name: String, reason: String },
    #[error("plugin {name}: cannot watch {path} for changes: {reason}")]
    Watch {
        name: String,
        path: PathBuf,
        reason: String,
    },
    #[error("plugin runtime: {0}")]
    Engine(String),
    #[error("plugin {name}: {path} refused: {reason}")]
    Untrusted {
        name: String,
        path: PathBuf,
        reason: String,
    },
    #[error("plugin {name}: {reason}")]
    Registry { name: String, reason: String },
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
    pub const ALL: [StageKind; 3] = [StageKind::Stats, StageKind::Topics, StageKind::Draw];
    pub fn world(self) -> &'static str {
        match self {
            StageKind::Stats => "stats",
            StageKind::Topics => "topics",
            StageKind::Draw => "draw",
        }
    }
    /// The exports a component of this kind and version must have, given
    /// what it exports: a draw stage that exports `overlay` (0.4.0 on) is
    /// of world `overlay`.
    pub fn required_exports(self, api: ApiVersion, exports: &[String]) -> &'static [&'static str] {
        let contract = api.contract();
        if self == StageKind::Draw && contract.overlay && exports.iter().any(|e| e == "overlay") {
            return bindings::OVERLAY_EXPORTS;
        }
        (contract.required_exports)(self)
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
        Limits {
            call_timeout: DEFAULT_CALL_TIMEOUT,
            memory: DEFAULT_MEMORY_LIMIT,
        }
    }
}

/// What a component says about itself (for `edgepipe plugin check`).
#[derive(Debug, Clone)]
pub struct Inspection {
    /// Versions of `edgepipe:plugin` it imports (normally one).
    pub versions: Vec<String>,
    pub imports: Vec<String>,
    pub exports: Vec<String>,
    /// The worlds whose required exports it has.
    pub worlds: Vec<StageKind>,
}

struct HostInner {
    engine: Engine,
    linker: Linker<StageState>,
    limits: Limits,
    cache: ComponentCache,
    sources: RwLock<Arc<sources::Sources>>,
    ticker: Ticker,
}

/// One engine and linker shared by all stages; cheap to clone (the reload
/// worker compiles with a clone, off the frame path).
#[derive(Clone)]
pub struct PluginHost {
    inner: Arc<HostInner>,
}

fn engine_err(e: wasmtime::Error) -> PluginError {
    PluginError::Engine(format!("{e:#}"))
}

impl PluginHost {
    pub fn new(limits: Limits) -> Result<PluginHost, PluginError> {
        PluginHost::with_cache(limits, ComponentCache::new(None))
    }

    pub fn with_cache(limits: Limits, cache: ComponentCache) -> Result<PluginHost, PluginError> {
        let mut config = Config::new();
        config.epoch_interruption(true);
        config.wasm_component_model(true);
        if std::env::var_os("EDGEPIPE_WASM_PERFMAP").is_some() {
            config.profiler(wasmtime::ProfilingStrategy::PerfMap);
        }
        let engine = Engine::new(&config).map_err(engine_err)?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(engine_err)?;
        no_wait::add_to_linker(&mut linker).map_err(engine_err)?;
        bindings::link_all(&mut linker).map_err(engine_err)?;
        let ticker = Ticker::start(&engine)
            .map_err(|e| PluginError::Engine(format!("cannot start epoch ticker: {e}")))?;
        let sources = RwLock::new(Arc::new(sources::Sources::new(cache.dir())));
        let inner = HostInner {
            engine,
            linker,
            limits,
            cache,
            sources,
            ticker,
        };
        Ok(PluginHost {
            inner: Arc::new(inner),
        })
    }

    pub fn limits(&self) -> Limits {
        self.inner.limits
    }
    pub fn engine(&self) -> &Engine {
        &self.inner.engine
    }
    /// The epoch ticker's gate: a call into a store of this engine made
    /// other than through a [`Stage`] holds [`ticker::Gate::enter`]'s guard
    /// while it runs, or its deadline never comes.
    pub fn ticker(&self) -> &Arc<ticker::Gate> {
        self.inner.ticker.gate()
    }
    pub fn cache(&self) -> &ComponentCache {
        &self.inner.cache
    }
    /// Where components may come from and what they must prove.
    pub fn sources(&self) -> Arc<sources::Sources> {
        match self.inner.sources.read() {
            Ok(s) => s.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }
    /// Set the trusted keys, registry login and polling (from the configuration).
    pub fn set_sources(&self, s: sources::Sources) {
        let mut slot = match self.inner.sources.write() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        *slot = Arc::new(s);
    }

    /// With `[plugins] trusted_keys` set: refuse `bytes` unless one of them signed it.
    fn check_trust(&self, name: &str, path: &Path, bytes: &[u8]) -> Result<(), PluginError> {
        let Some(keys) = self.sources().trusted.clone() else {
            return Ok(());
        };
        match keys.verify(bytes) {
            Ok(key) => {
                tracing::debug!(plugin = name, key = %key.display(), "signature verified");
                Ok(())
            }
            Err(e) => Err(PluginError::Untrusted {
                name: name.into(),
                path: path.into(),
                reason: e.to_string(),
            }),
        }
    }

    /// Read a stage's file.
    pub fn read(name: &str, path: &Path) -> Result<Vec<u8>, PluginError> {
        match std::fs::read(path) {
            Ok(b) => Ok(b),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(PluginError::Missing {
                name: name.into(),
                path: path.into(),
            }),
            Err(source) => Err(PluginError::Read {
                name: name.into(),
                path: path.into(),
                source,
            }),
        }
    }

    fn check_header(name: &str, path: &Path, bytes: &[u8]) -> Result<(), PluginError> {
        if bytes.len() < 8 || &bytes[..4] != b"\0asm" {
            return Err(PluginError::NotWasm {
                name: name.into(),
                path: path.into(),
                len: bytes.len(),
            });
        }
        // Bytes 4..8: version 1 with layer 0 is a core module; layer 1 a component.
        if bytes[6..8] == [0, 0] {
            return Err(PluginError::CoreModule {
                name: name.into(),
                path: path.into(),
            });
        }
        Ok(())
    }

    /// Compile `bytes` (validating them) through the cache.
    fn component(
        &self,
        name: &str,
        path: &Path,
        bytes: &[u8],
        hash: &str,
    ) -> Result<(Component, Origin), PluginError> {
        Self::check_header(name, path, bytes)?;
        self.inner
            .cache
            .load_or_compile(&self.inner.engine, bytes, hash)
            .map_err(|e| PluginError::Invalid {
                name: name.into(),
                path: path.into(),
                reason: format!("{e:#}"),
            })
    }

    /// What a component imports and exports, and which worlds it fits.
    pub fn inspect(
        &self,
        name: &str,
        path: &Path,
        bytes: &[u8],
    ) -> Result<Inspection, PluginError> {
        let (component, _) = self.component(name, path, bytes, &cache::content_hash(bytes))?;
        Ok(self.inspect_component(&component))
    }

    fn inspect_component(&self, component: &Component) -> Inspection {
        let ty = component.component_type();
        let engine = &self.inner.engine;
        let imports: Vec<String> = ty.imports(engine).map(|(n, _)| n.to_string()).collect();
        let exports: Vec<String> = ty.exports(engine).map(|(n, _)| n.to_string()).collect();
        let prefix = format!("{}/", bindings::PACKAGE);
        let mut versions: Vec<String> = Vec::new();
        for import in &imports {
            if let Some(rest) = import.strip_prefix(&prefix) {
                let v = rest
                    .split_once('@')
                    .map(|(_, v)| v.to_string())
                    .unwrap_or_else(|| "(unversioned)".into());
                if !versions.contains(&v) {
                    versions.push(v);
                }
            }
        }
        let api = versions
            .first()
            .and_then(|v| ApiVersion::parse(v))
            .unwrap_or(ApiVersion::NEWEST);
        let worlds = StageKind::ALL
            .into_iter()
            .filter(|k| {
                k.required_exports(api, &exports)
                    .iter()
                    .all(|r| exports.iter().any(|e| e == r))
            })
            // `draw` and `update` set the worlds apart; `finish` alone does not.
            .filter(|k| match k {
                StageKind::Stats => exports.iter().any(|e| e == "update"),
                StageKind::Topics => exports.iter().any(|e| e == "route"),
                StageKind::Draw => exports.iter().any(|e| e == "draw" || e == "overlay"),
            })
            .collect();
        Inspection {
            versions,
            imports,
            exports,
            worlds,
        }
    }

    /// Validate and compile a stage's component from its bytes. Nothing is
    /// instantiated. Rejects other versions and worlds with messages naming both.
    pub fn prepare(
        &self,
        name: &str,
        path: &Path,
        kind: StageKind,
        bytes: &[u8],
    ) -> Result<(Compiled, Origin), PluginError> {
        Self::check_header(name, path, bytes)?;
        self.check_trust(name, path, bytes)?;
        let hash = cache::content_hash(bytes);
        let (component, origin) = self.component(name, path, bytes, &hash)?;
        let info = self.inspect_component(&component);
        let api = match info.versions.as_slice() {
            [] => ApiVersion::NEWEST,
            [v] => ApiVersion::parse(v).ok_or_else(|| PluginError::Version {
                name: name.into(),
                path: path.into(),
                found: format!("{}@{v}", bindings::PACKAGE),
                served: bindings::served_versions(),
            })?,
            many => {
                return Err(PluginError::Version {
                    name: name.into(),
                    path: path.into(),
                    found: format!("several versions ({})", many.join(", ")),
                    served: bindings::served_versions(),
                })
            }
        };
        let missing: Vec<&str> = kind
            .required_exports(api, &info.exports)
            .iter()
            .copied()
            .filter(|r| !info.exports.iter().any(|e| e == r))
            .collect();
        if !missing.is_empty() {
            return Err(PluginError::WrongWorld {
                name: name.into(),
                path: path.into(),
                world: kind.world(),
                version: api.as_str(),
                reason: format!(
                    "missing export(s) {}; it exports: {}",
                    missing.join(", "),
                    info.exports.join(", ")
                ),
            });
        }
        let pre =
            self.inner
                .linker
                .instantiate_pre(&component)
                .map_err(|e| PluginError::WrongWorld {
                    name: name.into(),
                    path: path.into(),
                    world: kind.world(),
                    version: api.as_str(),
                    reason: format!("{e:#}"),
                })?;
        Ok((
            Compiled {
                pre,
                api,
                hash,
                exports: info.exports,
            },
            origin,
        ))
    }

    /// Read, validate and compile a stage's file.
    pub fn compile(
        &self,
        name: &str,
        path: &Path,
        kind: StageKind,
    ) -> Result<Compiled, PluginError> {
        let bytes = Self::read(name, path)?;
        let t = Instant::now();
        let (compiled, origin) = self.prepare(name, path, kind, &bytes)?;
        tracing::debug!(
            plugin = name,
            ?origin,
            ms = t.elapsed().as_secs_f64() * 1000.0,
            "component ready"
        );
        Ok(compiled)
    }

    /// Compile, instantiate and configure a stage.
    pub fn load(
        &self,
        name: &str,
        path: &Path,
        kind: StageKind,
        settings: Vec<(String, String)>,
    ) -> Result<Stage, PluginError> {
        self.load_limited(name, path, kind, settings, self.inner.limits)
    }

    /// [`load`](Self::load) with limits of its own (a tenant's).
    pub fn load_limited(
        &self,
        name: &str,
        path: &Path,
        kind: StageKind,
        settings: Vec<(String, String)>,
        limits: Limits,
    ) -> Result<Stage, PluginError> {
        let compiled = self.compile(name, path, kind)?;
        Stage::new(
            Recipe::new(
                name,
                path,
                kind,
                settings,
                self.inner.engine.clone(),
                self.inner.ticker.gate().clone(),
                limits,
            ),
            Arc::new(compiled),
        )
    }
}
