//! Command-line interface (clap derive); flags override the pipeline file.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::config::{self, FileConfig, MqttOverrides, Overrides, Settings};
use crate::error::{ExitKind, Failure, OrExit};

#[derive(Debug, Parser)]
#[command(
    name = "edgepipe",
    version,
    about = "Edge video analytics: capture -> ONNX detection -> WebAssembly stages -> MQTT + stdout"
)]
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
    /// Measure raw ONNX Runtime against the full pipeline on the same clip
    /// and model; prints a report on stdout (no frames go to stdout).
    Bench(BenchArgs),
    /// Tools for plugin authors and their CI.
    #[command(subcommand)]
    Plugin(PluginCommand),
    /// Tools for tenants and their CI.
    #[command(subcommand)]
    Tenants(TenantsCommand),
    /// Many boxes: who runs which stage versions (README, "Fleets").
    #[command(subcommand)]
    Fleet(FleetCommand),
    /// Score the tracks of a recorded run against a ground truth (MOTA, IDF1,
    /// ID switches, identities, count error); prints a report on stdout.
    Eval(crate::commands::eval::EvalArgs),
    /// Measure MQTT publishing: messages per second and publish -> PUBACK latency.
    #[command(hide = true)]
    BenchMqtt(BenchMqttArgs),
}

#[derive(Debug, Subcommand)]
pub enum FleetCommand {
    /// Print a table of boxes, chains, stages and digests from the boxes'
    /// retained status on the broker.
    Status(crate::commands::fleet::FleetStatusArgs),
}

#[derive(Debug, Subcommand)]
pub enum TenantsCommand {
    /// Check every tenant file of a folder and its plugins, offline: one line
    /// per tenant on stdout; exit 0 when all pass, 1 otherwise.
    Check {
        /// The tenants folder (`<id>.toml` files).
        dir: PathBuf,
        /// The pipeline file whose `[tenants]` maxima and plugin folder apply.
        #[arg(long, short = 'c')]
        config: Option<PathBuf>,
        /// Folder of stage components (<name>.wasm).
        #[arg(long, env = "EDGEPIPE_PLUGIN_DIR")]
        plugin_dir: Option<PathBuf>,
    },
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
    /// Make a plugin folder NAME/ (Rust, Python or JavaScript) that `plugin build` builds offline.
    New(PluginNewArgs),
    /// Build a plugin folder (its plugin.toml names language and world) into DIR/<name>.wasm.
    Build {
        /// The plugin folder.
        dir: PathBuf,
    },
    /// Push a component to an OCI registry as a Wasm OCI artifact (README, "Fleets").
    Push(crate::commands::plugin_oci::PushArgs),
    /// Pull a component from an OCI registry (checked: layout, size, digests).
    Pull(crate::commands::plugin_oci::PullArgs),
    /// Make an Ed25519 key pair: KEY (secret) and KEY.pub.
    Keygen {
        /// The secret key file to write (KEY.pub gets the public key).
        key: PathBuf,
    },
    /// Sign a component (the signature is embedded, wasmsign2 format).
    Sign {
        /// The component (.wasm).
        file: PathBuf,
        /// The secret key (from `plugin keygen`).
        #[arg(long)]
        key: PathBuf,
        /// Write the signed component here instead of in place.
        #[arg(long, short = 'o')]
        output: Option<PathBuf>,
    },
    /// Check a component's signature (exit 0 signed by the key, 1 not).
    Verify {
        /// The component (.wasm).
        file: PathBuf,
        /// The public key (KEY.pub).
        #[arg(long)]
        key: PathBuf,
    },
}

