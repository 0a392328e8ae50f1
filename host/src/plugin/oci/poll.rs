//! Registry stages over time: at start the reference is pulled (or, with
//! the registry away, the last verified digest is taken from the store);
//! while running, a thread looks tags up every `poll_secs` and makes every
//! new digest a [`ReloadOutcome`] (pulled, verified, compiled, instantiated
//! and configured here, off the frame path), handed to the frame loop like
//! a changed file. A digest reference never changes and is not polled.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{OciError, Registry};
use crate::plugin::reload::ReloadOutcome;
use crate::plugin::sources::Sources;
use crate::plugin::{PluginError, PluginHost, Recipe};

/// A component resolved from a registry reference.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// The reference as written (without `oci://`).
    pub reference: String,
    /// Its manifest digest now running.
    pub digest: String,
    /// The component in the store.
    pub path: PathBuf,
}

fn plugin_err(name: &str, e: impl std::fmt::Display) -> PluginError {
    PluginError::Registry {
        name: name.to_string(),
        reason: e.to_string(),
    }
}

fn pull_into_store(
    sources: &Sources,
    registry: &Registry,
    r: &oci_client::Reference,
) -> Result<(String, PathBuf), OciError> {
    let pulled = registry.pull(r)?;
    let path = sources.store.put(&pulled.digest, &pulled.bytes)?;
    Ok((pulled.digest, path))
}

/// The component `reference` names, for a stage's start: pulled, or with the
/// registry failing, the last verified digest from the store (said so).
pub fn resolve_at_start(
    name: &str,
    reference: &str,
    sources: &Sources,
) -> Result<Resolved, PluginError> {
    let r = super::parse(reference).map_err(|e| plugin_err(name, e))?;
    let pulled =
        Registry::new(&sources.registry).and_then(|reg| pull_into_store(sources, &reg, &r));
    match pulled {
        Ok((digest, path)) => Ok(Resolved {
            reference: reference.to_string(),
            digest,
            path,
        }),
        Err(e) => match sources.store.last_verified(reference) {
            Some((digest, path)) => {
                tracing::warn!(plugin = name, reference, %digest, "registry failed ({e}); running the last verified digest {digest} from the cache");
                eprintln!("edgepipe: plugin {name}: oci://{reference}: {e}; running the last verified digest {digest} from the cache");
                Ok(Resolved {
                    reference: reference.to_string(),
                    digest,
                    path,
                })
            }
            None => Err(plugin_err(
                name,
                format!("oci://{reference}: {e} (and no verified copy in the cache)"),
            )),
        },
    }
}

/// A registry stage the poller follows.
#[derive(Clone)]
pub struct PolledStage {
    pub index: usize,
    pub recipe: Recipe,
    pub resolved: Resolved,
}

/// What the poller hands the frame loop: an outcome and the digest it is about.
pub struct Polled {
    pub outcome: ReloadOutcome,
    pub digest: String,
}

/// The polling thread; dropping it stops the thread.
pub struct Poller {
    rx: Receiver<Polled>,
    stop: Arc<AtomicBool>,
}

impl Drop for Poller {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

impl Poller {
    /// Follow every stage whose reference is a tag (digests never move).
    pub fn start(
        host: &PluginHost,
        stages: Vec<PolledStage>,
    ) -> Result<Option<Poller>, PluginError> {
        let stages: Vec<PolledStage> = stages
            .into_iter()
            .filter(|s| super::parse(&s.resolved.reference).is_ok_and(|r| r.digest().is_none()))
            .collect();
        if stages.is_empty() {
            return Ok(None);
        }
        let (tx, rx) = mpsc::channel();
        let stop = Arc::new(AtomicBool::new(false));
        let (host, stop2) = (host.clone(), stop.clone());
        std::thread::Builder::new()
            .name("plugin-poll".into())
            .spawn(move || worker(host, stages, stop2, tx))
            .map_err(|e| PluginError::Engine(format!("cannot start the registry poller: {e}")))?;
        Ok(Some(Poller { rx, stop }))
    }

    /// Outcomes ready now (never blocks).
    pub fn ready(&self) -> Vec<Polled> {
        self.rx.try_iter().collect()
    }
}

/// Sleep `d` in short steps; false when asked to stop.
fn nap(d: Duration, stop: &AtomicBool) -> bool {
    let until = Instant::now() + d;
    while Instant::now() < until {
        if stop.load(Ordering::Relaxed) {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50).min(until - Instant::now()));
    }
    !stop.load(Ordering::Relaxed)
}

