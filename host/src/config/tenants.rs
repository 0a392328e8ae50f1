//! The pipeline's `[tenants]` section: where tenants live and the most each
//! may ask for, resolved into [`Maxima`]. (A tenant's own file is read by
//! `tenants/file.rs`.)

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::{invalid, ConfigError};

/// `[tenants]` of the pipeline file: where tenants live and the most each may ask for.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantsConfig {
    pub dir: Option<PathBuf>,
    pub max_call_timeout_ms: Option<u64>,
    pub max_memory_mb: Option<u64>,
    pub max_frame_budget_ms: Option<u64>,
    pub max_message_bytes: Option<usize>,
    pub max_messages_per_frame: Option<usize>,
}

/// The maxima, resolved; a tenant that asks for nothing gets these.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Maxima {
    pub call_timeout: Duration,
    pub memory_mb: u64,
    pub frame_budget: Duration,
    pub max_message_bytes: usize,
    pub max_messages_per_frame: usize,
}

impl Default for Maxima {
    fn default() -> Self {
        Maxima {
            call_timeout: crate::plugin::DEFAULT_CALL_TIMEOUT,
            memory_mb: (crate::plugin::DEFAULT_MEMORY_LIMIT >> 20) as u64,
            frame_budget: Duration::from_millis(50),
            max_message_bytes: 64 * 1024,
            max_messages_per_frame: 64,
        }
    }
}

/// Upper bounds of the upper bounds: beyond these a setting is a mistake.
const CAP_MS: u64 = 60_000;
const CAP_MEMORY_MB: u64 = 4096;
const CAP_MESSAGE_BYTES: usize = 256 << 20;
const CAP_MESSAGES: usize = 1_000_000;

/// `v` if it lies in `lo..=hi`, else an error naming `key`.
pub(crate) fn within<T: PartialOrd + std::fmt::Display + Copy>(
    key: &str,
    v: T,
    lo: T,
    hi: T,
) -> Result<T, ConfigError> {
    if v < lo || v > hi {
        return Err(invalid(key, format!("{v} is not {lo}..{hi}")));
    }
    Ok(v)
}

impl Maxima {
    pub fn resolve(c: &TenantsConfig) -> Result<Maxima, ConfigError> {
        let d = Maxima::default();
        let ms = |key: &str, v: Option<u64>, default: Duration| {
            within(key, v.unwrap_or(default.as_millis() as u64), 1, CAP_MS)
                .map(Duration::from_millis)
        };
        Ok(Maxima {
            call_timeout: ms(
                "tenants.max_call_timeout_ms",
                c.max_call_timeout_ms,
                d.call_timeout,
            )?,
            memory_mb: within(
                "tenants.max_memory_mb",
                c.max_memory_mb.unwrap_or(d.memory_mb),
                1,
                CAP_MEMORY_MB,
            )?,
            frame_budget: ms(
                "tenants.max_frame_budget_ms",
                c.max_frame_budget_ms,
                d.frame_budget,
            )?,
            max_message_bytes: within(
                "tenants.max_message_bytes",
                c.max_message_bytes.unwrap_or(d.max_message_bytes),
                1,
                CAP_MESSAGE_BYTES,
            )?,
            max_messages_per_frame: within(
                "tenants.max_messages_per_frame",
                c.max_messages_per_frame.unwrap_or(d.max_messages_per_frame),
                1,
                CAP_MESSAGES,
            )?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maxima_may_not_overflow_into_bytes() {
        let huge = TenantsConfig {
            max_memory_mb: Some(u64::MAX),
            ..Default::default()
        };
        assert!(Maxima::resolve(&huge).is_err(), "no overflow into bytes");
    }

    #[test]
    fn maxima_default_and_bounds() {
        assert_eq!(
            Maxima::resolve(&TenantsConfig::default()).unwrap(),
            Maxima::default()
        );
        let c = TenantsConfig {
            max_call_timeout_ms: Some(250),
            max_frame_budget_ms: Some(20),
            ..Default::default()
        };
        let m = Maxima::resolve(&c).unwrap();
        assert_eq!(
            (m.call_timeout, m.frame_budget),
            (Duration::from_millis(250), Duration::from_millis(20))
        );
        let e = Maxima::resolve(&TenantsConfig {
            max_frame_budget_ms: Some(CAP_MS + 1),
            ..Default::default()
        })
        .unwrap_err();
        assert!(
            e.to_string()
                .starts_with("setting `tenants.max_frame_budget_ms`"),
            "{e}"
        );
    }
}