#[derive(Debug, Args)]
pub struct PluginNewArgs {
    /// The plugin's name: lowercase letters, digits and `-` (e.g. car-counter).
    pub name: String,
    /// Its language.
    #[arg(long, value_parser = ["rust", "python", "js"])]
    pub lang: String,
    /// The world it implements (`overlay`: a draw stage that returns shapes
    /// for the host to paint; `draw`: one that returns the frame's pixels).
    #[arg(long, value_parser = ["stats", "topics", "draw", "overlay"])]
    pub world: String,
    /// Where to make the folder NAME/ (default: the current folder).
    #[arg(long, default_value = ".")]
    pub dir: PathBuf,
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
    /// Bench this stage (any language) beside the Rust default of its world instead (repeatable).
    #[arg(long, value_name = "FILE.wasm")]
    pub stage: Vec<PathBuf>,
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
    /// Model: a name (yolov12n, nanodet, ssdlite-person) or an ONNX file.
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Output layout of the model (yolov8, yolov5, end2end, tfod); default:
    /// recognised from the model.
    #[arg(long)]
    pub layout: Option<String>,
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
    /// Inference sessions (compiled copies of the model), order kept (0: 1).
    #[arg(long)]
    pub sessions: Option<usize>,
    /// Runs in flight at once on each session, one worker thread each, on consecutive frames (0: with --sessions unset, 2 for a file on 2+ cores or cores / --threads, 1 for a live source; with --sessions set, 1).
    #[arg(long)]
    pub requests: Option<usize>,
    /// Execution provider: cpu, openvino, or auto (the fastest installed: openvino when its library lies beside libonnxruntime.so, else cpu).
    #[arg(long)]
    pub ep: Option<String>,
    /// Execution provider option KEY=VALUE (repeatable), e.g. device_type=GPU.
    #[arg(long = "ep-option", value_name = "KEY=VALUE")]
    pub ep_option: Vec<String>,
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
    /// A live source that fails is opened again (back-off 0.5 s doubling to
    /// 10 s) for this many seconds without a frame; default forever, 0 never.
    #[arg(long, value_name = "SECS")]
    pub source_retry_secs: Option<u64>,
    /// Parent folder of stage state kept across restarts
    /// (default ~/.local/state/edgepipe; the pipeline's own folder goes inside).
    #[arg(long, value_name = "DIR", env = "EDGEPIPE_STATE_DIR")]
    pub state_dir: Option<PathBuf>,
    /// Start the stages empty instead of restoring their saved state.
    #[arg(long)]
    pub fresh_state: bool,
    /// A file input continues where the last run on it stopped (its saved
    /// stage state and frame); without it a file starts empty.
    #[arg(long, conflicts_with = "fresh_state")]
    pub resume: bool,
    /// Name of the camera --input reads (default `default`): a-z, 0-9, '-'.
    #[arg(long, value_name = "NAME")]
    pub camera_name: Option<String>,
    /// A camera of this process, NAME=INPUT (repeatable; instead of --input):
    /// all share the model; each publishes under `NAME/` when there are several.
    #[arg(long = "camera", value_name = "NAME=INPUT", conflicts_with_all = ["input", "camera_name"])]
    pub cameras: Vec<String>,
    /// Cameras folder: each `<name>.toml` is a camera (the keys of a
    /// `[[cameras]]` entry); files added, edited or removed while running
    /// add, restart or stop that camera alone.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["input", "camera_name"])]
    pub cameras_dir: Option<PathBuf>,
    /// At most this many frames a second per camera go to the model; the
    /// others are shown and counted with the last detections.
    #[arg(long, value_name = "FPS")]
    pub detect_fps: Option<f64>,
    /// Tenants folder: each `<id>.toml` is a tenant with its own chain of
    /// stages; files added, edited or removed while running take effect.
    #[arg(long, value_name = "DIR")]
    pub tenants: Option<PathBuf>,
    /// Fail (exit 6) when the broker cannot be reached at start, instead of queueing.
    #[arg(long)]
    pub mqtt_required: bool,
    /// MQTT protocol version: 3.1.1 (default) or 5.
    #[arg(long, value_name = "3.1.1|5")]
    pub mqtt_version: Option<String>,
    /// Default QoS of published messages (0, 1, 2; default 1), given to topics stages.
    #[arg(long)]
    pub mqtt_qos: Option<u8>,
    #[command(flatten)]
    pub mqtt_login: crate::commands::mqtt_login::MqttLoginArgs,
    /// Most messages queued while the broker is away (default 20000).
    #[arg(long)]
    pub mqtt_queue_messages: Option<usize>,
    /// Most bytes (topic + payload) queued while the broker is away (default 16 MiB).
    #[arg(long)]
    pub mqtt_queue_bytes: Option<usize>,
    /// What a full queue drops: drop-oldest (default) or drop-newest.
    #[arg(long, value_name = "drop-oldest|drop-newest")]
    pub mqtt_when_full: Option<String>,
    /// Publish this topic retained, so late subscribers see its last value (repeatable).
    #[arg(long, value_name = "TOPIC")]
    pub mqtt_retain_last: Vec<String>,
    /// WebSocket port of the embedded broker, for browser MQTT clients.
    #[arg(long)]
    pub broker_ws_port: Option<u16>,
    /// Serve the live view here (default 127.0.0.1:8080; a port taken is then an error).
    #[arg(long, value_name = "ADDR")]
    pub http: Option<String>,
    /// No live view.
    #[arg(long, env = "EDGEPIPE_NO_HTTP", conflicts_with = "http")]
    pub no_http: bool,
    /// Environment variable holding the live view's token (required off loopback).
    #[arg(long, value_name = "VAR", conflicts_with = "http_token_file")]
    pub http_token_env: Option<String>,
    /// File whose first line is the live view's token.
    #[arg(long, value_name = "FILE")]
    pub http_token_file: Option<PathBuf>,
}

