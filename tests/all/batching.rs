//! Batching in the inference service, with real parts: the dynamic-batch
//! test model (yolov12n with dim 0 = "batch", made by setup), the clip,
//! mosquitto. A batch gives each frame what single runs give it (on the CPU
//! and OpenVINO providers); three cameras on the batch model publish what
//! the batch-1 model publishes, frame for frame, in batches of more than one
//! frame, and a camera that ends early stalls no other; more than one frame
//! a run asked of a batch-1 model is one error line.

use std::process::Stdio;
use std::time::Duration;

use edgepipe::capture::Capture;
use edgepipe::detect::Detection;
use edgepipe::ep::Provider;
use edgepipe::layouts::batch::BatchTensor;
use edgepipe::model::{DetectTimings, Detector};

use crate::cameras::{frames_of, payloads};
use crate::common;

fn batch_model() -> std::path::PathBuf {
    common::layout_model("yolov12n-batch")
}

/// Frames 0, 40 and 80 of the clip: different people in each.
fn three_frames() -> Vec<opencv::core::Mat> {
    let mut cap = Capture::open(common::clip().to_str().unwrap()).unwrap();
    let mut out = Vec::new();
    while let Some(frame) = cap.next_frame().unwrap() {
        if frame.index % 40 == 0 {
            out.push(frame.mat);
        }
        if out.len() == 3 {
            break;
        }
    }
    out
}

fn load(model: std::path::PathBuf, provider: Provider) -> Detector {
    let det = Detector::load(common::detector_settings(model, provider)).unwrap();
    assert_eq!(det.provider(), provider, "no silent fallback");
    det
}

/// The same boxes, class for class, within `tol` (score) and `px` (pixels).
fn same(a: &[Detection], b: &[Detection], tol: f32, px: f32) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(d, e)| {
            d.class_id == e.class_id
                && (d.score - e.score).abs() <= tol
                && (d.bbox.x - e.bbox.x).abs() <= px
                && (d.bbox.y - e.bbox.y).abs() <= px
                && (d.bbox.width - e.bbox.width).abs() <= px
                && (d.bbox.height - e.bbox.height).abs() <= px
        })
}

#[test]
fn a_batch_gives_each_frame_what_single_runs_give_it_on_cpu_and_openvino() {
    let frames = three_frames();
    let refs: Vec<&opencv::core::Mat> = frames.iter().collect();
    let mut t = DetectTimings::default();
    let mut reference = load(common::model(), Provider::Cpu);
    let expected: Vec<Vec<Detection>> = frames
        .iter()
        .map(|f| reference.detect(f, &mut t).unwrap())
        .collect();
    assert!(
        expected.iter().all(|d| !d.is_empty()),
        "people in every frame"
    );
    // OpenVINO's kernels may round a batch apart from a single run.
    for (provider, tol, px) in [(Provider::Cpu, 1e-4, 0.01), (Provider::OpenVino, 1e-3, 0.5)] {
        let mut det = load(batch_model(), provider);
        assert!(
            det.dynamic_batch(),
            "the test model's batch dimension is dynamic"
        );
        let singles: Vec<Vec<Detection>> = frames
            .iter()
            .map(|f| det.detect(f, &mut t).unwrap())
            .collect();
        if provider == Provider::Cpu {
            for (got, want) in singles.iter().zip(&expected) {
                assert!(same(got, want, tol, px), "{got:?}\nyolov12n: {want:?}");
            }
        }
        for n in [2, 3] {
            let mut timings = vec![DetectTimings::default(); n];
            let found = det
                .detect_batch(&refs[..n], &mut BatchTensor::default(), &mut timings)
                .unwrap();
            assert_eq!(found.len(), n);
            for (i, (got, want)) in found.iter().zip(&singles).enumerate() {
                assert!(
                    same(got, want, tol, px),
                    "{provider}: batch of {n}, frame {i}: {got:?}\nsingle run: {want:?}"
                );
            }
        }
    }
    let mut fixed = load(common::model(), Provider::Cpu);
    assert!(!fixed.dynamic_batch(), "yolov12n takes one frame a run");
    assert!(fixed.detect(&frames[0], &mut t).is_ok());
}

