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

/// The one-pass resize into the float tensor (layouts/resample.rs) against
/// the way before it, OpenCV's resize then byte packing, on frames of the
/// clip: every value within 1/255, and the same boxes (score to 0.02, box
/// corners to 1.5 px) on the CPU provider.
#[test]
fn one_pass_resize_matches_opencv_resize_then_packing_on_clip_frames() {
    use edgepipe::layouts::input::{Element, InputMeta, InputSpec, InputTensor, Packer, Resize};
    use opencv::core::{Mat, Size};
    use opencv::prelude::*;

    let mut det = Detector::load(settings()).unwrap();
    let spec = InputSpec::read(
        &[1, 3, 640, 640],
        Element::F32,
        &InputMeta::default(),
        Resize::Letterbox,
    )
    .unwrap();
    let packer = Packer::new(spec.clone());
    let mut cap = Capture::open(common::clip().to_str().unwrap()).unwrap();
    let (mut frames, mut boxes) = (0, 0);
    while let Some(frame) = cap.next_frame().unwrap() {
        if frame.index > 120 {
            break;
        }
        if frame.index % 40 != 0 {
            continue;
        }
        let lb = spec.geometry(768, 576);
        let mut resized = Mat::default();
        opencv::imgproc::resize(
            &frame.mat,
            &mut resized,
            Size::new(lb.new_w as i32, lb.new_h as i32),
            0.0,
            0.0,
            opencv::imgproc::INTER_LINEAR,
        )
        .unwrap();
        let mut old = packer.blank();
        let bytes = resized.data_bytes().unwrap();
        packer.pack(bytes, lb.new_w as usize * 3, &lb, &mut old);
        let new = det.tensor_for(&frame.mat).unwrap();
        let (InputTensor::F32(a), InputTensor::F32(b)) = (&old, &new) else {
            panic!("yolov12n takes float");
        };
        assert_eq!(a.len(), b.len());
        let worst = a
            .iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f32::max);
        assert!(
            worst <= 1.0 / 255.0,
            "frame {}: largest difference {worst}",
            frame.index
        );
        assert!(
            a.iter().zip(b).any(|(x, y)| x != y),
            "the new way is not the old one"
        );

        let before = det.detect_tensor(&old, &lb).unwrap();
        let after = det.detect_tensor(&new, &lb).unwrap();
        let strong = |d: &&edgepipe::detect::Detection| d.score >= 0.3;
        for d in before.iter().filter(strong) {
            let twin = after.iter().find(|e| {
                e.class_id == d.class_id
                    && (e.score - d.score).abs() <= 0.02
                    && (e.bbox.x - d.bbox.x).abs() <= 1.5
                    && (e.bbox.y - d.bbox.y).abs() <= 1.5
                    && (e.bbox.x2() - d.bbox.x2()).abs() <= 1.5
                    && (e.bbox.y2() - d.bbox.y2()).abs() <= 1.5
            });
            assert!(
                twin.is_some(),
                "frame {}: {d:?} not found in {after:?}",
                frame.index
            );
            boxes += 1;
        }
        assert_eq!(
            before.iter().filter(strong).count(),
            after.iter().filter(strong).count(),
            "frame {}",
            frame.index
        );
        frames += 1;
    }
    assert_eq!(frames, 4);
    assert!(boxes >= 12, "{boxes} boxes compared");
}
