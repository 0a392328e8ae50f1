//! The default plugins, compiled from `plugins/`, driven through the host's
//! plugin runtime with detection sequences.

use edgepipe::plugin::bindings::{Detection, FrameInfo, Qos, Rect, Stat};
use edgepipe::plugin::{Limits, PluginError, PluginHost, Stage, StageKind};

use crate::common;

const W: u32 = 768;
const H: u32 = 576;

fn info(index: u64) -> FrameInfo {
    FrameInfo {
        index,
        timestamp_ms: index * 100,
        width: W,
        height: H,
        camera: "default".into(),
    }
}

fn person(x: f32, y: f32) -> Detection {
    Detection {
        class_id: 0,
        label: "person".into(),
        score: 0.9,
        bbox: Rect {
            x,
            y,
            width: 60.0,
            height: 150.0,
        },
    }
}

fn load(name: &str, kind: StageKind) -> (PluginHost, Stage) {
    let host = PluginHost::new(Limits::default()).unwrap();
    let stage = host
        .load(name, &common::plugin(name), kind, Vec::new())
        .unwrap();
    (host, stage)
}

fn stat<'a>(stats: &'a [Stat], name: &str) -> Option<&'a str> {
    stats
        .iter()
        .find(|s| s.name == name)
        .map(|s| s.value.as_str())
}

/// Person A walks right during frames 0..20 and leaves; person B walks down
/// during frames 5..60 and stays.
fn scene(i: u64) -> Vec<Detection> {
    let mut d = Vec::new();
    if i < 20 {
        d.push(person(50.0 + i as f32 * 5.0, 100.0));
    }
    if i >= 5 {
        d.push(person(500.0, 50.0 + (i - 5) as f32 * 3.0));
    }
    d
}

#[test]
fn people_counter_counts_two_who_enter_and_one_who_leaves() {
    let (_host, mut counter) = load("people-counter", StageKind::Stats);
    let mut durations = Vec::new();
    let mut last_total = 0;
    for i in 0..60 {
        let stats = counter.update(&info(i), &scene(i));
        let total: u64 = stat(&stats, "total")
            .expect("total every frame")
            .parse()
            .unwrap();
        let count: u64 = stat(&stats, "count")
            .expect("count every frame")
            .parse()
            .unwrap();
        assert!(total >= last_total, "total never decreases");
        assert!(count <= total);
        last_total = total;
        for s in stats.iter().filter(|s| s.name == "duration") {
            durations.push((i, s.value.parse::<f64>().unwrap()));
        }
    }
    assert_eq!(last_total, 2, "two distinct people");
    assert_eq!(durations.len(), 1, "one person left: {durations:?}");
    // A was seen from 0 ms to 1900 ms.
    let (_, secs) = durations[0];
    assert!((secs - 1.9).abs() < 0.11, "duration {secs}");
    assert_eq!(counter.faults(), 0);
}

#[test]
fn people_counter_state_survives_save_and_restore() {
    let (_host, mut a) = load("people-counter", StageKind::Stats);
    for i in 0..30 {
        a.update(&info(i), &scene(i));
    }
    let state = a.save().expect("save works");
    assert!(!state.is_empty());
    let (_host2, mut b) = load("people-counter", StageKind::Stats);
    b.restore(&state).unwrap();
    let stats = b.update(&info(30), &scene(30));
    assert_eq!(stat(&stats, "total"), Some("2"));
    assert!(b.restore(b"garbage").is_err(), "garbage state is refused");
}

#[test]
fn course_topics_speaks_the_course_wire_format() {
    let (_host, mut topics) = load("course-topics", StageKind::Topics);
    let stats = vec![
        Stat {
            name: "count".into(),
            value: "1".into(),
        },
        Stat {
            name: "total".into(),
            value: "2".into(),
        },
        Stat {
            name: "duration".into(),
            value: "1.9".into(),
        },
    ];
    let msgs = topics.route(&info(3), &stats);
    assert_eq!(msgs.len(), 2);
    assert_eq!(msgs[0].topic, "person");
    let v: serde_json::Value = serde_json::from_str(&msgs[0].payload).unwrap();
    assert_eq!(v, serde_json::json!({"count": 1, "total": 2}));
    assert_eq!(msgs[1].topic, "person/duration");
    let v: serde_json::Value = serde_json::from_str(&msgs[1].payload).unwrap();
    assert_eq!(v, serde_json::json!({"duration": 1.9}));
    assert!(msgs.iter().all(|m| m.qos == Qos::AtLeastOnce && !m.retain));
    // Without count/total nothing is published.
    assert!(topics.route(&info(4), &[]).is_empty());
}

