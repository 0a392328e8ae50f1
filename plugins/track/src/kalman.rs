//! The constant-velocity Kalman filter of ByteTrack/DeepSORT over
//! (centre x, centre y, aspect w/h, height). Its motion model, process and
//! measurement noise are diagonal per coordinate, so the 8x8 filter splits
//! exactly into four independent (position, velocity) filters with 2x2
//! covariances; that is what is kept here.

use crate::geom::BBox;
use serde::{Deserialize, Serialize};

/// Noise relative to the box height, as in ByteTrack (1/20 and 1/160).
const STD_POSITION: f64 = 1.0 / 20.0;
const STD_VELOCITY: f64 = 1.0 / 160.0;
/// Aspect ratio noise: absolute (it has no scale).
const STD_ASPECT: f64 = 1e-2;
const STD_ASPECT_VELOCITY: f64 = 1e-5;
const STD_ASPECT_MEASURE: f64 = 1e-1;
/// The smallest height used as a noise scale, so a zero-height box still moves.
const MIN_SCALE: f64 = 1.0;

/// One coordinate: position, velocity (per frame), 2x2 covariance.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
struct Axis {
    x: f64,
    v: f64,
    p00: f64,
    p01: f64,
    p11: f64,
}

impl Axis {
    fn new(x: f64, std_x: f64, std_v: f64) -> Axis {
        Axis {
            x,
            v: 0.0,
            p00: std_x * std_x,
            p01: 0.0,
            p11: std_v * std_v,
        }
    }

    fn predict(&mut self, q_x: f64, q_v: f64) {
        self.x += self.v;
        self.p00 += 2.0 * self.p01 + self.p11 + q_x;
        self.p01 += self.p11;
        self.p11 += q_v;
    }

    fn update(&mut self, z: f64, r: f64) {
        let s = self.p00 + r;
        if !(s > 0.0 && s.is_finite()) {
            return;
        }
        let (k0, k1) = (self.p00 / s, self.p01 / s);
        let y = z - self.x;
        self.x += k0 * y;
        self.v += k1 * y;
        let (p00, p01, p11) = (self.p00, self.p01, self.p11);
        self.p00 = (1.0 - k0) * p00;
        self.p01 = (1.0 - k0) * p01;
        self.p11 = p11 - k1 * p01;
    }

    fn is_finite(&self) -> bool {
        [self.x, self.v, self.p00, self.p01, self.p11]
            .iter()
            .all(|f| f.is_finite())
    }
}

/// The filter of one track: axes cx, cy, aspect, height.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub struct Kalman {
    axes: [Axis; 4],
}

fn measure(b: &BBox) -> [f64; 4] {
    let (cx, cy) = b.centre();
    let aspect = if b.h > 0.0 { b.w / b.h } else { 0.0 };
    [cx, cy, aspect, b.h]
}

impl Kalman {
    pub fn new(b: &BBox) -> Kalman {
        let z = measure(b);
        let s = z[3].max(MIN_SCALE);
        let (p, v) = (2.0 * STD_POSITION * s, 10.0 * STD_VELOCITY * s);
        Kalman {
            axes: [
                Axis::new(z[0], p, v),
                Axis::new(z[1], p, v),
                Axis::new(z[2], STD_ASPECT, STD_ASPECT_VELOCITY),
                Axis::new(z[3], p, v),
            ],
        }
    }

    /// One frame ahead. `hold_height`: a lost track stops growing or
    /// shrinking (ByteTrack zeroes the height velocity of tracks not tracked).
    pub fn predict(&mut self, hold_height: bool) {
        if hold_height {
            self.axes[3].v = 0.0;
        }
        let s = self.axes[3].x.max(MIN_SCALE);
        let (qp, qv) = ((STD_POSITION * s).powi(2), (STD_VELOCITY * s).powi(2));
        self.axes[0].predict(qp, qv);
        self.axes[1].predict(qp, qv);
        self.axes[2].predict(STD_ASPECT.powi(2), STD_ASPECT_VELOCITY.powi(2));
        self.axes[3].predict(qp, qv);
    }

    pub fn update(&mut self, b: &BBox) {
        let z = measure(b);
        let s = self.axes[3].x.max(MIN_SCALE);
        let r = (STD_POSITION * s).powi(2);
        self.axes[0].update(z[0], r);
        self.axes[1].update(z[1], r);
        self.axes[2].update(z[2], STD_ASPECT_MEASURE.powi(2));
        self.axes[3].update(z[3], r);
    }

    /// The filtered box (a negative height or aspect is clamped to 0).
    pub fn bbox(&self) -> BBox {
        let h = self.axes[3].x.max(0.0);
        let w = self.axes[2].x.max(0.0) * h;
        BBox {
            x: self.axes[0].x - w / 2.0,
            y: self.axes[1].x - h / 2.0,
            w,
            h,
        }
    }

    /// Velocity of the box centre, pixels per frame.
    pub fn velocity(&self) -> (f64, f64) {
        (self.axes[0].v, self.axes[1].v)
    }

    pub fn is_finite(&self) -> bool {
        self.axes.iter().all(Axis::is_finite)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_a_box_moving_at_constant_speed() {
        let at = |i: f64| BBox {
            x: 100.0 + 4.0 * i,
            y: 50.0 + 2.0 * i,
            w: 40.0,
            h: 100.0,
        };
        let mut k = Kalman::new(&at(0.0));
        for i in 1..30 {
            k.predict(false);
            k.update(&at(i as f64));
        }
        let (vx, vy) = k.velocity();
        assert!(
            (vx - 4.0).abs() < 0.1 && (vy - 2.0).abs() < 0.1,
            "velocity {vx} {vy}"
        );
        // Five frames without measurements: the prediction keeps moving.
        for _ in 0..5 {
            k.predict(true);
        }
        let b = k.bbox();
        let e = at(34.0);
        assert!(
            (b.x - e.x).abs() < 2.0 && (b.y - e.y).abs() < 2.0,
            "{b:?} vs {e:?}"
        );
        assert!((b.w - 40.0).abs() < 1.0 && (b.h - 100.0).abs() < 1.0);
    }
}
