//! The detector: ONNX Runtime (through `ort`, library loaded at run time) on
//! the chosen execution provider, with letterbox pre-processing and
//! YOLOv8-family decoding.

use std::path::{Path, PathBuf};

use opencv::core::{Mat, Size};
use opencv::prelude::*;
use ort::session::builder::{GraphOptimizationLevel, PrepackedWeights, SessionBuilder};
use ort::session::Session;
use ort::value::{TensorElementType, TensorRef, ValueType};
use thiserror::Error;

use crate::detect::{self, DecodeScratch, Detection, Letterbox, YoloLayout};
use crate::ep::{self, Ep, Provider};

#[derive(Debug, Error)]
pub enum ModelError {
    #[error("ONNX Runtime library {0} does not exist (set --ort-lib or ORT_DYLIB_PATH, or run scripts/setup.sh)")]
    OrtLibMissing(PathBuf),
    #[error("cannot load ONNX Runtime library {path}: {reason}")]
    OrtLibLoad { path: PathBuf, reason: String },
    #[error("model file {0} does not exist")]
    ModelMissing(PathBuf),
    #[error("cannot load model {path}: {reason}")]
    ModelLoad { path: PathBuf, reason: String },
    #[error("model {path}: unsupported layout: {reason} (supported: input [1,3,H,W] float, output [1,4+C,N] float, YOLOv8 family)")]
    Layout { path: PathBuf, reason: String },
    #[error("labels file {path}: {reason}")]
    Labels { path: PathBuf, reason: String },
    #[error("execution provider {what} cannot load: {reason}")]
    Provider { what: String, reason: String },
    #[error("inference failed: {0}")]
    Run(String),
    #[error("pre-processing failed: {0}")]
    Preprocess(#[from] opencv::Error),
}

/// Load the ONNX Runtime shared library once per process. Checks the path
/// first: `ort` panics on a failed dlopen otherwise. A process can load only
/// one library: asking for another after the first is an error.
pub fn init_ort(lib: &Path) -> Result<ort::environment::Environment, ModelError> {
    type Loaded = (PathBuf, Result<ort::environment::Environment, String>);
    static ENV: std::sync::OnceLock<Loaded> = std::sync::OnceLock::new();
    if !lib.is_file() {
        return Err(ModelError::OrtLibMissing(lib.to_path_buf()));
    }
    let (loaded_from, env) = ENV.get_or_init(|| {
        let env = ort::init_from(lib)
            .map_err(|e| e.to_string())
            .and_then(|b| {
                b.with_name("edgepipe")
                    .with_logger(std::sync::Arc::new(ort_log))
                    .build()
                    .map_err(|e| e.to_string())
            });
        (lib.to_path_buf(), env)
    });
    if loaded_from != lib {
        return Err(ModelError::OrtLibLoad {
            path: lib.to_path_buf(),
            reason: format!(
                "this process already loaded ONNX Runtime from {}",
                loaded_from.display()
            ),
        });
    }
    env.clone().map_err(|reason| ModelError::OrtLibLoad {
        path: lib.to_path_buf(),
        reason,
    })
}

/// The last error ONNX Runtime logged: a provider that fails to load says
/// why only there ("Failed to load provider" is all its error returns).
static LAST_ORT_ERROR: std::sync::Mutex<Option<String>> = std::sync::Mutex::new(None);

/// ONNX Runtime's log into tracing (its own logger would print coloured
/// lines on stderr beside edgepipe's one error line).
fn ort_log(
    level: ort::logging::LogLevel,
    _category: &str,
    _id: &str,
    location: &str,
    message: &str,
) {
    use ort::logging::LogLevel;
    match level {
        LogLevel::Error | LogLevel::Fatal => {
            tracing::debug!(target: "onnxruntime", %location, "{message}");
            *LAST_ORT_ERROR
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) =
                Some(message.trim().to_string());
        }
        LogLevel::Warning => tracing::warn!(target: "onnxruntime", "{message}"),
        LogLevel::Info | LogLevel::Verbose => tracing::trace!(target: "onnxruntime", "{message}"),
    }
}

/// The last error ONNX Runtime logged, taken.
fn take_ort_error() -> Option<String> {
    LAST_ORT_ERROR
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .take()
}

