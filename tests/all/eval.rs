//! `edgepipe eval`: its figures against py-motmetrics (installed by
//! scripts/setup.sh) on a small ground truth with misses, false positives and
//! identity switches; and its errors on bad input.

use std::path::PathBuf;
use std::process::Command;

use crate::common;

/// py-motmetrics' Python (setup.sh installs it; EDGEPIPE_MOTMETRICS_PYTHON overrides).
fn motmetrics_python() -> PathBuf {
    let p = std::env::var_os("EDGEPIPE_MOTMETRICS_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| common::root().join("vendor/motmetrics-venv/bin/python"));
    assert!(
        p.exists(),
        "{} is missing: run scripts/setup.sh first",
        p.display()
    );
    p
}

const MOTMETRICS: &str = r#"
import json, sys
import motmetrics as mm
gt = mm.io.loadtxt(sys.argv[1], fmt="mot15-2D")
ts = mm.io.loadtxt(sys.argv[2], fmt="mot15-2D")
acc = mm.utils.compare_to_groundtruth(gt, ts, "iou", distth=0.5)
names = ["mota", "idf1", "num_switches", "num_misses", "num_false_positives", "num_matches", "idtp", "idfp", "idfn",
         "num_objects", "num_predictions", "num_unique_objects"]
s = mm.metrics.create().compute(acc, metrics=names, name="x")
print(json.dumps({k: float(s[k].iloc[0]) for k in names}))
"#;

/// A small scene: 4 people over 40 frames, with a detector that misses,
/// adds false boxes, jitters, and a tracker that swaps two identities and
/// breaks one track in two. Deterministic (a fixed LCG).
/// Per frame: (index, [(track id, box)]).
type Hypotheses = Vec<(u64, Vec<(u64, [f64; 4])>)>;

fn scene() -> (Vec<String>, Hypotheses) {
    let mut seed: u64 = 12345;
    let mut rnd = move || {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 33) as f64 / (1u64 << 31) as f64
    };
    let mut gt = Vec::new();
    let mut frames = Vec::new();
    for f in 0..40u64 {
        let mut hyp = Vec::new();
        for p in 0..4u64 {
            let (start, end) = [(0, 40), (5, 30), (0, 25), (12, 40)][p as usize];
            if f < start || f >= end {
                continue;
            }
            let x = 50.0 + 120.0 * p as f64 + 4.0 * f as f64;
            let y = 100.0 + 30.0 * p as f64 - 2.0 * f as f64 * (p % 2) as f64;
            let b = [x, y, 40.0, 100.0];
            gt.push(format!(
                "{},{},{},{},{},{},1,-1,-1,-1",
                f + 1,
                p + 1,
                b[0],
                b[1],
                b[2],
                b[3]
            ));
            if rnd() < 0.12 {
                continue; // missed
            }
            // People 1 and 2 swap identities from frame 18; person 3 gets a new id after frame 20.
            let id = match p {
                0 if f >= 18 => 11,
                1 if f >= 18 => 10,
                2 if f > 20 => 30,
                _ => 10 + p,
            };
            let mut j = |s: f64| (rnd() - 0.5) * s;
            hyp.push((
                id,
                [
                    b[0] + j(16.0),
                    b[1] + j(30.0),
                    40.0 + j(10.0),
                    100.0 + j(20.0),
                ],
            ));
        }
        if rnd() < 0.25 {
            hyp.push((90 + f % 3, [600.0 * rnd(), 400.0 * rnd(), 40.0, 100.0]));
        }
        frames.push((f, hyp));
    }
    (gt, frames)
}

