//! {{name}}: a topics stage (stats -> MQTT messages).
//! Build: `edgepipe plugin build {{name}}` (from this folder's parent).

use edgepipe_sdk::{FrameInfo, Message, Qos, Stat, Topics};

#[derive(Default)]
struct {{Class}};

impl Topics for {{Class}} {
    fn route(&mut self, info: FrameInfo, stats: Vec<Stat>) -> Vec<Message> {
        let Some(count) = stats.iter().find(|s| s.name == "count") else { return Vec::new() };
        // info.camera: the camera the frame is from ("default" with one source).
        let payload = format!(
            r#"{{"count":{},"frame":{},"camera":"{}"}}"#,
            count.value, info.index, info.camera
        );
        vec![Message::new("{{name}}/count", payload, Qos::AtLeastOnce, false)]
    }
}

edgepipe_sdk::export_topics!({{Class}});
