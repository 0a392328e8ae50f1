//! What runs where: a chain's stages (name, version, sha256, manifest digest,
//! origin) published retained on `edgepipe/<pipeline>/stages/<chain>` when
//! they load and after every swap, so `edgepipe fleet status` sees every box.

use serde::Serialize;

use crate::mqtt::Publisher;
use crate::plugin::bindings::{Message, Qos};
use crate::plugin::events::PluginEvent;
use crate::plugin::stages::StageStatus;
use crate::plugin::StageSet;

/// The retained status topic of one chain of one pipeline.
pub fn topic(pipeline: &str, chain: &str) -> String {
    format!("edgepipe/{pipeline}/stages/{chain}")
}

/// What `edgepipe fleet status` reads back.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct ChainStatus {
    /// The pipeline's name: one box (or one process of a box).
    #[serde(rename = "box")]
    pub box_name: String,
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
pub fn publish(p: &mut Publisher, pipeline: &str, chain: &str, stages: &StageSet, frame: u64) {
    let status = ChainStatus {
        box_name: pipeline.to_string(),
        chain: chain.to_string(),
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
        topic: topic(pipeline, chain),
        payload,
        qos: Qos::AtLeastOnce,
        retain: true,
    };
    if let Err(e) = p.publish(&m) {
        tracing::warn!(topic = %m.topic, "stage status not published: {e}");
    }
}
