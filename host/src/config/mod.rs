//! The pipeline file (TOML) and the command-line flags that override it,
//! resolved into one [`Settings`]. Unknown keys are errors.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use thiserror::Error;

use crate::mqtt::{Limits, MqttSettings, MqttVersion, Qos, Secret, TlsFiles, WhenFull};
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
    #[serde(default)]
    pub state: crate::state::StateConfig,
    #[serde(default)]
    pub tenants: crate::tenants::TenantsConfig,
    #[serde(default)]
    pub http: crate::live::config::HttpConfig,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    pub input: Option<String>,
    pub max_frames: Option<u64>,
    /// A live source that fails is opened again for this long without a
    /// frame before the run ends (default: forever; 0: never).
    pub retry_secs: Option<u64>,
    /// First wait before opening a failed live source again (default 500).
    pub retry_initial_ms: Option<u64>,
    /// The wait doubles up to this (default 10000).
    pub retry_max_ms: Option<u64>,
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
    /// Execution provider: `cpu`, `openvino` or `auto` (default).
    pub ep: Option<String>,
    /// Provider options, e.g. `{ device_type = "GPU" }`.
    pub ep_options: Option<BTreeMap<String, String>>,
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
    /// WebSocket listener of the embedded broker (for browser MQTT clients).
    pub embedded_ws_port: Option<u16>,
    /// An unreachable broker at start is an error (exit 6) instead of a warning.
    pub required: Option<bool>,
    /// `"3.1.1"` (default) or `"5"`.
    pub version: Option<String>,
    /// Default QoS given to topics stages as their `qos` setting (default 1).
    pub qos: Option<u8>,
    /// For `mqtts://`: PEM CA file (default: the system's roots), client cert and key.
    pub ca_file: Option<PathBuf>,
    pub client_cert: Option<PathBuf>,
    pub client_key: Option<PathBuf>,
    pub username: Option<String>,
    /// Name of the environment variable holding the password.
    pub password_env: Option<String>,
    /// File whose first line is the password.
    pub password_file: Option<PathBuf>,
    /// Bounds of the queue in front of the connection.
    pub queue_messages: Option<usize>,
    pub queue_bytes: Option<usize>,
    /// `drop-oldest` (default) or `drop-newest`.
    pub when_full: Option<String>,
    /// `<status_prefix>/status` carries `online`/`offline` (default `edgepipe/<name>`).
    pub status_prefix: Option<String>,
    /// Topics published retained, so a late subscriber sees the last value.
    pub retain_last: Option<Vec<String>>,
    /// The largest message (whole PUBLISH packet) sent; larger ones are refused.
    pub max_message_bytes: Option<usize>,
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
    /// Watch stage files and swap in new versions while running (default true).
    pub reload: Option<bool>,
    /// Compiled-component cache; `""` turns it off.
    pub cache_dir: Option<PathBuf>,
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
        let home = std::env::var_os("HOME").filter(|h| !h.is_empty()).map(PathBuf::from);
        cfg.rebase(path.parent().unwrap_or(Path::new(".")), home.as_deref())
            .map_err(|reason| ConfigError::Parse { path: path.to_path_buf(), reason })?;
        Ok(cfg)
    }

    /// `~/` is the home folder; other relative paths in a file are relative
    /// to the file's folder.
    fn rebase(&mut self, dir: &Path, home: Option<&Path>) -> Result<(), String> {
        let fix = |p: &mut Option<PathBuf>| -> Result<(), String> {
            if let Some(x) = p.as_mut() {
                *x = resolve_path(x, dir, home)?;
            }
            Ok(())
        };
        fix(&mut self.model.path)?;
        fix(&mut self.model.labels)?;
        fix(&mut self.model.ort_lib)?;
        fix(&mut self.outputs.record)?;
        fix(&mut self.plugins.dir)?;
        fix(&mut self.tenants.dir)?;
        if self.plugins.cache_dir.as_ref().is_some_and(|d| !d.as_os_str().is_empty()) {
            fix(&mut self.plugins.cache_dir)?;
        }
        fix(&mut self.mqtt.ca_file)?;
        fix(&mut self.mqtt.client_cert)?;
        fix(&mut self.mqtt.client_key)?;
        fix(&mut self.mqtt.password_file)?;
        fix(&mut self.state.dir)?;
        fix(&mut self.http.token_file)?;
        if let Some(stages) = self.stages.as_mut() {
            for s in stages {
                fix(&mut s.path)?;
            }
        }
        if let Some(input) = self.source.input.as_mut() {
            let looks_like_path = !input.contains("://") && input.parse::<i32>().is_err();
            if looks_like_path {
                *input = resolve_path(Path::new(input.as_str()), dir, home)?.to_string_lossy().into_owned();
            }
        }
        Ok(())
    }
}

