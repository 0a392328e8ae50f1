//! Boxes in frame pixels and their overlap, all maths in f64 (f32 products of
//! large coordinates overflow).

use serde::{Deserialize, Serialize};

/// A box: top-left corner and size, finite, size >= 0.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct BBox {
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
}

impl BBox {
    /// `None` unless every field is finite; a negative size flips the corner.
    pub fn new(x: f64, y: f64, w: f64, h: f64) -> Option<BBox> {
        if !(x.is_finite() && y.is_finite() && w.is_finite() && h.is_finite()) {
            return None;
        }
        let (x, w) = if w < 0.0 { (x + w, -w) } else { (x, w) };
        let (y, h) = if h < 0.0 { (y + h, -h) } else { (y, h) };
        Some(BBox { x, y, w, h })
    }

    pub fn is_valid(&self) -> bool {
        BBox::new(self.x, self.y, self.w, self.h).is_some_and(|b| b == *self)
    }

    pub fn area(&self) -> f64 {
        self.w * self.h
    }

    pub fn iou(&self, o: &BBox) -> f64 {
        let ix = ((self.x + self.w).min(o.x + o.w) - self.x.max(o.x)).max(0.0);
        let iy = ((self.y + self.h).min(o.y + o.h) - self.y.max(o.y)).max(0.0);
        let inter = ix * iy;
        let union = self.area() + o.area() - inter;
        if union > 0.0 && union.is_finite() {
            inter / union
        } else {
            0.0
        }
    }

    pub fn centre(&self) -> (f64, f64) {
        (self.x + self.w / 2.0, self.y + self.h / 2.0)
    }

    /// Bottom centre: where a person stands (line and zone anchor).
    pub fn foot(&self) -> (f64, f64) {
        (self.x + self.w / 2.0, self.y + self.h)
    }
}

/// 1 - IoU for every (a, b) pair, row-major: the cost matrix of association.
pub fn iou_cost(a: &[BBox], b: &[BBox]) -> Vec<f64> {
    let mut out = Vec::with_capacity(a.len() * b.len());
    for x in a {
        out.extend(b.iter().map(|y| 1.0 - x.iou(y)));
    }
    out
}
