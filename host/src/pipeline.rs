//! A run of the pipeline: capture -> detect -> stages (stats, topics, draw) ->
//! sinks (MQTT, stdout, record), the parts it is built from, and the summary
//! printed at the end. The threads live in `crate::engine`, which uses
//! this module (not the other way round).

use std::time::Duration;

use crate::config::{CameraSettings, MqttTarget, RuntimeSettings, StageSettings};
use crate::error::{ExitKind, Failure, OrExit};
use crate::mqtt::{PublishReport, Publisher};
use crate::plugin::{PluginHost, StageSet};
use crate::steady::{SteadyWindow, WARMUP_RUNS};

/// Why the loop stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    EndOfInput,
    MaxFrames,
    ReaderGone,
    /// A graceful stop, by this signal (or "stop request").
    Signal(&'static str),
}

/// What a run did; printed on stderr at the end.
#[derive(Debug, Clone)]
pub struct Summary {
    pub frames: u64,
    /// Frames that went to the model (fewer with `detect_fps`).
    pub inferred: u64,
    pub elapsed: Duration,
    pub stop: StopReason,
    /// (part, mean milliseconds per frame)
    pub stage_ms: Vec<(String, f64)>,
    /// (part, median milliseconds per frame over the last frames)
    pub stage_median_ms: Vec<(String, f64)>,
    pub mqtt: Option<PublishReport>,
    pub faults: Vec<(String, u64)>,
    /// Messages the host refused to publish, per stage.
    pub refusals: Vec<(String, u64)>,
    /// Shapes of `overlay` stages beyond a frame's bounds, not painted, per stage.
    pub shapes_refused: Vec<(String, u64)>,
    /// Per tenant: its numbers (one line) and its own connection's report.
    pub tenants: Vec<(String, Option<PublishReport>)>,
    pub frames_written: u64,
    /// Plugin versions swapped in while running, and reload attempts rejected.
    pub reloads: u64,
    pub rejected_reloads: u64,
    /// Frames a live source skipped because the pipeline was behind.
    pub dropped: u64,
    /// Inference sessions and intra-op threads of each.
    pub sessions: usize,
    pub threads: usize,
    /// (frames done, resident memory in KiB) at frame 100 and at the end.
    pub rss_kib: Vec<(u64, u64)>,
    /// A live source's (reconnects, seconds without frames); `None` for a file.
    pub source: Option<(u64, f64)>,
    /// The frames out after every inference worker's warm-up runs (as raw
    /// ONNX Runtime is measured in `edgepipe bench`); `None` when the run
    /// ended before (or this camera did not see every worker's warm-up).
    pub steady: Option<SteadyWindow>,
}

impl Summary {
    pub fn fps(&self) -> f64 {
        crate::steady::per_second(self.frames, self.elapsed)
    }
    pub fn total_faults(&self) -> u64 {
        self.faults.iter().map(|(_, n)| n).sum()
    }

