//! The pipeline file (TOML) and the command-line flags that override it,
//! resolved into one [`Settings`] of three parts (runtime, model, cameras):
//! the errors, the defaults and limits, and [`resolve`], which composes the
//! sections' own resolution (one file each).

mod camera;
mod camera_file;
pub mod cameras;
mod file;
pub mod http;
mod model;
mod mqtt;
mod overrides;
mod plugins;
mod runtime;
pub mod source;
mod stages;
pub mod tenants;

use std::path::{Path, PathBuf};

use thiserror::Error;

/// Inference sessions of a file when not set (the providers' default).
pub use crate::ep::DEFAULT_FILE_SESSIONS;
pub use camera::{CameraDefaults, CameraSettings};
pub(crate) use file::{parse_error, read_text};
pub use file::{
    FileConfig, ModelConfig, MqttConfig, OutputsConfig, PluginsConfig, SourceConfig, StageConfig,
};
pub use http::{read_token, HttpConfig, HttpOverrides, LiveSettings};
pub use model::ModelSettings;
pub use mqtt::{load_password, Delivery, MqttTarget};
pub use overrides::{MqttOverrides, Overrides};
pub use plugins::SourceSettings;
pub use runtime::RuntimeSettings;
pub use stages::{stage_settings, unique_stage_names, StageSettings};
pub use tenants::{Maxima, TenantsConfig};

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("config file {path}: {reason}")]
    Read { path: PathBuf, reason: String },
    #[error("config file {path}: {reason}")]
    Parse { path: PathBuf, reason: String },
    #[error("setting `{key}`: {reason}")]
    Invalid { key: String, reason: String },
}

/// The repository root this binary was built from: default assets live there.
pub const BUILD_ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
/// Where scripts/setup.sh puts things, relative to the repository root.
pub const DEFAULT_MODEL: &str = "models/yolov12n.onnx";
pub const DEFAULT_LABELS: &str = "models/coco-labels.txt";
pub const DEFAULT_ORT_LIB: &str = "vendor/onnxruntime/libonnxruntime.so";
pub const DEFAULT_INPUT: &str = "vendor/data/vtest.avi";
pub const DEFAULT_PLUGIN_DIR: &str = "target/plugins";
pub const DEFAULT_BROKER_PORT: u16 = 1883;
pub const DEFAULT_KEEPALIVE_SECS: u64 = 60;
pub const DEFAULT_PIPELINE_NAME: &str = "default";
/// More sessions than this is a configuration mistake, not a speed-up.
pub const MAX_SESSIONS: usize = 16;
/// Longest MQTT connect and acknowledgement wait: a day.
pub const MAX_TIMEOUT_SECS: u64 = 86_400;
/// A stage's memory cap: wasm32 memories address at most 4 GiB.
pub const MAX_STAGE_MEMORY_MB: usize = 4096;
/// A per-call deadline longer than a minute would stall the frame loop for as long.
pub const MAX_CALL_TIMEOUT_MS: u64 = 60_000;
/// More intra-op threads than this is a mistake, not a speed-up.
pub const MAX_THREADS: usize = 1024;
/// `mqtt.max_message_bytes` below this could not carry the host's own events.
pub const MIN_MESSAGE_BYTES: usize = 1024;

/// The default pipeline: the course app's behaviour.
pub const DEFAULT_PIPELINE: &str = include_str!("../default-pipeline.toml");

/// The error of a setting: `key` names it as the file does (`mqtt.qos`).
pub(crate) fn invalid(key: &str, reason: impl std::fmt::Display) -> ConfigError {
    ConfigError::Invalid {
        key: key.to_string(),
        reason: reason.to_string(),
    }
}

/// Everything a run needs, resolved, in three parts: what the process
/// builds once ([`RuntimeSettings`]), the model every camera shares
/// ([`ModelSettings`]) and each camera's own ([`CameraSettings`]).
#[derive(Debug, Clone)]
pub struct Settings {
    pub runtime: RuntimeSettings,
    pub model: ModelSettings,
    /// The cameras of the run (one at least): `[[cameras]]` or `--camera`,
    /// else the one camera of `[source]` / `--input`.
    pub cameras: Vec<CameraSettings>,
    /// How a camera given by name and input is completed.
    pub camera_defaults: CameraDefaults,
}

impl Settings {
    /// Whether the run has several cameras (then each camera's topics carry
    /// its name).
    pub fn several_cameras(&self) -> bool {
        self.cameras.len() > 1 || self.runtime.cameras_dir.is_some()
    }

    /// Keep no stage state for any camera (a measurement starts from
    /// nothing and leaves nothing behind).
    pub fn drop_state(&mut self) {
        self.camera_defaults.base.state = None;
        for c in &mut self.cameras {
            c.state = None;
        }
    }
}

