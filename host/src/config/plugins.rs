//! The `[plugins]` section and the plugin flags resolved: where stages are
//! found, their per-call deadline and memory cap, hot reload, the cache,
//! trusted signing keys and registries (`oci://` stages).

use std::path::PathBuf;
use std::time::Duration;

use super::file::PluginsConfig;
use super::overrides::Overrides;
use super::{
    default_asset, invalid, ConfigError, DEFAULT_PLUGIN_DIR, MAX_CALL_TIMEOUT_MS,
    MAX_STAGE_MEMORY_MB,
};

/// The stages' host settings, resolved (the fields of [`super::Settings`] they fill).
pub(super) struct Plugins {
    pub call_timeout: Duration,
    pub memory_limit: usize,
    pub reload: bool,
    pub cache: Option<PathBuf>,
    pub sources: SourceSettings,
}

/// Where components may come from, resolved (loaded into
/// [`crate::plugin::sources::Sources`] when the stages load).
#[derive(Debug, Clone, Default)]
pub struct SourceSettings {
    pub trusted_keys: Vec<PathBuf>,
    pub poll: Duration,
    pub registry: crate::plugin::oci::RegistryOptions,
}

impl SourceSettings {
    /// Read the trusted keys; the store beside the component cache `cache`.
    pub fn load(
        &self,
        cache: Option<&std::path::Path>,
    ) -> Result<crate::plugin::sources::Sources, ConfigError> {
        let mut s = crate::plugin::sources::Sources::new(cache);
        if !self.trusted_keys.is_empty() {
            let keys = crate::plugin::signature::TrustedKeys::load(&self.trusted_keys)
                .map_err(|e| invalid("plugins.trusted_keys", e))?;
            s.trusted = Some(std::sync::Arc::new(keys));
        }
        s.poll = self.poll;
        s.registry = self.registry.clone();
        Ok(s)
    }
}

/// Polls faster than this would hammer a registry.
const MIN_POLL_SECS: f64 = 0.2;
/// The most `max_component_mb` may be.
const MAX_COMPONENT_MB: u64 = 4096;

fn sources(f: &PluginsConfig) -> Result<SourceSettings, ConfigError> {
    let poll_secs = f
        .poll_secs
        .unwrap_or(crate::plugin::sources::DEFAULT_POLL.as_secs_f64());
    if !(MIN_POLL_SECS..=86_400.0).contains(&poll_secs) {
        return Err(invalid(
            "plugins.poll_secs",
            format!("{poll_secs} is not {MIN_POLL_SECS}..=86400"),
        ));
    }
    let max_mb = f.max_component_mb.unwrap_or(64);
    if !(1..=MAX_COMPONENT_MB).contains(&max_mb) {
        return Err(invalid(
            "plugins.max_component_mb",
            format!("{max_mb} is not 1..={MAX_COMPONENT_MB}"),
        ));
    }
    let password = super::mqtt::load_password(
        "plugins.registry",
        f.registry_password_env.as_deref(),
        f.registry_password_file.as_deref(),
    )?;
    if password.is_some() && f.registry_user.is_none() {
        return Err(invalid(
            "plugins.registry_user",
            "a registry password is given but no user name",
        ));
    }
    Ok(SourceSettings {
        trusted_keys: f.trusted_keys.clone().unwrap_or_default(),
        poll: Duration::from_secs_f64(poll_secs),
        registry: crate::plugin::oci::RegistryOptions {
            user: f.registry_user.clone(),
            password,
            ca_file: f.registry_ca.clone(),
            plain_http: f.registry_plain_http.unwrap_or(false),
            max_component: max_mb << 20,
        },
    })
}

/// Where `<name>.wasm` is looked up: the flag, `EDGEPIPE_PLUGIN_DIR`, the file's, else the build's.
pub(super) fn dir(o: &Overrides, f: &PluginsConfig) -> PathBuf {
    o.plugin_dir
        .clone()
        .or_else(|| std::env::var_os("EDGEPIPE_PLUGIN_DIR").map(PathBuf::from))
        .or(f.dir.clone())
        .unwrap_or_else(|| default_asset(DEFAULT_PLUGIN_DIR))
}

pub(super) fn resolve(o: &Overrides, f: &PluginsConfig) -> Result<Plugins, ConfigError> {
    let memory_mb = o
        .plugin_memory_mb
        .or(f.memory_mb)
        .unwrap_or(crate::plugin::DEFAULT_MEMORY_LIMIT >> 20);
    if !(1..=MAX_STAGE_MEMORY_MB).contains(&memory_mb) {
        return Err(invalid(
            "plugins.memory_mb",
            format!("{memory_mb} is not 1..={MAX_STAGE_MEMORY_MB} (a stage's memory is 32-bit)"),
        ));
    }
    let memory_limit = memory_mb.checked_mul(1 << 20).ok_or_else(|| {
        invalid(
            "plugins.memory_mb",
            format!("{memory_mb} MiB does not fit in memory"),
        )
    })?;
    let call_timeout_ms = o
        .plugin_timeout_ms
        .or(f.call_timeout_ms)
        .unwrap_or(crate::plugin::DEFAULT_CALL_TIMEOUT.as_millis() as u64);
    if !(1..=MAX_CALL_TIMEOUT_MS).contains(&call_timeout_ms) {
        return Err(invalid(
            "plugins.call_timeout_ms",
            format!("{call_timeout_ms} is not 1..={MAX_CALL_TIMEOUT_MS}"),
        ));
    }
    Ok(Plugins {
        call_timeout: Duration::from_millis(call_timeout_ms),
        memory_limit,
        reload: !o.no_reload && f.reload.unwrap_or(true),
        cache: cache_dir(o, f),
        sources: sources(f)?,
    })
}

/// Where compiled components are cached: the flag, `EDGEPIPE_CACHE_DIR`, the
/// file's (`""`: off), else the default; `--no-plugin-cache`: none.
fn cache_dir(o: &Overrides, f: &PluginsConfig) -> Option<PathBuf> {
    if o.no_plugin_cache {
        None
    } else if let Some(d) = o
        .plugin_cache
        .clone()
        .or_else(|| std::env::var_os("EDGEPIPE_CACHE_DIR").map(PathBuf::from))
        .or(f.cache_dir.clone())
    {
        (!d.as_os_str().is_empty()).then_some(d)
    } else {
        crate::plugin::cache::default_dir()
    }
}
