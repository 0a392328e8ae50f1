//! The detector: ONNX Runtime (through `ort`, library loaded at run time) on
//! the chosen execution provider; pre-processing as the model's input asks
//! and decoding of its output layout (`layouts/`).

use std::path::{Path, PathBuf};

use opencv::core::{Mat, Size};
use opencv::prelude::*;
use ort::session::builder::{GraphOptimizationLevel, PrepackedWeights, SessionBuilder};
use ort::session::Session;
use ort::session::SessionInputValue;
use ort::value::TensorRef;
use thiserror::Error;

use crate::detect::{self, Detection, Letterbox};
use crate::ep::{self, Ep, Provider};
use crate::layouts::batch::{split_output, BatchTensor};
use crate::layouts::input::{InputTensor, Packer};
use crate::layouts::resize::Image;
use crate::layouts::yolov8::DecodeScratch;
use crate::layouts::{DecodeParams, LayoutKind, OutputView};
use crate::model_fold::Fold;
use crate::model_spec::{self, ModelSpec};

#[derive(Debug, Error)]
pub enum ModelError {
    #[error("ONNX Runtime library {0} does not exist (set --ort-lib or ORT_DYLIB_PATH, or run scripts/setup.sh)")]
    OrtLibMissing(PathBuf),
    #[error("cannot load ONNX Runtime library {path}: {reason}")]
    OrtLibLoad { path: PathBuf, reason: String },
    #[error("model file {0} does not exist (scripts/setup.sh makes the named models)")]
    ModelMissing(PathBuf),
    #[error("cannot load model {path}: {reason}")]
    ModelLoad { path: PathBuf, reason: String },
    #[error("model {path}: unsupported layout: {reason} (supported: input [1,3,H,W] or [1,H,W,3] float32 or uint8; outputs yolov8 [1,4+C,N], yolov5 [1,N,5+C], end2end [1,N,6], tfod num_detections/detection_boxes/detection_scores/detection_classes)")]
    Layout { path: PathBuf, reason: String },
    #[error("model output: {0}")]
    Decode(#[from] crate::layouts::DecodeError),
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

/// The model file and, when set, the output layout to read it with.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelFile {
    pub path: PathBuf,
    pub layout: Option<LayoutKind>,
}

impl ModelFile {
    pub fn display(&self) -> std::path::Display<'_> {
        self.path.display()
    }
}

impl From<PathBuf> for ModelFile {
    fn from(path: PathBuf) -> ModelFile {
        ModelFile { path, layout: None }
    }
}

/// Settings of the detector.
#[derive(Debug, Clone)]
pub struct DetectorSettings {
    pub model: ModelFile,
    pub labels: Option<PathBuf>,
    pub ort_lib: PathBuf,
    pub confidence: f32,
    pub iou: f32,
    pub intra_threads: usize,
    /// Runs in flight at once on one session, each from its own worker
    /// thread (OpenVINO: that many streams and infer requests).
    pub requests: usize,
    pub max_detections: usize,
    pub ep: Ep,
    /// Fold the input's normalisation and the YOLOv8 class reduction into
    /// the model at load (`model_fold`; `[model] fold`, default on).
    pub fold: bool,
}

/// A model loaded into one ONNX Runtime session, with what was read from
/// it: shared by the workers that run it ([`Detector`]s), each run on the
/// caller's thread, several at once (`requests` of [`DetectorSettings`]).
pub struct LoadedModel {
    session: Session,
    names: crate::model_run::RunNames,
    provider: Provider,
    spec: ModelSpec,
    labels: Vec<String>,
    settings: DetectorSettings,
    fold: Fold,
}

/// One worker on a loaded model: its own pre-processing and decoding
/// buffers; `detect` runs one frame.
pub struct Detector {
    model: std::sync::Arc<LoadedModel>,
    packer: Packer,
    tensor: InputTensor,
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

/// `tensor` as the session's input value.
fn input_value<'t>(
    shape: [usize; 4],
    tensor: &'t InputTensor,
) -> Result<SessionInputValue<'t>, ModelError> {
    let err = |e: ort::Error| ModelError::Run(e.to_string());
    Ok(match tensor {
        InputTensor::F32(t) => TensorRef::from_array_view((shape, &t[..]))
            .map_err(err)?
            .into(),
        InputTensor::U8(t) => TensorRef::from_array_view((shape, &t[..]))
            .map_err(err)?
            .into(),
    })
}

