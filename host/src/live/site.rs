//! The process's side of the live view: one HTTP server for every camera.
//! It keeps each camera's [`Hub`] by name (in name order), the
//! tokens and the viewer count they share, and a process-wide bus with every
//! camera's messages (for the camera list page). With one camera, `/` is
//! that camera's page; with several, `/` lists them and each camera's page
//! is under `/cameras/<name>/`.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use super::{Bus, Hub, Tokens};

pub struct Site {
    cameras: RwLock<Vec<Arc<Hub>>>,
    /// Several cameras were configured (then `/` lists them, even while only one runs).
    several: bool,
    pub tokens: Tokens,
    pub max_viewers: usize,
    /// Open streams of every camera, against `max_viewers`.
    pub viewers: Arc<AtomicUsize>,
    /// Every camera's messages, each with its camera.
    pub bus: Arc<Bus>,
    /// The model's session runs (set once the inference service runs).
    pub runs: std::sync::OnceLock<Arc<dyn super::metrics::SessionRuns>>,
    closed: AtomicBool,
}

impl Site {
    pub fn new(several: bool, tokens: Tokens, max_viewers: usize) -> Site {
        Site {
            cameras: RwLock::default(),
            several,
            tokens,
            max_viewers,
            viewers: Default::default(),
            bus: Arc::new(Bus::new(super::bus::CAPACITY)),
            runs: Default::default(),
            closed: AtomicBool::new(false),
        }
    }

    /// Add a camera; one of the same name (a restarted camera) is replaced.
    pub fn add(&self, hub: Arc<Hub>) {
        let mut c = self.cameras.write().unwrap_or_else(PoisonError::into_inner);
        // In name order: the list does not depend on which input opened first.
        match c.binary_search_by(|h| h.camera.cmp(&hub.camera)) {
            Ok(i) => c[i] = hub,
            Err(i) => c.insert(i, hub),
        }
    }

    /// Every camera, in name order.
    pub fn cameras(&self) -> Vec<Arc<Hub>> {
        self.cameras
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub fn camera(&self, name: &str) -> Option<Arc<Hub>> {
        self.cameras
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .find(|h| h.camera == name)
            .cloned()
    }

    /// Whether `/` lists the cameras (several configured or running).
    pub fn several(&self) -> bool {
        self.several
            || self
                .cameras
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .len()
                > 1
    }

    /// The camera of a one-camera process (today's URLs serve it).
    pub fn only(&self) -> Option<Arc<Hub>> {
        if self.several() {
            return None;
        }
        self.cameras
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .first()
            .cloned()
    }

    /// Stop serving: every camera's streams end, the listener stops.
    pub fn close(&self) {
        self.closed.store(true, Ordering::Relaxed);
        for h in self.cameras() {
            h.frames.close();
        }
    }

    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Relaxed)
    }
}
