//! The pipeline file's sections as serde reads them (unknown keys are
//! errors), and the rebasing of the paths it names onto the file's folder.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::http::HttpConfig;
use super::tenants::TenantsConfig;
use super::ConfigError;
use crate::plugin::StageKind;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// The pipeline's name: MQTT status topics live under `edgepipe/<name>/`.
    pub name: Option<String>,
    #[serde(default)]
    pub source: SourceConfig,
    /// Several cameras in one process (instead of `[source] input`):
    /// `[[cameras]]` entries, or `[cameras]` with the folder of camera files.
    #[serde(default)]
    pub cameras: super::cameras::CamerasSection,
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
    pub tenants: TenantsConfig,
    #[serde(default)]
    pub http: HttpConfig,
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
    /// A named model (`yolov12n`, `nanodet`, `ssdlite-person`); or `path`.
    pub name: Option<String>,
    pub path: Option<PathBuf>,
    /// The output layout (`yolov8`, `yolov5`, `end2end`, `tfod`); default:
    /// the model's metadata, else recognised from its outputs.
    pub layout: Option<String>,
    pub labels: Option<PathBuf>,
    pub ort_lib: Option<PathBuf>,
    pub confidence: Option<f32>,
    pub iou: Option<f32>,
    pub threads: Option<usize>,
    /// Inference sessions: compiled copies of the model (0: automatic).
    pub sessions: Option<usize>,
    /// Runs in flight at once on each session, one worker thread each (0: automatic).
    pub requests: Option<usize>,
    /// Most frames in one session run, for a model with a dynamic batch
    /// dimension (0 or unset: the number of cameras, at most 8).
    pub max_batch: Option<usize>,
    /// How long a batch waits for more frames after its first, ms (default 5).
    pub batch_window_ms: Option<u64>,
    pub max_detections: Option<usize>,
    /// Execution provider: `cpu`, `openvino` or `auto` (default).
    pub ep: Option<String>,
    /// Provider options, e.g. `{ device_type = "GPU" }`.
    pub ep_options: Option<BTreeMap<String, String>>,
    /// `false`: no pre-/post-processing folded into the model at load
    /// (`model_fold`); the host normalises and reduces the scores.
    pub fold: Option<bool>,
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
    /// Public keys (`edgepipe plugin keygen`); when set, every component must
    /// be signed by one of them (README, "Fleets").
    pub trusted_keys: Option<Vec<PathBuf>>,
    /// Seconds between looks at the tag of an `oci://` stage (default 60).
    pub poll_secs: Option<f64>,
    /// Registry login: the user, and the password from a variable or a file.
    pub registry_user: Option<String>,
    pub registry_password_env: Option<String>,
    pub registry_password_file: Option<PathBuf>,
    /// A CA (PEM) trusted for registries besides the system roots.
    pub registry_ca: Option<PathBuf>,
    /// Plain HTTP to registries (no TLS): only when asked for.
    pub registry_plain_http: Option<bool>,
    /// The largest component pulled, MiB (default 64).
    pub max_component_mb: Option<u64>,
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
        toml::from_str(text).map_err(|e| parse_error(path, &e))
    }

    pub fn load(path: &Path) -> Result<FileConfig, ConfigError> {
        let text = read_text(path)?;
        let mut cfg = FileConfig::parse(&text, path)?;
        cfg.rebase(path.parent().unwrap_or(Path::new(".")), home().as_deref())
            .map_err(|reason| ConfigError::Parse {
                path: path.to_path_buf(),
                reason,
            })?;
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
        fix(&mut self.cameras.dir)?;
        if self
            .plugins
            .cache_dir
            .as_ref()
            .is_some_and(|d| !d.as_os_str().is_empty())
        {
            fix(&mut self.plugins.cache_dir)?;
        }
        fix(&mut self.mqtt.ca_file)?;
        fix(&mut self.mqtt.client_cert)?;
        fix(&mut self.mqtt.client_key)?;
        fix(&mut self.mqtt.password_file)?;
        fix(&mut self.state.dir)?;
        fix(&mut self.http.token_file)?;
        fix(&mut self.plugins.registry_password_file)?;
        fix(&mut self.plugins.registry_ca)?;
        for k in self.plugins.trusted_keys.iter_mut().flatten() {
            *k = resolve_path(k, dir, home)?;
        }
        if let Some(stages) = self.stages.as_mut() {
            rebase_stages(stages, dir, home)?;
        }
        if let Some(input) = self.source.input.as_mut() {
            rebase_input(input, dir, home)?;
        }
        for c in &mut self.cameras.list {
            c.rebase(dir, home)?;
        }
        Ok(())
    }
}

