//! The stages of one pipeline, in configured order, with their hot reloads
//! applied between frames and their events collected for the status topic.

use std::time::Duration;

use super::events::{PluginEvent, PluginVersion};
use super::reload::{ReloadOutcome, Reloader, WatchedFile};
use super::{PluginError, PluginHost, Stage, StageKind};

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
    reloader: Option<Reloader>,
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
        let mut events = Vec::new();
        for s in specs {
            let stage = host.load_limited(&s.name, &s.path, s.kind, s.settings.clone(), limits)?;
            tracing::info!(plugin = %s.name, kind = s.kind.world(), api = stage.api().as_str(), version = %stage.version(), path = %s.path.display(), "stage loaded");
            events.push(PluginEvent::loaded(&s.name, stage.version()));
            stages.push(stage);
        }
        Ok(StageSet {
            stages,
            reloader: None,
            events,
            reload_latencies: Vec::new(),
            rejected: 0,
        })
    }

    /// Start watching every stage's file for new versions.
    pub fn watch(&mut self, host: &PluginHost) -> Result<(), PluginError> {
        let files = self
            .stages
            .iter()
            .enumerate()
            .map(|(index, s)| WatchedFile {
                index,
                recipe: s.recipe().clone(),
                hash: s.version().hash,
            })
            .collect();
        self.reloader = Some(Reloader::start(host, files)?);
        Ok(())
    }

    /// Swap in every new version made ready since the last frame (compiled,
    /// instantiated and configured by the reload worker; here only the state
    /// moves over); `next_frame` is the first frame the new versions will
    /// see. Call between frames.
    pub fn apply_reloads(&mut self, next_frame: u64) -> usize {
        let Some(reloader) = &self.reloader else {
            return 0;
        };
        let mut swapped = 0;
        for outcome in reloader.ready() {
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
