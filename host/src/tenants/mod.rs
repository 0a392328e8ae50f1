//! Tenants: each customer's own chain of stages on the shared camera and
//! inference, isolated by the host (topic prefix, limits per call, store and
//! frame) and, with its own MQTT login, by the broker's ACL too. A tenant is
//! a file `<dir>/<id>.toml`; adding, editing or removing the file changes the
//! running set between two frames (built off the frame path, see [`watch`]).

pub mod check;
pub mod file;
pub mod login;
pub mod watch;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError};

use crate::chain::{Chain, TopicPolicy};
use crate::checkpoint::Checkpoints;
pub use crate::config::{Maxima, TenantsConfig};
use crate::mqtt::{MqttSettings, PublishReport, Publisher};
use crate::plugin::bindings::{Detection, FrameInfo, Message, Qos};
use crate::plugin::{PluginEvent, PluginHost, StageSet};
use crate::state::StateSettings;
pub use file::TenantSpec;

/// What building a tenant needs; shared with the watcher thread.
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
}

/// One running tenant.
pub struct Tenant {
    pub spec: TenantSpec,
    chain: Chain,
    publisher: Option<Publisher>,
    checkpoints: Option<Checkpoints>,
    /// Its own MQTT login while a running version holds the client id:
    /// resolved when the change is applied ([`login`]).
    takeover: Option<login::Takeover>,
}

/// The newest frame each tenant's draw stages produced (for the live view).
pub use crate::live::encoder::TenantFrames;

/// How a tenant did, for the summary.
pub struct TenantReport {
    pub id: String,
    pub line: String,
    pub mqtt: Option<PublishReport>,
    pub faults: u64,
}

use crate::folder::digest as sha;

impl TenantContext {
    /// Read, check and load the tenant in `path`: its stages compiled and
    /// configured, its saved state restored, its own MQTT connection made.
    pub fn build(&self, path: &Path) -> Result<Tenant, String> {
        self.build_with(path, None)
    }

    /// As [`build`](Self::build), while a version with the MQTT login
    /// `running` runs: the connection is then handed over or made after the
    /// running one closes, when the change is applied.
    pub fn build_with(
        &self,
        path: &Path,
        running: Option<&MqttSettings>,
    ) -> Result<Tenant, String> {
        let spec = file::load(path, &self.plugin_dir, self.default_qos, &self.maxima)
            .map_err(|e| e.to_string())?;
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
        let mut takeover = None;
        let publisher = match (&spec.login, &self.mqtt) {
            (None, _) => None,
            (Some(_), None) => return Err(
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
                match login::plan(running, &settings) {
                    Some(t) => {
                        takeover = Some(t);
                        None
                    }
                    None => Some(
                        Publisher::connect(&settings)
                            .map_err(|e| format!("tenant {}: {e}", spec.id))?,
                    ),
                }
            }
        };
        let chain = Chain::new(
            &spec.id,
            stages,
            TopicPolicy::tenant(&spec.prefix),
            spec.chain_limits,
        );
        Ok(Tenant {
            spec,
            chain,
            publisher,
            checkpoints,
            takeover,
        })
    }
}

/// The tenant's own connection, else (a tenant without a login of its own) the operator's.
fn connection<'a>(
    own: &'a mut Option<Publisher>,
    has_login: bool,
    operator: &'a mut Option<&mut Publisher>,
) -> Option<&'a mut Publisher> {
    match own.as_mut() {
        Some(p) => Some(p),
        None if has_login => None,
        None => operator.as_deref_mut(),
    }
}

/// Publish `m` on the tenant's own connection, else on the operator's.
fn send(
    own: &mut Option<Publisher>,
    has_login: bool,
    operator: &mut Option<&mut Publisher>,
    m: &Message,
) {
    if let Some(p) = connection(own, has_login, operator) {
        if let Err(e) = p.publish(m) {
            tracing::warn!(topic = %m.topic, "tenant message not queued: {e}");
        }
    }
}

impl Tenant {
    pub fn id(&self) -> &str {
        &self.spec.id
    }

    /// The tenant's own trouble, inside its prefix where only the host writes.
    fn publish_events(&mut self, operator: &mut Option<&mut Publisher>, events: Vec<PluginEvent>) {
        let Some(topic) = self.chain.policy().events_topic() else {
            return;
        };
        for e in events {
            let m = Message {
                topic: topic.clone(),
                payload: e.to_json(),
                qos: Qos::AtLeastOnce,
                retain: false,
            };
            send(&mut self.publisher, self.spec.login.is_some(), operator, &m);
        }
    }

