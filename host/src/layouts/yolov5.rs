//! YOLOv5/YOLOX-style output `[1, N, 5 + C]`: per row `cx, cy, w, h` in
//! input pixels, an objectness, then C class scores; a detection's score is
//! objectness x its best class score. NMS in the host.

use crate::detect::{BBox, Detection, Letterbox};

/// Decode `n` rows of `5 + classes` (row-major, batch 1): keep rows whose
/// objectness x best class score is at least `confidence`; boxes mapped to
/// frame pixels with `lb`. No NMS here.
pub fn decode(data: &[f32], classes: usize, confidence: f32, lb: &Letterbox) -> Vec<Detection> {
    let width = 5 + classes;
    let mut out = Vec::new();
    for row in data.chunks_exact(width) {
        let objectness = row[4];
        // Rows whose objectness alone is below the threshold cannot pass.
        if objectness.is_nan() || objectness < confidence {
            continue;
        }
        let (class, best) =
            row[5..]
                .iter()
                .enumerate()
                .fold(
                    (0, f32::NEG_INFINITY),
                    |b, (k, &s)| if s > b.1 { (k, s) } else { b },
                );
        let score = objectness * best;
        if score.is_nan() || score < confidence {
            continue;
        }
        let (cx, cy, w, h) = (row[0], row[1], row[2], row[3]);
        if !(w > 0.0 && h > 0.0) {
            continue;
        }
        let bbox = lb.to_frame(&BBox {
            x: cx - w / 2.0,
            y: cy - h / 2.0,
            width: w,
            height: h,
        });
        if bbox.area() > 0.0 {
            out.push(Detection {
                class_id: class as u32,
                score,
                bbox,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn score_is_objectness_times_class_and_boxes_map_to_frame() {
        let lb = Letterbox::new(768, 576, 640, 640);
        #[rustfmt::skip]
        let data = [
            // cx, cy, w, h, obj, c0, c1
            125.0, 230.0, 50.0, 100.0, 0.9, 0.2, 1.0,  // 0.9 x 1.0, class 1
            125.0, 230.0, 50.0, 100.0, 0.5, 0.4, 0.3,  // 0.5 x 0.4 = 0.2 < 0.25
            125.0, 230.0, 50.0, 100.0, 0.1, 1.0, 1.0,  // objectness too low
            125.0, 230.0, 0.0, 100.0, 0.9, 1.0, 0.0,   // empty box
            125.0, 230.0, 50.0, 100.0, f32::NAN, 1.0, 1.0,
        ];
        let dets = decode(&data, 2, 0.25, &lb);
        assert_eq!(dets.len(), 1, "{dets:?}");
        assert_eq!(dets[0].class_id, 1);
        assert!((dets[0].score - 0.9).abs() < 1e-6);
        assert!((dets[0].bbox.x - 120.0).abs() < 1e-3 && (dets[0].bbox.y - 120.0).abs() < 1e-3);
        // A trailing partial row is ignored, not read past.
        assert_eq!(decode(&data[..10], 2, 0.25, &lb).len(), 1);
    }
}
