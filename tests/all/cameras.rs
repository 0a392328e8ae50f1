//! Several cameras in one process, with real parts: two files and a live
//! MJPEG-over-HTTP camera served by the test, one model shared, mosquitto.
//! Each camera publishes under its own prefix, once per frame; one camera's
//! outage or failure changes nothing for the others (a live one that gives
//! up is started again); two cameras with the same stage keep separate state.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::common;
use crate::lifecycle::{flaky_mjpeg_camera, jpeg_frames, serve_mjpeg};

const FRAMES: usize = 20;

/// The frames of camera `name` in the per-camera summaries on stderr.
pub(crate) fn frames_of(stderr: &str, name: &str) -> usize {
    let head = format!("edgepipe: camera {name}:\n");
    let rest = stderr
        .split(&head)
        .nth(1)
        .unwrap_or_else(|| panic!("no summary of camera {name}:\n{stderr}"));
    rest.strip_prefix("edgepipe: summary: ")
        .and_then(|r| r.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no frame count for camera {name}:\n{stderr}"))
}

/// The payloads published on `topic`, in order.
pub(crate) fn payloads(messages: &[(String, String)], topic: &str) -> Vec<String> {
    messages
        .iter()
        .filter(|(t, _)| t == topic)
        .map(|(_, p)| p.clone())
        .collect()
}

#[test]
fn three_cameras_publish_under_their_own_prefix_and_an_outage_stays_local() {
    let dir = common::TempDir::new("cameras-three");
    let copy = dir.path().join("till.avi");
    std::fs::copy(common::clip(), &copy).unwrap();
    let port = flaky_mjpeg_camera(jpeg_frames(dir.path(), 40), 8, Duration::from_millis(1500));
    let broker = common::Mosquitto::start();
    let mut sub = common::Subscriber::start(broker.port, &["#"]);
    let state = dir.path().join("state");
    let (code, _, stderr) = common::run_edgepipe(&[
        "run",
        "--camera",
        &format!("door={}", common::clip().display()),
        "--camera",
        &format!("till={}", copy.display()),
        "--camera",
        &format!("lobby=http://127.0.0.1:{port}/video.mjpg"),
        "--max-frames",
        &FRAMES.to_string(),
        "--mqtt-url",
        &broker.url(),
        "--state-dir",
        state.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(frames_of(&stderr, "door"), FRAMES);
    assert_eq!(frames_of(&stderr, "till"), FRAMES);
    let lobby = frames_of(&stderr, "lobby");
    assert!(sub.wait_for(Duration::from_secs(20), |m| {
        payloads(m, "door/person").len() == FRAMES
            && payloads(m, "till/person").len() == FRAMES
            && payloads(m, "lobby/person").len() == lobby
            && m.iter().any(|(t, _)| t == "lobby/person/total")
    }));
    let m = sub.messages().to_vec();
    assert!(
        !m.iter().any(|(t, _)| t == "person"),
        "with several cameras nothing is published without a camera prefix"
    );
    // The two files are the same clip: the live camera's outage changed nothing for them.
    assert_eq!(
        payloads(&m, "door/person"),
        payloads(&m, "till/person"),
        "door and till count alike"
    );
    let events = payloads(&m, "edgepipe/default/cameras/lobby/source");
    assert!(
        events.iter().any(|p| p.contains("\"lost\""))
            && events.iter().any(|p| p.contains("\"back\"")),
        "the live camera's outage is published under its own host topics: {events:?}"
    );
    // Same stage, two cameras: two state files.
    for cam in ["door", "till", "lobby"] {
        assert!(
            state
                .join("default")
                .join(cam)
                .join("people-counter.state")
                .is_file(),
            "state of {cam} in its own folder"
        );
    }
}

/// An MJPEG-over-HTTP camera: `first` frames to its first client, then
/// away (connections dropped) until `back` is set, then the rest of `jpegs`
/// to every client.
fn camera_away_until(jpegs: Vec<Vec<u8>>, first: usize, back: Arc<AtomicBool>) -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut served_first = false;
        for conn in listener.incoming() {
            let Ok(conn) = conn else { continue };
            if !served_first {
                serve_mjpeg(conn, &jpegs[..first]);
                served_first = true;
            } else if back.load(Ordering::SeqCst) {
                serve_mjpeg(conn, &jpegs[first..]);
            }
        }
    });
    port
}

