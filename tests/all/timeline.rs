//! The first frames' timeline (`--log info,edgepipe::timeline=debug`): each
//! of the first 10 frames decoded, inferred, through the stages and out, in
//! that order, after the start's steps; nothing without the flag.

use crate::common;

/// (message, frame, t_ms) of each timeline line of `stderr`.
fn timeline(stderr: &str) -> Vec<(String, Option<u64>, f64)> {
    stderr
        .lines()
        .filter_map(|l| {
            let (head, fields) = l.split_once(" t_ms=")?;
            let message = head.split_once("DEBUG ")?.1.trim().to_string();
            let field = |name: &str| {
                fields
                    .split_whitespace()
                    .find_map(|w| w.strip_prefix(name))
                    .map(str::to_string)
            };
            let t: f64 = fields.split_whitespace().next()?.parse().ok()?;
            let frame = field("frame=").and_then(|f| f.parse().ok());
            Some((message, frame, t))
        })
        .collect()
}

#[test]
fn the_first_ten_frames_are_timed_step_by_step_after_the_start() {
    let clip = common::clip();
    let clip = clip.to_str().unwrap();
    let args = ["run", "--input", clip, "--max-frames", "14", "--no-mqtt"];
    let (code, _, stderr) = common::run_edgepipe(&args);
    assert_eq!(code, 0, "{stderr}");
    assert!(timeline(&stderr).is_empty(), "off by default:\n{stderr}");

    let mut with_log = args.to_vec();
    with_log.extend(["--log", "info,edgepipe::timeline=debug"]);
    let (code, _, stderr) = common::run_edgepipe(&with_log);
    assert_eq!(code, 0, "{stderr}");
    let lines = timeline(&stderr);
    let at = |message: &str, frame: Option<u64>| -> f64 {
        let hits: Vec<f64> = lines
            .iter()
            .filter(|(m, f, _)| m == message && *f == frame)
            .map(|(_, _, t)| *t)
            .collect();
        assert_eq!(hits.len(), 1, "{message} {frame:?} once:\n{stderr}");
        hits[0]
    };
    let steps = [
        "input open",
        "stages loaded",
        "inference service started",
        "camera ready (publisher, sinks, stage runner)",
        "free heap handed back",
    ];
    let times: Vec<f64> = steps.iter().map(|s| at(s, None)).collect();
    assert!(
        times.windows(2).all(|w| w[0] <= w[1]),
        "{steps:?} {times:?}"
    );
    let loaded = at("session loaded", None);
    assert!(loaded <= times[2], "the service starts on a loaded session");
    for frame in 0..10 {
        let f = Some(frame);
        let path = ["decoded", "inference start", "inferred", "stages", "out"];
        let t: Vec<f64> = path.iter().map(|m| at(m, f)).collect();
        assert!(
            t.windows(2).all(|w| w[0] <= w[1]),
            "frame {frame}: {path:?} at {t:?}"
        );
        assert!(t[1] >= loaded, "frame {frame} inferred after the load");
        assert!(t[3] >= times[4], "frame {frame} staged after the start");
    }
    assert!(
        lines.iter().all(|(_, f, _)| f.is_none_or(|f| f < 10)),
        "the first 10 frames only:\n{stderr}"
    );
    // Every frame went out in order.
    let outs: Vec<f64> = (0..10).map(|f| at("out", Some(f))).collect();
    assert!(outs.windows(2).all(|w| w[0] <= w[1]), "{outs:?}");
}
