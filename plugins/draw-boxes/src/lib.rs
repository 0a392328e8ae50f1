//! draw-boxes: draws each detection's box and `label score` tag, and a
//! `count: N  total: T` panel in the top-left corner, in place on BGR24 frames.

use core::fmt::Write;
use edgepipe_sdk::{log, parse_setting, Detection, Draw, FrameInfo, Level, Settings, Stat};
// The crate is built without its `unicode` feature (no `BASIC_FONTS`); the
// legacy table holds the same ASCII glyphs, indexed by code point.
use font8x8::legacy::BASIC_LEGACY;

const GREEN: [u8; 3] = [0, 255, 0];
const BLACK: [u8; 3] = [0, 0, 0];
const WHITE: [u8; 3] = [255, 255, 255];
const PANEL: [u8; 3] = [40, 40, 40];
/// Longest tag drawn, in characters: a runaway label must not cost a frame.
const MAX_CHARS: usize = 48;
const KEYS: [&str; 2] = ["thickness", "font_scale"];

struct DrawBoxes {
    thickness: i64,
    scale: i64,
    warned: bool,
    /// Reused text buffer, so a frame allocates nothing after the first.
    text: String,
}

impl Default for DrawBoxes {
    fn default() -> Self {
        DrawBoxes { thickness: 2, scale: 2, warned: false, text: String::new() }
    }
}

/// A BGR24 frame whose length has been checked against its size.
struct Canvas<'a> {
    px: &'a mut [u8],
    w: i64,
    h: i64,
}

impl Canvas<'_> {
    /// Fill `[x0, x1) x [y0, y1)`, clipped to the frame.
    fn fill(&mut self, x0: i64, y0: i64, x1: i64, y1: i64, c: [u8; 3]) {
        let (x0, x1) = (x0.clamp(0, self.w), x1.clamp(0, self.w));
        let (y0, y1) = (y0.clamp(0, self.h), y1.clamp(0, self.h));
        if x0 >= x1 || y0 >= y1 {
            return;
        }
        for y in y0..y1 {
            let row = (y * self.w) as usize * 3;
            let span = &mut self.px[row + x0 as usize * 3..row + x1 as usize * 3];
            for p in span.chunks_exact_mut(3) {
                p.copy_from_slice(&c);
            }
        }
    }

    /// Draw `text` with its top-left corner at (x, y); each font pixel is a
    /// `scale` x `scale` block.
    fn text(&mut self, x: i64, y: i64, text: &str, scale: i64, c: [u8; 3]) {
        for (i, ch) in text.chars().take(MAX_CHARS).enumerate() {
            let glyph = BASIC_LEGACY[if ch.is_ascii() { ch as usize } else { b'?' as usize }];
            let gx = x + i as i64 * 8 * scale;
            if gx >= self.w {
                break;
            }
            for (r, bits) in glyph.iter().enumerate() {
                let py = y + r as i64 * scale;
                for col in 0..8 {
                    if bits & (1 << col) != 0 {
                        let px = gx + col * scale;
                        self.fill(px, py, px + scale, py + scale, c);
                    }
                }
            }
        }
    }
}

/// Frame pixel from an f32 coordinate; NaN is rejected before this.
fn px(v: f64) -> i64 {
    v.round().clamp(-1e9, 1e9) as i64
}

impl Draw for DrawBoxes {
    fn configure(&mut self, settings: Settings) -> Result<(), String> {
        let thickness: u32 = parse_setting(&settings, "thickness", 2)?;
        if thickness > 64 {
            return Err(format!("setting `thickness`: {thickness} is more than 64"));
        }
        let scale: u32 = parse_setting(&settings, "font_scale", 2)?;
        if !(1..=16).contains(&scale) {
            return Err(format!("setting `font_scale`: {scale} is not in 1..=16"));
        }
        for (k, _) in settings.iter().filter(|(k, _)| !KEYS.contains(&k.as_str())) {
            log(Level::Warn, &format!("draw-boxes: unknown setting `{k}` ignored (known: {})", KEYS.join(", ")));
        }
        self.thickness = thickness as i64;
        self.scale = scale as i64;
        Ok(())
    }

    fn draw(&mut self, info: FrameInfo, pixels: &mut [u8], detections: Vec<Detection>, stats: Vec<Stat>) {
        // usize is 32 bits on wasm32: a bogus size must not overflow.
        let expected = (info.width as usize).checked_mul(info.height as usize).and_then(|n| n.checked_mul(3));
        if expected != Some(pixels.len()) {
            if !self.warned {
                self.warned = true;
                log(
                    Level::Warn,
                    &format!(
                        "draw-boxes: frame {} is {} bytes, expected {}x{}x3; not drawing (warned once)",
                        info.index,
                        pixels.len(),
                        info.width,
                        info.height
                    ),
                );
            }
            return;
        }
        let mut cv = Canvas { px: pixels, w: info.width as i64, h: info.height as i64 };
        let (t, s) = (self.thickness, self.scale);
        let pad = s;
        let tag_h = 8 * s + 2 * pad;

        for d in &detections {
            let Some(b) = d.bbox.normalized() else { continue };
            let (x, y, w, h) = (b.x as f64, b.y as f64, b.width as f64, b.height as f64);
            let (x0, y0) = (px(x), px(y));
            let (x1, y1) = (px(x + w).max(x0 + 1), px(y + h).max(y0 + 1));
            // Wholly off-frame: no outline and no stray tag at the border.
            if x1 <= 0 || y1 <= 0 || x0 >= cv.w || y0 >= cv.h {
                continue;
            }
            if t > 0 {
                cv.fill(x0, y0, x1, (y0 + t).min(y1), GREEN);
                cv.fill(x0, (y1 - t).max(y0), x1, y1, GREEN);
                cv.fill(x0, y0, (x0 + t).min(x1), y1, GREEN);
                cv.fill((x1 - t).max(x0), y0, x1, y1, GREEN);
            }

            self.text.clear();
            let _ = write!(self.text, "{} {:.2}", d.label, d.score);
            let chars = self.text.chars().take(MAX_CHARS).count() as i64;
            let tag_w = chars * 8 * s + 2 * pad;
            // Above the box when it fits, else inside at its (visible) top;
            // slid left so a box at the right edge keeps a readable tag.
            let ty = if y0 - tag_h >= 0 { y0 - tag_h } else { y0.max(0) };
            let tx = x0.min(cv.w - tag_w).max(0);
            cv.fill(tx, ty, tx + tag_w, ty + tag_h, GREEN);
            cv.text(tx + pad, ty + pad, &self.text, s, BLACK);
        }

        let find = |name: &str| stats.iter().find(|st| st.name == name).map(|st| st.value.as_str());
        let (count, total) = (find("count"), find("total"));
        if count.is_some() || total.is_some() {
            self.text.clear();
            if let Some(c) = count {
                let _ = write!(self.text, "count: {c}");
            }
            if let Some(tt) = total {
                let sep = if self.text.is_empty() { "" } else { "  " };
                let _ = write!(self.text, "{sep}total: {tt}");
            }
            let chars = self.text.chars().take(MAX_CHARS).count() as i64;
            cv.fill(0, 0, chars * 8 * s + 2 * pad, tag_h, PANEL);
            cv.text(pad, pad, &self.text, s, WHITE);
        }
    }
}

edgepipe_sdk::export_draw!(DrawBoxes);
