//! What a soak benchmark watches while the engine runs: each frame's latency
//! (its capture, pre-processing, inference, decoding and everything after
//! inference on the stages thread; time spent waiting in a queue is not in
//! it) and the MQTT queue depth. The sampler reads and resets it.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use super::infer::Inferred;
use crate::mqtt::latency::Latencies;

/// Shared by the frame loop (writes) and the sampler (reads).
pub struct Probe {
    inner: Mutex<Inner>,
}

struct Inner {
    latency_us: Latencies,
    frames: u64,
    mqtt_queued: usize,
}

/// One interval's figures.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Interval {
    pub frames: u64,
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    /// MQTT messages waiting at the last frame.
    pub mqtt_queued: usize,
}

impl Default for Probe {
    fn default() -> Self {
        Probe {
            inner: Mutex::new(Inner {
                latency_us: Latencies::new(),
                frames: 0,
                mqtt_queued: 0,
            }),
        }
    }
}

impl Probe {
    /// `item` went through the stages in `stages` (the frame loop's own time).
    pub fn frame(&self, item: &Inferred, stages: Duration, mqtt_queued: usize) {
        let t = &item.timings;
        let ms = item.capture_ms
            + (t.preprocess + t.inference + t.postprocess) * 1000.0
            + stages.as_secs_f64() * 1000.0;
        let mut g = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        g.latency_us.record((ms * 1000.0) as u64);
        g.frames += 1;
        g.mqtt_queued = mqtt_queued;
    }

    /// The figures since the last call, and start a new interval.
    pub fn take(&self) -> Interval {
        let mut g = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let ms = |us: Option<u64>| us.map(|u| u as f64 / 1000.0);
        let i = Interval {
            frames: g.frames,
            p50_ms: ms(g.latency_us.quantile(0.50)),
            p99_ms: ms(g.latency_us.quantile(0.99)),
            mqtt_queued: g.mqtt_queued,
        };
        g.latency_us.reset();
        g.frames = 0;
        i
    }
}
