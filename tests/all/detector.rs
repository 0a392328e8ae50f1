//! The real model on real frames of vtest.avi.

use edgepipe::capture::Capture;
use edgepipe::model::{DetectTimings, Detector, DetectorSettings, ModelError};

use crate::common;

fn settings() -> DetectorSettings {
    common::detector_settings(common::model(), edgepipe::ep::Provider::Cpu)
}

#[test]
fn yolov12n_finds_people_in_vtest() {
    let mut det = Detector::load(settings()).unwrap();
    assert_eq!(
        det.input_size(),
        (640, 640),
        "input size is read from the model"
    );
    assert_eq!(det.classes(), 80);
    assert_eq!(
        det.label(0),
        "person",
        "labels come from the model's metadata"
    );

    let clip = common::clip();
    let mut cap = Capture::open(clip.to_str().unwrap()).unwrap();
    assert_eq!((cap.width(), cap.height()), (768, 576));
    let mut timings = DetectTimings::default();
    // Frame 0 and a later one: both show several people walking.
    let mut checked = 0;
    while let Some(frame) = cap.next_frame().unwrap() {
        if frame.index != 0 && frame.index != 50 {
            if frame.index > 50 {
                break;
            }
            continue;
        }
        let dets = det.detect(&frame.mat, &mut timings).unwrap();
        let people: Vec<_> = dets
            .iter()
            .filter(|d| det.label(d.class_id) == "person" && d.score >= 0.5)
            .collect();
        assert!(
            people.len() >= 3,
            "frame {}: {} people with score >= 0.5: {:?}",
            frame.index,
            people.len(),
            dets
        );
        for d in &dets {
            let b = d.bbox;
            assert!(
                b.x >= 0.0 && b.y >= 0.0 && b.width > 0.0 && b.height > 0.0,
                "{b:?}"
            );
            assert!(
                b.x2() <= 768.0 && b.y2() <= 576.0,
                "box inside the frame: {b:?}"
            );
            assert!((0.25..=1.0).contains(&d.score));
        }
        checked += 1;
    }
    assert_eq!(checked, 2);
    assert!(timings.inference > 0.0);
}

#[test]
fn a_model_with_an_unsupported_output_layout_is_rejected() {
    let dir = common::TempDir::new("layout");
    let path = dir.path().join("identity.onnx");
    std::fs::write(&path, common::identity_onnx(&[1, 3, 32, 32])).unwrap();
    let err = Detector::load(DetectorSettings {
        model: path.clone().into(),
        ..settings()
    })
    .err()
    .unwrap();
    assert!(matches!(err, ModelError::Layout { .. }), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("unsupported layout") && msg.contains("[1, 3, 32, 32]"),
        "{msg}"
    );
}

#[test]
fn a_garbage_model_and_a_missing_ort_library_are_clear_errors() {
    let dir = common::TempDir::new("garbage");
    let path = dir.path().join("garbage.onnx");
    std::fs::write(&path, b"this is not an onnx model").unwrap();
    let err = Detector::load(DetectorSettings {
        model: path.into(),
        ..settings()
    })
    .err()
    .unwrap();
    assert!(matches!(err, ModelError::ModelLoad { .. }), "{err}");

    let err = Detector::load(DetectorSettings {
        ort_lib: dir.path().join("libonnxruntime.so"),
        ..settings()
    })
    .err()
    .unwrap();
    assert!(matches!(err, ModelError::OrtLibMissing(_)), "{err}");
}
