//! legacy-v2-topics: a topics stage built against edgepipe:plugin@0.2.0 (SDK
//! feature `v0_2_0`, a `frame-info` without camera): `legacy-v2/frame`
//! `{"frame":I}` on every frame and, from its `finish` (0.2.0's addition),
//! `legacy-v2/finish` `{"frames":N,"stats":S}` (S: final stats received).

use edgepipe_sdk::{log, FrameInfo, Level, Message, Qos, Stat, Topics};

#[derive(Default)]
struct LegacyV2 {
    frames: u64,
}

impl Topics for LegacyV2 {
    fn route(&mut self, info: FrameInfo, _stats: Vec<Stat>) -> Vec<Message> {
        if self.frames == 0 {
            log(
                Level::Info,
                &format!(
                    "legacy-v2-topics built against edgepipe:plugin@{}",
                    edgepipe_sdk::API_VERSION
                ),
            );
        }
        self.frames += 1;
        vec![Message::new(
            "legacy-v2/frame",
            format!("{{\"frame\":{}}}", info.index),
            Qos::AtLeastOnce,
            false,
        )]
    }

    fn finish(&mut self, stats: Vec<Stat>) -> Vec<Message> {
        vec![Message::new(
            "legacy-v2/finish",
            format!("{{\"frames\":{},\"stats\":{}}}", self.frames, stats.len()),
            Qos::AtLeastOnce,
            false,
        )]
    }

    fn save(&self) -> Vec<u8> {
        self.frames.to_le_bytes().to_vec()
    }

    fn restore(&mut self, state: Vec<u8>) -> Result<(), String> {
        if state.is_empty() {
            return Ok(());
        }
        let b: [u8; 8] = state.as_slice().try_into().map_err(|_| "bad state")?;
        self.frames = u64::from_le_bytes(b);
        Ok(())
    }
}

edgepipe_sdk::export_topics!(LegacyV2);
