//! line-counter: counts tracked objects crossing lines and inside zones.
//!
//! Each label in `labels` has its own ByteTrack-style tracker; the anchor of a
//! track is the bottom centre of its box (where a person stands). A line
//! counts a track `in` when its anchor crosses to the right-hand side of the
//! line's first -> second point (as seen on screen), `out` the other way, each
//! at most once per track and line (so one person crosses once, whatever the
//! jitter). A zone counts the tracks whose anchor is inside it, with each one's
//! dwell time. Stats every frame:
//! - `lines`: `[{"name","a":[x,y],"b":[x,y],"in":N,"out":M,"by_class":{"person":{"in":N,"out":M}}}]`
//! - `zones`: `[{"name","points":[[x,y],..],"count":N,"by_class":{"person":N},"dwell":[{"id":1,"class":"person","s":2.5}]}]`
//!
//! Points are frame fractions. Settings: `lines`, `zones` (see `shapes`),
//! `labels` (comma-separated, default "person"), `margin` (fraction of the
//! frame height an anchor must be from a line to be on a side, default 0.01),
//! and the tracker's keys (people-counter's defaults).

mod shapes;

use std::collections::BTreeMap;

use edgepipe_sdk::{
    log, parse_setting, setting, Detection, FrameInfo, Level, Settings, Stat, Stats,
};
use edgepipe_track::sdk::tracker_input;
use edgepipe_track::{config::KEYS, TrackConfig, Tracker};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use shapes::{Pt, Shape};

const STATE_VERSION: u32 = 1;
const OWN_KEYS: [&str; 4] = ["lines", "zones", "labels", "margin"];

/// What a track has done on one line.
#[derive(Clone, Copy, Default, Serialize, Deserialize)]
struct LineMemo {
    side: i8,
    went_in: bool,
    went_out: bool,
}

#[derive(Clone, Default, Serialize, Deserialize)]
struct TrackMemo {
    lines: Vec<LineMemo>,
    /// Per zone: when the anchor entered (ms), if inside.
    entered: Vec<Option<u64>>,
}

#[derive(Default, Serialize, Deserialize)]
struct Counts {
    /// Per line, per class: (in, out).
    lines: Vec<BTreeMap<String, (u64, u64)>>,
}

#[derive(Default, Serialize, Deserialize)]
struct LineCounter {
    #[serde(skip)]
    lines: Vec<Shape>,
    #[serde(skip)]
    zones: Vec<Shape>,
    #[serde(skip)]
    margin: f64,
    /// One tracker per label.
    trackers: Vec<(String, Tracker)>,
    /// Per (label index, track id); a list, since JSON keys are strings.
    memos: Vec<((usize, u64), TrackMemo)>,
    counts: Counts,
}

fn pts(points: &[Pt]) -> Value {
    Value::Array(points.iter().map(|p| json!([p.0, p.1])).collect())
}

impl LineCounter {
    /// Update crossings and zone membership of one tracked anchor.
    fn observe(&mut self, class: usize, id: u64, foot: Pt, info: &FrameInfo) {
        let margin = self.margin * info.height as f64;
        let (nl, nz) = (self.lines.len(), self.zones.len());
        let at = match self.memos.iter().position(|(k, _)| *k == (class, id)) {
            Some(i) => i,
            None => {
                self.memos.push((
                    (class, id),
                    TrackMemo {
                        lines: vec![LineMemo::default(); nl],
                        entered: vec![None; nz],
                    },
                ));
                self.memos.len() - 1
            }
        };
        let memo = &mut self.memos[at].1;
        let label = &self.trackers[class].0;
        for (li, line) in self.lines.iter().enumerate() {
            let (a, b) = (
                (
                    line.points[0].0 * info.width as f64,
                    line.points[0].1 * info.height as f64,
                ),
                (
                    line.points[1].0 * info.width as f64,
                    line.points[1].1 * info.height as f64,
                ),
            );
            let d = shapes::side_distance(a, b, foot);
            let side = if d > margin {
                1
            } else if d < -margin {
                -1
            } else {
                0
            };
            let m = &mut memo.lines[li];
            if side != 0 && m.side != 0 && side != m.side && shapes::within_segment(a, b, foot) {
                let c = self.counts.lines[li].entry(label.clone()).or_default();
                if side > 0 && !m.went_in {
                    m.went_in = true;
                    c.0 += 1;
                } else if side < 0 && !m.went_out {
                    m.went_out = true;
                    c.1 += 1;
                }
            }
            if side != 0 {
                m.side = side;
            }
        }
        for (zi, zone) in self.zones.iter().enumerate() {
            let poly: Vec<Pt> = zone
                .points
                .iter()
                .map(|p| (p.0 * info.width as f64, p.1 * info.height as f64))
                .collect();
            let now_in = shapes::inside(&poly, foot);
            let e = &mut memo.entered[zi];
            *e = match (now_in, *e) {
                (true, None) => Some(info.timestamp_ms),
                (true, Some(t)) => Some(t),
                (false, _) => None,
            };
        }
    }

    fn lines_stat(&self) -> Value {
        let items = self.lines.iter().enumerate().map(|(i, l)| {
            let by: BTreeMap<&String, Value> = self.counts.lines[i].iter().map(|(k, v)| (k, json!({"in": v.0, "out": v.1}))).collect();
            let (tin, tout) = self.counts.lines[i].values().fold((0, 0), |a, v| (a.0 + v.0, a.1 + v.1));
            json!({"name": l.name, "a": [l.points[0].0, l.points[0].1], "b": [l.points[1].0, l.points[1].1], "in": tin, "out": tout, "by_class": by})
        });
        Value::Array(items.collect())
    }

