//! The threaded engine on real parts: order kept with parallel sessions,
//! nothing dropped from a file, and the benchmark's report.

use std::process::Command;

use edgepipe::sink::RecordLine;

use crate::common;

fn record(path: &std::path::Path) -> Vec<RecordLine> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn run_recorded(dir: &common::TempDir, tag: &str, extra: &[&str]) -> (Vec<RecordLine>, String) {
    let rec = dir.path().join(format!("{tag}.jsonl"));
    let clip = common::clip();
    let mut args = vec![
        "run",
        "--input",
        clip.to_str().unwrap(),
        "--no-mqtt",
        "--record",
        rec.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let (code, stdout, stderr) = common::run_edgepipe(&args);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.is_empty(), "no --stdout: nothing on stdout");
    (record(&rec), stderr)
}

#[test]
fn two_sessions_keep_frame_order_and_find_what_one_session_finds() {
    const FRAMES: u64 = 24;
    let dir = common::TempDir::new("order");
    let n = FRAMES.to_string();
    let (two, stderr2) = run_recorded(
        &dir,
        "two",
        &["--max-frames", &n, "--sessions", "2", "--threads", "1"],
    );
    assert!(stderr2.contains("2 worker(s) x 1 thread(s)"), "{stderr2}");
    let (one, stderr1) = run_recorded(
        &dir,
        "one",
        &["--max-frames", &n, "--sessions", "1", "--threads", "1"],
    );
    assert!(stderr1.contains("1 worker(s) x 1 thread(s)"), "{stderr1}");

    let indices: Vec<u64> = two.iter().map(|l| l.index).collect();
    assert_eq!(
        indices,
        (0..FRAMES).collect::<Vec<_>>(),
        "strictly 0..N-1, in order"
    );
    assert_eq!(one.len(), two.len());
    let mut boxes = 0;
    for (a, b) in one.iter().zip(&two) {
        assert_eq!((a.index, a.timestamp_ms), (b.index, b.timestamp_ms));
        assert_eq!(a.detections.len(), b.detections.len(), "frame {}", a.index);
        for (x, y) in a.detections.iter().zip(&b.detections) {
            assert_eq!(
                (x.class_id, &x.label),
                (y.class_id, &y.label),
                "frame {}",
                a.index
            );
            assert!(
                (x.score - y.score).abs() < 1e-4,
                "frame {}: {} vs {}",
                a.index,
                x.score,
                y.score
            );
            for (p, q) in [
                (x.bbox.x, y.bbox.x),
                (x.bbox.y, y.bbox.y),
                (x.bbox.width, y.bbox.width),
                (x.bbox.height, y.bbox.height),
            ] {
                assert!(
                    (p - q).abs() < 1e-2,
                    "frame {}: {:?} vs {:?}",
                    a.index,
                    x.bbox,
                    y.bbox
                );
            }
            boxes += 1;
        }
    }
    assert!(
        boxes >= 3 * FRAMES as usize,
        "the clip is full of people: {boxes} boxes"
    );
}

