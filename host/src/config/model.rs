//! The `[model]` section and the model flags resolved: files, thresholds,
//! the execution provider, and how sessions and threads share the cores.

use std::path::{Path, PathBuf};

use super::file::ModelConfig;
use super::overrides::Overrides;
use super::{
    default_asset, invalid, ConfigError, DEFAULT_MODEL, DEFAULT_ORT_LIB, MAX_SESSIONS, MAX_THREADS,
};

/// The most frames one session run may take (`[model] max_batch`).
pub const MAX_BATCH: usize = 64;
/// How long a batch waits for more frames by default, ms.
pub const DEFAULT_BATCH_WINDOW_MS: u64 = 5;

/// The model's settings, resolved: its files, thresholds, provider, and
/// the sessions (each with `threads` intra-op threads) every camera shares.
#[derive(Debug, Clone)]
pub struct ModelSettings {
    pub model: crate::model::ModelFile,
    pub labels: Option<PathBuf>,
    pub ort_lib: PathBuf,
    pub ep: crate::ep::Ep,
    pub confidence: f32,
    pub iou: f32,
    /// Intra-op threads of each session.
    pub threads: usize,
    /// Inference sessions: compiled copies of the model.
    pub sessions: usize,
    /// Runs in flight at once on each session, one worker each: the
    /// workers on consecutive frames are `sessions * requests`.
    pub requests: usize,
    /// Most frames in one session run (`None`: automatic; see
    /// `engine::batch::policy`).
    pub max_batch: Option<usize>,
    /// How long a batch waits for more frames after its first.
    pub batch_window: std::time::Duration,
    pub max_detections: usize,
    /// Fold pre-/post-processing into the model at load (`[model] fold`).
    pub fold: bool,
}

impl ModelSettings {
    /// What one session of the model is loaded with.
    pub fn detector(&self) -> crate::model::DetectorSettings {
        crate::model::DetectorSettings {
            model: self.model.clone(),
            labels: self.labels.clone(),
            ort_lib: self.ort_lib.clone(),
            confidence: self.confidence,
            iou: self.iou,
            intra_threads: self.threads,
            requests: self.requests,
            max_detections: self.max_detections,
            ep: self.ep.clone(),
            fold: self.fold,
        }
    }
}

/// `input` decides the default number of sessions (a live source gets one).
pub(super) fn resolve(
    o: &Overrides,
    m: &ModelConfig,
    input: &str,
) -> Result<ModelSettings, ConfigError> {
    let confidence = check_unit("confidence", o.confidence.or(m.confidence).unwrap_or(0.25))?;
    let iou = check_unit("iou", o.iou.or(m.iou).unwrap_or(0.45))?;
    let ort_lib = o
        .ort_lib
        .clone()
        .or(m.ort_lib.clone())
        .unwrap_or_else(|| default_asset(DEFAULT_ORT_LIB));
    let ep = resolve_ep(o, m, &ort_lib)?;
    let (sessions, requests, threads) = sessions_and_threads(o, m, &ep, input)?;
    Ok(ModelSettings {
        model: model_file(o, m)?,
        labels: o.labels.clone().or(m.labels.clone()),
        ort_lib,
        ep,
        confidence,
        iou,
        threads,
        sessions,
        requests,
        max_batch: max_batch(m)?,
        batch_window: batch_window(m)?,
        max_detections: m.max_detections.unwrap_or(300),
        fold: m.fold.unwrap_or(true),
    })
}

/// `[model] max_batch`: unset or 0 is automatic.
fn max_batch(m: &ModelConfig) -> Result<Option<usize>, ConfigError> {
    match m.max_batch {
        None | Some(0) => Ok(None),
        Some(n) if n > MAX_BATCH => Err(invalid(
            "model.max_batch",
            format!("{n} is more than {MAX_BATCH}"),
        )),
        Some(n) => Ok(Some(n)),
    }
}

