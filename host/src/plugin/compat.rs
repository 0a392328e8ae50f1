//! Conversions between the newest contract types (the host's own) and those
//! of older versions still served.

use super::bindings::{v0_1_0 as old, v0_2_0 as new};

impl From<new::FrameInfo> for old::FrameInfo {
    fn from(f: new::FrameInfo) -> Self {
        old::FrameInfo {
            index: f.index,
            timestamp_ms: f.timestamp_ms,
            width: f.width,
            height: f.height,
        }
    }
}

impl From<&new::Detection> for old::Detection {
    fn from(d: &new::Detection) -> Self {
        old::Detection {
            class_id: d.class_id,
            label: d.label.clone(),
            score: d.score,
            bbox: old::Rect {
                x: d.bbox.x,
                y: d.bbox.y,
                width: d.bbox.width,
                height: d.bbox.height,
            },
        }
    }
}

impl From<&new::Stat> for old::Stat {
    fn from(s: &new::Stat) -> Self {
        old::Stat {
            name: s.name.clone(),
            value: s.value.clone(),
        }
    }
}

impl From<old::Stat> for new::Stat {
    fn from(s: old::Stat) -> Self {
        new::Stat {
            name: s.name,
            value: s.value,
        }
    }
}

impl From<old::Qos> for new::Qos {
    fn from(q: old::Qos) -> Self {
        match q {
            old::Qos::AtMostOnce => new::Qos::AtMostOnce,
            old::Qos::AtLeastOnce => new::Qos::AtLeastOnce,
            old::Qos::ExactlyOnce => new::Qos::ExactlyOnce,
        }
    }
}

impl From<old::Message> for new::Message {
    fn from(m: old::Message) -> Self {
        new::Message {
            topic: m.topic,
            payload: m.payload,
            qos: m.qos.into(),
            retain: m.retain,
        }
    }
}

impl From<old::Level> for new::Level {
    fn from(l: old::Level) -> Self {
        match l {
            old::Level::Trace => new::Level::Trace,
            old::Level::Debug => new::Level::Debug,
            old::Level::Info => new::Level::Info,
            old::Level::Warn => new::Level::Warn,
            old::Level::Error => new::Level::Error,
        }
    }
}

pub fn detections(d: &[new::Detection]) -> Vec<old::Detection> {
    d.iter().map(Into::into).collect()
}

pub fn stats_in(s: &[new::Stat]) -> Vec<old::Stat> {
    s.iter().map(Into::into).collect()
}

pub fn stats_out(s: Vec<old::Stat>) -> Vec<new::Stat> {
    s.into_iter().map(Into::into).collect()
}

pub fn messages_out(m: Vec<old::Message>) -> Vec<new::Message> {
    m.into_iter().map(Into::into).collect()
}