    fn process(
        &mut self,
        info: &FrameInfo,
        detections: &[Detection],
        pixels: &[u8],
        operator: &mut Option<&mut Publisher>,
        live: Option<&crate::live::Tap>,
    ) -> Option<Vec<u8>> {
        // A tenant's frames are only for its live view: drawn while watched.
        let draw = live.is_some_and(|l| l.wants_tenant_frame(&self.spec.id));
        let out = self.chain.process(info, detections, pixels, draw);
        if let Some(cp) = self.checkpoints.as_mut() {
            cp.position(info.index + 1);
        }
        if let Some(p) = connection(&mut self.publisher, self.spec.login.is_some(), operator) {
            crate::chain::publish::publish_chain_output(p, &mut self.chain, &out, info.index);
        }
        let events = self.chain.take_events(info.index);
        if let (Some(l), Some(topic)) = (live, self.chain.policy().events_topic()) {
            l.chain_output(&out.messages, &topic, &events);
        }
        self.publish_events(operator, events);
        out.drawn
    }

    /// End of stream or removal: the chain's final messages, then state.
    fn finish(&mut self, frames: u64, operator: &mut Option<&mut Publisher>) {
        if let Some(cp) = self.checkpoints.as_mut() {
            cp.save(self.chain.stages_mut());
        }
        let out = self.chain.finish(frames);
        if let Some(p) = connection(&mut self.publisher, self.spec.login.is_some(), operator) {
            crate::chain::publish::publish_chain_output(p, &mut self.chain, &out, frames);
        }
        let events = self.chain.take_events(frames);
        self.publish_events(operator, events);
    }

    fn report(self) -> TenantReport {
        let faults = self.chain.faults();
        TenantReport {
            id: self.spec.id.clone(),
            line: self.chain.numbers().line(faults),
            mqtt: self.publisher.map(Publisher::finish),
            faults,
        }
    }

    /// The connection of a version built while another held its client id:
    /// the running version's, handed over, or a new one made once that one
    /// is closed (`old`: taken from the running version, if any).
    fn connect_taking_over(&mut self, old: Option<Publisher>) {
        let Some(plan) = self.takeover.take() else {
            if let Some(p) = old {
                // A login of another client id, or none: the old one settles alone.
                retire_connection(&self.spec.id, p);
            }
            return;
        };
        match login::take_over(&plan, old) {
            Ok(p) => self.publisher = Some(p),
            Err(e) => {
                tracing::error!(tenant = %self.spec.id, "no MQTT connection for the edited tenant, its messages are not sent: {e}")
            }
        }
    }

