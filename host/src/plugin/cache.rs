//! On-disk cache of compiled components, keyed by the component's content
//! hash and the engine's compatibility hash (wasmtime version and settings),
//! so a restart with unchanged plugins does not recompile.
//!
//! Loading a cached artifact is `unsafe` in wasmtime: it is native code that
//! is trusted to be what `Engine::precompile_component` wrote. The cache
//! folder is created private (0700), entries are written atomically
//! (temporary file + rename) and read into memory rather than mapped; an
//! entry that does not load is recompiled and replaced.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::component::Component;
use wasmtime::Engine;

/// Content hash of a component, as lowercase hex.
pub fn content_hash(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Where the cache lives by default: `$XDG_CACHE_HOME/edgepipe/components`
/// or `$HOME/.cache/edgepipe/components`.
pub fn default_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("XDG_CACHE_HOME").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(d).join("edgepipe/components"));
    }
    std::env::var_os("HOME")
        .filter(|d| !d.is_empty())
        .map(|h| PathBuf::from(h).join(".cache/edgepipe/components"))
}

/// How a component was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Compiled,
    Cache,
}

#[derive(Debug, Clone)]
pub struct ComponentCache {
    dir: Option<PathBuf>,
}

impl ComponentCache {
    pub fn new(dir: Option<PathBuf>) -> ComponentCache {
        ComponentCache { dir }
    }

    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    fn entry(&self, engine: &Engine, hash: &str) -> Option<PathBuf> {
        let dir = self.dir.as_ref()?;
        let mut h = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut h);
        Some(dir.join(format!("{hash}-{:016x}.cwasm", h.finish())))
    }

    /// The compiled form of `bytes` (whose content hash is `hash`): from the
    /// cache when present, else compiled now and stored.
    pub fn load_or_compile(
        &self,
        engine: &Engine,
        bytes: &[u8],
        hash: &str,
    ) -> wasmtime::Result<(Component, Origin)> {
        let Some(path) = self.entry(engine, hash) else {
            return Ok((Component::new(engine, bytes)?, Origin::Compiled));
        };
        // Read into memory rather than map the file: a mapping of a file that
        // someone truncates later ends the process with SIGBUS.
        if let Ok(cached) = std::fs::read(&path) {
            // SAFETY: entries are written only by `store` below, from
            // `Engine::precompile_component`, into a private folder; the file
            // name carries the engine's compatibility hash, and wasmtime
            // checks the artifact's header and engine settings before use.
            match unsafe { Component::deserialize(engine, &cached) } {
                Ok(c) => return Ok((c, Origin::Cache)),
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %format!("{e:#}"), "cached component does not load; recompiling")
                }
            }
        }
        let compiled = engine.precompile_component(bytes)?;
        if let Err(e) = store(&path, &compiled) {
            tracing::warn!(path = %path.display(), error = %e, "cannot write the component cache; continuing without it");
        }
        // SAFETY: `compiled` was produced by this engine just now.
        let component = unsafe { Component::deserialize(engine, &compiled)? };
        Ok((component, Origin::Compiled))
    }
}

fn store(path: &Path, data: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path.parent().unwrap_or(Path::new("."));
    if !dir.exists() {
        let mut b = std::fs::DirBuilder::new();
        b.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
        b.create(dir)?;
    }
    let tmp = dir.join(format!(
        ".tmp-{}-{}",
        std::process::id(),
        path.file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default()
    ));
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(data)?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, path)
}
