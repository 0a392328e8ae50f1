//! Execution providers: OpenVINO finds what the CPU provider finds on the
//! clip; a provider that cannot load is one error line (exit 4), or with
//! `auto` a fallback to the CPU provider that says so.

use edgepipe::detect::Detection;
use edgepipe::ep::{self, Provider};
use edgepipe::model::Detector;

use crate::common;

/// Frames of the clip compared (every `STEP`-th of the first `FRAMES`).
const FRAMES: u64 = 160;
const STEP: u64 = 2;
/// Boxes at or above this score must have a match.
const MATCH_SCORE: f32 = 0.4;
const MATCH_IOU: f32 = 0.9;

fn detections(provider: Provider) -> Vec<Vec<Detection>> {
    let settings = common::detector_settings(common::model(), provider);
    let mut det = Detector::load(settings).unwrap();
    assert_eq!(det.provider(), provider, "no silent fallback");
    common::clip_detections(&mut det, FRAMES, STEP)
}

/// (boxes of `a` scoring >= MATCH_SCORE, those with a box of `b` of the same class at IoU >= MATCH_IOU).
fn matched(a: &[Vec<Detection>], b: &[Vec<Detection>]) -> (usize, usize) {
    common::matched(a, b, MATCH_SCORE, MATCH_IOU)
}

#[test]
fn every_installed_provider_finds_what_the_cpu_provider_finds() {
    let installed = ep::installed(&common::ort_lib());
    assert!(
        installed.contains(&Provider::OpenVino),
        "scripts/setup.sh installs the OpenVINO provider beside {}",
        common::ort_lib().display()
    );
    let cpu = detections(Provider::Cpu);
    for provider in installed.into_iter().filter(|p| *p != Provider::Cpu) {
        let other = detections(provider);
        for (what, (total, hits)) in [
            ("cpu boxes found by", matched(&cpu, &other)),
            ("boxes of", matched(&other, &cpu)),
        ] {
            assert!(
                total > 100,
                "{what} {provider}: only {total} boxes scored >= {MATCH_SCORE}"
            );
            assert!(
                hits as f64 >= 0.99 * total as f64,
                "{what} {provider}: {hits} of {total} matched (need 99%)"
            );
        }
    }
}

fn run(args: &[&str]) -> (i32, String) {
    let clip = common::clip();
    let mut all = vec![
        "run",
        "--input",
        clip.to_str().unwrap(),
        "--max-frames",
        "2",
        "--no-mqtt",
    ];
    all.extend_from_slice(args);
    let (code, _, stderr) = common::run_edgepipe(&all);
    (code, stderr)
}

#[test]
fn auto_chooses_openvino_and_says_so() {
    let (code, stderr) = run(&[]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("execution provider openvino, chosen by auto"),
        "{stderr}"
    );
}

#[test]
fn a_provider_that_cannot_load_is_one_error_line_naming_it() {
    // No NPU here: OpenVINO refuses the device.
    let (code, stderr) = run(&["--ep", "openvino", "--ep-option", "device_type=NPU"]);
    assert_eq!(code, 4, "{stderr}");
    common::one_error_line(
        &stderr,
        "execution provider openvino (device_type=NPU) cannot load",
    );
    // The provider's library missing beside the ONNX Runtime library.
    let dir = common::TempDir::new("ep-missing");
    let lib = dir.path().join("libonnxruntime.so");
    std::os::unix::fs::symlink(std::fs::canonicalize(common::ort_lib()).unwrap(), &lib).unwrap();
    let (code, stderr) = run(&["--ep", "openvino", "--ort-lib", lib.to_str().unwrap()]);
    assert_eq!(code, 4, "{stderr}");
    let line = common::one_error_line(&stderr, "execution provider openvino cannot load");
    assert!(line.contains(ep::OPENVINO_PROVIDER_LIB), "{line}");
    // auto without the provider's library: the CPU provider, said so.
    let (code, stderr) = run(&["--ort-lib", lib.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("execution provider cpu, chosen by auto"),
        "{stderr}"
    );
}

#[test]
fn auto_falls_back_to_cpu_when_openvino_fails_and_says_so() {
    let (code, stderr) = run(&["--ep", "auto", "--ep-option", "device_type=NPU"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("execution provider openvino cannot load")
            && stderr.contains("auto falls back to cpu"),
        "{stderr}"
    );
}

#[test]
fn the_cpu_provider_takes_no_options() {
    let (code, stderr) = run(&["--ep", "cpu", "--ep-option", "device_type=GPU"]);
    assert_eq!(code, 2, "{stderr}");
    common::one_error_line(&stderr, "the cpu execution provider takes no options");
}

#[test]
fn a_cache_openvino_cannot_import_is_one_warning() {
    // The wheel's OpenVINO writes its compiled model to cache_dir but has no
    // IR frontend to import it at the next start (ep::OPENVINO_IR_FRONTEND):
    // a user asking for the cache is told it will not make starts faster.
    assert!(
        !ep::openvino_can_import(&common::ort_lib()),
        "an IR frontend lies beside the library now: test that the cache imports instead"
    );
    let dir = common::TempDir::new("ov-cache");
    let opt = format!("cache_dir={}", dir.path().display());
    let (code, stderr) = run(&["--ep", "openvino", "--ep-option", &opt]);
    assert_eq!(code, 0, "{stderr}");
    let warned: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("cannot import it with this ONNX Runtime build"))
        .collect();
    assert_eq!(warned.len(), 1, "{stderr}");
    assert!(
        warned[0].contains(ep::OPENVINO_IR_FRONTEND),
        "{}",
        warned[0]
    );
    let blobs = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "blob"))
        .count();
    assert_eq!(blobs, 1, "OpenVINO wrote its blob all the same");
    // Without cache_dir, no such warning.
    let (code, stderr) = run(&["--ep", "openvino"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(!stderr.contains("cannot import"), "{stderr}");
}
