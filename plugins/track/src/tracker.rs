//! The ByteTrack association loop: per frame, predict every track, match
//! high-score detections to tracked and lost tracks, then low-score detections
//! to the tracked ones left, then what remains to tentative tracks; start
//! tentative tracks from unmatched confident detections; end lost tracks after
//! `max_missed` frames.

use serde::{Deserialize, Serialize};

use crate::assign::assign;
use crate::config::TrackConfig;
use crate::geom::{iou_cost, BBox};
use crate::kalman::Kalman;

/// A detection handed to the tracker; its position in the slice is its index.
#[derive(Clone, Copy, Debug)]
pub struct Det {
    pub bbox: BBox,
    pub score: f32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TrackState {
    /// Not yet confirmed: ended at its first miss.
    Tentative,
    /// Confirmed and matched this frame.
    Tracked,
    /// Confirmed, not matched for `missed` frames; may be found again.
    Lost,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Track {
    /// 0 while tentative; confirmed tracks are numbered 1, 2, ... in order.
    pub id: u64,
    pub kf: Kalman,
    pub state: TrackState,
    pub hits: u32,
    /// Frames since the last match.
    pub missed: u32,
    /// Frames since the track started.
    pub age: u32,
    /// Score of the last matched detection.
    pub score: f32,
    /// The last matched detection's box: a lost track is also looked for
    /// there (someone who stopped while hidden is not where the motion
    /// model expects them).
    pub last_box: BBox,
    pub first_ms: u64,
    pub last_ms: u64,
    /// Index of the detection matched this frame.
    #[serde(skip)]
    pub det: Option<usize>,
}

impl Track {
    pub fn bbox(&self) -> BBox {
        self.kf.bbox()
    }
    pub fn is_confirmed(&self) -> bool {
        self.state != TrackState::Tentative
    }
}

/// A confirmed track that ended (or was still alive at the end of the stream).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Ended {
    pub id: u64,
    pub first_ms: u64,
    pub last_ms: u64,
}

impl Ended {
    /// Seconds between the first and the last sighting, to 2 decimals.
    pub fn duration_s(&self) -> f64 {
        (self.last_ms.saturating_sub(self.first_ms) as f64 / 10.0).round() / 100.0
    }
}

/// What one frame changed.
#[derive(Debug, Default)]
pub struct StepOutcome {
    /// Tracks confirmed this frame (distinct people counted).
    pub confirmed: u64,
    /// Confirmed tracks that ended this frame.
    pub ended: Vec<Ended>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Tracker {
    pub config: TrackConfig,
    pub tracks: Vec<Track>,
    /// The id the next confirmed track gets (ids start at 1).
    pub next_id: u64,
}

impl Tracker {
    pub fn new(config: TrackConfig) -> Tracker {
        Tracker {
            config,
            tracks: Vec::new(),
            next_id: 1,
        }
    }

    /// Confirmed tracks matched this frame.
    pub fn tracked(&self) -> impl Iterator<Item = &Track> {
        self.tracks
            .iter()
            .filter(|t| t.state == TrackState::Tracked)
    }

    /// Match `idx` tracks (of `pool`) against detections `cand`; returns the
    /// matched (track, detection) pairs.
    fn associate(
        &self,
        pool: &[usize],
        dets: &[Det],
        cand: &[usize],
        min_iou: f32,
    ) -> Vec<(usize, usize)> {
        let tb: Vec<BBox> = pool.iter().map(|&t| self.tracks[t].bbox()).collect();
        let db: Vec<BBox> = cand.iter().map(|&d| dets[d].bbox).collect();
        let mut cost = iou_cost(&tb, &db);
        for (r, &t) in pool
            .iter()
            .enumerate()
            .filter(|(_, &t)| self.tracks[t].state == TrackState::Lost)
        {
            let last = self.tracks[t].last_box;
            for (c, d) in db.iter().enumerate() {
                let k = r * db.len() + c;
                cost[k] = cost[k].min(1.0 - last.iou(d));
            }
        }
        // The tiny margin keeps an IoU exactly at the threshold matched.
        let max_cost = 1.0 - min_iou as f64 + 1e-9;
        assign(&cost, tb.len(), db.len(), max_cost)
            .into_iter()
            .map(|(r, c)| (pool[r], cand[c]))
            .collect()
    }

    fn hit(&mut self, t: usize, d: usize, det: &Det, now_ms: u64) {
        let tr = &mut self.tracks[t];
        tr.kf.update(&det.bbox);
        tr.hits = tr.hits.saturating_add(1);
        tr.missed = 0;
        tr.score = det.score;
        tr.last_box = det.bbox;
        tr.last_ms = now_ms;
        tr.det = Some(d);
        if tr.state == TrackState::Lost {
            tr.state = TrackState::Tracked;
        }
    }

