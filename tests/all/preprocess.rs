//! The pre-processing that resizes frames row by row into the tensor
//! (layouts/resize.rs) against OpenCV's `resize(INTER_LINEAR)` then packing,
//! on real frames of vtest.avi at several sizes: the same tensor, bit for
//! bit, for every kind of input (float or uint8, NCHW or NHWC, RGB or BGR,
//! letterbox or stretch), with and without the AVX2 kernels.

use edgepipe::capture::Capture;
use edgepipe::layouts::input::{Element, InputMeta, InputSpec, InputTensor, Packer, Resize};
use edgepipe::layouts::resize::Image;
use edgepipe::model::Detector;
use opencv::core::{Mat, Rect, Size};
use opencv::prelude::*;

use crate::common;

/// Frames 0 and 60 of the clip.
fn clip_frames() -> Vec<Mat> {
    let mut cap = Capture::open(common::clip().to_str().unwrap()).unwrap();
    let mut frames = Vec::new();
    while let Some(frame) = cap.next_frame().unwrap() {
        if frame.index == 0 || frame.index == 60 {
            frames.push(frame.mat);
        }
        if frame.index >= 60 {
            break;
        }
    }
    assert_eq!(frames.len(), 2);
    frames
}

fn resized(frame: &Mat, w: i32, h: i32, how: i32) -> Mat {
    let mut out = Mat::default();
    opencv::imgproc::resize(frame, &mut out, Size::new(w, h), 0.0, 0.0, how).unwrap();
    out
}

/// A clip frame at sizes that take every way through the resize: the
/// clip's own, an odd crop, one to halve (OpenCV's area path), a strong
/// shrink, an enlargement, and one the input's size already.
fn sizes(frame: &Mat) -> Vec<Mat> {
    let crop = Mat::roi(frame, Rect::new(31, 17, 701, 433))
        .unwrap()
        .try_clone()
        .unwrap();
    vec![
        frame.try_clone().unwrap(),
        crop,
        resized(frame, 1280, 960, opencv::imgproc::INTER_CUBIC),
        resized(frame, 1920, 1080, opencv::imgproc::INTER_CUBIC),
        resized(frame, 203, 151, opencv::imgproc::INTER_AREA),
        resized(frame, 640, 480, opencv::imgproc::INTER_AREA),
    ]
}

/// Inputs of every kind.
fn specs() -> Vec<InputSpec> {
    let bgr = InputMeta {
        channels: Some("bgr".into()),
        mean: Some("103.53,116.28,123.675".into()),
        std: Some("57.375,57.12,58.395".into()),
        resize: Some("stretch".into()),
    };
    let spec = |shape: &[i64], element, meta: &InputMeta, resize| {
        InputSpec::read(shape, element, meta, resize).unwrap()
    };
    vec![
        spec(
            &[1, 3, 640, 640],
            Element::F32,
            &InputMeta::default(),
            Resize::Letterbox,
        ),
        spec(&[1, 3, 416, 416], Element::F32, &bgr, Resize::Letterbox),
        spec(
            &[1, 300, 300, 3],
            Element::U8,
            &InputMeta::default(),
            Resize::Stretch,
        ),
        spec(
            &[1, 256, 320, 3],
            Element::F32,
            &InputMeta::default(),
            Resize::Letterbox,
        ),
    ]
}

/// The way before: OpenCV's resize, then packing.
fn opencv_way(packer: &Packer, frame: &Mat) -> InputTensor {
    let lb = packer
        .spec()
        .geometry(frame.cols() as u32, frame.rows() as u32);
    let small = resized(
        frame,
        lb.new_w as i32,
        lb.new_h as i32,
        opencv::imgproc::INTER_LINEAR,
    );
    let mut t = packer.blank();
    let stride = lb.new_w as usize * 3;
    packer.pack(small.data_bytes().unwrap(), stride, &lb, &mut t);
    t
}

fn bits(t: &InputTensor) -> Vec<u32> {
    match t {
        InputTensor::F32(v) => v.iter().map(|x| x.to_bits()).collect(),
        InputTensor::U8(v) => v.iter().map(|&x| x as u32).collect(),
    }
}

#[test]
fn resizing_into_the_tensor_gives_opencvs_tensor_bit_for_bit() {
    let mut compared = 0;
    for frame in clip_frames() {
        for sized in sizes(&frame) {
            let (w, h) = (sized.cols() as usize, sized.rows() as usize);
            let img = Image {
                data: sized.data_bytes().unwrap(),
                width: w,
                height: h,
                stride: w * 3,
            };
            for spec in specs() {
                let want = bits(&opencv_way(&Packer::new(spec.clone()), &sized));
                for mut packer in [Packer::new(spec.clone()), Packer::portable(spec.clone())] {
                    let lb = spec.geometry(w as u32, h as u32);
                    let mut t = packer.blank();
                    assert!(packer.resize_pack(&img, &lb, &mut t), "{w}x{h} {spec:?}");
                    let got = bits(&t);
                    let diff = got.iter().zip(&want).filter(|(a, b)| a != b).count();
                    assert_eq!(diff, 0, "{w}x{h} into {spec:?}: {diff} values differ");
                    compared += 1;
                }
            }
        }
    }
    assert_eq!(compared, 2 * 6 * 4 * 2);
}

#[test]
fn a_frame_the_geometry_does_not_describe_is_refused() {
    let frame = &clip_frames()[0];
    let spec = specs().remove(0);
    let mut packer = Packer::new(spec.clone());
    let img = Image {
        data: frame.data_bytes().unwrap(),
        width: 768,
        height: 576,
        stride: 768 * 3,
    };
    let mut t = packer.blank();
    let before = bits(&t);
    let other = spec.geometry(640, 480);
    assert!(!packer.resize_pack(&img, &other, &mut t));
    let short = Image {
        data: &img.data[..1000],
        ..img
    };
    assert!(!packer.resize_pack(&short, &spec.geometry(768, 576), &mut t));
    assert_eq!(bits(&t), before, "nothing written");
}

/// The detector's own pre-processing (model.rs) takes that way and gives
/// the tensor of OpenCV's resize then packing.
#[test]
fn the_detectors_tensor_is_opencvs() {
    // The host's own normalisation: nothing folded into the model.
    let settings = edgepipe::model::DetectorSettings {
        fold: false,
        ..common::detector_settings(common::model(), edgepipe::ep::Provider::Cpu)
    };
    let mut det = Detector::load(settings).unwrap();
    assert_eq!(det.input_size(), (640, 640));
    // yolov12n: float NCHW, RGB / 255, letterbox.
    let packer = Packer::new(specs().remove(0));
    for frame in clip_frames() {
        let want = bits(&opencv_way(&packer, &frame));
        assert_eq!(bits(&det.tensor_for(&frame).unwrap()), want);
    }
}