impl LoadedModel {
    /// Open a session of `settings.model` and read its layout and labels.
    pub fn load(settings: DetectorSettings) -> Result<LoadedModel, ModelError> {
        let t0 = std::time::Instant::now();
        let env = init_ort(&settings.ort_lib)?;
        let t1 = std::time::Instant::now();
        let path = settings.model.path.clone();
        if !path.is_file() {
            return Err(ModelError::ModelMissing(path));
        }
        let (session, provider, fold) = open_model(&env, &settings)?;
        let t2 = std::time::Instant::now();
        let spec =
            model_spec::read(&session, settings.model.layout, fold.best_of).map_err(|reason| {
                ModelError::Layout {
                    path: path.clone(),
                    reason,
                }
            })?;
        let labels = load_labels(&session, settings.labels.as_deref(), spec.layout.classes())?;
        // Where a start goes (`--log edgepipe::model=debug`).
        tracing::debug!(layout = %spec.layout.kind(), input = ?spec.input, labels = labels.len(),
            init_ort_ms = ms(t1 - t0), session_ms = ms(t2 - t1), read_ms = ms(t2.elapsed()), "model read");
        let names = crate::model_run::RunNames::new(&spec.input_name, &spec.output_names).map_err(
            |reason| ModelError::Layout {
                path: path.clone(),
                reason,
            },
        )?;
        Ok(LoadedModel {
            session,
            names,
            provider,
            spec,
            labels,
            settings,
            fold,
        })
    }

    /// Run the model on `tensor`; every output, in the session's order.
    /// Several threads may run one model at once.
    fn run(&self, tensor: &InputTensor) -> Result<Vec<ort::value::DynValue>, ModelError> {
        self.run_shaped(self.spec.input.shape(), tensor)
    }

    /// [`run`](Self::run) on a tensor of `shape` (a batch of frames).
    fn run_shaped(
        &self,
        shape: [usize; 4],
        tensor: &InputTensor,
    ) -> Result<Vec<ort::value::DynValue>, ModelError> {
        let input = input_value(shape, tensor)?;
        crate::model_run::run(&self.session, &self.names, &input).map_err(ModelError::Run)
    }

    fn decode_params(&self) -> DecodeParams {
        DecodeParams {
            confidence: self.settings.confidence,
            iou: self.settings.iou,
            max_detections: self.settings.max_detections,
            labels: self.labels.len(),
        }
    }
}

/// The layout's outputs of a run, in the order [`crate::layouts::decode`] takes them.
fn output_data<'o>(
    spec: &ModelSpec,
    outputs: &'o [ort::value::DynValue],
) -> Result<Vec<OutputView<'o>>, ModelError> {
    let mut data: Vec<OutputView<'o>> = Vec::with_capacity(4);
    for i in spec.layout.outputs() {
        let name = &spec.output_names[i];
        let value = outputs
            .get(i)
            .ok_or_else(|| ModelError::Run(format!("no output `{name}`")))?;
        let (shape, values) = value
            .try_extract_tensor::<f32>()
            .map_err(|e| ModelError::Run(format!("output `{name}`: {e}")))?;
        data.push((&shape[..], values));
    }
    Ok(data)
}

impl Detector {
    /// Load a model with one worker on it.
    pub fn load(settings: DetectorSettings) -> Result<Detector, ModelError> {
        Ok(Detector::on(std::sync::Arc::new(LoadedModel::load(
            settings,
        )?)))
    }

    /// A worker on `model`, with buffers of its own.
    pub fn on(model: std::sync::Arc<LoadedModel>) -> Detector {
        let packer = Packer::new(model.spec.input.clone());
        Detector {
            tensor: packer.blank(),
            packer,
            model,
            letterbox: None,
            resized: Mat::default(),
            scratch: DecodeScratch::default(),
        }
    }

