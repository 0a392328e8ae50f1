//! Every tenant running on one camera, each chain run after the operator's
//! on each frame; the changes of the tenants folder applied between frames.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, PoisonError};

use super::tenant::Camera;
use super::{file, sha, watch, Change, Tenant, TenantContext, TenantFrames, TenantReport};
use crate::mqtt::Publisher;
use crate::plugin::bindings::{Detection, FrameInfo, Message, Qos};

/// The tenants of one camera.
pub struct TenantSet {
    tenants: BTreeMap<String, Tenant>,
    watcher: Option<watch::TenantWatcher>,
    frames: TenantFrames,
    /// Host events about tenants, for `<camera's host topics>/tenants`.
    events: Vec<String>,
    topic: String,
    /// The live view, handed every tenant message and event.
    live: Option<crate::live::Tap>,
    pipeline: String,
    camera: String,
    host_topics: String,
    /// This camera reports refused tenant files (see [`TenantContext::reports`]).
    reports: bool,
}

impl TenantSet {
    /// Load every tenant in `dir` that runs on the context's camera (a bad
    /// file is refused, the others run), and watch the folder for changes
    /// when `watch` is on. `host_topics`: the camera's
    /// (`edgepipe/<pipeline>`, or `.../cameras/<name>` with several).
    pub fn start(
        ctx: TenantContext,
        dir: &Path,
        pipeline: &str,
        host_topics: &str,
        watch: bool,
    ) -> Result<TenantSet, String> {
        let (ids, odd) =
            file::list(dir).map_err(|e| format!("tenants folder {}: {e}", dir.display()))?;
        if ctx.reports() {
            for p in odd {
                tracing::warn!(file = %p.display(), "not a tenant: the file name must be <id>.toml with an id of [a-z0-9][a-z0-9-]{{0,31}}");
            }
        }
        let ctx = Arc::new(ctx);
        let mut set = TenantSet {
            tenants: BTreeMap::new(),
            watcher: None,
            frames: TenantFrames::default(),
            events: Vec::new(),
            topic: format!("{host_topics}/tenants"),
            live: None,
            pipeline: pipeline.to_string(),
            camera: ctx.camera.clone(),
            host_topics: host_topics.to_string(),
            reports: ctx.reports(),
        };
        let mut hashes = BTreeMap::new();
        for (id, path) in ids {
            let change = ctx.change(&id, &path);
            if let Ok(bytes) = std::fs::read(&path) {
                hashes.insert(id, sha(&bytes));
            }
            set.apply(change, 0, &mut None);
        }
        if watch {
            set.watcher = Some(watch::TenantWatcher::start(ctx, dir, hashes)?);
        }
        Ok(set)
    }

    pub fn len(&self) -> usize {
        self.tenants.len()
    }
    pub fn is_empty(&self) -> bool {
        self.tenants.is_empty()
    }
    pub fn ids(&self) -> Vec<String> {
        self.tenants.keys().cloned().collect()
    }
    pub fn set_live(&mut self, tap: crate::live::Tap) {
        for t in self.tenants.values() {
            tap.hub.tokens.set_tenant(
                &t.spec.id,
                t.spec.http_token.as_ref().map(|s| s.expose().to_string()),
            );
        }
        self.live = Some(tap);
    }
    /// (id, topic prefix) of each running tenant.
    pub fn prefixes(&self) -> Vec<crate::live::status::TenantInfo> {
        self.tenants
            .values()
            .map(|t| crate::live::status::TenantInfo {
                id: t.spec.id.clone(),
                prefix: t.spec.prefix.clone(),
            })
            .collect()
    }
    /// The newest annotated frame of each tenant with draw stages.
    pub fn frames(&self) -> TenantFrames {
        self.frames.clone()
    }