/// Settings of the detector.
#[derive(Debug, Clone)]
pub struct DetectorSettings {
    pub model: PathBuf,
    pub labels: Option<PathBuf>,
    pub ort_lib: PathBuf,
    pub confidence: f32,
    pub iou: f32,
    pub intra_threads: usize,
    pub max_detections: usize,
    pub ep: Ep,
}

/// A loaded model with its buffers; `detect` runs one frame.
pub struct Detector {
    session: Session,
    provider: Provider,
    input_name: String,
    output_name: String,
    input_w: u32,
    input_h: u32,
    layout: YoloLayout,
    labels: Vec<String>,
    settings: DetectorSettings,
    tensor: Vec<f32>,
    letterbox: Option<Letterbox>,
    resized: Mat,
    scratch: DecodeScratch,
}

/// Time spent in each part of `detect`, in seconds.
#[derive(Debug, Default, Clone, Copy)]
pub struct DetectTimings {
    pub preprocess: f64,
    pub inference: f64,
    pub postprocess: f64,
}

fn tensor_dims(v: &ValueType) -> Option<(TensorElementType, Vec<i64>)> {
    match v {
        ValueType::Tensor { ty, shape, .. } => Some((*ty, shape.iter().copied().collect())),
        _ => None,
    }
}

impl Detector {
    pub fn load(settings: DetectorSettings) -> Result<Detector, ModelError> {
        let env = init_ort(&settings.ort_lib)?;
        let path = settings.model.clone();
        if !path.is_file() {
            return Err(ModelError::ModelMissing(path));
        }
        let (session, provider) = open_session(&env, &settings)?;

        let layout_err = |reason: String| ModelError::Layout {
            path: path.clone(),
            reason,
        };
        if session.inputs().len() != 1 || session.outputs().is_empty() {
            return Err(layout_err(format!(
                "{} inputs and {} outputs, expected 1 input and at least 1 output",
                session.inputs().len(),
                session.outputs().len()
            )));
        }
        let input = &session.inputs()[0];
        let (ity, ishape) = tensor_dims(input.dtype())
            .ok_or_else(|| layout_err(format!("input `{}` is not a tensor", input.name())))?;
        if ity != TensorElementType::Float32 {
            return Err(layout_err(format!(
                "input `{}` is {ity:?}, not float32",
                input.name()
            )));
        }
        if ishape.len() != 4
            || !(ishape[0] == 1 || ishape[0] == -1)
            || ishape[1] != 3
            || ishape[2] <= 0
            || ishape[3] <= 0
        {
            return Err(layout_err(format!(
                "input `{}` has shape {ishape:?}, expected [1,3,H,W] with fixed H, W",
                input.name()
            )));
        }
        let output = &session.outputs()[0];
        let (oty, oshape) = tensor_dims(output.dtype())
            .ok_or_else(|| layout_err(format!("output `{}` is not a tensor", output.name())))?;
        if oty != TensorElementType::Float32 {
            return Err(layout_err(format!(
                "output `{}` is {oty:?}, not float32",
                output.name()
            )));
        }
        if oshape.len() != 3
            || !(oshape[0] == 1 || oshape[0] == -1)
            || oshape[1] < 5
            || oshape[2] <= 0
            || oshape[1] >= oshape[2]
        {
            return Err(layout_err(format!(
                "output `{}` has shape {oshape:?}, expected [1,4+C,N]",
                output.name()
            )));
        }
        let layout = YoloLayout {
            classes: (oshape[1] - 4) as usize,
            anchors: oshape[2] as usize,
        };

        let labels = load_labels(&session, settings.labels.as_deref(), layout.classes)?;
        let (input_w, input_h) = (ishape[3] as u32, ishape[2] as u32);
        Ok(Detector {
            input_name: input.name().to_string(),
            output_name: output.name().to_string(),
            session,
            provider,
            input_w,
            input_h,
            layout,
            labels,
            tensor: vec![0.0; 3 * input_w as usize * input_h as usize],
            letterbox: None,
            resized: Mat::default(),
            scratch: DecodeScratch::default(),
            settings,
        })
    }

    /// The provider that runs this session (the CPU one after an `auto` fallback).
    pub fn provider(&self) -> Provider {
        self.provider
    }

    pub fn input_size(&self) -> (u32, u32) {
        (self.input_w, self.input_h)
    }
    pub fn classes(&self) -> usize {
        self.layout.classes
    }
    pub fn label(&self, class_id: u32) -> &str {
        self.labels
            .get(class_id as usize)
            .map(String::as_str)
            .unwrap_or("unknown")
    }
    /// Labels indexed by class id.
    pub fn labels(&self) -> &[String] {
        &self.labels
    }