    /// Hand every stage that keeps its name in `next` the state it had here.
    fn carry_state_to(&mut self, next: &mut Tenant) {
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
}

/// Every tenant of the pipeline, run one after the other on each frame after
/// the operator's chain.
pub struct TenantSet {
    tenants: BTreeMap<String, Tenant>,
    watcher: Option<watch::TenantWatcher>,
    frames: TenantFrames,
    /// Host events about tenants, for `edgepipe/<pipeline>/tenants`.
    events: Vec<String>,
    topic: String,
    /// The live view, handed every tenant message and event.
    live: Option<crate::live::Tap>,
    /// The running tenants' own MQTT logins (read by the watcher).
    logins: login::Logins,
}

impl TenantSet {
    /// Load every tenant in `dir` (a bad file is refused, the others run),
    /// and watch the folder for changes when `watch` is on.
    pub fn start(
        ctx: TenantContext,
        dir: &Path,
        pipeline: &str,
        watch: bool,
    ) -> Result<TenantSet, String> {
        let (ids, odd) =
            file::list(dir).map_err(|e| format!("tenants folder {}: {e}", dir.display()))?;
        for p in odd {
            tracing::warn!(file = %p.display(), "not a tenant: the file name must be <id>.toml with an id of [a-z0-9][a-z0-9-]{{0,31}}");
        }
        let ctx = Arc::new(ctx);
        let mut set = TenantSet {
            tenants: BTreeMap::new(),
            watcher: None,
            frames: TenantFrames::default(),
            events: Vec::new(),
            topic: format!("edgepipe/{pipeline}/tenants"),
            live: None,
            logins: login::Logins::default(),
        };
        let mut hashes = BTreeMap::new();
        for (id, path) in ids {
            let change = match ctx.build(&path) {
                Ok(t) => Change::Ready(Box::new(t)),
                Err(reason) => Change::Refused {
                    id: id.clone(),
                    reason,
                },
            };
            if let Ok(bytes) = std::fs::read(&path) {
                hashes.insert(id, sha(&bytes));
            }
            set.apply(change, 0, &mut None);
        }
        if watch {
            set.watcher = Some(watch::TenantWatcher::start(
                ctx,
                dir,
                hashes,
                set.logins.clone(),
            )?);
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
            Change::Ready(mut next) => {
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
                    return self.apply(Change::Refused { id, reason }, frame, operator);
                }
                let old_connection = self.tenants.get_mut(&id).and_then(|o| o.publisher.take());
                next.connect_taking_over(old_connection);
                match self.tenants.remove(&id) {
                    Some(mut old) => {
                        old.carry_state_to(&mut next);
                        tracing::info!(tenant = %id, file = %next.spec.file.display(), stages = next.spec.stages.len(), "tenant updated");
                        self.event("updated", &id, frame, None);
                        retire(old);
                    }
                    None => {
                        tracing::info!(tenant = %id, prefix = %next.spec.prefix, stages = next.spec.stages.len(), "tenant added");
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
                self.logins
                    .set(&id, next.publisher.as_ref().map(|p| p.settings().clone()));
                self.tenants.insert(id, *next);
            }
            Change::Refused { id, reason } => {
                let keeps = if self.tenants.contains_key(&id) {
                    "the running version stays"
                } else {
                    "not running"
                };
                tracing::error!(tenant = %id, "tenant file refused ({keeps}): {reason}");
                self.event("refused", &id, frame, Some(&reason));
                if let Some(t) = self.tenants.get_mut(&id) {
                    let e = serde_json::json!({"event": "refused", "tenant": id, "frame": frame, "reason": reason}).to_string();
                    let topic = t.chain.policy().events_topic().unwrap_or_default();
                    let has_login = t.spec.login.is_some();
                    send(
                        &mut t.publisher,
                        has_login,
                        operator,
                        &Message {
                            topic,
                            payload: e,
                            qos: Qos::AtLeastOnce,
                            retain: false,
                        },
                    );
                }
            }
            Change::Removed(id) => {
                self.logins.set(&id, None);
                if let Some(mut old) = self.tenants.remove(&id) {
                    old.finish(frame, operator);
                    tracing::info!(tenant = %id, "tenant removed");
                    self.event("removed", &id, frame, None);
                    self.frames
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .remove(&id);
                    if let Some(l) = &self.live {
                        l.hub.tokens.set_tenant(&id, None);
                    }
                    retire(old);
                }
            }
        }
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
        for (id, t) in self.tenants.iter_mut() {
            let mut frames = match t.process(info, detections, pixels, operator, self.live.as_ref())
            {
                Some(drawn) => {
                    self.frames
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .insert(id.clone(), Arc::new(drawn));
                    continue;
                }
                None => self.frames.lock().unwrap_or_else(PoisonError::into_inner),
            };
            // Not drawn (nobody watches): no stale frame stays behind.
            frames.remove(id);
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
    /// connection settled; a report per tenant.
    pub fn finish(
        mut self,
        frames: u64,
        operator: &mut Option<&mut Publisher>,
    ) -> Vec<TenantReport> {
        self.watcher = None;
        for t in self.tenants.values_mut() {
            t.finish(frames, operator);
        }
        self.flush_events(operator);
        std::mem::take(&mut self.tenants)
            .into_values()
            .map(Tenant::report)
            .collect()
    }
}

/// A connection no version uses any more settles (acknowledgements, bounded
/// by the ack timeout) on a thread of its own.
fn retire_connection(id: &str, p: Publisher) {
    let spawned = std::thread::Builder::new()
        .name(format!("retire-{id}"))
        .spawn(move || drop(p.finish()));
    if let Err(e) = spawned {
        tracing::warn!(tenant = %id, "cannot start a thread to close the old connection: {e}");
    }
}

/// A tenant replaced or removed: its connection settles (acknowledgements,
/// bounded by the ack timeout) on a thread of its own, off the frame path.
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
