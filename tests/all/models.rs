//! The named models end to end: `--model NAME` on real frames of vtest.avi
//! to a real mosquitto, each finding the people of a known frame of the
//! hand-made ground truth; and bad models refused with one line, exit 4.

use std::time::Duration;

use edgepipe::detect::{iou, BBox};

use crate::common::{self, one_error_line, run_edgepipe};

/// Frame index 10 (MOT frame 11 in tests/data/vtest-gt.txt): three people
/// apart from each other.
const KNOWN_FRAME: u64 = 10;
const FRAMES: u64 = KNOWN_FRAME + 2;

/// The ground-truth people of frame `index` (0-based).
fn gt_people(index: u64) -> Vec<BBox> {
    let text = std::fs::read_to_string(common::root().join("tests/data/vtest-gt.txt")).unwrap();
    text.lines()
        .map(|l| l.split(',').collect::<Vec<_>>())
        .filter(|v| v[0].parse::<u64>().unwrap() == index + 1)
        .map(|v| {
            let n = |i: usize| v[i].parse::<f32>().unwrap();
            BBox {
                x: n(2),
                y: n(3),
                width: n(4),
                height: n(5),
            }
        })
        .collect()
}

fn runs_by_name_and_finds_the_people(name: &str) {
    common::named_model(name);
    let broker = common::Mosquitto::start();
    let mut sub = common::Subscriber::start(broker.port, &["person"]);
    let dir = common::TempDir::new(&format!("named-{name}"));
    let record = dir.path().join("record.jsonl");
    let clip = common::clip();
    let (code, stdout, stderr) = run_edgepipe(&[
        "run",
        "--input",
        clip.to_str().unwrap(),
        "--model",
        name,
        "--max-frames",
        &FRAMES.to_string(),
        "--mqtt-url",
        &broker.url(),
        "--record",
        record.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.is_empty(), "no --stdout: no frames on stdout");
    let lines: Vec<edgepipe::sink::RecordLine> = std::fs::read_to_string(&record)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len() as u64, FRAMES);
    let known = &lines[KNOWN_FRAME as usize];
    let people: Vec<BBox> = known
        .detections
        .iter()
        .filter(|d| d.label == "person")
        .map(|d| d.bbox)
        .collect();
    let truth = gt_people(KNOWN_FRAME);
    assert_eq!(truth.len(), 3);
    for g in &truth {
        assert!(
            people.iter().any(|p| iou(g, p) >= 0.5),
            "{name}: no person box on {g:?} in frame {KNOWN_FRAME}: {people:?}"
        );
    }
    // The counter saw them too, through the real broker.
    sub.wait_for(Duration::from_secs(10), |m| {
        m.iter().filter(|(t, _)| t == "person").count() as u64 >= FRAMES
    });
    let last: serde_json::Value = sub
        .messages()
        .iter()
        .rev()
        .find(|(t, _)| t == "person")
        .map(|(_, p)| serde_json::from_str(p).unwrap())
        .expect("person messages");
    assert!(last["total"].as_u64().unwrap() >= 3, "{name}: {last}");
}

#[test]
fn nanodet_by_name_finds_the_people_of_a_known_frame() {
    runs_by_name_and_finds_the_people("nanodet");
}

#[test]
fn ssdlite_person_by_name_finds_the_people_of_a_known_frame() {
    runs_by_name_and_finds_the_people("ssdlite-person");
}

#[test]
fn yolov12n_by_name_finds_the_people_of_a_known_frame() {
    runs_by_name_and_finds_the_people("yolov12n");
}

fn run_with_model(args: &[&str]) -> (i32, String) {
    let clip = common::clip();
    let mut all = vec![
        "run",
        "--input",
        clip.to_str().unwrap(),
        "--no-mqtt",
        "--max-frames",
        "3",
    ];
    all.extend_from_slice(args);
    let (code, _, stderr) = run_edgepipe(&all);
    (code, stderr)
}

#[test]
fn a_model_whose_input_has_the_wrong_rank_exits_4() {
    let dir = common::TempDir::new("rank");
    let model = dir.path().join("rank3.onnx");
    std::fs::write(&model, common::identity_onnx(&[1, 3, 64])).unwrap();
    let (code, stderr) = run_with_model(&["--model", model.to_str().unwrap()]);
    assert_eq!(code, 4, "{stderr}");
    one_error_line(
        &stderr,
        "input `images` has rank 3 ([1, 3, 64]), expected 4",
    );
}

#[test]
fn a_model_of_no_layout_is_refused_naming_its_output_shapes() {
    let dir = common::TempDir::new("nolayout");
    let model = dir.path().join("square.onnx");
    std::fs::write(&model, common::identity_onnx(&[1, 3, 64, 64])).unwrap();
    let (code, stderr) = run_with_model(&["--model", model.to_str().unwrap()]);
    assert_eq!(code, 4, "{stderr}");
    one_error_line(&stderr, "outputs `out` [1, 3, 64, 64] match no layout");
}

#[test]
fn class_ids_beyond_the_labels_exit_4() {
    let model = common::layout_model("yolov12n-end2end-badclass");
    let (code, stderr) = run_with_model(&["--model", model.to_str().unwrap()]);
    assert_eq!(code, 4, "{stderr}");
    one_error_line(&stderr, "is beyond the model's 80 labels");
}

#[test]
fn a_layout_that_does_not_fit_the_outputs_exits_4() {
    let (code, stderr) = run_with_model(&["--model", "yolov12n", "--layout", "tfod"]);
    assert_eq!(code, 4, "{stderr}");
    one_error_line(
        &stderr,
        "outputs `output0` [1, 84, 8400] do not fit layout tfod",
    );
}

#[test]
fn an_unknown_model_name_or_layout_is_a_config_error() {
    let (code, stderr) = run_with_model(&["--model", "yolov99"]);
    assert_eq!(code, 2, "{stderr}");
    one_error_line(
        &stderr,
        "unknown model `yolov99` (named models: yolov12n, nanodet, ssdlite-person)",
    );
    let (code, stderr) = run_with_model(&["--layout", "ssd"]);
    assert_eq!(code, 2, "{stderr}");
    one_error_line(&stderr, "unknown layout `ssd`");
}

#[test]
fn a_cpu_only_model_is_refused_by_openvino_in_one_line() {
    // SSDLite's metadata names the CPU provider only (OpenVINO crashes on
    // its graph); `auto`, the default, runs it on the CPU (test above).
    let (code, stderr) = run_with_model(&["--model", "ssdlite-person", "--ep", "openvino"]);
    assert_eq!(code, 4, "{stderr}");
    one_error_line(&stderr, "edgepipe.providers names only cpu");
}
