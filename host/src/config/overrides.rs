//! The command-line flags that override the pipeline file (all optional).

use std::path::PathBuf;

use super::http::HttpOverrides;

/// Command-line overrides (all optional).
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub name: Option<String>,
    pub input: Option<String>,
    pub max_frames: Option<u64>,
    /// `--model`: a named model or a path.
    pub model: Option<PathBuf>,
    pub layout: Option<String>,
    pub labels: Option<PathBuf>,
    pub ort_lib: Option<PathBuf>,
    pub confidence: Option<f32>,
    pub iou: Option<f32>,
    pub threads: Option<usize>,
    pub sessions: Option<usize>,
    pub requests: Option<usize>,
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
    /// `--resume`: a file input continues from its saved frame.
    pub resume: bool,
    /// `--camera-name`: the name of the camera `--input` reads.
    pub camera_name: Option<String>,
    /// `--camera NAME=INPUT` (repeatable): several cameras in one process.
    pub cameras: Vec<String>,
    /// `--cameras-dir`: the folder of camera files.
    pub cameras_dir: Option<PathBuf>,
    /// `--detect-fps`: every command-line camera's cap.
    pub detect_fps: Option<f64>,
    pub tenants_dir: Option<PathBuf>,
    pub mqtt: MqttOverrides,
    /// The live view's flags; `None`: this command serves no live view.
    pub http: Option<HttpOverrides>,
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
