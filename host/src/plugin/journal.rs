//! The good calls a stats or topics stage took since its last checkpoint,
//! so a `save` is needed every [`CHECKPOINT_EVERY`] calls instead of after
//! every call (issue 22: the per-frame `save` of the default stages was
//! about 0.09 ms a frame). A re-created instance restores the checkpoint and
//! is handed these calls again, in order, their outputs dropped: guests are
//! deterministic (frozen clocks, a fixed random byte sequence, nothing
//! outside comes in but the calls), so it ends in the state the trapped
//! instance had after its last good call, as the per-call `save` gave.

use super::bindings::{Detection, FrameInfo, Stat};

/// A checkpoint (`save`) is taken after this many journaled calls.
pub const CHECKPOINT_EVERY: usize = 32;

/// One call a re-created instance is handed again.
#[derive(Clone)]
pub enum Call {
    /// `stats.update`.
    Update(FrameInfo, Vec<Detection>),
    /// `topics.route`.
    Route(FrameInfo, Vec<Stat>),
}

/// The calls since the last checkpoint, oldest first.
#[derive(Default)]
pub struct Journal {
    calls: Vec<Call>,
}

impl Journal {
    /// Record a good call; `true` when a checkpoint is due (then [`clear`](Self::clear)).
    pub fn push(&mut self, call: Call) -> bool {
        self.calls.push(call);
        self.calls.len() >= CHECKPOINT_EVERY
    }

    /// A checkpoint was taken: the calls before it are in it.
    pub fn clear(&mut self) {
        self.calls.clear();
    }

    pub fn is_empty(&self) -> bool {
        self.calls.is_empty()
    }

    pub fn len(&self) -> usize {
        self.calls.len()
    }

    pub fn calls(&self) -> &[Call] {
        &self.calls
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(index: u64) -> FrameInfo {
        FrameInfo {
            index,
            timestamp_ms: index * 40,
            width: 4,
            height: 4,
            camera: "default".into(),
        }
    }

    #[test]
    fn a_checkpoint_is_due_every_so_many_calls() {
        let mut j = Journal::default();
        for i in 0..CHECKPOINT_EVERY as u64 - 1 {
            assert!(!j.push(Call::Update(info(i), Vec::new())), "call {i}");
        }
        assert!(j.push(Call::Route(info(99), Vec::new())));
        assert_eq!(j.len(), CHECKPOINT_EVERY);
        assert!(matches!(j.calls()[0], Call::Update(ref f, _) if f.index == 0));
        j.clear();
        assert!(j.is_empty());
    }
}
