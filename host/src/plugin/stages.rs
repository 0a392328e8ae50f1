//! The stages of one pipeline, in configured order, with their hot reloads
//! applied between frames and their events collected for the status topic.
//! A stage comes from a file or a registry (`oci://REF`, see [`super::oci`]).

use std::time::Duration;

use super::events::{PluginEvent, PluginVersion};
use super::oci::poll::{PolledStage, Poller, Resolved};
use super::reload::{ReloadOutcome, Reloader, WatchedFile};
use super::{PluginError, PluginHost, Stage, StageKind};

/// Where a running stage came from and which version it is (for the fleet status).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StageStatus {
    pub name: String,
    pub kind: StageKind,
    /// 1 at start, +1 per reload.
    pub version: u32,
    /// sha256 of the component's bytes.
    pub sha256: String,
    /// `file:<path>` or `oci://<reference>`.
    pub origin: String,
    /// The manifest digest running, for a registry stage.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
}

/// One stage of a chain as configured: its name, world, file and settings.
#[derive(Debug, Clone)]
pub struct StageSettings {
    pub name: String,
    pub kind: StageKind,
    pub path: std::path::PathBuf,
    pub settings: Vec<(String, String)>,
}

pub struct StageSet {
    stages: Vec<Stage>,
    /// Per stage: its registry reference and digest (`None`: a file).
    registry: Vec<Option<Resolved>>,
    reloader: Option<Reloader>,
    poller: Option<Poller>,
    events: Vec<PluginEvent>,
    /// File change -> new version active, per reload.
    reload_latencies: Vec<Duration>,
    rejected: u64,
}

impl StageSet {
    /// Compile, instantiate and configure every stage.
    pub fn load(host: &PluginHost, specs: &[StageSettings]) -> Result<StageSet, PluginError> {
        StageSet::load_limited(host, specs, host.limits())
    }

    /// [`load`](Self::load) with limits for these stages (a tenant's).
    pub fn load_limited(
        host: &PluginHost,
        specs: &[StageSettings],
        limits: super::Limits,
    ) -> Result<StageSet, PluginError> {
        let mut stages = Vec::with_capacity(specs.len());
        let mut registry = Vec::with_capacity(specs.len());
        let mut events = Vec::new();
        for s in specs {
            let resolved = match super::oci::stage_reference(&s.path) {
                Some(r) => Some(super::oci::poll::resolve_at_start(
                    &s.name,
                    r,
                    &host.sources(),
                )?),
                None => None,
            };
            let path = resolved.as_ref().map_or(&s.path, |r| &r.path);
            let stage = host.load_limited(&s.name, path, s.kind, s.settings.clone(), limits)?;
            if let Some(r) = &resolved {
                // Verified and compiled: what this box falls back on with its registry away.
                if let Err(e) = host.sources().store.remember(&r.reference, &r.digest) {
                    tracing::warn!(plugin = %s.name, "{e}");
                }
            }
            tracing::info!(plugin = %s.name, kind = s.kind.world(), api = stage.api().as_str(), version = %stage.version(), path = %s.path.display(), digest = resolved.as_ref().map(|r| r.digest.as_str()), "stage loaded");
            events.push(PluginEvent::loaded(&s.name, stage.version()));
            stages.push(stage);
            registry.push(resolved);
        }
        Ok(StageSet {
            stages,
            registry,
            reloader: None,
            poller: None,
            events,
            reload_latencies: Vec::new(),
            rejected: 0,
        })
    }

    /// Start watching every stage's file for new versions, and polling the
    /// tags of registry stages.
    pub fn watch(&mut self, host: &PluginHost) -> Result<(), PluginError> {
        let mut files = Vec::new();
        let mut polled = Vec::new();
        for (index, (s, r)) in self.stages.iter().zip(&self.registry).enumerate() {
            match r {
                Some(resolved) => polled.push(PolledStage {
                    index,
                    recipe: s.recipe().clone(),
                    resolved: resolved.clone(),
                }),
                None => files.push(WatchedFile {
                    index,
                    recipe: s.recipe().clone(),
                    hash: s.version().hash,
                }),
            }
        }
        if !files.is_empty() {
            self.reloader = Some(Reloader::start(host, files)?);
        }
        self.poller = Poller::start(host, polled)?;
        Ok(())
    }

