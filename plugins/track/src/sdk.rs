//! From the plugin contract's detections to the tracker's (feature `sdk`).

use edgepipe_sdk::Detection;

use crate::geom::BBox;
use crate::tracker::Det;

/// `detections` as the tracker sees them, index for index: those not of
/// `label`, or with a non-finite box, become placeholders the tracker ignores,
/// so a track's `det` is an index into the frame's own list.
pub fn tracker_input(label: &str, detections: &[Detection]) -> Vec<Det> {
    detections
        .iter()
        .map(|d| {
            let b = d.bbox;
            match BBox::new(b.x as f64, b.y as f64, b.width as f64, b.height as f64) {
                Some(bbox) if d.label == label => Det {
                    bbox,
                    score: d.score,
                },
                _ => Det {
                    bbox: BBox {
                        x: 0.0,
                        y: 0.0,
                        w: 0.0,
                        h: 0.0,
                    },
                    score: f32::NAN,
                },
            }
        })
        .collect()
}