    /// The model this worker runs.
    pub fn model(&self) -> &std::sync::Arc<LoadedModel> {
        &self.model
    }

    /// What was folded into the model at load (`model_fold`).
    pub fn folded(&self) -> Fold {
        self.model.fold
    }

    /// The provider that runs this session (the CPU one after an `auto` fallback).
    pub fn provider(&self) -> Provider {
        self.model.provider
    }

    pub fn input_size(&self) -> (u32, u32) {
        (self.model.spec.input.width, self.model.spec.input.height)
    }
    /// The output layout the model is read with.
    pub fn layout(&self) -> LayoutKind {
        self.model.spec.layout.kind()
    }
    /// The class count: the output's when its shape fixes one, else the labels'.
    pub fn classes(&self) -> usize {
        self.model
            .spec
            .layout
            .classes()
            .unwrap_or(self.model.labels.len())
    }
    pub fn label(&self, class_id: u32) -> &str {
        self.model
            .labels
            .get(class_id as usize)
            .map(String::as_str)
            .unwrap_or("unknown")
    }
    /// Labels indexed by class id.
    pub fn labels(&self) -> &[String] {
        &self.model.labels
    }

    /// The input tensor for `frame`, as the model takes it, copied out:
    /// what [`run_tensor`](Self::run_tensor) takes.
    pub fn tensor_for(&mut self, frame: &Mat) -> Result<InputTensor, ModelError> {
        self.preprocess(frame)?;
        Ok(self.tensor.clone())
    }

    /// The model alone on an already pre-processed tensor; the output is
    /// dropped (the benchmark's raw ONNX Runtime figure).
    pub fn run_tensor(&mut self, tensor: &InputTensor) -> Result<(), ModelError> {
        drop(self.model.run(tensor)?);
        Ok(())
    }

    /// Fit `frame` (BGR, 8-bit, 3 channels) into the input tensor.
    fn preprocess(&mut self, frame: &Mat) -> Result<Letterbox, ModelError> {
        let (w, h) = (frame.cols() as u32, frame.rows() as u32);
        let lb = match self.letterbox {
            Some(lb) if lb.src_w == w && lb.src_h == h => lb,
            _ => {
                let lb = self.model.spec.input.geometry(w, h);
                self.packer.fill_grey(&mut self.tensor);
                self.letterbox = Some(lb);
                lb
            }
        };
        // Resized row by row into the tensor (layouts/resize.rs), the same
        // bytes as OpenCV's resize below, which stays for other frames.
        if frame.typ() == opencv::core::CV_8UC3 && frame.is_continuous() {
            let img = Image {
                data: frame.data_bytes()?,
                width: w as usize,
                height: h as usize,
                stride: w as usize * 3,
            };
            if self.packer.resize_pack(&img, &lb, &mut self.tensor) {
                return Ok(lb);
            }
        }
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
        self.packer.pack(bytes, stride, &lb, &mut self.tensor);
        Ok(lb)
    }

    /// Detect objects in one BGR frame; boxes in frame pixels, best first,
    /// after NMS where the layout needs it.
    pub fn detect(
        &mut self,
        frame: &Mat,
        timings: &mut DetectTimings,
    ) -> Result<Vec<Detection>, ModelError> {
        let t0 = std::time::Instant::now();
        let lb = self.preprocess(frame)?;
        let t1 = std::time::Instant::now();
        let model = &*self.model;
        let spec = &model.spec;
        let outputs = model.run(&self.tensor)?;
        let t2 = std::time::Instant::now();
        let data = output_data(spec, &outputs)?;
        let params = model.decode_params();
        let dets = crate::layouts::decode(&spec.layout, &data, &params, &lb, &mut self.scratch)?;
        let t3 = std::time::Instant::now();
        timings.preprocess += (t1 - t0).as_secs_f64();
        timings.inference += (t2 - t1).as_secs_f64();
        timings.postprocess += (t3 - t2).as_secs_f64();
        Ok(dets)
    }

