//! Stage state to disk and back for one chain of stages: restored once at
//! start (only state saved for the same source; a file only with
//! `--resume`), handed to the writer thread ([`crate::state_writer`]) every
//! few seconds between frames and once at the end (written when dropped),
//! each file marked with its source and the frame to continue at.

use std::time::Instant;

use crate::plugin::StageSet;
use crate::state::source::{self, Header};
use crate::state::{StateSettings, StateStore};
use crate::state_writer::StateWriter;

pub struct Checkpoints {
    store: StateStore,
    writer: StateWriter,
    settings: StateSettings,
    last: Instant,
    /// The frame after the last one the stages have seen.
    next_frame: u64,
}

impl Checkpoints {
    /// Open the chain's state folder; a folder that cannot be made is a
    /// warning (the run goes on without state), not the end of the run.
    pub fn open(settings: &StateSettings) -> Option<Checkpoints> {
        match StateStore::open(&settings.dir) {
            Ok(store) => Some(Checkpoints {
                writer: StateWriter::start(store.clone())?,
                store,
                settings: settings.clone(),
                last: Instant::now(),
                next_frame: 0,
            }),
            Err(e) => {
                tracing::warn!("stage state is not kept: {e}");
                None
            }
        }
    }

    /// Hand each stage the state saved under its name for this source; a
    /// stage whose `restore` fails starts empty (logged). Returns the frame
    /// the restored state continues at (`None`: nothing restored).
    pub fn restore(&mut self, stages: &mut StageSet) -> Option<u64> {
        let dir = self.store.dir().display().to_string();
        if self.settings.fresh {
            tracing::info!(dir = %dir, "state: starting empty (--fresh-state)");
            return None;
        }
        if !self.settings.source.live && !self.settings.resume {
            tracing::info!(dir = %dir, "state: a file input starts empty (--resume continues from the saved frame)");
            return None;
        }
        let mut restored = Vec::new();
        let mut at: Option<u64> = None;
        for stage in stages.stages_mut() {
            let Some(header) = self.restore_one(stage) else {
                continue;
            };
            restored.push(stage.name().to_string());
            at = Some(at.map_or(header.next_frame, |a| a.min(header.next_frame)));
        }
        if !restored.is_empty() {
            tracing::info!(dir = %dir, stages = %restored.join(","), "state restored (--fresh-state starts empty)");
        }
        if let Some(n) = at {
            self.next_frame = n;
        }
        at
    }

    /// One stage's saved state, if it was saved for this source and restores.
    fn restore_one(&self, stage: &mut crate::plugin::Stage) -> Option<Header> {
        let bytes = match self.store.load(stage.name()) {
            Ok(b) => b?,
            Err(e) => {
                tracing::warn!(plugin = %stage.name(), "saved state not read, the stage starts empty: {e}");
                return None;
            }
        };
        let (header, state) = match source::decode(&bytes) {
            Ok(v) => v,
            Err(e) => {
                tracing::warn!(plugin = %stage.name(), "saved state not restored, the stage starts empty: {e}");
                return None;
            }
        };
        if header.source != self.settings.source.key {
            tracing::warn!(plugin = %stage.name(), saved_for = %header.source, source = %self.settings.source.key,
                "saved state belongs to another source, not restored: the stage starts empty");
            return None;
        }
        match stage.restore(state) {
            Ok(()) => Some(header),
            Err(e) => {
                tracing::warn!(plugin = %stage.name(), "saved state not restored, the stage starts empty: {e}");
                None
            }
        }
    }

    /// The stages have seen every frame before `next_frame`.
    pub fn position(&mut self, next_frame: u64) {
        self.next_frame = next_frame;
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
        let header = Header {
            source: self.settings.source.key.clone(),
            next_frame: self.next_frame,
        };
        for stage in stages.stages_mut() {
            if let Some(bytes) = stage.save() {
                self.writer
                    .save(stage.name(), source::encode(&header, &bytes));
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
