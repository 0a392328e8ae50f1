//! `edgepipe eval --record RUN.jsonl --gt gt.txt`: how well the tracks a run
//! recorded (the `tracks` stat of a stats stage, kept per frame in the record)
//! follow a ground truth in the MOTChallenge `gt.txt` layout. Prints MOTA,
//! IDF1, ID switches, identities found vs in the ground truth, the per-frame
//! count error and the run's final `total` on stdout (the command's output).

mod metrics;

use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use clap::Args;
use edgepipe_track::BBox;
pub use metrics::{evaluate, FramePair, Metrics, Obj};

use crate::error::{ExitKind, Failure, OrExit};
use crate::sink::RecordLine;

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// A record written by `edgepipe run --record` (with a stats stage exporting `tracks`).
    #[arg(long)]
    pub record: PathBuf,
    /// Ground truth, MOTChallenge layout: `frame,id,x,y,w,h,conf,...` (frames from 1; conf 0 = ignored row).
    #[arg(long)]
    pub gt: PathBuf,
    /// Smallest IoU of a match.
    #[arg(long, default_value_t = 0.5)]
    pub iou: f64,
    /// Name of the stat holding the tracks.
    #[arg(long, default_value = "tracks")]
    pub stat: String,
    /// Print one JSON object instead of the text report.
    #[arg(long)]
    pub json: bool,
}

#[derive(serde::Deserialize)]
struct TrackJson {
    id: u64,
    #[serde(rename = "box")]
    bbox: [f64; 4],
}

fn bad(path: &Path, line: usize, what: impl std::fmt::Display) -> Failure {
    Failure::msg(
        ExitKind::Input,
        format!("{} line {line}: {what}", path.display()),
    )
}

fn obj(path: &Path, line: usize, id: u64, b: [f64; 4]) -> Result<Obj, Failure> {
    let bbox =
        BBox::new(b[0], b[1], b[2], b[3]).ok_or_else(|| bad(path, line, "box is not finite"))?;
    Ok(Obj { id, bbox })
}

/// Ground truth per frame (0-based, as the record counts frames).
pub fn read_gt(path: &Path) -> Result<BTreeMap<u64, Vec<Obj>>, Failure> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Failure::msg(
            ExitKind::Input,
            format!("cannot read {}: {e}", path.display()),
        )
    })?;
    let mut out: BTreeMap<u64, Vec<Obj>> = BTreeMap::new();
    for (n, line) in text.lines().enumerate().map(|(n, l)| (n + 1, l.trim())) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let f: Vec<f64> = line
            .split(',')
            .map(|v| v.trim().parse::<f64>())
            .collect::<Result<_, _>>()
            .map_err(|e| bad(path, n, e))?;
        if f.len() < 6 {
            return Err(bad(path, n, "expected at least frame,id,x,y,w,h"));
        }
        if f.len() > 6 && f[6] == 0.0 {
            continue;
        }
        if f[0] < 1.0 || f[0].fract() != 0.0 || f[1] < 0.0 || f[1].fract() != 0.0 {
            return Err(bad(path, n, "frame (from 1) and id must be whole numbers"));
        }
        out.entry(f[0] as u64 - 1).or_default().push(obj(
            path,
            n,
            f[1] as u64,
            [f[2], f[3], f[4], f[5]],
        )?);
    }
    Ok(out)
}

/// What a record holds for evaluation.
pub struct RecordTracks {
    /// (frame index, tracks) for every frame of the record.
    pub frames: Vec<(u64, Vec<Obj>)>,
    /// The last `total` stat seen.
    pub final_total: Option<u64>,
}

pub fn read_record(path: &Path, stat: &str) -> Result<RecordTracks, Failure> {
    let file = std::fs::File::open(path).map_err(|e| {
        Failure::msg(
            ExitKind::Input,
            format!("cannot open {}: {e}", path.display()),
        )
    })?;
    let mut out = RecordTracks {
        frames: Vec::new(),
        final_total: None,
    };
    let mut seen_stat = false;
    for (n, line) in std::io::BufReader::new(file)
        .lines()
        .enumerate()
        .map(|(n, l)| (n + 1, l))
    {
        let line = line.map_err(|e| bad(path, n, e))?;
        if line.trim().is_empty() {
            continue;
        }
        let r: RecordLine = serde_json::from_str(&line)
            .map_err(|e| bad(path, n, format!("not a record line: {e}")))?;
        let mut objs = Vec::new();
        if let Some(s) = r.stats.iter().find(|s| s.name == stat) {
            seen_stat = true;
            let tracks: Vec<TrackJson> = serde_json::from_str(&s.value)
                .map_err(|e| bad(path, n, format!("stat `{stat}`: {e}")))?;
            for t in tracks {
                objs.push(obj(path, n, t.id, t.bbox)?);
            }
        }
        if let Some(t) = r
            .stats
            .iter()
            .rev()
            .find(|s| s.name == "total")
            .and_then(|s| s.value.parse().ok())
        {
            out.final_total = Some(t);
        }
        out.frames.push((r.index, objs));
    }
    if !seen_stat {
        return Err(Failure::msg(
            ExitKind::Input,
            format!(
                "{}: no frame has a `{stat}` stat (record a run whose pipeline has people-counter)",
                path.display()
            ),
        ));
    }
    Ok(out)
}

/// `edgepipe eval`.
pub fn run(a: &EvalArgs) -> Result<(), Failure> {
    if !(a.iou > 0.0 && a.iou <= 1.0) {
        return Err(Failure::msg(
            ExitKind::Config,
            format!("--iou {}: must be in (0, 1]", a.iou),
        ));
    }
    let mut gt = read_gt(&a.gt)?;
    let rec = read_record(&a.record, &a.stat)?;
    let frames: Vec<FramePair> = rec
        .frames
        .into_iter()
        .map(|(i, hyp)| FramePair {
            gt: gt.remove(&i).unwrap_or_default(),
            hyp,
        })
        .collect();
    let m = evaluate(&frames, a.iou);
    let text = if a.json {
        let mut v = serde_json::to_value(&m).or_exit(ExitKind::Internal)?;
        v["final_total"] = serde_json::json!(rec.final_total);
        format!("{v}\n")
    } else {
        render(&m, rec.final_total, a)
    };
    std::io::stdout()
        .lock()
        .write_all(text.as_bytes())
        .or_exit(ExitKind::Output)
}

fn render(m: &Metrics, total: Option<u64>, a: &EvalArgs) -> String {
    let total = total.map(|t| t.to_string()).unwrap_or_else(|| "-".into());
    format!(
        "edgepipe eval: {} vs {} ({} frames, IoU >= {})\n\
         MOTA          {:.3}  (misses {}, false positives {}, ID switches {}, of {} ground-truth boxes)\n\
         IDF1          {:.3}  (IDTP {}, IDFP {}, IDFN {})\n\
         ID switches   {}\n\
         identities    {} found, {} in the ground truth\n\
         final total   {}\n\
         count error   {:.3} per frame (mean |tracks - truth|), bias {:+.3}\n",
        a.record.display(),
        a.gt.display(),
        m.frames,
        a.iou,
        m.mota,
        m.misses,
        m.false_positives,
        m.id_switches,
        m.num_gt,
        m.idf1,
        m.idtp,
        m.idfp,
        m.idfn,
        m.id_switches,
        m.hyp_identities,
        m.gt_identities,
        total,
        m.count_mae,
        m.count_bias,
    )
}
