//! draw-boxes (world `overlay`: it returns shapes, the host paints them on
//! the frame): draws each detection's box in its
//! class's colour with a `label #id score` tag (the id from people-counter's
//! `tracks` stat) on a filled background, tags placed so they do not cover
//! each other; line-counter's lines and zones with their counts; and a count
//! panel (`in view`, `total`, `speed`) in the top-left corner.
//!
//! Settings: `thickness` (box outline of tracked objects, default 2; others
//! get half), `font_scale` (tags, default 1; the panel uses one more).

mod layout;

use core::fmt::Write;

use edgepipe_sdk::{
    log, parse_setting, text_width, Detection, FrameInfo, Level, Overlay, Settings, Shapes, Stat,
};
use layout::{Layout, Rect};
use serde_json::Value;

const KEYS: [&str; 2] = ["thickness", "font_scale"];
/// A colour: blue, green, red.
type Bgr = [u8; 3];

/// One frame's shapes, and the frame's size.
struct Canvas {
    s: Shapes,
    w: i64,
    h: i64,
}
const WHITE: Bgr = [255, 255, 255];
const BLACK: Bgr = [0, 0, 0];
const PANEL: Bgr = [32, 32, 32];
const LINE: Bgr = [0, 215, 255];
const ZONE: Bgr = [255, 191, 0];
/// Colour of class id `i` is `PALETTE[i % len]` (BGR; tableau colours).
const PALETTE: [Bgr; 10] = [
    [14, 127, 255],
    [180, 119, 31],
    [44, 160, 44],
    [40, 39, 214],
    [189, 103, 148],
    [75, 86, 140],
    [194, 119, 227],
    [34, 189, 188],
    [207, 190, 23],
    [127, 127, 127],
];

struct DrawBoxes {
    thickness: i64,
    scale: i64,
    /// Reused from frame to frame, so a frame allocates little after the first.
    text: String,
    layout: Layout,
    track_of: Vec<Option<u64>>,
    /// Tags of this frame (anchor, text, colour), drawn after every box and
    /// shape so that no outline crosses a tag.
    tags: Vec<(Rect, String, Bgr)>,
    used_tags: usize,
}

impl Default for DrawBoxes {
    fn default() -> Self {
        DrawBoxes {
            thickness: 2,
            scale: 1,
            text: String::new(),
            layout: Layout::default(),
            track_of: Vec::new(),
            tags: Vec::new(),
            used_tags: 0,
        }
    }
}

/// Black or white, whichever reads better on `c`.
fn ink(c: Bgr) -> Bgr {
    let luma = 114 * c[0] as u32 + 587 * c[1] as u32 + 299 * c[2] as u32;
    if luma > 140_000 {
        BLACK
    } else {
        WHITE
    }
}

/// Frame pixel from a coordinate; NaN is rejected before this.
fn px(v: f64) -> i64 {
    v.round().clamp(-1e9, 1e9) as i64
}

fn stat<'a>(stats: &'a [Stat], name: &str) -> Option<&'a str> {
    stats
        .iter()
        .find(|s| s.name == name)
        .map(|s| s.value.as_str())
}

fn json_items(stats: &[Stat], name: &str) -> Vec<Value> {
    match stat(stats, name).map(serde_json::from_str::<Value>) {
        Some(Ok(Value::Array(v))) => v,
        _ => Vec::new(),
    }
}

/// A point given in frame fractions, in pixels.
fn point(v: &Value, w: i64, h: i64) -> Option<(i64, i64)> {
    let (x, y) = (v.get(0)?.as_f64()?, v.get(1)?.as_f64()?);
    (x.is_finite() && y.is_finite()).then(|| (px(x * w as f64), px(y * h as f64)))
}

impl DrawBoxes {
    /// Queue `self.text` as a tag for `anchor` (its strings are reused).
    fn tag(&mut self, anchor: Rect, bg: Bgr) {
        if self.used_tags == self.tags.len() {
            self.tags.push((anchor, String::new(), bg));
        }
        let t = &mut self.tags[self.used_tags];
        t.0 = anchor;
        t.1.clear();
        t.1.push_str(&self.text);
        t.2 = bg;
        self.used_tags += 1;
    }

