//! Tenants: each customer's own chain of stages on the shared cameras and
//! inference, isolated by the host (topic prefix, limits per call, store and
//! frame) and, with its own MQTT login, by the broker's ACL too. A tenant is
//! a file `<dir>/<id>.toml`; it runs on every camera or on those it names
//! (`cameras = [..]`), a chain per camera, one MQTT connection for all of
//! them. Adding, editing or removing the file changes the running set
//! between two frames (built off the frame path, see [`watch`]).

pub mod check;
pub mod file;
pub mod login;
pub mod set;
pub mod tenant;
pub mod watch;

use std::path::{Path, PathBuf};

use crate::chain::{Chain, TopicPolicy};
use crate::checkpoint::Checkpoints;
pub use crate::config::{Maxima, TenantsConfig};
use crate::mqtt::MqttSettings;
use crate::plugin::{PluginHost, StageSet};
use crate::state::StateSettings;
pub use file::TenantSpec;
pub use set::TenantSet;
pub use tenant::{Tenant, TenantReport};

/// The newest frame each tenant's draw stages produced (for the live view).
pub use crate::live::encoder::TenantFrames;

/// What building a tenant's chain for one camera needs; shared with the
/// watcher thread.
pub struct TenantContext {
    pub host: PluginHost,
    pub plugin_dir: PathBuf,
    pub default_qos: u8,
    pub maxima: Maxima,
    /// The pipeline's broker settings, for tenants with a login of their own
    /// (`None`: MQTT is off).
    pub mqtt: Option<MqttSettings>,
    /// Watch the tenants' stage files for new versions.
    pub reload: bool,
    /// Stage state of tenant `<id>` lives in `<camera's state dir>/tenants/<id>/`.
    pub state: Option<StateSettings>,
    /// The camera this context builds chains for.
    pub camera: String,
    /// Every camera of the process, in order (a tenant's `cameras` must be among them).
    pub cameras: Vec<String>,
    /// The tenants' connections, shared by every camera.
    pub logins: login::Logins,
}

/// A change of the tenants folder, built off the frame path.
pub enum Change {
    /// A new or edited tenant, ready to run.
    Ready(Box<Tenant>),
    /// A file that could not be used; the running version (or absence) stays.
    Refused {
        id: String,
        reason: String,
    },
    Removed(String),
    /// The tenant does not run on this camera (any more).
    NotHere(String),
}

pub(crate) use crate::folder::digest as sha;

impl TenantContext {
    /// Whether this camera reports the refusals of tenant files (the first
    /// camera: one line and one event per refusal, not one per camera).
    pub fn reports(&self) -> bool {
        self.cameras.first().is_none_or(|c| *c == self.camera)
    }

    /// What the file `path` of tenant `id` means for this camera.
    pub fn change(&self, id: &str, path: &Path) -> Change {
        match self.build(path) {
            Ok(Some(t)) => Change::Ready(Box::new(t)),
            Ok(None) => Change::NotHere(id.to_string()),
            Err(reason) => Change::Refused {
                id: id.to_string(),
                reason,
            },
        }
    }

    /// Read, check and load the tenant in `path` for this camera: its
    /// stages compiled and configured, its saved state restored, its MQTT
    /// connection (shared with its other cameras) made. `None`: it does
    /// not run on this camera.
    pub fn build(&self, path: &Path) -> Result<Option<Tenant>, String> {
        let spec = file::load(path, &self.plugin_dir, self.default_qos, &self.maxima)
            .map_err(|e| e.to_string())?;
        let mine = spec.cameras_of(&self.cameras)?;
        if !mine.contains(&self.camera.as_str()) {
            return Ok(None);
        }
        // Several cameras: each camera's messages under `<prefix>/<camera>/`.
        let prefix = match mine.len() {
            1 => spec.prefix.clone(),
            _ => format!("{}/{}", spec.prefix, self.camera),
        };
        let mut stages = StageSet::load_limited(&self.host, &spec.stages, spec.stage_limits)
            .map_err(|e| e.to_string())?;
        if self.reload {
            stages.watch(&self.host).map_err(|e| e.to_string())?;
        }
        let mut checkpoints = self.state.as_ref().and_then(|s| {
            Checkpoints::open(&StateSettings {
                dir: s.dir.join("tenants").join(&spec.id),
                ..s.clone()
            })
        });
        if let Some(cp) = checkpoints.as_mut() {
            // The camera's own stages decide where a resumed file continues.
            let _ = cp.restore(&mut stages);
        }
        let link = self.link(&spec)?;
        let chain = Chain::new(
            &spec.id,
            stages,
            TopicPolicy::tenant(&prefix),
            spec.chain_limits,
        );
        Ok(Some(Tenant::new(spec, chain, link, checkpoints)))
    }

    /// The tenant's own MQTT connection, if it has a login of its own.
    fn link(&self, spec: &TenantSpec) -> Result<Option<std::sync::Arc<login::Link>>, String> {
        match (&spec.login, &self.mqtt) {
            (None, _) => Ok(None),
            (Some(_), None) => Err(
                "the tenant has an [mqtt] login but this pipeline publishes nowhere (MQTT is off)"
                    .into(),
            ),
            (Some((user, password, client_id)), Some(base)) => {
                let settings = MqttSettings {
                    username: Some(user.clone()),
                    password: password.clone(),
                    client_id: client_id.clone(),
                    status_topic: None,
                    retain_last: Vec::new(),
                    ..base.clone()
                };
                self.logins
                    .connect(&spec.id, &settings)
                    .map(Some)
                    .map_err(|e| format!("tenant {}: {e}", spec.id))
            }
        }
    }
}
