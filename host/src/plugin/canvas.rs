//! Pixel operations on a BGR24 frame whose length was checked against its
//! size: filled and blended rectangles, thick lines, 8x8 bitmap text (what
//! `overlay` stages' shapes are painted with; moved here from draw-boxes).

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

/// How many steps (one brush each, plus the first) a line of extent
/// `dx` x `dy` takes: one per pixel along its longer side, at most 8192.
pub fn line_steps(dx: i64, dy: i64) -> i64 {
    dx.abs().max(dy.abs()).clamp(1, 8192)
}

impl Canvas<'_> {
    fn clip(&self, x0: i64, y0: i64, x1: i64, y1: i64) -> Option<(usize, usize, usize, usize)> {
        let (x0, x1) = (x0.clamp(0, self.w), x1.clamp(0, self.w));
        let (y0, y1) = (y0.clamp(0, self.h), y1.clamp(0, self.h));
        (x0 < x1 && y0 < y1).then_some((x0 as usize, y0 as usize, x1 as usize, y1 as usize))
    }

    /// How many pixels of `[x0, x1) x [y0, y1)` are in the frame.
    pub fn area(&self, (x0, y0, x1, y1): (i64, i64, i64, i64)) -> u64 {
        self.clip(x0, y0, x1, y1)
            .map_or(0, |(x0, y0, x1, y1)| ((x1 - x0) * (y1 - y0)) as u64)
    }

    /// Fill `[x0, x1) x [y0, y1)`, clipped to the frame.
    pub fn fill(&mut self, x0: i64, y0: i64, x1: i64, y1: i64, c: Bgr) {
        let Some((x0, y0, x1, y1)) = self.clip(x0, y0, x1, y1) else {
            return;
        };
        let pattern = Pattern::new(c);
        let stride = self.w as usize * 3;
        for y in y0..y1 {
            let row = y * stride;
            pattern.paint(&mut self.px[row + x0 * 3..row + x1 * 3]);
        }
    }

    /// Mix `c` into `[x0, x1) x [y0, y1)` with weight `alpha`/256.
    pub fn blend(&mut self, x0: i64, y0: i64, x1: i64, y1: i64, c: Bgr, alpha: u16) {
        let Some((x0, y0, x1, y1)) = self.clip(x0, y0, x1, y1) else {
            return;
        };
        let stride = self.w as usize * 3;
        let a = alpha.min(256);
        let keep = 256 - a;
        // `c * a` per byte of a run of whole pixels (at most 255 * 256 plus
        // 255 * keep: no u16 overflow); rows are mixed a run at a time so
        // that the loop compiles to vector code.
        let add: [u16; RUN] = core::array::from_fn(|j| c[j % 3] as u16 * a);
        let mix = |run: &mut [u8]| {
            for (p, add) in run.iter_mut().zip(&add) {
                *p = ((*p as u16 * keep + *add) >> 8) as u8;
            }
        };
        for y in y0..y1 {
            let row = y * stride;
            let (runs, rest) = self.px[row + x0 * 3..row + x1 * 3].as_chunks_mut::<RUN>();
            for run in runs {
                // A fixed length: the loop becomes vector code.
                mix(run);
            }
            mix(rest);
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
        let steps = line_steps(x1 - x0, y1 - y0);
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
        let stride = self.w as usize * 3;
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
                // One glyph row: its clipped rows, then each lit font pixel's
                // clipped columns (what one `fill` per font pixel paints).
                let py = y + r as i64 * scale;
                let (ya, yb) = (py.clamp(0, self.h), (py + scale).clamp(0, self.h));
                if ya >= yb {
                    continue;
                }
                if gx >= 0 && gx + 8 * scale <= self.w {
                    // The whole glyph row is inside the frame: one slice per row.
                    let (from, n) = (gx as usize * 3, 24 * scale as usize);
                    for row in ya as usize..yb as usize {
                        let at = row * stride + from;
                        paint_bits(&mut self.px[at..at + n], *bits, c);
                    }
                    continue;
                }
                for col in 0..8 {
                    if bits & (1 << col) == 0 {
                        continue;
                    }
                    let px = gx + col * scale;
                    let (xa, xb) = (px.clamp(0, self.w), (px + scale).clamp(0, self.w));
                    for row in ya as usize..yb as usize {
                        let at = row * stride;
                        for p in
                            self.px[at + xa as usize * 3..at + xb as usize * 3].chunks_exact_mut(3)
                        {
                            p.copy_from_slice(&c);
                        }
                    }
                }
            }
        }
    }
}

/// One row of a glyph row at any scale (`seg` is 8 font pixels wide):
/// the font pixels whose bit is set, in `c`.
fn paint_bits(seg: &mut [u8], bits: u8, c: Bgr) {
    let w = seg.len() / 8;
    for (col, font_px) in seg.chunks_exact_mut(w).enumerate() {
        if bits & (1 << col) != 0 {
            for p in font_px.chunks_exact_mut(3) {
                p.copy_from_slice(&c);
            }
        }
    }
}

/// Bytes in a run of whole pixels that fills and blends handle at once.
const RUN: usize = 48;

