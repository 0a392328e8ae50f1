//! Execution providers: which ONNX Runtime provider runs the model (`--ep`),
//! its options (`--ep-option key=value`), how `auto` chooses, and how many
//! sessions each provider gets by default.
//!
//! One library serves both providers: the `onnxruntime-openvino` wheel's
//! `libonnxruntime.so` has the CPU provider built in and loads the OpenVINO
//! provider (`libonnxruntime_providers_openvino.so`, found through its
//! `$ORIGIN` run path) from the same folder. `auto` picks OpenVINO when that
//! file lies beside the library, because it measured fastest on this machine
//! kind (README, "Throughput"), else the CPU provider.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use thiserror::Error;

/// The OpenVINO provider's library, looked up beside `libonnxruntime.so`.
pub const OPENVINO_PROVIDER_LIB: &str = "libonnxruntime_providers_openvino.so";

/// OpenVINO's IR frontend (`libopenvino_ir_frontend.so.<version>`), looked
/// up beside `libopenvino.so`. OpenVINO 2025.4's CPU plugin imports a
/// compiled model (a `cache_dir` blob, an EPContext model) by parsing the
/// model description stored in it through this frontend; the
/// onnxruntime-openvino 1.24.1 wheel ships only the ONNX frontend, so there
/// every import fails ("Unable to read the model") and OpenVINO compiles
/// again. The `openvino` 2025.4.1 wheel's IR frontend does not load beside
/// the wheel's OpenVINO (built with the other C++ string ABI). README,
/// "Against the course's loop".
pub const OPENVINO_IR_FRONTEND: &str = "libopenvino_ir_frontend.so";

#[derive(Debug, Error, PartialEq)]
pub enum EpError {
    #[error("unknown execution provider {0:?} (expected cpu, openvino or auto)")]
    Unknown(String),
    #[error("execution provider option {0:?} is not key=value")]
    Option(String),
    #[error("the cpu execution provider takes no options (given: {0})")]
    CpuOptions(String),
}

/// What the settings ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EpChoice {
    #[default]
    Auto,
    Cpu,
    OpenVino,
}

impl FromStr for EpChoice {
    type Err = EpError;
    fn from_str(s: &str) -> Result<Self, EpError> {
        match s.to_ascii_lowercase().as_str() {
            "auto" => Ok(EpChoice::Auto),
            "cpu" => Ok(EpChoice::Cpu),
            "openvino" => Ok(EpChoice::OpenVino),
            _ => Err(EpError::Unknown(s.to_string())),
        }
    }
}

/// A provider that runs sessions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    Cpu,
    OpenVino,
}

/// Inference sessions working on consecutive frames of a file when not set
/// (capped at the number of cores). Measured on 2 cores with `edgepipe bench`:
/// see README.md, "Throughput". A live source defaults to one session, which
/// gives each frame all the threads and so the lowest latency.
pub const DEFAULT_FILE_SESSIONS: usize = 2;

impl Provider {
    pub const fn name(self) -> &'static str {
        match self {
            Provider::Cpu => "cpu",
            Provider::OpenVino => "openvino",
        }
    }

    /// Workers (runs in flight at once) for a run when none are set: 2 for
    /// a file (two single-thread runs beat one two-thread run on 2 cores,
    /// with either provider: README, "Throughput"), 1 for a live source
    /// (lowest latency).
    pub fn default_sessions(self, live: bool, cores: usize, threads_set: Option<usize>) -> usize {
        if live {
            1
        } else {
            (cores / threads_set.unwrap_or(1)).clamp(1, DEFAULT_FILE_SESSIONS.max(1))
        }
    }

    /// Sessions and requests on each when neither is set: the default
    /// workers as concurrent requests on one session (one compiled model:
    /// the memory and start of one session, the speed of several; README,
    /// "Throughput").
    pub fn default_split(
        self,
        live: bool,
        cores: usize,
        threads_set: Option<usize>,
    ) -> (usize, usize) {
        (1, self.default_sessions(live, cores, threads_set))
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The provider a run uses, resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct Ep {
    pub provider: Provider,
    /// Provider options, passed to ONNX Runtime as given.
    pub options: Vec<(String, String)>,
    /// Chosen by `auto`: a provider that fails to load falls back to the CPU one.
    pub auto: bool,
}

impl Ep {
    pub fn cpu() -> Ep {
        Ep {
            provider: Provider::Cpu,
            options: Vec::new(),
            auto: false,
        }
    }

    /// The provider's name and options, for logs: `openvino (device_type=GPU)`.
    pub fn describe(&self) -> String {
        let mut s = self.provider.name().to_string();
        if !self.options.is_empty() {
            let opts: Vec<String> = self
                .options
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            s.push_str(&format!(" ({})", opts.join(", ")));
        }
        if self.auto {
            s.push_str(", chosen by auto");
        }
        s
    }

    pub fn option(&self, key: &str) -> Option<&str> {
        self.options
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// `key=value` into its parts.
pub fn parse_option(s: &str) -> Result<(String, String), EpError> {
    match s.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.trim().to_string())),
        _ => Err(EpError::Option(s.to_string())),
    }
}

