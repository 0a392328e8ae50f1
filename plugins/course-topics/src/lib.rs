//! course-topics: the course app's MQTT wire format.
//! `person` `{"count":N,"total":T}` every frame, `person/duration`
//! `{"duration":S}` for each person who leaves. Setting `include_frame = true`
//! adds `"frame":<index>` to `person`, so a receiver can tell frames apart.

use edgepipe_sdk::{parse_setting, setting, FrameInfo, Message, Qos, Settings, Stat, Topics};

struct CourseTopics {
    prefix: String,
    qos: Qos,
    include_frame: bool,
}

impl Default for CourseTopics {
    fn default() -> Self {
        CourseTopics { prefix: String::new(), qos: Qos::AtLeastOnce, include_frame: false }
    }
}

fn qos_from(n: u8) -> Result<Qos, String> {
    match n {
        0 => Ok(Qos::AtMostOnce),
        1 => Ok(Qos::AtLeastOnce),
        2 => Ok(Qos::ExactlyOnce),
        _ => Err(format!("setting `qos`: {n} is not 0, 1 or 2")),
    }
}

impl Topics for CourseTopics {
    fn configure(&mut self, settings: Settings) -> Result<(), String> {
        self.qos = qos_from(parse_setting(&settings, "qos", 1u8)?)?;
        self.include_frame = parse_setting(&settings, "include_frame", false)?;
        if let Some(p) = setting(&settings, "prefix") {
            self.prefix = p.trim_end_matches('/').to_string();
            if !self.prefix.is_empty() {
                self.prefix.push('/');
            }
        }
        Ok(())
    }

    fn route(&mut self, info: FrameInfo, stats: Vec<Stat>) -> Vec<Message> {
        let find = |name: &str| stats.iter().find(|s| s.name == name).map(|s| s.value.as_str());
        let mut out = Vec::new();
        if let (Some(count), Some(total)) = (find("count"), find("total")) {
            let payload = if self.include_frame {
                format!("{{\"count\":{count},\"total\":{total},\"frame\":{}}}", info.index)
            } else {
                format!("{{\"count\":{count},\"total\":{total}}}")
            };
            out.push(Message::new(&format!("{}person", self.prefix), payload, self.qos, false));
        }
        for d in stats.iter().filter(|s| s.name == "duration") {
            let payload = format!("{{\"duration\":{}}}", d.value);
            out.push(Message::new(&format!("{}person/duration", self.prefix), payload, self.qos, false));
        }
        out
    }
}

edgepipe_sdk::export_topics!(CourseTopics);