/// A colour repeated over a run of pixels, copied a run at a time.
struct Pattern([u8; RUN]);

impl Pattern {
    fn new(c: Bgr) -> Pattern {
        Pattern(core::array::from_fn(|j| c[j % 3]))
    }

    /// Paint `row` (whole pixels) in the colour.
    fn paint(&self, row: &mut [u8]) {
        let (runs, rest) = row.as_chunks_mut::<RUN>();
        for run in runs {
            *run = self.0;
        }
        let n = rest.len();
        rest.copy_from_slice(&self.0[..n]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The per-pixel drawing the run-at-a-time code replaced: the reference.
    fn fill_ref(px: &mut [u8], w: i64, h: i64, r: (i64, i64, i64, i64), c: Bgr) {
        let (x0, x1) = (r.0.clamp(0, w), r.2.clamp(0, w));
        let (y0, y1) = (r.1.clamp(0, h), r.3.clamp(0, h));
        for y in y0..y1 {
            for x in x0..x1 {
                let i = ((y * w + x) * 3) as usize;
                px[i..i + 3].copy_from_slice(&c);
            }
        }
    }

    fn blend_ref(px: &mut [u8], w: i64, h: i64, r: (i64, i64, i64, i64), c: Bgr, alpha: u16) {
        let (x0, x1) = (r.0.clamp(0, w), r.2.clamp(0, w));
        let (y0, y1) = (r.1.clamp(0, h), r.3.clamp(0, h));
        let a = alpha.min(256);
        for y in y0..y1 {
            for x in x0..x1 {
                let i = ((y * w + x) * 3) as usize;
                for k in 0..3 {
                    px[i + k] = ((px[i + k] as u16 * (256 - a) + c[k] as u16 * a) >> 8) as u8;
                }
            }
        }
    }

    fn text_ref(px: &mut [u8], w: i64, h: i64, at: (i64, i64), text: &str, s: i64, c: Bgr) {
        for (i, ch) in text.chars().take(MAX_CHARS).enumerate() {
            let glyph = BASIC_LEGACY[if ch.is_ascii() {
                ch as usize
            } else {
                b'?' as usize
            }];
            let gx = at.0 + i as i64 * 8 * s;
            if gx >= w {
                break;
            }
            for (r, bits) in glyph.iter().enumerate() {
                for col in 0..8 {
                    if bits & (1 << col) != 0 {
                        let (x, y) = (gx + col * s, at.1 + r as i64 * s);
                        fill_ref(px, w, h, (x, y, x + s, y + s), c);
                    }
                }
            }
        }
    }

    /// A frame of varied bytes (not one colour: a blend must mix real pixels).
    fn frame(w: i64, h: i64) -> Vec<u8> {
        (0..w * h * 3).map(|i| (i * 7919 % 251) as u8).collect()
    }

    /// Rectangles inside, across every edge, outside, empty, one pixel,
    /// wider than a run, and a remainder of every length.
    fn rects(w: i64, h: i64) -> Vec<(i64, i64, i64, i64)> {
        let mut v = vec![
            (0, 0, w, h),
            (-5, -5, 3, 3),
            (w - 3, h - 2, w + 9, h + 9),
            (10, 10, 10, 20),
            (5, 5, 6, 6),
            (-20, 3, -1, 9),
            (w + 1, 0, w + 5, 4),
            (3, 4, 2, 9),
        ];
        v.extend((1..40).map(|n| (n % 7, n % 5, n % 7 + n, n % 5 + 3)));
        v
    }

    #[test]
    fn fills_blends_and_text_match_the_per_pixel_reference() {
        let (w, h) = (53, 37);
        for (n, r) in rects(w, h).into_iter().enumerate() {
            let c = [(n as u8).wrapping_mul(13), 200 - n as u8, 7 + n as u8];
            let (mut got, mut want) = (frame(w, h), frame(w, h));
            Canvas { px: &mut got, w, h }.fill(r.0, r.1, r.2, r.3, c);
            fill_ref(&mut want, w, h, r, c);
            assert!(got == want, "fill {r:?}");
            for alpha in [0, 1, 200, 255, 256, 300] {
                let (mut got, mut want) = (frame(w, h), frame(w, h));
                Canvas { px: &mut got, w, h }.blend(r.0, r.1, r.2, r.3, c, alpha);
                blend_ref(&mut want, w, h, r, c, alpha);
                assert!(got == want, "blend {r:?} alpha {alpha}");
            }
        }
        let texts = ["person #12 87%", "in view 3   total 41", "é?~ {}|", ""];
        for (x, y) in [(0, 0), (-7, -3), (40, 30), (2, 33), (50, 1), (-100, 5)] {
            for t in texts {
                for s in 1..=3 {
                    let (mut got, mut want) = (frame(w, h), frame(w, h));
                    Canvas { px: &mut got, w, h }.text(x, y, t, s, [1, 2, 3]);
                    text_ref(&mut want, w, h, (x, y), t, s, [1, 2, 3]);
                    assert!(got == want, "text {t:?} at {x},{y} scale {s}");
                }
            }
        }
    }
}
