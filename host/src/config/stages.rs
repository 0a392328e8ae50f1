//! A chain's `[[stages]]` resolved into [`StageSettings`]: the file's or the
//! default pipeline's, settings as strings, paths and names checked.

use std::path::Path;

use super::file::{FileConfig, StageConfig};
use super::{invalid, ConfigError, DEFAULT_PIPELINE};
use crate::plugin::StageKind;

pub use crate::plugin::StageSettings;

/// The pipeline's chain: the file's `[[stages]]`, or the default pipeline's
/// where the file has none.
pub(super) fn pipeline_stages(
    file: &FileConfig,
    plugin_dir: &Path,
    default_qos: u8,
) -> Result<Vec<StageSettings>, ConfigError> {
    let cfgs = match &file.stages {
        Some(s) => s.clone(),
        None => FileConfig::parse(DEFAULT_PIPELINE, Path::new("<embedded default pipeline>"))?
            .stages
            .unwrap_or_default(),
    };
    stage_settings(cfgs, plugin_dir, default_qos)
}

/// A chain's `[[stages]]`, resolved: settings as strings, the default QoS
/// handed to topics stages that did not choose one, `<plugin_dir>/<name>.wasm`
/// where no path is given; names unique.
pub fn stage_settings(
    cfgs: Vec<StageConfig>,
    plugin_dir: &Path,
    default_qos: u8,
) -> Result<Vec<StageSettings>, ConfigError> {
    let mut stages = Vec::with_capacity(cfgs.len());
    for s in cfgs {
        let mut settings = Vec::with_capacity(s.settings.len());
        for (k, v) in &s.settings {
            settings.push((
                k.clone(),
                setting_value(&format!("stages.{}.settings.{k}", s.name), v)?,
            ));
        }
        // The pipeline's default QoS, unless the stage chose its own.
        if s.kind == StageKind::Topics && !s.settings.contains_key("qos") {
            settings.push(("qos".to_string(), default_qos.to_string()));
        }
        let path = s
            .path
            .clone()
            .unwrap_or_else(|| plugin_dir.join(format!("{}.wasm", s.name)));
        stages.push(StageSettings {
            name: s.name,
            kind: s.kind,
            path,
            settings,
        });
    }
    unique_stage_names(&stages)?;
    Ok(stages)
}

/// Stage names identify a stage in a chain (timings, state, events): two
/// stages of one chain may not share one.
pub fn unique_stage_names(stages: &[StageSettings]) -> Result<(), ConfigError> {
    let mut seen = std::collections::BTreeSet::new();
    for s in stages {
        if !seen.insert(s.name.as_str()) {
            return Err(invalid("stages.name", format!("two stages are named {:?}; give each its own name (and `path` to share a file)", s.name)));
        }
    }
    Ok(())
}

fn setting_value(key: &str, v: &toml::Value) -> Result<String, ConfigError> {
    Ok(match v {
        toml::Value::String(s) => s.clone(),
        toml::Value::Integer(i) => i.to_string(),
        toml::Value::Float(f) => f.to_string(),
        toml::Value::Boolean(b) => b.to_string(),
        other => {
            return Err(ConfigError::Invalid {
                key: key.to_string(),
                reason: format!("stage settings are scalars, got {}", other.type_str()),
            })
        }
    })
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::config::{resolve, FileConfig, Overrides};

    #[test]
    fn stage_names_are_unique_in_a_chain() {
        let f = FileConfig::parse(
            "[[stages]]\nname = \"a\"\nkind = \"stats\"\n[[stages]]\nname = \"a\"\nkind = \"topics\"\n",
            Path::new("p.toml"),
        )
        .unwrap();
        let e = resolve(Some(f), &Overrides::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("two stages are named \"a\""), "{e}");
    }
}
