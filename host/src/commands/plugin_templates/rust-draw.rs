//! {{name}}: a draw stage (BGR24 pixels -> BGR24 pixels, same size).
//! Build: `edgepipe plugin build {{name}}` (from this folder's parent).

use edgepipe_sdk::{Detection, Draw, FrameInfo, Stat};

#[derive(Default)]
struct {{Class}};

impl Draw for {{Class}} {
    fn draw(&mut self, info: FrameInfo, pixels: &mut [u8], _detections: Vec<Detection>, _stats: Vec<Stat>) {
        // A red bar two rows tall across the top.
        let n = (info.width as usize * 2 * 3).min(pixels.len());
        for px in pixels[..n].chunks_exact_mut(3) {
            px.copy_from_slice(&[0, 0, 255]);
        }
    }
}

edgepipe_sdk::export_draw!({{Class}});
