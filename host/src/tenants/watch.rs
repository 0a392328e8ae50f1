//! The tenants folder, watched: a file added, edited or removed is debounced,
//! then read, checked and loaded (stages compiled, state restored, login
//! made) on this module's thread; the frame loop applies the result between
//! two frames ([`super::TenantSet::apply_changes`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::time::Duration;

use notify::event::{AccessKind, AccessMode, EventKind};
use notify::{RecommendedWatcher, RecursiveMode, Watcher};

use super::{file, sha, Change, TenantContext};
use crate::debounce::Debouncer;

/// Quiet time after the last change of a tenant file before it is read.
pub const TENANT_DEBOUNCE: Duration = Duration::from_millis(100);

pub struct TenantWatcher {
    rx: Receiver<Change>,
    _watcher: RecommendedWatcher,
}

impl TenantWatcher {
    /// `hashes`: the content of each file as it was at start, by id.
    pub fn start(
        ctx: Arc<TenantContext>,
        dir: &Path,
        hashes: BTreeMap<String, String>,
    ) -> Result<TenantWatcher, String> {
        let dir = std::fs::canonicalize(dir)
            .map_err(|e| format!("tenants folder {}: {e}", dir.display()))?;
        let (ev_tx, ev_rx) = mpsc::channel::<notify::Result<notify::Event>>();
        let mut watcher = notify::recommended_watcher(ev_tx)
            .map_err(|e| format!("cannot watch {}: {e}", dir.display()))?;
        watcher
            .watch(&dir, RecursiveMode::NonRecursive)
            .map_err(|e| format!("cannot watch {}: {e}", dir.display()))?;
        let (tx, rx) = mpsc::channel();
        std::thread::Builder::new()
            .name("tenants".into())
            .spawn(move || worker(ctx, dir, hashes, ev_rx, tx))
            .map_err(|e| format!("cannot start the tenants watcher: {e}"))?;
        Ok(TenantWatcher {
            rx,
            _watcher: watcher,
        })
    }

    /// Changes ready now (never blocks).
    pub fn ready(&self) -> Vec<Change> {
        self.rx.try_iter().collect()
    }
}

fn is_change(kind: &EventKind) -> bool {
    !matches!(kind, EventKind::Access(a) if *a != AccessKind::Close(AccessMode::Write))
}

fn worker(
    ctx: Arc<TenantContext>,
    dir: PathBuf,
    mut seen: BTreeMap<String, String>,
    events: Receiver<notify::Result<notify::Event>>,
    out: Sender<Change>,
) {
    let mut pending: Debouncer<String> = Debouncer::new(TENANT_DEBOUNCE);
    loop {
        match events.recv_timeout(pending.wait()) {
            Ok(Ok(ev)) if is_change(&ev.kind) => {
                for p in ev
                    .paths
                    .iter()
                    .filter(|p| p.parent() == Some(dir.as_path()))
                {
                    match file::id_of(p) {
                        Some(id) => pending.touch(id),
                        None if ctx.reports()
                            && p.extension().and_then(|e| e.to_str()) == Some("toml") =>
                        {
                            tracing::warn!(file = %p.display(), "not a tenant: the file name must be <id>.toml with an id of [a-z0-9][a-z0-9-]{{0,31}}");
                        }
                        None => {}
                    }
                }
            }
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "tenants folder watcher"),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
        for (id, _) in pending.due() {
            let path = dir.join(format!("{id}.toml"));
            let change = match std::fs::read(&path) {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    if seen.remove(&id).is_none() {
                        continue; // never ran
                    }
                    Change::Removed(id)
                }
                Err(e) => Change::Refused {
                    id,
                    reason: format!("{}: {e}", path.display()),
                },
                Ok(bytes) => {
                    let hash = sha(&bytes);
                    if seen.get(&id) == Some(&hash) {
                        continue; // touched, not changed
                    }
                    seen.insert(id.clone(), hash);
                    ctx.change(&id, &path)
                }
            };
            if out.send(change).is_err() {
                return;
            }
        }
    }
}
