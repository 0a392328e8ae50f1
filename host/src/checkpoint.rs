//! Stage state to disk and back for one chain of stages: restored once at
//! start, handed to the writer thread ([`crate::state_writer`]) every few
//! seconds between frames and once at the end (written when dropped).

use std::time::Instant;

use crate::plugin::StageSet;
use crate::state::{StateSettings, StateStore};
use crate::state_writer::StateWriter;

pub struct Checkpoints {
    store: StateStore,
    writer: StateWriter,
    settings: StateSettings,
    last: Instant,
}

impl Checkpoints {
    /// Open the pipeline's state folder; a folder that cannot be made is a
    /// warning (the run goes on without state), not the end of the run.
    pub fn open(settings: &StateSettings) -> Option<Checkpoints> {
        match StateStore::open(&settings.dir) {
            Ok(store) => Some(Checkpoints {
                writer: StateWriter::start(store.clone())?,
                store,
                settings: settings.clone(),
                last: Instant::now(),
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

    /// Hand every stage's state to the writer now; never waits for the disk.
    pub fn save(&mut self, stages: &mut StageSet) {
        self.last = Instant::now();
        for stage in stages.stages_mut() {
            if let Some(bytes) = stage.save() {
                self.writer.save(stage.name(), bytes);
            }
        }
    }

    /// Wait until everything handed over is on disk.
    pub fn flush(&self) {
        self.writer.flush();
    }

    /// States written so far.
    pub fn written(&self) -> u64 {
        self.writer.written()
    }
}
