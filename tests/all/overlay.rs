//! Draw stages of world `overlay` (contract 0.4.0: shapes painted by the
//! host): hostile shape lists bounded, counted and reported; a 0.3.0 pixel
//! draw stage beside one; hot reload between the worlds.

use std::time::{Duration, Instant};

use edgepipe::plugin::bindings::FrameInfo;
use edgepipe::plugin::frame::Frame;
use edgepipe::plugin::{Limits, PluginHost, Stage, StageKind, StageSet, StageSettings};

use crate::common;

const W: u32 = 768;
const H: u32 = 576;

fn info(index: u64) -> FrameInfo {
    FrameInfo {
        index,
        timestamp_ms: index * 40,
        width: W,
        height: H,
        camera: "default".into(),
    }
}

fn load(guest: &str, settings: &[(&str, &str)]) -> (PluginHost, Stage) {
    common::load_stage(&common::guest(guest), StageKind::Draw, settings)
}

fn px(frame: &[u8], x: u32, y: u32) -> [u8; 3] {
    let o = ((y * W + x) * 3) as usize;
    [frame[o], frame[o + 1], frame[o + 2]]
}

#[test]
fn hostile_shape_lists_are_bounded_counted_and_reported_once() {
    let black = vec![0u8; (W * H * 3) as usize];
    for (mode, refused_per_frame) in [
        ("many", 10_001 - 4096),
        // 48-byte texts: 1365 fit in 64 KiB, 635 of the 2000 do not.
        ("text", 635),
        // 100 blends of 768x566 pixels: 16 fit in 16 frames' worth.
        ("area", 84),
        // The line from corner to corner of the 32-bit range with the
        // widest brush: 8193 brushes of 64x64 pixels.
        ("wild", 1),
    ] {
        let (_host, mut stage) = load("hostile-overlay", &[("mode", mode), ("colour", "9")]);
        assert_eq!(stage.api().as_str(), "0.4.0");
        let mut events = Vec::new();
        for i in 0..3 {
            let out = stage
                .draw(&info(i), &black, &[], &[])
                .unwrap_or_else(|| panic!("{mode}: frame {i} not drawn"));
            assert_eq!(out.len(), black.len());
            // In `wild` the whole frame is filled, then outlined, over the marker.
            let top_left = if mode == "wild" { [7, 8, 9] } else { [9, 9, 9] };
            assert_eq!(px(&out, 0, 0), top_left, "{mode}");
            events.extend(stage.take_events());
        }
        assert_eq!((stage.faults(), stage.is_disabled()), (0, false), "{mode}");
        assert_eq!(stage.shapes_refused(), 3 * refused_per_frame, "{mode}");
        let reported: Vec<_> = events
            .iter()
            .filter(|e| e.event == "shapes-refused")
            .collect();
        assert_eq!(reported.len(), 1, "{mode}: reported once, then counted");
        assert_eq!(reported[0].frame, Some(0));
        let reason = reported[0].reason.as_deref().unwrap();
        assert!(
            reason.starts_with(&format!("{refused_per_frame} of ")),
            "{mode}: {reason}"
        );
    }
}

#[test]
fn a_0_3_0_pixel_draw_stage_draws_on_what_an_overlay_stage_painted() {
    let (_h1, mut overlay) = load("hostile-overlay", &[("colour", "200")]);
    let (_h2, mut pixel) = load("legacy-draw", &[]);
    assert_eq!(pixel.api().as_str(), "0.3.0");
    let black = vec![0u8; (W * H * 3) as usize];
    // In chain order: the overlay's 4x4 marker, then the pixel stage's
    // inverted 8x8 top-left corner (it got the painted frame).
    let mut frame = Frame::new(&black);
    overlay.draw_on(&info(0), &mut frame, &[], &[]);
    pixel.draw_on(&info(0), &mut frame, &[], &[]);
    let out = frame.into_drawn().expect("drawn");
    assert_eq!(px(&out, 0, 0), [55, 55, 55], "marker, inverted");
    assert_eq!(px(&out, 6, 6), [255, 255, 255], "black, inverted");
    assert_eq!(px(&out, 8, 8), [0, 0, 0], "untouched");
    // The other way round the marker lies on the inverted corner.
    let mut frame = Frame::new(&black);
    pixel.draw_on(&info(1), &mut frame, &[], &[]);
    overlay.draw_on(&info(1), &mut frame, &[], &[]);
    let out = frame.into_drawn().expect("drawn");
    assert_eq!(px(&out, 0, 0), [200, 200, 200]);
    assert_eq!(px(&out, 6, 6), [255, 255, 255]);
    assert_eq!(
        black,
        vec![0u8; black.len()],
        "the pipeline's frame untouched"
    );
    for s in [&overlay, &pixel] {
        assert_eq!((s.faults(), s.is_disabled()), (0, false));
    }
}

