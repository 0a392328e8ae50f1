//! Pre- and post-processing folded into the model at load (`model_fold`):
//! the folded model finds exactly what the model as it is finds on the CPU
//! provider (and on OpenVINO, the same boxes as the CPU provider); a model
//! the fold does not fit loads as it is.

use std::path::PathBuf;

use edgepipe::capture::Capture;
use edgepipe::detect::Detection;
use edgepipe::ep::Provider;
use edgepipe::layouts::input::InputTensor;
use edgepipe::model::{DetectTimings, Detector};
use edgepipe::model_fold::Fold;

use crate::common;

/// Frames of the clip run (every `STEP`-th of the first `FRAMES`).
const FRAMES: u64 = 120;
const STEP: u64 = 6;

fn detector(model: PathBuf, provider: Provider, fold: bool) -> Detector {
    let settings = edgepipe::model::DetectorSettings {
        fold,
        ..common::detector_settings(model, provider)
    };
    let det = Detector::load(settings).unwrap();
    assert_eq!(det.provider(), provider, "no silent fallback");
    det
}

/// Detections of every `STEP`-th clip frame.
fn detections(det: &mut Detector) -> Vec<Vec<Detection>> {
    common::clip_detections(det, FRAMES, STEP)
}

/// `model` folded as `want`, and its detections on the CPU provider the
/// same, bit for bit, as the model's as it is.
fn folds_and_finds_the_same(model: PathBuf, want: Fold) {
    let mut folded = detector(model.clone(), Provider::Cpu, true);
    let mut plain = detector(model, Provider::Cpu, false);
    assert_eq!(folded.folded(), want);
    assert_eq!(
        plain.folded(),
        Fold::default(),
        "fold = false folds nothing"
    );
    let frame = clip_frame();
    assert!(
        matches!(folded.tensor_for(&frame).unwrap(), InputTensor::U8(_)) == want.input,
        "a folded input takes the frame's bytes"
    );
    assert_eq!(
        (folded.layout(), folded.classes()),
        (plain.layout(), plain.classes())
    );
    let (a, b) = (detections(&mut folded), detections(&mut plain));
    let boxes: usize = a.iter().map(Vec::len).sum();
    assert!(boxes > 50, "only {boxes} boxes found");
    assert_eq!(a, b, "folded and plain detections differ");
}

fn clip_frame() -> opencv::core::Mat {
    let mut cap = Capture::open(common::clip().to_str().unwrap()).unwrap();
    cap.next_frame().unwrap().unwrap().mat
}

#[test]
fn yolov12n_folded_finds_exactly_what_it_finds_unfolded_on_cpu() {
    let want = Fold {
        input: true,
        best_of: Some(80),
    };
    folds_and_finds_the_same(common::model(), want);
}

/// NanoDet: BGR, per-channel mean and std (Sub + Div in the graph).
#[test]
fn nanodet_folded_with_its_mean_and_std_finds_exactly_the_same_on_cpu() {
    let want = Fold {
        input: true,
        best_of: Some(80),
    };
    folds_and_finds_the_same(common::root().join("models/nanodet.onnx"), want);
}

/// Outputs of other layouts stay as they are; their float input folds.
#[test]
fn other_layouts_keep_their_outputs_and_fold_their_input() {
    for name in ["yolov12n-end2end.onnx", "yolov12n-yolov5.onnx"] {
        let want = Fold {
            input: true,
            best_of: None,
        };
        folds_and_finds_the_same(common::root().join("models/test").join(name), want);
    }
}

/// A uint8 input with a tfod output: nothing to fold; the model loads and
/// runs as it is.
#[test]
fn a_model_the_fold_does_not_fit_loads_as_it_is() {
    let model = common::root().join("models/ssdlite-person.onnx");
    let mut det = detector(model, Provider::Cpu, true);
    assert_eq!(det.folded(), Fold::default());
    let mut timings = DetectTimings::default();
    det.detect(&clip_frame(), &mut timings).unwrap();
}

/// On OpenVINO the folded model's boxes are the CPU provider's unfolded
/// ones (README's check of bf16: same class, IoU >= 0.9, 99% of them).
#[test]
fn yolov12n_folded_on_openvino_finds_the_cpu_providers_boxes() {
    let mut ov = detector(common::model(), Provider::OpenVino, true);
    assert_eq!(ov.folded().best_of, Some(80));
    let mut cpu = detector(common::model(), Provider::Cpu, false);
    let (a, b) = (detections(&mut ov), detections(&mut cpu));
    for (what, (total, hits)) in [
        (
            "cpu boxes found by openvino",
            common::matched(&b, &a, 0.4, 0.9),
        ),
        (
            "openvino boxes found by cpu",
            common::matched(&a, &b, 0.4, 0.9),
        ),
    ] {
        assert!(total > 50, "{what}: only {total} boxes scored >= 0.4");
        assert!(
            hits as f64 >= 0.99 * total as f64,
            "{what}: {hits} of {total} matched (need 99%)"
        );
    }
}

/// The model file's bytes.
fn bytes_of(model: &std::path::Path) -> Vec<u8> {
    std::fs::read(model).unwrap()
}

/// What the fold refuses (the file then loads as it is): bytes that are
/// no model, a model with two graphs, a model folded already (its names),
/// a model with nothing to fold; a refusal says why.
#[test]
fn the_fold_refuses_what_it_does_not_expect() {
    use edgepipe::model_fold::fold;
    let yolo = bytes_of(&common::model());
    // What a load costs (README: a few ms; printed, not asserted).
    for _ in 0..3 {
        let (t0, c0) = (std::time::Instant::now(), thread_cpu_ms());
        edgepipe::model_fold::fold_file(&common::model(), None).unwrap();
        let wall = t0.elapsed().as_secs_f64() * 1e3;
        let cpu = thread_cpu_ms() - c0;
        eprintln!("fold_file of yolov12n: {wall:.2} ms, {cpu:.2} ms of CPU");
    }
    let once = fold(yolo.clone(), None).unwrap();
    assert!(once.bytes.len() > yolo.len() && once.bytes.len() < yolo.len() + 4096);
    // Folded already: its appended graph is a second graph field.
    let again = fold(once.bytes, None).unwrap_err();
    assert!(again.contains("2 graph fields"), "{again}");
    let e = fold(b"not an onnx model".to_vec(), None).unwrap_err();
    assert!(e.contains("protobuf") || e.contains("IR"), "{e}");
    let cut = fold(yolo[..yolo.len() / 2].to_vec(), None).unwrap_err();
    assert!(cut.contains("protobuf"), "{cut}");
    // A second (empty) graph field appended: two graphs.
    let mut two = yolo.clone();
    two.extend_from_slice(&[(7 << 3) | 2, 0]);
    assert!(fold(two, None).unwrap_err().contains("2 graph fields"));
    let ssd = bytes_of(&common::root().join("models/ssdlite-person.onnx"));
    let e = fold(ssd, None).unwrap_err();
    assert!(e.contains("nothing to fold"), "{e}");
    // The yolov5 layout named for the yolov8 model: its output is not folded.
    let named = fold(yolo, Some(edgepipe::layouts::LayoutKind::Yolov5)).unwrap();
    assert_eq!(named.fold.best_of, None);
}

/// This thread's CPU time, ms.
fn thread_cpu_ms() -> f64 {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `t` is a valid timespec for the call to fill.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) };
    t.tv_sec as f64 * 1e3 + t.tv_nsec as f64 / 1e6
}