    /// Whether the model's batch dimension is dynamic (it takes
    /// [`detect_batch`](Self::detect_batch)).
    pub fn dynamic_batch(&self) -> bool {
        self.model.spec.input.dynamic_batch
    }

    /// Detect objects in several frames in one session run (a model whose
    /// batch dimension is dynamic): per frame, what [`detect`](Self::detect)
    /// gives. `timings[i]`: frame i's; the run's time is shared evenly.
    pub fn detect_batch(
        &mut self,
        frames: &[&Mat],
        batch: &mut BatchTensor,
        timings: &mut [DetectTimings],
    ) -> Result<Vec<Vec<Detection>>, ModelError> {
        let n = frames.len();
        batch.start(n, &self.tensor);
        let mut boxes = Vec::with_capacity(n);
        for (i, (frame, t)) in frames.iter().zip(timings.iter_mut()).enumerate() {
            let t0 = std::time::Instant::now();
            boxes.push(self.preprocess(frame)?);
            batch.put(i, &self.tensor);
            t.preprocess += t0.elapsed().as_secs_f64();
        }
        let tensor = batch
            .tensor()
            .ok_or_else(|| ModelError::Run("empty batch".into()))?;
        let model = &*self.model;
        let spec = &model.spec;
        let t1 = std::time::Instant::now();
        let outputs = model.run_shaped(spec.input.batch_shape(n), tensor)?;
        let share = t1.elapsed().as_secs_f64() / n.max(1) as f64;
        let per_output = output_data(spec, &outputs)?
            .into_iter()
            .map(|(shape, values)| split_output(shape, values, n))
            .collect::<Result<Vec<_>, _>>()?;
        let params = model.decode_params();
        let mut found = Vec::with_capacity(n);
        for (i, (lb, t)) in boxes.iter().zip(timings.iter_mut()).enumerate() {
            let t2 = std::time::Instant::now();
            let data: Vec<OutputView> = per_output.iter().map(|o| (&o[i].0[..], o[i].1)).collect();
            let layout = &spec.layout;
            found.push(crate::layouts::decode(
                layout,
                &data,
                &params,
                lb,
                &mut self.scratch,
            )?);
            t.inference += share;
            t.postprocess += t2.elapsed().as_secs_f64();
        }
        Ok(found)
    }
}

/// Milliseconds, to 0.1.
fn ms(d: std::time::Duration) -> f64 {
    (d.as_secs_f64() * 1e4).round() / 10.0
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
    // OpenVINO takes the whole graph and optimises it itself; ONNX Runtime's
    // extended and layout passes (levels 2 and 3) only rewrite nodes its CPU
    // provider runs, and cost the OpenVINO session's start ~10-15 ms (README,
    // "Against the course's loop"). The basic passes (constant folding,
    // redundant nodes) still run, for whatever OpenVINO leaves to the CPU.
    let level = match provider {
        Provider::Cpu => GraphOptimizationLevel::Level3,
        Provider::OpenVino => GraphOptimizationLevel::Level1,
    };
    let b = b.with_optimization_level(level).map_err(text)?;
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
                settings.requests.max(1),
            )])
            .map_err(text)
        }
    }
}

/// A session of `settings.model`, folded (`model_fold`) unless the
/// settings say not to or nothing folds; a folded model that does not load
/// is loaded as it is; with what was folded.
fn open_model(
    env: &ort::environment::Environment,
    settings: &DetectorSettings,
) -> Result<(Session, Provider, Fold), ModelError> {
    if settings.fold {
        let t0 = std::time::Instant::now();
        let folded = crate::model_fold::fold_file(&settings.model.path, settings.model.layout);
        match folded {
            Ok(f) => {
                tracing::debug!(fold = ?f.fold, fold_ms = ms(t0.elapsed()), "model folded");
                match open_session(env, settings, Source::Memory(&f.bytes)) {
                    Ok((s, p)) => return Ok((s, p, f.fold)),
                    Err(e) => {
                        tracing::debug!(error = %e, "the folded model does not load; loading it as it is")
                    }
                }
            }
            Err(reason) => tracing::debug!(%reason, "nothing folded into the model"),
        }
    }
    let (s, p) = open_session(env, settings, Source::File)?;
    Ok((s, p, Fold::default()))
}

