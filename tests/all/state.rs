//! Stage state belongs to one camera and one source: the same file run twice
//! counts the same, another clip never inherits the first one's tracks (not
//! even with `--resume`), and `--resume` continues a file where it stopped.

use std::path::Path;
use std::process::Command;

use crate::common;

/// Frames of a short run: enough for the counter to see people.
const FRAMES: &str = "60";

/// `edgepipe run` on `input` with state in `state`; (final total, stderr).
fn counted(input: &Path, state: &Path, extra: &[&str]) -> (u64, String) {
    let mut args = vec![
        "run",
        "--input",
        input.to_str().unwrap(),
        "--no-mqtt",
        "--state-dir",
        state.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let (code, _, stderr) = common::run_edgepipe(&args);
    assert_eq!(code, 0, "{stderr}");
    (common::final_total(&stderr), stderr)
}

/// Frame indices of a `--record` file.
fn indices(record: &Path) -> Vec<u64> {
    std::fs::read_to_string(record)
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["index"]
                .as_u64()
                .unwrap()
        })
        .collect()
}

/// A second clip: 60 frames from the middle of the course clip, re-encoded.
fn second_clip(dir: &Path) -> std::path::PathBuf {
    let out = dir.join("second.avi");
    let ok = Command::new("ffmpeg")
        .args(["-loglevel", "error", "-y", "-ss", "40", "-i"])
        .arg(common::clip())
        .args(["-frames:v", "60", "-c:v", "mjpeg", "-q:v", "3"])
        .arg(&out)
        .status()
        .expect("ffmpeg is installed");
    assert!(ok.success(), "ffmpeg cut the second clip");
    out
}

#[test]
fn the_same_file_twice_counts_the_same() {
    let dir = common::TempDir::new("state-twice");
    let state = dir.path().join("state");
    let clip = common::clip();
    let (first, _) = counted(&clip, &state, &["--max-frames", FRAMES]);
    assert!(first >= 1, "people were counted: {first}");
    assert!(
        state.join("default/default/people-counter.state").is_file(),
        "state kept under <dir>/<pipeline>/<camera>/"
    );
    let (second, stderr) = counted(&clip, &state, &["--max-frames", FRAMES]);
    assert_eq!(second, first, "a file starts empty again:\n{stderr}");
    assert!(stderr.contains("a file input starts empty"), "{stderr}");
}

#[test]
fn another_clip_never_inherits_the_first_ones_tracks() {
    let dir = common::TempDir::new("state-other");
    let second = second_clip(dir.path());
    let (alone, _) = counted(&second, &dir.path().join("empty"), &[]);
    for (tag, extra) in [("plain", &[][..]), ("resume", &["--resume"][..])] {
        let state = dir.path().join(tag);
        let (first, _) = counted(&common::clip(), &state, &["--max-frames", FRAMES]);
        assert!(first >= 1, "people were counted in the first clip: {first}");
        let (after, stderr) = counted(&second, &state, extra);
        assert_eq!(
            after, alone,
            "the second clip counts as it does alone ({extra:?}):\n{stderr}"
        );
        if tag == "resume" {
            assert!(
                stderr.contains("saved state belongs to another source"),
                "{stderr}"
            );
        }
    }
}

#[test]
fn resume_continues_a_file_where_it_stopped() {
    let dir = common::TempDir::new("state-resume");
    let state = dir.path().join("state");
    let clip = common::clip();
    let (whole, _) = counted(&clip, &dir.path().join("once"), &["--max-frames", "100"]);
    let (part, _) = counted(&clip, &state, &["--max-frames", FRAMES]);
    let rec = dir.path().join("rest.jsonl");
    let (resumed, stderr) = counted(
        &clip,
        &state,
        &[
            "--resume",
            "--max-frames",
            "40",
            "--record",
            rec.to_str().unwrap(),
        ],
    );
    assert!(stderr.contains("resuming at the saved frame"), "{stderr}");
    assert_eq!(
        indices(&rec),
        (60..100).collect::<Vec<u64>>(),
        "the resumed run reads frames 60..99"
    );
    assert!(resumed >= part, "the total goes on: {part} then {resumed}");
    assert_eq!(
        resumed, whole,
        "60 frames then 40 resumed count as 100 frames in one run"
    );
}
