//! State version 1 (the IoU + centroid tracker before ByteTrack), read so that
//! a hot reload or restart from an older build keeps its count and its people.

use edgepipe_track::{BBox, Kalman, Track, TrackConfig, TrackState, Tracker};
use serde::Deserialize;

#[derive(Deserialize)]
struct ConfigV1 {
    label: String,
    min_score: f32,
    min_hits: u32,
    max_missed: u32,
}

#[derive(Deserialize)]
struct BoxV1 {
    x: f32,
    y: f32,
    w: f32,
    h: f32,
}

#[derive(Deserialize)]
struct TrackV1 {
    bbox: BoxV1,
    first_seen_ms: u64,
    last_seen_ms: u64,
    hits: u32,
    missed: u32,
    confirmed: bool,
}

#[derive(Deserialize)]
pub struct StateV1 {
    config: ConfigV1,
    tracks: Vec<TrackV1>,
    total: u64,
}

/// What a version-1 state becomes: label, tracker, total.
pub fn upgrade(s: StateV1) -> Result<(String, Tracker, u64), String> {
    let config = TrackConfig {
        high_score: s.config.min_score,
        low_score: TrackConfig::default().low_score.min(s.config.min_score),
        min_hits: s.config.min_hits,
        max_missed: s.config.max_missed,
        ..TrackConfig::default()
    };
    config.validate()?;
    let mut tracker = Tracker::new(config);
    for t in s.tracks {
        let b = BBox::new(
            t.bbox.x as f64,
            t.bbox.y as f64,
            t.bbox.w as f64,
            t.bbox.h as f64,
        )
        .ok_or_else(|| "a version-1 track has an invalid box".to_string())?;
        let mut tr = Track {
            id: 0,
            kf: Kalman::new(&b),
            state: if !t.confirmed {
                TrackState::Tentative
            } else if t.missed == 0 {
                TrackState::Tracked
            } else {
                TrackState::Lost
            },
            hits: t.hits,
            missed: t.missed,
            age: t.hits.saturating_add(t.missed),
            score: 1.0,
            last_box: b,
            first_ms: t.first_seen_ms,
            last_ms: t.last_seen_ms,
            det: None,
        };
        // Version 1 ids counted every track; confirmed ones are renumbered.
        if t.confirmed {
            tr.id = tracker.next_id;
            tracker.next_id += 1;
        }
        tracker.tracks.push(tr);
    }
    // Ids continue after the people already counted.
    tracker.next_id = tracker.next_id.max(s.total.wrapping_add(1));
    Ok((s.config.label, tracker, s.total))
}
