//! The process's own status with several cameras: one MQTT connection whose
//! retained `edgepipe/<pipeline>/status` says `online` while the process
//! runs and `offline` when it ends (its last will when it goes away
//! unannounced). Each camera's connection carries that camera's status under
//! `edgepipe/<pipeline>/cameras/<name>/status`, so a camera that ends or
//! fails never flips the process status.

use crate::config::Settings;
use crate::error::Failure;
use crate::mqtt::Publisher;

/// The process status connection (`None`: MQTT is off or the status topic is).
pub struct ProcessStatus(Option<Publisher>);

impl ProcessStatus {
    /// Connect with the process's client id (the cameras use `<id>-<camera>`).
    pub fn connect(settings: &Settings, url: Option<&str>) -> Result<ProcessStatus, Failure> {
        // The pipeline's own camera carries the process's client id and status topic.
        let process = &settings.camera_defaults.base;
        if process.status_topic.is_none() {
            return Ok(ProcessStatus(None));
        }
        crate::pipeline::connect(&settings.runtime, process, url).map(ProcessStatus)
    }

    /// Publish `offline` and disconnect.
    pub fn finish(self) {
        if let Some(p) = self.0 {
            p.finish();
        }
    }
}
