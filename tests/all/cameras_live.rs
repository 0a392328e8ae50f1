//! The live view of a process with several cameras, against the real
//! pipeline: `/` lists the cameras, `/cameras/<name>/` is a camera's own page
//! (stream, snapshot, events, status), `/metrics` labels each camera's
//! series, `/api/status` has a row per camera; and the pages in a real
//! headless Chromium.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::common::{self, free_port, TempDir};
use crate::live::{
    clip_arg, finish, get, jpeg_size, next_part, open_stream, parse_prometheus, read_sse, start,
    stderr,
};

/// `--camera NAME=<clip>` for each name.
fn cameras(names: &[&str]) -> Vec<String> {
    names
        .iter()
        .flat_map(|n| ["--camera".to_string(), format!("{n}={}", clip_arg())])
        .collect()
}

fn json(port: u16, path: &str) -> serde_json::Value {
    let (code, head, body) = get(port, path, None);
    assert_eq!(code, 200, "{path}: {head}");
    serde_json::from_slice(&body).unwrap()
}

fn term(child: &std::process::Child) {
    let ok = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
}

#[test]
fn several_cameras_are_listed_and_each_camera_has_its_own_paths() {
    let (port, dir) = (free_port(), TempDir::new("cameras-live"));
    let mut args = cameras(&["door", "till"]);
    args.push("--no-mqtt".into());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    // No frame limit: the run goes on until what the test checks is there.
    let child = start(port, &dir, &args);
    let (code, _, body) = get(port, "/", None);
    assert_eq!(code, 200);
    assert!(
        String::from_utf8_lossy(&body).contains("cameras.js"),
        "/ is the camera list"
    );
    // Each camera joins the list once its input is open.
    let until = Instant::now() + Duration::from_secs(120);
    while json(port, "/api/status")["cameras"]
        .as_array()
        .unwrap()
        .len()
        < 2
    {
        assert!(Instant::now() < until, "{}", stderr(&dir));
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(get(port, "/cameras/door", None).0, 308);
    assert_eq!(get(port, "/cameras/nobody/", None).0, 404);
    assert_eq!(
        get(port, "/stream.mjpeg", None).0,
        404,
        "a camera's stream is under its name"
    );
    let (code, _, body) = get(port, "/cameras/door/", None);
    assert_eq!(code, 200);
    assert!(String::from_utf8_lossy(&body).contains("stream.mjpeg"));
    // Each camera's stream and snapshot.
    for cam in ["door", "till"] {
        let (head, mut r) = open_stream(port, &format!("/cameras/{cam}/stream.mjpeg"));
        assert!(head.contains("multipart/x-mixed-replace"), "{head}");
        let a = next_part(&mut r).expect("a part");
        assert_eq!(jpeg_size(&a), (768, 576));
        let (code, head, body) = get(
            port,
            &format!("/cameras/{cam}/snapshot.jpg?height=240"),
            None,
        );
        assert_eq!(code, 200, "{head}");
        assert_eq!(jpeg_size(&body), (320, 240));
    }
    // A camera's events are its own messages.
    let (head, events) = open_stream(port, "/cameras/door/api/events");
    assert!(head.contains("text/event-stream"));
    let door_events = std::thread::spawn(move || read_sse(events));
    // /metrics and /api/status: a row per camera, until both have frames.
    let until = Instant::now() + Duration::from_secs(240);
    let (samples, status) = loop {
        let (code, head, body) = get(port, "/metrics", None);
        assert_eq!(code, 200);
        assert!(head.contains("text/plain; version=0.0.4"));
        let s = parse_prometheus(&String::from_utf8(body).unwrap());
        let status = json(port, "/api/status");
        let counted = ["door", "till"].iter().all(|c| {
            [
                "edgepipe_frames_total",
                "edgepipe_messages_total",
                "edgepipe_stage_seconds_count",
            ]
            .iter()
            .all(|n| {
                s.get(&format!("{n}{{camera=\"{c}\"}}"))
                    .is_some_and(|v| *v >= 10.0)
            })
        });
        if counted {
            break (s, status);
        }
        assert!(
            Instant::now() < until,
            "both cameras never had 10 frames: {status}\n{}",
            stderr(&dir)
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    for c in ["door", "till"] {
        let inf = samples[&format!("edgepipe_stage_seconds_bucket{{camera=\"{c}\",le=\"+Inf\"}}")];
        assert_eq!(
            inf,
            samples[&format!("edgepipe_stage_seconds_count{{camera=\"{c}\"}}")]
        );
        assert!(samples.contains_key(&format!(
            "edgepipe_queue_depth{{camera=\"{c}\",queue=\"capture\"}}"
        )));
    }
    assert!(
        !samples.contains_key("edgepipe_frames_total"),
        "no unlabelled camera series with several cameras"
    );
    assert!(
        samples.contains_key("edgepipe_viewers"),
        "the process's own"
    );
    let rows = status["cameras"].as_array().unwrap();
    let names: Vec<&str> = rows.iter().map(|r| r["camera"].as_str().unwrap()).collect();
    assert_eq!(names, ["door", "till"], "{status}");
    for r in rows {
        assert_eq!(r["width"], 768);
        assert_eq!(
            r["topic_prefix"],
            format!("{}/", r["camera"].as_str().unwrap())
        );
        assert!(r["stages"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["name"] == "people-counter"));
    }
    let door = json(port, "/cameras/door/api/status");
    assert_eq!(door["camera"], "door");
    assert_eq!(door["topic_prefix"], "door/");
    // The door's metrics alone, still labelled.
    let (_, _, body) = get(port, "/cameras/door/metrics", None);
    let d = parse_prometheus(&String::from_utf8(body).unwrap());
    assert!(d.contains_key("edgepipe_frames_total{camera=\"door\"}"));
    assert!(!d.contains_key("edgepipe_frames_total{camera=\"till\"}"));
    term(&child);
    assert_eq!(finish(child, &dir), 0, "{}", stderr(&dir));
    let door = door_events.join().unwrap();
    assert!(door.iter().any(|(t, _)| t == "door/person"), "{door:?}");
    assert!(
        door.iter().all(|(t, _)| !t.starts_with("till/")),
        "only door's messages on door's page"
    );
}

#[test]
fn camera_list_and_a_camera_page_in_headless_chromium() {
    let pw = common::root().join("vendor/node/node_modules/playwright-core");
    assert!(
        pw.exists() && std::path::Path::new("/usr/bin/chromium").exists(),
        "run scripts/setup.sh (chromium, playwright-core)"
    );
    let (port, dir) = (free_port(), TempDir::new("cameras-page"));
    // The walkthrough's file: door, and till under shop/till/ at 2 inferred frames a second.
    let shop = common::root().join("examples/cameras/shop.toml");
    let http = format!("127.0.0.1:{port}");
    let mut child = start(
        port,
        &dir,
        &[
            "--config",
            shop.to_str().unwrap(),
            "--no-mqtt",
            "--http",
            &http,
        ],
    );
    let artifacts = common::root().join("target/test-artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    let (list_shot, cam_shot) = (
        artifacts.join("live-cameras.png"),
        artifacts.join("live-camera-till.png"),
    );
    let out = Command::new("node")
        .arg(common::root().join("tests/browser/cameras-page.cjs"))
        .args([
            &format!("http://127.0.0.1:{port}/"),
            "till",
            list_shot.to_str().unwrap(),
            cam_shot.to_str().unwrap(),
        ])
        .env("PLAYWRIGHT_CORE", &pw)
        .env("CAMERAS", "2")
        .output()
        .unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        stderr(&dir)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let tiles = v["tiles"].as_array().unwrap();
    let names: Vec<&str> = tiles
        .iter()
        .map(|t| t["camera"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["door", "till"], "a tile per camera: {v}");
    for t in tiles {
        assert_eq!(
            t["width"], 320,
            "each tile shows a frame of its camera: {v}"
        );
        assert!(t["people"].as_str().unwrap().parse::<u32>().is_ok(), "{v}");
    }
    assert!(
        v["cameraUrl"].as_str().unwrap().ends_with("/cameras/till/"),
        "the tile opens the camera's page: {v}"
    );
    let cam = &v["camera"];
    assert_eq!(cam["videoDiffers"], true, "the camera's video moves: {v}");
    assert_eq!(cam["first"]["width"], 768);
    assert!(cam["second"]["frames"].as_u64() > cam["first"]["frames"].as_u64());
    assert!(
        cam["second"]["people"]
            .as_str()
            .unwrap()
            .parse::<u32>()
            .is_ok(),
        "{v}"
    );
    assert!(
        cam["second"]["title"].as_str().unwrap().contains("till"),
        "the page names its camera: {v}"
    );
    let topics = cam["second"]["topics"].as_array().unwrap();
    assert!(
        !topics.is_empty()
            && topics
                .iter()
                .all(|t| t.as_str().unwrap().starts_with("shop/till/")),
        "only till's messages, under its prefix: {v}"
    );
    assert!(
        v["errors"].as_array().unwrap().is_empty(),
        "no script errors: {v}"
    );
    for shot in [&list_shot, &cam_shot] {
        assert!(
            std::fs::metadata(shot).unwrap().len() > 10_000,
            "{}",
            shot.display()
        );
    }
}
