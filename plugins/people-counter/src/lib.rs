//! people-counter: tracks one class of detections with a ByteTrack-style
//! tracker (`edgepipe-track`) and reports, every frame, `count` (confirmed
//! tracks matched this frame), `total` (distinct tracks ever confirmed) and
//! `tracks` (`[{"id","box":[x,y,w,h],"score","age","det"}]`, `det` being the
//! index of the matched detection in this frame's list); one `duration`
//! (seconds in view) per confirmed track when it ends, and at `finish` one
//! per track still alive, so each person gets exactly one duration.
//!
//! Settings (defaults): `label` ("person"), and the tracker's
//! `high_score` (0.5), `low_score` (0.1), `new_track_score` (0.6),
//! `match_iou` (0.2), `low_match_iou` (0.5), `tentative_iou` (0.3),
//! `min_hits` (3), `max_missed` (30 frames).

mod legacy;

use core::fmt::Write;

use edgepipe_sdk::{log, setting, Detection, FrameInfo, Level, Settings, Stat, Stats};
use edgepipe_track::sdk::tracker_input;
use edgepipe_track::{tracker::StepOutcome, Ended, TrackConfig, Tracker};
use serde::{Deserialize, Serialize};

/// Bumped when the layout of the saved state changes (1: IoU/centroid tracker).
const STATE_VERSION: u32 = 2;

#[derive(Serialize, Deserialize)]
struct PeopleCounter {
    label: String,
    tracker: Tracker,
    total: u64,
}

impl Default for PeopleCounter {
    fn default() -> Self {
        PeopleCounter {
            label: "person".to_string(),
            tracker: Tracker::new(TrackConfig::default()),
            total: 0,
        }
    }
}

#[derive(Serialize)]
struct SavedRef<'a> {
    version: u32,
    state: &'a PeopleCounter,
}

#[derive(Deserialize)]
struct Saved {
    version: u32,
    state: serde_json::Value,
}

/// `tracks` stat value: the confirmed tracks matched this frame.
fn tracks_json(tracker: &Tracker, out: &mut String) {
    out.clear();
    out.push('[');
    for (i, t) in tracker.tracked().enumerate() {
        let b = t.bbox();
        if i > 0 {
            out.push(',');
        }
        let _ = write!(
            out,
            "{{\"id\":{},\"box\":[{:.1},{:.1},{:.1},{:.1}],\"score\":{:.3},\"age\":{}",
            t.id, b.x, b.y, b.w, b.h, t.score, t.age
        );
        if let Some(d) = t.det {
            let _ = write!(out, ",\"det\":{d}");
        }
        out.push('}');
    }
    out.push(']');
}

fn durations(ended: &[Ended]) -> impl Iterator<Item = Stat> + '_ {
    ended.iter().map(|e| Stat::json("duration", e.duration_s()))
}

impl Stats for PeopleCounter {
    fn configure(&mut self, settings: Settings) -> Result<(), String> {
        let config = TrackConfig::from_settings(&settings)?;
        let label = setting(&settings, "label").unwrap_or("person");
        if label.is_empty() {
            return Err("setting `label`: must not be empty".to_string());
        }
        for (k, _) in settings
            .iter()
            .filter(|(k, _)| k != "label" && !edgepipe_track::config::KEYS.contains(&k.as_str()))
        {
            log(
                Level::Warn,
                &format!(
                    "people-counter: unknown setting `{k}` ignored (known: label, {})",
                    edgepipe_track::config::KEYS.join(", ")
                ),
            );
        }
        self.label = label.to_string();
        self.tracker = Tracker::new(config);
        Ok(())
    }

    fn update(&mut self, info: FrameInfo, detections: Vec<Detection>) -> Vec<Stat> {
        let dets = tracker_input(&self.label, &detections);
        let StepOutcome { confirmed, ended } = self.tracker.step(info.timestamp_ms, &dets);
        self.total += confirmed;
        let mut tracks = String::new();
        tracks_json(&self.tracker, &mut tracks);
        let mut out = Vec::with_capacity(3 + ended.len());
        out.push(Stat::json("count", self.tracker.tracked().count()));
        out.push(Stat::json("total", self.total));
        out.push(Stat {
            name: "tracks".to_string(),
            value: tracks,
        });
        out.extend(durations(&ended));
        out
    }

    fn finish(&mut self) -> Vec<Stat> {
        let ended = self.tracker.finish();
        let mut out = vec![Stat::json("total", self.total)];
        out.extend(durations(&ended));
        out
    }

    fn save(&self) -> Vec<u8> {
        // Only finite floats are ever stored, so this cannot fail.
        serde_json::to_vec(&SavedRef {
            version: STATE_VERSION,
            state: self,
        })
        .unwrap_or_default()
    }

    fn restore(&mut self, state: Vec<u8>) -> Result<(), String> {
        // Nothing saved yet (first start): keep the configured, empty tracker.
        if state.is_empty() {
            return Ok(());
        }
        let saved: Saved = serde_json::from_slice(&state).map_err(|e| {
            format!("people-counter: saved state is not valid JSON tracker state: {e}")
        })?;
        let bad = |e: String| {
            format!(
                "people-counter: saved state (version {}): {e}",
                saved.version
            )
        };
        let mut s = match saved.version {
            1 => {
                let v1: legacy::StateV1 = serde_json::from_value(saved.state.clone()).map_err(|e| bad(e.to_string()))?;
                let (label, tracker, total) = legacy::upgrade(v1).map_err(bad)?;
                PeopleCounter { label, tracker, total }
            }
            STATE_VERSION => serde_json::from_value(saved.state.clone()).map_err(|e| bad(e.to_string()))?,
            v => return Err(format!("people-counter: saved state has version {v}, this build reads versions 1 and {STATE_VERSION}")),
        };
        s.tracker.validate().map_err(bad)?;
        if s.label.is_empty() {
            return Err(bad("empty label".to_string()));
        }
        *self = s;
        Ok(())
    }
}

edgepipe_sdk::export_stats!(PeopleCounter);
