//! How a run ends and starts again: signals (graceful stop, second signal),
//! panics in any thread, stage state across restarts, live sources that go
//! away and come back.

use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common;

const FRAME_BYTES: usize = 768 * 576 * 3;

fn signal(child: &Child, sig: &str) {
    let ok = Command::new("kill")
        .args([&format!("-{sig}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
}

use common::{final_total, stderr_of, wait_exit as exit_code};

/// Read `frames` whole frames from stdout (the run is under way then).
fn read_frames(out: &mut std::process::ChildStdout, frames: usize) -> usize {
    let mut buf = vec![0u8; FRAME_BYTES];
    for _ in 0..frames {
        out.read_exact(&mut buf).expect("frames on stdout");
    }
    frames * FRAME_BYTES
}

/// `edgepipe run` on the clip with `args` and frames on stdout; after
/// `frames` whole frames, `sig`. (exit code, stdout bytes in all, stderr).
fn stop_after(args: &[&str], frames: usize, sig: &str) -> (i32, usize, String) {
    let mut child = common::command()
        .args(["run", "--input"])
        .arg(common::clip())
        .arg("--stdout")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let err = stderr_of(&mut child);
    let mut out = child.stdout.take().unwrap();
    let before = read_frames(&mut out, frames);
    signal(&child, sig);
    let drained = common::count_bytes(out);
    let code = exit_code(&mut child, Duration::from_secs(60));
    (
        code,
        before + drained.join().unwrap() as usize,
        err.join().unwrap(),
    )
}

fn summary_value<'a>(stderr: &'a str, key: &str) -> &'a str {
    stderr
        .split(key)
        .nth(1)
        .and_then(|r| r.split([',', ';', '\n', ' ']).next())
        .unwrap_or_else(|| panic!("no {key:?} in:\n{stderr}"))
}

#[test]
fn sigterm_finishes_the_frames_in_flight_and_loses_nothing() {
    let broker = common::Mosquitto::start();
    let mut sub = common::Subscriber::start(broker.port, &["person/#", "edgepipe/#"]);
    let dir = common::TempDir::new("sigterm");
    let rec = dir.path().join("r.jsonl");
    let mut child = common::command()
        .args(["run", "--input"])
        .arg(common::clip())
        .args(["--stdout", "--mqtt-url", &broker.url(), "--record"])
        .arg(&rec)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let err = stderr_of(&mut child);
    let mut out = child.stdout.take().unwrap();
    let mut bytes = read_frames(&mut out, 30);
    signal(&child, "TERM");
    let mut rest = Vec::new();
    out.read_to_end(&mut rest).unwrap();
    bytes += rest.len();
    let code = exit_code(&mut child, Duration::from_secs(60));
    let stderr = err.join().unwrap();
    assert_eq!(code, 0, "a graceful stop exits 0:\n{stderr}");
    assert_eq!(
        bytes % FRAME_BYTES,
        0,
        "stdout ends on a whole frame ({bytes} bytes)"
    );
    let frames = bytes / FRAME_BYTES;
    assert!(
        frames < 795,
        "stopped before the end of the clip ({frames} frames)"
    );
    assert!(
        stderr.contains("stopped: SIGTERM (graceful stop)"),
        "{stderr}"
    );
    let processed: usize = summary_value(&stderr, "summary: ").parse().unwrap();
    assert_eq!(processed, frames, "every processed frame reached stdout");
    let written: usize = summary_value(&stderr, "frames written to stdout: ")
        .parse()
        .unwrap();
    assert_eq!(written, frames);
    // The record ends on a whole line, one per frame.
    let text = std::fs::read_to_string(&rec).unwrap();
    assert!(text.ends_with('\n'), "the record ends on a whole line");
    for line in text.lines() {
        serde_json::from_str::<serde_json::Value>(line).unwrap_or_else(|e| panic!("{e}: {line}"));
    }
    assert_eq!(text.lines().count(), frames);
    // MQTT: every message acknowledged, the stages' final word and `offline` delivered.
    assert_eq!(
        summary_value(&stderr, "(unacknowledged: ").trim_end_matches(')'),
        "0",
        "{stderr}"
    );
    assert!(
        sub.wait_for(Duration::from_secs(10), |m| {
            m.iter().any(|(t, _)| t == "person/total")
                && m.last()
                    .is_some_and(|(t, p)| t == "edgepipe/default/status" && p == "offline")
        }),
        "finish messages and offline expected: {:?}",
        sub.messages().iter().rev().take(5).collect::<Vec<_>>()
    );
    let person = sub.messages().iter().filter(|(t, _)| t == "person").count();
    assert!(person > 0, "per-frame messages delivered");
}

#[test]
fn sigint_stops_gracefully_too() {
    let (code, bytes, stderr) = stop_after(&["--no-mqtt"], 5, "INT");
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(bytes % FRAME_BYTES, 0);
    assert!(
        stderr.contains("stopped: SIGINT (graceful stop)"),
        "{stderr}"
    );
}

#[test]
fn a_second_signal_exits_at_once_with_130() {
    // Nothing listens on the broker port: the stop would wait for
    // acknowledgements up to ack_timeout_secs (10 s) if not cut short.
    let port = common::free_port();
    let mut child = common::command()
        .args(["run", "--input"])
        .arg(common::clip())
        .args([
            "--stdout",
            "--mqtt-url",
            &format!("mqtt://127.0.0.1:{port}"),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (lines, err) = stderr_lines(&mut child);
    let mut out = child.stdout.take().unwrap();
    read_frames(&mut out, 10);
    let _drain = common::count_bytes(out);
    signal(&child, "TERM");
    // The second signal goes once the first one is being handled (its
    // line is on stderr), however long that takes on this machine.
    let handled = lines
        .iter()
        .any(|line| line.contains("received: finishing the frames in flight"));
    assert!(handled, "the first SIGTERM was never reported");
    let second = Instant::now();
    signal(&child, "TERM");
    let code = exit_code(&mut child, Duration::from_secs(30));
    let stderr = err.join().unwrap();
    assert_eq!(code, 130, "{stderr}");
    assert!(
        second.elapsed() < Duration::from_secs(3),
        "exited at once, not after the ack timeout: {:?}",
        second.elapsed()
    );
}

/// A child's stderr line by line as it comes (the channel ends with it),
/// and the whole text once it closes.
fn stderr_lines(
    child: &mut std::process::Child,
) -> (
    std::sync::mpsc::Receiver<String>,
    std::thread::JoinHandle<String>,
) {
    use std::io::BufRead;
    let err = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let all = std::thread::spawn(move || {
        let mut whole = String::new();
        for line in std::io::BufReader::new(err).lines().map_while(Result::ok) {
            whole.push_str(&line);
            whole.push('\n');
            let _ = tx.send(line);
        }
        whole
    });
    (rx, all)
}

/// A panic injected into one engine thread: exit 1, one error line, no hang.
fn panics_in(thread: &str, sessions: &str) {
    let mut child = common::command()
        .args(["run", "--input"])
        .arg(common::clip())
        .args([
            "--no-mqtt",
            "--sessions",
            sessions,
            "--threads",
            "1",
            "--max-frames",
            "200",
        ])
        .env("EDGEPIPE_FAULT", format!("panic:{thread}:5"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let err = stderr_of(&mut child);
    let code = exit_code(&mut child, Duration::from_secs(60));
    let stderr = err.join().unwrap();
    assert_eq!(code, 1, "a panic in {thread} exits 1:\n{stderr}");
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("edgepipe: error:"))
        .collect();
    assert_eq!(errors.len(), 1, "one error line:\n{stderr}");
    assert!(
        errors[0].contains("internal error (bug)") && errors[0].contains("injected fault"),
        "{}",
        errors[0]
    );
    assert!(
        !stderr.contains("panicked at"),
        "no raw panic message:\n{stderr}"
    );
}

#[test]
fn a_panicking_inference_thread_ends_the_run_with_exit_1() {
    panics_in("infer", "2");
}

#[test]
fn a_panicking_capture_thread_ends_the_run_with_exit_1() {
    panics_in("capture", "2");
}

#[test]
fn a_panicking_stages_thread_ends_the_run_with_exit_1() {
    panics_in("stages", "1");
}

#[test]
fn stage_state_survives_a_sigterm_and_a_restart() {
    let dir = common::TempDir::new("state");
    let state = dir.path().join("state");
    let state_arg = state.to_str().unwrap();
    let (code, _, stderr) = stop_after(&["--no-mqtt", "--state-dir", state_arg], 120, "TERM");
    assert_eq!(code, 0, "{stderr}");
    let first = final_total(&stderr);
    assert!(first >= 3, "people were counted in the first run: {first}");
    assert!(
        state.join("default/default/people-counter.state").is_file(),
        "state written under <dir>/<pipeline>/<camera>/"
    );

    let (code, _, stderr) = common::run_edgepipe(&[
        "run",
        "--input",
        common::clip().to_str().unwrap(),
        "--no-mqtt",
        "--max-frames",
        "3",
        "--state-dir",
        state_arg,
        "--resume",
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("state restored"), "{stderr}");
    let second = final_total(&stderr);
    assert!(
        second >= first,
        "the total goes on after a restart: {first} then {second}"
    );

    let (code, _, stderr) = common::run_edgepipe(&[
        "run",
        "--input",
        common::clip().to_str().unwrap(),
        "--no-mqtt",
        "--max-frames",
        "3",
        "--state-dir",
        state_arg,
        "--fresh-state",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let fresh = final_total(&stderr);
    assert!(
        fresh < first,
        "--fresh-state starts empty: {fresh} vs {first}"
    );
}

#[test]
fn damaged_state_is_logged_and_the_stage_starts_empty() {
    let dir = common::TempDir::new("state-bad");
    let camera = dir.path().join("default/default");
    std::fs::create_dir_all(&camera).unwrap();
    std::fs::write(camera.join("people-counter.state"), b"\xff\x00 not a state").unwrap();
    let (code, _, stderr) = common::run_edgepipe(&[
        "run",
        "--input",
        common::clip().to_str().unwrap(),
        "--no-mqtt",
        "--max-frames",
        "3",
        "--state-dir",
        dir.path().to_str().unwrap(),
        "--resume",
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("saved state not restored, the stage starts empty"),
        "{stderr}"
    );
}

/// Answer one HTTP request on `conn` with an MJPEG stream of `frames` at 10
/// fps; ends when they are all sent or the client goes away.
pub(crate) fn serve_mjpeg(mut conn: std::net::TcpStream, frames: &[Vec<u8>]) {
    use std::io::{BufRead, BufReader, Write};
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut line = String::new();
    while reader.read_line(&mut line).is_ok_and(|n| n > 0) && line != "\r\n" {
        line.clear();
    }
    let head = "HTTP/1.0 200 OK\r\nContent-Type: multipart/x-mixed-replace; boundary=frame\r\nCache-Control: no-cache\r\n\r\n";
    if conn.write_all(head.as_bytes()).is_err() {
        return;
    }
    for j in frames {
        let part = format!(
            "--frame\r\nContent-Type: image/jpeg\r\nContent-Length: {}\r\n\r\n",
            j.len()
        );
        if conn
            .write_all(part.as_bytes())
            .and_then(|_| conn.write_all(j))
            .and_then(|_| conn.write_all(b"\r\n"))
            .is_err()
        {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// An MJPEG-over-HTTP camera: the first connection serves `first` frames
/// and drops; for `gap` every connection is closed at once (the camera is
/// away); after that each connection streams the remaining frames at 10 fps.
pub(crate) fn flaky_mjpeg_camera(jpegs: Vec<Vec<u8>>, first: usize, gap: Duration) -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut served_first = false;
        let mut away_until: Option<Instant> = None;
        for conn in listener.incoming() {
            let Ok(conn) = conn else { continue };
            if away_until.is_some_and(|t| Instant::now() < t) {
                continue; // dropped: connection refused by a camera that is away
            }
            if served_first {
                serve_mjpeg(conn, &jpegs[first..]);
            } else {
                serve_mjpeg(conn, &jpegs[..first]);
                served_first = true;
                away_until = Some(Instant::now() + gap);
            }
        }
    });
    port
}

/// An MJPEG-over-HTTP camera that streams all of `jpegs` to every client.
fn steady_mjpeg_camera(jpegs: Vec<Vec<u8>>) -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let jpegs = std::sync::Arc::new(jpegs);
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            let jpegs = jpegs.clone();
            std::thread::spawn(move || serve_mjpeg(conn, &jpegs));
        }
    });
    port
}

/// The clip's first `n` frames as JPEGs (made by ffmpeg in `dir`).
pub(crate) fn jpeg_frames(dir: &std::path::Path, n: usize) -> Vec<Vec<u8>> {
    let ok = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-y", "-i"])
        .arg(common::clip())
        .args(["-frames:v", &n.to_string(), "-q:v", "5"])
        .arg(dir.join("f%03d.jpg"))
        .status()
        .unwrap();
    assert!(ok.success());
    (1..=n)
        .map(|i| std::fs::read(dir.join(format!("f{i:03}.jpg"))).unwrap())
        .collect()
}

#[test]
fn a_live_source_that_drops_is_opened_again_and_the_run_goes_on() {
    let dir = common::TempDir::new("mjpeg");
    let jpegs = jpeg_frames(dir.path(), 60);
    const FIRST: usize = 15;
    let port = flaky_mjpeg_camera(jpegs, FIRST, Duration::from_millis(1500));
    let broker = common::Mosquitto::start();
    let mut sub = common::Subscriber::start(broker.port, &["edgepipe/+/source"]);
    let rec = dir.path().join("r.jsonl");
    let url = format!("http://127.0.0.1:{port}/video.mjpg");
    let mut child = common::command()
        .args([
            "run",
            "--input",
            &url,
            "--max-frames",
            "35",
            "--mqtt-url",
            &broker.url(),
            "--record",
            rec.to_str().unwrap(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let err = stderr_of(&mut child);
    let code = exit_code(&mut child, Duration::from_secs(90));
    let stderr = err.join().unwrap();
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("stopped: max frames reached"),
        "the run reached --max-frames:\n{stderr}"
    );
    let last = std::fs::read_to_string(&rec)
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["index"]
                .as_u64()
                .unwrap()
        })
        .max()
        .unwrap();
    assert!(
        last >= FIRST as u64 + 5,
        "frames from the second connection were processed (last index {last})"
    );
    let reconnects: u64 = summary_value(&stderr, "source reconnects: ")
        .parse()
        .unwrap();
    assert!(reconnects >= 1, "{stderr}");
    assert_eq!(
        stderr.matches("input lost").count(),
        reconnects as usize,
        "logged once per outage:\n{stderr}"
    );
    assert!(
        sub.wait_for(Duration::from_secs(5), |m| {
            m.iter().any(|(_, p)| p.contains("\"event\":\"lost\""))
                && m.iter().any(|(_, p)| p.contains("\"event\":\"back\""))
        }),
        "lost and back published: {:?}",
        sub.messages()
    );
}

#[test]
fn a_live_source_gives_up_after_source_retry_secs() {
    // A URL where nothing answers, after it was open once: use a camera that
    // serves a few frames and then stays away far longer than the retry time.
    let dir = common::TempDir::new("mjpeg-gone");
    let jpegs = jpeg_frames(dir.path(), 8);
    let port = flaky_mjpeg_camera(jpegs, 5, Duration::from_secs(600));
    let url = format!("http://127.0.0.1:{port}/video.mjpg");
    let started = Instant::now();
    let (code, _, stderr) = common::run_edgepipe(&[
        "run",
        "--input",
        &url,
        "--no-mqtt",
        "--source-retry-secs",
        "2",
    ]);
    assert_eq!(
        code, 3,
        "an input that stays away ends the run with the input's exit code:\n{stderr}"
    );
    common::one_error_line(&stderr, "gave no frames for");
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn a_live_camera_gets_its_own_state_back_after_a_restart() {
    let dir = common::TempDir::new("live-state");
    let port = steady_mjpeg_camera(jpeg_frames(dir.path(), 60));
    let url = format!("http://127.0.0.1:{port}/video.mjpg");
    let state = dir.path().join("state");
    let run = |frames: &str| {
        let (code, _, stderr) = common::run_edgepipe(&[
            "run",
            "--input",
            &url,
            "--no-mqtt",
            "--max-frames",
            frames,
            "--state-dir",
            state.to_str().unwrap(),
        ]);
        assert_eq!(code, 0, "{stderr}");
        stderr
    };
    let first = final_total(&run("30"));
    assert!(first >= 1, "people were counted: {first}");
    let stderr = run("5");
    assert!(
        stderr.contains("state restored"),
        "a live camera resumes without --resume:\n{stderr}"
    );
    let second = final_total(&stderr);
    assert!(second >= first, "the total goes on: {first} then {second}");
}

/// Checkpoints are written and fsync'ed on a thread of their own: a disk
/// that does not answer never holds the frame thread (they were written on
/// it, every 5 s per stage and per tenant). The disk that does not answer is
/// honest: the checkpoint's temporary file is a FIFO nobody reads yet, so
/// opening it for writing blocks until the test reads it.
#[test]
fn a_checkpoint_never_waits_for_the_disk() {
    use edgepipe::checkpoint::Checkpoints;
    use edgepipe::plugin::{Limits, PluginHost, StageKind, StageSet, StageSettings};
    use edgepipe::state::{StateSettings, StateStore};
    let host = PluginHost::new(Limits::default()).unwrap();
    let spec = StageSettings {
        name: "people-counter".into(),
        kind: StageKind::Stats,
        path: common::plugin("people-counter"),
        settings: Vec::new(),
    };
    let mut set = StageSet::load(&host, &[spec]).unwrap();
    let dir = common::TempDir::new("slow-disk");
    let settings = StateSettings {
        dir: dir.path().join("pipeline"),
        every: None,
        fresh: true,
        resume: false,
        source: edgepipe::state::source::SourceId::live("rtsp://camera"),
    };
    let mut cp = Checkpoints::open(&settings).unwrap();
    let fifo = StateStore::open(&settings.dir)
        .unwrap()
        .path_of("people-counter")
        .with_extension(format!("state.tmp{}", std::process::id()));
    let c_path = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
    let (saved, returned) = std::sync::mpsc::channel();
    let frame_thread = std::thread::spawn(move || {
        cp.save(&mut set);
        let _ = saved.send(());
        (cp, set)
    });
    // Generous: the frame thread hands bytes over in microseconds.
    let in_time = returned.recv_timeout(Duration::from_secs(60)).is_ok();
    // Now the disk answers: reading the FIFO lets the write go through.
    let mut got = Vec::new();
    std::fs::File::open(&fifo)
        .unwrap()
        .read_to_end(&mut got)
        .unwrap();
    let (cp, _set) = frame_thread.join().unwrap();
    assert!(in_time, "the frame thread waited for the disk");
    // (fsync on a FIFO fails: that checkpoint is warned about, not written.)
    cp.flush();
    drop(cp);
}