/// Until `stage` runs a version other than generation `from` (the reload
/// worker compiles it off the frame path), drawing frame after frame.
fn draw_until_reloaded(set: &mut StageSet, from: u32, next: &mut u64) -> Vec<u8> {
    let black = vec![0u8; (W * H * 3) as usize];
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        set.apply_reloads(*next);
        let out = set.stages_mut()[0].draw(&info(*next), &black, &[], &[]);
        *next += 1;
        if set.stages()[0].version().generation != from {
            return out.expect("the new version draws");
        }
        assert!(Instant::now() < deadline, "no reload");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_draw_stage_reloads_from_pixels_to_shapes_and_between_overlay_versions() {
    let dir = common::TempDir::new("overlay-reload");
    let path = dir.path().join("stage.wasm");
    std::fs::copy(common::guest("legacy-draw"), &path).unwrap();
    let host = PluginHost::new(Limits::default()).unwrap();
    let spec = StageSettings {
        name: "drawer".into(),
        kind: StageKind::Draw,
        path: path.clone(),
        settings: vec![("colour".into(), "7".into())],
    };
    let mut set = StageSet::load(&host, &[spec]).unwrap();
    set.watch(&host).unwrap();
    let black = vec![0u8; (W * H * 3) as usize];
    let out = set.stages_mut()[0]
        .draw(&info(0), &black, &[], &[])
        .unwrap();
    assert_eq!(px(&out, 6, 6), [255, 255, 255], "0.3.0 pixels: inverted");

    let overlay = std::fs::read(common::guest("hostile-overlay")).unwrap();
    std::fs::write(&path, &overlay).unwrap();
    let mut next = 1;
    let out = draw_until_reloaded(&mut set, 1, &mut next);
    assert_eq!(set.stages()[0].api().as_str(), "0.4.0");
    assert_eq!(px(&out, 0, 0), [7, 7, 7], "0.4.0 shapes: the marker");
    assert_eq!(px(&out, 6, 6), [0, 0, 0], "no longer inverted");

    std::fs::write(&path, common::with_custom_section(&overlay, "v3")).unwrap();
    let out = draw_until_reloaded(&mut set, 2, &mut next);
    assert_eq!(px(&out, 0, 0), [7, 7, 7]);
    let stage = &set.stages()[0];
    assert_eq!((stage.reloads(), stage.faults()), (2, 0));
}

/// `edgepipe run --stdout` paints draw-boxes' shapes on the pipeline's own
/// frame (no tenants): each frame on stdout is, byte for byte, what `plugin
/// test` draws (on a copy) from the same run's record and the clip.
#[test]
fn frames_drawn_in_place_in_a_run_are_the_ones_plugin_test_draws() {
    const FRAMES: usize = 12;
    let dir = common::TempDir::new("overlay-run");
    let cfg = dir.path().join("pipeline.toml");
    let stage = |name: &str, kind: &str| {
        format!(
            "[[stages]]\nname = \"{name}\"\nkind = \"{kind}\"\npath = {:?}\n",
            common::plugin(name)
        )
    };
    let text = format!(
        "[model]\npath = {:?}\nort_lib = {:?}\n{}{}{}",
        common::model(),
        common::ort_lib(),
        stage("people-counter", "stats"),
        stage("speedometer", "stats"),
        stage("draw-boxes", "draw"),
    );
    std::fs::write(&cfg, text).unwrap();
    let record = dir.path().join("record.jsonl");
    let clip = common::clip();
    let s = |p: &std::path::Path| p.to_str().unwrap().to_string();
    let (code, frames, err) = common::run_edgepipe(&[
        "run",
        "--config",
        &s(&cfg),
        "--input",
        &s(&clip),
        "--max-frames",
        &FRAMES.to_string(),
        "--no-mqtt",
        "--no-http",
        "--stdout",
        "--record",
        &s(&record),
    ]);
    assert_eq!(code, 0, "{err}");
    let size = (W * H * 3) as usize;
    assert_eq!(frames.len(), FRAMES * size, "{err}");
    let (code, out, err) = common::run_edgepipe(&[
        "plugin",
        "test",
        &s(&common::plugin("draw-boxes")),
        "--input",
        &s(&record),
        "--video",
        &s(&clip),
    ]);
    assert_eq!(code, 0, "{err}");
    let want: Vec<String> = String::from_utf8_lossy(&out)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["sha256"].to_string())
        .collect();
    assert_eq!(want.len(), FRAMES);
    let got: Vec<String> = frames
        .chunks_exact(size)
        .map(|f| format!("{:?}", edgepipe::plugin::cache::content_hash(f)))
        .collect();
    assert_eq!(got, want);
    // Drawn frames: the record has people in the first frame to box.
    let first = std::fs::read_to_string(&record).unwrap();
    let first: serde_json::Value = serde_json::from_str(first.lines().next().unwrap()).unwrap();
    assert!(
        !first["detections"].as_array().unwrap().is_empty(),
        "{first}"
    );
}

/// A run with an `overlay` stage that returns too many shapes: frames go
/// on, the refusals are counted in the summary and raised once as an event.
#[test]
fn a_run_counts_refused_shapes_in_its_summary() {
    const FRAMES: u64 = 5;
    let dir = common::TempDir::new("overlay-summary");
    let cfg = dir.path().join("pipeline.toml");
    let text = format!(
        "[[stages]]\nname = \"flood\"\nkind = \"draw\"\npath = {:?}\n[stages.settings]\nmode = \"many\"\n",
        common::guest("hostile-overlay")
    );
    std::fs::write(&cfg, text).unwrap();
    let (code, frames, err) = common::run_edgepipe(&[
        "run",
        "--config",
        cfg.to_str().unwrap(),
        "--input",
        common::clip().to_str().unwrap(),
        "--max-frames",
        &FRAMES.to_string(),
        "--no-mqtt",
        "--no-http",
        "--stdout",
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(frames.len() as u64, FRAMES * u64::from(W * H * 3));
    let want = format!(
        "edgepipe: summary: shapes refused (beyond a frame's bounds, not painted): flood: {}",
        FRAMES * (10_001 - 4096)
    );
    assert!(err.lines().any(|l| l == want), "{err}");
    assert_eq!(
        err.matches("shapes refused: more than 4096 shapes in a frame")
            .count(),
        1,
        "logged once: {err}"
    );
}
