//! Counting people right: the ByteTrack people-counter on recorded detections
//! of vtest.avi (occlusion gaps, one duration per person, old saved state),
//! line-counter, class-names and speedometer, driven through the host's
//! plugin runtime.

use edgepipe::plugin::bindings::{Detection, FrameInfo, Rect, Stat};
use edgepipe::plugin::{Limits, PluginHost, Stage, StageKind};
use edgepipe::sink::RecordLine;

use crate::common;

fn load(name: &str, kind: StageKind, settings: &[(&str, &str)]) -> (PluginHost, Stage) {
    common::load_stage(&common::plugin(name), kind, settings)
}

fn stat<'a>(stats: &'a [Stat], name: &str) -> Option<&'a str> {
    stats
        .iter()
        .find(|s| s.name == name)
        .map(|s| s.value.as_str())
}

/// The recorded detections of vtest.avi's first 100 frames.
fn recorded() -> Vec<(FrameInfo, Vec<Detection>)> {
    let text = std::fs::read_to_string(common::root().join("tests/data/vtest-100.jsonl")).unwrap();
    text.lines()
        .map(|l| {
            let r: RecordLine = serde_json::from_str(l).unwrap();
            let info = FrameInfo {
                index: r.index,
                timestamp_ms: r.timestamp_ms,
                width: r.width,
                height: r.height,
                camera: "default".into(),
            };
            (info, edgepipe::commands::plugin_tool::record_detections(&r))
        })
        .collect()
}

/// Run people-counter over `frames`: (final total, durations while running,
/// durations at finish, the tracks stat of every frame).
fn count(frames: &[(FrameInfo, Vec<Detection>)]) -> (u64, usize, usize, Vec<serde_json::Value>) {
    let (_host, mut pc) = load("people-counter", StageKind::Stats, &[]);
    let mut durations = 0;
    let mut tracks = Vec::new();
    for (info, dets) in frames {
        let stats = pc.update(info, dets);
        durations += stats.iter().filter(|s| s.name == "duration").count();
        tracks.push(
            serde_json::from_str(stat(&stats, "tracks").expect("tracks every frame")).unwrap(),
        );
    }
    let fin = pc.finish();
    let total = stat(&fin, "total").unwrap().parse().unwrap();
    assert_eq!(pc.faults(), 0);
    (
        total,
        durations,
        fin.iter().filter(|s| s.name == "duration").count(),
        tracks,
    )
}

#[test]
fn an_occluded_walker_is_not_counted_twice() {
    let frames = recorded();
    let (total, _, _, tracks) = count(&frames);
    // Pick a person tracked at frame 40 and hide them for 15 frames (1.5 s),
    // far longer than a blink: every detection overlapping their box goes.
    let t40 = &tracks[40].as_array().unwrap()[0];
    let id = t40["id"].as_u64().unwrap();
    let mut gap = frames.clone();
    for f in 41..56 {
        let b = tracks[f]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["id"].as_u64() == Some(id))
            .map(|t| t["box"].clone());
        let Some(b) = b else { continue };
        let (x, y, w, h) = (
            b[0].as_f64().unwrap() as f32,
            b[1].as_f64().unwrap() as f32,
            b[2].as_f64().unwrap() as f32,
            b[3].as_f64().unwrap() as f32,
        );
        let before = gap[f].1.len();
        gap[f].1.retain(|d| {
            let ix = (d.bbox.x + d.bbox.width).min(x + w) - d.bbox.x.max(x);
            let iy = (d.bbox.y + d.bbox.height).min(y + h) - d.bbox.y.max(y);
            !(ix > 0.0 && iy > 0.0 && ix * iy > 0.3 * w * h)
        });
        assert!(
            gap[f].1.len() < before,
            "frame {f}: the person's detection was removed"
        );
    }
    let (gap_total, _, _, gap_tracks) = count(&gap);
    assert_eq!(
        gap_total, total,
        "hiding person {id} for 15 frames must not add a person"
    );
    let ids_after: Vec<u64> = gap_tracks[60]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["id"].as_u64())
        .collect();
    assert!(
        ids_after.contains(&id),
        "person {id} keeps their id after the gap: {ids_after:?}"
    );
}