/// The OpenVINO provider's library for the ONNX Runtime library `ort_lib`.
pub fn openvino_lib(ort_lib: &Path) -> PathBuf {
    ort_lib
        .parent()
        .unwrap_or(Path::new("."))
        .join(OPENVINO_PROVIDER_LIB)
}

/// Whether the OpenVINO beside `ort_lib` can import a compiled model: its
/// IR frontend ([`OPENVINO_IR_FRONTEND`]) lies in the same folder.
pub fn openvino_can_import(ort_lib: &Path) -> bool {
    let dir = ort_lib.parent().unwrap_or(Path::new("."));
    std::fs::read_dir(dir).is_ok_and(|entries| {
        entries.flatten().any(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with(OPENVINO_IR_FRONTEND)
        })
    })
}

/// Warn once per process when `cache_dir` is given to an OpenVINO that
/// cannot import what it writes there: it would compile at every start all
/// the same, and rewrite the blob each time.
fn warn_unimportable_cache(options: &[(String, String)], ort_lib: &Path) {
    static WARNED: std::sync::Once = std::sync::Once::new();
    let cache = options.iter().rev().find(|(k, _)| k == "cache_dir");
    if let Some((_, dir)) = cache.filter(|(_, v)| !v.is_empty()) {
        if !openvino_can_import(ort_lib) {
            let lib_dir = ort_lib.parent().unwrap_or(Path::new(".")).display();
            WARNED.call_once(|| {
                tracing::warn!(cache_dir = %dir, "OpenVINO writes its compiled model to cache_dir but cannot import it with this ONNX Runtime build (no {OPENVINO_IR_FRONTEND}* in {lib_dir}): the model is compiled at every start");
            });
        }
    }
}

/// Providers installed for `ort_lib`, fastest first.
pub fn installed(ort_lib: &Path) -> Vec<Provider> {
    let mut v = Vec::with_capacity(2);
    if openvino_lib(ort_lib).is_file() {
        v.push(Provider::OpenVino);
    }
    v.push(Provider::Cpu);
    v
}

/// Resolve `choice` for the library `ort_lib`. `auto` takes the first of
/// [`installed`]; options given with `auto` go to OpenVINO and are dropped
/// (with a warning) when the CPU provider is chosen.
pub fn resolve(
    choice: EpChoice,
    options: Vec<(String, String)>,
    ort_lib: &Path,
) -> Result<Ep, EpError> {
    let provider = match choice {
        EpChoice::Cpu => Provider::Cpu,
        EpChoice::OpenVino => Provider::OpenVino,
        EpChoice::Auto => installed(ort_lib)[0],
    };
    let auto = choice == EpChoice::Auto;
    if provider == Provider::Cpu && !options.is_empty() {
        let given: Vec<String> = options.iter().map(|(k, v)| format!("{k}={v}")).collect();
        if !auto {
            return Err(EpError::CpuOptions(given.join(", ")));
        }
        tracing::warn!(options = %given.join(", "), "execution provider auto chose cpu: its options are ignored");
        return Ok(Ep {
            provider,
            options: Vec::new(),
            auto,
        });
    }
    if provider == Provider::OpenVino {
        warn_unimportable_cache(&options, ort_lib);
    }
    Ok(Ep {
        provider,
        options,
        auto,
    })
}

/// OpenVINO's CPU device computes in bfloat16 where the processor has it
/// (AVX512-BF16, AMX; elsewhere OpenVINO keeps f32): about twice as fast as
/// f32 here, and its boxes still match the CPU provider's (tests/all/providers.rs).
/// No snippets (`SNIPPETS_MODE=DISABLE`: OpenVINO's JIT-generated kernels
/// for element-wise and attention subgraphs): the compile at every start
/// takes ~75-95 ms less CPU, for a throughput within 1% of theirs (README,
/// "Against the course's loop"). `--ep-option load_config=...` replaces it
/// (with `"SNIPPETS_MODE":"ENABLE"` for the snippets).
pub const OPENVINO_LOAD_CONFIG: &str = r#"{"CPU":{"INFERENCE_PRECISION_HINT":"bf16","ENABLE_CPU_PINNING":"NO","SNIPPETS_MODE":"DISABLE"}}"#;