    /// Every stage's name, version, digest and origin.
    pub fn status(&self) -> Vec<StageStatus> {
        self.stages
            .iter()
            .zip(&self.registry)
            .map(|(s, r)| StageStatus {
                name: s.name().to_string(),
                kind: s.kind(),
                version: s.version().generation,
                sha256: s.version().hash,
                origin: match r {
                    Some(r) => format!("{}{}", super::oci::SCHEME, r.reference),
                    None => format!("file:{}", s.recipe().path.display()),
                },
                digest: r.as_ref().map(|r| r.digest.clone()),
            })
            .collect()
    }

    /// Swap in every new version made ready since the last frame (compiled,
    /// instantiated and configured by the reload worker; here only the state
    /// moves over); `next_frame` is the first frame the new versions will
    /// see. Call between frames.
    pub fn apply_reloads(&mut self, next_frame: u64) -> usize {
        let mut ready: Vec<(ReloadOutcome, Option<String>)> = Vec::new();
        if let Some(reloader) = &self.reloader {
            ready.extend(reloader.ready().into_iter().map(|o| (o, None)));
        }
        if let Some(poller) = &self.poller {
            ready.extend(
                poller
                    .ready()
                    .into_iter()
                    .map(|p| (p.outcome, Some(p.digest))),
            );
        }
        let mut swapped = 0;
        for (outcome, digest) in ready {
            match outcome {
                ReloadOutcome::Ready {
                    index,
                    candidate,
                    changed_at,
                } => {
                    let Some(stage) = self.stages.get_mut(index) else {
                        continue;
                    };
                    let from = stage.version();
                    let to = PluginVersion {
                        generation: from.generation + 1,
                        hash: candidate.hash().to_string(),
                    };
                    match stage.swap(candidate) {
                        Ok(()) => {
                            if let (Some(d), Some(Some(r))) = (digest, self.registry.get_mut(index))
                            {
                                tracing::info!(plugin = %stage.name(), reference = %r.reference, from = %r.digest, to = %d, "registry stage swapped");
                                r.digest = d;
                            }
                            self.reload_latencies.push(changed_at.elapsed());
                            stage.push_event(PluginEvent::reloaded(
                                stage.name(),
                                from,
                                stage.version(),
                                next_frame,
                            ));
                            swapped += 1;
                        }
                        Err(reason) => {
                            self.rejected += 1;
                            tracing::error!(plugin = %stage.name(), running = %from, rejected = %to, "reload failed, old version keeps running: {reason}");
                            stage.push_event(
                                PluginEvent::reload_failed(stage.name(), from, to, &reason)
                                    .with_frame(next_frame),
                            );
                        }
                    }
                }
                ReloadOutcome::Rejected {
                    index,
                    hash,
                    reason,
                    ..
                } => {
                    let Some(stage) = self.stages.get_mut(index) else {
                        continue;
                    };
                    self.rejected += 1;
                    let from = stage.version();
                    let to = PluginVersion {
                        generation: from.generation + 1,
                        hash,
                    };
                    tracing::error!(plugin = %stage.name(), running = %from, rejected = %to, "reload failed, old version keeps running: {reason}");
                    stage.push_event(
                        PluginEvent::reload_failed(stage.name(), from, to, &reason)
                            .with_frame(next_frame),
                    );
                }
            }
        }
        swapped
    }

    pub fn stages(&self) -> &[Stage] {
        &self.stages
    }
    pub fn stages_mut(&mut self) -> &mut [Stage] {
        &mut self.stages
    }
    pub fn of_kind(&mut self, kind: StageKind) -> impl Iterator<Item = &mut Stage> {
        self.stages.iter_mut().filter(move |s| s.kind() == kind)
    }

    /// Events since the last call, tagged with `frame` where they have none.
    pub fn take_events(&mut self, frame: u64) -> Vec<PluginEvent> {
        let mut out = std::mem::take(&mut self.events);
        for s in &mut self.stages {
            out.extend(s.take_events().into_iter().map(|e| e.with_frame(frame)));
        }
        out
    }

    pub fn reload_latencies(&self) -> &[Duration] {
        &self.reload_latencies
    }
    /// Reload attempts that left the old version running.
    pub fn rejected_reloads(&self) -> u64 {
        self.rejected
    }
    pub fn reloads(&self) -> u64 {
        self.stages.iter().map(|s| s.reloads()).sum()
    }
}
