//! A tenant file (`<dir>/<id>.toml`): parsed, checked against the maxima the
//! operator allows (the pipeline's `[tenants]`, see [`crate::config::tenants`]),
//! and resolved into a [`TenantSpec`] ready to load. Unknown keys are errors.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::chain::ChainLimits;
use crate::config::invalid as bad;
use crate::config::tenants::within;
use crate::config::{ConfigError, Maxima, StageConfig, StageSettings};
use crate::mqtt::Secret;
use crate::plugin::Limits;

/// Longest tenant id: `[a-z0-9][a-z0-9-]{0,31}`.
pub const MAX_ID_LEN: usize = crate::folder::MAX_NAME_LEN;
/// A tenant's id is the name of its file in the tenants folder:
/// `[a-z0-9][a-z0-9-]{0,31}`; `list` gives every `<id>.toml` of a folder.
pub use crate::folder::{list, name_of as id_of, valid_name as valid_id};

/// One tenant's file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantFile {
    /// Default `tenants/<id>`.
    pub topic_prefix: Option<String>,
    #[serde(default)]
    pub limits: TenantLimits,
    pub mqtt: Option<TenantMqtt>,
    /// The tenant's token for its pages of the live view (`/tenants/<id>/`).
    pub http: Option<TenantHttp>,
    #[serde(default)]
    pub stages: Vec<StageConfig>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantHttp {
    pub token_env: Option<String>,
    pub token_file: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantLimits {
    pub call_timeout_ms: Option<u64>,
    pub memory_mb: Option<u64>,
    pub frame_budget_ms: Option<u64>,
    pub max_message_bytes: Option<usize>,
    pub max_messages_per_frame: Option<usize>,
}

/// The tenant's own MQTT login: its messages go over its own connection, so
/// the broker's ACL draws the same boundary a second time.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantMqtt {
    pub username: String,
    pub password_env: Option<String>,
    pub password_file: Option<PathBuf>,
    pub client_id: Option<String>,
}

/// A tenant ready to load.
#[derive(Debug, Clone)]
pub struct TenantSpec {
    pub id: String,
    pub file: PathBuf,
    pub prefix: String,
    pub stages: Vec<StageSettings>,
    pub stage_limits: Limits,
    pub chain_limits: ChainLimits,
    /// (username, password, client id)
    pub login: Option<(String, Option<Secret>, String)>,
    /// Opens this tenant's pages of the live view.
    pub http_token: Option<Secret>,
}

/// A prefix a tenant may publish under: topic levels without wildcards,
/// `$`, `..`, empty levels, and not the host's own `edgepipe/...`.
pub fn check_prefix(prefix: &str) -> Result<(), String> {
    if prefix.is_empty() || prefix.len() > 256 {
        return Err("must be 1 to 256 bytes".into());
    }
    if prefix.contains(['+', '#', '\0']) || prefix.starts_with('$') {
        return Err("must be free of wildcards, NUL and a leading '$'".into());
    }
    if prefix
        .split('/')
        .any(|l| l.is_empty() || l == ".." || l == ".")
    {
        return Err(
            "must not have empty, '.' or '..' levels (nor a leading or trailing '/')".into(),
        );
    }
    if prefix == "edgepipe" || prefix.starts_with("edgepipe/") {
        return Err("edgepipe/... is the host's own".into());
    }
    Ok(())
}

/// Whether two prefixes share topics (one is the other or lies under it).
pub fn overlaps(a: &str, b: &str) -> bool {
    let under = |x: &str, y: &str| x == y || x.starts_with(&format!("{y}/"));
    under(a, b) || under(b, a)
}

/// Read, parse and resolve `path`.
pub fn load(
    path: &Path,
    plugin_dir: &Path,
    default_qos: u8,
    max: &Maxima,
) -> Result<TenantSpec, ConfigError> {
    let id = id_of(path).ok_or_else(|| ConfigError::Read {
        path: path.to_path_buf(),
        reason: format!(
            "the file name must be <id>.toml with an id of [a-z0-9][a-z0-9-]{{0,{}}}",
            MAX_ID_LEN - 1
        ),
    })?;
    let text = crate::config::read_text(path)?;
    let mut f: TenantFile =
        toml::from_str(&text).map_err(|e| crate::config::parse_error(path, &e))?;
    let dir = path.parent().unwrap_or(Path::new("."));
    for s in &mut f.stages {
        if let Some(p) = s.path.as_mut() {
            if p.is_relative() && crate::plugin::oci::stage_reference(p).is_none() {
                *p = dir.join(&*p);
            }
        }
    }
    if let Some(p) = f.http.as_mut().and_then(|h| h.token_file.as_mut()) {
        if p.is_relative() {
            *p = dir.join(&*p);
        }
    }
    resolve(id, path, f, plugin_dir, default_qos, max).map_err(|e| match e {
        ConfigError::Invalid { key, reason } => ConfigError::Parse {
            path: path.to_path_buf(),
            reason: format!("`{key}`: {reason}"),
        },
        other => other,
    })
}