/// Per stage: the digest running (or handed over), the last one refused.
struct Follow {
    stage: PolledStage,
    running: String,
    refused: Option<String>,
}

fn worker(host: PluginHost, stages: Vec<PolledStage>, stop: Arc<AtomicBool>, out: Sender<Polled>) {
    let mut follows: Vec<Follow> = stages
        .into_iter()
        .map(|s| Follow {
            running: s.resolved.digest.clone(),
            stage: s,
            refused: None,
        })
        .collect();
    let mut last_error: HashMap<String, String> = HashMap::new();
    loop {
        let sources = host.sources();
        if !nap(sources.poll, &stop) {
            return;
        }
        let registry = match Registry::new(&sources.registry) {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!("registry client: {e}");
                continue;
            }
        };
        // One lookup per reference per round, however many stages share it.
        let mut digests: HashMap<String, Result<String, String>> = HashMap::new();
        for f in &mut follows {
            let reference = f.stage.resolved.reference.clone();
            let looked = digests
                .entry(reference.clone())
                .or_insert_with(|| lookup(&registry, &reference))
                .clone();
            match looked {
                Err(e) => {
                    if last_error.get(&reference) != Some(&e) {
                        tracing::warn!(reference, running = %f.running, "tag lookup failed, the running version stays: {e}");
                        last_error.insert(reference, e);
                    }
                }
                Ok(digest) => {
                    if last_error.remove(&reference).is_some() {
                        tracing::info!(reference, "registry reachable again");
                    }
                    if digest == f.running || f.refused.as_ref() == Some(&digest) {
                        continue;
                    }
                    let polled = follow(&host, &sources, &registry, f, &digest);
                    if out.send(polled).is_err() {
                        return;
                    }
                }
            }
        }
    }
}

fn lookup(registry: &Registry, reference: &str) -> Result<String, String> {
    let r = super::parse(reference).map_err(|e| e.to_string())?;
    registry.digest(&r).map_err(|e| e.to_string())
}

/// A new digest for one stage: its component from the store or the
/// registry, verified and compiled, instantiated and configured.
fn follow(
    host: &PluginHost,
    sources: &Sources,
    registry: &Registry,
    f: &mut Follow,
    digest: &str,
) -> Polled {
    let changed_at = Instant::now();
    let recipe = &f.stage.recipe;
    let result = component(sources, registry, &f.stage.resolved.reference, digest)
        .map_err(|e| plugin_err(&recipe.name, e))
        .and_then(|(path, bytes)| {
            let (compiled, _) = host.prepare(&recipe.name, &path, recipe.kind, &bytes)?;
            let mut next = recipe.clone();
            next.path = path;
            let candidate = next.candidate(compiled)?;
            Ok((candidate, next))
        });
    let index = f.stage.index;
    let outcome = match result {
        Ok((candidate, next)) => {
            tracing::info!(plugin = %recipe.name, reference = %f.stage.resolved.reference, from = %f.running, to = digest, "new digest ready");
            if let Err(e) = sources.store.remember(&f.stage.resolved.reference, digest) {
                tracing::warn!("{e}");
            }
            f.running = digest.to_string();
            f.refused = None;
            f.stage.recipe = next;
            ReloadOutcome::Ready {
                index,
                candidate,
                changed_at,
            }
        }
        Err(e) => {
            f.refused = Some(digest.to_string());
            ReloadOutcome::Rejected {
                index,
                hash: digest.trim_start_matches("sha256:").to_string(),
                reason: format!("oci://{}@{digest}: {e}", f.stage.resolved.reference),
                changed_at,
            }
        }
    };
    Polled {
        outcome,
        digest: digest.to_string(),
    }
}

fn component(
    sources: &Sources,
    registry: &Registry,
    reference: &str,
    digest: &str,
) -> Result<(PathBuf, Vec<u8>), OciError> {
    let path = sources.store.blob_path(digest)?;
    if let Ok(bytes) = std::fs::read(&path) {
        return Ok((path, bytes));
    }
    let r = super::parse(reference)?;
    let pinned = super::parse(&format!("{}/{}@{digest}", r.registry(), r.repository()))?;
    let pulled = registry.pull(&pinned)?;
    let path = sources.store.put(&pulled.digest, &pulled.bytes)?;
    Ok((path, pulled.bytes))
}
