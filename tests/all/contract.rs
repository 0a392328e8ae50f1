//! The plugin contract's versions side by side: a 0.3.0 stage sees the
//! camera a frame is from; 0.4.0 (the default plugins), 0.2.0 and 0.1.0 stages (test guests built with the
//! SDK's `v0_2_0` / `v0_1_0` features) still load and run, in process and
//! in `edgepipe run` on the clip with a real broker.

use std::process::Stdio;
use std::time::Duration;

use edgepipe::plugin::bindings::{FrameInfo, Stat};
use edgepipe::plugin::{Limits, PluginHost, Stage, StageKind};

use crate::common;

fn info(index: u64, camera: &str) -> FrameInfo {
    FrameInfo {
        index,
        timestamp_ms: index * 100,
        width: 768,
        height: 576,
        camera: camera.into(),
    }
}

fn load(host: &PluginHost, guest: &str) -> Stage {
    host.load(guest, &common::guest(guest), StageKind::Topics, Vec::new())
        .unwrap()
}

fn json(payload: &str) -> serde_json::Value {
    serde_json::from_str(payload).unwrap()
}

#[test]
fn a_0_3_0_stage_sees_the_camera_name_of_each_frame() {
    let host = PluginHost::new(Limits::default()).unwrap();
    let mut stage = load(&host, "camera-topics");
    assert_eq!(stage.api().as_str(), "0.3.0");
    for (i, camera) in ["door", "till", "car-park-2"].into_iter().enumerate() {
        let out = stage.route(&info(i as u64, camera), &[]);
        assert_eq!(out.len(), 1, "{out:?}");
        assert_eq!(out[0].topic, "camera/frame");
        let p = json(&out[0].payload);
        assert_eq!(p["camera"], camera, "{p}");
        assert_eq!(p["frame"], i as u64, "{p}");
    }
    // The name it saw last, kept through save/restore, in its `finish`.
    let state = stage.save().unwrap();
    let mut again = load(&host, "camera-topics");
    again.restore(&state).unwrap();
    let out = again.finish_topics(&[]);
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(json(&out[0].payload)["camera"], "car-park-2");
    assert_eq!(stage.faults() + again.faults(), 0);
}

#[test]
fn a_0_2_0_stage_still_loads_runs_and_finishes() {
    let host = PluginHost::new(Limits::default()).unwrap();
    let mut stage = load(&host, "legacy-v2-topics");
    assert_eq!(stage.api().as_str(), "0.2.0");
    for i in 0..3 {
        // The camera is dropped on the way to a 0.2.0 stage; nothing else.
        let out = stage.route(&info(10 + i, "door"), &[]);
        assert_eq!(out.len(), 1, "{out:?}");
        assert_eq!(out[0].topic, "legacy-v2/frame");
        assert_eq!(json(&out[0].payload)["frame"], 10 + i);
    }
    let stats = [Stat {
        name: "total".into(),
        value: "4".into(),
    }];
    let out = stage.finish_topics(&stats);
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(out[0].topic, "legacy-v2/finish");
    assert_eq!(json(&out[0].payload), json(r#"{"frames":3,"stats":1}"#));
    assert_eq!(stage.faults(), 0);
}

const FRAMES: u64 = 12;
const TOPICS: [&str; 3] = ["camera/frame", "legacy-v2/frame", "legacy/person"];

/// Stages of the three versions in one pipeline file: the default people
/// counter (0.4.0, feeding the 0.1.0 stage its `count`/`total`),
/// camera-topics (0.3.0), legacy-v2-topics (0.2.0), legacy-topics (0.1.0).
fn pipeline(dir: &std::path::Path) -> std::path::PathBuf {
    let mut toml = "name = \"contract-test\"\n".to_string();
    let stage = |name: &str, kind: &str, path: std::path::PathBuf| {
        format!("[[stages]]\nname = \"{name}\"\nkind = \"{kind}\"\npath = {path:?}\n")
    };
    toml += &stage("people-counter", "stats", common::plugin("people-counter"));
    for guest in ["camera-topics", "legacy-v2-topics", "legacy-topics"] {
        toml += &stage(guest, "topics", common::guest(guest));
    }
    let path = dir.join("pipeline.toml");
    std::fs::write(&path, toml).unwrap();
    path
}

/// `edgepipe run --camera-name door` on the clip: every frame's messages of
/// the three versions arrive over MQTT, the 0.3.0 stage's carrying the
/// camera's name, and both `finish` messages at the end.
#[test]
fn stages_of_0_1_0_0_2_0_and_0_3_0_run_side_by_side_on_the_clip() {
    let broker = common::Mosquitto::start();
    let mut sub =
        common::Subscriber::start(broker.port, &["camera/+", "legacy-v2/+", "legacy/person"]);
    let dir = common::TempDir::new("contract-run");
    let out = common::command()
        .args(["run", "--config"])
        .arg(pipeline(dir.path()))
        .arg("--input")
        .arg(common::clip())
        .args(["--camera-name", "door", "--max-frames", &FRAMES.to_string()])
        .args(["--mqtt-url", &broker.url(), "--no-reload"])
        .stdout(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("legacy-v2-topics built against edgepipe:plugin@0.2.0")
            && stderr.contains("legacy-topics built against edgepipe:plugin@0.1.0"),
        "{stderr}"
    );
    let done = sub.wait_for(Duration::from_secs(30), |m| {
        let n = |topic: &str| m.iter().filter(|(t, _)| t == topic).count() as u64;
        TOPICS.iter().all(|t| n(t) == FRAMES)
            && n("camera/finish") == 1
            && n("legacy-v2/finish") == 1
    });
    let msgs = sub.messages().to_vec();
    assert!(done, "{msgs:?}");
    let of = |topic: &str| -> Vec<serde_json::Value> {
        msgs.iter()
            .filter(|(t, _)| t == topic)
            .map(|(_, p)| json(p))
            .collect()
    };
    let frames = |topic: &str| -> Vec<u64> {
        of(topic)
            .iter()
            .map(|p| p["frame"].as_u64().unwrap())
            .collect()
    };
    for topic in TOPICS {
        assert_eq!(frames(topic), (0..FRAMES).collect::<Vec<_>>(), "{topic}");
    }
    assert!(of("camera/frame").iter().all(|p| p["camera"] == "door"));
    assert_eq!(of("camera/finish")[0]["camera"], "door");
    assert_eq!(of("legacy-v2/finish")[0]["frames"], FRAMES);
}
