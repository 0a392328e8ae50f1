//! The running cameras of a process, each on a thread of its own in the
//! scope of [`super::cameras::run_cameras`]: started, restarted with its
//! stage state carried (an edited camera file: the old one ends and saves
//! its state, the new one restores it and, on a file, continues at the
//! saved frame), stopped with its chains' `finish` (a removed file), and
//! collected into results as they end. A live camera that fails (its source
//! gave up, its chain failed, a panic) is reported and started again after a
//! back-off that grows with its failures in a row.

use std::collections::{BTreeMap, BTreeSet};
use std::thread::{Scope, ScopedJoinHandle};
use std::time::{Duration, Instant};

use crate::capture::SourceSpec;
use crate::config::CameraSettings;
use crate::error::{ExitKind, Failure};
use crate::mqtt::Publisher;
use crate::pipeline::Summary;
use crate::plugin::bindings::{Message, Qos};
use crate::stop::StopToken;

use super::camera_folder::CameraChange;
use super::cameras::{one_camera, CameraResult};
use super::runtime::Runtime;

struct Running<'scope> {
    /// Its place in the order cameras started (results are reported so).
    order: usize,
    /// What it runs with (started again with it after a failure).
    camera: CameraSettings,
    stop: StopToken,
    thread: ScopedJoinHandle<'scope, Result<Summary, Failure>>,
    /// The edited version, started once this one has ended.
    next: Option<CameraSettings>,
    /// Stopped on purpose (its file edited or removed): not started again.
    stopping: bool,
    /// Its failures in a row before this start.
    failures: u32,
    started: Instant,
}

/// A failed live camera waiting to be started again.
struct Restart {
    at: Instant,
    camera: CameraSettings,
    failures: u32,
}

pub struct CameraSet<'scope, 'env> {
    scope: &'scope Scope<'scope, 'env>,
    rt: &'env Runtime,
    /// The process's stop: every camera's own stop sees it.
    stop: StopToken,
    running: BTreeMap<String, Running<'scope>>,
    restarts: BTreeMap<String, Restart>,
    /// Cameras of the pipeline file or the command line: a camera file may
    /// not replace them.
    fixed: BTreeSet<String>,
    results: Vec<(usize, CameraResult)>,
    started: usize,
    /// Where camera events go (`edgepipe/<pipeline>/cameras/<name>/events`).
    events: Option<Publisher>,
}

impl<'scope, 'env> CameraSet<'scope, 'env> {
    pub fn new(
        scope: &'scope Scope<'scope, 'env>,
        rt: &'env Runtime,
        stop: StopToken,
        events: Option<Publisher>,
    ) -> Self {
        CameraSet {
            scope,
            rt,
            stop,
            running: BTreeMap::new(),
            restarts: BTreeMap::new(),
            fixed: BTreeSet::new(),
            results: Vec::new(),
            started: 0,
            events,
        }
    }

    /// Start a camera of the pipeline file or the command line.
    pub fn start_fixed(&mut self, camera: CameraSettings) {
        self.fixed.insert(camera.name.clone());
        self.start(camera, 0);
    }

    /// Start `camera` on a thread of its own (`failures`: in a row before).
    fn start(&mut self, camera: CameraSettings, failures: u32) {
        let order = self.started;
        self.started += 1;
        let stop = self.stop.child();
        let (rt, own_stop, name) = (self.rt, stop.clone(), camera.name.clone());
        let settings = camera.clone();
        let thread = std::thread::Builder::new()
            .name(format!("camera-{name}"))
            .spawn_scoped(self.scope, move || {
                let _span = tracing::info_span!("camera", name = %settings.name).entered();
                one_camera(rt, &settings, own_stop)
            });
        match thread {
            Ok(thread) => {
                let r = Running {
                    order,
                    camera,
                    stop,
                    thread,
                    next: None,
                    stopping: false,
                    failures,
                    started: Instant::now(),
                };
                self.running.insert(name, r);
            }
            Err(e) => {
                let f = Failure::msg(ExitKind::Internal, format!("cannot start a thread: {e}"));
                self.results.push((
                    order,
                    CameraResult {
                        name,
                        result: Err(f),
                    },
                ));
            }
        }
    }

    /// Apply a change of the cameras folder.
    pub fn apply(&mut self, change: CameraChange) {
        match change {
            CameraChange::Ready(camera) if self.fixed.contains(&camera.name) => {
                let reason = format!(
                    "camera {} is named in the pipeline file or on the command line",
                    camera.name
                );
                self.apply(CameraChange::Refused {
                    name: camera.name,
                    reason,
                });
            }
            CameraChange::Ready(camera) => {
                let name = camera.name.clone();
                let waiting = self.restarts.remove(&name).is_some();
                match self.running.get_mut(&name) {
                    Some(r) => {
                        tracing::info!(camera = %name, "camera file edited: restarting the camera, its stage state carried");
                        r.stop.request();
                        r.stopping = true;
                        r.next = Some(carrying_state(*camera));
                        self.event(&name, "updated", None);
                    }
                    None => {
                        tracing::info!(camera = %name, input = %camera.input, "camera added");
                        self.event(&name, if waiting { "updated" } else { "added" }, None);
                        self.start(*camera, 0);
                    }
                }
            }
            CameraChange::Refused { name, reason } => {
                let keeps = if self.running.contains_key(&name) {
                    "the running camera stays"
                } else {
                    "not running"
                };
                tracing::error!(camera = %name, "camera file refused ({keeps}): {reason}");
                self.event(&name, "refused", Some(&reason));
            }
            CameraChange::Removed(name) => {
                if self.fixed.contains(&name) {
                    return;
                }
                let waiting = self.restarts.remove(&name).is_some();
                if let Some(r) = self.running.get_mut(&name) {
                    tracing::info!(camera = %name, "camera file removed: finishing the camera's chains and stopping it");
                    r.stop.request();
                    r.stopping = true;
                    r.next = None;
                    self.event(&name, "removed", None);
                } else if waiting {
                    tracing::info!(camera = %name, "camera file removed: the failed camera is not started again");
                    self.event(&name, "removed", None);
                }
            }
        }
    }