fn resolve(
    id: String,
    path: &Path,
    f: TenantFile,
    plugin_dir: &Path,
    default_qos: u8,
    max: &Maxima,
) -> Result<TenantSpec, ConfigError> {
    if f.stages.is_empty() {
        return Err(bad("stages", "a tenant needs at least one [[stages]]"));
    }
    let prefix = f
        .topic_prefix
        .clone()
        .unwrap_or_else(|| format!("tenants/{id}"));
    let prefix = prefix.trim_end_matches('/').to_string();
    check_prefix(&prefix).map_err(|r| bad("topic_prefix", format!("{prefix:?} {r}")))?;
    let l = &f.limits;
    let ms = |key: &str, v: Option<u64>, cap: Duration| -> Result<Duration, ConfigError> {
        let v = v.unwrap_or(cap.as_millis() as u64);
        Ok(Duration::from_millis(
            within(key, v, 1, cap.as_millis() as u64)
                .map_err(|_| above(key, v, cap.as_millis()))?,
        ))
    };
    let call_timeout = ms(
        "limits.call_timeout_ms",
        l.call_timeout_ms,
        max.call_timeout,
    )?;
    let frame_budget = ms(
        "limits.frame_budget_ms",
        l.frame_budget_ms,
        max.frame_budget,
    )?;
    let memory_mb = l.memory_mb.unwrap_or(max.memory_mb);
    within("limits.memory_mb", memory_mb, 1, max.memory_mb)
        .map_err(|_| above("limits.memory_mb", memory_mb, max.memory_mb))?;
    let bytes = l.max_message_bytes.unwrap_or(max.max_message_bytes);
    within("limits.max_message_bytes", bytes, 1, max.max_message_bytes)
        .map_err(|_| above("limits.max_message_bytes", bytes, max.max_message_bytes))?;
    let count = l
        .max_messages_per_frame
        .unwrap_or(max.max_messages_per_frame);
    within(
        "limits.max_messages_per_frame",
        count,
        1,
        max.max_messages_per_frame,
    )
    .map_err(|_| {
        above(
            "limits.max_messages_per_frame",
            count,
            max.max_messages_per_frame,
        )
    })?;
    let stages = crate::config::stage_settings(f.stages, plugin_dir, default_qos)?;
    let http_token = match &f.http {
        None => None,
        Some(h) => crate::config::read_token(h.token_env.as_deref(), h.token_file.as_deref())
            .map_err(|e| bad("http", e))?
            .map(Secret::new),
    };
    let login = match f.mqtt {
        None => None,
        Some(m) => {
            if m.username.is_empty() {
                return Err(bad("mqtt.username", "must not be empty"));
            }
            let password = crate::config::load_password(
                "mqtt",
                m.password_env.as_deref(),
                m.password_file.as_deref(),
            )?;
            let client_id = m
                .client_id
                .unwrap_or_else(|| format!("edgepipe-tenant-{id}-{}", std::process::id()));
            Some((m.username, password, client_id))
        }
    };
    Ok(TenantSpec {
        id,
        file: path.to_path_buf(),
        prefix,
        stages,
        stage_limits: Limits {
            call_timeout,
            memory: (memory_mb as usize) << 20,
        },
        chain_limits: ChainLimits {
            frame_budget: Some(frame_budget),
            max_message_bytes: bytes,
            max_messages_per_frame: count,
        },
        login,
        http_token,
    })
}

fn above(key: &str, v: impl std::fmt::Display, max: impl std::fmt::Display) -> ConfigError {
    bad(
        key,
        format!("{v} is outside 1..{max} (the most this pipeline allows a tenant)"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes() {
        assert!(check_prefix("tenants/acme").is_ok());
        for bad in [
            "",
            "/x",
            "x/",
            "a//b",
            "a/+/b",
            "#",
            "$SYS",
            "a/../b",
            "edgepipe/x",
            "edgepipe",
        ] {
            assert!(check_prefix(bad).is_err(), "{bad}");
        }
        assert!(overlaps("tenants/a", "tenants/a/b") && overlaps("t/a", "t/a"));
        assert!(!overlaps("tenants/a", "tenants/ab"));
    }

    fn spec(text: &str, max: &Maxima) -> Result<TenantSpec, ConfigError> {
        let f: TenantFile = toml::from_str(text).map_err(|e| bad("parse", e))?;
        resolve(
            "acme".into(),
            Path::new("/t/acme.toml"),
            f,
            Path::new("/p"),
            1,
            max,
        )
    }

    #[test]
    fn limits_default_to_the_maxima_and_may_not_exceed_them() {
        let max = Maxima::default();
        let s = spec(
            "[[stages]]\nname = \"people-counter\"\nkind = \"stats\"\n",
            &max,
        )
        .unwrap();
        assert_eq!(s.prefix, "tenants/acme");
        assert_eq!(s.chain_limits.frame_budget, Some(max.frame_budget));
        assert_eq!(s.stages[0].path, PathBuf::from("/p/people-counter.wasm"));
        let e = spec(
            "[limits]\nmemory_mb = 100000\n[[stages]]\nname = \"x\"\nkind = \"stats\"\n",
            &max,
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("limits.memory_mb") && e.contains("the most this pipeline allows"),
            "{e}"
        );
        let e = spec(
            "[limits]\nframe_budget_ms = 0\n[[stages]]\nname = \"x\"\nkind = \"stats\"\n",
            &max,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("frame_budget_ms"), "{e}");
        assert!(spec("", &max)
            .unwrap_err()
            .to_string()
            .contains("at least one"));
        assert!(spec(
            "topic_prefix = \"edgepipe/x\"\n[[stages]]\nname = \"x\"\nkind = \"stats\"\n",
            &max
        )
        .is_err());
        assert!(
            spec("bogus = 1\n", &max).is_err(),
            "unknown keys are errors"
        );
    }
}
