//! Each output layout's decoder against the Python reference
//! (`scripts/models/reference.py`: ONNX Runtime in Python, the same
//! pre-processing, the layout decoded again in numpy) on real frames of
//! vtest.avi: at least 99% of the boxes matched (same class, IoU >= 0.9).
//! And the layouts made from yolov12n give yolov12n's own detections.

use std::path::{Path, PathBuf};
use std::process::Command;

use edgepipe::capture::Capture;
use edgepipe::detect::{iou, BBox, Detection};
use edgepipe::ep::Provider;
use edgepipe::layouts::LayoutKind;
use edgepipe::model::{DetectTimings, Detector};
use opencv::core::Mat;
use opencv::prelude::*;

use crate::common;

/// Every 40th frame of the clip: people walking, meeting, near and far.
const STEP: u64 = 40;
const FRAMES: usize = 16;

struct Frames {
    _dir: common::TempDir,
    mats: Vec<Mat>,
    pngs: Vec<PathBuf>,
}

/// The clip's frames, also written as PNG (lossless) for the reference.
fn frames() -> Frames {
    let dir = common::TempDir::new("layouts");
    let mut cap = Capture::open(common::clip().to_str().unwrap()).unwrap();
    let (mut mats, mut pngs) = (Vec::new(), Vec::new());
    while let Some(f) = cap.next_frame().unwrap() {
        if f.index % STEP != 0 {
            continue;
        }
        let png = dir.path().join(format!("{}.png", f.index));
        write_png(&png, &f.mat);
        pngs.push(png);
        mats.push(f.mat);
        if mats.len() == FRAMES {
            break;
        }
    }
    assert_eq!(mats.len(), FRAMES);
    Frames {
        _dir: dir,
        mats,
        pngs,
    }
}

/// A BGR frame as an RGB PNG.
fn write_png(path: &Path, bgr: &Mat) {
    let rgb: Vec<u8> = bgr
        .data_bytes()
        .unwrap()
        .chunks_exact(3)
        .flat_map(|p| [p[2], p[1], p[0]])
        .collect();
    image::RgbImage::from_raw(bgr.cols() as u32, bgr.rows() as u32, rgb)
        .unwrap()
        .save(path)
        .unwrap();
}

fn detector(model: PathBuf) -> Detector {
    Detector::load(common::detector_settings(model, Provider::Cpu)).unwrap()
}

/// The host's detections of every frame, read with the layout it recognised.
fn host(model: &Path, expect: LayoutKind, frames: &Frames) -> Vec<Vec<Detection>> {
    let mut d = detector(model.to_path_buf());
    assert_eq!(
        d.layout(),
        expect,
        "{} recognised as {}",
        model.display(),
        d.layout()
    );
    let mut t = DetectTimings::default();
    frames
        .mats
        .iter()
        .map(|m| d.detect(m, &mut t).unwrap())
        .collect()
}

/// A reference detection: class, score, x1, y1, x2, y2.
type RefRow = (u32, f32, f32, f32, f32, f32);

/// The Python reference's detections of every frame.
fn reference(model: &Path, layout: LayoutKind, frames: &Frames) -> Vec<Vec<Detection>> {
    let out = Command::new(common::model_tools_python())
        .current_dir(common::root().join("scripts/models"))
        .arg("reference.py")
        .arg(model)
        .args([layout.name(), "0.25", "0.45"])
        .args(&frames.pngs)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let per_frame: Vec<Vec<RefRow>> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(per_frame.len(), frames.mats.len());
    per_frame
        .into_iter()
        .map(|v| {
            v.into_iter()
                .map(|(class_id, score, x1, y1, x2, y2)| Detection {
                    class_id,
                    score,
                    bbox: BBox::from_corners(x1, y1, x2, y2),
                })
                .collect()
        })
        .collect()
}

/// (matched, boxes): each box of `a` paired with the unpaired box of `b`
/// of its class overlapping it most, matched when IoU >= 0.9; boxes = the
/// larger of the two counts, frame by frame.
fn matched(a: &[Vec<Detection>], b: &[Vec<Detection>]) -> (usize, usize) {
    let (mut hit, mut total) = (0, 0);
    for (fa, fb) in a.iter().zip(b) {
        total += fa.len().max(fb.len());
        let mut used = vec![false; fb.len()];
        for d in fa {
            let best = fb
                .iter()
                .enumerate()
                .filter(|(j, e)| !used[*j] && e.class_id == d.class_id)
                .map(|(j, e)| (j, iou(&d.bbox, &e.bbox)))
                .max_by(|x, y| x.1.total_cmp(&y.1));
            if let Some((j, _)) = best.filter(|(_, v)| *v >= 0.9) {
                used[j] = true;
                hit += 1;
            }
        }
    }
    (hit, total)
}

/// At least 99% of at least `min_boxes` boxes matched.
fn assert_matched(what: &str, a: &[Vec<Detection>], b: &[Vec<Detection>], min_boxes: usize) {
    let (hit, total) = matched(a, b);
    assert!(
        total >= min_boxes,
        "{what}: only {total} boxes on {FRAMES} frames"
    );
    assert!(
        hit * 100 >= total * 99,
        "{what}: {hit} of {total} boxes matched (need 99%)"
    );
    eprintln!("{what}: {hit} of {total} boxes matched");
}

fn against_reference(model: PathBuf, layout: LayoutKind) {
    let f = frames();
    let ours = host(&model, layout, &f);
    let theirs = reference(&model, layout, &f);
    // COCO models find several objects per frame; the person-only SSD fewer.
    let min_boxes = if layout == LayoutKind::Tfod {
        FRAMES
    } else {
        4 * FRAMES
    };
    assert_matched(
        &format!("{} ({layout})", model.display()),
        &ours,
        &theirs,
        min_boxes,
    );
}

#[test]
fn yolov8_layout_matches_the_reference_yolov12n() {
    against_reference(common::model(), LayoutKind::Yolov8);
}

#[test]
fn yolov8_layout_matches_the_reference_nanodet_folded() {
    against_reference(common::named_model("nanodet"), LayoutKind::Yolov8);
}

#[test]
fn yolov5_layout_matches_the_reference() {
    against_reference(common::layout_model("yolov12n-yolov5"), LayoutKind::Yolov5);
}

#[test]
fn end2end_layout_matches_the_reference() {
    against_reference(
        common::layout_model("yolov12n-end2end"),
        LayoutKind::End2End,
    );
}

#[test]
fn tfod_layout_matches_the_reference_ssdlite() {
    against_reference(common::named_model("ssdlite-person"), LayoutKind::Tfod);
}

#[test]
fn layouts_made_from_yolov12n_give_its_detections() {
    let f = frames();
    let base = host(&common::model(), LayoutKind::Yolov8, &f);
    for (name, kind) in [
        ("yolov12n-yolov5", LayoutKind::Yolov5),
        ("yolov12n-end2end", LayoutKind::End2End),
    ] {
        let other = host(&common::layout_model(name), kind, &f);
        assert_matched(
            &format!("{name} against yolov12n"),
            &other,
            &base,
            4 * FRAMES,
        );
    }
}