    pub fn print(&self) {
        eprintln!(
            "edgepipe: summary: {} frames in {:.2} s ({:.2} fps), stopped: {}",
            self.frames,
            self.elapsed.as_secs_f64(),
            self.fps(),
            match self.stop {
                StopReason::EndOfInput => "end of input".to_string(),
                StopReason::MaxFrames => "max frames reached".to_string(),
                StopReason::ReaderGone => "stdout reader went away".to_string(),
                StopReason::Signal(by) => format!("{by} (graceful stop)"),
            }
        );
        if let Some(w) = &self.steady {
            eprintln!(
                "edgepipe: summary: steady state: {} frames in {:.2} s ({:.2} fps) after the first {} frames out (every worker's first {} session runs)",
                w.frames,
                w.elapsed.as_secs_f64(),
                w.fps(),
                w.skipped,
                WARMUP_RUNS
            );
        }
        if self.inferred != self.frames {
            eprintln!(
                "edgepipe: summary: frames inferred: {} of {} (detect_fps)",
                self.inferred, self.frames
            );
        }
        if let Some((reconnects, secs)) = self.source {
            eprintln!("edgepipe: summary: source reconnects: {reconnects}, seconds without frames: {secs:.1}");
        }
        eprintln!(
            "edgepipe: summary: mean ms per frame: {}",
            format_parts(&self.stage_ms)
        );
        eprintln!(
            "edgepipe: summary: median ms per frame: {}",
            format_parts(&self.stage_median_ms)
        );
        let rss: Vec<String> = self
            .rss_kib
            .iter()
            .map(|(f, k)| format!("{:.1} MiB at frame {f}", *k as f64 / 1024.0))
            .collect();
        eprintln!(
            "edgepipe: summary: {} worker(s) x {} thread(s); frames dropped: {}; resident memory: {}",
            self.sessions,
            self.threads,
            self.dropped,
            rss.join(", ")
        );
        if let Some(m) = &self.mqtt {
            eprintln!(
                "edgepipe: summary: MQTT messages published: {}, sent: {}, acknowledged: {}/{} (unacknowledged: {})",
                m.published,
                m.sent,
                m.acked,
                m.expected_acks,
                m.unacknowledged()
            );
            let ms = |us: Option<u64>| {
                us.map(|u| format!("{:.1} ms", u as f64 / 1000.0))
                    .unwrap_or_else(|| "n/a".into())
            };
            eprintln!(
                "edgepipe: summary: MQTT dropped (queue full): {}, rejected: {}, not sent: {}, re-sent: {}, reconnects: {}, publish->ack p50 {}, p99 {}",
                m.dropped,
                m.rejected,
                m.unsent,
                m.resent,
                m.reconnects,
                ms(m.latency_p50_us),
                ms(m.latency_p99_us)
            );
            let refused: Vec<String> = m
                .refused_by_stage
                .iter()
                .map(|(s, n)| format!("{s}: {n}"))
                .collect();
            if !refused.is_empty() {
                eprintln!("edgepipe: summary: MQTT messages refused (host topic, invalid topic or too large): {}", refused.join(", "));
            }
        } else {
            eprintln!("edgepipe: summary: MQTT off");
        }
        if self.frames_written > 0 {
            eprintln!(
                "edgepipe: summary: frames written to stdout: {}",
                self.frames_written
            );
        }
        let lists = [
            ("stage faults", &self.faults),
            (
                "messages refused (invalid, host or $ topics)",
                &self.refusals,
            ),
            (
                "shapes refused (beyond a frame's bounds, not painted)",
                &self.shapes_refused,
            ),
        ];
        for (what, per_stage) in lists {
            let counts: Vec<String> = per_stage
                .iter()
                .filter(|(_, n)| *n > 0)
                .map(|(s, n)| format!("{s}: {n}"))
                .collect();
            if !counts.is_empty() {
                eprintln!("edgepipe: summary: {what}: {}", counts.join(", "));
            }
        }
        for (line, mqtt) in &self.tenants {
            let m = mqtt
                .as_ref()
                .map(|m| {
                    format!(
                        "; own MQTT: published {}, acknowledged {}/{}, reconnects {}",
                        m.published, m.acked, m.expected_acks, m.reconnects
                    )
                })
                .unwrap_or_default();
            eprintln!("edgepipe: summary: {line}{m}");
        }
        if self.reloads + self.rejected_reloads > 0 {
            eprintln!(
                "edgepipe: summary: plugin reloads: {} applied, {} rejected (old version kept)",
                self.reloads, self.rejected_reloads
            );
        }
    }
}

/// Load a chain's `stages` (and watch their files when `reload` is on).
pub fn load_stages(
    host: &PluginHost,
    settings: &RuntimeSettings,
    stages: &[StageSettings],
) -> Result<StageSet, Failure> {
    let sources = settings
        .plugin_sources
        .load(settings.plugin_cache.as_deref())
        .or_exit(ExitKind::Config)?;
    host.set_sources(sources);
    let mut set = StageSet::load(host, stages).or_exit(ExitKind::Plugin)?;
    if settings.reload {
        set.watch(host).or_exit(ExitKind::Plugin)?;
    }
    Ok(set)
}

/// Where the run's publishers connect (`None`: MQTT off); the embedded
/// broker, when asked for, is started here, once for every camera.
pub(crate) fn broker_url(settings: &RuntimeSettings) -> Result<Option<String>, Failure> {
    let url = match &settings.mqtt {
        MqttTarget::Off => return Ok(None),
        MqttTarget::External(url) => url.clone(),
        MqttTarget::Embedded(addr) => {
            let broker = crate::broker::BrokerSettings {
                addr: *addr,
                v5: settings.delivery.version == crate::mqtt::MqttVersion::V5,
                ws: settings.delivery.broker_ws,
            };
            crate::broker::start(&broker).or_exit(ExitKind::Mqtt)?;
            eprintln!(
                "edgepipe: MQTT: embedded broker listening on {addr}; watch it with: mosquitto_sub -h {} -p {} -t '#' -v{}",
                addr.ip(),
                addr.port(),
                if broker.v5 { " -V mqttv5" } else { "" }
            );
            if let Some(ws) = broker.ws {
                eprintln!("edgepipe: MQTT: embedded broker WebSocket listener on ws://{ws}/ (subprotocol mqtt)");
            }
            // A wildcard bind is reached through loopback.
            let host = if addr.ip().is_unspecified() {
                std::net::SocketAddr::new([127, 0, 0, 1].into(), addr.port())
            } else {
                *addr
            };
            format!("mqtt://{host}")
        }
    };
    Ok(Some(url))
}

/// A camera's own connection to the broker at `url`.
pub(crate) fn connect(
    settings: &RuntimeSettings,
    camera: &CameraSettings,
    url: Option<&str>,
) -> Result<Option<Publisher>, Failure> {
    let Some(url) = url else { return Ok(None) };
    let publisher = Publisher::connect(&settings.mqtt_settings(camera, url.to_string()))
        .or_exit(ExitKind::Mqtt)?;
    Ok(Some(publisher))
}

/// "name 1.23, name 4.56"
pub fn format_parts(parts: &[(String, f64)]) -> String {
    parts
        .iter()
        .map(|(n, ms)| format!("{n} {ms:.2}"))
        .collect::<Vec<_>>()
        .join(", ")
}