    /// Every queued tag: filled background, text in the ink that reads on it,
    /// placed where it covers no tag placed before it.
    fn draw_tags(&mut self, cv: &mut Canvas) {
        let s = self.scale;
        let pad = 2 * s;
        for (anchor, text, bg) in &self.tags[..self.used_tags] {
            let (w, h) = (text_width(text, s) + 2 * pad, 8 * s + 2 * pad);
            let r = self.layout.place(*anchor, w, h, cv.w, cv.h);
            cv.s.fill(r.x0, r.y0, r.x1, r.y1, *bg);
            cv.s.text(r.x0 + pad, r.y0 + pad, text, s, ink(*bg));
        }
    }

    fn tracks(&mut self, stats: &[Stat], n: usize) {
        self.track_of.clear();
        self.track_of.resize(n, None);
        for t in json_items(stats, "tracks") {
            let (Some(id), Some(d)) = (
                t.get("id").and_then(Value::as_u64),
                t.get("det").and_then(Value::as_u64),
            ) else {
                continue;
            };
            if let Some(slot) = self.track_of.get_mut(d as usize) {
                *slot = Some(id);
            }
        }
    }

    fn detections(&mut self, cv: &mut Canvas, detections: &[Detection]) {
        for (i, d) in detections.iter().enumerate() {
            let Some(b) = d.bbox.normalized() else {
                continue;
            };
            let (x, y, w, h) = (b.x as f64, b.y as f64, b.width as f64, b.height as f64);
            let (x0, y0) = (px(x), px(y));
            let (x1, y1) = (px(x + w).max(x0 + 1), px(y + h).max(y0 + 1));
            // Wholly off-frame: no outline and no stray tag at the border.
            if x1 <= 0 || y1 <= 0 || x0 >= cv.w || y0 >= cv.h {
                continue;
            }
            let colour = PALETTE[d.class_id as usize % PALETTE.len()];
            let id = self.track_of.get(i).copied().flatten();
            let t = if id.is_some() {
                self.thickness
            } else {
                (self.thickness / 2).max(1).min(self.thickness)
            };
            cv.s.rect(x0, y0, x1, y1, t, colour);
            self.text.clear();
            let _ = match id {
                Some(id) => write!(self.text, "{} #{id} {:.0}%", d.label, d.score * 100.0),
                None => write!(self.text, "{} {:.0}%", d.label, d.score * 100.0),
            };
            self.tag(Rect { x0, y0, x1, y1 }, colour);
        }
    }

    fn lines_and_zones(&mut self, cv: &mut Canvas, stats: &[Stat]) {
        let (w, h) = (cv.w, cv.h);
        for z in json_items(stats, "zones") {
            let pts: Vec<(i64, i64)> = z
                .get("points")
                .and_then(Value::as_array)
                .map(|p| p.iter().filter_map(|q| point(q, w, h)).collect())
                .unwrap_or_default();
            if pts.len() < 3 {
                continue;
            }
            for k in 0..pts.len() {
                let (a, b) = (pts[k], pts[(k + 1) % pts.len()]);
                cv.s.line(a.0, a.1, b.0, b.1, 2, ZONE);
            }
            self.text.clear();
            let _ = write!(
                self.text,
                "{}: {}",
                z.get("name").and_then(Value::as_str).unwrap_or("zone"),
                z.get("count").and_then(Value::as_u64).unwrap_or(0)
            );
            let (x, y) = pts
                .iter()
                .fold((i64::MAX, i64::MAX), |a, p| (a.0.min(p.0), a.1.min(p.1)));
            self.tag(
                Rect {
                    x0: x,
                    y0: y,
                    x1: x + 1,
                    y1: y + 1,
                },
                ZONE,
            );
        }
        for l in json_items(stats, "lines") {
            let (Some(a), Some(b)) = (
                l.get("a").and_then(|p| point(p, w, h)),
                l.get("b").and_then(|p| point(p, w, h)),
            ) else {
                continue;
            };
            cv.s.line(a.0, a.1, b.0, b.1, 3, LINE);
            self.text.clear();
            let n = |k: &str| l.get(k).and_then(Value::as_u64).unwrap_or(0);
            let _ = write!(
                self.text,
                "{}: in {} out {}",
                l.get("name").and_then(Value::as_str).unwrap_or("line"),
                n("in"),
                n("out")
            );
            let (mx, my) = ((a.0 + b.0) / 2, (a.1 + b.1) / 2);
            self.tag(
                Rect {
                    x0: mx,
                    y0: my,
                    x1: mx + 1,
                    y1: my + 1,
                },
                LINE,
            );
        }
    }

