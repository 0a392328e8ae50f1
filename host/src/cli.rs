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
    Run(RunArgs),
    /// Measure raw ONNX Runtime against the full pipeline on the same clip
    /// and model; prints a report on stdout (no frames go to stdout).
    Bench(BenchArgs),
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
    /// ONNX Runtime intra-op threads of each session (0: cores / sessions).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Inference sessions working on consecutive frames, order kept (0: 2 for a file on 2+ cores or cores / --threads, 1 for a live source).
    #[arg(long)]
    pub sessions: Option<usize>,
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
            sessions: self.sessions,
            mqtt_url: self.mqtt_url.clone(),
            no_mqtt: self.no_mqtt,
            client_id: self.mqtt_client_id.clone(),
            keepalive_secs: self.mqtt_keepalive,
            broker_port: self.broker_port,
            stdout,
            record: self.record.clone(),
            plugin_dir: self.plugin_dir.clone(),
        };
        config::resolve(file, &o).or_exit(ExitKind::Config)
    }
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Video file to measure on.
    #[arg(long, short = 'i')]
    pub input: Option<String>,
    /// Frames through the full pipeline.
    #[arg(long, default_value_t = 300)]
    pub frames: u64,
    /// Read the clip again from the start at its end (needed when --frames exceeds its length).
    #[arg(long = "loop")]
    pub loop_input: bool,
    /// Model runs per raw ONNX Runtime setting.
    #[arg(long, default_value_t = 40)]
    pub raw_runs: u64,
    /// Inference sessions of the pipeline (default: as `run` would choose).
    #[arg(long)]
    pub sessions: Option<usize>,
    /// Intra-op threads per session of the pipeline (default: as `run` would choose).
    #[arg(long)]
    pub threads: Option<usize>,
    /// MQTT broker to publish to (default: the embedded broker on a free loopback port).
    #[arg(long, env = "EDGEPIPE_MQTT_URL")]
    pub mqtt_url: Option<String>,
    /// ONNX model (YOLOv8-family output).
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// ONNX Runtime shared library (libonnxruntime.so).
    #[arg(long, env = "ORT_DYLIB_PATH")]
    pub ort_lib: Option<PathBuf>,
    /// Folder of stage components (<name>.wasm).
    #[arg(long, env = "EDGEPIPE_PLUGIN_DIR")]
    pub plugin_dir: Option<PathBuf>,
}
