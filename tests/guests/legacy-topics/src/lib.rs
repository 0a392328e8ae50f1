//! legacy-topics: a topics stage built against edgepipe:plugin@0.1.0 (SDK
//! feature `v0_1_0`): `legacy/person` `{"count":N,"total":T,"frame":I}`.

use edgepipe_sdk::{log, FrameInfo, Level, Message, Qos, Stat, Topics};

#[derive(Default)]
struct Legacy;

impl Topics for Legacy {
    fn route(&mut self, info: FrameInfo, stats: Vec<Stat>) -> Vec<Message> {
        let find = |name: &str| {
            stats
                .iter()
                .find(|s| s.name == name)
                .map(|s| s.value.clone())
        };
        if info.index == 0 {
            log(
                Level::Info,
                &format!(
                    "legacy-topics built against edgepipe:plugin@{}",
                    edgepipe_sdk::API_VERSION
                ),
            );
        }
        match (find("count"), find("total")) {
            (Some(c), Some(t)) => vec![Message::new(
                "legacy/person",
                format!("{{\"count\":{c},\"total\":{t},\"frame\":{}}}", info.index),
                Qos::AtLeastOnce,
                false,
            )],
            _ => Vec::new(),
        }
    }
}

edgepipe_sdk::export_topics!(Legacy);
