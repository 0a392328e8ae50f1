//! Several cameras in one process: one [`Runtime`] (plugin host, inference
//! service, broker), then a pipeline per camera on a thread of its own
//! ([`CameraSet`]): the cameras of the pipeline file or the command line and
//! those of the cameras folder, which come, change and go while the others
//! run. Each camera is its own failure domain: its input failing, its chain
//! failing or a panic inside it ends that camera (reported in its result and
//! on its events topic) while the others go on; a live source is opened
//! again with back-off by its capture and, once that gives up, the camera is
//! started again with back-off.

use std::time::Duration;

use crate::capture::Capture;
use crate::config::{CameraSettings, Settings};
use crate::error::{ExitKind, Failure, OrExit};
use crate::mqtt::Publisher;
use crate::pipeline::Summary;
use crate::stop::StopToken;

use super::camera_folder::{CameraChange, CameraFolder};
use super::camera_set::CameraSet;
use super::process_status::ProcessStatus;
use super::runtime::Runtime;
use super::{infer, run_camera, EngineOptions};

/// How often the cameras are looked after (ended ones collected, the
/// folder's changes applied) when nothing else wakes the loop.
const LOOK_EVERY: Duration = Duration::from_millis(100);

/// How one camera's run ended.
pub struct CameraResult {
    pub name: String,
    pub result: Result<Summary, Failure>,
}

/// What several cameras cannot share yet: refused with one line.
fn check_supported(settings: &Settings) -> Result<(), Failure> {
    let refuse = |what: &str| {
        Err(Failure::msg(
            ExitKind::Config,
            format!("{what} serves one camera; with several cameras leave it out (run one process per camera for it)"),
        ))
    };
    let cameras = || {
        settings
            .cameras
            .iter()
            .chain(std::iter::once(&settings.camera_defaults.base))
    };
    if cameras().any(|c| c.stdout) {
        return refuse("--stdout");
    }
    if cameras().any(|c| c.record.is_some()) {
        return refuse("--record");
    }
    Ok(())
}

/// Run every camera of `settings` (and of its cameras folder) to the end of
/// its input, sharing one model. With a watched cameras folder the run goes
/// on, cameras or none, until it is asked to stop; a failed live camera is
/// waited for and started again until then too. `process_ends`: the
/// process exits right after (see [`Runtime::finish`]).
pub fn run_cameras(
    settings: &Settings,
    stop: StopToken,
    process_ends: bool,
) -> Result<Vec<CameraResult>, Failure> {
    check_supported(settings)?;
    let runtime = &settings.runtime;
    let folder = match &runtime.cameras_dir {
        Some(dir) => {
            let (folder, first) =
                CameraFolder::open(dir, settings.camera_defaults.clone(), runtime.reload)
                    .map_err(|e| Failure::msg(ExitKind::Config, e))?;
            tracing::info!(dir = %dir.display(), files = first.len(), watched = folder.watching(), "cameras folder read");
            Some((folder, first))
        }
        None => None,
    };
    let loading = infer::load_detectors(settings.model.detector(), settings.model.sessions)?;
    let at_start = settings.cameras.len() + folder.as_ref().map_or(0, |(_, first)| first.len());
    let mut rt = Runtime::start(runtime, &settings.model, loading, at_start)?.with_live(true)?;
    // The cameras a tenant file may name: those given and the folder's at
    // start (a camera the folder adds later runs the tenants that name no
    // cameras).
    rt.camera_names = settings.cameras.iter().map(|c| c.name.clone()).collect();
    if let Some((_, first)) = &folder {
        rt.camera_names.extend(first.iter().filter_map(|c| match c {
            CameraChange::Ready(cs) => Some(cs.name.clone()),
            _ => None,
        }));
    }
    let status = ProcessStatus::connect(settings, rt.mqtt_url.as_deref())?;
    let events = events_connection(&rt, settings);
    let results = std::thread::scope(|scope| {
        let mut set = CameraSet::new(scope, &rt, stop.clone(), events);
        for c in &settings.cameras {
            set.start_fixed(c.clone());
        }
        let (folder, first) = match folder {
            Some((f, first)) => (Some(f), first),
            None => (None, Vec::new()),
        };
        for change in first {
            set.apply(change);
        }
        let mut announced = false;
        loop {
            if !announced && stop.is_requested() {
                super::announce_stop(&stop, "every camera's frames in flight");
                announced = true;
            }
            set.reap();
            let watching = folder.as_ref().is_some_and(CameraFolder::watching);
            if set.is_empty() && (!watching || stop.is_requested()) {
                break;
            }
            match folder.as_ref().filter(|_| watching && !stop.is_requested()) {
                Some(f) => f.ready(LOOK_EVERY).into_iter().for_each(|c| set.apply(c)),
                None => std::thread::sleep(LOOK_EVERY),
            }
        }
        set.finish()
    });
    status.finish();
    rt.report_batches();
    rt.finish(process_ends);
    Ok(results)
}

/// The connection camera events (a file added, a camera stopped, started
/// again) go out on (`None`: MQTT off, or the broker not there: the events
/// are only logged).
fn events_connection(rt: &Runtime, settings: &Settings) -> Option<Publisher> {
    let url = rt.mqtt_url.clone()?;
    let mut s = rt
        .settings
        .mqtt_settings(&settings.camera_defaults.base, url);
    // `_` is in no camera name: never the client id of a camera.
    s.client_id = format!("{}_cameras", rt.settings.client_id);
    s.status_topic = None;
    match Publisher::connect(&s) {
        Ok(p) => Some(p),
        Err(e) => {
            tracing::warn!("camera events are only logged: {e}");
            None
        }
    }
}

/// One camera, a panic inside it included, as a result.
pub(super) fn one_camera(
    rt: &Runtime,
    settings: &CameraSettings,
    stop: StopToken,
) -> Result<Summary, Failure> {
    crate::panics::guarded(|| {
        let capture = Capture::open(&settings.input).or_exit(ExitKind::Input)?;
        let opts = EngineOptions {
            progress: false,
            stop,
            ..Default::default()
        };
        run_camera(rt, settings, capture, opts)
    })
    .unwrap_or_else(|text| Err(Failure::msg(ExitKind::Internal, text)))
}
