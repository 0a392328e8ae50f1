//! One runner for every chain, the operator's and each tenant's: a frame (or
//! the end of stream) through the chain, its messages onto its connection,
//! its events onto its events topic, its stage status (retained) onto the
//! host's connection when a stage loads or is swapped, the live view told.

use std::sync::{Mutex, PoisonError};

use super::inventory::{self, Place};
use super::publish::publish_chain_output;
use super::{Chain, ChainOutput};
use crate::live::Tap;
use crate::mqtt::Publisher;
use crate::plugin::bindings::{Detection, FrameInfo, Message, Qos};
use crate::plugin::frame::Frame;
use crate::plugin::PluginEvent;

/// The connections a chain's output goes to.
pub struct Outlets<'a> {
    /// The chain's own connection (a tenant with a login of its own, shared
    /// by its chains on every camera: locked only to publish).
    pub own: Option<&'a Mutex<Option<Publisher>>>,
    /// The chain has a login of its own: its messages never go on the host's
    /// connection, even while its own is missing.
    pub has_own: bool,
    /// The host's (operator's) connection: host topics, and the messages of a
    /// chain without a login of its own.
    pub host: Option<&'a mut Publisher>,
}

impl<'a> Outlets<'a> {
    /// A chain whose messages go on the host's connection.
    pub fn host(host: Option<&'a mut Publisher>) -> Outlets<'a> {
        Outlets {
            own: None,
            has_own: false,
            host,
        }
    }

    /// `f` with the connection the chain's messages and events go to, if any.
    pub fn with_data(&mut self, f: impl FnOnce(&mut Publisher)) {
        match self.own {
            Some(m) => {
                if let Some(p) = m.lock().unwrap_or_else(PoisonError::into_inner).as_mut() {
                    f(p);
                }
            }
            None if self.has_own => {}
            None => {
                if let Some(p) = self.host.as_deref_mut() {
                    f(p);
                }
            }
        }
    }
}

/// Where a chain runs and where its events go.
pub struct Route<'a> {
    pub place: Place<'a>,
    pub events_topic: &'a str,
    pub live: Option<&'a Tap>,
}

/// One frame through `chain`; its output, published, is handed back (the
/// drawn frame unless it was drawn in place, the messages for the record).
pub fn run_frame(
    chain: &mut Chain,
    frame: (&FrameInfo, &[Detection], Frame),
    draw: bool,
    out: &mut Outlets,
    at: &Route,
) -> ChainOutput {
    let (info, detections, pixels) = frame;
    let output = chain.process(info, detections, pixels, draw);
    settle(chain, &output, info.index, out, at);
    output
}

/// End of stream (or the chain removed): the stats stages' final word handed
/// to the topics stages, published like a frame's.
pub fn run_finish(chain: &mut Chain, frames: u64, out: &mut Outlets, at: &Route) -> ChainOutput {
    let output = chain.finish(frames);
    settle(chain, &output, frames, out, at);
    output
}

/// A chain's output and events onto its connections and the live view.
fn settle(chain: &mut Chain, output: &ChainOutput, frame: u64, out: &mut Outlets, at: &Route) {
    out.with_data(|p| publish_chain_output(p, chain, output, frame));
    let events = chain.take_events(frame);
    if inventory::changes(&events) {
        if let Some(p) = out.host.as_deref_mut() {
            inventory::publish(p, &at.place, chain.stages(), frame);
        }
    }
    if let Some(l) = at.live {
        l.chain_output(&output.messages, at.events_topic, &events);
    }
    out.with_data(|p| publish_events(Some(p), at.events_topic, events));
}

/// A chain's events (faults, reloads, refusals) on `topic`.
pub fn publish_events(p: Option<&mut Publisher>, topic: &str, events: Vec<PluginEvent>) {
    let Some(p) = p.filter(|_| !events.is_empty()) else {
        return;
    };
    for e in events {
        let m = Message {
            topic: topic.to_string(),
            payload: e.to_json(),
            qos: Qos::AtLeastOnce,
            retain: false,
        };
        if let Err(why) = p.publish(&m) {
            tracing::warn!(topic = %m.topic, "chain event not queued: {why}");
        }
    }
}
