//! A folder of `<name>.toml` files (the tenants folder, the cameras
//! folder): listed with their names checked, and watched: a file added,
//! edited or removed is reported once it has been quiet for a while (so a
//! file written slowly is read once, whole), and an edit only when the
//! content changed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::Duration;

use notify::event::{AccessKind, AccessMode, EventKind};
use notify::{RecommendedWatcher, RecursiveMode, Watcher};

use crate::debounce::Debouncer;

/// Longest name of a file in such a folder (it is a folder, a topic level
/// and a URL segment too).
pub const MAX_NAME_LEN: usize = 32;

/// `[a-z0-9][a-z0-9-]{0,31}`
pub fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase() || c.is_ascii_digit())
        && name.len() <= MAX_NAME_LEN
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// The name of `<name>.toml` (`None`: another extension, or a bad name).
pub fn name_of(path: &Path) -> Option<String> {
    if path.extension().and_then(|e| e.to_str()) != Some("toml") {
        return None;
    }
    let stem = path.file_stem()?.to_str()?;
    valid_name(stem).then(|| stem.to_string())
}

/// The `<name>.toml` files of `dir` by name, and the `.toml` files whose
/// name is not a valid one.
pub fn list(dir: &Path) -> Result<(BTreeMap<String, PathBuf>, Vec<PathBuf>), std::io::Error> {
    let mut names = BTreeMap::new();
    let mut odd = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.extension().and_then(|e| e.to_str()) != Some("toml") {
            continue;
        }
        match name_of(&path) {
            Some(name) => {
                names.insert(name, path);
            }
            None => odd.push(path),
        }
    }
    Ok((names, odd))
}

/// What a file's content is, to tell an edit from a touch.
pub fn digest(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// What happened to a file of the folder.
#[derive(Debug)]
pub enum FileChange {
    /// Added, or its content changed.
    Changed { name: String, path: PathBuf },
    /// Gone (it had been seen).
    Removed(String),
    /// There but not readable.
    Unreadable { name: String, reason: String },
    /// A `.toml` file whose name is not `<name>.toml` with a valid name.
    BadName(PathBuf),
}

/// A watched folder; dropping it stops the watching thread.
pub struct FolderWatch {
    _watcher: RecommendedWatcher,
}

impl FolderWatch {
    /// Watch `dir` on a thread named `thread`: each change, once quiet for
    /// `quiet`, is handed to `on_change` on that thread (which returns
    /// false to stop watching). `seen`: each file's [`digest`] at start, by
    /// name (a file is reported only when its content differs).
    pub fn start(
        dir: &Path,
        thread: &str,
        quiet: Duration,
        seen: BTreeMap<String, String>,
        on_change: impl FnMut(FileChange) -> bool + Send + 'static,
    ) -> Result<FolderWatch, String> {
        let dir =
            std::fs::canonicalize(dir).map_err(|e| format!("folder {}: {e}", dir.display()))?;
        let (ev_tx, ev_rx) = mpsc::channel::<notify::Result<notify::Event>>();
        let mut watcher = notify::recommended_watcher(ev_tx)
            .map_err(|e| format!("cannot watch {}: {e}", dir.display()))?;
        watcher
            .watch(&dir, RecursiveMode::NonRecursive)
            .map_err(|e| format!("cannot watch {}: {e}", dir.display()))?;
        let mut worker = Worker {
            dir,
            seen,
            pending: Debouncer::new(quiet),
        };
        std::thread::Builder::new()
            .name(thread.to_string())
            .spawn(move || worker.run(ev_rx, on_change))
            .map_err(|e| format!("cannot start the {thread} watcher: {e}"))?;
        Ok(FolderWatch { _watcher: watcher })
    }
}

fn is_change(kind: &EventKind) -> bool {
    !matches!(kind, EventKind::Access(a) if *a != AccessKind::Close(AccessMode::Write))
}

struct Worker {
    dir: PathBuf,
    seen: BTreeMap<String, String>,
    pending: Debouncer<String>,
}

impl Worker {
    fn run(
        &mut self,
        events: Receiver<notify::Result<notify::Event>>,
        mut on_change: impl FnMut(FileChange) -> bool,
    ) {
        loop {
            match events.recv_timeout(self.pending.wait()) {
                Ok(Ok(ev)) if is_change(&ev.kind) => {
                    for p in ev.paths.iter().filter(|p| p.parent() == Some(&self.dir)) {
                        let toml = p.extension().and_then(|e| e.to_str()) == Some("toml");
                        match name_of(p) {
                            Some(name) => self.pending.touch(name),
                            None if toml && !on_change(FileChange::BadName(p.clone())) => return,
                            None => {}
                        }
                    }
                }
                Ok(Ok(_)) => {}
                Ok(Err(e)) => {
                    tracing::warn!(dir = %self.dir.display(), error = %e, "folder watcher")
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return,
            }
            for (name, _) in self.pending.due() {
                let Some(change) = self.change_of(name) else {
                    continue;
                };
                if !on_change(change) {
                    return;
                }
            }
        }
    }

    /// What happened to `name` (`None`: nothing that matters).
    fn change_of(&mut self, name: String) -> Option<FileChange> {
        let path = self.dir.join(format!("{name}.toml"));
        Some(match std::fs::read(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                // Never seen: it came and went.
                self.seen.remove(&name)?;
                FileChange::Removed(name)
            }
            Err(e) => FileChange::Unreadable {
                name,
                reason: format!("{}: {e}", path.display()),
            },
            Ok(bytes) => {
                let hash = digest(&bytes);
                if self.seen.get(&name) == Some(&hash) {
                    return None; // touched, not changed
                }
                self.seen.insert(name.clone(), hash);
                FileChange::Changed { name, path }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for ok in ["acme", "a", "shop-7", "0x", &"a".repeat(32)] {
            assert!(valid_name(ok), "{ok}");
        }
        for bad in ["", "-a", "A", "a_b", "a.b", &"a".repeat(33), "é"] {
            assert!(!valid_name(bad), "{bad:?}");
        }
        assert_eq!(name_of(Path::new("/d/door.toml")).as_deref(), Some("door"));
        assert_eq!(name_of(Path::new("/d/Door.toml")), None);
        assert_eq!(name_of(Path::new("/d/door.yaml")), None);
    }
}