#[test]
fn eval_matches_py_motmetrics() {
    let dir = common::TempDir::new("eval");
    let (gt, frames) = scene();
    let gt_path = dir.path().join("gt.txt");
    std::fs::write(&gt_path, gt.join("\n") + "\n").unwrap();
    let mut record = String::new();
    let mut hyp_txt = String::new();
    for (f, hyp) in &frames {
        let tracks: Vec<serde_json::Value> = hyp
            .iter()
            .map(|(id, b)| serde_json::json!({"id": id, "box": b, "score": 0.9, "age": 1}))
            .collect();
        let line = serde_json::json!({"index": f, "timestamp_ms": f * 100, "width": 768, "height": 576, "detections": [],
            "stats": [{"name": "count", "value": hyp.len().to_string()}, {"name": "tracks", "value": serde_json::Value::from(tracks).to_string()}]});
        record.push_str(&format!("{line}\n"));
        for (id, b) in hyp {
            hyp_txt.push_str(&format!(
                "{},{id},{},{},{},{},1,-1,-1,-1\n",
                f + 1,
                b[0],
                b[1],
                b[2],
                b[3]
            ));
        }
    }
    let rec_path = dir.path().join("run.jsonl");
    std::fs::write(&rec_path, record).unwrap();
    let hyp_path = dir.path().join("hyp.txt");
    std::fs::write(&hyp_path, hyp_txt).unwrap();

    let (code, out, err) = common::run_edgepipe(&[
        "eval",
        "--record",
        rec_path.to_str().unwrap(),
        "--gt",
        gt_path.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    let ours: serde_json::Value = serde_json::from_slice(&out).unwrap();

    let script = dir.path().join("mm.py");
    std::fs::write(&script, MOTMETRICS).unwrap();
    let mm = Command::new(motmetrics_python())
        .arg(&script)
        .arg(&gt_path)
        .arg(&hyp_path)
        .output()
        .unwrap();
    assert!(
        mm.status.success(),
        "motmetrics: {}",
        String::from_utf8_lossy(&mm.stderr)
    );
    let theirs: serde_json::Value = serde_json::from_slice(&mm.stdout).unwrap();

    let pairs = [
        ("mota", "mota"),
        ("idf1", "idf1"),
        ("id_switches", "num_switches"),
        ("misses", "num_misses"),
        ("false_positives", "num_false_positives"),
        ("idtp", "idtp"),
        ("idfp", "idfp"),
        ("idfn", "idfn"),
        ("num_gt", "num_objects"),
        ("num_hyp", "num_predictions"),
        ("gt_identities", "num_unique_objects"),
    ];
    for (o, t) in pairs {
        let (a, b) = (ours[o].as_f64().unwrap(), theirs[t].as_f64().unwrap());
        assert!(
            (a - b).abs() < 1e-9,
            "{o}: edgepipe {a} vs motmetrics {t} {b}\nours {ours}\ntheirs {theirs}"
        );
    }
    // motmetrics counts a switch apart from its matches.
    assert_eq!(
        ours["matches"].as_u64().unwrap() - ours["id_switches"].as_u64().unwrap(),
        theirs["num_matches"].as_f64().unwrap() as u64
    );
    // The scene really exercises the metrics.
    assert!(
        ours["id_switches"].as_u64().unwrap() >= 2
            && ours["misses"].as_u64().unwrap() > 0
            && ours["false_positives"].as_u64().unwrap() > 0
    );
    assert_eq!(ours["hyp_identities"].as_u64(), Some(8));

    // The text report names every figure.
    let (code, out, _) = common::run_edgepipe(&[
        "eval",
        "--record",
        rec_path.to_str().unwrap(),
        "--gt",
        gt_path.to_str().unwrap(),
    ]);
    assert_eq!(code, 0);
    let text = String::from_utf8(out).unwrap();
    for k in ["MOTA", "IDF1", "ID switches", "identities", "count error"] {
        assert!(text.contains(k), "{text}");
    }
}

#[test]
fn eval_refuses_a_record_without_tracks_and_a_bad_ground_truth() {
    let dir = common::TempDir::new("eval-bad");
    let gt = dir.path().join("gt.txt");
    std::fs::write(&gt, "1,1,10,10,40,100,1,-1,-1,-1\n").unwrap();
    let old = common::root().join("tests/data/vtest-100.jsonl");
    let (code, out, err) = common::run_edgepipe(&[
        "eval",
        "--record",
        old.to_str().unwrap(),
        "--gt",
        gt.to_str().unwrap(),
    ]);
    assert_eq!(code, 3, "{err}");
    assert!(out.is_empty());
    common::one_error_line(&err, "no frame has a `tracks` stat");
    let rec = dir.path().join("r.jsonl");
    std::fs::write(&rec, r#"{"index":0,"timestamp_ms":0,"width":8,"height":8,"detections":[],"stats":[{"name":"tracks","value":"[]"}]}"#).unwrap();
    std::fs::write(&gt, "1,1,ten,10,40,100\n").unwrap();
    let (code, _, err) = common::run_edgepipe(&[
        "eval",
        "--record",
        rec.to_str().unwrap(),
        "--gt",
        gt.to_str().unwrap(),
    ]);
    assert_eq!(code, 3);
    common::one_error_line(&err, "gt.txt line 1");
}

#[test]
fn the_vtest_ground_truth_is_what_the_hand_identities_make() {
    let data = common::root().join("tests/data");
    let out = Command::new("python3")
        .arg(data.join("make_vtest_gt.py"))
        .arg(data.join("vtest-gt-source.jsonl.gz"))
        .arg(data.join("vtest-identities.txt"))
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let committed = std::fs::read(data.join("vtest-gt.txt")).unwrap();
    assert!(
        out.stdout == committed,
        "tests/data/vtest-gt.txt differs from what make_vtest_gt.py makes: regenerate it"
    );
    // 11 people, each box inside the frame give or take the edge.
    let ids: std::collections::BTreeSet<&str> = std::str::from_utf8(&committed)
        .unwrap()
        .lines()
        .map(|l| l.split(',').nth(1).unwrap())
        .collect();
    assert_eq!(ids.len(), 11);
}
