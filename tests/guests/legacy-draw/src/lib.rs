//! legacy-draw: a pixel draw stage of the frozen contract 0.3.0 (world
//! `draw`): inverts the frame's top-left 8x8 pixels (so a test sees it
//! got the frame as drawn before it).

use edgepipe_sdk::{Detection, Draw, FrameInfo, Stat};

#[derive(Default)]
struct LegacyDraw;

impl Draw for LegacyDraw {
    fn draw(&mut self, info: FrameInfo, pixels: &mut [u8], _: Vec<Detection>, _: Vec<Stat>) {
        let (w, h) = (info.width as usize, info.height as usize);
        if pixels.len() != w * h * 3 || w < 8 || h < 8 {
            return;
        }
        for y in 0..8 {
            for b in &mut pixels[y * w * 3..(y * w + 8) * 3] {
                *b = 255 - *b;
            }
        }
    }
}

edgepipe_sdk::export_draw!(LegacyDraw);
