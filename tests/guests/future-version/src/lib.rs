//! future-version: a stats stage built against edgepipe:plugin@0.9.0, a
//! version no host serves; the host must reject it naming both versions.

wit_bindgen::generate!({ path: "wit", world: "stats" });

use edgepipe::plugin::host::{log, Level};

struct Future;

impl Guest for Future {
    fn configure(_settings: Vec<(String, String)>) -> Result<(), String> {
        log(Level::Info, "future-version configured");
        Ok(())
    }
    fn update(_info: FrameInfo, detections: Vec<Detection>) -> Vec<Stat> {
        vec![Stat {
            name: "n".into(),
            value: detections.len().to_string(),
        }]
    }
    fn finish() -> Vec<Stat> {
        Vec::new()
    }
    fn save() -> Vec<u8> {
        Vec::new()
    }
    fn restore(_state: Vec<u8>) -> Result<(), String> {
        Ok(())
    }
}

export!(Future);