    fn zones_stat(&self, now_ms: u64, live: &[(usize, u64)]) -> Value {
        let items = self.zones.iter().enumerate().map(|(zi, z)| {
            let mut by: BTreeMap<&str, u64> = BTreeMap::new();
            let mut dwell = Vec::new();
            for key in live {
                if let Some(Some(t)) = self.memos.iter().find(|(k, _)| k == key).map(|(_, m)| m.entered[zi]) {
                    let label = self.trackers[key.0].0.as_str();
                    *by.entry(label).or_default() += 1;
                    let s = (now_ms.saturating_sub(t) as f64 / 10.0).round() / 100.0;
                    dwell.push(json!({"id": key.1, "class": label, "s": s}));
                }
            }
            json!({"name": z.name, "points": pts(&z.points), "count": dwell.len(), "by_class": by, "dwell": dwell})
        });
        Value::Array(items.collect())
    }
}

impl Stats for LineCounter {
    fn configure(&mut self, settings: Settings) -> Result<(), String> {
        let config = TrackConfig::from_settings(&settings)?;
        let lines = shapes::parse(setting(&settings, "lines").unwrap_or(""), "lines", 2, 2)?;
        let zones = shapes::parse(setting(&settings, "zones").unwrap_or(""), "zones", 3, 64)?;
        let margin: f64 = parse_setting(&settings, "margin", 0.01)?;
        if !(0.0..=0.5).contains(&margin) {
            return Err(format!("setting `margin`: {margin} is not in [0, 0.5]"));
        }
        let labels: Vec<String> = setting(&settings, "labels")
            .unwrap_or("person")
            .split(',')
            .map(|l| l.trim().to_string())
            .filter(|l| !l.is_empty())
            .collect();
        if labels.is_empty() {
            return Err("setting `labels`: no label given".into());
        }
        if lines.is_empty() && zones.is_empty() {
            log(
                Level::Warn,
                "line-counter: no `lines` or `zones` set; nothing to count",
            );
        }
        for (k, _) in settings
            .iter()
            .filter(|(k, _)| !OWN_KEYS.contains(&k.as_str()) && !KEYS.contains(&k.as_str()))
        {
            log(
                Level::Warn,
                &format!(
                    "line-counter: unknown setting `{k}` ignored (known: {}, {})",
                    OWN_KEYS.join(", "),
                    KEYS.join(", ")
                ),
            );
        }
        *self = LineCounter {
            counts: Counts {
                lines: vec![BTreeMap::new(); lines.len()],
            },
            lines,
            zones,
            margin,
            trackers: labels
                .into_iter()
                .map(|l| (l, Tracker::new(config.clone())))
                .collect(),
            memos: Vec::new(),
        };
        Ok(())
    }

    fn update(&mut self, info: FrameInfo, detections: Vec<Detection>) -> Vec<Stat> {
        let mut live = Vec::new();
        for c in 0..self.trackers.len() {
            let (label, tracker) = &mut self.trackers[c];
            tracker.step(info.timestamp_ms, &tracker_input(label, &detections));
            let seen: Vec<(u64, Pt)> = tracker.tracked().map(|t| (t.id, t.bbox().foot())).collect();
            for (id, foot) in seen {
                self.observe(c, id, foot, &info);
                live.push((c, id));
            }
        }
        // Forget tracks the trackers no longer hold.
        let trackers = &self.trackers;
        self.memos
            .retain(|((c, id), _)| trackers[*c].1.tracks.iter().any(|t| t.id == *id));
        vec![
            Stat {
                name: "lines".into(),
                value: self.lines_stat().to_string(),
            },
            Stat {
                name: "zones".into(),
                value: self.zones_stat(info.timestamp_ms, &live).to_string(),
            },
        ]
    }

    fn save(&self) -> Vec<u8> {
        serde_json::to_vec(&json!({"version": STATE_VERSION, "state": self})).unwrap_or_default()
    }

    fn restore(&mut self, state: Vec<u8>) -> Result<(), String> {
        if state.is_empty() {
            return Ok(());
        }
        #[derive(Deserialize)]
        struct Saved {
            version: u32,
            state: LineCounter,
        }
        let saved: Saved = serde_json::from_slice(&state)
            .map_err(|e| format!("line-counter: saved state: {e}"))?;
        if saved.version != STATE_VERSION {
            return Err(format!(
                "line-counter: saved state has version {}, this build reads {STATE_VERSION}",
                saved.version
            ));
        }
        let mut s = saved.state;
        // Shapes come from this instance's settings; counts carry over when they still fit.
        if s.counts.lines.len() != self.lines.len()
            || s.trackers
                .iter()
                .map(|t| &t.0)
                .ne(self.trackers.iter().map(|t| &t.0))
        {
            return Err(
                "line-counter: saved state has other lines or labels than the settings".into(),
            );
        }
        for (_, t) in &mut s.trackers {
            t.validate()
                .map_err(|e| format!("line-counter: saved state: {e}"))?;
        }
        self.trackers = s.trackers;
        self.counts = s.counts;
        let (nl, nz) = (self.lines.len(), self.zones.len());
        self.memos = s
            .memos
            .into_iter()
            .filter(|(_, m)| m.lines.len() == nl && m.entered.len() == nz)
            .collect();
        Ok(())
    }
}

edgepipe_sdk::export_stats!(LineCounter);
