//! The pipeline file (TOML) and the command-line flags that override it,
//! resolved into one [`Settings`]. Unknown keys are errors.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use thiserror::Error;

use crate::plugin::StageKind;

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
/// Inference sessions working on consecutive frames of a file when not set
/// (capped at the number of cores). Measured on 2 cores with `edgepipe bench`:
/// see README.md, "Throughput". A live source defaults to one session, which
/// gives each frame all the threads and so the lowest latency.
pub const DEFAULT_FILE_SESSIONS: usize = 2;
/// More sessions than this is a configuration mistake, not a speed-up.
pub const MAX_SESSIONS: usize = 16;

/// The default pipeline: the course app's behaviour.
pub const DEFAULT_PIPELINE: &str = include_str!("default-pipeline.toml");

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// The pipeline's name: MQTT status topics live under `edgepipe/<name>/`.
    pub name: Option<String>,
    #[serde(default)]
    pub source: SourceConfig,
    #[serde(default)]
    pub model: ModelConfig,
    #[serde(default)]
    pub mqtt: MqttConfig,
    #[serde(default)]
    pub outputs: OutputsConfig,
    #[serde(default)]
    pub plugins: PluginsConfig,
    #[serde(default)]
    pub stages: Option<Vec<StageConfig>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    pub input: Option<String>,
    pub max_frames: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    pub path: Option<PathBuf>,
    pub labels: Option<PathBuf>,
    pub ort_lib: Option<PathBuf>,
    pub confidence: Option<f32>,
    pub iou: Option<f32>,
    pub threads: Option<usize>,
    /// Concurrent inference sessions (0: automatic).
    pub sessions: Option<usize>,
    pub max_detections: Option<usize>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MqttConfig {
    /// `false` turns MQTT off entirely.
    pub enabled: Option<bool>,
    /// `mqtt://host:port`; without it an embedded broker is started.
    pub url: Option<String>,
    pub client_id: Option<String>,
    pub keepalive_secs: Option<u64>,
    pub connect_timeout_secs: Option<u64>,
    pub ack_timeout_secs: Option<u64>,
    pub embedded_bind: Option<IpAddr>,
    pub embedded_port: Option<u16>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputsConfig {
    pub stdout: Option<bool>,
    pub record: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PluginsConfig {
    pub dir: Option<PathBuf>,
    pub call_timeout_ms: Option<u64>,
    pub memory_mb: Option<usize>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StageConfig {
    pub name: String,
    pub kind: StageKind,
    /// The component; default `<plugins.dir>/<name>.wasm`.
    pub path: Option<PathBuf>,
    #[serde(default)]
    pub settings: BTreeMap<String, toml::Value>,
}

impl FileConfig {
    pub fn parse(text: &str, path: &Path) -> Result<FileConfig, ConfigError> {
        toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            reason: e.to_string().lines().filter(|l| !l.trim().is_empty()).collect::<Vec<_>>().join(" "),
        })
    }

    pub fn load(path: &Path) -> Result<FileConfig, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError::Read { path: path.to_path_buf(), reason: e.to_string() })?;
        let mut cfg = FileConfig::parse(&text, path)?;
        cfg.rebase(path.parent().unwrap_or(Path::new(".")));
        Ok(cfg)
    }

    /// Relative paths in a file are relative to the file's folder.
    fn rebase(&mut self, dir: &Path) {
        let fix = |p: &mut Option<PathBuf>| {
            if let Some(x) = p.as_mut() {
                if x.is_relative() {
                    *x = dir.join(&*x);
                }
            }
        };
        fix(&mut self.model.path);
        fix(&mut self.model.labels);
        fix(&mut self.model.ort_lib);
        fix(&mut self.outputs.record);
        fix(&mut self.plugins.dir);
        if let Some(stages) = self.stages.as_mut() {
            for s in stages {
                fix(&mut s.path);
            }
        }
        if let Some(input) = self.source.input.as_mut() {
            let p = Path::new(input.as_str());
            let looks_like_path = !input.contains("://") && input.parse::<i32>().is_err();
            if looks_like_path && p.is_relative() {
                *input = dir.join(p).to_string_lossy().into_owned();
            }
        }
    }
}

