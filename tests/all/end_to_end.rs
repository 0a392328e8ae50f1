//! The whole chain on real parts: vtest.avi -> yolov12n -> wasm stages ->
//! a real mosquitto + a real ffmpeg reading stdout.

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::common;

const FRAMES: u64 = 60;
const FRAME_BYTES: u64 = 768 * 576 * 3;

#[test]
fn sixty_frames_to_mosquitto_and_ffmpeg() {
    let broker = common::Mosquitto::start();
    let dir = common::TempDir::new("e2e");
    let video = dir.path().join("out.mp4");
    let record = dir.path().join("record.jsonl");

    // Subscribe first, and wait for the SUBACKs, so no message is missed.
    let mut sub = common::Subscriber::start(
        broker.port,
        &["person", "person/duration", "class", "speedometer"],
    );

    let mut edgepipe = common::command()
        .args(["run", "--input"])
        .arg(common::clip())
        .args([
            "--max-frames",
            &FRAMES.to_string(),
            "--stdout",
            "--mqtt-url",
            &broker.url(),
            "--record",
        ])
        .arg(&record)
        .env_remove("ORT_DYLIB_PATH")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut ffmpeg = Command::new("ffmpeg")
        .args([
            "-hide_banner",
            "-loglevel",
            "error",
            "-y",
            "-f",
            "rawvideo",
            "-pixel_format",
            "bgr24",
        ])
        .args(["-video_size", "768x576", "-framerate", "10", "-i", "-"])
        .args([
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-pix_fmt",
            "yuv420p",
        ])
        .arg(&video)
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("ffmpeg is installed");

    // Tee: count every byte edgepipe writes while feeding ffmpeg.
    let mut from = edgepipe.stdout.take().unwrap();
    let mut to = ffmpeg.stdin.take().unwrap();
    let mut buf = vec![0u8; 1 << 16];
    let mut total: u64 = 0;
    loop {
        let n = from.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        total += n as u64;
        to.write_all(&buf[..n]).unwrap();
    }
    drop(to);
    let mut stderr = String::new();
    edgepipe
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let status = edgepipe.wait().unwrap();
    assert!(status.success(), "edgepipe failed: {status}\n{stderr}");
    let ff = ffmpeg.wait_with_output().unwrap();
    assert!(
        ff.status.success(),
        "ffmpeg failed: {}",
        String::from_utf8_lossy(&ff.stderr)
    );

    assert_eq!(
        total,
        FRAMES * FRAME_BYTES,
        "stdout carries exactly 60 frames of BGR24 and nothing else"
    );

    let probe = Command::new("ffprobe")
        .args(["-v", "error", "-count_frames", "-select_streams", "v:0"])
        .args([
            "-show_entries",
            "stream=width,height,nb_read_frames",
            "-of",
            "csv=p=0",
        ])
        .arg(&video)
        .output()
        .unwrap();
    let probe = String::from_utf8_lossy(&probe.stdout).trim().to_string();
    assert_eq!(probe, "768,576,60", "ffprobe sees 60 frames of 768x576");

    // edgepipe waited for every PUBACK before disconnecting, and mosquitto
    // forwards in order; give the subscriber a moment to drain.
    sub.wait_for(Duration::from_secs(5), |m| {
        m.iter().filter(|(t, _)| t == "person").count() as u64 >= FRAMES
    });
    let person: Vec<String> = sub
        .messages()
        .iter()
        .filter(|(t, _)| t == "person")
        .map(|(_, p)| p.clone())
        .collect();
    assert_eq!(
        person.len() as u64,
        FRAMES,
        "one `person` message per frame"
    );
    let mut last_total = 0;
    for p in &person {
        let v: serde_json::Value = serde_json::from_str(p).unwrap();
        let count = v["count"]
            .as_u64()
            .unwrap_or_else(|| panic!("integer count in {p}"));
        let total = v["total"]
            .as_u64()
            .unwrap_or_else(|| panic!("integer total in {p}"));
        assert!(count <= total && total >= last_total, "{p}");
        last_total = total;
        assert_eq!(
            v.as_object().unwrap().len(),
            2,
            "exactly count and total: {p}"
        );
    }
    assert!(
        last_total >= 3,
        "vtest.avi shows several people in its first 6 s: total {last_total}"
    );
    // Exactly one duration per person counted, those still in view at the end included.
    sub.wait_for(Duration::from_secs(5), |m| {
        m.iter().filter(|(t, _)| t == "person/duration").count() as u64 >= last_total
    });
    let durations = sub
        .messages()
        .iter()
        .filter(|(t, _)| t == "person/duration")
        .count() as u64;
    assert_eq!(
        durations, last_total,
        "one person/duration per distinct person"
    );
    // The course's other topics, one per frame.
    for (topic, key) in [("class", "class_names"), ("speedometer", "speed")] {
        let got: Vec<serde_json::Value> = sub
            .messages()
            .iter()
            .filter(|(t, _)| t == topic)
            .map(|(_, p)| serde_json::from_str(p).unwrap())
            .collect();
        assert_eq!(got.len() as u64, FRAMES, "one `{topic}` message per frame");
        let ok = |v: &serde_json::Value| {
            if key == "speed" {
                v[key].is_number()
            } else {
                v[key].is_array()
            }
        };
        assert!(
            got.iter()
                .all(|v| ok(v) && v.as_object().unwrap().len() == 1),
            "{topic}: {got:?}"
        );
    }
    let classes = sub
        .messages()
        .iter()
        .filter(|(t, _)| t == "class")
        .map(|(_, p)| p.clone())
        .next()
        .unwrap_or_default();
    assert!(classes.contains("\"person\""), "{classes}");

    // The record has one line per frame with boxes inside the frame.
    let text = std::fs::read_to_string(&record).unwrap();
    let lines: Vec<edgepipe::sink::RecordLine> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len() as u64, FRAMES);
    assert_eq!(
        lines.iter().map(|l| l.index).collect::<Vec<_>>(),
        (0..FRAMES).collect::<Vec<_>>()
    );
    assert!(lines.iter().all(|l| l
        .detections
        .iter()
        .all(|d| d.bbox.x2() <= 768.0 && d.bbox.y2() <= 576.0)));
    assert!(
        lines[0]
            .detections
            .iter()
            .filter(|d| d.label == "person")
            .count()
            >= 3
    );
    // ... and every stats stage's stats of that frame, the tracks included.
    for l in &lines {
        let names: Vec<&str> = l.stats.iter().map(|s| s.name.as_str()).collect();
        for n in ["count", "total", "tracks", "class_names", "speed"] {
            assert!(
                names.contains(&n),
                "frame {} lacks stat {n}: {names:?}",
                l.index
            );
        }
    }
    let last = lines.last().unwrap();
    let tracks: serde_json::Value = serde_json::from_str(
        &last
            .stats
            .iter()
            .find(|s| s.name == "tracks")
            .unwrap()
            .value,
    )
    .unwrap();
    let count: usize = last
        .stats
        .iter()
        .find(|s| s.name == "count")
        .unwrap()
        .value
        .parse()
        .unwrap();
    assert_eq!(
        tracks.as_array().unwrap().len(),
        count,
        "one track per person in view"
    );
    // The recorded tracks against the hand-made truth of the same frames.
    let gt = common::root().join("tests/data/vtest-gt.txt");
    let (code, out, err) = common::run_edgepipe(&[
        "eval",
        "--record",
        record.to_str().unwrap(),
        "--gt",
        gt.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    let m: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(m["frames"], FRAMES);
    // Measured 0.77 / 0.71 with 3 switches among the group at the lamp post.
    assert!(
        m["mota"].as_f64().unwrap() > 0.7 && m["idf1"].as_f64().unwrap() > 0.6,
        "{m}"
    );

    assert!(
        stderr.contains("ffmpeg -f rawvideo -pixel_format bgr24 -video_size 768x576"),
        "{stderr}"
    );
    assert!(stderr.contains("MQTT messages published: "), "{stderr}");
    assert!(stderr.contains("unacknowledged: 0"), "{stderr}");
}

#[test]
fn a_reader_that_goes_away_ends_the_run_cleanly() {
    let mut child = common::command()
        .args(["run", "--input"])
        .arg(common::clip())
        .args(["--max-frames", "200", "--stdout", "--no-mqtt"])
        .env_remove("ORT_DYLIB_PATH")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = child.stdout.take().unwrap();
    let mut frame = vec![0u8; FRAME_BYTES as usize];
    out.read_exact(&mut frame).unwrap();
    drop(out); // the reader goes away after one frame
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}\n{stderr}");
    assert!(stderr.contains("stdout reader went away"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn a_still_image_is_one_frame() {
    let dir = common::TempDir::new("image");
    let png = dir.path().join("frame.png");
    let ok = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-y", "-i"])
        .arg(common::clip())
        .args(["-frames:v", "1"])
        .arg(&png)
        .status()
        .unwrap();
    assert!(ok.success());
    let record = dir.path().join("r.jsonl");
    let (code, stdout, stderr) = common::run_edgepipe(&[
        "run",
        "--input",
        png.to_str().unwrap(),
        "--no-mqtt",
        "--stdout",
        "--record",
        record.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout.len() as u64, FRAME_BYTES);
    let lines: Vec<edgepipe::sink::RecordLine> = std::fs::read_to_string(&record)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1);
    assert!(
        lines[0]
            .detections
            .iter()
            .filter(|d| d.label == "person")
            .count()
            >= 3
    );
}