#[test]
fn a_file_never_drops_a_frame() {
    // A short clip read to its end: the reader is far faster than the model,
    // so the capture queue is full all along and the reader must wait.
    const FRAMES: usize = 30;
    let dir = common::TempDir::new("nodrop");
    let clip = dir.path().join("short.avi");
    let ok = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-y", "-i"])
        .arg(common::clip())
        .args([
            "-frames:v",
            &FRAMES.to_string(),
            "-c:v",
            "mjpeg",
            "-q:v",
            "3",
        ])
        .arg(&clip)
        .status()
        .unwrap();
    assert!(ok.success());
    let rec = dir.path().join("r.jsonl");
    let (code, stdout, stderr) = common::run_edgepipe(&[
        "run",
        "--input",
        clip.to_str().unwrap(),
        "--no-mqtt",
        "--stdout",
        "--sessions",
        "2",
        "--threads",
        "1",
        "--record",
        rec.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        stdout.len(),
        FRAMES * 768 * 576 * 3,
        "every frame on stdout"
    );
    let indices: Vec<u64> = record(&rec).iter().map(|l| l.index).collect();
    assert_eq!(
        indices,
        (0..FRAMES as u64).collect::<Vec<_>>(),
        "all indices present, in order"
    );
    assert!(stderr.contains("stopped: end of input"), "{stderr}");
    assert!(stderr.contains("frames dropped: 0"), "{stderr}");
}

/// A short `edgepipe bench` (6 frames, 2 raw runs) with `extra` flags: its report.
fn short_bench(extra: &[&str]) -> String {
    let clip = common::clip();
    let mut args = vec![
        "bench",
        "--input",
        clip.to_str().unwrap(),
        "--frames",
        "6",
        "--raw-runs",
        "2",
    ];
    args.extend_from_slice(extra);
    let (code, stdout, stderr) = common::run_edgepipe(&args);
    assert_eq!(code, 0, "{stderr}");
    String::from_utf8(stdout).expect("a text report, no frames")
}

#[test]
fn bench_of_the_cpu_provider_alone_does_not_compare_it_with_itself() {
    let text = short_bench(&["--ep", "cpu"]);
    assert!(
        text.contains("3. pipeline / best raw shape of the same provider"),
        "{text}"
    );
    for line in ["best provider / cpu provider", "default pipeline ("] {
        assert!(
            !text.contains(line),
            "{line:?} with only the CPU measured:\n{text}"
        );
    }
}

#[test]
fn bench_prints_its_report_on_stdout() {
    let text = short_bench(&[]);
    for section in [
        "1. raw ONNX Runtime",
        "2. full pipeline:",
        "3. pipeline / best raw shape of the same provider",
        "best provider / cpu provider",
        "default pipeline (openvino) / best raw cpu",
        "4. median ms per frame (openvino pipeline):",
        "default plugins: people-counter",
        "5. resident memory",
    ] {
        assert!(text.contains(section), "{section:?} missing from:\n{text}");
    }
    for provider in ["cpu", "openvino"] {
        // Every shape, then the best of any shape (two sessions included) as the reference.
        // The figure just before the first " fps".
        let fps = |l: &str| {
            l.split_once(" fps")
                .and_then(|(h, _)| h.split_whitespace().last())
                .and_then(|w| w.parse::<f64>().ok())
        };
        let shapes: Vec<f64> = text
            .lines()
            .filter(|l| {
                l.trim_start().starts_with(provider)
                    && l.contains("session(s) x")
                    && l.contains("runs)")
            })
            .filter_map(fps)
            .collect();
        assert!(
            shapes.len() >= 2,
            "{provider}: shapes with one and two sessions:\n{text}"
        );
        let best = text
            .lines()
            .find(|l| l.trim_start().starts_with(provider) && l.contains("best:"))
            .and_then(fps)
            .unwrap_or_else(|| panic!("no best line for {provider}:\n{text}"));
        assert_eq!(
            best,
            shapes.iter().cloned().fold(0.0, f64::max),
            "{provider}: the best of every shape:\n{text}"
        );
    }
    assert!(text.contains("1 session(s) x 1 thread(s)"), "{text}");
    assert!(text.contains(": 6 frames in "), "{text}");
    // "MQTT: P published, A acknowledged of E": at least one message a frame, all acknowledged.
    let mqtt = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("MQTT: "))
        .unwrap_or_else(|| panic!("no MQTT line:\n{text}"));
    let nums: Vec<u64> = mqtt
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|w| w.parse().ok())
        .collect();
    assert_eq!(nums.len(), 3, "{mqtt}");
    assert!(
        nums[0] >= 6 && nums[1] == nums[0] && nums[2] == nums[0],
        "{mqtt}"
    );
}

