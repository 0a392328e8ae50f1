//! What happens to plugins while a pipeline runs (reloads, failed reloads,
//! faults, recoveries, disabling), as log-friendly values and as JSON for the
//! status topic `edgepipe/<pipeline>/plugins`.

use serde::Serialize;

/// Which version of a plugin: a generation (1 at start, +1 per reload) and
/// the sha256 of its `.wasm`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PluginVersion {
    pub generation: u32,
    pub hash: String,
}

impl std::fmt::Display for PluginVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "v{} (sha256:{})",
            self.generation,
            &self.hash[..self.hash.len().min(12)]
        )
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PluginEvent {
    /// `loaded`, `reloaded`, `reload-failed`, `fault`, `recovered`, `disabled`,
    /// `message-refused` (the first message of a stage the host would not
    /// publish; the rest are counted), `shapes-refused` (the first shapes of
    /// an `overlay` stage beyond a frame's bounds; the rest are counted),
    /// `budget-overrun`.
    pub event: &'static str,
    pub plugin: String,
    /// The version that was running.
    pub version: PluginVersion,
    /// For `reloaded`: the new version; for `reload-failed`: the rejected one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub candidate: Option<PluginVersion>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub call: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The first frame the new version sees (reloads), or the frame at fault.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frame: Option<u64>,
}

impl PluginEvent {
    fn new(event: &'static str, plugin: &str, version: PluginVersion) -> PluginEvent {
        PluginEvent {
            event,
            plugin: plugin.to_string(),
            version,
            candidate: None,
            call: None,
            reason: None,
            frame: None,
        }
    }
    pub fn loaded(plugin: &str, version: PluginVersion) -> PluginEvent {
        PluginEvent::new("loaded", plugin, version)
    }
    pub fn reloaded(
        plugin: &str,
        from: PluginVersion,
        to: PluginVersion,
        frame: u64,
    ) -> PluginEvent {
        PluginEvent {
            candidate: Some(to),
            frame: Some(frame),
            ..PluginEvent::new("reloaded", plugin, from)
        }
    }
    pub fn reload_failed(
        plugin: &str,
        running: PluginVersion,
        rejected: PluginVersion,
        reason: &str,
    ) -> PluginEvent {
        PluginEvent {
            candidate: Some(rejected),
            reason: Some(reason.to_string()),
            ..PluginEvent::new("reload-failed", plugin, running)
        }
    }
    pub fn fault(plugin: &str, version: PluginVersion, call: &str, reason: &str) -> PluginEvent {
        PluginEvent {
            call: Some(call.to_string()),
            reason: Some(reason.to_string()),
            ..PluginEvent::new("fault", plugin, version)
        }
    }
    pub fn recovered(plugin: &str, version: PluginVersion) -> PluginEvent {
        PluginEvent::new("recovered", plugin, version)
    }
    pub fn disabled(
        plugin: &str,
        version: PluginVersion,
        in_a_row: u32,
        reason: &str,
    ) -> PluginEvent {
        PluginEvent {
            reason: Some(format!("{in_a_row} faults in a row; last: {reason}")),
            ..PluginEvent::new("disabled", plugin, version)
        }
    }
    pub fn overrun(plugin: &str, version: PluginVersion, reason: &str) -> PluginEvent {
        PluginEvent {
            reason: Some(reason.to_string()),
            ..PluginEvent::new("budget-overrun", plugin, version)
        }
    }
    /// The first message of a stage that was refused (the rest are counted).
    pub fn message_refused(plugin: &str, version: PluginVersion, reason: &str) -> PluginEvent {
        PluginEvent {
            reason: Some(reason.to_string()),
            ..PluginEvent::new("message-refused", plugin, version)
        }
    }
    /// The first shapes of an `overlay` stage that were refused (the rest are counted).
    pub fn shapes_refused(plugin: &str, version: PluginVersion, reason: &str) -> PluginEvent {
        PluginEvent {
            reason: Some(reason.to_string()),
            ..PluginEvent::new("shapes-refused", plugin, version)
        }
    }
    pub fn with_frame(mut self, frame: u64) -> PluginEvent {
        self.frame.get_or_insert(frame);
        self
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self)
            .unwrap_or_else(|e| format!("{{\"event\":\"{}\",\"error\":\"{e}\"}}", self.event))
    }
}

/// The status topic of a pipeline's plugin events.
pub fn topic(pipeline: &str) -> String {
    format!("edgepipe/{pipeline}/plugins")
}
