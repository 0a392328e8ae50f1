//! hostile-topics: a topics stage that returns, on every frame, one message
//! the host must refuse without harm (see tests/guests/README.md): settings
//! `topic` (default `hostile`), `bytes` (payload size, default 2) and `qos`.

use edgepipe_sdk::{parse_setting, setting, FrameInfo, Message, Qos, Settings, Stat, Topics};

#[derive(Default)]
struct HostileTopics {
    topic: String,
    payload: String,
    qos: u8,
}

impl Topics for HostileTopics {
    fn configure(&mut self, settings: Settings) -> Result<(), String> {
        self.topic = setting(&settings, "topic").unwrap_or("hostile").to_string();
        let bytes: usize = parse_setting(&settings, "bytes", 2)?;
        self.payload = "x".repeat(bytes);
        self.qos = parse_setting(&settings, "qos", 1)?;
        Ok(())
    }

    fn route(&mut self, _info: FrameInfo, _stats: Vec<Stat>) -> Vec<Message> {
        let qos = match self.qos {
            0 => Qos::AtMostOnce,
            2 => Qos::ExactlyOnce,
            _ => Qos::AtLeastOnce,
        };
        vec![Message::new(&self.topic, self.payload.clone(), qos, false)]
    }
}

edgepipe_sdk::export_topics!(HostileTopics);
