//! The frames edgepipe writes are the decoded frames byte for byte, however
//! its recycled frame buffers (the capture pool) are held up: a slow reader
//! of stdout, and a looped input that wraps around while earlier frames are
//! still in flight (issue 22: the capture path's cost may shrink, its bytes
//! may not change). No draw stage runs, so the frames are the decoder's.

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

use crate::common;

const FRAME: usize = 768 * 576 * 3;

/// Frames of `input` as Debian's `ffmpeg` CLI decodes them to BGR24.
fn ffmpeg_frames(input: &Path, frames: usize) -> Vec<u8> {
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-i"])
        .arg(input)
        .args(["-frames:v", &frames.to_string()])
        .args(["-f", "rawvideo", "-pix_fmt", "bgr24", "-"])
        .output()
        .unwrap();
    assert!(out.status.success(), "ffmpeg decodes {input:?}");
    assert_eq!(out.stdout.len(), frames * FRAME);
    out.stdout
}

/// A pipeline on `input` with a stats stage and no draw stage.
fn config(dir: &Path, input: &Path) -> std::path::PathBuf {
    let path = dir.join("pipeline.toml");
    let text = format!(
        "[source]\ninput = {input:?}\n[model]\npath = {model:?}\nort_lib = {ort:?}\n\
         [[stages]]\nname = \"people-counter\"\nkind = \"stats\"\npath = {stage:?}\n",
        model = common::model(),
        ort = common::ort_lib(),
        stage = common::plugin("people-counter"),
    );
    std::fs::write(&path, text).unwrap();
    path
}

fn first_different_frame(got: &[u8], want: &[u8]) -> Option<usize> {
    got.chunks(FRAME)
        .zip(want.chunks(FRAME))
        .position(|(g, w)| g != w)
}

/// A reader that takes its time with every frame: the pipeline runs out of
/// free buffers and the capture thread waits for them to come back.
#[test]
fn frames_on_stdout_are_the_decoded_frames_even_when_the_reader_is_slow() {
    const FRAMES: usize = 40;
    let dir = common::TempDir::new("frames-out");
    let cfg = config(dir.path(), &common::clip());
    let mut child = common::command()
        .args(["run", "--no-mqtt", "--stdout", "--config"])
        .arg(&cfg)
        .args(["--max-frames", &FRAMES.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = common::stderr_of(&mut child);
    let mut out = child.stdout.take().unwrap();
    let mut got = Vec::with_capacity(FRAMES * FRAME);
    let mut frame = vec![0u8; FRAME];
    loop {
        match out.read_exact(&mut frame) {
            Ok(()) => got.extend_from_slice(&frame),
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Err(e) => panic!("reading stdout: {e}"),
        }
        // Slow: the frames behind this one wait in the pipeline's buffers.
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let code = common::wait_exit(&mut child, std::time::Duration::from_secs(300));
    let log = stderr.join().unwrap();
    assert_eq!(code, 0, "{log}");
    assert_eq!(got.len(), FRAMES * FRAME, "{log}");
    let want = ffmpeg_frames(&common::clip(), FRAMES);
    assert_eq!(first_different_frame(&got, &want), None);
}

/// The engine's frame writer, kept by the test.
#[derive(Clone, Default)]
struct Collect(Arc<Mutex<Vec<u8>>>);

impl Write for Collect {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A short clip read in a loop: each pass gives the clip's frames again,
/// exactly, although buffers of the previous pass are still in flight when
/// the reader rewinds.
#[test]
fn a_looped_input_gives_the_same_frames_on_every_pass() {
    const CLIP: usize = 7;
    const FRAMES: usize = 3 * CLIP + 2;
    let dir = common::TempDir::new("frames-loop");
    let clip = dir.path().join("short.avi");
    let ok = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-y", "-i"])
        .arg(common::clip())
        .args(["-frames:v", &CLIP.to_string(), "-c:v", "copy"])
        .arg(&clip)
        .status()
        .unwrap();
    assert!(ok.success());
    let text = std::fs::read_to_string(config(dir.path(), &clip)).unwrap();
    let file = edgepipe::config::FileConfig::parse(&text, &dir.path().join("p.toml")).unwrap();
    let o = edgepipe::config::Overrides {
        max_frames: Some(FRAMES as u64),
        no_mqtt: true,
        ..Default::default()
    };
    let mut settings = edgepipe::config::resolve(Some(file), &o).unwrap();
    settings.drop_state();
    let sink = Collect::default();
    let summary = edgepipe::engine::run(
        &settings,
        edgepipe::engine::EngineOptions {
            loop_input: true,
            frames_to: Some(Box::new(sink.clone())),
            progress: false,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(summary.frames, FRAMES as u64);
    let got = sink.0.lock().unwrap().clone();
    assert_eq!(got.len(), FRAMES * FRAME);
    let once = ffmpeg_frames(&clip, CLIP);
    let want: Vec<u8> = once.iter().copied().cycle().take(FRAMES * FRAME).collect();
    assert_eq!(first_different_frame(&got, &want), None);
}