#[test]
fn every_person_counted_gets_exactly_one_duration() {
    let (total, during, at_finish, tracks) = count(&recorded());
    assert!(
        total >= 5,
        "vtest's first 10 s show several people: {total}"
    );
    assert!(
        at_finish > 0,
        "people still in view at the end get their duration at finish"
    );
    assert_eq!(during + at_finish, total as usize);
    // The tracks stat: ids of confirmed tracks, boxes, the matched detection.
    let recorded = recorded();
    for (f, t) in tracks.iter().enumerate() {
        for tr in t.as_array().unwrap() {
            assert!(tr["id"].as_u64().unwrap() >= 1 && tr["id"].as_u64().unwrap() <= total);
            assert_eq!(tr["box"].as_array().unwrap().len(), 4);
            assert!(tr["score"].is_number() && tr["age"].is_u64());
            let d = tr["det"].as_u64().unwrap() as usize;
            assert_eq!(
                recorded[f].1[d].label, "person",
                "frame {f}: det points at a person"
            );
        }
    }
}

#[test]
fn course_topics_sends_a_duration_for_people_still_in_view_at_the_end() {
    let (_h1, mut pc) = load("people-counter", StageKind::Stats, &[]);
    let (_h2, mut ct) = load("course-topics", StageKind::Topics, &[]);
    let mut durations = 0;
    for (info, dets) in recorded() {
        let stats = pc.update(&info, &dets);
        durations += ct
            .route(&info, &stats)
            .iter()
            .filter(|m| m.topic == "person/duration")
            .count();
    }
    let fin = pc.finish();
    let total: usize = stat(&fin, "total").unwrap().parse().unwrap();
    let msgs = ct.finish_topics(&fin);
    durations += msgs.iter().filter(|m| m.topic == "person/duration").count();
    assert_eq!(
        durations, total,
        "the web UI's `total counted` is the number of duration messages"
    );
    assert!(msgs.iter().any(|m| m.topic == "person/total" && m.retain));
}