/// `edgepipe bench-mqtt`.
#[derive(Debug, Args)]
pub struct BenchMqttArgs {
    /// Broker to publish to (mqtt://host:port).
    #[arg(long)]
    pub url: String,
    /// How many messages.
    #[arg(long, default_value_t = 20_000)]
    pub messages: u64,
    /// QoS of every message.
    #[arg(long, default_value_t = 1)]
    pub qos: u8,
    /// Payload size in bytes.
    #[arg(long, default_value_t = 32)]
    pub payload: usize,
    /// Messages per second (0: as fast as possible).
    #[arg(long, default_value_t = 0.0)]
    pub rate: f64,
}

impl BenchMqttArgs {
    /// Run the measurement and print it on stdout (no frames in this command).
    pub fn run(&self) -> Result<(), Failure> {
        use crate::mqtt::{bench, Qos};
        let qos = Qos::from_level(self.qos).ok_or_else(|| {
            Failure::msg(
                ExitKind::Config,
                format!("--qos {}: not 0, 1 or 2", self.qos),
            )
        })?;
        let spec = bench::BenchSpec {
            url: self.url.clone(),
            qos,
            messages: self.messages,
            payload_bytes: self.payload,
            rate: (self.rate > 0.0).then_some(self.rate),
        };
        let r = bench::run(&spec).or_exit(ExitKind::Mqtt)?;
        let ms = |us: Option<u64>| {
            us.map(|u| format!("{:.2} ms", u as f64 / 1000.0))
                .unwrap_or_else(|| "n/a".into())
        };
        println!(
            "bench-mqtt: qos {} {} messages of {} B{}: {:.2} s, {:.0} msg/s; publish->ack p50 {}, p99 {}; dropped {}, unacknowledged {}",
            self.qos,
            self.messages,
            self.payload,
            if self.rate > 0.0 { format!(" at {} msg/s", self.rate) } else { String::new() },
            r.elapsed.as_secs_f64(),
            r.per_second(qos),
            ms(r.report.latency_p50_us),
            ms(r.report.latency_p99_us),
            r.report.dropped,
            r.report.unacknowledged()
        );
        Ok(())
    }
}