/// Command-line overrides (all optional).
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub name: Option<String>,
    pub input: Option<String>,
    pub max_frames: Option<u64>,
    pub model: Option<PathBuf>,
    pub labels: Option<PathBuf>,
    pub ort_lib: Option<PathBuf>,
    pub confidence: Option<f32>,
    pub iou: Option<f32>,
    pub threads: Option<usize>,
    pub sessions: Option<usize>,
    pub mqtt_url: Option<String>,
    pub no_mqtt: bool,
    pub client_id: Option<String>,
    pub keepalive_secs: Option<u64>,
    pub broker_port: Option<u16>,
    pub stdout: bool,
    pub record: Option<PathBuf>,
    pub plugin_dir: Option<PathBuf>,
}

/// Where MQTT messages go.
#[derive(Debug, Clone, PartialEq)]
pub enum MqttTarget {
    Off,
    Embedded(SocketAddr),
    External(String),
}

#[derive(Debug, Clone)]
pub struct StageSettings {
    pub name: String,
    pub kind: StageKind,
    pub path: PathBuf,
    pub settings: Vec<(String, String)>,
}

/// Everything a run needs, resolved.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The pipeline's name (`default` unless set).
    pub pipeline_name: String,
    pub input: String,
    pub max_frames: Option<u64>,
    pub model: PathBuf,
    pub labels: Option<PathBuf>,
    pub ort_lib: PathBuf,
    pub confidence: f32,
    pub iou: f32,
    /// Intra-op threads of each session.
    pub threads: usize,
    /// Inference sessions working on consecutive frames.
    pub sessions: usize,
    pub max_detections: usize,
    pub mqtt: MqttTarget,
    pub client_id: String,
    pub keepalive: Duration,
    pub connect_timeout: Duration,
    pub ack_timeout: Duration,
    pub stdout: bool,
    pub record: Option<PathBuf>,
    pub call_timeout: Duration,
    pub memory_limit: usize,
    pub stages: Vec<StageSettings>,
}

