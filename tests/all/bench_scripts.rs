//! The comparison scripts of `bench/` (issue 22): `measure.py` counts the
//! frames it drains, and `summary.py` judges the targets against the Python
//! loop with its provider's defaults only, printing any other peer beside it.

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace")
        .to_path_buf()
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "edgepipe-bench-scripts-{}-{name}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).expect("a scratch folder");
    dir
}

#[test]
fn measure_counts_every_whole_frame_it_drains() {
    let dir = scratch("measure");
    // 2.5 MiB in chunks larger than its buffer and a pipe: 40 whole frames.
    let out = Command::new("python3")
        .arg(root().join("bench/measure.py"))
        .args(["--frame-bytes", "65536", "--log"])
        .arg(dir.join("log"))
        .args(["--", "sh", "-c", "head -c 2621440 /dev/zero"])
        .output()
        .expect("measure.py runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = String::from_utf8_lossy(&out.stdout);
    assert!(line.contains("\"frames\":40"), "{line}");
    let failed = Command::new("python3")
        .arg(root().join("bench/measure.py"))
        .args(["--frame-bytes", "10", "--log"])
        .arg(dir.join("log"))
        .args(["--", "sh", "-c", "echo gone >&2; exit 3"])
        .output()
        .expect("measure.py runs");
    assert!(!failed.status.success());
    assert!(String::from_utf8_lossy(&failed.stderr).contains("exited with 3"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn summary_judges_the_targets_against_the_default_python_loop_only() {
    let dir = scratch("summary");
    let m = |wall: f64, kib: u64, first: f64| {
        format!(
            "{{\"first_frame_s\":{first},\"wall_s\":{wall},\"frames\":150,\"maxrss_kib\":{kib}}}"
        )
    };
    // The default loop is 2.1x slower (met); the bf16 one 1.5x (would miss).
    let rounds = [
        format!("1 edgepipe {} 70.0", m(2.0, 200_000, 0.4)),
        format!("1 python-openvino {} 33.0", m(4.2, 240_000, 0.5)),
        format!("1 python-openvino-bf16 {} 45.0", m(3.0, 240_000, 0.5)),
        format!("2 edgepipe {} 70.0", m(2.0, 200_000, 0.4)),
        format!("2 python-openvino {} 33.0", m(4.4, 240_000, 0.5)),
        format!("2 python-openvino-bf16 {} 45.0", m(3.2, 240_000, 0.5)),
    ];
    std::fs::write(dir.join("rounds"), rounds.join("\n") + "\n").expect("rounds");
    std::fs::write(dir.join("raw"), "openvino 72.0 70.0 0.972 69.0 0.958\n").expect("raw");
    let out = Command::new("python3")
        .arg(root().join("bench/summary.py"))
        .arg(dir.join("rounds"))
        .arg(dir.join("raw"))
        .args(["150", "load 1.0", "load 1.1"])
        .output()
        .expect("summary.py runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let block = |peer: &str| -> String {
        let head = format!("edgepipe against {peer}:");
        let at = text
            .find(&head)
            .unwrap_or_else(|| panic!("no {head} in:\n{text}"));
        text[at..]
            .lines()
            .skip(1)
            .take(3)
            .collect::<Vec<_>>()
            .join("\n")
    };
    let default = block("python-openvino");
    assert!(default.contains("2.15 [2.10 - 2.20]"), "{default}");
    assert!(
        default.contains("target >= 2.0 in every round: met"),
        "{default}"
    );
    assert!(!default.contains("not the target's reference"), "{default}");
    let bf16 = block("python-openvino-bf16");
    assert!(bf16.contains("1.55 [1.50 - 1.60]"), "{bf16}");
    assert_eq!(
        bf16.matches("not the target's reference").count(),
        3,
        "{bf16}"
    );
    assert!(!bf16.contains("MISSED"), "{bf16}");
    assert!(text.contains("0.972"), "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}
