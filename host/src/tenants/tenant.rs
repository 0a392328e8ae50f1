//! One tenant's chain on one camera: a frame through it (the shared chain
//! runner), its end, its state, its report.

use std::sync::Arc;

use super::file::TenantSpec;
use super::login::Link;
use crate::chain::inventory::Place;
use crate::chain::runner::{self, Outlets, Route};
use crate::chain::Chain;
use crate::checkpoint::Checkpoints;
use crate::mqtt::{PublishReport, Publisher};
use crate::plugin::bindings::{Detection, FrameInfo, Message};
use crate::plugin::frame::Frame;

/// Where the camera's chains run: the pipeline, the camera, its host topics.
pub struct Camera<'a> {
    pub pipeline: &'a str,
    pub camera: &'a str,
    pub host_topics: &'a str,
}

/// A tenant's chain in the stage status (`edgepipe/.../stages/tenant-<id>`):
/// never `operator`, whatever the tenant's id.
pub fn status_chain(id: &str) -> String {
    format!("tenant-{id}")
}

/// Where tenant chain `chain` runs on camera `at`: its retained stage
/// status, its events topic, the live view.
fn route<'a>(
    chain: &'a str,
    at: &Camera<'a>,
    events_topic: &'a str,
    live: Option<&'a crate::live::Tap>,
) -> Route<'a> {
    Route {
        place: Place {
            pipeline: at.pipeline,
            camera: at.camera,
            chain,
            host_topics: at.host_topics,
        },
        events_topic,
        live,
    }
}

/// One running tenant on one camera.
pub struct Tenant {
    pub spec: TenantSpec,
    pub(super) chain: Chain,
    /// Its own MQTT connection (a login of its own), shared by its cameras.
    link: Option<Arc<Link>>,
    pub(super) checkpoints: Option<Checkpoints>,
    /// Its chain's name in the stage status: `tenant-<id>`.
    status_name: String,
}

/// How a tenant did, for the summary.
pub struct TenantReport {
    pub id: String,
    pub line: String,
    pub mqtt: Option<PublishReport>,
    pub faults: u64,
}

impl Tenant {
    pub fn new(
        spec: TenantSpec,
        chain: Chain,
        link: Option<Arc<Link>>,
        checkpoints: Option<Checkpoints>,
    ) -> Tenant {
        Tenant {
            status_name: status_chain(&spec.id),
            spec,
            chain,
            link,
            checkpoints,
        }
    }

    pub fn id(&self) -> &str {
        &self.spec.id
    }

    /// One frame through the tenant's chain; the frame its draw stages
    /// left (drawn only while its live view is watched).
    pub(super) fn process(
        &mut self,
        frame: (&FrameInfo, &[Detection], &[u8]),
        operator: Option<&mut Publisher>,
        at: &Camera,
        live: Option<&crate::live::Tap>,
    ) -> Option<Vec<u8>> {
        let draw = live.is_some_and(|l| l.wants_tenant_frame(&self.spec.id));
        let events_topic = self.chain.policy().events_topic().unwrap_or_default();
        let link = self.link.clone();
        let mut out = self.outlets(link.as_deref(), operator);
        let chain = self.status_name.clone();
        let route = route(&chain, at, &events_topic, live);
        let (info, detections, pixels) = frame;
        let frame = (info, detections, Frame::new(pixels));
        let output = runner::run_frame(&mut self.chain, frame, draw, &mut out, &route);
        if let Some(cp) = self.checkpoints.as_mut() {
            cp.position(info.index + 1);
        }
        output.drawn
    }

    /// End of stream or removal: the chain's final messages, then state.
    pub(super) fn finish(&mut self, frames: u64, operator: Option<&mut Publisher>, at: &Camera) {
        if let Some(cp) = self.checkpoints.as_mut() {
            cp.save(self.chain.stages_mut());
        }
        let events_topic = self.chain.policy().events_topic().unwrap_or_default();
        let link = self.link.clone();
        let mut out = self.outlets(link.as_deref(), operator);
        let chain = self.status_name.clone();
        let route = route(&chain, at, &events_topic, None);
        runner::run_finish(&mut self.chain, frames, &mut out, &route);
    }

    /// Where its output goes: its own connection (`link`), else the operator's.
    fn outlets<'a>(
        &self,
        link: Option<&'a Link>,
        operator: Option<&'a mut Publisher>,
    ) -> Outlets<'a> {
        Outlets {
            own: link.map(Link::connection),
            has_own: self.spec.login.is_some(),
            host: operator,
        }
    }

    /// A host message about the tenant on its own connection, else on the operator's.
    pub(super) fn send(&self, operator: Option<&mut Publisher>, m: &Message) {
        self.outlets(self.link.as_deref(), operator).with_data(|p| {
            if let Err(e) = p.publish(m) {
                tracing::warn!(topic = %m.topic, "tenant message not queued: {e}");
            }
        });
    }

    /// Its numbers and, from the last of its cameras to end, its connection's report.
    pub(super) fn report(self) -> TenantReport {
        let faults = self.chain.faults();
        TenantReport {
            id: self.spec.id.clone(),
            line: self.chain.numbers().line(faults),
            mqtt: self.link.and_then(Link::close),
            faults,
        }
    }

    /// Hand every stage that keeps its name in `next` the state it had here.
    pub(super) fn carry_state_to(&mut self, next: &mut Tenant) {
        for stage in next.chain.stages_mut().stages_mut() {
            let Some(old) = self
                .chain
                .stages_mut()
                .stages_mut()
                .iter_mut()
                .find(|s| s.name() == stage.name())
            else {
                continue;
            };
            let Some(state) = old.save() else { continue };
            if let Err(e) = stage.restore(&state) {
                tracing::warn!(tenant = %next.spec.id, plugin = %stage.name(), "state not carried to the edited tenant, the stage starts empty: {e}");
            }
        }
    }
}