    /// The input tensor for `frame` (letterboxed, RGB, /255, NCHW), copied
    /// out: what [`run_tensor`](Self::run_tensor) takes.
    pub fn tensor_for(&mut self, frame: &Mat) -> Result<Vec<f32>, ModelError> {
        self.preprocess(frame)?;
        Ok(self.tensor.clone())
    }

    /// The model alone on an already pre-processed tensor; the output is
    /// dropped (the benchmark's raw ONNX Runtime figure).
    pub fn run_tensor(&mut self, tensor: &[f32]) -> Result<(), ModelError> {
        let shape = [1usize, 3, self.input_h as usize, self.input_w as usize];
        let input = TensorRef::from_array_view((shape, tensor))
            .map_err(|e| ModelError::Run(e.to_string()))?;
        let outputs = self
            .session
            .run(ort::inputs![self.input_name.as_str() => input])
            .map_err(|e| ModelError::Run(e.to_string()))?;
        drop(outputs);
        Ok(())
    }

    /// Letterbox `frame` (BGR, 8-bit, 3 channels) into the input tensor.
    fn preprocess(&mut self, frame: &Mat) -> Result<Letterbox, ModelError> {
        let (w, h) = (frame.cols() as u32, frame.rows() as u32);
        let lb = match self.letterbox {
            Some(lb) if lb.src_w == w && lb.src_h == h => lb,
            _ => {
                let lb = Letterbox::new(w, h, self.input_w, self.input_h);
                lb.fill_padding(&mut self.tensor);
                self.letterbox = Some(lb);
                lb
            }
        };
        opencv::imgproc::resize(
            frame,
            &mut self.resized,
            Size::new(lb.new_w as i32, lb.new_h as i32),
            0.0,
            0.0,
            opencv::imgproc::INTER_LINEAR,
        )?;
        // `resize` allocates a continuous output: rows are new_w * 3 bytes.
        let stride = lb.new_w as usize * 3;
        let bytes = self.resized.data_bytes()?;
        detect::pack_nchw(bytes, stride, &lb, &mut self.tensor);
        Ok(lb)
    }

    /// Detect objects in one BGR frame; boxes in frame pixels, after NMS.
    pub fn detect(
        &mut self,
        frame: &Mat,
        timings: &mut DetectTimings,
    ) -> Result<Vec<Detection>, ModelError> {
        let t0 = std::time::Instant::now();
        let lb = self.preprocess(frame)?;
        let t1 = std::time::Instant::now();
        let shape = [1usize, 3, self.input_h as usize, self.input_w as usize];
        let input = TensorRef::from_array_view((shape, &self.tensor[..]))
            .map_err(|e| ModelError::Run(e.to_string()))?;
        let outputs = self
            .session
            .run(ort::inputs![self.input_name.as_str() => input])
            .map_err(|e| ModelError::Run(e.to_string()))?;
        let t2 = std::time::Instant::now();
        let value = outputs
            .get(&self.output_name)
            .ok_or_else(|| ModelError::Run(format!("no output `{}`", self.output_name)))?;
        let (oshape, data) = value
            .try_extract_tensor::<f32>()
            .map_err(|e| ModelError::Run(e.to_string()))?;
        let layout = YoloLayout {
            classes: self.layout.classes,
            anchors: oshape.last().copied().unwrap_or(0).max(0) as usize,
        };
        let dets = detect::decode_yolo(
            data,
            layout,
            self.settings.confidence,
            &lb,
            &mut self.scratch,
        );
        let dets = detect::nms(dets, self.settings.iou, self.settings.max_detections);
        let t3 = std::time::Instant::now();
        timings.preprocess += (t1 - t0).as_secs_f64();
        timings.inference += (t2 - t1).as_secs_f64();
        timings.postprocess += (t3 - t2).as_secs_f64();
        Ok(dets)
    }
}

/// Pre-packed weights shared by every CPU-provider session of the process:
/// a second session of the same model reuses the first one's packed
/// convolution weights instead of packing its own copy.
fn shared_prepacked() -> &'static PrepackedWeights {
    static SHARED: std::sync::OnceLock<PrepackedWeights> = std::sync::OnceLock::new();
    SHARED.get_or_init(PrepackedWeights::new)
}