    /// The count panel: with `paint` false only its area is reserved (before
    /// any tag is placed), with `paint` true it is drawn (over everything).
    fn panel(&mut self, cv: &mut Canvas, stats: &[Stat], paint: bool) {
        let (count, total, speed) = (
            stat(stats, "count"),
            stat(stats, "total"),
            stat(stats, "speed"),
        );
        if count.is_none() && total.is_none() && speed.is_none() {
            return;
        }
        self.text.clear();
        if let Some(c) = count {
            let _ = write!(self.text, "in view {c}");
        }
        if let Some(t) = total {
            let sep = if self.text.is_empty() { "" } else { "   " };
            let _ = write!(self.text, "{sep}total {t}");
        }
        let s = self.scale + 1;
        let pad = 3 * s;
        let first = text_width(&self.text, s);
        let line2 = speed.map(|v| format!("speed {v} px/s"));
        let second = line2
            .as_deref()
            .map(|t| text_width(t, self.scale))
            .unwrap_or(0);
        let h1 = 8 * s + 2 * pad;
        let h = h1
            + if line2.is_some() {
                8 * self.scale + pad
            } else {
                0
            };
        let w = first.max(second) + 2 * pad;
        if !paint {
            self.layout.reserve(Rect {
                x0: 0,
                y0: 0,
                x1: w,
                y1: h,
            });
            return;
        }
        cv.s.blend(0, 0, w, h, PANEL, 200);
        cv.s.text(pad, pad, &self.text, s, WHITE);
        if let Some(t) = line2 {
            cv.s.text(pad, h1, &t, self.scale, [200, 200, 200]);
        }
    }
}

impl Overlay for DrawBoxes {
    fn configure(&mut self, settings: Settings) -> Result<(), String> {
        let thickness: u32 = parse_setting(&settings, "thickness", 2)?;
        if thickness > 64 {
            return Err(format!("setting `thickness`: {thickness} is more than 64"));
        }
        let scale: u32 = parse_setting(&settings, "font_scale", 1)?;
        if !(1..=16).contains(&scale) {
            return Err(format!("setting `font_scale`: {scale} is not in 1..=16"));
        }
        for (k, _) in settings.iter().filter(|(k, _)| !KEYS.contains(&k.as_str())) {
            log(
                Level::Warn,
                &format!(
                    "draw-boxes: unknown setting `{k}` ignored (known: {})",
                    KEYS.join(", ")
                ),
            );
        }
        self.thickness = thickness as i64;
        self.scale = scale as i64;
        Ok(())
    }

    fn overlay(&mut self, info: FrameInfo, detections: Vec<Detection>, stats: Vec<Stat>) -> Shapes {
        let mut cv = Canvas {
            s: Shapes::default(),
            w: info.width as i64,
            h: info.height as i64,
        };
        self.layout.clear();
        self.used_tags = 0;
        self.tracks(&stats, detections.len());
        self.panel(&mut cv, &stats, false);
        self.lines_and_zones(&mut cv, &stats);
        self.detections(&mut cv, &detections);
        self.draw_tags(&mut cv);
        self.panel(&mut cv, &stats, true);
        cv.s
    }
}

edgepipe_sdk::export_overlay!(DrawBoxes);