/// A default asset: beside the executable first, then under the build root.
pub fn default_asset(rel: &str) -> PathBuf {
    let name = Path::new(rel)
        .file_name()
        .map(PathBuf::from)
        .unwrap_or_default();
    if let Some(dir) = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(Path::to_path_buf))
    {
        let beside = dir.join(&name);
        if beside.exists() {
            return beside;
        }
    }
    let root = Path::new(BUILD_ROOT);
    let under_root = root.join(rel);
    std::fs::canonicalize(&under_root).unwrap_or(under_root)
}

/// Merge the file (or the embedded default pipeline) with the flags.
pub fn resolve(file: Option<FileConfig>, o: &Overrides) -> Result<Settings, ConfigError> {
    let file = file.unwrap_or_default();
    let runtime = resolve_runtime(&file, o)?;
    let input = source::input(o, &file.source);
    let model = model::resolve(o, &file.model, &input)?;
    let specs = cameras::resolve(
        &o.cameras,
        &file.cameras.list,
        cameras::StageDefaults {
            plugin_dir: &runtime.plugin_dir,
            default_qos: runtime.default_qos,
        },
    )?;
    let base = base_camera(&file, o, &runtime, input)?;
    let folder = runtime.cameras_dir.is_some();
    let camera_defaults = CameraDefaults {
        base,
        pipeline_name: runtime.pipeline_name.clone(),
        several: specs.len() > 1 || folder,
        plugin_dir: runtime.plugin_dir.clone(),
        default_qos: runtime.default_qos,
    };
    // With a cameras folder, `[source]` / `--input` is no camera of its own.
    let cameras = if specs.is_empty() && !folder {
        vec![camera_defaults.base.clone()]
    } else {
        specs.iter().map(|c| camera_defaults.camera(c)).collect()
    };
    Ok(Settings {
        runtime,
        model,
        cameras,
        camera_defaults,
    })
}

/// The process-wide settings: MQTT, the plugin host, tenants, the live view.
fn resolve_runtime(file: &FileConfig, o: &Overrides) -> Result<RuntimeSettings, ConfigError> {
    let plugin_dir = plugins::dir(o, &file.plugins);
    let default_qos = mqtt::default_qos(&o.mqtt, &file.mqtt)?;
    let pipeline_name = pipeline_name(o, file)?;
    let mqtt = mqtt::resolve(o, &file.mqtt, &pipeline_name)?;
    let plugins = plugins::resolve(o, &file.plugins)?;
    let tenant_maxima = Maxima::resolve(&file.tenants)?;
    let live = match &o.http {
        Some(h) => http::resolve(h, &file.http)?,
        None => None,
    };
    Ok(RuntimeSettings {
        pipeline_name,
        mqtt: mqtt.target,
        client_id: mqtt.client_id,
        keepalive: mqtt.keepalive,
        connect_timeout: mqtt.connect_timeout,
        ack_timeout: mqtt.ack_timeout,
        delivery: mqtt.delivery,
        call_timeout: plugins.call_timeout,
        memory_limit: plugins.memory_limit,
        reload: plugins.reload,
        plugin_cache: plugins.cache,
        plugin_sources: plugins.sources,
        plugin_dir,
        default_qos,
        tenants_dir: o.tenants_dir.clone().or(file.tenants.dir.clone()),
        tenant_maxima,
        cameras_dir: o.cameras_dir.clone().or(file.cameras.dir.clone()),
        live,
    })
}

/// The camera of `[source]` / `--input` (named by `--camera-name`), with
/// the pipeline's stages, source settings, sinks and state: what every
/// camera of the run starts from.
fn base_camera(
    file: &FileConfig,
    o: &Overrides,
    rt: &RuntimeSettings,
    input: String,
) -> Result<CameraSettings, ConfigError> {
    let stages = stages::pipeline_stages(file, &rt.plugin_dir, rt.default_qos)?;
    let name = source::camera_name(o)?;
    let source_retry = source::retry(o, &file.source)?;
    let state = crate::state::StateSettings::resolve(
        &file.state,
        o.state_dir.as_deref(),
        crate::state::RestoreFlags {
            fresh: o.fresh_state,
            resume: o.resume,
        },
        crate::state::CameraState {
            pipeline: &rt.pipeline_name,
            camera: &name,
            source: source::source_id(&input),
        },
    )
    .map_err(|e| invalid("state", e))?;
    let detect_fps = match o.detect_fps {
        Some(f) => Some(
            cameras::check_detect_fps(f)
                .map(|()| f)
                .map_err(|e| invalid("detect_fps", e))?,
        ),
        None => None,
    };
    Ok(CameraSettings {
        name,
        input,
        max_frames: o.max_frames.or(file.source.max_frames),
        detect_fps,
        source_retry,
        topic_prefix: None,
        host_topics: format!("edgepipe/{}", rt.pipeline_name),
        client_id: rt.client_id.clone(),
        status_topic: rt.delivery.status_topic.clone(),
        state,
        stages,
        stdout: o.stdout || file.outputs.stdout.unwrap_or(false),
        record: o.record.clone().or(file.outputs.record.clone()),
    })
}

