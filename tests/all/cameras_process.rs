//! The process with several cameras, with real parts (mosquitto, the clip, a
//! live MJPEG camera served by the test): the process status
//! `edgepipe/<pipeline>/status` stays `online` while one camera ends, goes
//! `offline` at the end or when the process goes away (last will); eight
//! cameras run in one process, each with every frame and message once.

use std::process::Stdio;
use std::time::Duration;

use crate::cameras::{frames_of, payloads};
use crate::common;
use crate::lifecycle::{flaky_mjpeg_camera, jpeg_frames};

const PROCESS: &str = "edgepipe/default/status";

fn last_is(m: &[(String, String)], topic: &str, want: &str) -> bool {
    payloads(m, topic).last().is_some_and(|p| p == want)
}

#[test]
fn the_process_status_outlives_a_camera_and_goes_offline_with_the_process() {
    let dir = common::TempDir::new("cameras-process-status");
    // Five frames, then the live camera is away for longer than the run waits.
    let port = flaky_mjpeg_camera(jpeg_frames(dir.path(), 10), 5, Duration::from_secs(600));
    let broker = common::Mosquitto::start();
    let mut sub = common::Subscriber::start(broker.port, &["#"]);
    // No frame limit: the clip camera runs until the test has seen what it checks.
    let mut child = common::command()
        .args([
            "run",
            "--camera",
            &format!("door={}", common::clip().display()),
            "--camera",
            &format!("gate=http://127.0.0.1:{port}/video.mjpg"),
            "--source-retry-secs",
            "2",
            "--mqtt-url",
            &broker.url(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = common::stderr_of(&mut child);
    let gate_gone = |m: &[(String, String)]| {
        payloads(m, "edgepipe/default/cameras/gate/source")
            .iter()
            .any(|p| p.contains("\"gave-up\""))
            && last_is(m, "edgepipe/default/cameras/gate/status", "offline")
    };
    assert!(
        sub.wait_for(Duration::from_secs(120), gate_gone),
        "the live camera gave up and its own status went offline: {:?}",
        sub.messages()
    );
    // The other camera goes on after that, and the process is still online.
    let seen = payloads(sub.messages(), "door/person").len();
    assert!(
        sub.wait_for(Duration::from_secs(60), |m| payloads(m, "door/person")
            .len()
            > seen + 5),
        "door goes on"
    );
    let m = sub.messages().to_vec();
    assert_eq!(
        payloads(&m, PROCESS),
        ["online"],
        "one camera ending does not flip the process status"
    );
    assert!(
        last_is(&m, "edgepipe/default/cameras/door/status", "online"),
        "door's own status: {:?}",
        payloads(&m, "edgepipe/default/cameras/door/status")
    );
    // The process goes away without a word: the broker publishes its last will.
    child.kill().unwrap();
    let _ = child.wait();
    drop(stderr);
    assert!(
        sub.wait_for(Duration::from_secs(60), |m| last_is(m, PROCESS, "offline")),
        "the process status went offline: {:?}",
        payloads(sub.messages(), PROCESS)
    );
}

#[test]
fn eight_cameras_run_in_one_process_each_frame_and_message_once() {
    const FRAMES: usize = 6;
    let broker = common::Mosquitto::start();
    let mut sub = common::Subscriber::start(broker.port, &["#"]);
    let names: Vec<String> = (1..=8).map(|i| format!("cam{i}")).collect();
    let clip = common::clip().display().to_string();
    let mut args = vec!["run".to_string()];
    for n in &names {
        args.extend(["--camera".to_string(), format!("{n}={clip}")]);
    }
    args.extend(
        [
            "--max-frames",
            &FRAMES.to_string(),
            "--mqtt-url",
            &broker.url(),
        ]
        .map(String::from),
    );
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, _, stderr) = common::run_edgepipe(&args);
    assert_eq!(code, 0, "{stderr}");
    for n in &names {
        assert_eq!(frames_of(&stderr, n), FRAMES, "{n}");
        assert!(
            stderr.contains(&format!("edgepipe: camera {n}: exit status 0")),
            "{n}: {stderr}"
        );
    }
    assert!(
        sub.wait_for(Duration::from_secs(30), |m| {
            names
                .iter()
                .all(|n| payloads(m, &format!("{n}/person")).len() >= FRAMES)
                && last_is(m, PROCESS, "offline")
        }),
        "every camera's messages and the process status: {:?}",
        sub.messages()
    );
    let m = sub.messages().to_vec();
    for n in &names {
        assert_eq!(
            payloads(&m, &format!("{n}/person")).len(),
            FRAMES,
            "{n}: one person message a frame, once"
        );
        assert_eq!(
            payloads(&m, &format!("edgepipe/default/cameras/{n}/status")),
            ["online", "offline"],
            "{n}'s own status"
        );
    }
    // The same clip on every camera: every camera counts alike.
    let first = payloads(&m, "cam1/person");
    for n in &names[1..] {
        assert_eq!(payloads(&m, &format!("{n}/person")), first, "{n}");
    }
    assert_eq!(payloads(&m, PROCESS), ["online", "offline"]);
}
