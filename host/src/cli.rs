//! Command-line interface (clap derive); flags override the pipeline file.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::config::{self, FileConfig, Overrides, Settings};
use crate::error::{ExitKind, Failure, OrExit};

#[derive(Debug, Parser)]
#[command(name = "edgepipe", version, about = "Edge video analytics: capture -> ONNX detection -> WebAssembly stages -> MQTT + stdout")]
pub struct Cli {
    /// Log filter for stderr (e.g. `info`, `debug`, `edgepipe=debug`).
    #[arg(long, global = true, env = "EDGEPIPE_LOG", default_value = "info")]
    pub log: String,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a pipeline (the embedded default one unless --config is given).
    Run(Box<RunArgs>),
    /// Tools for plugin authors and their CI.
    #[command(subcommand)]
    Plugin(PluginCommand),
}

#[derive(Debug, Subcommand)]
pub enum PluginCommand {
    /// Which world and contract version a component implements, its imports
    /// and exports, and whether this host can load it (exit 0 yes, 1 no).
    Check {
        /// The component (.wasm).
        file: PathBuf,
    },
    /// Run a stage over frames recorded with `edgepipe run --record`, print
    /// its outputs as JSON lines; with --expect exit 1 on the first difference.
    Test(PluginTestArgs),
    /// Measure stage start-up (cold vs cached), per-frame cost of the default
    /// stages, and hot-reload latency; prints a report on stdout.
    Bench(PluginBenchArgs),
}

#[derive(Debug, Args)]
pub struct PluginBenchArgs {
    /// Folder with the default stages (<name>.wasm); default target/plugins.
    #[arg(long)]
    pub plugin_dir: Option<PathBuf>,
    /// Recorded detections (default tests/data/vtest-100.jsonl).
    #[arg(long)]
    pub record: Option<PathBuf>,
    /// The video they were recorded from (default vendor/data/vtest.avi).
    #[arg(long)]
    pub video: Option<PathBuf>,
    /// How many hot reloads to time.
    #[arg(long, default_value_t = 20)]
    pub reloads: usize,
    /// Start-up rounds.
    #[arg(long, default_value_t = 5)]
    pub rounds: usize,
}

