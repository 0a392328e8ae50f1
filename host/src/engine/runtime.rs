//! What every camera of the process shares, built once: the WebAssembly
//! engine and its component cache (the plugin host), the model's inference
//! service, its labels, the broker the cameras' publishers connect to, and
//! the live view's HTTP server (each camera adds itself to it).

use crate::config::{ModelSettings, RuntimeSettings};
use crate::error::{ExitKind, Failure, OrExit};
use crate::model::Detector;
use crate::plugin::{ComponentCache, Limits, PluginHost};

use super::batch::BatchPolicy;
use super::infer::{self, LazyDetector, Loading};
use super::service::InferenceService;

pub struct Runtime {
    /// What it was built from.
    pub settings: RuntimeSettings,
    /// Intra-op threads of each inference session.
    pub threads: usize,
    pub host: PluginHost,
    pub service: InferenceService,
    /// The model's class names.
    pub labels: Vec<String>,
    /// Where publishers connect (`None`: MQTT off).
    pub mqtt_url: Option<String>,
    /// Every camera's name, in order (what a tenant's `cameras` may name;
    /// set by the caller, which knows the cameras).
    pub camera_names: Vec<String>,
    /// The tenants' own MQTT connections, one per tenant for all its cameras.
    pub tenant_logins: crate::tenants::login::Logins,
    /// The live view (`None`: off).
    pub live: Option<crate::live::Live>,
}

impl Runtime {
    /// Build the shared parts; `loading` (the sessions, started earlier so
    /// they load while an input opens) is waited for its first session.
    /// `cameras`: how many run at start (the automatic batch size).
    pub fn start(
        settings: &RuntimeSettings,
        model: &ModelSettings,
        loading: Loading,
        cameras: usize,
    ) -> Result<Runtime, Failure> {
        Runtime::start_with(plugin_host(settings)?, settings, model, loading, cameras)
    }

    /// [`start`](Self::start) with a plugin host made earlier (the stages
    /// of `engine::run` load while the model does).
    pub fn start_with(
        host: PluginHost,
        settings: &RuntimeSettings,
        model: &ModelSettings,
        loading: Loading,
        cameras: usize,
    ) -> Result<Runtime, Failure> {
        // The first session; the others join the workers as they finish loading.
        let (first, later) = infer::first_loaded(loading)?;
        let labels = first.labels().to_vec();
        let (iw, ih) = first.input_size();
        tracing::info!(model = %model.model.display(), input_w = iw, input_h = ih, classes = first.classes(),
            sessions = model.sessions, requests = model.requests, threads = model.threads, provider = %first.provider(),
            "model loaded (execution provider {})", model.ep.describe());
        let batches = batch_policy(model, &first, cameras)?;
        let detectors: Vec<LazyDetector> = std::iter::once(LazyDetector::Ready(Box::new(first)))
            .chain(later)
            .collect();
        let service = InferenceService::start(detectors, batches)?;
        let mqtt_url = crate::pipeline::broker_url(settings)?;
        Ok(Runtime {
            settings: settings.clone(),
            threads: model.threads,
            host,
            service,
            labels,
            mqtt_url,
            camera_names: Vec::new(),
            tenant_logins: Default::default(),
            live: None,
        })
    }

    /// Serve the live view when the settings ask for it; with `several`
    /// cameras `/` lists them.
    pub fn with_live(mut self, several: bool) -> Result<Runtime, Failure> {
        self.live = start_live(&self.settings, several)?;
        if let Some(l) = &self.live {
            let _ = l.site.runs.set(self.service.counters());
        }
        Ok(self)
    }

    /// How the cameras' frames shared the session runs: logged, and on
    /// stderr when runs take batches.
    pub fn report_batches(&self) {
        let counts = self.service.counts();
        tracing::info!(
            runs = counts.runs,
            frames = counts.frames,
            largest = counts.largest,
            "inference"
        );
        if self.service.batches().max > 1 {
            eprintln!("edgepipe: inference: {counts}");
        }
    }

    /// Stop the inference service; its sessions are handed back (freed by
    /// the caller after its last memory figure).
    pub fn stop(self) -> Vec<Detector> {
        if let Some(l) = &self.live {
            l.close();
        }
        self.service.stop()
    }

    /// [`stop`](Self::stop) at the end of a run. When the process ends
    /// right after (`process_ends`), the sessions are left to the system
    /// instead of freed one allocation at a time: OpenVINO's compiled model
    /// took ~20 ms of the main thread to free, 0.7% of a default 150-frame
    /// run's wall time (issue 22). Their threads are already joined.
    pub fn finish(self, process_ends: bool) {
        let sessions = self.stop();
        if process_ends {
            std::mem::forget(sessions);
        }
    }
}

/// The WebAssembly engine and its component cache, as `settings` ask.
pub fn plugin_host(settings: &RuntimeSettings) -> Result<PluginHost, Failure> {
    PluginHost::with_cache(
        Limits {
            call_timeout: settings.call_timeout,
            memory: settings.memory_limit,
        },
        ComponentCache::new(settings.plugin_cache.clone()),
    )
    .or_exit(ExitKind::Plugin)
}

/// How the model's sessions take requests (batches for a model with a
/// dynamic batch dimension); more than one frame a run asked of a model
/// that takes one is a configuration error.
fn batch_policy(
    model: &ModelSettings,
    first: &Detector,
    cameras: usize,
) -> Result<BatchPolicy, Failure> {
    let dynamic = first.dynamic_batch();
    let p = super::batch::policy(model.max_batch, model.batch_window, dynamic, cameras)
        .map_err(|e| Failure::msg(ExitKind::Config, format!("setting `model.max_batch`: {e}")))?;
    if p.max > 1 {
        tracing::info!(
            max_batch = p.max,
            window_ms = p.window.as_millis() as u64,
            "the model's batch dimension is dynamic: up to {} frames a session run",
            p.max
        );
    }
    Ok(p)
}

/// The live view's server, when asked for (`/` lists the cameras when there are several).
fn start_live(
    settings: &RuntimeSettings,
    several: bool,
) -> Result<Option<crate::live::Live>, Failure> {
    let Some(ls) = &settings.live else {
        return Ok(None);
    };
    let live = crate::live::start(ls, several).map_err(|e| {
        let kind = if matches!(e, crate::live::LiveError::Token(_)) {
            ExitKind::Config
        } else {
            ExitKind::Output
        };
        Failure::new(kind, e)
    })?;
    if let Some(v) = &live {
        eprintln!("edgepipe: live view on http://{}/", v.addr);
    }
    Ok(live)
}
