//! [`RuntimeSettings`]: what the process builds once and every camera
//! shares: the pipeline's name, MQTT (where and how messages are delivered),
//! the plugin host (limits, cache, reload, sources), the tenants folder and
//! the live view.

use std::path::PathBuf;
use std::time::Duration;

use super::http::LiveSettings;
use super::mqtt::{Delivery, MqttTarget};
use super::plugins::SourceSettings;
use super::tenants::Maxima;

/// The process-wide part of a run's settings.
#[derive(Debug, Clone)]
pub struct RuntimeSettings {
    /// The pipeline's name (`default` unless set): a topic level of the
    /// host's topics and a folder of the state root.
    pub pipeline_name: String,
    /// Where messages go (off, the embedded broker, an external one).
    pub mqtt: MqttTarget,
    /// The process's MQTT client id (a camera of several adds its name).
    pub client_id: String,
    pub keepalive: Duration,
    pub connect_timeout: Duration,
    pub ack_timeout: Duration,
    /// How messages are delivered (queue, TLS, login, availability).
    pub delivery: Delivery,
    /// A stage call's deadline.
    pub call_timeout: Duration,
    /// A stage's memory cap in bytes.
    pub memory_limit: usize,
    /// Hot reload of stage files.
    pub reload: bool,
    /// Where compiled components are cached (`None`: no cache).
    pub plugin_cache: Option<PathBuf>,
    /// Trusted signing keys, registry login, tag polling.
    pub plugin_sources: SourceSettings,
    /// Where `<name>.wasm` is looked up (tenants' stages too).
    pub plugin_dir: PathBuf,
    /// The default QoS handed to topics stages.
    pub default_qos: u8,
    /// The tenants folder (`None`: no tenants) and the most a tenant may ask for.
    pub tenants_dir: Option<PathBuf>,
    pub tenant_maxima: Maxima,
    /// The cameras folder (`None`: none): one `<name>.toml` per camera.
    pub cameras_dir: Option<PathBuf>,
    /// The live view (`None`: off).
    pub live: Option<LiveSettings>,
}
