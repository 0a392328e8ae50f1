//! people-counter: tracks one class of detections across frames (IoU, then
//! centroid distance) and reports `count` (confirmed tracks seen this frame),
//! `total` (distinct tracks ever confirmed) and one `duration` (seconds in view)
//! per confirmed track that leaves.

use edgepipe_sdk::{log, parse_setting, setting, Detection, FrameInfo, Level, Rect, Settings, Stat, Stats};
use serde::{Deserialize, Serialize};

/// Bumped when the layout of the saved state changes.
const STATE_VERSION: u32 = 1;
const KEYS: [&str; 6] = ["label", "min_score", "iou", "max_distance", "min_hits", "max_missed"];

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Config {
    label: String,
    min_score: f32,
    iou: f32,
    max_distance: f32,
    min_hits: u32,
    max_missed: u32,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            label: "person".to_string(),
            min_score: 0.5,
            iou: 0.3,
            max_distance: 0.75,
            min_hits: 3,
            max_missed: 10,
        }
    }
}

impl Config {
    fn from_settings(settings: &[(String, String)]) -> Result<Config, String> {
        let d = Config::default();
        let config = Config {
            label: setting(settings, "label").map(str::to_string).unwrap_or(d.label),
            min_score: parse_setting(settings, "min_score", d.min_score)?,
            iou: parse_setting(settings, "iou", d.iou)?,
            max_distance: parse_setting(settings, "max_distance", d.max_distance)?,
            min_hits: parse_setting(settings, "min_hits", d.min_hits)?,
            max_missed: parse_setting(settings, "max_missed", d.max_missed)?,
        };
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), String> {
        if self.label.is_empty() {
            return Err("setting `label`: must not be empty".to_string());
        }
        // `parse` accepts "NaN" and "inf", which would make every comparison
        // false and could not be saved as JSON.
        if !self.min_score.is_finite() {
            return Err(format!("setting `min_score`: {} is not a finite number", self.min_score));
        }
        if !(0.0..=1.0).contains(&self.iou) {
            return Err(format!("setting `iou`: {} is not in [0, 1]", self.iou));
        }
        if !(self.max_distance.is_finite() && self.max_distance >= 0.0) {
            return Err(format!("setting `max_distance`: {} is not a finite number >= 0", self.max_distance));
        }
        if self.min_hits == 0 {
            return Err("setting `min_hits`: must be at least 1".to_string());
        }
        Ok(())
    }
}

/// A box with finite coordinates and non-negative size.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
struct BBox {
    x: f32,
    y: f32,
    w: f32,
    h: f32,
}

impl BBox {
    fn from_rect(r: &Rect) -> Option<BBox> {
        let r = r.normalized()?;
        Some(BBox { x: r.x, y: r.y, w: r.width, h: r.height })
    }

    fn is_finite(&self) -> bool {
        self.x.is_finite() && self.y.is_finite() && self.w.is_finite() && self.h.is_finite() && self.w >= 0.0 && self.h >= 0.0
    }

    // All geometry in f64: f32 products of large coordinates overflow to inf.
    fn area(&self) -> f64 {
        self.w as f64 * self.h as f64
    }

    fn iou(&self, o: &BBox) -> f64 {
        let ix = ((self.x as f64 + self.w as f64).min(o.x as f64 + o.w as f64) - (self.x as f64).max(o.x as f64)).max(0.0);
        let iy = ((self.y as f64 + self.h as f64).min(o.y as f64 + o.h as f64) - (self.y as f64).max(o.y as f64)).max(0.0);
        let inter = ix * iy;
        let union = self.area() + o.area() - inter;
        if union > 0.0 && union.is_finite() {
            inter / union
        } else {
            0.0
        }
    }

    fn centre(&self) -> (f64, f64) {
        (self.x as f64 + self.w as f64 / 2.0, self.y as f64 + self.h as f64 / 2.0)
    }

    fn diagonal(&self) -> f64 {
        (self.w as f64).hypot(self.h as f64)
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Track {
    id: u64,
    bbox: BBox,
    first_seen_ms: u64,
    last_seen_ms: u64,
    hits: u32,
    missed: u32,
    confirmed: bool,
}

impl Track {
    fn duration_s(&self) -> f64 {
        let ms = self.last_seen_ms.saturating_sub(self.first_seen_ms);
        // ms / 1000 rounded to 2 decimals.
        (ms as f64 / 10.0).round() / 100.0
    }
}

#[derive(Default, Serialize, Deserialize)]
struct PeopleCounter {
    config: Config,
    tracks: Vec<Track>,
    total: u64,
    next_id: u64,
}

#[derive(Serialize)]
struct SavedRef<'a> {
    version: u32,
    state: &'a PeopleCounter,
}

#[derive(Deserialize)]
struct Saved {
    version: u32,
    state: PeopleCounter,
}

/// Greedy assignment: `pairs` is (cost, track, detection), best first after sorting.
fn assign(pairs: &mut [(f64, usize, usize)], track_det: &mut [Option<usize>], det_taken: &mut [bool]) {
    pairs.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
    for &(_, t, d) in pairs.iter() {
        if track_det[t].is_none() && !det_taken[d] {
            track_det[t] = Some(d);
            det_taken[d] = true;
        }
    }
}

impl Stats for PeopleCounter {
    fn configure(&mut self, settings: Settings) -> Result<(), String> {
        self.config = Config::from_settings(&settings)?;
        for (k, _) in settings.iter().filter(|(k, _)| !KEYS.contains(&k.as_str())) {
            log(Level::Warn, &format!("people-counter: unknown setting `{k}` ignored (known: {})", KEYS.join(", ")));
        }
        Ok(())
    }