/// A bench report's steady-state line of `provider`: (frames in the window,
/// seconds, fps, frames out before it, each worker's warm-up frames out).
fn steady_line(text: &str, provider: &str) -> (u64, f64, f64, u64, Vec<Vec<u64>>) {
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| {
            l.starts_with(provider) && l.contains("steady state: ") && l.contains(" fps, after")
        })
        .unwrap_or_else(|| panic!("no steady-state line for {provider}:\n{text}"));
    let nums = |s: &str| -> Vec<f64> {
        s.split(|c: char| !(c.is_ascii_digit() || c == '.'))
            .filter_map(|w| w.parse().ok())
            .collect()
    };
    let (head, warm) = line.split_once("(warm-up frames out: ").unwrap();
    let n = nums(head.split_once("steady state: ").unwrap().1);
    assert_eq!(n.len(), 4, "{line}");
    let workers: Vec<Vec<u64>> = warm
        .trim_end_matches(')')
        .split("; ")
        .map(|w| {
            let (k, outs) = w.split_once(": ").unwrap();
            assert!(k.starts_with("worker "), "{line}");
            outs.split(", ").map(|o| o.parse().unwrap()).collect()
        })
        .collect();
    (n[0] as u64, n[1], n[2], n[3] as u64, workers)
}

/// The steady state leaves out exactly the frames out up to the last of
/// every worker's first two session runs (raw's warm-up), and section 3
/// gives its ratio beside the whole run's.
#[test]
fn bench_steady_state_leaves_out_exactly_the_warmup_frames() {
    let clip = common::clip();
    let clip = clip.to_str().unwrap();
    // One worker: its first two frames are the warm-up, nothing else.
    let (code, stdout, stderr) = common::run_edgepipe(&[
        "bench",
        "--input",
        clip,
        "--ep",
        "cpu",
        "--sessions",
        "1",
        "--requests",
        "1",
        "--frames",
        "7",
        "--raw-runs",
        "1",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let text = String::from_utf8(stdout).unwrap();
    let (frames, secs, fps, skipped, warm) = steady_line(&text, "cpu");
    assert_eq!(warm, [vec![1, 2]], "{text}");
    assert_eq!((skipped, frames), (2, 5), "{text}");
    assert!(
        (fps - frames as f64 / secs).abs() <= 0.01 * fps + 0.5,
        "{fps} fps for {frames} frames in {secs} s:\n{text}"
    );
    // Two workers on one session (the default for a file): both warm-ups
    // are left out, and what was out before the last of them.
    let (code, stdout, stderr) = common::run_edgepipe(&[
        "bench",
        "--input",
        clip,
        "--ep",
        "openvino",
        "--frames",
        "12",
        "--raw-runs",
        "1",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let text = String::from_utf8(stdout).unwrap();
    let (frames, _, fps, skipped, warm) = steady_line(&text, "openvino");
    assert_eq!(warm.len(), 2, "two workers:\n{text}");
    let mut outs: Vec<u64> = warm.iter().flatten().copied().collect();
    assert!(warm.iter().all(|w| w.len() == 2), "{text}");
    outs.sort_unstable();
    outs.dedup();
    assert_eq!(outs.len(), 4, "four distinct warm-up frames:\n{text}");
    assert_eq!(
        skipped, outs[3],
        "up to the last warm-up frame out:\n{text}"
    );
    assert_eq!(frames + skipped, 12, "{text}");
    // Section 3: the steady ratio (the target's) and the whole run's, on one reference.
    let ratio = |kind: &str| {
        let l = text
            .lines()
            .map(str::trim)
            .find(|l| {
                l.starts_with("openvino") && l.contains(&format!("{kind} ")) && l.contains(" / ")
            })
            .unwrap_or_else(|| panic!("no {kind} ratio:\n{text}"));
        let (_, r) = l.split_once(kind).unwrap();
        let v: Vec<f64> = r
            .split_whitespace()
            .filter_map(|w| w.parse().ok())
            .collect();
        (l.to_string(), v[0], v[1], v[2])
    };
    let (line, pipe, reference, x) = ratio("steady state");
    assert!(line.contains("(target >= 0.95: "), "{line}");
    assert!((pipe - fps).abs() < 0.006, "{line} vs {fps}");
    assert!((x - pipe / reference).abs() < 0.002, "{line}");
    let (line, whole, reference2, _) = ratio("whole run");
    assert!(line.contains("fill and drain included"), "{line}");
    assert_eq!(reference, reference2, "{text}");
    let whole_fps = text
        .lines()
        .find(|l| l.trim_start().starts_with("openvino") && l.contains("(whole run)"))
        .and_then(|l| l.split(" = ").nth(1))
        .and_then(|r| r.split_whitespace().next())
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or_else(|| panic!("no whole-run line:\n{text}"));
    assert_eq!(whole, whole_fps, "{text}");
}

#[test]
fn bench_refuses_a_live_source() {
    let (code, stdout, stderr) = common::run_edgepipe(&[
        "bench",
        "--input",
        "rtsp://127.0.0.1:1/none",
        "--frames",
        "5",
    ]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stdout.is_empty());
    common::one_error_line(&stderr, "a video file is needed");
}

#[test]
fn the_reader_decodes_into_a_returned_buffer_and_knows_the_clip_length() {
    use edgepipe::capture::Capture;
    use opencv::prelude::*;
    let mut cap = Capture::open(common::clip().to_str().unwrap()).unwrap();
    assert_eq!(cap.frame_count(), Some(795), "vtest.avi has 795 frames");
    let first = cap.next_frame().unwrap().unwrap();
    let second = cap.next_frame().unwrap().unwrap();
    let ptr = second.mat.data();
    let third = cap.next_frame_into(second.mat).unwrap().unwrap();
    assert_eq!(third.index, 2);
    assert_eq!(third.mat.data(), ptr, "the same buffer, decoded into again");
    assert_eq!((third.mat.cols(), third.mat.rows()), (768, 576));
    drop(first);
}

#[test]
fn bench_loops_a_short_clip_only_when_asked() {
    let dir = common::TempDir::new("loop");
    let clip = dir.path().join("ten.avi");
    let ok = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-y", "-i"])
        .arg(common::clip())
        .args(["-frames:v", "10", "-c:v", "mjpeg", "-q:v", "3"])
        .arg(&clip)
        .status()
        .unwrap();
    assert!(ok.success());
    let input = clip.to_str().unwrap();
    let (code, stdout, stderr) = common::run_edgepipe(&[
        "bench",
        "--input",
        input,
        "--frames",
        "25",
        "--loop",
        "--raw-runs",
        "1",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let text = String::from_utf8(stdout).unwrap();
    assert!(
        text.contains(": 25 frames in "),
        "looped to 25 frames:\n{text}"
    );
    let (code, stdout, stderr) = common::run_edgepipe(&[
        "bench",
        "--input",
        input,
        "--frames",
        "25",
        "--raw-runs",
        "1",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let text = String::from_utf8(stdout).unwrap();
    assert!(
        text.contains(": 10 frames in "),
        "without --loop the clip ends it:\n{text}"
    );
}

/// Serve `body` over HTTP on a free loopback port to every request, until the test ends.
fn serve_http(body: Vec<u8>) -> u16 {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let mut reader = BufReader::new(conn.try_clone().unwrap());
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 0) && line != "\r\n" {
                line.clear();
            }
            let head = format!("HTTP/1.1 200 OK\r\nContent-Type: video/mp2t\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
            let _ = conn
                .write_all(head.as_bytes())
                .and_then(|_| conn.write_all(&body));
        }
    });
    port
}

#[test]
fn a_live_source_keeps_the_newest_frame_and_counts_the_rest() {
    // An http:// URL is a live source. Served from memory it arrives far
    // faster than the model runs, so the one-frame slot keeps being replaced.
    const FRAMES: u64 = 40;
    let dir = common::TempDir::new("live");
    let ts = dir.path().join("clip.ts");
    let ok = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-y", "-i"])
        .arg(common::clip())
        .args([
            "-frames:v",
            &FRAMES.to_string(),
            "-c:v",
            "mpeg2video",
            "-q:v",
            "3",
            "-f",
            "mpegts",
        ])
        .arg(&ts)
        .status()
        .unwrap();
    assert!(ok.success());
    let port = serve_http(std::fs::read(&ts).unwrap());
    let rec = dir.path().join("r.jsonl");
    let url = format!("http://127.0.0.1:{port}/clip.ts");
    let (code, _, stderr) = common::run_edgepipe(&[
        "run",
        "--input",
        &url,
        "--no-mqtt",
        "--source-retry-secs",
        "0",
        "--record",
        rec.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("sessions=1 requests=1") && stderr.contains("1 worker(s)"),
        "a live source defaults to one session, one request: {stderr}"
    );
    let indices: Vec<u64> = record(&rec).iter().map(|l| l.index).collect();
    assert!(
        indices.windows(2).all(|w| w[0] < w[1]),
        "in order, each frame once: {indices:?}"
    );
    assert_eq!(
        indices.last(),
        Some(&(FRAMES - 1)),
        "the newest frame is never the one dropped"
    );
    let dropped: u64 = stderr
        .split("frames dropped: ")
        .nth(1)
        .and_then(|r| r.split(';').next())
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no drop count in: {stderr}"));
    assert_eq!(
        indices.len() as u64 + dropped,
        FRAMES,
        "every frame either processed or counted as dropped"
    );
}

/// The operator's mean ms per frame in draw-boxes, from the summary.
fn draw_boxes_mean_ms(args: &[&str]) -> f64 {
    let (code, _, stderr) = common::run_edgepipe(args);
    assert_eq!(code, 0, "{stderr}");
    let line = stderr
        .lines()
        .find_map(|l| l.strip_prefix("edgepipe: summary: mean ms per frame: "))
        .unwrap_or_else(|| panic!("no mean line: {stderr}"));
    line.split(", ")
        .find_map(|p| p.strip_prefix("draw-boxes "))
        .and_then(|ms| ms.parse().ok())
        .unwrap_or_else(|| panic!("no draw-boxes in {line}"))
}

/// The operator's draw stages run only when something shows the frames
/// (stdout, a viewer, a snapshot asked); a run with none of these spends
/// nothing on them (they drew every frame, as tenants' stages already did not).
#[test]
fn operator_draw_stages_run_only_when_the_frames_are_shown() {
    let clip = common::clip();
    let base = [
        "run",
        "--no-mqtt",
        "--input",
        clip.to_str().unwrap(),
        "--max-frames",
        "10",
    ];
    let unseen = draw_boxes_mean_ms(&base);
    assert_eq!(
        unseen, 0.0,
        "nothing shows the frames: draw-boxes not called"
    );
    let mut shown = base.to_vec();
    shown.push("--stdout");
    let seen = draw_boxes_mean_ms(&shown);
    assert!(seen > 0.0, "frames on stdout are drawn: {seen} ms");
}

/// `bench --soak` prints a row per sample (memory, descriptors, threads,
/// latency, MQTT queue) and the slopes after the warm-up. Figures, not a
/// timed test: only the shape of the report is checked.
#[test]
fn bench_soak_prints_samples_and_slopes() {
    let (code, out, stderr) =
        common::run_edgepipe(&["bench", "--soak", "12s", "--soak-every", "3s"]);
    assert_eq!(code, 0, "{stderr}");
    let text = String::from_utf8(out).unwrap();
    let rows: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.contains("rss MiB"))
        .skip(1)
        .take_while(|l| !l.starts_with("slopes"))
        .collect();
    assert!(rows.len() >= 2, "samples every 3 s over 12 s:\n{text}");
    for r in &rows {
        let cols: Vec<&str> = r.split_whitespace().collect();
        assert_eq!(cols.len(), 8, "{r}");
        let rss: f64 = cols[2].parse().unwrap();
        let fds: u64 = cols[3].parse().unwrap();
        let threads: u64 = cols[4].parse().unwrap();
        assert!(rss > 10.0 && fds > 3 && threads > 3, "{r}");
    }
    for name in [
        "resident memory",
        "file descriptors",
        "threads",
        "p99 latency",
        "mqtt queue depth",
    ] {
        assert!(text.contains(name), "{name}:\n{text}");
    }
}
