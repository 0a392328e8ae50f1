//! camera-topics: a topics stage of edgepipe:plugin@0.3.0 that says which
//! camera each frame came from: `camera/frame` (setting `topic`)
//! `{"camera":"<info.camera>","frame":I}` on every frame, and the same
//! name in its `finish` message `camera/finish` `{"camera":"<name>"}`.

use edgepipe_sdk::{parse_setting, FrameInfo, Message, Qos, Settings, Stat, Topics};

#[derive(Default)]
struct CameraTopics {
    topic: String,
    camera: Option<String>,
}

impl Topics for CameraTopics {
    fn configure(&mut self, settings: Settings) -> Result<(), String> {
        self.topic = parse_setting(&settings, "topic", "camera/frame".to_string())?;
        Ok(())
    }

    fn route(&mut self, info: FrameInfo, _stats: Vec<Stat>) -> Vec<Message> {
        let payload = format!(
            "{{\"camera\":\"{}\",\"frame\":{}}}",
            info.camera, info.index
        );
        self.camera = Some(info.camera);
        vec![Message::new(&self.topic, payload, Qos::AtLeastOnce, false)]
    }

    fn finish(&mut self, _stats: Vec<Stat>) -> Vec<Message> {
        match &self.camera {
            Some(c) => vec![Message::new(
                "camera/finish",
                format!("{{\"camera\":\"{c}\"}}"),
                Qos::AtLeastOnce,
                false,
            )],
            None => Vec::new(),
        }
    }

    fn save(&self) -> Vec<u8> {
        self.camera.clone().unwrap_or_default().into_bytes()
    }

    fn restore(&mut self, state: Vec<u8>) -> Result<(), String> {
        let c = String::from_utf8(state).map_err(|e| e.to_string())?;
        self.camera = (!c.is_empty()).then_some(c);
        Ok(())
    }
}

edgepipe_sdk::export_topics!(CameraTopics);