/// A path from a pipeline file: `~` and `~/...` under `home`, a relative
/// one under `dir`, an absolute one as it is.
fn resolve_path(p: &Path, dir: &Path, home: Option<&Path>) -> Result<PathBuf, String> {
    let text = p.to_string_lossy();
    if text == "~" || text.starts_with("~/") {
        let home = home.ok_or_else(|| format!("{text}: `~` needs the HOME environment variable, which is not set"))?;
        return Ok(home.join(text.trim_start_matches('~').trim_start_matches('/')));
    }
    if text.starts_with('~') {
        return Err(format!("{text}: only `~/` (your own home folder) is expanded; write the full path"));
    }
    Ok(if p.is_relative() { dir.join(p) } else { p.to_path_buf() })
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
    /// `--ep` and `--ep-option key=value` (these replace the file's options).
    pub ep: Option<String>,
    pub ep_options: Vec<String>,
    pub mqtt_url: Option<String>,
    pub no_mqtt: bool,
    pub client_id: Option<String>,
    pub keepalive_secs: Option<u64>,
    pub broker_port: Option<u16>,
    pub stdout: bool,
    pub record: Option<PathBuf>,
    pub plugin_dir: Option<PathBuf>,
    pub no_reload: bool,
    pub plugin_cache: Option<PathBuf>,
    pub no_plugin_cache: bool,
    pub plugin_timeout_ms: Option<u64>,
    pub plugin_memory_mb: Option<usize>,
    pub source_retry_secs: Option<u64>,
    pub state_dir: Option<PathBuf>,
    pub fresh_state: bool,
    pub tenants_dir: Option<PathBuf>,
    pub mqtt: MqttOverrides,
    /// The live view's flags; `None`: this command serves no live view.
    pub http: Option<crate::live::config::HttpOverrides>,
}

/// Command-line overrides of the `[mqtt]` delivery settings.
#[derive(Debug, Default, Clone)]
pub struct MqttOverrides {
    pub required: bool,
    pub version: Option<String>,
    pub qos: Option<u8>,
    pub ca_file: Option<PathBuf>,
    pub client_cert: Option<PathBuf>,
    pub client_key: Option<PathBuf>,
    pub username: Option<String>,
    pub password_env: Option<String>,
    pub password_file: Option<PathBuf>,
    pub queue_messages: Option<usize>,
    pub queue_bytes: Option<usize>,
    pub when_full: Option<String>,
    pub retain_last: Vec<String>,
    pub broker_ws_port: Option<u16>,
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
    /// The execution provider and its options.
    pub ep: crate::ep::Ep,
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
    /// Hot reload of stage files.
    pub reload: bool,
    /// Where compiled components are cached (`None`: no cache).
    pub plugin_cache: Option<PathBuf>,
    /// How messages are delivered (queue, TLS, login, availability).
    pub delivery: Delivery,
    /// How a live source that fails is opened again.
    pub source_retry: crate::capture::Retry,
    /// Stage state kept across restarts (`None`: off).
    pub state: Option<crate::state::StateSettings>,
    /// Where `<name>.wasm` is looked up (tenants' stages too).
    pub plugin_dir: PathBuf,
    /// The default QoS handed to topics stages.
    pub default_qos: u8,
    /// The tenants folder (`None`: no tenants) and the most a tenant may ask for.
    pub tenants_dir: Option<PathBuf>,
    pub tenant_maxima: crate::tenants::Maxima,
    /// The live view (`None`: off).
    pub live: Option<crate::live::LiveSettings>,
}

/// The `[mqtt]` delivery settings, resolved.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub required: bool,
    pub version: MqttVersion,
    pub tls: TlsFiles,
    pub username: Option<String>,
    pub password: Option<Secret>,
    pub queue: Limits,
    pub status_topic: Option<String>,
    pub retain_last: Vec<String>,
    /// WebSocket listener of the embedded broker.
    pub broker_ws: Option<SocketAddr>,
    /// `mqtt.max_message_bytes` (`None`: the client's default).
    pub max_message_bytes: Option<usize>,
    /// Topic prefixes stages may not publish under.
    pub host_prefixes: Vec<String>,
}

