//! Stage state to disk and back for one chain of stages: restored once at
//! start, written every few seconds between frames and once at the end.

use std::time::Instant;

use crate::plugin::StageSet;
use crate::state::{StateSettings, StateStore};

pub struct Checkpoints {
    store: StateStore,
    settings: StateSettings,
    last: Instant,
    /// A failing disk is said once, not every few seconds.
    warned: bool,
    pub written: u64,
}

impl Checkpoints {
    /// Open the pipeline's state folder; a folder that cannot be made is a
    /// warning (the run goes on without state), not the end of the run.
    pub fn open(settings: &StateSettings) -> Option<Checkpoints> {
        match StateStore::open(&settings.dir) {
            Ok(store) => Some(Checkpoints {
                store,
                settings: settings.clone(),
                last: Instant::now(),
                warned: false,
                written: 0,
            }),
            Err(e) => {
                tracing::warn!("stage state is not kept: {e}");
                None
            }
        }
    }

    /// Hand each stage the state saved under its name; a stage whose
    /// `restore` fails starts empty (logged).
    pub fn restore(&mut self, stages: &mut StageSet) {
        if self.settings.fresh {
            tracing::info!(dir = %self.store.dir().display(), "state: starting empty (--fresh-state)");
            return;
        }
        let mut restored = Vec::new();
        for stage in stages.stages_mut() {
            match self.store.load(stage.name()) {
                Ok(None) => {}
                Ok(Some(bytes)) => match stage.restore(&bytes) {
                    Ok(()) => restored.push(stage.name().to_string()),
                    Err(e) => {
                        tracing::warn!(plugin = %stage.name(), "saved state not restored, the stage starts empty: {e}")
                    }
                },
                Err(e) => {
                    tracing::warn!(plugin = %stage.name(), "saved state not read, the stage starts empty: {e}")
                }
            }
        }
        if !restored.is_empty() {
            tracing::info!(dir = %self.store.dir().display(), stages = %restored.join(","), "state restored (--fresh-state starts empty)");
        }
    }

    /// Write every stage's state if the interval has passed.
    pub fn tick(&mut self, stages: &mut StageSet) {
        if self
            .settings
            .every
            .is_some_and(|every| self.last.elapsed() >= every)
        {
            self.save(stages);
        }
    }

    /// Write every stage's state now.
    pub fn save(&mut self, stages: &mut StageSet) {
        self.last = Instant::now();
        for stage in stages.stages_mut() {
            let Some(bytes) = stage.save() else { continue };
            match self.store.save(stage.name(), &bytes) {
                Ok(()) => self.written += 1,
                Err(e) if !self.warned => {
                    self.warned = true;
                    tracing::warn!(plugin = %stage.name(), "stage state not written (said once): {e}");
                }
                Err(_) => {}
            }
        }
    }
}
