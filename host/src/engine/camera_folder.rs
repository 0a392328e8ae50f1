//! The cameras folder (`--cameras-dir`, `[cameras] dir`): its `<name>.toml`
//! files read at start and, with reload on, watched; each change becomes a
//! camera to start, restart or stop, applied by [`super::camera_set`].

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Arc;
use std::time::Duration;

use crate::config::{CameraDefaults, CameraSettings};
use crate::folder::{self, FileChange, FolderWatch};

/// Quiet time after the last change of a camera file before it is read.
pub const CAMERA_DEBOUNCE: Duration = Duration::from_millis(100);

/// A change of the cameras folder.
pub enum CameraChange {
    /// A new or edited camera, ready to start.
    Ready(Box<CameraSettings>),
    /// A file that could not be used; what runs stays.
    Refused {
        name: String,
        reason: String,
    },
    Removed(String),
}

pub struct CameraFolder {
    rx: Receiver<CameraChange>,
    watch: Option<FolderWatch>,
}

/// The camera of the file `name` in `path`, or why not.
fn read(defaults: &CameraDefaults, name: String, path: &Path) -> CameraChange {
    match defaults.from_file(path, &name) {
        Ok(c) => CameraChange::Ready(Box::new(c)),
        Err(e) => CameraChange::Refused {
            name,
            reason: e.to_string(),
        },
    }
}

fn bad_name(path: &Path) {
    tracing::warn!(file = %path.display(), "not a camera: the file name must be <name>.toml with a name of [a-z0-9][a-z0-9-]{{0,31}}");
}

impl CameraFolder {
    /// Read every camera file of `dir` (a bad one is refused, the others
    /// are returned to start) and, when `watch`, watch the folder.
    pub fn open(
        dir: &Path,
        defaults: CameraDefaults,
        watch: bool,
    ) -> Result<(CameraFolder, Vec<CameraChange>), String> {
        let (names, odd) =
            folder::list(dir).map_err(|e| format!("cameras folder {}: {e}", dir.display()))?;
        for p in odd {
            bad_name(&p);
        }
        let mut first = Vec::new();
        let mut seen = BTreeMap::new();
        for (name, path) in names {
            if let Ok(bytes) = std::fs::read(&path) {
                seen.insert(name.clone(), folder::digest(&bytes));
            }
            first.push(read(&defaults, name, &path));
        }
        let (tx, rx) = mpsc::channel();
        let watch = if watch {
            let defaults = Arc::new(defaults);
            Some(FolderWatch::start(
                dir,
                "cameras",
                CAMERA_DEBOUNCE,
                seen,
                move |change| forward(&defaults, change, &tx),
            )?)
        } else {
            None
        };
        Ok((CameraFolder { rx, watch }, first))
    }

    /// Whether the folder is watched (then the run goes on without cameras).
    pub fn watching(&self) -> bool {
        self.watch.is_some()
    }

    /// Changes ready now, waiting at most `wait` for the first.
    pub fn ready(&self, wait: Duration) -> Vec<CameraChange> {
        let mut out: Vec<CameraChange> = self.rx.recv_timeout(wait).into_iter().collect();
        out.extend(self.rx.try_iter());
        out
    }
}

/// One change of the folder, read on the watcher's thread.
fn forward(defaults: &CameraDefaults, change: FileChange, tx: &Sender<CameraChange>) -> bool {
    let change = match change {
        FileChange::Changed { name, path } => read(defaults, name, &path),
        FileChange::Removed(name) => CameraChange::Removed(name),
        FileChange::Unreadable { name, reason } => CameraChange::Refused { name, reason },
        FileChange::BadName(p) => {
            bad_name(&p);
            return true;
        }
    };
    tx.send(change).is_ok()
}