impl Settings {
    /// The publisher's settings for a broker at `url`.
    pub fn mqtt_settings(&self, url: String) -> MqttSettings {
        let d = &self.delivery;
        MqttSettings {
            url,
            client_id: self.client_id.clone(),
            keepalive: self.keepalive,
            connect_timeout: self.connect_timeout,
            ack_timeout: self.ack_timeout,
            required: d.required,
            version: d.version,
            tls: d.tls.clone(),
            username: d.username.clone(),
            password: d.password.clone(),
            queue: d.queue,
            status_topic: d.status_topic.clone(),
            retain_last: d.retain_last.clone(),
            max_message_bytes: d.max_message_bytes,
        }
    }
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

pub(crate) fn setting_value(key: &str, v: &toml::Value) -> Result<String, ConfigError> {
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

/// Unique per host and process, so two pipelines never take over each other's session.
fn default_client_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let host: String = host.trim().chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-').take(32).collect();
    if host.is_empty() {
        format!("edgepipe-{}", std::process::id())
    } else {
        format!("edgepipe-{host}-{}", std::process::id())
    }
}

fn invalid(key: &str, reason: impl std::fmt::Display) -> ConfigError {
    ConfigError::Invalid { key: key.to_string(), reason: reason.to_string() }
}

fn bounded_secs(key: &str, secs: u64) -> Result<u64, ConfigError> {
    if secs > MAX_TIMEOUT_SECS {
        return Err(invalid(key, format!("{secs} is more than {MAX_TIMEOUT_SECS} (a day)")));
    }
    Ok(secs)
}

/// The password, from an environment variable or a file; never shown.
fn password(o: &MqttOverrides, f: &MqttConfig) -> Result<Option<Secret>, ConfigError> {
    let env = o.password_env.clone().or(f.password_env.clone());
    let file = o.password_file.clone().or(f.password_file.clone());
    load_password("mqtt", env.as_deref(), file.as_deref())
}

/// A password from the environment variable `env` or the first line of
/// `file` (not both); `section` names the settings in errors (`mqtt`).
pub fn load_password(section: &str, env: Option<&str>, file: Option<&Path>) -> Result<Option<Secret>, ConfigError> {
    let key = |k: &str| format!("{section}.{k}");
    match (env, file) {
        (Some(_), Some(_)) => Err(invalid(&key("password_env"), "give the password through an environment variable or a file, not both")),
        (Some(var), None) => match std::env::var(var) {
            Ok(p) if !p.is_empty() => Ok(Some(Secret::new(p))),
            _ => Err(invalid(&key("password_env"), format!("environment variable {var} is not set or empty"))),
        },
        (None, Some(path)) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| invalid(&key("password_file"), format!("{}: {}", path.display(), e.kind())))?;
            let first = text.lines().next().unwrap_or("");
            if first.is_empty() {
                return Err(invalid(&key("password_file"), format!("{}: the first line is empty", path.display())));
            }
            Ok(Some(Secret::new(first)))
        }
        (None, None) => Ok(None),
    }
}

