//! course-topics: the course app's MQTT wire format.
//! - `person` `{"count":N,"total":T}` every frame (stats `count`, `total`);
//! - `person/duration` `{"duration":S}` for each person who leaves, and at the
//!   end for each person still in view (stats `duration`);
//! - `class` `{"class_names":[...]}` every frame (stat `class_names`);
//! - `speedometer` `{"speed":V}` every frame (stat `speed`);
//! - `line/<name>` `{"in":N,"out":M}` and `zone/<name>` `{"count":N}` when
//!   they change (stats `lines` and `zones` of line-counter);
//! - at the end of the stream `person/total` `{"total":T}` (retained).
//!
//! Settings: `qos` (0, 1, 2; default 1), `prefix` (topic prefix, default none),
//! `include_frame` (add `"frame":<index>` to `person` and `person/duration`,
//! default false).

use std::collections::BTreeMap;

use edgepipe_sdk::{parse_setting, setting, FrameInfo, Message, Qos, Settings, Stat, Topics};
use serde_json::Value;

struct CourseTopics {
    prefix: String,
    qos: Qos,
    include_frame: bool,
    /// Last payload sent per line/zone topic: those go out only on change.
    last: BTreeMap<String, String>,
}

impl Default for CourseTopics {
    fn default() -> Self {
        CourseTopics {
            prefix: String::new(),
            qos: Qos::AtLeastOnce,
            include_frame: false,
            last: BTreeMap::new(),
        }
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

/// A name safe inside one topic level: no wildcards, separators or NULs.
fn topic_level(name: &str) -> String {
    name.chars()
        .map(|c| {
            if matches!(c, '/' | '+' | '#' | '\0') {
                '_'
            } else {
                c
            }
        })
        .collect()
}

impl CourseTopics {
    fn msg(&self, topic: &str, payload: String) -> Message {
        Message::new(&format!("{}{topic}", self.prefix), payload, self.qos, false)
    }

    fn durations(&self, stats: &[Stat], frame: &str, out: &mut Vec<Message>) {
        for d in stats.iter().filter(|s| s.name == "duration") {
            out.push(self.msg(
                "person/duration",
                format!("{{\"duration\":{}{frame}}}", d.value),
            ));
        }
    }

    /// `line/<name>` and `zone/<name>` from line-counter's stats, when changed.
    fn lines_and_zones(&mut self, stats: &[Stat], out: &mut Vec<Message>) {
        for (stat, kind) in [("lines", "line"), ("zones", "zone")] {
            let Some(s) = stats.iter().find(|s| s.name == stat) else {
                continue;
            };
            let Ok(Value::Array(items)) = serde_json::from_str::<Value>(&s.value) else {
                continue;
            };
            for item in &items {
                let Some(name) = item.get("name").and_then(Value::as_str) else {
                    continue;
                };
                let n = |k: &str| item.get(k).and_then(Value::as_u64).unwrap_or(0);
                let payload = match kind {
                    "line" => format!("{{\"in\":{},\"out\":{}}}", n("in"), n("out")),
                    _ => format!("{{\"count\":{}}}", n("count")),
                };
                let topic = format!("{kind}/{}", topic_level(name));
                if self.last.get(&topic) != Some(&payload) {
                    out.push(self.msg(&topic, payload.clone()));
                    self.last.insert(topic, payload);
                }
            }
        }
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
        let find = |name: &str| {
            stats
                .iter()
                .find(|s| s.name == name)
                .map(|s| s.value.as_str())
        };
        let frame = if self.include_frame {
            format!(",\"frame\":{}", info.index)
        } else {
            String::new()
        };
        let mut out = Vec::new();
        if let (Some(count), Some(total)) = (find("count"), find("total")) {
            out.push(self.msg(
                "person",
                format!("{{\"count\":{count},\"total\":{total}{frame}}}"),
            ));
        }
        self.durations(&stats, &frame, &mut out);
        // Values are JSON documents from other stages: passed on only when
        // they are what the topic promises.
        if let Some(names) =
            find("class_names").filter(|v| matches!(serde_json::from_str(v), Ok(Value::Array(_))))
        {
            out.push(self.msg("class", format!("{{\"class_names\":{names}}}")));
        }
        if let Some(speed) = find("speed").filter(|v| v.parse::<f64>().is_ok_and(f64::is_finite)) {
            out.push(self.msg("speedometer", format!("{{\"speed\":{speed}}}")));
        }
        self.lines_and_zones(&stats, &mut out);
        out
    }

    fn finish(&mut self, stats: Vec<Stat>) -> Vec<Message> {
        // People still in view at the end get their duration, then the total.
        let mut out = Vec::new();
        self.durations(&stats, "", &mut out);
        out.extend(stats.iter().filter(|s| s.name == "total").map(|t| {
            Message::new(
                &format!("{}person/total", self.prefix),
                format!("{{\"total\":{}}}", t.value),
                self.qos,
                true,
            )
        }));
        out
    }
}

edgepipe_sdk::export_topics!(CourseTopics);
