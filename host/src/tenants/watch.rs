//! The tenants folder, watched ([`crate::folder`]): a file added, edited or
//! removed is read, checked and loaded (stages compiled, state restored,
//! login made) on the watcher's thread; the frame loop applies the result
//! between two frames ([`super::TenantSet::apply_changes`]).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::mpsc::{self, Receiver};
use std::sync::Arc;
use std::time::Duration;

use super::login::Logins;
use super::{Change, TenantContext};
use crate::folder::{FileChange, FolderWatch};

/// Quiet time after the last change of a tenant file before it is read.
pub const TENANT_DEBOUNCE: Duration = Duration::from_millis(100);

pub struct TenantWatcher {
    rx: Receiver<Change>,
    _watch: FolderWatch,
}

impl TenantWatcher {
    /// `hashes`: the content of each file as it was at start, by id;
    /// `logins`: the running tenants' own MQTT logins (an edit must not
    /// connect with a client id still in use).
    pub fn start(
        ctx: Arc<TenantContext>,
        dir: &Path,
        hashes: BTreeMap<String, String>,
        logins: Logins,
    ) -> Result<TenantWatcher, String> {
        let (tx, rx) = mpsc::channel();
        let watch = FolderWatch::start(dir, "tenants", TENANT_DEBOUNCE, hashes, move |change| {
            let change = match change {
                FileChange::Changed { name, path } => {
                    match ctx.build_with(&path, logins.get(&name).as_ref()) {
                        Ok(t) => Change::Ready(Box::new(t)),
                        Err(reason) => Change::Refused { id: name, reason },
                    }
                }
                FileChange::Removed(id) => Change::Removed(id),
                FileChange::Unreadable { name, reason } => Change::Refused { id: name, reason },
                FileChange::BadName(p) => {
                    tracing::warn!(file = %p.display(), "not a tenant: the file name must be <id>.toml with an id of [a-z0-9][a-z0-9-]{{0,31}}");
                    return true;
                }
            };
            tx.send(change).is_ok()
        })
        .map_err(|e| format!("tenants {e}"))?;
        Ok(TenantWatcher { rx, _watch: watch })
    }

    /// Changes ready now (never blocks).
    pub fn ready(&self) -> Vec<Change> {
        self.rx.try_iter().collect()
    }
}
