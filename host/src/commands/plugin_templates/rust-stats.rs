//! {{name}}: a stats stage (detections -> stats).
//! Build: `edgepipe plugin build {{name}}` (from this folder's parent).

use edgepipe_sdk::{parse_setting, Detection, FrameInfo, Settings, Stat, Stats};

#[derive(Default)]
struct {{Class}} {
    min_score: f32,
    frames_with: u64,
}

impl Stats for {{Class}} {
    fn configure(&mut self, settings: Settings) -> Result<(), String> {
        self.min_score = parse_setting(&settings, "min_score", 0.5)?;
        Ok(())
    }
    fn update(&mut self, _info: FrameInfo, detections: Vec<Detection>) -> Vec<Stat> {
        let n = detections.iter().filter(|d| d.label == "person" && d.score >= self.min_score).count();
        if n > 0 {
            self.frames_with += 1;
        }
        vec![Stat::json("person", n), Stat::json("person_frames", self.frames_with)]
    }
    // Carried across hot reloads.
    fn save(&self) -> Vec<u8> {
        self.frames_with.to_le_bytes().to_vec()
    }
    fn restore(&mut self, state: Vec<u8>) -> Result<(), String> {
        if let Ok(b) = <[u8; 8]>::try_from(state.as_slice()) {
            self.frames_with = u64::from_le_bytes(b);
        }
        Ok(())
    }
}

edgepipe_sdk::export_stats!({{Class}});