    fn confirm(&mut self, t: usize) {
        self.tracks[t].state = TrackState::Tracked;
        self.tracks[t].id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1).max(1);
    }

    /// One frame: `dets` are this frame's detections of the tracked class.
    pub fn step(&mut self, now_ms: u64, dets: &[Det]) -> StepOutcome {
        let cfg = self.config.clone();
        let mut out = StepOutcome::default();
        for t in &mut self.tracks {
            t.det = None;
            t.kf.predict(t.state != TrackState::Tracked);
            t.age = t.age.saturating_add(1);
        }
        // A NaN score fails both comparisons and is dropped.
        let usable = |d: &Det| d.bbox.is_valid();
        let high: Vec<usize> = (0..dets.len())
            .filter(|&i| usable(&dets[i]) && dets[i].score >= cfg.high_score)
            .collect();
        let low: Vec<usize> = (0..dets.len())
            .filter(|&i| {
                usable(&dets[i]) && dets[i].score >= cfg.low_score && dets[i].score < cfg.high_score
            })
            .collect();
        let mut det_used = vec![false; dets.len()];
        let mut matched = vec![false; self.tracks.len()];

        // 1. Confirmed tracks (tracked and lost) with the confident detections.
        let pool: Vec<usize> = (0..self.tracks.len())
            .filter(|&t| self.tracks[t].is_confirmed())
            .collect();
        for (t, d) in self.associate(&pool, dets, &high, cfg.match_iou) {
            self.hit(t, d, &dets[d], now_ms);
            matched[t] = true;
            det_used[d] = true;
        }
        // 2. Tracks tracked until now and still unmatched, with the weak detections.
        let pool: Vec<usize> = pool
            .into_iter()
            .filter(|&t| !matched[t] && self.tracks[t].state == TrackState::Tracked)
            .collect();
        for (t, d) in self.associate(&pool, dets, &low, cfg.low_match_iou) {
            self.hit(t, d, &dets[d], now_ms);
            matched[t] = true;
            det_used[d] = true;
        }
        // 3. Tentative tracks with the confident detections left.
        let pool: Vec<usize> = (0..self.tracks.len())
            .filter(|&t| self.tracks[t].state == TrackState::Tentative)
            .collect();
        let rest: Vec<usize> = high.iter().copied().filter(|&d| !det_used[d]).collect();
        for (t, d) in self.associate(&pool, dets, &rest, cfg.tentative_iou) {
            self.hit(t, d, &dets[d], now_ms);
            matched[t] = true;
            det_used[d] = true;
            if self.tracks[t].hits >= cfg.min_hits {
                self.confirm(t);
                out.confirmed += 1;
            }
        }
        self.retire(&matched, &mut out.ended);
        // 4. New tentative tracks from confident detections nobody took.
        for &d in high
            .iter()
            .filter(|&&d| !det_used[d] && dets[d].score >= cfg.new_track_score)
        {
            self.tracks.push(Track {
                id: 0,
                kf: Kalman::new(&dets[d].bbox),
                state: TrackState::Tentative,
                hits: 1,
                missed: 0,
                age: 0,
                score: dets[d].score,
                last_box: dets[d].bbox,
                first_ms: now_ms,
                last_ms: now_ms,
                det: Some(d),
            });
            if cfg.min_hits <= 1 {
                let t = self.tracks.len() - 1;
                self.confirm(t);
                out.confirmed += 1;
            }
        }
        out
    }

    /// Unmatched tracks: tentative ones end, tracked ones become lost, lost
    /// ones past `max_missed` end (confirmed ones into `ended`).
    fn retire(&mut self, matched: &[bool], ended: &mut Vec<Ended>) {
        for (_, tr) in self
            .tracks
            .iter_mut()
            .enumerate()
            .filter(|(t, _)| !matched[*t])
        {
            tr.missed = tr.missed.saturating_add(1);
            if tr.state == TrackState::Tracked {
                tr.state = TrackState::Lost;
            }
        }
        let max_missed = self.config.max_missed;
        let mut keep = Vec::with_capacity(self.tracks.len());
        for (t, tr) in std::mem::take(&mut self.tracks).into_iter().enumerate() {
            match tr.state {
                TrackState::Tentative if !matched[t] => {}
                TrackState::Lost if tr.missed > max_missed => ended.push(Ended {
                    id: tr.id,
                    first_ms: tr.first_ms,
                    last_ms: tr.last_ms,
                }),
                _ => keep.push(tr),
            }
        }
        self.tracks = keep;
    }