/// (frames, runs, largest batch) of the process's `edgepipe: inference:` line.
fn inference_line(stderr: &str) -> (u64, u64, u64) {
    let line = stderr
        .lines()
        .find_map(|l| l.strip_prefix("edgepipe: inference: "))
        .unwrap_or_else(|| panic!("no inference line:\n{stderr}"));
    let words: Vec<&str> = line.split([' ', ')']).collect();
    let num = |i: usize| words[i].parse::<u64>().unwrap_or_else(|_| panic!("{line}"));
    let largest = words
        .iter()
        .position(|w| *w == "batch")
        .map(|i| num(i + 1))
        .unwrap_or_else(|| panic!("{line}"));
    (num(0), num(3), largest)
}

#[test]
fn three_cameras_on_the_batch_model_publish_what_the_batch_1_model_does_in_batches() {
    const FRAMES: usize = 12;
    /// The camera that ends early: the others go on without it.
    const SHORT: usize = 4;
    let dir = common::TempDir::new("batching-three");
    let broker = common::Mosquitto::start();
    let mut sub = common::Subscriber::start(broker.port, &["#"]);
    let clip = common::clip().display().to_string();
    // The reference: the clip alone on the batch-1 model (unprefixed topics).
    let (code, _, stderr) = common::run_edgepipe(&[
        "run",
        "--input",
        &clip,
        "--ep",
        "cpu",
        "--max-frames",
        &FRAMES.to_string(),
        "--mqtt-url",
        &broker.url(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        !stderr.contains("edgepipe: inference:"),
        "no batch line for a batch-1 model: {stderr}"
    );
    let pipeline = dir.path().join("pipeline.toml");
    std::fs::write(
        &pipeline,
        format!(
            "[model]\npath = {model:?}\nep = \"cpu\"\nsessions = 2\nbatch_window_ms = 5\n\n\
             [[cameras]]\nname = \"door\"\ninput = {clip:?}\nmax_frames = {FRAMES}\n\n\
             [[cameras]]\nname = \"till\"\ninput = {clip:?}\nmax_frames = {FRAMES}\n\n\
             [[cameras]]\nname = \"lobby\"\ninput = {clip:?}\nmax_frames = {SHORT}\n",
            model = batch_model().display().to_string(),
        ),
    )
    .unwrap();
    // A batch that waited for every camera would never come once lobby ends.
    let mut child = common::command()
        .args(["run", "--config"])
        .arg(&pipeline)
        .args(["--mqtt-url", &broker.url()])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = common::stderr_of(&mut child);
    let code = common::wait_exit(&mut child, Duration::from_secs(600));
    let stderr = stderr.join().unwrap();
    assert_eq!(code, 0, "{stderr}");
    for (cam, n) in [("door", FRAMES), ("till", FRAMES), ("lobby", SHORT)] {
        assert_eq!(frames_of(&stderr, cam), n, "{cam}: {stderr}");
    }
    let (frames, runs, largest) = inference_line(&stderr);
    assert_eq!(frames as usize, 2 * FRAMES + SHORT, "{stderr}");
    assert!(
        largest > 1 && runs < frames,
        "batches of more than one frame: {stderr}"
    );
    assert!(
        largest <= 3,
        "at most one frame per camera by default: {stderr}"
    );
    let done = |m: &[(String, String)]| {
        payloads(m, "door/person").len() >= FRAMES
            && payloads(m, "till/person").len() >= FRAMES
            && payloads(m, "lobby/person").len() >= SHORT
    };
    assert!(
        sub.wait_for(Duration::from_secs(30), done),
        "{:?}",
        sub.messages()
    );
    let m = sub.messages().to_vec();
    let reference = payloads(&m, "person");
    assert_eq!(
        reference.len(),
        FRAMES,
        "the reference: one message a frame"
    );
    for (cam, n) in [("door", FRAMES), ("till", FRAMES), ("lobby", SHORT)] {
        assert_eq!(
            payloads(&m, &format!("{cam}/person")),
            reference[..n],
            "{cam}: once per frame, the counts of the batch-1 model"
        );
    }
}

#[test]
fn more_than_one_frame_a_run_of_a_batch_1_model_is_one_error_line() {
    let dir = common::TempDir::new("batching-fixed");
    let pipeline = dir.path().join("pipeline.toml");
    std::fs::write(&pipeline, "[model]\nep = \"cpu\"\nmax_batch = 2\n").unwrap();
    let (code, _, stderr) = common::run_edgepipe(&[
        "run",
        "--config",
        pipeline.to_str().unwrap(),
        "--input",
        common::clip().to_str().unwrap(),
        "--max-frames",
        "2",
        "--no-mqtt",
    ]);
    assert_eq!(code, 2, "a configuration error: {stderr}");
    let line = common::one_error_line(&stderr, "setting `model.max_batch`: 2");
    assert!(line.contains("batch dimension is fixed"), "{line}");
}

#[test]
fn metrics_count_session_runs_and_the_frames_they_took() {
    use crate::live::{finish, get, parse_prometheus, start, stderr};
    let (port, dir) = (
        common::free_port(),
        common::TempDir::new("batching-metrics"),
    );
    let clip = common::clip().display().to_string();
    let (door, till) = (format!("door={clip}"), format!("till={clip}"));
    let model = batch_model().display().to_string();
    let http = format!("127.0.0.1:{port}");
    // No frame limit: the run goes on until the figures show batches.
    let args = [
        "--camera",
        &door,
        "--camera",
        &till,
        "--model",
        &model,
        "--ep",
        "cpu",
        "--no-mqtt",
        "--http",
        &http,
    ];
    let child = start(port, &dir, &args);
    let until = std::time::Instant::now() + Duration::from_secs(240);
    let (runs, frames) = loop {
        let (code, _, body) = get(port, "/metrics", None);
        assert_eq!(code, 200);
        let s = parse_prometheus(&String::from_utf8(body).unwrap());
        let runs = s.get("edgepipe_inference_runs_total").copied();
        let frames = s.get("edgepipe_inference_frames_total").copied();
        if let (Some(r), Some(f)) = (runs, frames) {
            if r >= 3.0 && f > r {
                break (r, f);
            }
        }
        assert!(
            std::time::Instant::now() < until,
            "no batches in /metrics: {runs:?} runs, {frames:?} frames\n{}",
            stderr(&dir)
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(
        frames <= 2.0 * runs,
        "at most a frame per camera a run: {runs} {frames}"
    );
    let ok = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
    assert_eq!(finish(child, &dir), 0, "{}", stderr(&dir));
    let (f, r, largest) = inference_line(&stderr(&dir));
    assert!(
        f >= frames as u64 && r >= runs as u64 && largest == 2,
        "{}",
        stderr(&dir)
    );
}

/// yolov12n with dim 0 named "batch" and nothing else changed: it loads and
/// runs one frame, but its Reshape nodes keep the batch of 1 written in, so
/// a batch of two fails inside ONNX Runtime (a broken conversion).
const NAIVE_BATCH: &str = "import sys, onnx
m = onnx.load(sys.argv[1])
for v in list(m.graph.input) + list(m.graph.output):
    v.type.tensor_type.shape.dim[0].dim_param = 'batch'
del m.graph.value_info[:]
onnx.save(m, sys.argv[2])
";

#[test]
fn a_failed_batch_run_is_an_error_of_each_camera_in_it() {
    let dir = common::TempDir::new("batching-broken");
    let model = dir.path().join("naive-batch.onnx");
    let out = std::process::Command::new(common::model_tools_python())
        .args(["-c", NAIVE_BATCH])
        .arg(common::model())
        .arg(&model)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let clip = common::clip().display().to_string();
    let (code, _, stderr) = common::run_edgepipe(&[
        "run",
        "--camera",
        &format!("door={clip}"),
        "--camera",
        &format!("till={clip}"),
        "--model",
        model.to_str().unwrap(),
        "--ep",
        "cpu",
        "--max-frames",
        "30",
        "--no-mqtt",
    ]);
    assert_eq!(code, 4, "the model's exit status: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let (_, _, largest) = inference_line(&stderr);
    assert_eq!(largest, 2, "a batch of two ran (and failed): {stderr}");
    for cam in ["door", "till"] {
        let errors: Vec<&str> = stderr
            .lines()
            .filter(|l| l.starts_with(&format!("edgepipe: error: camera {cam}: ")))
            .collect();
        assert_eq!(errors.len(), 1, "{cam}: one error line: {stderr}");
        assert!(
            errors[0].contains("inference failed") && errors[0].contains("Reshape"),
            "{}",
            errors[0]
        );
        assert!(stderr.contains(&format!("edgepipe: camera {cam}: exit status 4")));
    }
}
