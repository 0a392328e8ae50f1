//! speedometer: the median speed of the frame's confirmed tracks, as the stat
//! `speed` (for the course's `speedometer` topic `{"speed":V}`): pixels per
//! second, or km/h when `meters_per_pixel` is given. 0 when nobody is tracked.
//!
//! Settings: `label` ("person"), `meters_per_pixel` (none), and the tracker's
//! (the same keys and defaults as people-counter, so both see the same tracks).

use edgepipe_sdk::{
    log, parse_setting, setting, Detection, FrameInfo, Level, Settings, Stat, Stats,
};
use edgepipe_track::sdk::tracker_input;
use edgepipe_track::{config::KEYS, TrackConfig, Tracker};
use serde::{Deserialize, Serialize};

const STATE_VERSION: u32 = 1;

#[derive(Serialize, Deserialize)]
struct Speedometer {
    label: String,
    meters_per_pixel: Option<f64>,
    tracker: Tracker,
    last_ms: Option<u64>,
}

impl Default for Speedometer {
    fn default() -> Self {
        Speedometer {
            label: "person".into(),
            meters_per_pixel: None,
            tracker: Tracker::new(TrackConfig::default()),
            last_ms: None,
        }
    }
}

/// Median of `v` (sorted in place); 0 when empty.
fn median(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

impl Stats for Speedometer {
    fn configure(&mut self, settings: Settings) -> Result<(), String> {
        let config = TrackConfig::from_settings(&settings)?;
        let label = setting(&settings, "label").unwrap_or("person");
        if label.is_empty() {
            return Err("setting `label`: must not be empty".into());
        }
        let mpp = match setting(&settings, "meters_per_pixel") {
            None => None,
            Some(_) => {
                let m: f64 = parse_setting(&settings, "meters_per_pixel", 0.0)?;
                if !(m.is_finite() && m > 0.0) {
                    return Err(format!(
                        "setting `meters_per_pixel`: {m} is not a number > 0"
                    ));
                }
                Some(m)
            }
        };
        for (k, _) in settings.iter().filter(|(k, _)| {
            !matches!(k.as_str(), "label" | "meters_per_pixel") && !KEYS.contains(&k.as_str())
        }) {
            log(Level::Warn, &format!("speedometer: unknown setting `{k}` ignored (known: label, meters_per_pixel, {})", KEYS.join(", ")));
        }
        *self = Speedometer {
            label: label.into(),
            meters_per_pixel: mpp,
            tracker: Tracker::new(config),
            last_ms: None,
        };
        Ok(())
    }

    fn update(&mut self, info: FrameInfo, detections: Vec<Detection>) -> Vec<Stat> {
        self.tracker
            .step(info.timestamp_ms, &tracker_input(&self.label, &detections));
        // The filter's velocity is per frame; the frame interval turns it into per second.
        let dt_s = self
            .last_ms
            .map(|l| info.timestamp_ms.saturating_sub(l) as f64 / 1000.0)
            .filter(|d| *d > 0.0);
        self.last_ms = Some(info.timestamp_ms);
        let mut speeds: Vec<f64> = match dt_s {
            Some(dt) => self
                .tracker
                .tracked()
                .map(|t| t.kf.velocity())
                .map(|(vx, vy)| vx.hypot(vy) / dt)
                .collect(),
            None => Vec::new(),
        };
        let px_s = median(&mut speeds);
        let speed = match self.meters_per_pixel {
            Some(m) => px_s * m * 3.6,
            None => px_s,
        };
        let speed = if speed.is_finite() {
            (speed * 100.0).round() / 100.0
        } else {
            0.0
        };
        vec![Stat::json("speed", speed)]
    }

    fn save(&self) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({ "version": STATE_VERSION, "state": self }))
            .unwrap_or_default()
    }

    fn restore(&mut self, state: Vec<u8>) -> Result<(), String> {
        if state.is_empty() {
            return Ok(());
        }
        #[derive(Deserialize)]
        struct Saved {
            version: u32,
            state: Speedometer,
        }
        let saved: Saved =
            serde_json::from_slice(&state).map_err(|e| format!("speedometer: saved state: {e}"))?;
        if saved.version != STATE_VERSION {
            return Err(format!(
                "speedometer: saved state has version {}, this build reads {STATE_VERSION}",
                saved.version
            ));
        }
        let mut s = saved.state;
        s.tracker
            .validate()
            .map_err(|e| format!("speedometer: saved state: {e}"))?;
        *self = s;
        Ok(())
    }
}

edgepipe_sdk::export_stats!(Speedometer);
