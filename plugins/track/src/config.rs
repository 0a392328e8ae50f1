//! The tracker's settings, their defaults and validation.

use serde::{Deserialize, Serialize};

/// Setting keys the tracker reads (a stage may add its own).
pub const KEYS: [&str; 8] = [
    "high_score",
    "low_score",
    "new_track_score",
    "match_iou",
    "low_match_iou",
    "tentative_iou",
    "min_hits",
    "max_missed",
];

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrackConfig {
    /// Detections at or above this score are associated first and may start tracks.
    pub high_score: f32,
    /// Detections in [low_score, high_score) only extend tracks that exist (a
    /// person half hidden keeps their track); below low_score they are ignored.
    pub low_score: f32,
    /// A new track starts from an unmatched detection at or above this score.
    pub new_track_score: f32,
    /// Smallest IoU of a high-score detection with a track's predicted box.
    pub match_iou: f32,
    /// Smallest IoU of a low-score detection with a tracked box.
    pub low_match_iou: f32,
    /// Smallest IoU of a detection with a tentative track.
    pub tentative_iou: f32,
    /// Consecutive matches before a tentative track is confirmed (counted).
    pub min_hits: u32,
    /// Frames a lost confirmed track is kept (can be found again) before it ends.
    pub max_missed: u32,
}

impl Default for TrackConfig {
    fn default() -> Self {
        TrackConfig {
            high_score: 0.5,
            low_score: 0.1,
            new_track_score: 0.6,
            match_iou: 0.2,
            low_match_iou: 0.5,
            tentative_iou: 0.3,
            min_hits: 3,
            max_missed: 30,
        }
    }
}

fn parse<T: core::str::FromStr>(
    settings: &[(String, String)],
    key: &str,
    default: T,
) -> Result<T, String> {
    match settings.iter().rev().find(|(k, _)| k == key) {
        None => Ok(default),
        Some((_, v)) => v
            .trim()
            .parse()
            .map_err(|_| format!("setting `{key}`: cannot parse {v:?}")),
    }
}

impl TrackConfig {
    /// From a stage's settings (the keys in [`KEYS`]); others are ignored here.
    pub fn from_settings(settings: &[(String, String)]) -> Result<TrackConfig, String> {
        let d = TrackConfig::default();
        let c = TrackConfig {
            high_score: parse(settings, "high_score", d.high_score)?,
            low_score: parse(settings, "low_score", d.low_score)?,
            new_track_score: parse(settings, "new_track_score", d.new_track_score)?,
            match_iou: parse(settings, "match_iou", d.match_iou)?,
            low_match_iou: parse(settings, "low_match_iou", d.low_match_iou)?,
            tentative_iou: parse(settings, "tentative_iou", d.tentative_iou)?,
            min_hits: parse(settings, "min_hits", d.min_hits)?,
            max_missed: parse(settings, "max_missed", d.max_missed)?,
        };
        c.validate()?;
        Ok(c)
    }

    pub fn validate(&self) -> Result<(), String> {
        let unit = [
            ("high_score", self.high_score),
            ("low_score", self.low_score),
            ("new_track_score", self.new_track_score),
            ("match_iou", self.match_iou),
            ("low_match_iou", self.low_match_iou),
            ("tentative_iou", self.tentative_iou),
        ];
        // `parse` accepts "NaN" and "inf": refused here.
        for (k, v) in unit {
            if !(0.0..=1.0).contains(&v) {
                return Err(format!("setting `{k}`: {v} is not in [0, 1]"));
            }
        }
        if self.low_score > self.high_score {
            return Err(format!(
                "setting `low_score`: {} is above `high_score` {}",
                self.low_score, self.high_score
            ));
        }
        if self.min_hits == 0 {
            return Err("setting `min_hits`: must be at least 1".to_string());
        }
        Ok(())
    }
}