    fn update(&mut self, info: FrameInfo, detections: Vec<Detection>) -> Vec<Stat> {
        let now = info.timestamp_ms;
        let cfg = &self.config;
        // A NaN score fails `>=` and is dropped here.
        let dets: Vec<BBox> = detections
            .iter()
            .filter(|d| d.label == cfg.label && d.score >= cfg.min_score)
            .filter_map(|d| BBox::from_rect(&d.bbox))
            .collect();

        let mut track_det: Vec<Option<usize>> = vec![None; self.tracks.len()];
        let mut det_taken = vec![false; dets.len()];
        let mut pairs: Vec<(f64, usize, usize)> = Vec::new();

        // Pass 1: overlap. Cost is -IoU so the sort puts the best pairs first;
        // disjoint boxes never match here even with `iou` = 0.
        for (ti, t) in self.tracks.iter().enumerate() {
            for (di, d) in dets.iter().enumerate() {
                let v = t.bbox.iou(d);
                if v > 0.0 && v >= cfg.iou as f64 {
                    pairs.push((-v, ti, di));
                }
            }
        }
        assign(&mut pairs, &mut track_det, &mut det_taken);

        // Pass 2: centroid distance for what is left (fast movers, size jumps),
        // measured relative to the track's size.
        pairs.clear();
        for (ti, t) in self.tracks.iter().enumerate().filter(|(ti, _)| track_det[*ti].is_none()) {
            // At least 1 px, so a zero-size box can still follow itself.
            let diag = t.bbox.diagonal().max(1.0);
            if !diag.is_finite() {
                continue;
            }
            let (tx, ty) = t.bbox.centre();
            for (di, d) in dets.iter().enumerate().filter(|(di, _)| !det_taken[*di]) {
                let (dx, dy) = d.centre();
                let rel = (dx - tx).hypot(dy - ty) / diag;
                if rel < cfg.max_distance as f64 {
                    pairs.push((rel, ti, di));
                }
            }
        }
        assign(&mut pairs, &mut track_det, &mut det_taken);

        let mut count: u64 = 0;
        let mut left: Vec<f64> = Vec::new();
        let (min_hits, max_missed) = (cfg.min_hits, cfg.max_missed);
        for (t, m) in self.tracks.iter_mut().zip(&track_det) {
            match m {
                Some(d) => {
                    t.bbox = dets[*d];
                    t.last_seen_ms = now;
                    t.hits = t.hits.saturating_add(1);
                    t.missed = 0;
                    if !t.confirmed && t.hits >= min_hits {
                        t.confirmed = true;
                        self.total += 1;
                    }
                    if t.confirmed {
                        count += 1;
                    }
                }
                None => t.missed = t.missed.saturating_add(1),
            }
        }
        self.tracks.retain(|t| {
            let keep = t.missed <= max_missed;
            if !keep && t.confirmed {
                left.push(t.duration_s());
            }
            keep
        });

        for (d, _) in dets.iter().zip(&det_taken).filter(|(_, taken)| !**taken) {
            let confirmed = min_hits <= 1;
            if confirmed {
                self.total += 1;
                count += 1;
            }
            self.tracks.push(Track {
                id: self.next_id,
                bbox: *d,
                first_seen_ms: now,
                last_seen_ms: now,
                hits: 1,
                missed: 0,
                confirmed,
            });
            self.next_id = self.next_id.wrapping_add(1);
        }

        let mut out = Vec::with_capacity(2 + left.len());
        out.push(Stat::json("count", count));
        out.push(Stat::json("total", self.total));
        out.extend(left.into_iter().map(|s| Stat::json("duration", s)));
        out
    }

    fn finish(&mut self) -> Vec<Stat> {
        vec![Stat::json("total", self.total)]
    }

    fn save(&self) -> Vec<u8> {
        // Only finite floats are ever stored, so this cannot fail.
        serde_json::to_vec(&SavedRef { version: STATE_VERSION, state: self }).unwrap_or_default()
    }

    fn restore(&mut self, state: Vec<u8>) -> Result<(), String> {
        // Nothing saved yet (first start): keep the configured, empty tracker.
        if state.is_empty() {
            return Ok(());
        }
        let saved: Saved = serde_json::from_slice(&state)
            .map_err(|e| format!("people-counter: saved state is not valid JSON tracker state: {e}"))?;
        if saved.version != STATE_VERSION {
            return Err(format!(
                "people-counter: saved state has version {}, this build reads version {STATE_VERSION}",
                saved.version
            ));
        }
        let mut s = saved.state;
        s.config.validate().map_err(|e| format!("people-counter: saved state: {e}"))?;
        if let Some(t) = s.tracks.iter().find(|t| !t.bbox.is_finite()) {
            return Err(format!("people-counter: saved state: track {} has an invalid box", t.id));
        }
        // Never reuse an id that a restored track already holds.
        if let Some(max) = s.tracks.iter().map(|t| t.id).max() {
            s.next_id = s.next_id.max(max.wrapping_add(1));
        }
        *self = s;
        Ok(())
    }
}

edgepipe_sdk::export_stats!(PeopleCounter);