impl super::cameras::CameraConfig {
    /// Its input and stage files relative to `dir` (the folder of the file
    /// that names them), `~/` under `home`.
    pub(super) fn rebase(&mut self, dir: &Path, home: Option<&Path>) -> Result<(), String> {
        if let Some(stages) = self.stages.as_mut() {
            rebase_stages(stages, dir, home)?;
        }
        rebase_input(&mut self.input, dir, home)
    }
}

/// The stages' files (not `oci://REF`, a registry artifact) under `dir`.
fn rebase_stages(
    stages: &mut [StageConfig],
    dir: &Path,
    home: Option<&Path>,
) -> Result<(), String> {
    for s in stages {
        let Some(p) = s.path.as_mut() else { continue };
        if crate::plugin::oci::stage_reference(p).is_none() {
            *p = resolve_path(p, dir, home)?;
        }
    }
    Ok(())
}

/// An input that is a path (not a URL, not a camera index) under `dir`.
fn rebase_input(input: &mut String, dir: &Path, home: Option<&Path>) -> Result<(), String> {
    let looks_like_path = !input.contains("://") && input.parse::<i32>().is_err();
    if looks_like_path {
        *input = resolve_path(Path::new(input.as_str()), dir, home)?
            .to_string_lossy()
            .into_owned();
    }
    Ok(())
}

/// The home folder, for `~/` in files (`None`: HOME unset or empty).
pub(super) fn home() -> Option<PathBuf> {
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
}

/// The text of the file at `path`.
pub(crate) fn read_text(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|e| ConfigError::Read {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })
}

/// A TOML error of the file at `path`, on one line.
pub(crate) fn parse_error(path: &Path, e: &toml::de::Error) -> ConfigError {
    ConfigError::Parse {
        path: path.to_path_buf(),
        reason: e
            .to_string()
            .lines()
            .filter(|l| !l.trim().is_empty())
            .collect::<Vec<_>>()
            .join(" "),
    }
}

/// A path from a pipeline file: `~` and `~/...` under `home`, a relative
/// one under `dir`, an absolute one as it is.
fn resolve_path(p: &Path, dir: &Path, home: Option<&Path>) -> Result<PathBuf, String> {
    let text = p.to_string_lossy();
    if text == "~" || text.starts_with("~/") {
        let home = home.ok_or_else(|| {
            format!("{text}: `~` needs the HOME environment variable, which is not set")
        })?;
        return Ok(home.join(text.trim_start_matches('~').trim_start_matches('/')));
    }
    if text.starts_with('~') {
        return Err(format!(
            "{text}: only `~/` (your own home folder) is expanded; write the full path"
        ));
    }
    Ok(if p.is_relative() {
        dir.join(p)
    } else {
        p.to_path_buf()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_are_errors() {
        let e = FileConfig::parse("[source]\ninptu = \"x\"\n", Path::new("p.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("p.toml") && e.contains("inptu"), "{e}");
        assert!(!e.contains('\n'), "one line: {e}");
        let e = FileConfig::parse("[sauce]\n", Path::new("p.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("sauce"), "{e}");
    }

    #[test]
    fn tilde_is_the_home_folder() {
        let (dir, home) = (Path::new("/etc/edgepipe"), Some(Path::new("/home/cam")));
        assert_eq!(
            resolve_path(Path::new("~/.cache/x"), dir, home).unwrap(),
            Path::new("/home/cam/.cache/x")
        );
        assert_eq!(
            resolve_path(Path::new("~"), dir, home).unwrap(),
            Path::new("/home/cam")
        );
        assert_eq!(
            resolve_path(Path::new("m/a.onnx"), dir, home).unwrap(),
            Path::new("/etc/edgepipe/m/a.onnx")
        );
        assert_eq!(
            resolve_path(Path::new("/abs"), dir, home).unwrap(),
            Path::new("/abs")
        );
        assert!(resolve_path(Path::new("~/x"), dir, None)
            .unwrap_err()
            .contains("HOME"));
        assert!(resolve_path(Path::new("~bob/x"), dir, home)
            .unwrap_err()
            .contains("only `~/`"));
        let mut f = FileConfig::parse(
            "[plugins]\ncache_dir = \"~/.cache/c\"\n[source]\ninput = \"~/v.avi\"\n",
            Path::new("p.toml"),
        )
        .unwrap();
        f.rebase(dir, home).unwrap();
        assert_eq!(
            f.plugins.cache_dir.as_deref(),
            Some(Path::new("/home/cam/.cache/c"))
        );
        assert_eq!(f.source.input.as_deref(), Some("/home/cam/v.avi"));
    }
}