/// `[model] batch_window_ms`: default 5 ms, at most a second.
fn batch_window(m: &ModelConfig) -> Result<std::time::Duration, ConfigError> {
    match m.batch_window_ms.unwrap_or(DEFAULT_BATCH_WINDOW_MS) {
        ms if ms > 1000 => Err(invalid(
            "model.batch_window_ms",
            format!("{ms} is more than 1000"),
        )),
        ms => Ok(std::time::Duration::from_millis(ms)),
    }
}

/// The models known by name, and their files (`scripts/setup.sh` makes them).
pub const NAMED_MODELS: [(&str, &str); 3] = [
    ("yolov12n", DEFAULT_MODEL),
    ("nanodet", "models/nanodet.onnx"),
    ("ssdlite-person", "models/ssdlite-person.onnx"),
];

/// The file of a named model.
pub fn named_model(name: &str) -> Option<PathBuf> {
    NAMED_MODELS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, rel)| default_asset(rel))
}

fn unknown_model(name: &str) -> String {
    let names: Vec<&str> = NAMED_MODELS.iter().map(|(n, _)| *n).collect();
    format!(
        "unknown model `{name}` (named models: {})",
        names.join(", ")
    )
}

/// `--model` (a name, or a path: an existing file, or anything with a `/`
/// or a `.`), else `[model] name` or `path` (not both), else the default;
/// with `--layout`/`[model] layout`.
fn model_file(o: &Overrides, m: &ModelConfig) -> Result<crate::model::ModelFile, ConfigError> {
    let layout = o
        .layout
        .as_deref()
        .or(m.layout.as_deref())
        .map(|s| s.parse::<crate::layouts::LayoutKind>())
        .transpose()
        .map_err(|e| invalid("model.layout", e))?;
    let path = match (&o.model, &m.name, &m.path) {
        (Some(flag), _, _) => {
            let text = flag.to_string_lossy();
            let looks_like_path = flag.exists() || text.contains(['/', '.']);
            match named_model(&text) {
                Some(p) if !flag.exists() => p,
                _ if looks_like_path => flag.clone(),
                _ => return Err(invalid("model", unknown_model(&text))),
            }
        }
        (None, Some(_), Some(_)) => {
            return Err(invalid("model", "set model.name or model.path, not both"))
        }
        (None, Some(name), None) => {
            named_model(name).ok_or_else(|| invalid("model.name", unknown_model(name)))?
        }
        (None, None, Some(p)) => p.clone(),
        (None, None, None) => default_asset(DEFAULT_MODEL),
    };
    Ok(crate::model::ModelFile { path, layout })
}

/// Inference sessions, the runs in flight on each and the intra-op threads
/// of each run: unset (or 0), one session with the provider's default
/// number of workers for this source and these cores as its requests; a
/// number of sessions alone keeps one request on each.
fn sessions_and_threads(
    o: &Overrides,
    m: &ModelConfig,
    ep: &crate::ep::Ep,
    input: &str,
) -> Result<(usize, usize, usize), ConfigError> {
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let threads_set = o.threads.or(m.threads).filter(|&t| t > 0);
    let bounded = |key: &str, n: Option<usize>| match n.filter(|&n| n > 0) {
        Some(n) if n > MAX_SESSIONS => {
            Err(invalid(key, format!("{n} is more than {MAX_SESSIONS}")))
        }
        n => Ok(n),
    };
    let sessions_set = bounded("model.sessions", o.sessions.or(m.sessions))?;
    let requests_set = bounded("model.requests", o.requests.or(m.requests))?;
    let (sessions, requests) = match (sessions_set, requests_set) {
        (None, None) => ep.provider.default_split(
            crate::capture::SourceSpec::parse(input).is_live(),
            cores,
            threads_set,
        ),
        (Some(s), r) => (s, r.unwrap_or(1)),
        (None, Some(r)) => (1, r),
    };
    if sessions * requests > MAX_SESSIONS {
        return Err(invalid(
            "model.requests",
            format!(
                "{sessions} sessions x {requests} requests is more than {MAX_SESSIONS} workers"
            ),
        ));
    }
    if let Some(t) = threads_set.filter(|&t| t > MAX_THREADS) {
        return Err(invalid(
            "model.threads",
            format!("{t} is more than {MAX_THREADS}"),
        ));
    }
    let threads = threads_set.unwrap_or_else(|| (cores / (sessions * requests)).max(1));
    Ok((sessions, requests, threads))
}

