//! Paints the shapes an `overlay` stage returned on the frame, in place, in
//! order, clipped to it; a frame's shapes are bounded (count, text bytes,
//! area painted) and what goes beyond is refused and counted, never drawn.

use super::bindings::latest::{Area, Bgr, Shape};
use super::canvas::{self, Canvas};

/// Most shapes painted on one frame; the rest are refused.
pub const MAX_SHAPES: usize = 4096;
/// Most bytes of text (all `text` shapes together) on one frame.
pub const MAX_TEXT_BYTES: usize = 64 << 10;
/// Most paint on one frame, in frame areas: a shape whose pixels would
/// take the frame's total past this many times its area is refused.
pub const MAX_PAINT_FRAMES: u64 = 16;
/// Widest brush of a `line`.
pub const MAX_LINE_THICKNESS: i64 = 64;
/// Largest font pixel of a `text`.
pub const MAX_TEXT_SCALE: i64 = 32;

/// What became of one frame's shapes.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Painted {
    pub painted: usize,
    pub refused: usize,
    /// Why the first refused shape was refused.
    pub reason: Option<&'static str>,
}

impl Painted {
    fn refuse(&mut self, n: usize, reason: &'static str) {
        self.refused += n;
        self.reason.get_or_insert(reason);
    }
}

/// Paint `shapes` on `px`, a BGR24 frame of `width` x `height` pixels.
/// A frame whose length is not `width * height * 3` is left alone and every
/// shape refused.
pub fn paint(px: &mut [u8], width: u32, height: u32, shapes: &[Shape]) -> Painted {
    let mut out = Painted::default();
    let (w, h) = (i64::from(width), i64::from(height));
    if usize::try_from(w * h * 3).ok() != Some(px.len()) {
        out.refuse(shapes.len(), "the frame's size does not match its pixels");
        return out;
    }
    let mut cv = Canvas { px, w, h };
    let (kept, beyond) = shapes.split_at(shapes.len().min(MAX_SHAPES));
    let budget = (w * h).max(1) as u64 * MAX_PAINT_FRAMES;
    let (mut paint, mut text) = (0u64, 0usize);
    for s in kept {
        if let Shape::Text(t) = s {
            if text + t.text.len() > MAX_TEXT_BYTES {
                out.refuse(1, "more than 64 KiB of text in a frame");
                continue;
            }
            text += t.text.len();
        }
        let cost = cost(&cv, s);
        if paint + cost > budget {
            out.refuse(1, "more paint than 16 times the frame's area in a frame");
            continue;
        }
        paint += cost;
        draw(&mut cv, s);
        out.painted += 1;
    }
    if !beyond.is_empty() {
        out.refuse(beyond.len(), "more than 4096 shapes in a frame");
    }
    out
}

fn bgr(c: &Bgr) -> canvas::Bgr {
    [c.b, c.g, c.r]
}

fn corners(a: &Area) -> (i64, i64, i64, i64) {
    (a.x0.into(), a.y0.into(), a.x1.into(), a.y1.into())
}

fn thickness(t: u32) -> i64 {
    i64::from(t).clamp(1, MAX_LINE_THICKNESS)
}

fn scale(s: u32) -> i64 {
    i64::from(s).clamp(1, MAX_TEXT_SCALE)
}

fn draw(cv: &mut Canvas, s: &Shape) {
    match s {
        Shape::Fill(f) => {
            let (x0, y0, x1, y1) = corners(&f.area);
            cv.fill(x0, y0, x1, y1, bgr(&f.colour));
        }
        Shape::Blend(b) => {
            let (x0, y0, x1, y1) = corners(&b.area);
            cv.blend(x0, y0, x1, y1, bgr(&b.colour), b.alpha);
        }
        Shape::Outline(o) => {
            let (x0, y0, x1, y1) = corners(&o.area);
            cv.rect(x0, y0, x1, y1, o.thickness.into(), bgr(&o.colour));
        }
        Shape::Line(l) => {
            let (x0, y0, x1, y1) = (l.x0.into(), l.y0.into(), l.x1.into(), l.y1.into());
            cv.line(x0, y0, x1, y1, thickness(l.thickness), bgr(&l.colour));
        }
        Shape::Text(t) => {
            let (x, y) = (t.x.into(), t.y.into());
            cv.text(x, y, &t.text, scale(t.scale), bgr(&t.colour));
        }
    }
}

/// At most how many pixels `s` paints (what counts against the budget).
fn cost(cv: &Canvas, s: &Shape) -> u64 {
    match s {
        Shape::Fill(f) => cv.area(corners(&f.area)),
        Shape::Blend(b) => cv.area(corners(&b.area)),
        Shape::Outline(o) => {
            let (x0, y0, x1, y1) = corners(&o.area);
            let t = i64::from(o.thickness);
            [
                (x0, y0, x1, (y0 + t).min(y1)),
                (x0, (y1 - t).max(y0), x1, y1),
                (x0, y0, (x0 + t).min(x1), y1),
                ((x1 - t).max(x0), y0, x1, y1),
            ]
            .into_iter()
            .map(|r| cv.area(r))
            .sum()
        }
        Shape::Line(l) => {
            let (dx, dy) = (
                i64::from(l.x1) - i64::from(l.x0),
                i64::from(l.y1) - i64::from(l.y0),
            );
            let steps = canvas::line_steps(dx, dy) as u64 + 1;
            let r = thickness(l.thickness) as u64;
            steps * r * r
        }
        Shape::Text(t) => {
            let chars = t.text.chars().take(canvas::MAX_CHARS).count() as u64;
            let s = scale(t.scale) as u64;
            chars * 64 * s * s
        }
    }
}

#[cfg(test)]
mod tests;
