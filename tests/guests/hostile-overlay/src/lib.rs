//! hostile-overlay: an `overlay` stage (contract 0.4.0) that returns what a
//! frame's bounds refuse, chosen by its `mode` setting (see
//! tests/guests/README.md), after a 4x4 marker in its `colour` at the top-left.

use edgepipe_sdk::{parse_setting, setting, Detection, FrameInfo, Overlay, Settings, Shapes, Stat};

const MODES: [&str; 5] = ["ok", "many", "text", "wild", "area"];

#[derive(Default)]
struct HostileOverlay {
    mode: String,
    colour: u8,
    seen: u64,
}

impl Overlay for HostileOverlay {
    fn configure(&mut self, settings: Settings) -> Result<(), String> {
        self.mode = setting(&settings, "mode").unwrap_or("ok").to_string();
        if !MODES.contains(&self.mode.as_str()) {
            return Err(format!("setting `mode`: unknown mode {:?}", self.mode));
        }
        self.colour = parse_setting(&settings, "colour", 255)?;
        Ok(())
    }

    fn overlay(&mut self, info: FrameInfo, _: Vec<Detection>, _: Vec<Stat>) -> Shapes {
        self.seen += 1;
        let (w, h) = (info.width as i64, info.height as i64);
        let c = self.colour;
        let mut s = Shapes::default();
        // First, so that it is painted whatever comes after.
        s.fill(0, 0, 4, 4, [c, c, c]);
        match self.mode.as_str() {
            // 10,000 one-pixel fills: more shapes than a frame takes.
            "many" => (0..10_000).for_each(|i| s.fill(i % w, 10, i % w + 1, 11, [0, 0, 255])),
            // 48-character texts, 2,000 of them: 96,000 bytes of text.
            "text" => (0..2_000).for_each(|i| s.text(8, i, &"W".repeat(48), 1, [0, 255, 0])),
            // Coordinates at the ends of the range, the widest brush, the largest font.
            "wild" => {
                let (lo, hi) = (i64::MIN, i64::MAX);
                s.fill(lo, lo, hi, hi, [1, 2, 3]);
                s.line(lo, hi, hi, lo, hi, [4, 5, 6]);
                s.rect(lo, lo, hi, hi, hi, [7, 8, 9]);
                s.text(lo, hi, "far", hi, [10, 11, 12]);
                s.blend(hi, hi, lo, lo, [13, 14, 15], u16::MAX);
            }
            // 100 blends of all but the top 10 rows: more paint than a frame takes.
            "area" => (0..100).for_each(|_| s.blend(0, 10, w, h, [255, 0, 0], 128)),
            _ => {}
        }
        s
    }

    fn save(&self) -> Vec<u8> {
        self.seen.to_le_bytes().to_vec()
    }

    fn restore(&mut self, state: Vec<u8>) -> Result<(), String> {
        if let Ok(b) = <[u8; 8]>::try_from(state.as_slice()) {
            self.seen = u64::from_le_bytes(b);
        }
        Ok(())
    }
}

edgepipe_sdk::export_overlay!(HostileOverlay);
