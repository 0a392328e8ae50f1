//! A run of the pipeline: capture -> detect -> stages (stats, topics, draw) ->
//! sinks (MQTT, stdout, record), the parts it is built from, and the summary
//! printed at the end. The threads live in [`crate::engine`].

use std::time::Duration;

use crate::config::{MqttTarget, Settings};
use crate::detect::Detection;
use crate::error::{ExitKind, Failure, OrExit};
use crate::model::Detector;
use crate::mqtt::{MqttSettings, PublishReport, Publisher};
use crate::plugin::bindings as wit;
use crate::plugin::{PluginHost, Stage};

/// Why the loop stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    EndOfInput,
    MaxFrames,
    ReaderGone,
}

/// What a run did; printed on stderr at the end.
#[derive(Debug, Clone)]
pub struct Summary {
    pub frames: u64,
    pub elapsed: Duration,
    pub stop: StopReason,
    /// (part, mean milliseconds per frame)
    pub stage_ms: Vec<(String, f64)>,
    /// (part, median milliseconds per frame over the last frames)
    pub stage_median_ms: Vec<(String, f64)>,
    pub mqtt: Option<PublishReport>,
    pub faults: Vec<(String, u64)>,
    pub frames_written: u64,
    /// Frames a live source skipped because the pipeline was behind.
    pub dropped: u64,
    /// Inference sessions and intra-op threads of each.
    pub sessions: usize,
    pub threads: usize,
    /// (frames done, resident memory in KiB) at frame 100 and at the end.
    pub rss_kib: Vec<(u64, u64)>,
}

impl Summary {
    pub fn fps(&self) -> f64 {
        let s = self.elapsed.as_secs_f64();
        if s > 0.0 {
            self.frames as f64 / s
        } else {
            0.0
        }
    }
    pub fn total_faults(&self) -> u64 {
        self.faults.iter().map(|(_, n)| n).sum()
    }

    pub fn print(&self) {
        let parts: Vec<String> = self.stage_ms.iter().map(|(n, ms)| format!("{n} {ms:.2}")).collect();
        eprintln!(
            "edgepipe: summary: {} frames in {:.2} s ({:.2} fps), stopped: {}",
            self.frames,
            self.elapsed.as_secs_f64(),
            self.fps(),
            match self.stop {
                StopReason::EndOfInput => "end of input",
                StopReason::MaxFrames => "max frames reached",
                StopReason::ReaderGone => "stdout reader went away",
            }
        );
        eprintln!("edgepipe: summary: mean ms per frame: {}", parts.join(", "));
        eprintln!("edgepipe: summary: median ms per frame: {}", crate::engine::metrics::format_parts(&self.stage_median_ms));
        let rss: Vec<String> = self.rss_kib.iter().map(|(f, k)| format!("{:.1} MiB at frame {f}", *k as f64 / 1024.0)).collect();
        eprintln!(
            "edgepipe: summary: {} session(s) x {} thread(s); frames dropped: {}; resident memory: {}",
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
        } else {
            eprintln!("edgepipe: summary: MQTT off");
        }
        if self.frames_written > 0 {
            eprintln!("edgepipe: summary: frames written to stdout: {}", self.frames_written);
        }
        let faults: Vec<String> = self.faults.iter().filter(|(_, n)| *n > 0).map(|(s, n)| format!("{s}: {n}")).collect();
        if !faults.is_empty() {
            eprintln!("edgepipe: summary: stage faults: {}", faults.join(", "));
        }
    }
}

/// Convert the detector's output to the plugin contract's records.
pub fn to_wit(dets: &[Detection], detector: &Detector) -> Vec<wit::Detection> {
    dets.iter()
        .map(|d| wit::Detection {
            class_id: d.class_id,
            label: detector.label(d.class_id).to_string(),
            score: d.score,
            bbox: wit::Rect { x: d.bbox.x, y: d.bbox.y, width: d.bbox.width, height: d.bbox.height },
        })
        .collect()
}

/// Load every configured stage.
pub fn load_stages(host: &PluginHost, settings: &Settings) -> Result<Vec<Stage>, Failure> {
    settings
        .stages
        .iter()
        .map(|s| {
            let stage = host.load(&s.name, &s.path, s.kind, s.settings.clone()).or_exit(ExitKind::Plugin)?;
            tracing::info!(plugin = %s.name, kind = s.kind.world(), path = %s.path.display(), "stage loaded");
            Ok(stage)
        })
        .collect()
}

pub(crate) fn start_mqtt(settings: &Settings) -> Result<Option<Publisher>, Failure> {
    let url = match &settings.mqtt {
        MqttTarget::Off => return Ok(None),
        MqttTarget::External(url) => url.clone(),
        MqttTarget::Embedded(addr) => {
            crate::broker::start(*addr).or_exit(ExitKind::Mqtt)?;
            eprintln!(
                "edgepipe: MQTT: embedded broker listening on {addr}; watch it with: mosquitto_sub -h {} -p {} -t '#' -v",
                addr.ip(),
                addr.port()
            );
            format!("mqtt://{}:{}", addr.ip(), addr.port())
        }
    };
    let publisher = Publisher::connect(&MqttSettings {
        url: url.clone(),
        client_id: settings.client_id.clone(),
        keepalive: settings.keepalive,
        connect_timeout: settings.connect_timeout,
        ack_timeout: settings.ack_timeout,
    })
    .or_exit(ExitKind::Mqtt)?;
    tracing::info!(%url, client_id = %settings.client_id, keepalive_s = settings.keepalive.as_secs(), "connected to MQTT broker");
    Ok(Some(publisher))
}

/// Run the pipeline described by `settings` to the end of its input (the
/// threaded engine, see [`crate::engine`]).
pub fn run(settings: &Settings) -> Result<Summary, Failure> {
    crate::engine::run(settings, crate::engine::EngineOptions::default())
}
