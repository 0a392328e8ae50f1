//! Pixel operations on a BGR24 frame whose length was checked against its
//! size: filled and blended rectangles, thick lines, 8x8 bitmap text.

// The crate is built without its `unicode` feature (no `BASIC_FONTS`); the
// legacy table holds the same ASCII glyphs, indexed by code point.
use font8x8::legacy::BASIC_LEGACY;

pub type Bgr = [u8; 3];

/// Longest text drawn, in characters: a runaway label must not cost a frame.
pub const MAX_CHARS: usize = 48;

pub struct Canvas<'a> {
    pub px: &'a mut [u8],
    pub w: i64,
    pub h: i64,
}

/// Width in pixels of `text` at `scale`.
pub fn text_width(text: &str, scale: i64) -> i64 {
    text.chars().take(MAX_CHARS).count() as i64 * 8 * scale
}

impl Canvas<'_> {
    fn clip(&self, x0: i64, y0: i64, x1: i64, y1: i64) -> Option<(usize, usize, usize, usize)> {
        let (x0, x1) = (x0.clamp(0, self.w), x1.clamp(0, self.w));
        let (y0, y1) = (y0.clamp(0, self.h), y1.clamp(0, self.h));
        (x0 < x1 && y0 < y1).then_some((x0 as usize, y0 as usize, x1 as usize, y1 as usize))
    }

    /// Fill `[x0, x1) x [y0, y1)`, clipped to the frame.
    pub fn fill(&mut self, x0: i64, y0: i64, x1: i64, y1: i64, c: Bgr) {
        let Some((x0, y0, x1, y1)) = self.clip(x0, y0, x1, y1) else {
            return;
        };
        let w = self.w as usize;
        for y in y0..y1 {
            let row = y * w * 3;
            for p in self.px[row + x0 * 3..row + x1 * 3].chunks_exact_mut(3) {
                p.copy_from_slice(&c);
            }
        }
    }

    /// Mix `c` into `[x0, x1) x [y0, y1)` with weight `alpha`/256.
    pub fn blend(&mut self, x0: i64, y0: i64, x1: i64, y1: i64, c: Bgr, alpha: u16) {
        let Some((x0, y0, x1, y1)) = self.clip(x0, y0, x1, y1) else {
            return;
        };
        let w = self.w as usize;
        let a = alpha.min(256);
        let keep = 256 - a;
        let add = [c[0] as u16 * a, c[1] as u16 * a, c[2] as u16 * a];
        for y in y0..y1 {
            let row = y * w * 3;
            for p in self.px[row + x0 * 3..row + x1 * 3].chunks_exact_mut(3) {
                for k in 0..3 {
                    p[k] = ((p[k] as u16 * keep + add[k]) >> 8) as u8;
                }
            }
        }
    }

    /// The outline of a rectangle, `t` pixels thick, inside its bounds.
    pub fn rect(&mut self, x0: i64, y0: i64, x1: i64, y1: i64, t: i64, c: Bgr) {
        if t <= 0 {
            return;
        }
        self.fill(x0, y0, x1, (y0 + t).min(y1), c);
        self.fill(x0, (y1 - t).max(y0), x1, y1, c);
        self.fill(x0, y0, (x0 + t).min(x1), y1, c);
        self.fill((x1 - t).max(x0), y0, x1, y1, c);
    }

    /// A line from (x0, y0) to (x1, y1), `t` pixels thick (square brush).
    pub fn line(&mut self, x0: i64, y0: i64, x1: i64, y1: i64, t: i64, c: Bgr) {
        let steps = (x1 - x0).abs().max((y1 - y0).abs()).clamp(1, 8192);
        let r = t.max(1);
        let h = r / 2;
        for i in 0..=steps {
            let x = x0 + (x1 - x0) * i / steps;
            let y = y0 + (y1 - y0) * i / steps;
            self.fill(x - h, y - h, x - h + r, y - h + r, c);
        }
    }

    /// `text` with its top-left corner at (x, y); a font pixel is `scale` x `scale`.
    pub fn text(&mut self, x: i64, y: i64, text: &str, scale: i64, c: Bgr) {
        for (i, ch) in text.chars().take(MAX_CHARS).enumerate() {
            let glyph = BASIC_LEGACY[if ch.is_ascii() {
                ch as usize
            } else {
                b'?' as usize
            }];
            let gx = x + i as i64 * 8 * scale;
            if gx >= self.w {
                break;
            }
            for (r, bits) in glyph.iter().enumerate() {
                if *bits == 0 {
                    continue;
                }
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