    /// End of stream: every confirmed track still alive ends now (tentative
    /// ones are dropped); the tracker is left empty.
    pub fn finish(&mut self) -> Vec<Ended> {
        let ended = self
            .tracks
            .iter()
            .filter(|t| t.is_confirmed())
            .map(|t| Ended {
                id: t.id,
                first_ms: t.first_ms,
                last_ms: t.last_ms,
            })
            .collect();
        self.tracks.clear();
        ended
    }

    /// Checks a restored tracker: finite filters, valid settings, fresh ids.
    pub fn validate(&mut self) -> Result<(), String> {
        self.config.validate()?;
        if let Some(t) = self
            .tracks
            .iter()
            .find(|t| !t.kf.is_finite() || !t.score.is_finite())
        {
            return Err(format!("track {} has a non-finite state", t.id));
        }
        let max = self.tracks.iter().map(|t| t.id).max().unwrap_or(0);
        self.next_id = self.next_id.max(max.wrapping_add(1)).max(1);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn det(x: f64, y: f64, score: f32) -> Det {
        Det {
            bbox: BBox {
                x,
                y,
                w: 40.0,
                h: 100.0,
            },
            score,
        }
    }

    #[test]
    fn a_walker_is_confirmed_after_min_hits_and_ends_after_the_buffer() {
        let mut t = Tracker::new(TrackConfig::default());
        let mut confirmed = 0;
        for i in 0..10u64 {
            confirmed += t
                .step(i * 100, &[det(100.0 + 5.0 * i as f64, 50.0, 0.9)])
                .confirmed;
            assert_eq!(t.tracked().count(), usize::from(i >= 2), "frame {i}");
        }
        assert_eq!(confirmed, 1);
        let mut ended = Vec::new();
        for i in 10..42u64 {
            ended.extend(t.step(i * 100, &[]).ended);
        }
        assert_eq!(
            ended,
            vec![Ended {
                id: 1,
                first_ms: 0,
                last_ms: 900
            }]
        );
        assert_eq!(ended[0].duration_s(), 0.9);
    }

    #[test]
    fn a_half_hidden_person_keeps_the_track_through_low_scores_and_a_gap() {
        let mut t = Tracker::new(TrackConfig::default());
        let mut confirmed = 0;
        for i in 0..40u64 {
            let x = 100.0 + 6.0 * i as f64;
            let dets = match i {
                // Partly occluded: weak detections only.
                10..=14 => vec![det(x, 50.0, 0.3)],
                // Wholly hidden for 8 frames.
                20..=27 => vec![],
                _ => vec![det(x, 50.0, 0.9)],
            };
            let o = t.step(i * 100, &dets);
            confirmed += o.confirmed;
            assert!(o.ended.is_empty());
            if (10..=14).contains(&i) {
                assert_eq!(
                    t.tracked().count(),
                    1,
                    "weak detection extends the track at frame {i}"
                );
            }
        }
        assert_eq!(confirmed, 1, "one person, one track");
        assert_eq!(t.finish().len(), 1);
    }

    #[test]
    fn someone_who_stops_while_hidden_is_found_where_last_seen() {
        let mut t = Tracker::new(TrackConfig::default());
        let mut confirmed = 0;
        for i in 0..20u64 {
            confirmed += t
                .step(i * 100, &[det(100.0 + 6.0 * i as f64, 50.0, 0.9)])
                .confirmed;
        }
        // Hidden for 15 frames, during which they stopped: the motion model
        // expects them 90 px further on.
        for i in 20..35u64 {
            t.step(i * 100, &[]);
        }
        for i in 35..40u64 {
            confirmed += t
                .step(i * 100, &[det(100.0 + 6.0 * 19.0, 50.0, 0.9)])
                .confirmed;
        }
        assert_eq!(confirmed, 1, "the same person, not a new one");
        assert_eq!(t.tracked().next().map(|tr| tr.id), Some(1));
    }

    #[test]
    fn low_scores_never_start_a_track_and_crossing_people_keep_their_ids() {
        let mut t = Tracker::new(TrackConfig::default());
        for i in 0..10 {
            t.step(i * 100, &[det(100.0, 50.0, 0.4)]);
        }
        assert_eq!(t.next_id, 1, "no track from weak detections");
        // Two people walking towards each other and past.
        let mut ids = std::collections::BTreeSet::new();
        for i in 0..60u64 {
            let a = det(100.0 + 8.0 * i as f64, 200.0, 0.9);
            let b = det(580.0 - 8.0 * i as f64, 210.0, 0.85);
            t.step(1000 + i * 100, &[a, b]);
            for tr in t.tracked() {
                ids.insert(tr.id);
            }
        }
        assert_eq!(ids.len(), 2, "{ids:?}");
    }
}