/// The pipeline's name: an MQTT topic level.
fn pipeline_name(o: &Overrides, file: &FileConfig) -> Result<String, ConfigError> {
    let name = o
        .name
        .clone()
        .or(file.name.clone())
        .unwrap_or_else(|| DEFAULT_PIPELINE_NAME.to_string());
    if name.is_empty() || name.contains(['/', '+', '#']) {
        return Err(invalid("name", format!("{name:?} must be non-empty and free of '/', '+' and '#' (it is an MQTT topic level)")));
    }
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn embedded_default_pipeline_parses() {
        let s = resolve(None, &Overrides::default()).unwrap();
        let names: Vec<&str> = s.cameras[0]
            .stages
            .iter()
            .map(|s| s.name.as_str())
            .collect();
        assert_eq!(
            names,
            [
                "people-counter",
                "class-names",
                "speedometer",
                "course-topics",
                "draw-boxes"
            ]
        );
        assert_eq!(s.runtime.keepalive, Duration::from_secs(60));
        assert!(
            matches!(s.runtime.mqtt, MqttTarget::Embedded(a) if a.port() == 1883 && a.ip().is_loopback())
        );
    }

    #[test]
    fn flags_override_the_file() {
        let f = FileConfig::parse(
            "[source]\ninput = \"a.avi\"\n[model]\nconfidence = 0.4\n[mqtt]\nurl = \"mqtt://h:1\"\n",
            Path::new("p.toml"),
        )
        .unwrap();
        let o = Overrides {
            input: Some("b.avi".into()),
            confidence: Some(0.6),
            ..Default::default()
        };
        let s = resolve(Some(f), &o).unwrap();
        assert_eq!(s.cameras[0].input, "b.avi");
        assert_eq!(s.model.confidence, 0.6);
        assert_eq!(s.runtime.mqtt, MqttTarget::External("mqtt://h:1".into()));
    }

    /// `[model] fold`: on by default, `false` turns it off.
    #[test]
    fn model_fold_is_on_unless_turned_off() {
        let s = resolve(None, &Overrides::default()).unwrap();
        assert!(s.model.fold && s.model.detector().fold);
        let f = FileConfig::parse("[model]\nfold = false\n", Path::new("p.toml")).unwrap();
        let s = resolve(Some(f), &Overrides::default()).unwrap();
        assert!(!s.model.fold && !s.model.detector().fold);
        assert!(FileConfig::parse("[model]\nfold = 1\n", Path::new("p.toml")).is_err());
    }

    #[test]
    fn bad_values_name_their_key() {
        let o = Overrides {
            confidence: Some(1.5),
            ..Default::default()
        };
        assert!(resolve(None, &o)
            .unwrap_err()
            .to_string()
            .starts_with("setting `confidence`"));
        let o = Overrides {
            mqtt_url: Some("http://x".into()),
            ..Default::default()
        };
        assert!(resolve(None, &o)
            .unwrap_err()
            .to_string()
            .starts_with("setting `mqtt.url`"));
        let o = Overrides {
            sessions: Some(MAX_SESSIONS + 1),
            ..Default::default()
        };
        assert!(resolve(None, &o)
            .unwrap_err()
            .to_string()
            .starts_with("setting `model.sessions`"));
    }

    #[test]
    fn values_that_would_overflow_are_errors() {
        let key_of = |toml: &str| {
            let f = FileConfig::parse(toml, Path::new("p.toml")).unwrap();
            resolve(Some(f), &Overrides::default())
                .unwrap_err()
                .to_string()
        };
        assert!(key_of("[mqtt]\nack_timeout_secs = 9223372036854775807\n")
            .starts_with("setting `mqtt.ack_timeout_secs`"));
        assert!(key_of("[mqtt]\nconnect_timeout_secs = 86401\n")
            .starts_with("setting `mqtt.connect_timeout_secs`"));
        assert!(key_of("[plugins]\ncall_timeout_ms = 60001\n")
            .starts_with("setting `plugins.call_timeout_ms`"));
        assert!(key_of("[mqtt]\nmax_message_bytes = 100\n")
            .starts_with("setting `mqtt.max_message_bytes`"));
        // 2^44 + 1 MiB: shifted into bytes it would wrap to 1 MiB.
        let o = Overrides {
            plugin_memory_mb: Some((1 << 44) + 1),
            ..Default::default()
        };
        assert!(resolve(None, &o)
            .unwrap_err()
            .to_string()
            .starts_with("setting `plugins.memory_mb`"));
        let s = resolve(
            None,
            &Overrides {
                plugin_memory_mb: Some(4096),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(s.runtime.memory_limit, 4 << 30);
    }
}
