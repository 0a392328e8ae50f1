//! The `[source]` section and the source flags resolved: what is read, how
//! much of it, and how a live source that fails is opened again.

use std::time::Duration;

use super::file::SourceConfig;
use super::overrides::Overrides;
use super::{default_asset, invalid, ConfigError, DEFAULT_INPUT};
use crate::capture::Retry;

/// The input: the flag, the file's, or the clip setup.sh fetched.
pub(super) fn input(o: &Overrides, f: &SourceConfig) -> String {
    o.input
        .clone()
        .or(f.input.clone())
        .unwrap_or_else(|| default_asset(DEFAULT_INPUT).to_string_lossy().into_owned())
}

pub(super) fn retry(o: &Overrides, f: &SourceConfig) -> Result<Retry, ConfigError> {
    const MAX_MS: u64 = 3_600_000;
    let d = Retry::default();
    let initial = f.retry_initial_ms.unwrap_or(d.initial.as_millis() as u64);
    let max = f.retry_max_ms.unwrap_or(d.max.as_millis() as u64);
    if initial == 0 || initial > MAX_MS {
        return Err(invalid(
            "source.retry_initial_ms",
            format!("{initial} is not 1..{MAX_MS}"),
        ));
    }
    if max < initial || max > MAX_MS {
        return Err(invalid(
            "source.retry_max_ms",
            format!("{max} is not {initial}..{MAX_MS}"),
        ));
    }
    let give_up = match o.source_retry_secs.or(f.retry_secs) {
        Some(s) if s > MAX_MS / 1000 * 24 * 365 => {
            return Err(invalid(
                "source.retry_secs",
                format!("{s} is more than a year"),
            ))
        }
        Some(s) => Some(Duration::from_secs(s)),
        None => None,
    };
    Ok(Retry {
        initial: Duration::from_millis(initial),
        max: Duration::from_millis(max),
        give_up_after: give_up,
    })
}
