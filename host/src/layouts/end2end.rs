//! End-to-end output `[1, N, 6]` (YOLOv10/YOLO26/RT-DETR style): per row
//! `x1, y1, x2, y2` in input pixels, score, class; the model has already
//! removed duplicates, so the host runs no NMS.

use super::DecodeError;
use crate::detect::{BBox, Detection, Letterbox};

/// Decode rows of 6 (row-major, batch 1): rows scoring at least
/// `confidence`, boxes mapped to frame pixels; a class id that is not one of
/// the `labels` model classes is an error.
pub fn decode(
    data: &[f32],
    confidence: f32,
    labels: usize,
    lb: &Letterbox,
) -> Result<Vec<Detection>, DecodeError> {
    let mut out = Vec::new();
    for row in data.chunks_exact(6) {
        let score = row[4];
        if score.is_nan() || score < confidence {
            continue;
        }
        let class_id = super::class_id(row[5], 0.0, labels)?;
        let bbox = lb.to_frame(&BBox::from_corners(row[0], row[1], row[2], row[3]));
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
    fn rows_above_confidence_map_to_frame() {
        let lb = Letterbox::new(768, 576, 640, 640);
        #[rustfmt::skip]
        let data = [
            100.0, 180.0, 150.0, 280.0, 0.9, 3.0,
            100.0, 180.0, 150.0, 280.0, 0.1, 3.0, // below confidence
            100.0, 180.0, 100.0, 280.0, 0.8, 2.0, // empty box
        ];
        let dets = decode(&data, 0.25, 80, &lb).unwrap();
        assert_eq!(dets.len(), 1);
        assert_eq!(dets[0].class_id, 3);
        let b = dets[0].bbox;
        assert!(
            (b.x - 120.0).abs() < 1e-3 && (b.width - 60.0).abs() < 1e-3,
            "{b:?}"
        );
    }

    #[test]
    fn a_class_beyond_the_labels_is_an_error() {
        let lb = Letterbox::new(64, 64, 64, 64);
        let row = [1.0, 1.0, 9.0, 9.0, 0.9, 80.0];
        let e = decode(&row, 0.25, 80, &lb).unwrap_err();
        assert_eq!(e.to_string(), "class id 80 is beyond the model's 80 labels");
        for bad in [-1.0, f32::NAN, 2.5] {
            let row = [1.0, 1.0, 9.0, 9.0, 0.9, bad];
            assert!(decode(&row, 0.25, 80, &lb).is_err(), "{bad}");
        }
        // Rows under the threshold are not looked at.
        let row = [1.0, 1.0, 9.0, 9.0, 0.1, 1e9];
        assert!(decode(&row, 0.25, 80, &lb).unwrap().is_empty());
    }
}
