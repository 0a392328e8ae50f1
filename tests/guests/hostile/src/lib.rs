//! hostile: a stats stage that misbehaves on purpose (see tests/guests/README.md).

use edgepipe_sdk::{parse_setting, setting, Detection, FrameInfo, Settings, Stat, Stats};

#[derive(Default)]
struct Hostile {
    mode: String,
    at: Option<u64>,
    seen: u64,
}

impl Stats for Hostile {
    fn configure(&mut self, settings: Settings) -> Result<(), String> {
        self.mode = setting(&settings, "mode").unwrap_or("ok").to_string();
        if !["ok", "loop", "alloc", "panic", "fail-restore"].contains(&self.mode.as_str()) {
            return Err(format!("setting `mode`: unknown mode {:?}", self.mode));
        }
        self.at = match setting(&settings, "at") {
            Some(_) => Some(parse_setting(&settings, "at", 0u64)?),
            None => None,
        };
        Ok(())
    }

    fn update(&mut self, info: FrameInfo, _detections: Vec<Detection>) -> Vec<Stat> {
        if self.at.is_none_or(|at| at == info.index) {
            match self.mode.as_str() {
                "loop" => loop {
                    std::hint::black_box(&mut self.seen);
                },
                "alloc" => {
                    let big = vec![1u8; 1 << 30];
                    std::hint::black_box(&big);
                }
                "panic" => panic!("hostile guest panics on frame {}", info.index),
                _ => {}
            }
        }
        self.seen += 1;
        vec![Stat::json("seen", self.seen)]
    }

    fn save(&self) -> Vec<u8> {
        self.seen.to_le_bytes().to_vec()
    }

    fn restore(&mut self, state: Vec<u8>) -> Result<(), String> {
        if self.mode == "fail-restore" {
            return Err("hostile guest refuses every state".into());
        }
        if state.is_empty() {
            return Ok(());
        }
        let bytes: [u8; 8] = state.as_slice().try_into().map_err(|_| format!("expected 8 bytes of state, got {}", state.len()))?;
        self.seen = u64::from_le_bytes(bytes);
        Ok(())
    }
}

edgepipe_sdk::export_stats!(Hostile);