impl RunArgs {
    /// Resolve the file and the flags into settings.
    pub fn settings(&self) -> Result<Settings, Failure> {
        let stdout = match self.output.as_deref() {
            None => self.stdout,
            Some("-") => true,
            Some(other) => {
                return Err(Failure::msg(
                    ExitKind::Config,
                    format!("--output {other:?}: only `-` (stdout) is supported"),
                ))
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
            layout: self.layout.clone(),
            labels: self.labels.clone(),
            ort_lib: self.ort_lib.clone(),
            confidence: self.confidence,
            iou: self.iou,
            threads: self.threads,
            sessions: self.sessions,
            requests: self.requests,
            ep: self.ep.clone(),
            ep_options: self.ep_option.clone(),
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
            source_retry_secs: self.source_retry_secs,
            state_dir: self.state_dir.clone(),
            fresh_state: self.fresh_state,
            resume: self.resume,
            camera_name: self.camera_name.clone(),
            cameras: self.cameras.clone(),
            cameras_dir: self.cameras_dir.clone(),
            detect_fps: self.detect_fps,
            tenants_dir: self.tenants.clone(),
            mqtt: MqttOverrides {
                required: self.mqtt_required,
                version: self.mqtt_version.clone(),
                qos: self.mqtt_qos,
                ca_file: self.mqtt_login.mqtt_ca.clone(),
                client_cert: self.mqtt_login.mqtt_cert.clone(),
                client_key: self.mqtt_login.mqtt_key.clone(),
                username: self.mqtt_login.mqtt_username.clone(),
                password_env: self.mqtt_login.mqtt_password_env.clone(),
                password_file: self.mqtt_login.mqtt_password_file.clone(),
                queue_messages: self.mqtt_queue_messages,
                queue_bytes: self.mqtt_queue_bytes,
                when_full: self.mqtt_when_full.clone(),
                retain_last: self.mqtt_retain_last.clone(),
                broker_ws_port: self.broker_ws_port,
            },
            http: Some(crate::config::HttpOverrides {
                listen: self.http.clone(),
                off: self.no_http,
                token_env: self.http_token_env.clone(),
                token_file: self.http_token_file.clone(),
            }),
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
    /// Runs in flight at once on each session of the pipeline (default: as `run` would choose).
    #[arg(long)]
    pub requests: Option<usize>,
    /// Intra-op threads per session of the pipeline (default: as `run` would choose).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Execution provider to measure (repeatable: cpu, openvino, auto); default: every one installed, `run`'s choice first.
    #[arg(long)]
    pub ep: Vec<String>,
    /// Option KEY=VALUE of the non-CPU providers measured (repeatable).
    #[arg(long = "ep-option", value_name = "KEY=VALUE")]
    pub ep_option: Vec<String>,
    /// MQTT broker to publish to (default: the embedded broker on a free loopback port).
    #[arg(long, env = "EDGEPIPE_MQTT_URL")]
    pub mqtt_url: Option<String>,
    /// Model: a name (yolov12n, nanodet, ssdlite-person) or an ONNX file.
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// ONNX Runtime shared library (libonnxruntime.so).
    #[arg(long, env = "ORT_DYLIB_PATH")]
    pub ort_lib: Option<PathBuf>,
    /// Folder of stage components (<name>.wasm).
    #[arg(long, env = "EDGEPIPE_PLUGIN_DIR")]
    pub plugin_dir: Option<PathBuf>,
    /// Instead: the cost of N tenants, each a copy of the default chain
    /// (runs without and with them, alternating).
    #[arg(long, value_name = "N")]
    pub tenants: Option<usize>,
    /// Instead: the cost of N viewers of the live view's MJPEG stream
    /// (runs without and with them, alternating), and the JPEG encode time.
    #[arg(long, value_name = "N", conflicts_with = "tenants")]
    pub viewers: Option<usize>,
    /// Instead: N cameras of the clip in one process against N processes of
    /// one camera each (alternating): aggregate and per-camera fps, peak memory.
    #[arg(long, value_name = "N", conflicts_with_all = ["tenants", "viewers"])]
    pub cameras: Option<usize>,
    /// With --cameras: each camera's detect_fps (frames inferred vs shown).
    #[arg(long, value_name = "FPS", requires = "cameras")]
    pub detect_fps: Option<f64>,
    /// Instead: run the pipeline this long (90s, 30m, 2h; the file looped)
    /// and print, every --soak-every, resident memory, open descriptors,
    /// threads, p50/p99 frame latency and MQTT queue depth, then their
    /// slopes per hour after a warm-up.
    #[arg(long, value_name = "DURATION", value_parser = crate::commands::bench_soak::parse_duration, conflicts_with_all = ["tenants", "viewers"])]
    pub soak: Option<std::time::Duration>,
    /// How often the soak benchmark takes a sample.
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = crate::commands::bench_soak::parse_duration)]
    pub soak_every: std::time::Duration,
}
