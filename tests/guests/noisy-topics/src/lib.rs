//! A topics stage for the tenant tests: every frame it returns the messages
//! its settings ask for, valid or not (topics outside any prefix, wildcards,
//! `$`, `..`, oversized payloads, too many messages), so the host's
//! boundaries can be shown to hold.
//!
//! Settings: `topics` (topics separated by `|`), `payload_bytes` (default 2),
//! `repeat` (each topic this many times per frame, default 1).

use edgepipe_sdk::{parse_setting, setting, FrameInfo, Message, Qos, Settings, Stat, Topics};

#[derive(Default)]
struct Noisy {
    topics: Vec<String>,
    payload: String,
    repeat: usize,
}

impl Topics for Noisy {
    fn configure(&mut self, settings: Settings) -> Result<(), String> {
        self.topics = setting(&settings, "topics")
            .unwrap_or("")
            .split('|')
            .map(str::to_string)
            .collect();
        self.payload = "x".repeat(parse_setting(&settings, "payload_bytes", 2usize)?);
        self.repeat = parse_setting(&settings, "repeat", 1usize)?;
        Ok(())
    }

    fn route(&mut self, _info: FrameInfo, _stats: Vec<Stat>) -> Vec<Message> {
        let mut out = Vec::new();
        for _ in 0..self.repeat {
            for t in &self.topics {
                out.push(Message::new(
                    t,
                    self.payload.clone(),
                    Qos::AtLeastOnce,
                    false,
                ));
            }
        }
        out
    }
}

edgepipe_sdk::export_topics!(Noisy);
