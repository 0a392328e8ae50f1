//! One session serving several runs at once (`[model] requests`): workers
//! on one loaded model, each on its own thread with its own frames, give
//! bit for bit what one worker gives running the same frames one by one,
//! with either provider.

use std::sync::{Arc, Barrier};

use edgepipe::capture::Capture;
use edgepipe::detect::Detection;
use edgepipe::ep::{self, Provider};
use edgepipe::model::{DetectTimings, Detector, DetectorSettings, LoadedModel};
use opencv::core::Mat;

use crate::common;

/// Workers running the one session at once, and the times each runs
/// every frame (each starting at another frame).
const WORKERS: usize = 3;
const ROUNDS: usize = 3;
/// Frames of the clip used: every `STEP`-th of the first `FRAMES`.
const FRAMES: u64 = 160;
const STEP: u64 = 20;

fn frames() -> Vec<Mat> {
    let mut cap = Capture::open(common::clip().to_str().unwrap()).unwrap();
    let mut out = Vec::new();
    while let Some(f) = cap.next_frame().unwrap() {
        if f.index >= FRAMES {
            break;
        }
        if f.index % STEP == 0 {
            out.push(f.mat);
        }
    }
    out
}

/// Every field of every detection, as bits: equal means bit for bit.
fn bits(dets: &[Detection]) -> Vec<[u32; 6]> {
    dets.iter()
        .map(|d| {
            let b = d.bbox;
            [
                d.class_id,
                d.score.to_bits(),
                b.x.to_bits(),
                b.y.to_bits(),
                b.width.to_bits(),
                b.height.to_bits(),
            ]
        })
        .collect()
}

fn same_results_serial_and_concurrent(provider: Provider) {
    let settings = DetectorSettings {
        // Low: many boxes per frame, so that any changed output shows.
        confidence: 0.01,
        intra_threads: 1,
        requests: WORKERS,
        ..common::detector_settings(common::model(), provider)
    };
    let model = Arc::new(LoadedModel::load(settings).unwrap());
    let frames = frames();
    assert_eq!(frames.len() as u64, FRAMES / STEP);
    let mut serial = Detector::on(model.clone());
    assert_eq!(serial.provider(), provider, "no silent fallback");
    let mut t = DetectTimings::default();
    let expected: Vec<_> = frames
        .iter()
        .map(|f| bits(&serial.detect(f, &mut t).unwrap()))
        .collect();
    assert!(
        expected.iter().all(|d| d.len() >= 10),
        "every frame has boxes to compare: {:?}",
        expected.iter().map(Vec::len).collect::<Vec<_>>()
    );
    let start = Arc::new(Barrier::new(WORKERS));
    let handles: Vec<_> = (0..WORKERS)
        .map(|w| {
            let (model, frames, start) = (model.clone(), frames.clone(), start.clone());
            std::thread::spawn(move || {
                let mut det = Detector::on(model);
                let mut t = DetectTimings::default();
                start.wait();
                let mut got = Vec::new();
                for i in 0..ROUNDS * frames.len() {
                    let k = (i + w * 3) % frames.len();
                    got.push((k, bits(&det.detect(&frames[k], &mut t).unwrap())));
                }
                got
            })
        })
        .collect();
    for (w, h) in handles.into_iter().enumerate() {
        let got = h.join().unwrap();
        assert_eq!(got.len(), ROUNDS * frames.len());
        for (k, dets) in got {
            assert!(
                dets == expected[k],
                "{provider}: worker {w}, frame {k}: {} boxes, serially {}",
                dets.len(),
                expected[k].len()
            );
        }
    }
}

#[test]
fn cpu_provider_runs_at_once_on_one_session_match_serial_runs() {
    same_results_serial_and_concurrent(Provider::Cpu);
}

#[test]
fn openvino_runs_at_once_on_one_session_match_serial_runs() {
    let lib = common::ort_lib();
    assert!(
        ep::installed(&lib).contains(&Provider::OpenVino),
        "scripts/setup.sh installs the OpenVINO provider beside {}",
        lib.display()
    );
    same_results_serial_and_concurrent(Provider::OpenVino);
}
