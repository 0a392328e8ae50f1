//! The `[source]` section and the source flags resolved: what is read, how
//! much of it, and how a live source that fails is opened again.

use std::time::Duration;

use super::file::SourceConfig;
use super::overrides::Overrides;
use super::{default_asset, invalid, ConfigError, DEFAULT_INPUT};
use crate::capture::{Retry, SourceSpec};
use crate::state::source::SourceId;

/// The camera's name when none is given.
pub const DEFAULT_CAMERA: &str = "default";
/// Longest camera name (it is a folder, a topic level and a URL segment).
pub const MAX_CAMERA_NAME: usize = 32;

/// A camera's name: `[a-z0-9][a-z0-9-]{0,31}`.
pub fn check_camera_name(name: &str) -> Result<(), String> {
    let ok = name.len() <= MAX_CAMERA_NAME
        && name
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{name:?}: a camera name is 1 to {MAX_CAMERA_NAME} of a-z, 0-9 and '-', not starting with '-'"
        ))
    }
}

/// The camera's name: the flag or `default`.
pub(super) fn camera_name(o: &Overrides) -> Result<String, ConfigError> {
    let name = o
        .camera_name
        .clone()
        .unwrap_or_else(|| DEFAULT_CAMERA.to_string());
    check_camera_name(&name).map_err(|e| invalid("camera.name", e))?;
    Ok(name)
}

/// What the input is, for the state kept of it.
pub fn source_id(input: &str) -> SourceId {
    match SourceSpec::parse(input) {
        SourceSpec::Video(p) | SourceSpec::Image(p) => SourceId::file(&p),
        SourceSpec::Camera(_) | SourceSpec::Url(_) => SourceId::live(input),
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn camera_names_are_folder_and_topic_safe() {
        for good in ["default", "door", "till-2", "0", &"a".repeat(32)] {
            assert!(check_camera_name(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "-door",
            "Door",
            "door/1",
            "a b",
            "café",
            "+",
            &"a".repeat(33),
        ] {
            assert!(check_camera_name(bad).is_err(), "{bad:?}");
        }
    }
}