#[test]
fn a_live_camera_whose_source_gives_up_is_started_again_and_the_others_never_notice() {
    let dir = common::TempDir::new("cameras-gives-up");
    // Five frames, then the camera is away until the test sees it stopped.
    let back = Arc::new(AtomicBool::new(false));
    let port = camera_away_until(jpeg_frames(dir.path(), 40), 5, back.clone());
    let pipeline = dir.path().join("pipeline.toml");
    // Retries of 200 ms doubling up to 1 s, for 1 s without a frame.
    std::fs::write(
        &pipeline,
        "[source]\nretry_secs = 1\nretry_initial_ms = 200\nretry_max_ms = 1000\n",
    )
    .unwrap();
    let broker = common::Mosquitto::start();
    let mut sub = common::Subscriber::start(broker.port, &["#"]);
    let mut child = common::command()
        .args(["run", "--config"])
        .arg(&pipeline)
        .arg("--camera")
        .arg(format!("door={}", common::clip().display()))
        .arg("--camera")
        .arg(format!("gate=http://127.0.0.1:{port}/video.mjpg"))
        .args([
            "--max-frames",
            &FRAMES.to_string(),
            "--mqtt-url",
            &broker.url(),
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let err = common::stderr_of(&mut child);
    let gate_events = |m: &[(String, String)], e: &str| {
        payloads(m, "edgepipe/default/cameras/gate/events")
            .iter()
            .filter(|p| p.contains(&format!("\"event\":\"{e}\"")))
            .count()
    };
    assert!(
        sub.wait_for(Duration::from_secs(120), |m| gate_events(m, "stopped") >= 1),
        "gate gave up and was stopped"
    );
    back.store(true, Ordering::SeqCst);
    let code = common::wait_exit(&mut child, Duration::from_secs(120));
    let stderr = err.join().unwrap();
    assert_eq!(
        code, 3,
        "the worst camera's status (input: 3, the run that gave up):\n{stderr}"
    );
    assert!(
        stderr.contains("edgepipe: error: camera gate: input"),
        "{stderr}"
    );
    assert_eq!(
        frames_of(&stderr, "door"),
        FRAMES,
        "the other camera has all its frames"
    );
    // The gate's last run: with the camera back, to its last frame.
    let last_gate = stderr
        .rsplit("edgepipe: camera gate:\n")
        .next()
        .unwrap_or("");
    assert!(
        last_gate.starts_with("edgepipe: summary: ")
            && last_gate.contains("stopped: max frames reached"),
        "gate started again and ran to its end: {stderr}"
    );
    assert!(sub.wait_for(Duration::from_secs(20), |m| {
        payloads(m, "door/person").len() == FRAMES && gate_events(m, "restarted") >= 1
    }));
    let m = sub.messages().to_vec();
    let restarted = m
        .iter()
        .position(|(t, p)| {
            t == "edgepipe/default/cameras/gate/events" && p.contains("\"restarted\"")
        })
        .unwrap_or(m.len());
    assert!(
        m[restarted..].iter().any(|(t, _)| t == "gate/person"),
        "the gate publishes again once started again"
    );
    let source = payloads(&m, "edgepipe/default/cameras/gate/source");
    assert!(
        source.iter().any(|p| p.contains("\"gave-up\"")),
        "{source:?}"
    );
    assert!(
        payloads(&m, "edgepipe/default/cameras/door/events").is_empty(),
        "nothing happened to door"
    );
}

#[test]
fn bad_camera_flags_are_one_line_errors() {
    for (flag, needle) in [("door", "NAME=INPUT"), ("Door=a.avi", "camera name")] {
        let (code, _, stderr) = common::run_edgepipe(&[
            "run",
            "--camera",
            flag,
            "--camera",
            "till=b.avi",
            "--no-mqtt",
        ]);
        assert_eq!(code, 2, "{stderr}");
        common::one_error_line(&stderr, needle);
    }
    let (code, _, stderr) = common::run_edgepipe(&[
        "run",
        "--camera",
        "a=x.avi",
        "--camera",
        "b=y.avi",
        "--no-mqtt",
        "--stdout",
    ]);
    assert_eq!(code, 2, "{stderr}");
    common::one_error_line(&stderr, "--stdout serves one camera");
}

#[test]
fn a_camera_whose_stage_loops_leaves_the_others_whole() {
    let dir = common::TempDir::new("cameras-loops");
    let file = dir.path().join("two.toml");
    std::fs::write(
        &file,
        format!(
            "[[cameras]]\nname = \"good\"\ninput = {clip:?}\n\n\
             [[cameras]]\nname = \"bad\"\ninput = {clip:?}\n\n\
             [[cameras.stages]]\nname = \"loops\"\nkind = \"stats\"\npath = {hostile:?}\nsettings = {{ mode = \"loop\" }}\n",
            clip = common::clip(),
            hostile = common::guest("hostile"),
        ),
    )
    .unwrap();
    let broker = common::Mosquitto::start();
    let mut sub = common::Subscriber::start(broker.port, &["#"]);
    let (code, _, stderr) = common::run_edgepipe(&[
        "run",
        "--config",
        file.to_str().unwrap(),
        "--max-frames",
        &FRAMES.to_string(),
        "--mqtt-url",
        &broker.url(),
    ]);
    assert_eq!(
        code, 8,
        "the worst camera is degraded (its stage faults):\n{stderr}"
    );
    assert_eq!(frames_of(&stderr, "good"), FRAMES);
    assert!(
        stderr.contains("edgepipe: camera good: exit status 0"),
        "{stderr}"
    );
    assert!(sub.wait_for(Duration::from_secs(20), |m| {
        payloads(m, "good/person").len() == FRAMES
    }));
    assert!(
        payloads(sub.messages(), "bad/person").is_empty(),
        "the bad camera's own chain (one looping stage) publishes nothing"
    );
}

#[test]
fn detect_fps_caps_what_goes_to_the_model_and_every_frame_is_still_shown() {
    let broker = common::Mosquitto::start();
    let mut sub = common::Subscriber::start(broker.port, &["person"]);
    let dir = common::TempDir::new("detect-fps");
    let rec = dir.path().join("r.jsonl");
    let (code, _, stderr) = common::run_edgepipe(&[
        "run",
        "--input",
        common::clip().to_str().unwrap(),
        "--detect-fps",
        "2",
        "--max-frames",
        &FRAMES.to_string(),
        "--mqtt-url",
        &broker.url(),
        "--record",
        rec.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    // The clip is 10 fps: frames at 0, 0.5, 1.0 and 1.5 s go to the model.
    assert!(
        stderr.contains(&format!("frames inferred: 4 of {FRAMES} (detect_fps)")),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read_to_string(&rec).unwrap().lines().count(),
        FRAMES,
        "every frame is recorded"
    );
    assert!(sub.wait_for(Duration::from_secs(20), |m| m.len() == FRAMES));
}

/// A stage of contract 0.3.0 on (the Python topics template, built as a newcomer
/// would) sees which camera each frame is from.
#[test]
fn a_stage_sees_the_camera_of_each_frame() {
    let dir = common::TempDir::new("cameras-contract");
    let cache = dir.path().join("cache");
    let run = |args: &[&str]| {
        let out = common::command()
            .current_dir(dir.path())
            .env("EDGEPIPE_CACHE_DIR", &cache)
            .args(args)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(0), "{args:?}: {err}");
        err
    };
    let d = dir.path().to_str().unwrap().to_string();
    run(&[
        "plugin",
        "new",
        "cam-topics",
        "--lang",
        "python",
        "--world",
        "topics",
        "--dir",
        &d,
    ]);
    run(&["plugin", "build", "cam-topics"]);
    let wasm = dir.path().join("cam-topics/cam-topics.wasm");
    let file = dir.path().join("two.toml");
    std::fs::write(
        &file,
        format!(
            "[[cameras]]\nname = \"door\"\ninput = {clip:?}\n\n\
             [[cameras]]\nname = \"till\"\ninput = {clip:?}\n\n\
             [[stages]]\nname = \"people-counter\"\nkind = \"stats\"\npath = {pc:?}\n\n\
             [[stages]]\nname = \"cam-topics\"\nkind = \"topics\"\npath = {wasm:?}\n",
            clip = common::clip(),
            pc = common::plugin("people-counter"),
        ),
    )
    .unwrap();
    let broker = common::Mosquitto::start();
    let mut sub = common::Subscriber::start(broker.port, &["+/cam-topics/#"]);
    run(&[
        "run",
        "--config",
        file.to_str().unwrap(),
        "--max-frames",
        "10",
        "--mqtt-url",
        &broker.url(),
    ]);
    // The template publishes `count` when the count changes, `total` at the end.
    assert!(sub.wait_for(Duration::from_secs(20), |m| {
        ["door", "till"]
            .iter()
            .all(|c| m.iter().any(|(t, _)| *t == format!("{c}/cam-topics/total")))
    }));
    for cam in ["door", "till"] {
        let seen: Vec<serde_json::Value> =
            payloads(sub.messages(), &format!("{cam}/cam-topics/count"))
                .iter()
                .map(|p| serde_json::from_str(p).unwrap())
                .collect();
        assert!(!seen.is_empty(), "{cam}: no count message");
        assert!(seen.iter().all(|p| p["camera"] == cam), "{cam}: {seen:?}");
    }
}

/// What runs where, per camera: each camera of a box publishes its stages'
/// status under its own host topics, and `fleet status` lists both cameras
/// (before, every camera wrote `edgepipe/<pipeline>/stages/operator` and the
/// last one hid the others).
#[test]
fn fleet_status_lists_the_stages_of_every_camera() {
    let dir = common::TempDir::new("cameras-fleet");
    let copy = dir.path().join("till.avi");
    std::fs::copy(common::clip(), &copy).unwrap();
    let broker = common::Mosquitto::start();
    let mut sub = common::Subscriber::start(broker.port, &["edgepipe/#"]);
    let (code, _, stderr) = common::run_edgepipe(&[
        "run",
        "--name",
        "shop",
        "--camera",
        &format!("door={}", common::clip().display()),
        "--camera",
        &format!("till={}", copy.display()),
        "--max-frames",
        "3",
        "--mqtt-url",
        &broker.url(),
        "--no-http",
        "--fresh-state",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let topics = [
        "edgepipe/shop/cameras/door/stages/operator",
        "edgepipe/shop/cameras/till/stages/operator",
    ];
    assert!(
        sub.wait_for(Duration::from_secs(20), |m| topics
            .iter()
            .all(|t| m.iter().any(|(topic, _)| topic == t))),
        "a stage status per camera: {:?}",
        sub.messages()
    );
    let out = std::process::Command::new(common::bin())
        .args(["fleet", "status", "--mqtt-url", &broker.url()])
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{table}");
    for cam in ["door", "till"] {
        assert!(
            table
                .lines()
                .any(|l| l.starts_with("shop") && l.contains(cam) && l.contains("people-counter")),
            "camera {cam} in the table:\n{table}"
        );
    }
}
