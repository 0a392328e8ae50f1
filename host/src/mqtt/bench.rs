//! `edgepipe bench-mqtt`: the messages per second the publisher sustains to a
//! broker, and the time from `publish` (a frame's stats) to the broker's
//! acknowledgement, through the same queue and event loop as a run.

use std::time::{Duration, Instant};

use super::{MqttError, MqttSettings, PublishReport, Publisher, Qos};

/// What to measure.
#[derive(Debug, Clone)]
pub struct BenchSpec {
    pub url: String,
    pub qos: Qos,
    pub messages: u64,
    pub payload_bytes: usize,
    /// Messages per second to publish at; `None`: as fast as possible.
    pub rate: Option<f64>,
}

/// What was measured.
#[derive(Debug, Clone)]
pub struct BenchResult {
    pub elapsed: Duration,
    pub report: PublishReport,
}

impl BenchResult {
    /// Delivered (QoS 0: written; QoS>=1: acknowledged) messages per second.
    pub fn per_second(&self, qos: Qos) -> f64 {
        let done = if qos.acked() {
            self.report.acked
        } else {
            self.report.sent
        };
        done as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Publish `messages` messages on `edgepipe/bench/<n % 8>` and wait for them all.
pub fn run(spec: &BenchSpec) -> Result<BenchResult, MqttError> {
    let mut settings = MqttSettings::new(
        spec.url.clone(),
        format!("edgepipe-bench-{}", std::process::id()),
    );
    settings.required = true;
    settings.ack_timeout = Duration::from_secs(120);
    settings.queue.messages = usize::try_from(spec.messages).unwrap_or(usize::MAX).max(1);
    settings.queue.bytes = usize::MAX;
    let mut publisher = Publisher::connect(&settings)?;
    let topics: Vec<String> = (0..8).map(|i| format!("edgepipe/bench/{i}")).collect();
    let mut payload = vec![b'x'; spec.payload_bytes];
    let interval = spec
        .rate
        .filter(|r| *r > 0.0)
        .map(|r| Duration::from_secs_f64(1.0 / r));
    let started = Instant::now();
    for n in 0..spec.messages {
        if let Some(iv) = interval {
            let due = started + iv.mul_f64(n as f64);
            let now = Instant::now();
            if due > now {
                std::thread::sleep(due - now);
            }
        }
        // A counter in the payload, so that no two messages are alike.
        let stamp = n.to_string();
        let k = stamp.len().min(payload.len());
        payload[..k].copy_from_slice(&stamp.as_bytes()[..k]);
        // A refused message (larger than the limit) is counted in the report.
        let _ = publisher.enqueue(&topics[(n % 8) as usize], &payload, spec.qos, false);
    }
    let report = publisher.finish();
    Ok(BenchResult {
        elapsed: started.elapsed(),
        report,
    })
}
