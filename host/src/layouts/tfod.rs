//! TensorFlow Object Detection API outputs (SSD, SSDLite, ...):
//! `num_detections [1]`, `detection_boxes [1, K, 4]` (ymin, xmin, ymax, xmax,
//! normalised to the input), `detection_scores [1, K]` and
//! `detection_classes [1, K]` (ids from 1; 0 is the background). NMS is in
//! the graph; the input is uint8 RGB, stretched.

use super::DecodeError;
use crate::detect::{BBox, Detection, Letterbox};

/// The four outputs of one frame (batch 1).
pub struct Outputs<'a> {
    pub num: &'a [f32],
    pub boxes: &'a [f32],
    pub scores: &'a [f32],
    pub classes: &'a [f32],
}

/// The first `num_detections` rows scoring at least `confidence`, in frame
/// pixels (through the input geometry `lb`), class ids from 0.
pub fn decode(
    o: &Outputs<'_>,
    confidence: f32,
    labels: usize,
    lb: &Letterbox,
) -> Result<Vec<Detection>, DecodeError> {
    let rows = o.scores.len().min(o.classes.len()).min(o.boxes.len() / 4);
    let num = o.num.first().copied().unwrap_or(0.0);
    let num = if num.is_finite() && num > 0.0 {
        (num as usize).min(rows)
    } else {
        0
    };
    let (w, h) = (lb.dst_w as f32, lb.dst_h as f32);
    let mut out = Vec::new();
    for i in 0..num {
        let score = o.scores[i];
        if score.is_nan() || score < confidence {
            continue;
        }
        let class_id = super::class_id(o.classes[i], 1.0, labels)?;
        let b = &o.boxes[i * 4..i * 4 + 4];
        let input_box = BBox::from_corners(b[1] * w, b[0] * h, b[3] * w, b[2] * h);
        let bbox = lb.to_frame(&input_box);
        if bbox.area() > 0.0 {
            out.push(Detection {
                class_id,
                score,
                bbox,
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalised_boxes_map_through_the_stretch_and_classes_count_from_one() {
        let lb = Letterbox::stretch(768, 576, 300, 300);
        let boxes = [0.25, 0.5, 0.75, 1.0, 0.0, 0.0, 0.5, 0.5, 0.1, 0.1, 0.2, 0.2];
        let o = Outputs {
            num: &[2.0],
            boxes: &boxes,
            scores: &[0.9, 0.1, 0.95],
            classes: &[1.0, 1.0, 1.0],
        };
        // Row 1 is under the threshold; row 2 is past num_detections.
        let dets = decode(&o, 0.25, 1, &lb).unwrap();
        assert_eq!(dets.len(), 1);
        assert_eq!(dets[0].class_id, 0);
        let b = dets[0].bbox;
        assert!(
            (b.x - 384.0).abs() < 1e-2 && (b.y - 144.0).abs() < 1e-2,
            "{b:?}"
        );
        assert!(
            (b.x2() - 768.0).abs() < 1e-2 && (b.y2() - 432.0).abs() < 1e-2,
            "{b:?}"
        );
    }

    #[test]
    fn bad_counts_and_classes() {
        let lb = Letterbox::stretch(100, 100, 300, 300);
        let boxes = [0.0, 0.0, 0.5, 0.5];
        let mut o = Outputs {
            num: &[1e9],
            boxes: &boxes,
            scores: &[0.9],
            classes: &[2.0],
        };
        let e = decode(&o, 0.25, 1, &lb).unwrap_err();
        assert_eq!(e.to_string(), "class id 1 is beyond the model's 1 labels");
        o.classes = &[0.0];
        assert!(
            decode(&o, 0.25, 1, &lb).is_err(),
            "the background class is no label"
        );
        o.num = &[f32::NAN];
        assert!(decode(&o, 0.25, 1, &lb).unwrap().is_empty());
        o.num = &[];
        assert!(decode(&o, 0.25, 1, &lb).unwrap().is_empty());
    }
}
