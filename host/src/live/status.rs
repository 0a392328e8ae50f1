//! What `/api/status` and `/metrics` report: counters the stages thread adds
//! to (atomics), a histogram of the stages' time per frame, and a snapshot the
//! frame loop refreshes about once a second.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use serde::Serialize;

/// Upper bounds (seconds) of the stage-time histogram's buckets.
pub const BUCKETS: [f64; 10] = [
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1.0,
];

#[derive(Default)]
pub struct Counters {
    pub frames: AtomicU64,
    pub messages: AtomicU64,
}

#[derive(Default)]
pub struct Histogram {
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_us: AtomicU64,
}

impl Histogram {
    pub fn observe_ms(&self, ms: f64) {
        let s = ms / 1000.0;
        for (b, &le) in self.buckets.iter().zip(BUCKETS.iter()) {
            if s <= le {
                b.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_us
            .fetch_add((ms * 1000.0) as u64, Ordering::Relaxed);
    }
    /// (cumulative count per bucket, count, sum in seconds)
    pub fn read(&self) -> (Vec<u64>, u64, f64) {
        let b = self
            .buckets
            .iter()
            .map(|b| b.load(Ordering::Relaxed))
            .collect();
        (
            b,
            self.count.load(Ordering::Relaxed),
            self.sum_us.load(Ordering::Relaxed) as f64 / 1e6,
        )
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct StageInfo {
    pub name: String,
    pub kind: String,
    pub generation: u32,
    pub hash: String,
    pub faults: u64,
    pub disabled: bool,
}

/// What the frame loop knows (the stages thread knows the rest).
#[derive(Debug, Clone, Copy, Default)]
pub struct EngineFigures {
    pub fps: f64,
    pub dropped: u64,
    pub queue_capture: usize,
    pub queue_results: usize,
}

pub fn stage_infos(stages: &[crate::plugin::Stage]) -> Vec<StageInfo> {
    stages
        .iter()
        .map(|s| {
            let v = s.version();
            StageInfo {
                name: s.name().to_string(),
                kind: s.kind().world().to_string(),
                generation: v.generation,
                hash: v.hash,
                faults: s.faults(),
                disabled: s.is_disabled(),
            }
        })
        .collect()
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct TenantInfo {
    pub id: String,
    pub prefix: String,
}

/// The pipeline as of the last refresh.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Snapshot {
    pub pipeline: String,
    pub width: u32,
    pub height: u32,
    pub frames: u64,
    pub fps: f64,
    pub dropped: u64,
    pub queue_capture: usize,
    pub queue_results: usize,
    pub faults: u64,
    pub reloads: u64,
    pub mqtt_published: u64,
    pub mqtt_queued: usize,
    /// (part, median ms) over recent frames.
    pub stage_ms: Vec<(String, f64)>,
    pub stages: Vec<StageInfo>,
    pub tenants: Vec<TenantInfo>,
    pub version: &'static str,
    /// Seconds since the last frame went through the stages.
    pub secs_since_frame: f64,
}

#[derive(Default)]
pub struct Status {
    pub counters: Counters,
    pub stage_time: Histogram,
    snapshot: Mutex<Snapshot>,
    last_frame: Mutex<Option<std::time::Instant>>,
}

impl Status {
    pub fn frame_done(&self, stages_ms: f64) {
        self.counters.frames.fetch_add(1, Ordering::Relaxed);
        self.stage_time.observe_ms(stages_ms);
        *self
            .last_frame
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(std::time::Instant::now());
    }
    pub fn set(&self, s: Snapshot) {
        *self.snapshot.lock().unwrap_or_else(PoisonError::into_inner) = s;
    }
    pub fn get(&self) -> Snapshot {
        let mut s = self
            .snapshot
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        s.frames = self.counters.frames.load(Ordering::Relaxed);
        s.secs_since_frame = self
            .last_frame
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .map_or(-1.0, |t| t.elapsed().as_secs_f64());
        s.version = env!("CARGO_PKG_VERSION");
        s
    }
}

/// A camera's `/api/status`: its snapshot with its name and topic prefix.
#[derive(Debug, Clone, Serialize)]
pub struct CameraRow {
    pub camera: String,
    /// What its chains' topics start with (`door/`; empty with one camera).
    pub topic_prefix: String,
    #[serde(flatten)]
    pub status: Snapshot,
}

impl CameraRow {
    pub fn of(hub: &super::Hub) -> CameraRow {
        CameraRow {
            camera: hub.camera.clone(),
            topic_prefix: hub.topic_prefix.clone(),
            status: hub.status.get(),
        }
    }
}

/// `/api/status` of a process with several cameras: a row per camera.
#[derive(Debug, Clone, Serialize)]
pub struct SiteStatus {
    pub pipeline: String,
    pub version: &'static str,
    /// Frames through the stages, every camera together.
    pub frames: u64,
    /// Frames per second, every camera together.
    pub fps: f64,
    pub cameras: Vec<CameraRow>,
}

impl SiteStatus {
    pub fn of(hubs: &[std::sync::Arc<super::Hub>]) -> SiteStatus {
        let cameras: Vec<CameraRow> = hubs.iter().map(|h| CameraRow::of(h)).collect();
        SiteStatus {
            pipeline: cameras
                .first()
                .map(|c| c.status.pipeline.clone())
                .unwrap_or_default(),
            version: env!("CARGO_PKG_VERSION"),
            frames: cameras.iter().map(|c| c.status.frames).sum(),
            fps: cameras.iter().map(|c| c.status.fps).sum(),
            cameras,
        }
    }
}