#[test]
fn state_saved_by_the_old_tracker_is_restored() {
    // Version 1: the IoU/centroid tracker's state, as it saved it.
    let v1 = serde_json::json!({"version": 1, "state": {
        "config": {"label": "person", "min_score": 0.5, "iou": 0.3, "max_distance": 0.75, "min_hits": 3, "max_missed": 10},
        "tracks": [{"id": 7, "bbox": {"x": 100.0, "y": 100.0, "w": 60.0, "h": 150.0}, "first_seen_ms": 0, "last_seen_ms": 900,
                    "hits": 10, "missed": 0, "confirmed": true}],
        "total": 4, "next_id": 8}});
    let (_h, mut pc) = load("people-counter", StageKind::Stats, &[]);
    pc.restore(v1.to_string().as_bytes())
        .expect("version 1 state is read");
    let person = Detection {
        class_id: 0,
        label: "person".into(),
        score: 0.9,
        bbox: Rect {
            x: 103.0,
            y: 100.0,
            width: 60.0,
            height: 150.0,
        },
    };
    let stats = pc.update(
        &FrameInfo {
            index: 10,
            timestamp_ms: 1000,
            width: 768,
            height: 576,
            camera: "default".into(),
        },
        &[person],
    );
    assert_eq!(stat(&stats, "total"), Some("4"), "the total carries on");
    assert_eq!(
        stat(&stats, "count"),
        Some("1"),
        "the restored person is still tracked"
    );
    // A newer state format than this build knows is refused.
    assert!(pc
        .restore(br#"{"version":99,"state":{}}"#)
        .unwrap_err()
        .contains("version 99"));
    // Round trip of the new format.
    let saved = pc.save().unwrap();
    let (_h2, mut again) = load("people-counter", StageKind::Stats, &[]);
    again.restore(&saved).unwrap();
    let fin = again.finish();
    assert_eq!(stat(&fin, "total"), Some("4"));
    assert_eq!(fin.iter().filter(|s| s.name == "duration").count(), 1);
}

fn walker(x: f32, y: f32) -> Detection {
    Detection {
        class_id: 0,
        label: "person".into(),
        score: 0.9,
        bbox: Rect {
            x,
            y,
            width: 30.0,
            height: 80.0,
        },
    }
}

fn info(i: u64) -> FrameInfo {
    FrameInfo {
        index: i,
        timestamp_ms: i * 100,
        width: 768,
        height: 576,
        camera: "default".into(),
    }
}

#[test]
fn line_counter_counts_a_crossing_once_and_people_in_a_zone() {
    // A horizontal line at y = 0.5 (288 px) across the frame; a zone on the left.
    let settings = [
        ("lines", "mid: 0.0,0.5 1.0,0.5"),
        ("zones", "left: 0,0 0.3,0 0.3,1 0,1"),
    ];
    let (_h, mut lc) = load("line-counter", StageKind::Stats, &settings);
    let (_h2, mut ct) = load("course-topics", StageKind::Topics, &[]);
    let mut topics = Vec::new();
    let mut last = Vec::new();
    for i in 0..60u64 {
        // Person A walks down across the line, then dithers around it; the
        // foot (y + 80) passes 288 at frame ~21.
        let ya = if i < 30 {
            100.0 + 5.0 * i as f32
        } else {
            208.0 + if i % 2 == 0 { 12.0 } else { -12.0 }
        };
        // Person B stands in the zone.
        let dets = vec![walker(400.0, ya), walker(100.0, 300.0)];
        last = lc.update(&info(i), &dets);
        topics.extend(
            ct.route(&info(i), &last)
                .into_iter()
                .map(|m| (m.topic, m.payload)),
        );
    }
    let lines: serde_json::Value = serde_json::from_str(stat(&last, "lines").unwrap()).unwrap();
    assert_eq!(
        lines[0]["in"], 1,
        "crossing down is `in` (right-hand side of left -> right): {lines}"
    );
    assert_eq!(
        lines[0]["out"], 1,
        "back up once is one `out`, however long it dithers: {lines}"
    );
    assert_eq!(lines[0]["by_class"]["person"]["in"], 1);
    let zones: serde_json::Value = serde_json::from_str(stat(&last, "zones").unwrap()).unwrap();
    assert_eq!(zones[0]["count"], 1, "{zones}");
    let dwell = zones[0]["dwell"][0]["s"].as_f64().unwrap();
    assert!(
        (5.5..=5.9).contains(&dwell),
        "B is in the zone from its confirmation (frame 2) to frame 59: {dwell}"
    );
    // Topics: only on change.
    let line_msgs: Vec<&String> = topics
        .iter()
        .filter(|(t, _)| t == "line/mid")
        .map(|(_, p)| p)
        .collect();
    assert_eq!(
        line_msgs.first().map(|s| s.as_str()),
        Some(r#"{"in":0,"out":0}"#)
    );
    assert_eq!(
        line_msgs.last().map(|s| s.as_str()),
        Some(r#"{"in":1,"out":1}"#)
    );
    assert_eq!(line_msgs.len(), 3);
    assert!(topics
        .iter()
        .any(|(t, p)| t == "zone/left" && p == r#"{"count":1}"#));
    assert_eq!(lc.faults(), 0);
    // Bad settings are refused at configure.
    let host = PluginHost::new(Limits::default()).unwrap();
    let bad = vec![("lines".to_string(), "mid: 0,0.5".to_string())];
    assert!(host
        .load(
            "line-counter",
            &common::plugin("line-counter"),
            StageKind::Stats,
            bad
        )
        .is_err());
}

#[test]
fn class_names_and_speedometer_feed_the_course_topics() {
    let (_h1, mut cn) = load("class-names", StageKind::Stats, &[]);
    let (_h2, mut sp) = load(
        "speedometer",
        StageKind::Stats,
        &[("meters_per_pixel", "0.02")],
    );
    let (_h3, mut px) = load("speedometer", StageKind::Stats, &[]);
    let (_h4, mut ct) = load("course-topics", StageKind::Topics, &[]);
    let car = Detection {
        class_id: 2,
        label: "car".into(),
        score: 0.8,
        bbox: Rect {
            x: 600.0,
            y: 50.0,
            width: 60.0,
            height: 40.0,
        },
    };
    let mut msgs = Vec::new();
    let mut speed_px = 0.0f64;
    for i in 0..30u64 {
        // 5 px per frame at 10 frames per second: 50 px/s; 0.02 m/px: 1 m/s = 3.6 km/h.
        let dets = vec![
            walker(100.0 + 5.0 * i as f32, 200.0),
            car.clone(),
            walker(300.0 + 5.0 * i as f32, 300.0),
        ];
        let mut stats = cn.update(&info(i), &dets);
        stats.extend(sp.update(&info(i), &dets));
        speed_px = stat(&px.update(&info(i), &dets), "speed")
            .unwrap()
            .parse()
            .unwrap();
        msgs = ct.route(&info(i), &stats);
    }
    assert!((speed_px - 50.0).abs() < 2.0, "px/s: {speed_px}");
    let find = |t: &str| {
        msgs.iter()
            .find(|m| m.topic == t)
            .map(|m| m.payload.clone())
            .unwrap()
    };
    assert_eq!(find("class"), r#"{"class_names":["car","person"]}"#);
    let speed: serde_json::Value = serde_json::from_str(&find("speedometer")).unwrap();
    assert!(
        (speed["speed"].as_f64().unwrap() - 3.6).abs() < 0.2,
        "km/h: {speed}"
    );
}

#[test]
fn the_lines_and_zones_example_loads_and_configures() {
    let path = common::root().join("examples/lines-and-zones.toml");
    let file = edgepipe::config::FileConfig::load(&path).unwrap();
    let s = edgepipe::config::resolve(Some(file), &edgepipe::config::Overrides::default()).unwrap();
    let stages = &s.cameras[0].stages;
    let names: Vec<&str> = stages.iter().map(|st| st.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "people-counter",
            "line-counter",
            "course-topics",
            "draw-boxes"
        ]
    );
    let lc = stages.iter().find(|st| st.name == "line-counter").unwrap();
    let host = PluginHost::new(Limits::default()).unwrap();
    let mut stage = host
        .load(
            "line-counter",
            &common::plugin("line-counter"),
            StageKind::Stats,
            lc.settings.clone(),
        )
        .unwrap();
    let stats = stage.update(&info(0), &[walker(100.0, 100.0)]);
    let lines: serde_json::Value = serde_json::from_str(stat(&stats, "lines").unwrap()).unwrap();
    assert_eq!(lines[0]["name"], "path");
}

#[test]
fn course_topics_passes_on_only_well_formed_class_and_speed_values() {
    let (_h, mut ct) = load("course-topics", StageKind::Topics, &[]);
    let st = |n: &str, v: &str| Stat {
        name: n.into(),
        value: v.into(),
    };
    let msgs = ct.route(
        &info(0),
        &[st("class_names", "not json"), st("speed", "inf")],
    );
    assert!(msgs.is_empty(), "{msgs:?}");
    let msgs = ct.route(
        &info(1),
        &[st("class_names", r#"["dog"]"#), st("speed", "1.5")],
    );
    let topics: Vec<(&str, &str)> = msgs
        .iter()
        .map(|m| (m.topic.as_str(), m.payload.as_str()))
        .collect();
    assert_eq!(
        topics,
        [
            ("class", r#"{"class_names":["dog"]}"#),
            ("speedometer", r#"{"speed":1.5}"#)
        ]
    );
}