/// Where a session's model comes from: its file, or edited bytes.
#[derive(Clone, Copy)]
enum Source<'a> {
    File,
    Memory(&'a [u8]),
}

/// A session of `settings.model` on the chosen provider; with `auto`, a
/// provider that fails falls back to the CPU one, saying so.
fn open_session(
    env: &ort::environment::Environment,
    settings: &DetectorSettings,
    source: Source,
) -> Result<(Session, Provider), ModelError> {
    let path = &settings.model.path;
    let provider = settings.ep.provider;
    // A model may name the providers it runs on (OpenVINO crashes on some
    // converted graphs): another is refused before it is tried.
    let runs_on = match provider {
        Provider::Cpu => None,
        _ => crate::model_meta::providers_of_file(path),
    };
    let attempt = |provider: Provider| -> Result<Session, String> {
        if let Some(list) = runs_on
            .as_ref()
            .filter(|l| !l.iter().any(|p| *p == provider.to_string()))
        {
            return Err(format!(
                "the model's metadata edgepipe.providers names only {}",
                list.join(", ")
            ));
        }
        if provider == Provider::OpenVino {
            let lib = ep::openvino_lib(&settings.ort_lib);
            if !lib.is_file() {
                return Err(format!("{} does not exist (scripts/setup.sh installs it from the onnxruntime-openvino wheel)", lib.display()));
            }
        }
        let opened = builder_for(env, settings, provider).and_then(|mut b| {
            match source {
                Source::File => b.commit_from_file(path),
                Source::Memory(bytes) => b.commit_from_memory(bytes),
            }
            .map_err(|e| e.to_string())
        });
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

/// The most labels a model's `names` metadata may give a model whose
/// outputs do not fix its class count (metadata never decides allocation).
const MAX_LABELS: usize = 10_000;

/// Labels from a labels file (one per line) when given, else the model's
/// `names` metadata, else the repository's COCO list when the class count
/// matches (or the outputs fix none), else `classN`. `classes`: the count
/// the model's outputs fix, if they do.
fn load_labels(
    session: &Session,
    file: Option<&Path>,
    classes: Option<usize>,
) -> Result<Vec<String>, ModelError> {
    let lines = |text: &str| -> Vec<String> {
        text.lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(String::from)
            .collect()
    };
    if let Some(path) = file {
        let text = std::fs::read_to_string(path).map_err(|e| ModelError::Labels {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        let labels = lines(&text);
        let too_few = match classes {
            Some(c) => labels.len() < c,
            None => labels.is_empty(),
        };
        if too_few {
            return Err(ModelError::Labels {
                path: path.to_path_buf(),
                reason: format!(
                    "{} labels for a model with {} classes",
                    labels.len(),
                    classes.unwrap_or(1)
                ),
            });
        }
        return Ok(labels);
    }
    if let Some(text) = session.metadata().ok().and_then(|m| m.custom("names")) {
        match detect::parse_names(&text, classes.unwrap_or(MAX_LABELS)) {
            Some(names) if classes.is_none_or(|c| names.len() == c) => return Ok(names),
            _ => tracing::warn!(
                ?classes,
                "the model's `names` metadata does not name its classes; using other labels"
            ),
        }
    }
    // The repository's COCO list, for 80-class models exported without metadata.
    let coco = crate::config::default_asset(crate::config::DEFAULT_LABELS);
    if let Ok(text) = std::fs::read_to_string(&coco) {
        let labels = lines(&text);
        if classes.is_none_or(|c| labels.len() == c) {
            return Ok(labels);
        }
    }
    let classes = classes.unwrap_or(0);
    Ok((0..classes).map(|i| format!("class{i}")).collect())
}