    fn at(&self) -> Camera<'_> {
        Camera {
            pipeline: &self.pipeline,
            camera: &self.camera,
            host_topics: &self.host_topics,
        }
    }

    fn event(&mut self, event: &str, id: &str, frame: u64, reason: Option<&str>) {
        let mut v = serde_json::json!({"event": event, "tenant": id, "frame": frame});
        if let Some(r) = reason {
            v["reason"] = serde_json::Value::from(r);
        }
        self.events.push(v.to_string());
    }

    /// Apply one change between two frames.
    fn apply(&mut self, change: Change, frame: u64, operator: &mut Option<&mut Publisher>) {
        match change {
            Change::Ready(next) => self.start_tenant(next, frame, operator),
            Change::Refused { id, reason } => self.refuse(id, reason, frame, operator),
            Change::Removed(id) | Change::NotHere(id) => self.remove(&id, frame, operator),
        }
    }

    fn start_tenant(
        &mut self,
        mut next: Box<Tenant>,
        frame: u64,
        operator: &mut Option<&mut Publisher>,
    ) {
        let id = next.spec.id.clone();
        if let Some(clash) = self
            .tenants
            .values()
            .find(|t| t.spec.id != id && file::overlaps(&t.spec.prefix, &next.spec.prefix))
        {
            let reason = format!(
                "topic prefix {:?} overlaps tenant {}'s {:?}",
                next.spec.prefix, clash.spec.id, clash.spec.prefix
            );
            return self.refuse(id, reason, frame, operator);
        }
        match self.tenants.remove(&id) {
            Some(mut old) => {
                old.carry_state_to(&mut next);
                tracing::info!(tenant = %id, camera = %self.camera, file = %next.spec.file.display(), stages = next.spec.stages.len(), "tenant updated");
                self.event("updated", &id, frame, None);
                retire(old);
            }
            None => {
                tracing::info!(tenant = %id, camera = %self.camera, prefix = %next.spec.prefix, stages = next.spec.stages.len(), "tenant added");
                self.event("added", &id, frame, None);
            }
        }
        if let Some(l) = &self.live {
            l.hub.tokens.set_tenant(
                &id,
                next.spec
                    .http_token
                    .as_ref()
                    .map(|s| s.expose().to_string()),
            );
        }
        self.tenants.insert(id, *next);
    }

    /// A file that could not be used: reported once (by the first camera),
    /// the running version (or absence) stays.
    fn refuse(
        &mut self,
        id: String,
        reason: String,
        frame: u64,
        operator: &mut Option<&mut Publisher>,
    ) {
        if !self.reports {
            tracing::debug!(tenant = %id, camera = %self.camera, "tenant file refused (reported by the first camera): {reason}");
            return;
        }
        let keeps = if self.tenants.contains_key(&id) {
            "the running version stays"
        } else {
            "not running"
        };
        tracing::error!(tenant = %id, "tenant file refused ({keeps}): {reason}");
        self.event("refused", &id, frame, Some(&reason));
        if let Some(t) = self.tenants.get(&id) {
            let e = serde_json::json!({"event": "refused", "tenant": id, "frame": frame, "reason": reason}).to_string();
            let m = Message {
                topic: t.chain.policy().events_topic().unwrap_or_default(),
                payload: e,
                qos: Qos::AtLeastOnce,
                retain: false,
            };
            t.send(operator.as_deref_mut(), &m);
        }
    }

    fn remove(&mut self, id: &str, frame: u64, operator: &mut Option<&mut Publisher>) {
        let Some(mut old) = self.tenants.remove(id) else {
            return;
        };
        let at = Camera {
            pipeline: &self.pipeline,
            camera: &self.camera,
            host_topics: &self.host_topics,
        };
        old.finish(frame, operator.as_deref_mut(), &at);
        clear_status(operator.as_deref_mut(), &self.host_topics, id);
        tracing::info!(tenant = %id, camera = %self.camera, "tenant removed");
        self.event("removed", id, frame, None);
        self.frames
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(id);
        if let Some(l) = &self.live {
            l.hub.tokens.set_tenant(id, None);
        }
        retire(old);
    }

    /// Apply the changes that are ready; call between frames.
    pub fn apply_changes(&mut self, frame: u64, operator: &mut Option<&mut Publisher>) {
        let changes = match &self.watcher {
            Some(w) => w.ready(),
            None => return,
        };
        for c in changes {
            self.apply(c, frame, operator);
        }
    }

    /// One frame through every tenant's chain.
    pub fn process(
        &mut self,
        info: &FrameInfo,
        detections: &[Detection],
        pixels: &[u8],
        operator: &mut Option<&mut Publisher>,
    ) {
        let at = Camera {
            pipeline: &self.pipeline,
            camera: &self.camera,
            host_topics: &self.host_topics,
        };
        for (id, t) in self.tenants.iter_mut() {
            let drawn = t.process(
                (info, detections, pixels),
                operator.as_deref_mut(),
                &at,
                self.live.as_ref(),
            );
            let mut frames = self.frames.lock().unwrap_or_else(PoisonError::into_inner);
            match drawn {
                Some(d) => {
                    frames.insert(id.clone(), Arc::new(d));
                }
                // Not drawn (nobody watches): no stale frame stays behind.
                None => {
                    frames.remove(id);
                }
            }
        }
        self.flush_events(operator);
    }

    fn flush_events(&mut self, operator: &mut Option<&mut Publisher>) {
        for payload in std::mem::take(&mut self.events) {
            if let Some(l) = &self.live {
                l.message(&self.topic, &payload);
            }
            if let Some(p) = operator.as_deref_mut() {
                let m = Message {
                    topic: self.topic.clone(),
                    payload,
                    qos: Qos::AtLeastOnce,
                    retain: false,
                };
                if let Err(e) = p.publish(&m) {
                    tracing::warn!("tenant event not queued: {e}");
                }
            }
        }
    }

    /// Write every tenant's stage state if its interval has passed.
    pub fn tick(&mut self) {
        for t in self.tenants.values_mut() {
            if let Some(cp) = t.checkpoints.as_mut() {
                cp.tick(t.chain.stages_mut());
            }
        }
    }

    /// One line per tenant: its numbers.
    pub fn lines(&self) -> Vec<String> {
        self.tenants
            .values()
            .map(|t| {
                format!(
                    "tenant {}: {}",
                    t.spec.id,
                    t.chain.numbers().line(t.chain.faults())
                )
            })
            .collect()
    }

    /// End of stream: every tenant's final messages and state, its
    /// connection settled (by its last camera); a report per tenant.
    pub fn finish(
        mut self,
        frames: u64,
        operator: &mut Option<&mut Publisher>,
    ) -> Vec<TenantReport> {
        self.watcher = None;
        let mut tenants = std::mem::take(&mut self.tenants);
        let at = self.at();
        for t in tenants.values_mut() {
            t.finish(frames, operator.as_deref_mut(), &at);
            if let Some(cp) = t.checkpoints.as_ref() {
                cp.flush();
            }
        }
        self.flush_events(operator);
        tenants.into_values().map(Tenant::report).collect()
    }
}

/// A removed tenant's retained stage status is cleared (an empty retained
/// message): `fleet status` no longer lists it.
fn clear_status(operator: Option<&mut Publisher>, host_topics: &str, id: &str) {
    let Some(p) = operator else { return };
    let m = Message {
        topic: crate::chain::inventory::topic(host_topics, &super::tenant::status_chain(id)),
        payload: String::new(),
        qos: Qos::AtLeastOnce,
        retain: true,
    };
    if let Err(e) = p.publish(&m) {
        tracing::warn!(topic = %m.topic, "stage status not cleared: {e}");
    }
}

/// A tenant replaced or removed: its connection, when no camera uses it any
/// more, settles (acknowledgements, bounded by the ack timeout) on a thread
/// of its own, off the frame path.
fn retire(t: Tenant) {
    let id = t.spec.id.clone();
    let spawned = std::thread::Builder::new()
        .name(format!("retire-{id}"))
        .spawn(move || {
            let r = t.report();
            tracing::debug!(tenant = %r.id, "retired: {}", r.line);
        });
    if let Err(e) = spawned {
        tracing::warn!(tenant = %id, "cannot start a thread to close the old connection: {e}");
    }
}