/// A default asset: beside the executable first, then under the build root.
pub fn default_asset(rel: &str) -> PathBuf {
    let name = Path::new(rel).file_name().map(PathBuf::from).unwrap_or_default();
    if let Some(dir) = std::env::current_exe().ok().and_then(|e| e.parent().map(Path::to_path_buf)) {
        let beside = dir.join(&name);
        if beside.exists() {
            return beside;
        }
    }
    let root = Path::new(BUILD_ROOT);
    let under_root = root.join(rel);
    std::fs::canonicalize(&under_root).unwrap_or(under_root)
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

fn check_unit(key: &str, v: f32) -> Result<f32, ConfigError> {
    if (0.0..=1.0).contains(&v) {
        Ok(v)
    } else {
        Err(ConfigError::Invalid { key: key.into(), reason: format!("{v} is not between 0 and 1") })
    }
}

fn default_client_id() -> String {
    format!("edgepipe-{}", std::process::id())
}

/// Merge the file (or the embedded default pipeline) with the flags.
pub fn resolve(file: Option<FileConfig>, o: &Overrides) -> Result<Settings, ConfigError> {
    let defaults = FileConfig::parse(DEFAULT_PIPELINE, Path::new("<embedded default pipeline>"))?;
    let file = file.unwrap_or_default();
    let plugin_dir = o
        .plugin_dir
        .clone()
        .or_else(|| std::env::var_os("EDGEPIPE_PLUGIN_DIR").map(PathBuf::from))
        .or(file.plugins.dir.clone())
        .unwrap_or_else(|| default_asset(DEFAULT_PLUGIN_DIR));
    let stage_cfgs = file.stages.clone().or(defaults.stages.clone()).unwrap_or_default();
    let mut stages = Vec::with_capacity(stage_cfgs.len());
    for s in stage_cfgs {
        let mut settings = Vec::with_capacity(s.settings.len());
        for (k, v) in &s.settings {
            settings.push((k.clone(), setting_value(&format!("stages.{}.settings.{k}", s.name), v)?));
        }
        let path = s.path.clone().unwrap_or_else(|| plugin_dir.join(format!("{}.wasm", s.name)));
        stages.push(StageSettings { name: s.name, kind: s.kind, path, settings });
    }

    let input = o
        .input
        .clone()
        .or(file.source.input.clone())
        .unwrap_or_else(|| default_asset(DEFAULT_INPUT).to_string_lossy().into_owned());
    let confidence = check_unit("confidence", o.confidence.or(file.model.confidence).unwrap_or(0.25))?;
    let iou = check_unit("iou", o.iou.or(file.model.iou).unwrap_or(0.45))?;
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let threads_set = o.threads.or(file.model.threads).filter(|&t| t > 0);
    let sessions = match o.sessions.or(file.model.sessions).unwrap_or(0) {
        0 if crate::capture::SourceSpec::parse(&input).is_live() => 1,
        // Threads given, sessions not: fill the cores without oversubscribing them.
        0 => (cores / threads_set.unwrap_or(1)).clamp(1, DEFAULT_FILE_SESSIONS.max(1)),
        n if n > MAX_SESSIONS => {
            return Err(ConfigError::Invalid { key: "model.sessions".into(), reason: format!("{n} is more than {MAX_SESSIONS}") })
        }
        n => n,
    };
    let threads = o.threads.or(file.model.threads).unwrap_or(0);
    let threads = if threads == 0 { (cores / sessions).max(1) } else { threads };

    let mqtt_enabled = !o.no_mqtt && file.mqtt.enabled.unwrap_or(true);
    let mqtt = if !mqtt_enabled {
        MqttTarget::Off
    } else if let Some(url) = o.mqtt_url.clone().or(file.mqtt.url.clone()) {
        crate::mqtt::BrokerAddr::parse(&url).map_err(|e| ConfigError::Invalid { key: "mqtt.url".into(), reason: e.to_string() })?;
        MqttTarget::External(url)
    } else {
        let ip = file.mqtt.embedded_bind.unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
        let port = o.broker_port.or(file.mqtt.embedded_port).unwrap_or(DEFAULT_BROKER_PORT);
        MqttTarget::Embedded(SocketAddr::new(ip, port))
    };
    let keepalive = o.keepalive_secs.or(file.mqtt.keepalive_secs).unwrap_or(DEFAULT_KEEPALIVE_SECS);
    if keepalive == 0 || keepalive > u16::MAX as u64 {
        return Err(ConfigError::Invalid { key: "mqtt.keepalive_secs".into(), reason: format!("{keepalive} is not 1..65535") });
    }
    let pipeline_name = o.name.clone().or(file.name.clone()).unwrap_or_else(|| DEFAULT_PIPELINE_NAME.to_string());
    if pipeline_name.is_empty() || pipeline_name.contains(['/', '+', '#']) {
        return Err(ConfigError::Invalid {
            key: "name".into(),
            reason: format!("{pipeline_name:?} must be non-empty and free of '/', '+' and '#' (it is an MQTT topic level)"),
        });
    }
    let memory_mb = file.plugins.memory_mb.unwrap_or(crate::plugin::DEFAULT_MEMORY_LIMIT >> 20);
    Ok(Settings {
        pipeline_name,
        input,
        max_frames: o.max_frames.or(file.source.max_frames),
        model: o.model.clone().or(file.model.path.clone()).unwrap_or_else(|| default_asset(DEFAULT_MODEL)),
        labels: o.labels.clone().or(file.model.labels.clone()),
        ort_lib: o
            .ort_lib
            .clone()
            .or(file.model.ort_lib.clone())
            .unwrap_or_else(|| default_asset(DEFAULT_ORT_LIB)),
        confidence,
        iou,
        threads,
        sessions,
        max_detections: file.model.max_detections.unwrap_or(300),
        mqtt,
        client_id: o.client_id.clone().or(file.mqtt.client_id.clone()).unwrap_or_else(default_client_id),
        keepalive: Duration::from_secs(keepalive),
        connect_timeout: Duration::from_secs(file.mqtt.connect_timeout_secs.unwrap_or(5).max(1)),
        ack_timeout: Duration::from_secs(file.mqtt.ack_timeout_secs.unwrap_or(10)),
        stdout: o.stdout || file.outputs.stdout.unwrap_or(false),
        record: o.record.clone().or(file.outputs.record.clone()),
        call_timeout: Duration::from_millis(
            file.plugins.call_timeout_ms.unwrap_or(crate::plugin::DEFAULT_CALL_TIMEOUT.as_millis() as u64).max(1),
        ),
        memory_limit: memory_mb.max(1) << 20,
        stages,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_default_pipeline_parses() {
        let s = resolve(None, &Overrides::default()).unwrap();
        let names: Vec<&str> = s.stages.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["people-counter", "course-topics", "draw-boxes"]);
        assert_eq!(s.keepalive, Duration::from_secs(60));
        assert!(matches!(s.mqtt, MqttTarget::Embedded(a) if a.port() == 1883 && a.ip().is_loopback()));
    }

    #[test]
    fn unknown_keys_are_errors() {
        let e = FileConfig::parse("[source]\ninptu = \"x\"\n", Path::new("p.toml")).unwrap_err().to_string();
        assert!(e.contains("p.toml") && e.contains("inptu"), "{e}");
        assert!(!e.contains('\n'), "one line: {e}");
        let e = FileConfig::parse("[sauce]\n", Path::new("p.toml")).unwrap_err().to_string();
        assert!(e.contains("sauce"), "{e}");
    }

    #[test]
    fn flags_override_the_file() {
        let f = FileConfig::parse(
            "[source]\ninput = \"a.avi\"\n[model]\nconfidence = 0.4\n[mqtt]\nurl = \"mqtt://h:1\"\n",
            Path::new("p.toml"),
        )
        .unwrap();
        let o = Overrides { input: Some("b.avi".into()), confidence: Some(0.6), ..Default::default() };
        let s = resolve(Some(f), &o).unwrap();
        assert_eq!(s.input, "b.avi");
        assert_eq!(s.confidence, 0.6);
        assert_eq!(s.mqtt, MqttTarget::External("mqtt://h:1".into()));
    }

    #[test]
    fn bad_values_name_their_key() {
        let o = Overrides { confidence: Some(1.5), ..Default::default() };
        assert!(resolve(None, &o).unwrap_err().to_string().starts_with("setting `confidence`"));
        let o = Overrides { mqtt_url: Some("http://x".into()), ..Default::default() };
        assert!(resolve(None, &o).unwrap_err().to_string().starts_with("setting `mqtt.url`"));
        let o = Overrides { sessions: Some(MAX_SESSIONS + 1), ..Default::default() };
        assert!(resolve(None, &o).unwrap_err().to_string().starts_with("setting `model.sessions`"));
    }

    #[test]
    fn sessions_and_threads_share_the_cores() {
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
        let file = resolve(None, &Overrides { input: Some("clip.avi".into()), ..Default::default() }).unwrap();
        assert_eq!(file.sessions, DEFAULT_FILE_SESSIONS.min(cores).max(1));
        assert_eq!(file.threads, (cores / file.sessions).max(1));
        let live = resolve(None, &Overrides { input: Some("rtsp://cam/s".into()), ..Default::default() }).unwrap();
        assert_eq!((live.sessions, live.threads), (1, cores), "a live source: one session, every core");
        let f = FileConfig::parse("[model]\nsessions = 3\nthreads = 1\n", Path::new("p.toml")).unwrap();
        let s = resolve(Some(f), &Overrides { sessions: Some(2), ..Default::default() }).unwrap();
        assert_eq!((s.sessions, s.threads), (2, 1), "the flag wins over the file");
        let s = resolve(None, &Overrides { threads: Some(cores), ..Default::default() }).unwrap();
        assert_eq!((s.sessions, s.threads), (1, cores), "threads for every core: one session");
    }
}
