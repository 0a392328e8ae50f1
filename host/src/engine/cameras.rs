//! Several cameras in one process: one [`Runtime`] (plugin host, inference
//! service, broker), then a pipeline per camera on a thread of its own. Each
//! camera is its own failure domain: its input failing, its chain failing or
//! a panic inside it ends that camera (reported in its result) while the
//! others go on; a live source is opened again with back-off by its capture.

use crate::capture::Capture;
use crate::config::{CameraSettings, Settings};
use crate::error::{ExitKind, Failure, OrExit};
use crate::pipeline::Summary;
use crate::stop::StopToken;

use super::process_status::ProcessStatus;
use super::runtime::Runtime;
use super::{infer, run_camera, EngineOptions};

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
    if settings.cameras.iter().any(|c| c.stdout) {
        return refuse("--stdout");
    }
    if settings.cameras.iter().any(|c| c.record.is_some()) {
        return refuse("--record");
    }
    if settings.runtime.tenants_dir.is_some() {
        return refuse("the tenants folder");
    }
    Ok(())
}

/// Run every camera of `settings` to the end of its input, sharing one model.
pub fn run_cameras(settings: &Settings, stop: StopToken) -> Result<Vec<CameraResult>, Failure> {
    check_supported(settings)?;
    let loading = infer::load_detectors(settings.model.detector(), settings.model.sessions)?;
    let rt = Runtime::start(&settings.runtime, &settings.model, loading)?.with_live(true)?;
    let status = ProcessStatus::connect(settings, rt.mqtt_url.as_deref())?;
    let results = std::thread::scope(|scope| {
        let started: Vec<_> = settings
            .cameras
            .iter()
            .map(|cs| {
                let (rt, stop, name) = (&rt, stop.clone(), cs.name.clone());
                let thread = std::thread::Builder::new()
                    .name(format!("camera-{name}"))
                    .spawn_scoped(scope, move || {
                        let _span = tracing::info_span!("camera", name = %cs.name).entered();
                        one_camera(rt, cs, stop)
                    });
                (name, thread)
            })
            .collect();
        started
            .into_iter()
            .map(|(name, thread)| {
                let result = match thread {
                    Ok(h) => h.join().unwrap_or_else(|_| {
                        Err(Failure::msg(ExitKind::Internal, "camera thread panicked"))
                    }),
                    Err(e) => Err(Failure::msg(
                        ExitKind::Internal,
                        format!("cannot start a thread: {e}"),
                    )),
                };
                CameraResult { name, result }
            })
            .collect()
    });
    status.finish();
    drop(rt.stop());
    Ok(results)
}

/// One camera, a panic inside it included, as a result.
fn one_camera(
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