fn delivery(o: &MqttOverrides, f: &MqttConfig, pipeline_name: &str, bind: IpAddr) -> Result<Delivery, ConfigError> {
    let version = match o.version.clone().or(f.version.clone()) {
        Some(v) => v.parse::<MqttVersion>().map_err(|e| invalid("mqtt.version", e))?,
        None => MqttVersion::V311,
    };
    let when_full = match o.when_full.clone().or(f.when_full.clone()) {
        Some(w) => w.parse::<WhenFull>().map_err(|e| invalid("mqtt.when_full", e))?,
        None => WhenFull::DropOldest,
    };
    let defaults = Limits::default();
    let messages = o.queue_messages.or(f.queue_messages).unwrap_or(defaults.messages);
    let bytes = o.queue_bytes.or(f.queue_bytes).unwrap_or(defaults.bytes);
    if messages == 0 {
        return Err(invalid("mqtt.queue_messages", "must be at least 1"));
    }
    if bytes < 1024 {
        return Err(invalid("mqtt.queue_bytes", format!("{bytes} is below 1024")));
    }
    let username = o.username.clone().or(f.username.clone());
    let password = password(o, f)?;
    if password.is_some() && username.is_none() {
        return Err(invalid("mqtt.username", "a password is given but no user name"));
    }
    let prefix = f.status_prefix.clone().unwrap_or_else(|| format!("edgepipe/{pipeline_name}"));
    let prefix = prefix.trim_end_matches('/').to_string();
    if prefix.contains(['+', '#']) {
        return Err(invalid("mqtt.status_prefix", format!("{prefix:?} must be free of '+' and '#'")));
    }
    let status_topic = if prefix.is_empty() { None } else { Some(format!("{prefix}/status")) };
    let mut host_prefixes = vec![format!("edgepipe/{pipeline_name}")];
    if !prefix.is_empty() && !host_prefixes.contains(&prefix) {
        host_prefixes.push(prefix.clone());
    }
    let max_message_bytes = f.max_message_bytes;
    if let Some(m) = max_message_bytes.filter(|m| !(MIN_MESSAGE_BYTES..=crate::mqtt::MQTT_MAX_PACKET).contains(m)) {
        return Err(invalid(
            "mqtt.max_message_bytes",
            format!("{m} is not {MIN_MESSAGE_BYTES}..={} (the largest MQTT packet)", crate::mqtt::MQTT_MAX_PACKET),
        ));
    }
    let mut retain_last = f.retain_last.clone().unwrap_or_default();
    retain_last.extend(o.retain_last.iter().cloned());
    if let Some(t) = retain_last.iter().find(|t| t.is_empty() || t.contains(['+', '#'])) {
        return Err(invalid("mqtt.retain_last", format!("{t:?} is not a topic name (no wildcards)")));
    }
    let broker_ws = o.broker_ws_port.or(f.embedded_ws_port).map(|p| SocketAddr::new(bind, p));
    Ok(Delivery {
        required: o.required || f.required.unwrap_or(false),
        version,
        tls: TlsFiles {
            ca: o.ca_file.clone().or(f.ca_file.clone()),
            cert: o.client_cert.clone().or(f.client_cert.clone()),
            key: o.client_key.clone().or(f.client_key.clone()),
        },
        username,
        password,
        queue: Limits { messages, bytes, when_full },
        status_topic,
        retain_last,
        broker_ws,
        max_message_bytes,
        host_prefixes,
    })
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
    let default_qos = o.mqtt.qos.or(file.mqtt.qos).unwrap_or(1);
    if Qos::from_level(default_qos).is_none() {
        return Err(invalid("mqtt.qos", format!("{default_qos} is not 0, 1 or 2")));
    }
    let stages = stage_settings(stage_cfgs, &plugin_dir, default_qos)?;

    let input = o
        .input
        .clone()
        .or(file.source.input.clone())
        .unwrap_or_else(|| default_asset(DEFAULT_INPUT).to_string_lossy().into_owned());
    let confidence = check_unit("confidence", o.confidence.or(file.model.confidence).unwrap_or(0.25))?;
    let iou = check_unit("iou", o.iou.or(file.model.iou).unwrap_or(0.45))?;
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let threads_set = o.threads.or(file.model.threads).filter(|&t| t > 0);
    let ort_lib = o.ort_lib.clone().or(file.model.ort_lib.clone()).unwrap_or_else(|| default_asset(DEFAULT_ORT_LIB));
    let ep = resolve_ep(o, &file.model, &ort_lib)?;
    let sessions = match o.sessions.or(file.model.sessions).unwrap_or(0) {
        0 => ep.provider.default_sessions(crate::capture::SourceSpec::parse(&input).is_live(), cores, threads_set),
        n if n > MAX_SESSIONS => {
            return Err(ConfigError::Invalid { key: "model.sessions".into(), reason: format!("{n} is more than {MAX_SESSIONS}") })
        }
        n => n,
    };
    let threads = o.threads.or(file.model.threads).unwrap_or(0);
    let threads = if threads == 0 { (cores / sessions).max(1) } else { threads };

    let mqtt_enabled = !o.no_mqtt && file.mqtt.enabled.unwrap_or(true);
    let bind = file.mqtt.embedded_bind.unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
    let mqtt = if !mqtt_enabled {
        MqttTarget::Off
    } else if let Some(url) = o.mqtt_url.clone().or(file.mqtt.url.clone()) {
        crate::mqtt::BrokerAddr::parse(&url).map_err(|e| ConfigError::Invalid { key: "mqtt.url".into(), reason: e.to_string() })?;
        MqttTarget::External(url)
    } else {
        let port = o.broker_port.or(file.mqtt.embedded_port).unwrap_or(DEFAULT_BROKER_PORT);
        MqttTarget::Embedded(SocketAddr::new(bind, port))
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
    let memory_mb = o.plugin_memory_mb.or(file.plugins.memory_mb).unwrap_or(crate::plugin::DEFAULT_MEMORY_LIMIT >> 20);
    if !(1..=MAX_STAGE_MEMORY_MB).contains(&memory_mb) {
        return Err(invalid("plugins.memory_mb", format!("{memory_mb} is not 1..={MAX_STAGE_MEMORY_MB} (a stage's memory is 32-bit)")));
    }
    let call_timeout_ms = o
        .plugin_timeout_ms
        .or(file.plugins.call_timeout_ms)
        .unwrap_or(crate::plugin::DEFAULT_CALL_TIMEOUT.as_millis() as u64);
    if !(1..=MAX_CALL_TIMEOUT_MS).contains(&call_timeout_ms) {
        return Err(invalid("plugins.call_timeout_ms", format!("{call_timeout_ms} is not 1..={MAX_CALL_TIMEOUT_MS}")));
    }
    let connect_timeout_secs = bounded_secs("mqtt.connect_timeout_secs", file.mqtt.connect_timeout_secs.unwrap_or(5))?.max(1);
    let ack_timeout_secs = bounded_secs("mqtt.ack_timeout_secs", file.mqtt.ack_timeout_secs.unwrap_or(10))?;
    if let Some(t) = threads_set.filter(|&t| t > MAX_THREADS) {
        return Err(invalid("model.threads", format!("{t} is more than {MAX_THREADS}")));
    }
    let plugin_cache = if o.no_plugin_cache {
        None
    } else if let Some(d) = o.plugin_cache.clone().or_else(|| std::env::var_os("EDGEPIPE_CACHE_DIR").map(PathBuf::from)).or(file.plugins.cache_dir.clone()) {
        (!d.as_os_str().is_empty()).then_some(d)
    } else {
        crate::plugin::cache::default_dir()
    };
    let delivery = delivery(&o.mqtt, &file.mqtt, &pipeline_name, bind)?;
    let source_retry = source_retry(o, &file.source)?;
    let tenant_maxima = crate::tenants::Maxima::resolve(&file.tenants)?;
    let tenants_dir = o.tenants_dir.clone().or(file.tenants.dir.clone());
    let live = match &o.http {
        Some(h) => crate::live::config::resolve(h, &file.http)?,
        None => None,
    };
    let state = crate::state::StateSettings::resolve(&file.state, o.state_dir.as_deref(), o.fresh_state, &pipeline_name)
        .map_err(|e| invalid("state", e))?;
    Ok(Settings {
        pipeline_name,
        input,
        max_frames: o.max_frames.or(file.source.max_frames),
        model: o.model.clone().or(file.model.path.clone()).unwrap_or_else(|| default_asset(DEFAULT_MODEL)),
        labels: o.labels.clone().or(file.model.labels.clone()),
        ort_lib,
        ep,
        confidence,
        iou,
        threads,
        sessions,
        max_detections: file.model.max_detections.unwrap_or(300),
        mqtt,
        client_id: o.client_id.clone().or(file.mqtt.client_id.clone()).unwrap_or_else(default_client_id),
        keepalive: Duration::from_secs(keepalive),
        connect_timeout: Duration::from_secs(connect_timeout_secs),
        ack_timeout: Duration::from_secs(ack_timeout_secs),
        stdout: o.stdout || file.outputs.stdout.unwrap_or(false),
        record: o.record.clone().or(file.outputs.record.clone()),
        call_timeout: Duration::from_millis(call_timeout_ms),
        memory_limit: memory_mb.checked_mul(1 << 20).ok_or_else(|| invalid("plugins.memory_mb", format!("{memory_mb} MiB does not fit in memory")))?,
        stages,
        reload: !o.no_reload && file.plugins.reload.unwrap_or(true),
        plugin_cache,
        delivery,
        source_retry,
        state,
        plugin_dir,
        default_qos,
        tenants_dir,
        tenant_maxima,
        live,
    })
}

/// A chain's `[[stages]]`, resolved: settings as strings, the default QoS
/// handed to topics stages that did not choose one, `<plugin_dir>/<name>.wasm`
/// where no path is given; names unique.
pub fn stage_settings(cfgs: Vec<StageConfig>, plugin_dir: &Path, default_qos: u8) -> Result<Vec<StageSettings>, ConfigError> {
    let mut stages = Vec::with_capacity(cfgs.len());
    for s in cfgs {
        let mut settings = Vec::with_capacity(s.settings.len());
        for (k, v) in &s.settings {
            settings.push((k.clone(), setting_value(&format!("stages.{}.settings.{k}", s.name), v)?));
        }
        // The pipeline's default QoS, unless the stage chose its own.
        if s.kind == StageKind::Topics && !s.settings.contains_key("qos") {
            settings.push(("qos".to_string(), default_qos.to_string()));
        }
        let path = s.path.clone().unwrap_or_else(|| plugin_dir.join(format!("{}.wasm", s.name)));
        stages.push(StageSettings { name: s.name, kind: s.kind, path, settings });
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

fn source_retry(o: &Overrides, f: &SourceConfig) -> Result<crate::capture::Retry, ConfigError> {
    use crate::capture::Retry;
    const MAX_MS: u64 = 3_600_000;
    let d = Retry::default();
    let initial = f.retry_initial_ms.unwrap_or(d.initial.as_millis() as u64);
    let max = f.retry_max_ms.unwrap_or(d.max.as_millis() as u64);
    if initial == 0 || initial > MAX_MS {
        return Err(invalid("source.retry_initial_ms", format!("{initial} is not 1..{MAX_MS}")));
    }
    if max < initial || max > MAX_MS {
        return Err(invalid("source.retry_max_ms", format!("{max} is not {initial}..{MAX_MS}")));
    }
    let give_up = match o.source_retry_secs.or(f.retry_secs) {
        Some(s) if s > MAX_MS / 1000 * 24 * 365 => return Err(invalid("source.retry_secs", format!("{s} is more than a year"))),
        Some(s) => Some(Duration::from_secs(s)),
        None => None,
    };
    Ok(Retry { initial: Duration::from_millis(initial), max: Duration::from_millis(max), give_up_after: give_up })
}

/// `--ep`/`[model] ep` and the provider options (flags replace the file's).
fn resolve_ep(o: &Overrides, model: &ModelConfig, ort_lib: &Path) -> Result<crate::ep::Ep, ConfigError> {
    let bad = |e: crate::ep::EpError| ConfigError::Invalid { key: "model.ep".into(), reason: e.to_string() };
    let choice = match o.ep.as_deref().or(model.ep.as_deref()) {
        Some(s) => s.parse().map_err(bad)?,
        None => crate::ep::EpChoice::Auto,
    };
    let options = if o.ep_options.is_empty() {
        model.ep_options.clone().unwrap_or_default().into_iter().collect()
    } else {
        o.ep_options.iter().map(|s| crate::ep::parse_option(s)).collect::<Result<Vec<_>, _>>().map_err(bad)?
    };
    crate::ep::resolve(choice, options, ort_lib).map_err(bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_default_pipeline_parses() {
        let s = resolve(None, &Overrides::default()).unwrap();
        let names: Vec<&str> = s.stages.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["people-counter", "class-names", "speedometer", "course-topics", "draw-boxes"]);
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
    fn mqtt_delivery_defaults_and_overrides() {
        let s = resolve(None, &Overrides { name: Some("door".into()), ..Default::default() }).unwrap();
        assert_eq!(s.delivery.status_topic.as_deref(), Some("edgepipe/door/status"));
        assert_eq!(s.delivery.queue, Limits::default());
        assert!(!s.delivery.required && s.delivery.version == MqttVersion::V311);
        let topics = s.stages.iter().find(|st| st.kind == StageKind::Topics).unwrap();
        assert!(topics.settings.contains(&("qos".to_string(), "1".to_string())), "default QoS handed to topics stages");

        let f = FileConfig::parse(
            "[mqtt]\nqos = 0\nstatus_prefix = \"site/cam\"\nwhen_full = \"drop-newest\"\nretain_last = [\"person\"]\n\n\
             [[stages]]\nname = \"t\"\nkind = \"topics\"\nsettings = { qos = 2 }\n[[stages]]\nname = \"u\"\nkind = \"topics\"\n",
            Path::new("p.toml"),
        )
        .unwrap();
        let o = Overrides { mqtt: MqttOverrides { queue_messages: Some(7), ..Default::default() }, ..Default::default() };
        let s = resolve(Some(f), &o).unwrap();
        assert_eq!(s.delivery.status_topic.as_deref(), Some("site/cam/status"));
        assert_eq!(s.delivery.queue.messages, 7);
        assert_eq!(s.delivery.queue.when_full, WhenFull::DropNewest);
        assert_eq!(s.delivery.retain_last, ["person"]);
        let qos: Vec<&str> = s.stages.iter().flat_map(|st| st.settings.iter().filter(|(k, _)| k == "qos").map(|(_, v)| v.as_str())).collect();
        assert_eq!(qos, ["2", "0"], "a stage's own qos wins over the pipeline default");
    }

    #[test]
    fn passwords_come_from_env_or_file_and_never_show() {
        let dir = std::env::temp_dir().join(format!("edgepipe-cfg-pw-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("pw");
        std::fs::write(&file, "hunter2\nignored\n").unwrap();
        let o = Overrides {
            mqtt: MqttOverrides { username: Some("u".into()), password_file: Some(file.clone()), ..Default::default() },
            ..Default::default()
        };
        let s = resolve(None, &o).unwrap();
        assert_eq!(s.delivery.password.as_ref().map(|p| p.expose()), Some("hunter2"));
        assert!(!format!("{s:?}").contains("hunter2"));
        let o = Overrides { mqtt: MqttOverrides { password_file: Some(file), ..Default::default() }, ..Default::default() };
        let e = resolve(None, &o).unwrap_err().to_string();
        assert!(e.contains("no user name") && !e.contains("hunter2"), "{e}");
        let o = Overrides {
            mqtt: MqttOverrides { username: Some("u".into()), password_env: Some("EDGEPIPE_UNIT_NO_SUCH_VAR".into()), ..Default::default() },
            ..Default::default()
        };
        assert!(resolve(None, &o).unwrap_err().to_string().contains("EDGEPIPE_UNIT_NO_SUCH_VAR is not set"));
        let _ = std::fs::remove_dir_all(&dir);
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
    fn stage_names_are_unique_in_a_chain() {
        let f = FileConfig::parse(
            "[[stages]]\nname = \"a\"\nkind = \"stats\"\n[[stages]]\nname = \"a\"\nkind = \"topics\"\n",
            Path::new("p.toml"),
        )
        .unwrap();
        let e = resolve(Some(f), &Overrides::default()).unwrap_err().to_string();
        assert!(e.contains("two stages are named \"a\""), "{e}");
    }

    #[test]
    fn tilde_is_the_home_folder() {
        let (dir, home) = (Path::new("/etc/edgepipe"), Some(Path::new("/home/cam")));
        assert_eq!(resolve_path(Path::new("~/.cache/x"), dir, home).unwrap(), Path::new("/home/cam/.cache/x"));
        assert_eq!(resolve_path(Path::new("~"), dir, home).unwrap(), Path::new("/home/cam"));
        assert_eq!(resolve_path(Path::new("m/a.onnx"), dir, home).unwrap(), Path::new("/etc/edgepipe/m/a.onnx"));
        assert_eq!(resolve_path(Path::new("/abs"), dir, home).unwrap(), Path::new("/abs"));
        assert!(resolve_path(Path::new("~/x"), dir, None).unwrap_err().contains("HOME"));
        assert!(resolve_path(Path::new("~bob/x"), dir, home).unwrap_err().contains("only `~/`"));
        let mut f = FileConfig::parse("[plugins]\ncache_dir = \"~/.cache/c\"\n[source]\ninput = \"~/v.avi\"\n", Path::new("p.toml")).unwrap();
        f.rebase(dir, home).unwrap();
        assert_eq!(f.plugins.cache_dir.as_deref(), Some(Path::new("/home/cam/.cache/c")));
        assert_eq!(f.source.input.as_deref(), Some("/home/cam/v.avi"));
    }

    #[test]
    fn values_that_would_overflow_are_errors() {
        let key_of = |toml: &str| {
            let f = FileConfig::parse(toml, Path::new("p.toml")).unwrap();
            resolve(Some(f), &Overrides::default()).unwrap_err().to_string()
        };
        assert!(key_of("[mqtt]\nack_timeout_secs = 9223372036854775807\n").starts_with("setting `mqtt.ack_timeout_secs`"));
        assert!(key_of("[mqtt]\nconnect_timeout_secs = 86401\n").starts_with("setting `mqtt.connect_timeout_secs`"));
        assert!(key_of("[plugins]\ncall_timeout_ms = 60001\n").starts_with("setting `plugins.call_timeout_ms`"));
        assert!(key_of("[mqtt]\nmax_message_bytes = 100\n").starts_with("setting `mqtt.max_message_bytes`"));
        // 2^44 + 1 MiB: shifted into bytes it would wrap to 1 MiB.
        let o = Overrides { plugin_memory_mb: Some((1 << 44) + 1), ..Default::default() };
        assert!(resolve(None, &o).unwrap_err().to_string().starts_with("setting `plugins.memory_mb`"));
        let s = resolve(None, &Overrides { plugin_memory_mb: Some(4096), ..Default::default() }).unwrap();
        assert_eq!(s.memory_limit, 4 << 30);
    }

    #[test]
    fn stages_may_not_use_the_host_topics() {
        let s = resolve(None, &Overrides { name: Some("door".into()), ..Default::default() }).unwrap();
        assert_eq!(s.delivery.host_prefixes, ["edgepipe/door"]);
        let f = FileConfig::parse("[mqtt]\nstatus_prefix = \"site/cam/\"\n", Path::new("p.toml")).unwrap();
        let s = resolve(Some(f), &Overrides::default()).unwrap();
        assert_eq!(s.delivery.host_prefixes, ["edgepipe/default", "site/cam"]);
    }

    #[test]
    fn sessions_and_threads_share_the_cores() {
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
        let cpu = || Overrides { ep: Some("cpu".into()), ..Default::default() };
        let file = resolve(None, &Overrides { input: Some("clip.avi".into()), ..cpu() }).unwrap();
        assert_eq!(file.sessions, DEFAULT_FILE_SESSIONS.min(cores).max(1));
        assert_eq!(file.threads, (cores / file.sessions).max(1));
        let ov = resolve(None, &Overrides { input: Some("clip.avi".into()), ep: Some("openvino".into()), ..Default::default() }).unwrap();
        assert_eq!((ov.sessions, ov.threads), (file.sessions, file.threads), "openvino: the same shape as cpu");
        let live = resolve(None, &Overrides { input: Some("rtsp://cam/s".into()), ..cpu() }).unwrap();
        assert_eq!((live.sessions, live.threads), (1, cores), "a live source: one session, every core");
        let f = FileConfig::parse("[model]\nsessions = 3\nthreads = 1\n", Path::new("p.toml")).unwrap();
        let s = resolve(Some(f), &Overrides { sessions: Some(2), ..cpu() }).unwrap();
        assert_eq!((s.sessions, s.threads), (2, 1), "the flag wins over the file");
        let s = resolve(None, &Overrides { threads: Some(cores), ..cpu() }).unwrap();
        assert_eq!((s.sessions, s.threads), (1, cores), "threads for every core: one session");
        let f = FileConfig::parse("[model]\nep = \"openvino\"\nep_options = { device_type = \"GPU\" }\n", Path::new("p.toml")).unwrap();
        let s = resolve(Some(f), &Overrides::default()).unwrap();
        assert_eq!((s.ep.provider, s.ep.option("device_type")), (crate::ep::Provider::OpenVino, Some("GPU")));
        let f = FileConfig::load(&Path::new(BUILD_ROOT).join("examples/openvino-gpu.toml")).unwrap();
        let s = resolve(Some(f), &Overrides::default()).unwrap();
        assert_eq!((s.ep.provider, s.ep.option("device_type"), s.sessions), (crate::ep::Provider::OpenVino, Some("GPU"), file.sessions));
        let e = resolve(None, &Overrides { ep: Some("tpu".into()), ..Default::default() }).unwrap_err();
        assert!(e.to_string().starts_with("setting `model.ep`: unknown execution provider"), "{e}");
    }
}
