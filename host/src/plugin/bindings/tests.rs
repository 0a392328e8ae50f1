//! The conversions between the served versions and the newest types, and
//! what each version requires.

use super::{
    latest, since_v0_1_0 as v1, since_v0_2_0 as v2, since_v0_3_0 as v3, ApiVersion, CONTRACTS,
};
use crate::plugin::StageKind;

fn info() -> latest::FrameInfo {
    latest::FrameInfo {
        index: 7,
        timestamp_ms: 280,
        width: 768,
        height: 576,
        camera: "door".into(),
    }
}

fn detection() -> latest::Detection {
    latest::Detection {
        class_id: 3,
        label: "car".into(),
        score: 0.75,
        bbox: latest::Rect {
            x: 1.5,
            y: -2.0,
            width: 30.0,
            height: 40.25,
        },
    }
}

#[test]
fn frame_info_loses_only_the_camera_for_older_versions() {
    let i = info();
    let old: v2::FrameInfo = (&i).into();
    assert_eq!(
        (old.index, old.timestamp_ms, old.width, old.height),
        (7, 280, 768, 576)
    );
    let older: v1::FrameInfo = (&i).into();
    assert_eq!(
        (older.index, older.timestamp_ms, older.width, older.height),
        (7, 280, 768, 576)
    );
}

#[test]
fn detections_and_stats_keep_every_field() {
    let d = detection();
    let old: v1::Detection = (&d).into();
    assert_eq!(
        (old.class_id, old.label.as_str(), old.score),
        (3, "car", 0.75)
    );
    let b = old.bbox;
    assert_eq!((b.x, b.y, b.width, b.height), (1.5, -2.0, 30.0, 40.25));
    let s = latest::Stat {
        name: "count".into(),
        value: "{\"a\":1}".into(),
    };
    let old: v2::Stat = (&s).into();
    let back: latest::Stat = old.into();
    assert_eq!((back.name, back.value), (s.name, s.value));
}

#[test]
fn messages_of_older_versions_keep_topic_payload_qos_and_retain() {
    let cases = [
        (v1::Qos::AtMostOnce, latest::Qos::AtMostOnce),
        (v1::Qos::AtLeastOnce, latest::Qos::AtLeastOnce),
        (v1::Qos::ExactlyOnce, latest::Qos::ExactlyOnce),
    ];
    for (i, (old, new)) in cases.into_iter().enumerate() {
        let m: latest::Message = v1::Message {
            topic: format!("t/{i}"),
            payload: "{}".into(),
            qos: old,
            retain: i == 1,
        }
        .into();
        assert_eq!(m.topic, format!("t/{i}"));
        assert_eq!(m.payload, "{}");
        assert_eq!(m.qos, new);
        assert_eq!(m.retain, i == 1);
    }
    let m: latest::Message = v2::Message {
        topic: "x".into(),
        payload: "1".into(),
        qos: v2::Qos::ExactlyOnce,
        retain: true,
    }
    .into();
    assert_eq!((m.qos, m.retain), (latest::Qos::ExactlyOnce, true));
}

#[test]
fn versions_are_served_newest_first_and_parsed_exactly() {
    let served: Vec<&str> = CONTRACTS.iter().map(|c| c.version).collect();
    assert_eq!(served, ["0.4.0", "0.3.0", "0.2.0", "0.1.0"]);
    assert_eq!(ApiVersion::NEWEST.as_str(), "0.4.0");
    assert_eq!(super::VERSION, "0.4.0");
    for v in served {
        assert_eq!(ApiVersion::parse(v).map(ApiVersion::as_str), Some(v));
    }
    assert_eq!(ApiVersion::parse("0.9.0"), None);
    assert_eq!(ApiVersion::parse("0.3"), None);
    assert_eq!(
        super::served_versions(),
        "edgepipe:plugin@0.4.0, edgepipe:plugin@0.3.0, edgepipe:plugin@0.2.0, edgepipe:plugin@0.1.0"
    );
}

#[test]
fn topics_finish_is_required_from_0_2_0_on() {
    let needs_finish = |v: &str| {
        let api = ApiVersion::parse(v).expect("served");
        StageKind::Topics
            .required_exports(api, &[])
            .contains(&"finish")
    };
    assert!(!needs_finish("0.1.0"));
    assert!(needs_finish("0.2.0"));
    assert!(needs_finish("0.3.0"));
    assert!(needs_finish("0.4.0"));
    for v in ["0.1.0", "0.2.0", "0.3.0", "0.4.0"] {
        let api = ApiVersion::parse(v).expect("served");
        assert!(StageKind::Stats
            .required_exports(api, &[])
            .contains(&"update"));
        assert!(StageKind::Draw.required_exports(api, &[]).contains(&"draw"));
    }
}

#[test]
fn a_draw_stage_that_exports_overlay_is_of_world_overlay_from_0_4_0_on() {
    let exports: Vec<String> = ["configure", "overlay", "save", "restore"]
        .map(String::from)
        .to_vec();
    let needs = |v: &str| {
        let api = ApiVersion::parse(v).expect("served");
        StageKind::Draw.required_exports(api, &exports)
    };
    assert_eq!(needs("0.4.0"), ["configure", "overlay", "save", "restore"]);
    // Before 0.4.0 there is no `overlay`: such a component lacks `draw`.
    assert!(needs("0.3.0").contains(&"draw"));
    assert!(!ApiVersion::parse("0.3.0").unwrap().contract().overlay);
}

#[test]
fn frame_info_keeps_the_camera_for_0_3_0() {
    let old: v3::FrameInfo = (&info()).into();
    assert_eq!(
        (old.index, old.width, old.camera.as_str()),
        (7, 768, "door")
    );
}