#[derive(Debug, Args)]
pub struct PluginTestArgs {
    /// The component (.wasm).
    pub file: PathBuf,
    /// Recorded frames (JSON lines from `edgepipe run --record`; for a topics
    /// stage, lines may carry the `stats` a stats stage's test printed).
    #[arg(long)]
    pub input: PathBuf,
    /// Golden output to compare with (JSON lines, compared as JSON values).
    #[arg(long, value_name = "GOLDEN.jsonl")]
    pub expect: Option<PathBuf>,
    /// For draw stages: the video the frames were recorded from (default: a grey frame).
    #[arg(long)]
    pub video: Option<PathBuf>,
    /// For topics stages: a stats stage that turns the recorded detections into stats.
    #[arg(long, value_name = "STATS.wasm")]
    pub stats_plugin: Option<PathBuf>,
    /// A stage setting, KEY=VALUE (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub settings: Vec<String>,
    /// Write the outputs here instead of stdout.
    #[arg(long, short = 'o')]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Pipeline file (TOML); flags override it.
    #[arg(long, short = 'c')]
    pub config: Option<PathBuf>,
    /// Pipeline name; status topics live under `edgepipe/<NAME>/` (default `default`).
    #[arg(long)]
    pub name: Option<String>,
    /// Video file, camera index (`0`), image file, or rtsp:// / http:// URL.
    #[arg(long, short = 'i')]
    pub input: Option<String>,
    /// Stop after this many frames.
    #[arg(long)]
    pub max_frames: Option<u64>,
    /// ONNX model (YOLOv8-family output).
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Labels file, one per line (used when the model has no `names` metadata).
    #[arg(long)]
    pub labels: Option<PathBuf>,
    /// ONNX Runtime shared library (libonnxruntime.so).
    #[arg(long, env = "ORT_DYLIB_PATH")]
    pub ort_lib: Option<PathBuf>,
    /// Minimum class score of a detection.
    #[arg(long)]
    pub confidence: Option<f32>,
    /// IoU above which NMS suppresses a box of the same class.
    #[arg(long)]
    pub iou: Option<f32>,
    /// ONNX Runtime intra-op threads (0: one per core).
    #[arg(long)]
    pub threads: Option<usize>,
    /// MQTT broker (mqtt://host:port); without it an embedded broker is started.
    #[arg(long, env = "EDGEPIPE_MQTT_URL")]
    pub mqtt_url: Option<String>,
    /// Do not publish anything (no broker, no connection).
    #[arg(long, conflicts_with = "mqtt_url")]
    pub no_mqtt: bool,
    /// MQTT client id (default: edgepipe-<pid>).
    #[arg(long)]
    pub mqtt_client_id: Option<String>,
    /// MQTT keepalive in seconds (default 60).
    #[arg(long)]
    pub mqtt_keepalive: Option<u64>,
    /// Port of the embedded broker (default 1883, loopback).
    #[arg(long)]
    pub broker_port: Option<u16>,
    /// Write raw BGR24 frames to stdout.
    #[arg(long)]
    pub stdout: bool,
    /// Output of annotated frames: only `-` (stdout) is supported.
    #[arg(short = 'o', long = "output", value_name = "-")]
    pub output: Option<String>,
    /// Write what the detector saw, one JSON line per frame.
    #[arg(long, value_name = "FILE.jsonl")]
    pub record: Option<PathBuf>,
    /// Folder of stage components (<name>.wasm).
    #[arg(long, env = "EDGEPIPE_PLUGIN_DIR")]
    pub plugin_dir: Option<PathBuf>,
    /// Do not watch stage files for new versions (hot reload is on by default).
    #[arg(long)]
    pub no_reload: bool,
    /// Folder for compiled components (default ~/.cache/edgepipe/components).
    #[arg(long, value_name = "DIR", env = "EDGEPIPE_CACHE_DIR")]
    pub plugin_cache: Option<PathBuf>,
    /// Compile stages every start; keep nothing on disk.
    #[arg(long, conflicts_with = "plugin_cache")]
    pub no_plugin_cache: bool,
    /// Wall-clock budget of one call into a stage, in ms (default 50).
    #[arg(long, value_name = "MS")]
    pub plugin_timeout_ms: Option<u64>,
    /// Memory cap of one stage, in MiB (default 64).
    #[arg(long, value_name = "MIB")]
    pub plugin_memory_mb: Option<usize>,
}

impl RunArgs {
    /// Resolve the file and the flags into settings.
    pub fn settings(&self) -> Result<Settings, Failure> {
        let stdout = match self.output.as_deref() {
            None => self.stdout,
            Some("-") => true,
            Some(other) => {
                return Err(Failure::msg(ExitKind::Config, format!("--output {other:?}: only `-` (stdout) is supported")))
            }
        };
        let file = match &self.config {
            Some(p) => Some(FileConfig::load(p).or_exit(ExitKind::Config)?),
            None => None,
        };
        let o = Overrides {
            name: self.name.clone(),
            input: self.input.clone(),
            max_frames: self.max_frames,
            model: self.model.clone(),
            labels: self.labels.clone(),
            ort_lib: self.ort_lib.clone(),
            confidence: self.confidence,
            iou: self.iou,
            threads: self.threads,
            mqtt_url: self.mqtt_url.clone(),
            no_mqtt: self.no_mqtt,
            client_id: self.mqtt_client_id.clone(),
            keepalive_secs: self.mqtt_keepalive,
            broker_port: self.broker_port,
            stdout,
            record: self.record.clone(),
            plugin_dir: self.plugin_dir.clone(),
            no_reload: self.no_reload,
            plugin_cache: self.plugin_cache.clone(),
            no_plugin_cache: self.no_plugin_cache,
            plugin_timeout_ms: self.plugin_timeout_ms,
            plugin_memory_mb: self.plugin_memory_mb,
        };
        config::resolve(file, &o).or_exit(ExitKind::Config)
    }
}
