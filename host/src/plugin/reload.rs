//! Hot reload: `notify` watches the folder of every stage file -> changes are
//! mapped to their stage and debounced -> the new bytes are read, validated,
//! compiled, instantiated and configured on this module's worker thread, off
//! the frame path -> the frame loop picks up ready candidates between two
//! frames and only hands them the running state
//! ([`super::StageSet::apply_reloads`]).
//!
//! Folders are watched, not files: cargo and most editors replace a file
//! (remove + create, or rename into place), which a file watch misses.
//! The host's own reads raise access events; those are ignored, and bytes
//! whose hash was already seen are not compiled again.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use notify::event::{AccessKind, AccessMode, EventKind};
use notify::{RecommendedWatcher, RecursiveMode, Watcher};

use super::{cache, Candidate, PluginError, PluginHost, Recipe};

/// Quiet time after the last change to a file before it is read: a file
/// written slowly is not caught half-way through every few milliseconds.
pub const RELOAD_DEBOUNCE: Duration = Duration::from_millis(50);

/// A stage file the reloader watches.
#[derive(Clone)]
pub struct WatchedFile {
    pub index: usize,
    /// How the stage is instantiated and configured (name, file, settings, limits).
    pub recipe: Recipe,
    /// Hash of the bytes now running.
    pub hash: String,
}

/// What the worker hands the frame loop.
pub enum ReloadOutcome {
    /// The new version, instantiated and configured, waiting for the running state.
    Ready {
        index: usize,
        candidate: Candidate,
        changed_at: Instant,
    },
    Rejected {
        index: usize,
        hash: String,
        reason: String,
        changed_at: Instant,
    },
}

/// A running watcher and compile worker. Dropping it stops both.
pub struct Reloader {
    rx: Receiver<ReloadOutcome>,
    _watcher: RecommendedWatcher,
}

impl Reloader {
    pub fn start(host: &PluginHost, files: Vec<WatchedFile>) -> Result<Reloader, PluginError> {
        let (ev_tx, ev_rx) = mpsc::channel::<notify::Result<notify::Event>>();
        let mut watcher = notify::recommended_watcher(ev_tx).map_err(|e| PluginError::Watch {
            name: files
                .first()
                .map(|f| f.recipe.name.clone())
                .unwrap_or_default(),
            path: PathBuf::new(),
            reason: e.to_string(),
        })?;
        let mut dirs: Vec<PathBuf> = Vec::new();
        // One file may serve several stages (the same component with other settings).
        let mut by_path: HashMap<PathBuf, Vec<usize>> = HashMap::new();
        for (slot, f) in files.iter().enumerate() {
            let f = &f.recipe;
            let dir = f
                .path
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            let dir = std::fs::canonicalize(dir).map_err(|e| PluginError::Watch {
                name: f.name.clone(),
                path: dir.to_path_buf(),
                reason: e.to_string(),
            })?;
            let Some(file_name) = f.path.file_name() else {
                return Err(PluginError::Watch {
                    name: f.name.clone(),
                    path: f.path.clone(),
                    reason: "not a file path".into(),
                });
            };
            by_path.entry(dir.join(file_name)).or_default().push(slot);
            if !dirs.contains(&dir) {
                watcher
                    .watch(&dir, RecursiveMode::NonRecursive)
                    .map_err(|e| PluginError::Watch {
                        name: f.name.clone(),
                        path: dir.clone(),
                        reason: e.to_string(),
                    })?;
                dirs.push(dir);
            }
        }
        let (tx, rx) = mpsc::channel();
        let host = host.clone();
        std::thread::Builder::new()
            .name("plugin-reload".into())
            .spawn(move || worker(host, files, by_path, ev_rx, tx))
            .map_err(|e| PluginError::Engine(format!("cannot start the reload worker: {e}")))?;
        tracing::debug!(folders = dirs.len(), "watching plugin files for changes");
        Ok(Reloader {
            rx,
            _watcher: watcher,
        })
    }

    /// Outcomes ready now (never blocks).
    pub fn ready(&self) -> Vec<ReloadOutcome> {
        self.rx.try_iter().collect()
    }
}

/// Does this event say a file's content may have changed?
fn is_change(kind: &EventKind) -> bool {
    match kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        EventKind::Access(_) => false,
        EventKind::Remove(_) => false,
        _ => true,
    }
}

fn worker(
    host: PluginHost,
    files: Vec<WatchedFile>,
    by_path: HashMap<PathBuf, Vec<usize>>,
    events: Receiver<notify::Result<notify::Event>>,
    out: Sender<ReloadOutcome>,
) {
    let mut seen: Vec<String> = files.iter().map(|f| f.hash.clone()).collect();
    let mut pending = crate::debounce::Debouncer::new(RELOAD_DEBOUNCE);
    loop {
        match events.recv_timeout(pending.wait()) {
            Ok(Ok(ev)) if is_change(&ev.kind) => {
                for slot in ev.paths.iter().filter_map(|p| by_path.get(p)).flatten() {
                    pending.touch(*slot);
                }
            }
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "plugin file watcher"),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
        for (slot, first) in pending.due() {
            let (index, f) = (files[slot].index, &files[slot].recipe);
            let bytes = match PluginHost::read(&f.name, &f.path) {
                Ok(b) => b,
                Err(PluginError::Missing { .. }) => continue, // removed; its replacement raises another event
                Err(e) => {
                    let _ = out.send(ReloadOutcome::Rejected {
                        index,
                        hash: String::new(),
                        reason: e.to_string(),
                        changed_at: first,
                    });
                    continue;
                }
            };
            let hash = cache::content_hash(&bytes);
            if hash == seen[slot] {
                continue;
            }
            seen[slot] = hash.clone();
            let t = Instant::now();
            let outcome = match host.prepare(&f.name, &f.path, f.kind, &bytes).and_then(|(compiled, origin)| {
                tracing::debug!(plugin = %f.name, ?origin, ms = t.elapsed().as_secs_f64() * 1000.0, "new version compiled");
                f.candidate(compiled)
            }) {
                Ok(candidate) => {
                    tracing::debug!(plugin = %f.name, ms = t.elapsed().as_secs_f64() * 1000.0, "new version instantiated and configured");
                    ReloadOutcome::Ready { index, candidate, changed_at: first }
                }
                Err(e) => ReloadOutcome::Rejected { index, hash, reason: e.to_string(), changed_at: first },
            };
            if out.send(outcome).is_err() {
                return;
            }
        }
    }
}