/// The OpenVINO provider with `ep`'s options for `requests` runs in flight
/// at once of `threads` threads each: unless the options give them,
/// `num_of_threads` is `threads * requests` (OpenVINO's CPU threads for the
/// compiled model, and the size of the provider's pool of infer requests:
/// one per concurrent `Run`) and `num_streams` is `requests` (each request
/// runs in a stream of its own). No compiled-model cache by
/// default: with this wheel OpenVINO writes its blob (`cache_dir=DIR`) but
/// cannot import it at the next start ([`OPENVINO_IR_FRONTEND`]) and
/// compiles again, so a cache only costs an 11 MB write per start.
pub fn openvino(
    ep: &Ep,
    threads: Option<usize>,
    requests: usize,
) -> ort::ep::ExecutionProviderDispatch {
    use ort::ep::ArbitrarilyConfigurableExecutionProvider as _;
    let mut ov = ort::ep::OpenVINO::default();
    let requests = requests.max(1);
    if let (Some(t), None) = (threads, ep.option("num_of_threads")) {
        ov = ov.with_num_threads(t * requests);
    }
    if requests > 1 && ep.option("num_streams").is_none() {
        ov = ov.with_arbitrary_config("num_streams", requests.to_string());
    }
    if ep.option("load_config").is_none() {
        ov = ov.with_arbitrary_config("load_config", OPENVINO_LOAD_CONFIG);
    }
    for (k, v) in &ep.options {
        ov = ov.with_arbitrary_config(k, v);
    }
    ov.build().error_on_failure()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn choices_and_options_parse() {
        assert_eq!("OpenVINO".parse::<EpChoice>(), Ok(EpChoice::OpenVino));
        assert_eq!(
            "cuda".parse::<EpChoice>(),
            Err(EpError::Unknown("cuda".into()))
        );
        assert_eq!(
            parse_option("device_type = GPU"),
            Ok(("device_type".into(), "GPU".into()))
        );
        assert!(parse_option("device_type").is_err());
        assert!(parse_option("=GPU").is_err());
    }

    #[test]
    fn auto_picks_openvino_only_when_its_library_is_beside_ort() {
        let dir = std::env::temp_dir().join(format!("edgepipe-ep-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let lib = dir.join("libonnxruntime.so");
        let opts = vec![("device_type".to_string(), "CPU".to_string())];
        let ep = resolve(EpChoice::Auto, opts.clone(), &lib).unwrap();
        assert_eq!(
            (ep.provider, ep.options.len(), ep.auto),
            (Provider::Cpu, 0, true)
        );
        std::fs::write(dir.join(OPENVINO_PROVIDER_LIB), b"").unwrap();
        let ep = resolve(EpChoice::Auto, opts.clone(), &lib).unwrap();
        assert_eq!(
            (ep.provider, ep.options, ep.auto),
            (Provider::OpenVino, opts.clone(), true)
        );
        assert!(matches!(
            resolve(EpChoice::Cpu, opts, &lib),
            Err(EpError::CpuOptions(_))
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn openvino_imports_only_with_its_ir_frontend_beside_it() {
        let dir = std::env::temp_dir().join(format!("edgepipe-ep-ir-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let lib = dir.join("libonnxruntime.so");
        std::fs::write(dir.join("libopenvino_onnx_frontend.so.2541"), b"").unwrap();
        assert!(!openvino_can_import(&lib));
        std::fs::write(dir.join("libopenvino_ir_frontend.so.2541"), b"").unwrap();
        assert!(openvino_can_import(&lib));
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(!openvino_can_import(&dir.join("libonnxruntime.so")));
    }

    #[test]
    fn files_get_one_single_thread_session_per_core_up_to_two() {
        assert_eq!(Provider::OpenVino.default_sessions(false, 2, None), 2);
        assert_eq!(Provider::OpenVino.default_sessions(true, 2, None), 1);
        assert_eq!(Provider::Cpu.default_sessions(false, 2, None), 2);
        assert_eq!(Provider::Cpu.default_sessions(true, 2, None), 1);
        assert_eq!(Provider::Cpu.default_sessions(false, 2, Some(2)), 1);
        for p in [Provider::Cpu, Provider::OpenVino] {
            assert_eq!(
                p.default_split(false, 2, None),
                (1, 2),
                "{p}: one session, two requests"
            );
            assert_eq!(p.default_split(true, 2, None), (1, 1));
        }
    }
}