fn check_unit(key: &str, v: f32) -> Result<f32, ConfigError> {
    if (0.0..=1.0).contains(&v) {
        Ok(v)
    } else {
        Err(invalid(key, format!("{v} is not between 0 and 1")))
    }
}

/// `--ep`/`[model] ep` and the provider options (flags replace the file's).
fn resolve_ep(
    o: &Overrides,
    model: &ModelConfig,
    ort_lib: &Path,
) -> Result<crate::ep::Ep, ConfigError> {
    let bad = |e: crate::ep::EpError| invalid("model.ep", e);
    let choice = match o.ep.as_deref().or(model.ep.as_deref()) {
        Some(s) => s.parse().map_err(bad)?,
        None => crate::ep::EpChoice::Auto,
    };
    let options = if o.ep_options.is_empty() {
        model
            .ep_options
            .clone()
            .unwrap_or_default()
            .into_iter()
            .collect()
    } else {
        o.ep_options
            .iter()
            .map(|s| crate::ep::parse_option(s))
            .collect::<Result<Vec<_>, _>>()
            .map_err(bad)?
    };
    crate::ep::resolve(choice, options, ort_lib).map_err(bad)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{FileConfig, Overrides, BUILD_ROOT, DEFAULT_FILE_SESSIONS};

    /// The model part of the resolved settings.
    fn resolve(f: Option<FileConfig>, o: &Overrides) -> Result<ModelSettings, ConfigError> {
        crate::config::resolve(f, o).map(|s| s.model)
    }

    #[test]
    fn sessions_and_threads_share_the_cores() {
        let cores = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1);
        let cpu = || Overrides {
            ep: Some("cpu".into()),
            ..Default::default()
        };
        let file = resolve(
            None,
            &Overrides {
                input: Some("clip.avi".into()),
                ..cpu()
            },
        )
        .unwrap();
        assert_eq!(
            (file.sessions, file.requests),
            (1, DEFAULT_FILE_SESSIONS.min(cores).max(1)),
            "a file: one session, its workers as requests on it"
        );
        assert_eq!(file.threads, (cores / file.requests).max(1));
        let ov = resolve(
            None,
            &Overrides {
                input: Some("clip.avi".into()),
                ep: Some("openvino".into()),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(
            (ov.sessions, ov.requests, ov.threads),
            (file.sessions, file.requests, file.threads),
            "openvino: the same shape as cpu"
        );
        let live = resolve(
            None,
            &Overrides {
                input: Some("rtsp://cam/s".into()),
                ..cpu()
            },
        )
        .unwrap();
        assert_eq!(
            (live.sessions, live.requests, live.threads),
            (1, 1, cores),
            "a live source: one session, one request, every core"
        );
        let f =
            FileConfig::parse("[model]\nsessions = 3\nthreads = 1\n", Path::new("p.toml")).unwrap();
        let s = resolve(
            Some(f),
            &Overrides {
                sessions: Some(2),
                ..cpu()
            },
        )
        .unwrap();
        assert_eq!(
            (s.sessions, s.requests, s.threads),
            (2, 1, 1),
            "the flag wins over the file; sessions alone: one request each"
        );
        let f = FileConfig::parse("[model]\nrequests = 3\n", Path::new("p.toml")).unwrap();
        let s = resolve(Some(f), &cpu()).unwrap();
        assert_eq!(
            (s.sessions, s.requests, s.threads),
            (1, 3, (cores / 3).max(1)),
            "requests alone: on one session"
        );
        let s = resolve(
            None,
            &Overrides {
                sessions: Some(2),
                requests: Some(2),
                ..cpu()
            },
        )
        .unwrap();
        assert_eq!((s.sessions, s.requests), (2, 2));
        let e = resolve(
            None,
            &Overrides {
                sessions: Some(4),
                requests: Some(MAX_SESSIONS),
                ..cpu()
            },
        )
        .unwrap_err();
        assert!(e.to_string().contains("model.requests"), "{e}");
        let s = resolve(
            None,
            &Overrides {
                threads: Some(cores),
                ..cpu()
            },
        )
        .unwrap();
        assert_eq!(
            (s.sessions, s.threads),
            (1, cores),
            "threads for every core: one session"
        );
        let f = FileConfig::parse(
            "[model]\nep = \"openvino\"\nep_options = { device_type = \"GPU\" }\n",
            Path::new("p.toml"),
        )
        .unwrap();
        let s = resolve(Some(f), &Overrides::default()).unwrap();
        assert_eq!(
            (s.ep.provider, s.ep.option("device_type")),
            (crate::ep::Provider::OpenVino, Some("GPU"))
        );
        let f =
            FileConfig::load(&Path::new(BUILD_ROOT).join("examples/openvino-gpu.toml")).unwrap();
        let s = resolve(Some(f), &Overrides::default()).unwrap();
        assert_eq!(
            (s.ep.provider, s.ep.option("device_type"), s.sessions),
            (crate::ep::Provider::OpenVino, Some("GPU"), file.sessions)
        );
        let e = resolve(
            None,
            &Overrides {
                ep: Some("tpu".into()),
                ..Default::default()
            },
        )
        .unwrap_err();
        assert!(
            e.to_string()
                .starts_with("setting `model.ep`: unknown execution provider"),
            "{e}"
        );
    }

    #[test]
    fn models_by_name_path_and_layout() {
        let with = |text: &str, o: Overrides| {
            let f = FileConfig::parse(text, Path::new("p.toml")).unwrap();
            resolve(Some(f), &o).map(|s| s.model)
        };
        let nanodet = with("[model]\nname = \"nanodet\"\n", Overrides::default()).unwrap();
        assert!(nanodet.path.ends_with("models/nanodet.onnx"), "{nanodet:?}");
        assert_eq!(nanodet.layout, None);
        let flag = Overrides {
            model: Some("ssdlite-person".into()),
            layout: Some("tfod".into()),
            ..Default::default()
        };
        let ssd = with("[model]\nname = \"nanodet\"\n", flag).unwrap();
        assert!(
            ssd.path.ends_with("models/ssdlite-person.onnx"),
            "the flag wins: {ssd:?}"
        );
        assert_eq!(ssd.layout, Some(crate::layouts::LayoutKind::Tfod));
        let path = with(
            "[model]\npath = \"my/model.onnx\"\nlayout = \"yolov5\"\n",
            Overrides::default(),
        )
        .unwrap();
        assert_eq!(path.path, Path::new("my/model.onnx"));
        assert_eq!(path.layout, Some(crate::layouts::LayoutKind::Yolov5));
        let dflt = with("", Overrides::default()).unwrap();
        assert!(dflt.path.ends_with("models/yolov12n.onnx"), "{dflt:?}");
        for (text, o, needle) in [
            (
                "[model]\nname = \"yolo\"\n",
                Overrides::default(),
                "unknown model `yolo`",
            ),
            (
                "[model]\nname = \"nanodet\"\npath = \"x.onnx\"\n",
                Overrides::default(),
                "not both",
            ),
            (
                "[model]\nlayout = \"ssd\"\n",
                Overrides::default(),
                "unknown layout `ssd`",
            ),
            (
                "",
                Overrides {
                    model: Some("yolo".into()),
                    ..Default::default()
                },
                "unknown model `yolo`",
            ),
        ] {
            let e = with(text, o).unwrap_err().to_string();
            assert!(e.contains(needle), "{e}");
        }
    }
}