fn builder_for(
    env: &ort::environment::Environment,
    settings: &DetectorSettings,
    provider: Provider,
) -> Result<SessionBuilder, String> {
    let text = |e: ort::Error<SessionBuilder>| e.to_string();
    let b = Session::builder(env).map_err(|e| e.to_string())?;
    let b = b
        .with_optimization_level(GraphOptimizationLevel::Level3)
        .map_err(text)?;
    match provider {
        Provider::Cpu => {
            let b = b
                .with_intra_threads(settings.intra_threads.max(1))
                .map_err(text)?;
            b.with_prepacked_weights(shared_prepacked()).map_err(text)
        }
        // OpenVINO runs the whole graph with its own threads; ONNX Runtime's
        // pool would only spin beside them.
        Provider::OpenVino => {
            let b = b.with_intra_threads(1).map_err(text)?;
            b.with_execution_providers([ep::openvino(
                &settings.ep,
                Some(settings.intra_threads.max(1)),
            )])
            .map_err(text)
        }
    }
}

/// A session of `settings.model` on the chosen provider; with `auto`, a
/// provider that fails falls back to the CPU one, saying so.
fn open_session(
    env: &ort::environment::Environment,
    settings: &DetectorSettings,
) -> Result<(Session, Provider), ModelError> {
    let path = &settings.model;
    let provider = settings.ep.provider;
    let attempt = |provider: Provider| -> Result<Session, String> {
        if provider == Provider::OpenVino {
            let lib = ep::openvino_lib(&settings.ort_lib);
            if !lib.is_file() {
                return Err(format!("{} does not exist (scripts/setup.sh installs it from the onnxruntime-openvino wheel)", lib.display()));
            }
        }
        let opened = builder_for(env, settings, provider)
            .and_then(|mut b| b.commit_from_file(path).map_err(|e| e.to_string()));
        opened.map_err(|e| match take_ort_error() {
            Some(detail) if provider != Provider::Cpu && !e.contains(&detail) => {
                format!("{e}: {detail}")
            }
            _ => e,
        })
    };
    match attempt(provider) {
        Ok(s) => Ok((s, provider)),
        Err(reason) if provider == Provider::Cpu => Err(ModelError::ModelLoad {
            path: path.clone(),
            reason,
        }),
        Err(reason) if settings.ep.auto => {
            tracing::warn!(provider = %provider, %reason, "execution provider auto: falling back to cpu");
            eprintln!("edgepipe: execution provider {provider} cannot load ({reason}); auto falls back to cpu");
            let s = attempt(Provider::Cpu).map_err(|reason| ModelError::ModelLoad {
                path: path.clone(),
                reason,
            })?;
            Ok((s, Provider::Cpu))
        }
        Err(reason) => Err(ModelError::Provider {
            what: settings.ep.describe(),
            reason,
        }),
    }
}

/// Labels from a labels file (one per line) when given, else the model's
/// `names` metadata, else the repository's COCO list when the class count
/// matches, else `classN`.
fn load_labels(
    session: &Session,
    file: Option<&Path>,
    classes: usize,
) -> Result<Vec<String>, ModelError> {
    if let Some(path) = file {
        let text = std::fs::read_to_string(path).map_err(|e| ModelError::Labels {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        let labels: Vec<String> = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(String::from)
            .collect();
        if labels.len() < classes {
            return Err(ModelError::Labels {
                path: path.to_path_buf(),
                reason: format!("{} labels for a model with {classes} classes", labels.len()),
            });
        }
        return Ok(labels);
    }
    if let Some(text) = session.metadata().ok().and_then(|m| m.custom("names")) {
        match detect::parse_names(&text, classes) {
            Some(names) if names.len() == classes => return Ok(names),
            _ => tracing::warn!(classes, "the model's `names` metadata does not name its {classes} classes; using other labels"),
        }
    }
    // The repository's COCO list, for 80-class models exported without metadata.
    let coco = crate::config::default_asset(crate::config::DEFAULT_LABELS);
    if let Ok(text) = std::fs::read_to_string(&coco) {
        let labels: Vec<String> = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(String::from)
            .collect();
        if labels.len() == classes {
            return Ok(labels);
        }
    }
    Ok((0..classes).map(|i| format!("class{i}")).collect())
}
