//! How a live source is doing: outages and reconnects counted by the capture
//! thread, read by the stats line and the summary, and published as events on
//! `edgepipe/<pipeline>/source` by the stages thread.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// One change of a live source's state.
#[derive(Debug, Clone, PartialEq)]
pub enum SourceEvent {
    /// Frames stopped coming; opening it again.
    Lost { reason: String },
    /// Frames come again after `after` without any, in `attempts` opens.
    Back { after: Duration, attempts: u32 },
    /// Given up after `after` without frames; the run ends.
    GaveUp { after: Duration },
}

impl SourceEvent {
    /// The event as published (JSON).
    pub fn to_json(&self, input: &str) -> String {
        let v = match self {
            SourceEvent::Lost { reason } => {
                serde_json::json!({"event": "lost", "input": input, "reason": reason})
            }
            SourceEvent::Back { after, attempts } => serde_json::json!({
                "event": "back", "input": input, "after_secs": round1(after.as_secs_f64()), "attempts": attempts
            }),
            SourceEvent::GaveUp { after } => {
                serde_json::json!({"event": "gave-up", "input": input, "after_secs": round1(after.as_secs_f64())})
            }
        };
        v.to_string()
    }
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// Shared between the capture thread (writer) and the stages thread (reader).
#[derive(Default)]
pub struct SourceHealth {
    reconnects: AtomicU64,
    /// Finished outages, in milliseconds.
    outage_ms: AtomicU64,
    current: Mutex<Option<Instant>>,
    events: Mutex<Vec<SourceEvent>>,
}

impl SourceHealth {
    pub fn lost(&self, reason: String) {
        *self.current.lock().unwrap_or_else(PoisonError::into_inner) = Some(Instant::now());
        self.push(SourceEvent::Lost { reason });
    }

    pub fn back(&self, attempts: u32) {
        let since = self
            .current
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let after = since.map(|s| s.elapsed()).unwrap_or_default();
        self.reconnects.fetch_add(1, Ordering::Relaxed);
        self.outage_ms
            .fetch_add(after.as_millis() as u64, Ordering::Relaxed);
        self.push(SourceEvent::Back { after, attempts });
    }

    pub fn gave_up(&self, after: Duration) {
        self.push(SourceEvent::GaveUp { after });
    }

    fn push(&self, e: SourceEvent) {
        self.events
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(e);
    }

    pub fn take_events(&self) -> Vec<SourceEvent> {
        std::mem::take(&mut *self.events.lock().unwrap_or_else(PoisonError::into_inner))
    }

    pub fn reconnects(&self) -> u64 {
        self.reconnects.load(Ordering::Relaxed)
    }

    /// Time without frames so far, the outage under way included.
    pub fn seconds_without_frames(&self) -> f64 {
        let done = self.outage_ms.load(Ordering::Relaxed) as f64 / 1000.0;
        let now = self
            .current
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .map(|s| s.elapsed().as_secs_f64())
            .unwrap_or(0.0);
        done + now
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_outage_is_counted_once_it_ends() {
        let h = SourceHealth::default();
        h.lost("end of stream".into());
        std::thread::sleep(Duration::from_millis(20));
        assert!(h.seconds_without_frames() >= 0.02);
        assert_eq!(h.reconnects(), 0);
        h.back(3);
        assert_eq!(h.reconnects(), 1);
        let ev = h.take_events();
        assert_eq!(ev.len(), 2);
        assert!(
            ev[1].to_json("rtsp://c").contains("\"event\":\"back\""),
            "{}",
            ev[1].to_json("rtsp://c")
        );
        assert!(h.take_events().is_empty());
    }
}
