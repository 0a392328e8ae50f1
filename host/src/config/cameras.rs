//! The cameras of a run: `[[cameras]]` of the pipeline file and `--camera
//! NAME=INPUT` flags (else the one camera of `[source]` / `--input`),
//! checked; [`super::CameraDefaults`] completes each one.

use serde::de::value::{MapAccessDeserializer, SeqAccessDeserializer};
use serde::Deserialize;

use std::path::{Path, PathBuf};

use super::file::StageConfig;
use super::source::check_camera_name;
use super::stages::{stage_settings, StageSettings};
use super::{invalid, ConfigError};

/// `[[cameras]]` of the pipeline file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CameraConfig {
    pub name: String,
    pub input: String,
    /// Frames to read at most (files: the rest is not read).
    pub max_frames: Option<u64>,
    /// Where this camera's chains publish (default `<name>/` when there are
    /// several cameras; nothing with one).
    pub topic_prefix: Option<String>,
    /// At most this many frames a second go to the model; the others are
    /// shown and counted with the last detections.
    pub detect_fps: Option<f64>,
    /// This camera's chain instead of the pipeline's `[[stages]]`.
    pub stages: Option<Vec<StageConfig>>,
}

/// `cameras` of the pipeline file: `[[cameras]]` entries, or a `[cameras]`
/// table naming the folder of camera files (`dir`).
#[derive(Debug, Clone, Default)]
pub struct CamerasSection {
    pub list: Vec<CameraConfig>,
    /// One `<name>.toml` per camera, watched (`--cameras-dir`).
    pub dir: Option<PathBuf>,
}

/// `[cameras]` as a table.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CamerasTable {
    dir: PathBuf,
}

impl<'de> Deserialize<'de> for CamerasSection {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Either;
        impl<'de> serde::de::Visitor<'de> for Either {
            type Value = CamerasSection;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("[[cameras]] entries or a [cameras] table with `dir`")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                a: A,
            ) -> Result<Self::Value, A::Error> {
                let list = Vec::<CameraConfig>::deserialize(SeqAccessDeserializer::new(a))?;
                Ok(CamerasSection { list, dir: None })
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                a: A,
            ) -> Result<Self::Value, A::Error> {
                let t = CamerasTable::deserialize(MapAccessDeserializer::new(a))?;
                Ok(CamerasSection {
                    list: Vec::new(),
                    dir: Some(t.dir),
                })
            }
        }
        d.deserialize_any(Either)
    }
}

/// One camera of a run, resolved.
#[derive(Debug, Clone)]
pub struct CameraSpec {
    pub name: String,
    pub input: String,
    pub max_frames: Option<u64>,
    pub topic_prefix: Option<String>,
    pub detect_fps: Option<f64>,
    /// Its own chain (`None`: the pipeline's stages).
    pub stages: Option<Vec<StageSettings>>,
}

/// What resolving a camera's own stages needs.
pub(super) struct StageDefaults<'a> {
    pub plugin_dir: &'a Path,
    pub default_qos: u8,
}

/// `--camera NAME=INPUT` flags win over the file's `[[cameras]]`; none of
/// either: the run has the one camera of `--input` / `[source]`.
pub(super) fn resolve(
    flags: &[String],
    file: &[CameraConfig],
    d: StageDefaults<'_>,
) -> Result<Vec<CameraSpec>, ConfigError> {
    let cameras: Vec<CameraSpec> = if flags.is_empty() {
        file.iter()
            .map(|c| spec_of(c, &d))
            .collect::<Result<_, ConfigError>>()?
    } else {
        flags
            .iter()
            .map(|f| parse_flag(f))
            .collect::<Result<_, _>>()?
    };
    let mut seen = std::collections::BTreeSet::new();
    for c in &cameras {
        check(c)?;
        if !seen.insert(c.name.as_str()) {
            return Err(invalid(
                "cameras.name",
                format!("camera {} is named twice", c.name),
            ));
        }
    }
    Ok(cameras)
}

/// A `[[cameras]]` entry (or a camera file) with its own stages resolved.
pub(super) fn spec_of(c: &CameraConfig, d: &StageDefaults<'_>) -> Result<CameraSpec, ConfigError> {
    let stages = match &c.stages {
        Some(s) => Some(stage_settings(s.clone(), d.plugin_dir, d.default_qos)?),
        None => None,
    };
    Ok(CameraSpec {
        name: c.name.clone(),
        input: c.input.clone(),
        max_frames: c.max_frames,
        topic_prefix: c.topic_prefix.clone(),
        detect_fps: c.detect_fps,
        stages,
    })
}

/// One camera's name, input, cap and prefix checked.
pub(super) fn check(c: &CameraSpec) -> Result<(), ConfigError> {
    check_camera_name(&c.name).map_err(|e| invalid("cameras.name", e))?;
    if c.input.is_empty() {
        return Err(invalid(
            "cameras.input",
            format!("camera {}: empty input", c.name),
        ));
    }
    if let Some(f) = c.detect_fps {
        check_detect_fps(f).map_err(|e| invalid("cameras.detect_fps", e))?;
    }
    if let Some(p) = &c.topic_prefix {
        let p = p.trim_end_matches('/');
        if p.is_empty() || p.starts_with(['/', '$']) || p.contains(['+', '#', '\0']) {
            return Err(invalid(
                "cameras.topic_prefix",
                format!("camera {}: {p:?} is not a topic prefix", c.name),
            ));
        }
    }
    Ok(())
}

/// `NAME=INPUT`.
fn parse_flag(flag: &str) -> Result<CameraSpec, ConfigError> {
    let (name, input) = flag
        .split_once('=')
        .ok_or_else(|| invalid("--camera", format!("{flag:?} is not NAME=INPUT")))?;
    Ok(CameraSpec {
        name: name.to_string(),
        input: input.to_string(),
        max_frames: None,
        topic_prefix: None,
        detect_fps: None,
        stages: None,
    })
}

/// A `detect_fps` cap: above zero, at most 1000.
pub(super) fn check_detect_fps(f: f64) -> Result<(), String> {
    if f.is_finite() && f > 0.0 && f <= 1000.0 {
        Ok(())
    } else {
        Err(format!(
            "{f} is not a rate above 0 and at most 1000 frames a second"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn camera_flags_and_tables_resolve() {
        let resolve = |flags: &[String], file: &[CameraConfig]| {
            let d = StageDefaults {
                plugin_dir: Path::new("/p"),
                default_qos: 1,
            };
            resolve(flags, file, d)
        };
        let two = resolve(&["door=a.avi".into(), "till=rtsp://t/s".into()], &[]).unwrap();
        assert_eq!(two.len(), 2);
        assert_eq!(
            (two[1].name.as_str(), two[1].input.as_str()),
            ("till", "rtsp://t/s")
        );
        let file = [CameraConfig {
            name: "lobby".into(),
            input: "0".into(),
            topic_prefix: Some("site/lobby/".into()),
            ..Default::default()
        }];
        assert_eq!(resolve(&[], &file).unwrap()[0].name, "lobby");
        for bad in [
            vec!["door".to_string()],
            vec!["Door=a.avi".into()],
            vec!["door=".into()],
            vec!["door=a.avi".into(), "door=b.avi".into()],
        ] {
            assert!(resolve(&bad, &[]).is_err(), "{bad:?}");
        }
        let hash = [CameraConfig {
            name: "x".into(),
            input: "a.avi".into(),
            topic_prefix: Some("a/#".into()),
            ..Default::default()
        }];
        assert!(resolve(&[], &hash).is_err());
    }
}
