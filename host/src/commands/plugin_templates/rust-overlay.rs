//! {{name}}: an overlay stage (a draw stage that returns shapes: the host
//! paints them, the frame's pixels never travel into the stage).
//! Build: `edgepipe plugin build {{name}}` (from this folder's parent).
//! In a pipeline it is a stage of kind = "draw".

use edgepipe_sdk::{parse_setting, text_width, Detection, FrameInfo, Overlay, Settings, Shapes, Stat};

const GREEN: [u8; 3] = [0, 255, 0]; // [blue, green, red]
const WHITE: [u8; 3] = [255, 255, 255];
const BLACK: [u8; 3] = [0, 0, 0];

struct {{Class}} {
    thickness: i64,
    min_score: f32,
}

impl Default for {{Class}} {
    fn default() -> Self {
        {{Class}} { thickness: 2, min_score: 0.5 }
    }
}

impl Overlay for {{Class}} {
    fn configure(&mut self, settings: Settings) -> Result<(), String> {
        self.thickness = parse_setting(&settings, "thickness", 2)?;
        self.min_score = parse_setting(&settings, "min_score", 0.5)?;
        Ok(())
    }

    fn overlay(&mut self, _info: FrameInfo, detections: Vec<Detection>, _stats: Vec<Stat>) -> Shapes {
        let mut shapes = Shapes::default();
        let shown: Vec<&Detection> = detections.iter().filter(|d| d.score >= self.min_score).collect();
        for d in &shown {
            // Whole pixels, truncated toward zero (as `as` does).
            let (x, y) = (d.bbox.x as i64, d.bbox.y as i64);
            let (w, h) = (d.bbox.width as i64, d.bbox.height as i64);
            shapes.rect(x, y, x + w, y + h, self.thickness, GREEN);
            shapes.text(x, y - 10, &d.label, 1, GREEN);
        }
        // A half-transparent panel with the count in the top-left corner.
        let label = format!("{} shown", shown.len());
        shapes.blend(0, 0, text_width(&label, 2) + 8, 24, BLACK, 128);
        shapes.text(4, 4, &label, 2, WHITE);
        shapes
    }
}

edgepipe_sdk::export_overlay!({{Class}});
