//! Asking a run to stop: SIGINT/SIGTERM start a graceful stop (capture ends,
//! frames already decoded go through, stages finish, MQTT settles), a second
//! signal exits at once with 130. The engine only reads a [`StopToken`].

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

/// Exit status of a second signal during a graceful stop (128 + SIGINT).
pub const FORCED_EXIT: i32 = 130;

/// Shared "please stop" flag; cheap to clone and to poll.
#[derive(Clone, Default)]
pub struct StopToken {
    requested: Arc<AtomicBool>,
    /// The signal that asked (0: none, or asked from code).
    signal: Arc<AtomicUsize>,
    /// The requests of the tokens this one is a [`child`](Self::child) of.
    parents: Vec<Arc<AtomicBool>>,
}

impl StopToken {
    pub fn new() -> StopToken {
        StopToken::default()
    }

    /// Ask for a graceful stop (what a first signal does).
    pub fn request(&self) {
        self.requested.store(true, Ordering::SeqCst);
    }

    pub fn is_requested(&self) -> bool {
        self.requested.load(Ordering::SeqCst)
            || self.parents.iter().any(|p| p.load(Ordering::SeqCst))
    }

    /// A token of its own (one camera of the process, stopped alone) that
    /// also sees every request of this one (the process stopping).
    pub fn child(&self) -> StopToken {
        let mut parents = self.parents.clone();
        parents.push(self.requested.clone());
        StopToken {
            requested: Arc::new(AtomicBool::new(false)),
            signal: self.signal.clone(),
            parents,
        }
    }

    /// Whether this token is a [`child`](Self::child): one camera of a
    /// process, whose process says once that it is stopping.
    pub fn is_child(&self) -> bool {
        !self.parents.is_empty()
    }

    /// The name of the signal that asked for the stop, if a signal did.
    pub fn signal_name(&self) -> Option<&'static str> {
        match self.signal.load(Ordering::SeqCst) as i32 {
            0 => None,
            signal_hook::consts::SIGINT => Some("SIGINT"),
            signal_hook::consts::SIGTERM => Some("SIGTERM"),
            _ => Some("signal"),
        }
    }

    /// Route SIGINT and SIGTERM to this token: the first one requests a
    /// graceful stop, any later one ends the process at once with
    /// [`FORCED_EXIT`]. The order of registration matters: the conditional
    /// exit must run before the flag is set, so it only fires from the second.
    pub fn install_signal_handlers(&self) -> std::io::Result<()> {
        use signal_hook::consts::{SIGINT, SIGTERM};
        use signal_hook::flag;
        for sig in [SIGINT, SIGTERM] {
            flag::register_conditional_shutdown(sig, FORCED_EXIT, self.requested.clone())?;
            flag::register_usize(sig, self.signal.clone(), sig as usize)?;
            flag::register(sig, self.requested.clone())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_is_seen_by_every_clone() {
        let t = StopToken::new();
        let c = t.clone();
        assert!(!c.is_requested());
        t.request();
        assert!(c.is_requested());
        assert_eq!(c.signal_name(), None);
    }

    #[test]
    fn a_child_stops_alone_or_with_its_parent() {
        let process = StopToken::new();
        let (a, b) = (process.child(), process.child());
        let grandchild = a.child();
        a.request();
        assert!(a.is_requested() && grandchild.is_requested());
        assert!(!b.is_requested() && !process.is_requested());
        process.request();
        assert!(b.is_requested());
    }
}