#[test]
fn draw_boxes_draws_the_box_and_leaves_the_rest() {
    let (_host, mut draw) = load("draw-boxes", StageKind::Draw);
    let (w, h) = (320u32, 240u32);
    let pixels = vec![0u8; (w * h * 3) as usize];
    let det = Detection {
        class_id: 0,
        label: "person".into(),
        score: 0.87,
        bbox: Rect {
            x: 100.0,
            y: 80.0,
            width: 50.0,
            height: 100.0,
        },
    };
    let stats = vec![
        Stat {
            name: "count".into(),
            value: "1".into(),
        },
        Stat {
            name: "total".into(),
            value: "4".into(),
        },
    ];
    let out = draw
        .draw(
            &FrameInfo {
                index: 0,
                timestamp_ms: 0,
                width: w,
                height: h,
                camera: "default".into(),
            },
            &pixels,
            std::slice::from_ref(&det),
            &stats,
        )
        .expect("draw returns a frame");
    assert_eq!(out.len(), pixels.len());
    let px = |x: u32, y: u32| {
        let o = ((y * w + x) * 3) as usize;
        [out[o], out[o + 1], out[o + 2]]
    };
    // Class 0's colour (BGR); a detection without a track gets a thin outline.
    const PERSON: [u8; 3] = [14, 127, 255];
    assert_eq!(
        px(100, 130),
        PERSON,
        "left edge of the box in the class colour"
    );
    assert_eq!(px(149, 130), PERSON, "right edge of the box");
    assert_eq!(px(101, 130), [0, 0, 0], "untracked: one pixel thick");
    assert_eq!(px(125, 130), [0, 0, 0], "inside of the box untouched");
    assert_eq!(px(300, 230), [0, 0, 0], "far corner untouched");
    let changed_top_left = (0..40)
        .flat_map(|y| (0..150).map(move |x| (x, y)))
        .filter(|&(x, y)| px(x, y) != [0, 0, 0])
        .count();
    assert!(changed_top_left > 100, "the count panel is drawn top-left");
    // A tracked detection (people-counter's `tracks`, `det` its index): thick
    // outline; another class: another colour.
    let car = Detection {
        class_id: 2,
        label: "car".into(),
        score: 0.9,
        bbox: Rect {
            x: 200.0,
            y: 150.0,
            width: 60.0,
            height: 40.0,
        },
    };
    let mut tracked = stats.clone();
    tracked.push(Stat {
        name: "tracks".into(),
        value: r#"[{"id":7,"box":[100,80,50,100],"score":0.87,"age":3,"det":0}]"#.into(),
    });
    let out = draw
        .draw(
            &FrameInfo {
                index: 1,
                timestamp_ms: 0,
                width: w,
                height: h,
                camera: "default".into(),
            },
            &pixels,
            &[det.clone(), car],
            &tracked,
        )
        .expect("draw returns a frame");
    let px = |x: u32, y: u32| {
        let o = ((y * w + x) * 3) as usize;
        [out[o], out[o + 1], out[o + 2]]
    };
    assert_eq!(
        (px(100, 130), px(101, 130)),
        (PERSON, PERSON),
        "tracked: two pixels thick"
    );
    let car_colour = px(200, 170);
    assert!(
        car_colour != PERSON && car_colour != [0, 0, 0],
        "a colour per class: {car_colour:?}"
    );
    // A frame of the wrong size is left alone, not a crash.
    let wrong = draw.draw(
        &FrameInfo {
            index: 1,
            timestamp_ms: 0,
            width: w,
            height: h,
            camera: "default".into(),
        },
        &pixels[..300],
        &[],
        &stats,
    );
    assert!(wrong.is_none() || wrong.as_deref() == Some(&pixels[..300]));
}

#[test]
fn a_stage_of_the_wrong_world_or_not_a_component_is_rejected() {
    let host = PluginHost::new(Limits::default()).unwrap();
    let err = host
        .load(
            "t",
            &common::plugin("course-topics"),
            StageKind::Stats,
            Vec::new(),
        )
        .err()
        .unwrap();
    assert!(matches!(err, PluginError::WrongWorld { .. }), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("world `stats`")
            && msg.contains("edgepipe:plugin@0.4.0")
            && msg.contains("update"),
        "{msg}"
    );

    let dir = common::TempDir::new("core");
    let core = dir.path().join("core.wasm");
    std::fs::write(&core, b"\0asm\x01\0\0\0").unwrap();
    let err = host
        .load("core", &core, StageKind::Stats, Vec::new())
        .err()
        .unwrap();
    assert!(matches!(err, PluginError::CoreModule { .. }), "{err}");
    let junk = dir.path().join("junk.wasm");
    std::fs::write(&junk, b"definitely not wasm").unwrap();
    assert!(matches!(
        host.load("junk", &junk, StageKind::Stats, Vec::new()),
        Err(PluginError::NotWasm { .. })
    ));
    let truncated = dir.path().join("truncated.wasm");
    let bytes = std::fs::read(common::plugin("people-counter")).unwrap();
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    assert!(matches!(
        host.load("trunc", &truncated, StageKind::Stats, Vec::new()),
        Err(PluginError::Invalid { .. })
    ));
}

#[test]
fn a_bad_setting_fails_configure_with_the_key_named() {
    let host = PluginHost::new(Limits::default()).unwrap();
    let err = host
        .load(
            "people-counter",
            &common::plugin("people-counter"),
            StageKind::Stats,
            vec![("min_hits".into(), "lots".into())],
        )
        .err()
        .unwrap();
    let msg = err.to_string();
    assert!(
        matches!(err, PluginError::Configure { .. }) && msg.contains("min_hits"),
        "{msg}"
    );
}
