//! [`CameraSettings`]: what one camera runs with (its input and source
//! settings, its chain, its topics, its state folder, its sinks), and
//! [`CameraDefaults`], which completes a camera given by name and input
//! with what the pipeline gives every camera.

use std::path::PathBuf;

use super::cameras::CameraSpec;
use super::source::source_id;
use super::stages::StageSettings;
use crate::capture::Retry;
use crate::state::StateSettings;

/// One camera of a run, resolved.
#[derive(Debug, Clone)]
pub struct CameraSettings {
    /// Its name (`default` unless named): its state folder, what stages see.
    pub name: String,
    /// What it reads: a file, a device, a URL, an image.
    pub input: String,
    pub max_frames: Option<u64>,
    /// At most this many frames a second go to the model (`None`: all).
    pub detect_fps: Option<f64>,
    /// How a live source that fails is opened again.
    pub source_retry: Retry,
    /// The operator chain's topics go under this prefix (`None`: as the
    /// stages say; several cameras: `<name>` unless set).
    pub topic_prefix: Option<String>,
    /// The camera's host topics (source events, stage status) go under
    /// this: `edgepipe/<pipeline>`, or `edgepipe/<pipeline>/cameras/<name>`
    /// with several cameras.
    pub host_topics: String,
    /// Its MQTT connection's client id.
    pub client_id: String,
    /// Its MQTT connection's availability topic (`None`: none).
    pub status_topic: Option<String>,
    /// Stage state kept across restarts (`None`: off).
    pub state: Option<StateSettings>,
    /// The operator chain.
    pub stages: Vec<StageSettings>,
    /// Raw frames to stdout.
    pub stdout: bool,
    /// Frames recorded to this file.
    pub record: Option<PathBuf>,
}

/// How a camera named in `[[cameras]]` or `--camera` is completed: the
/// pipeline's own camera (its stages, source settings, sinks and state as
/// `[source]` and the flags give them), and whether the run has several
/// cameras (then each camera's topics carry its name).
#[derive(Debug, Clone)]
pub struct CameraDefaults {
    /// The camera of `[source]` / `--input`.
    pub base: CameraSettings,
    pub pipeline_name: String,
    /// Cameras' topics carry their names (several cameras, or a cameras folder).
    pub several: bool,
    /// Where a camera's own `[[stages]]` are looked up, and their default QoS.
    pub plugin_dir: PathBuf,
    pub default_qos: u8,
}

impl CameraDefaults {
    /// The settings camera `c` runs with: its input and name, its state
    /// folder, its chains' topic prefix (`<name>/` unless set), with
    /// several cameras its host topics under
    /// `edgepipe/<pipeline>/cameras/<name>/` and its own MQTT client id.
    pub fn camera(&self, c: &CameraSpec) -> CameraSettings {
        let base = &self.base;
        let mut s = base.clone();
        s.name = c.name.clone();
        s.input = c.input.clone();
        s.max_frames = c.max_frames.or(base.max_frames);
        s.detect_fps = c.detect_fps.or(base.detect_fps);
        if let Some(stages) = &c.stages {
            s.stages = stages.clone();
        }
        if let Some(st) = s.state.as_mut() {
            if let Some(pipeline_dir) = st.dir.parent() {
                st.dir = pipeline_dir.join(&c.name);
            }
            st.source = source_id(&c.input);
        }
        if self.several {
            let prefix = c.topic_prefix.clone().unwrap_or_else(|| c.name.clone());
            s.topic_prefix = Some(prefix.trim_end_matches('/').to_string());
            s.host_topics = format!("edgepipe/{}/cameras/{}", self.pipeline_name, c.name);
            s.client_id = format!("{}-{}", base.client_id, c.name);
            s.status_topic = Some(format!("{}/status", s.host_topics));
        } else {
            s.topic_prefix = c.topic_prefix.clone();
        }
        s
    }
}