    /// Collect the cameras that ended; start the edited version of those
    /// that were restarted, and the failed live ones whose wait is over.
    pub fn reap(&mut self) {
        let ended: Vec<String> = self
            .running
            .iter()
            .filter(|(_, r)| r.thread.is_finished())
            .map(|(n, _)| n.clone())
            .collect();
        for name in ended {
            let Some(r) = self.running.remove(&name) else {
                continue;
            };
            let result = r.thread.join().unwrap_or_else(|_| {
                Err(Failure::msg(ExitKind::Internal, "camera thread panicked"))
            });
            let failed = result.as_ref().err().map(ToString::to_string);
            self.results.push((r.order, CameraResult { name, result }));
            if let Some(next) = r.next {
                self.start(next, 0);
            } else if let Some(reason) = failed {
                let ran = r.started.elapsed();
                self.after_failure(r.camera, r.failures, ran, &reason, r.stopping);
            }
        }
        self.start_due();
    }

    /// Start the failed live cameras whose wait is over (none once the
    /// process is stopping).
    fn start_due(&mut self) {
        if self.stop.is_requested() {
            self.restarts.clear();
        }
        let now = Instant::now();
        let due: Vec<String> = self
            .restarts
            .iter()
            .filter(|(_, r)| r.at <= now)
            .map(|(n, _)| n.clone())
            .collect();
        for name in due {
            if let Some(r) = self.restarts.remove(&name) {
                tracing::info!(camera = %name, failures = r.failures, "starting the camera again");
                self.event(&name, "restarted", None);
                self.start(r.camera, r.failures);
            }
        }
    }

    /// A camera ended with an error: reported; a live one (unless stopped
    /// on purpose, or its source is never to be tried again) is started
    /// again after a wait that doubles with its failures in a row (one that
    /// ran longer than the longest wait starts the count afresh).
    fn after_failure(
        &mut self,
        camera: CameraSettings,
        failures: u32,
        ran: Duration,
        reason: &str,
        stopping: bool,
    ) {
        let retry = camera.source_retry;
        let live = SourceSpec::parse(&camera.input).is_live();
        if stopping || self.stop.is_requested() || !live || !retry.enabled() {
            tracing::error!(camera = %camera.name, "camera stopped: {reason}");
            self.event(&camera.name, "stopped", Some(reason));
            return;
        }
        let failures = if ran > retry.max { 0 } else { failures };
        let wait = retry.delay(failures);
        tracing::error!(camera = %camera.name, "camera stopped: {reason}; starting it again in {:.1} s", wait.as_secs_f64());
        self.event(&camera.name, "stopped", Some(reason));
        let name = camera.name.clone();
        let restart = Restart {
            at: Instant::now() + wait,
            camera,
            failures: failures + 1,
        };
        self.restarts.insert(name, restart);
    }

    /// No camera runs or waits to be started again.
    pub fn is_empty(&self) -> bool {
        self.running.is_empty() && self.restarts.is_empty()
    }

    /// Every camera's result, in the order they started.
    pub fn finish(mut self) -> Vec<CameraResult> {
        if let Some(p) = self.events.take() {
            drop(p.finish());
        }
        self.results.sort_by_key(|(order, _)| *order);
        self.results.into_iter().map(|(_, r)| r).collect()
    }

    /// A camera event on `edgepipe/<pipeline>/cameras/<name>/events`.
    fn event(&mut self, name: &str, event: &str, reason: Option<&str>) {
        let Some(p) = self.events.as_mut() else {
            return;
        };
        let mut v = serde_json::json!({"event": event, "camera": name});
        if let Some(r) = reason {
            v["reason"] = serde_json::Value::from(r);
        }
        let m = Message {
            topic: format!(
                "edgepipe/{}/cameras/{name}/events",
                self.rt.settings.pipeline_name
            ),
            payload: v.to_string(),
            qos: Qos::AtLeastOnce,
            retain: false,
        };
        if let Err(e) = p.publish(&m) {
            tracing::warn!(topic = %m.topic, "camera event not queued: {e}");
        }
    }
}

/// An edited camera restores what the version before it saved: a file
/// input continues at the saved frame (as with `--resume`).
fn carrying_state(mut camera: CameraSettings) -> CameraSettings {
    if let Some(st) = camera.state.as_mut() {
        st.fresh = false;
        st.resume = true;
    }
    camera
}
