//! What runs where: a chain's stages (name, version, sha256, manifest digest,
//! origin) published retained under the camera's host topics when they load
//! and after every swap (`edgepipe/<pipeline>/stages/<chain>` with one camera,
//! `edgepipe/<pipeline>/cameras/<name>/stages/<chain>` with several), so
//! `edgepipe fleet status` sees every camera of every box.

use serde::Serialize;

use crate::mqtt::Publisher;
use crate::plugin::bindings::{Message, Qos};
use crate::plugin::events::PluginEvent;
use crate::plugin::stages::StageStatus;
use crate::plugin::StageSet;

/// The retained status topic of one chain, below the camera's host topics
/// (`edgepipe/<pipeline>` or `edgepipe/<pipeline>/cameras/<name>`).
pub fn topic(host_topics: &str, chain: &str) -> String {
    format!("{host_topics}/stages/{chain}")
}

/// Where a chain runs: its box (the pipeline's name), camera and chain.
pub struct Place<'a> {
    pub pipeline: &'a str,
    pub camera: &'a str,
    pub chain: &'a str,
    /// The camera's host topics, the root of the status topic.
    pub host_topics: &'a str,
}

fn default_camera() -> String {
    crate::plugin::bindings::DEFAULT_CAMERA.to_string()
}

/// What `edgepipe fleet status` reads back.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct ChainStatus {
    /// The pipeline's name: one box (or one process of a box).
    #[serde(rename = "box")]
    pub box_name: String,
    /// The camera whose frames the chain sees (`default` with one unnamed camera).
    #[serde(default = "default_camera")]
    pub camera: String,
    pub chain: String,
    /// The first frame this set of versions sees.
    pub frame: u64,
    pub stages: Vec<StageLine>,
}

/// One stage as published (the fields of [`StageStatus`], read back too).
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct StageLine {
    pub name: String,
    pub version: u32,
    pub sha256: String,
    pub origin: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
}

impl From<StageStatus> for StageLine {
    fn from(s: StageStatus) -> StageLine {
        StageLine {
            name: s.name,
            version: s.version,
            sha256: s.sha256,
            origin: s.origin,
            digest: s.digest,
        }
    }
}

/// Do these events change what runs (a load or a swap)?
pub fn changes(events: &[PluginEvent]) -> bool {
    events
        .iter()
        .any(|e| e.event == "loaded" || e.event == "reloaded")
}

/// Publish the chain's stages, retained (QoS 1). A refusal is logged: the
/// status is a view, never a reason to stop frames.
pub fn publish(p: &mut Publisher, at: &Place, stages: &StageSet, frame: u64) {
    let status = ChainStatus {
        box_name: at.pipeline.to_string(),
        camera: at.camera.to_string(),
        chain: at.chain.to_string(),
        frame,
        stages: stages.status().into_iter().map(StageLine::from).collect(),
    };
    let payload = match serde_json::to_string(&status) {
        Ok(p) => p,
        Err(e) => {
            tracing::warn!("stage status not published: {e}");
            return;
        }
    };
    let m = Message {
        topic: topic(at.host_topics, at.chain),
        payload,
        qos: Qos::AtLeastOnce,
        retain: true,
    };
    if let Err(e) = p.publish(&m) {
        tracing::warn!(topic = %m.topic, "stage status not published: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_camera_has_a_status_topic_of_its_own() {
        assert_eq!(
            topic("edgepipe/shop", "operator"),
            "edgepipe/shop/stages/operator"
        );
        assert_eq!(
            topic("edgepipe/shop/cameras/door", "operator"),
            "edgepipe/shop/cameras/door/stages/operator"
        );
        assert_ne!(
            topic("edgepipe/shop/cameras/door", "operator"),
            topic("edgepipe/shop/cameras/till", "operator")
        );
    }

    #[test]
    fn a_status_without_a_camera_reads_as_the_default_camera() {
        let s: ChainStatus =
            serde_json::from_str(r#"{"box":"b","chain":"operator","frame":0,"stages":[]}"#)
                .unwrap();
        assert_eq!(s.camera, "default");
    }
}
