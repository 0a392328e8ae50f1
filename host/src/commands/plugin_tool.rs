//! `edgepipe plugin check` and `edgepipe plugin test`: what a plugin author
//! (and a plugin's CI) runs. Reports go to stdout as text (`check`) or JSON
//! lines (`test`); errors and differences to stderr.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use opencv::prelude::*;
use serde::{Deserialize, Serialize};

use crate::capture::Capture;
use crate::error::{ExitKind, Failure, OrExit};
use crate::plugin::bindings::{self as wit, FrameInfo, Qos};
use crate::plugin::{cache, ComponentCache, Limits, PluginHost, Stage, StageKind};
use crate::sink::RecordLine;

/// A line of `--input`: a record line from `edgepipe run --record`, and for
/// topics stages optionally the stats of a stats stage's test output.
#[derive(Debug, Deserialize)]
struct InputLine {
    #[serde(flatten)]
    record: RecordLine,
    #[serde(default)]
    stats: Option<Vec<StatJson>>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct StatJson {
    pub name: String,
    pub value: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MessageJson {
    pub topic: String,
    pub payload: String,
    pub qos: u8,
    pub retain: bool,
}

/// A record line's detections, as the contract passes them to stages.
pub fn record_detections(r: &RecordLine) -> Vec<wit::Detection> {
    r.detections
        .iter()
        .map(|d| wit::Detection {
            class_id: d.class_id,
            label: d.label.clone(),
            score: d.score,
            bbox: wit::Rect {
                x: d.bbox.x,
                y: d.bbox.y,
                width: d.bbox.width,
                height: d.bbox.height,
            },
        })
        .collect()
}

fn stat_json(s: &wit::Stat) -> StatJson {
    StatJson {
        name: s.name.clone(),
        value: s.value.clone(),
    }
}

fn stat_in(s: &StatJson) -> wit::Stat {
    wit::Stat {
        name: s.name.clone(),
        value: s.value.clone(),
    }
}

fn message_json(m: &wit::Message) -> MessageJson {
    let qos = match m.qos {
        Qos::AtMostOnce => 0,
        Qos::AtLeastOnce => 1,
        Qos::ExactlyOnce => 2,
    };
    MessageJson {
        topic: m.topic.clone(),
        payload: m.payload.clone(),
        qos,
        retain: m.retain,
    }
}

/// The host of `check` and `test`: compiled components are cached like a
/// run's (`EDGEPIPE_CACHE_DIR`, else the default folder), so testing an 18 MB
/// Python or JavaScript stage again does not compile it again.
fn tool_host() -> Result<PluginHost, Failure> {
    let dir = std::env::var_os("EDGEPIPE_CACHE_DIR")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(cache::default_dir);
    PluginHost::with_cache(Limits::default(), ComponentCache::new(dir)).or_exit(ExitKind::Plugin)
}

/// `edgepipe plugin check FILE`: prints what the component is; `Ok(true)` if
/// this host can load it.
pub fn check(file: &Path) -> Result<bool, Failure> {
    let host = tool_host()?;
    let name = file
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "plugin".into());
    let mut out = std::io::stdout().lock();
    let bytes = match PluginHost::read(&name, file) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("edgepipe: plugin check: {e}");
            return Ok(false);
        }
    };
    let _ = writeln!(
        out,
        "file: {} ({} bytes, sha256:{})",
        file.display(),
        bytes.len(),
        cache::content_hash(&bytes)
    );
    let info = match host.inspect(&name, file, &bytes) {
        Ok(i) => i,
        Err(e) => {
            let _ = writeln!(out, "loadable: no");
            eprintln!("edgepipe: plugin check: {e}");
            return Ok(false);
        }
    };
    let versions = if info.versions.is_empty() {
        "(none imported)".to_string()
    } else {
        info.versions.join(", ")
    };
    let _ = writeln!(
        out,
        "contract: {} {versions} (this host serves {})",
        wit::PACKAGE,
        wit::served_versions()
    );
    // A draw stage that exports `overlay` (0.4.0 on) returns shapes.
    let shapes = info.exports.iter().any(|e| e == "overlay");
    let world = |k: StageKind| match k {
        StageKind::Draw if shapes => "overlay (kind draw)",
        k => k.world(),
    };
    let worlds: Vec<&str> = info.worlds.iter().map(|&w| world(w)).collect();
    let _ = writeln!(
        out,
        "world: {}",
        if worlds.is_empty() {
            "(none)".to_string()
        } else {
            worlds.join(", ")
        }
    );
    let _ = writeln!(out, "imports: {}", info.imports.join(", "));
    let _ = writeln!(out, "exports: {}", info.exports.join(", "));
    let Some(&kind) = info.worlds.first() else {
        let _ = writeln!(out, "loadable: no");
        eprintln!("edgepipe: plugin check: {} implements none of the worlds stats, topics, draw (exports: {})", file.display(), info.exports.join(", "));
        return Ok(false);
    };
    match host.prepare(&name, file, kind, &bytes) {
        Ok((compiled, _)) => {
            let _ = writeln!(
                out,
                "loadable: yes (world {} of {}@{})",
                if compiled.is_overlay() {
                    "overlay"
                } else {
                    kind.world()
                },
                wit::PACKAGE,
                compiled.api.as_str()
            );
            Ok(true)
        }
        Err(e) => {
            let _ = writeln!(out, "loadable: no");
            eprintln!("edgepipe: plugin check: {e}");
            Ok(false)
        }
    }
}

/// Options of `edgepipe plugin test`.
#[derive(Debug, Clone)]
pub struct TestOptions {
    pub file: PathBuf,
    pub input: PathBuf,
    pub expect: Option<PathBuf>,
    pub video: Option<PathBuf>,
    pub settings: Vec<(String, String)>,
    /// For a topics stage whose input has no `stats`: a stats stage to make them.
    pub stats_plugin: Option<PathBuf>,
    pub output: Option<PathBuf>,
}

fn load_stage(
    host: &PluginHost,
    file: &Path,
    settings: Vec<(String, String)>,
) -> Result<Stage, Failure> {
    let name = file
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "plugin".into());
    let bytes = PluginHost::read(&name, file).or_exit(ExitKind::Plugin)?;
    let info = host
        .inspect(&name, file, &bytes)
        .or_exit(ExitKind::Plugin)?;
    let kind = *info.worlds.first().ok_or_else(|| {
        Failure::msg(
            ExitKind::Plugin,
            format!(
                "{} implements none of the worlds stats, topics, draw",
                file.display()
            ),
        )
    })?;
    host.load(&name, file, kind, settings)
        .or_exit(ExitKind::Plugin)
}

/// The outcome of a test run.
pub enum TestResult {
    Passed {
        lines: usize,
    },
    Differs {
        line: usize,
        frame: Option<u64>,
        expected: String,
        got: String,
    },
    Faulted {
        faults: u64,
    },
}

fn frame_of(line: &str) -> Option<u64> {
    serde_json::from_str::<serde_json::Value>(line)
        .ok()?
        .get("index")?
        .as_u64()
}

/// `edgepipe plugin test`: run the stage over recorded frames, print its
/// outputs as JSON lines, compare with `expect` when given.
pub fn test(o: &TestOptions) -> Result<TestResult, Failure> {
    let host = tool_host()?;
    let mut stage = load_stage(&host, &o.file, o.settings.clone())?;
    let mut feeder = match &o.stats_plugin {
        Some(p) => Some(load_stage(&host, p, Vec::new())?),
        None => None,
    };
    if feeder
        .as_ref()
        .is_some_and(|f| f.kind() != StageKind::Stats)
    {
        return Err(Failure::msg(
            ExitKind::Config,
            "--stats-plugin must be a stats stage",
        ));
    }
    let input = std::fs::File::open(&o.input).map_err(|e| {
        Failure::msg(
            ExitKind::Input,
            format!("cannot open {}: {e}", o.input.display()),
        )
    })?;
    let mut video = match (&o.video, stage.kind()) {
        (Some(v), StageKind::Draw) => {
            Some(Capture::open(&v.to_string_lossy()).or_exit(ExitKind::Input)?)
        }
        (Some(_), _) => {
            return Err(Failure::msg(
                ExitKind::Config,
                "--video is for draw stages only",
            ))
        }
        (None, _) => None,
    };

    let mut produced: Vec<String> = Vec::new();
    let mut final_stats: Vec<wit::Stat> = Vec::new();
    for (n, line) in std::io::BufReader::new(input).lines().enumerate() {
        let line =
            line.map_err(|e| Failure::msg(ExitKind::Input, format!("{}: {e}", o.input.display())))?;
        if line.trim().is_empty() {
            continue;
        }
        let rec: InputLine = serde_json::from_str(&line).map_err(|e| {
            Failure::msg(
                ExitKind::Input,
                format!(
                    "{} line {}: not a record line: {e}",
                    o.input.display(),
                    n + 1
                ),
            )
        })?;
        let r = &rec.record;
        let info = FrameInfo {
            index: r.index,
            timestamp_ms: r.timestamp_ms,
            width: r.width,
            height: r.height,
            camera: wit::DEFAULT_CAMERA.to_string(),
        };
        let dets = record_detections(r);
        let out = match stage.kind() {
            StageKind::Stats => {
                let stats: Vec<StatJson> =
                    stage.update(&info, &dets).iter().map(stat_json).collect();
                serde_json::json!({ "index": r.index, "stats": stats })
            }
            StageKind::Topics => {
                let stats: Vec<wit::Stat> = match (&rec.stats, feeder.as_mut()) {
                    (_, Some(f)) => f.update(&info, &dets),
                    (Some(s), None) => s.iter().map(stat_in).collect(),
                    (None, None) => {
                        return Err(Failure::msg(
                            ExitKind::Input,
                            format!("{} line {}: a topics stage needs `stats` in each line, or --stats-plugin", o.input.display(), n + 1),
                        ))
                    }
                };
                let msgs: Vec<MessageJson> = stage
                    .route(&info, &stats)
                    .iter()
                    .map(message_json)
                    .collect();
                serde_json::json!({ "index": r.index, "messages": msgs })
            }
            StageKind::Draw => {
                let pixels = match video.as_mut() {
                    Some(cap) => loop {
                        let f = cap.next_frame().or_exit(ExitKind::Input)?.ok_or_else(|| {
                            Failure::msg(
                                ExitKind::Input,
                                format!("--video ended before frame {}", r.index),
                            )
                        })?;
                        if f.index == r.index {
                            break f.mat.data_bytes().or_exit(ExitKind::Internal)?.to_vec();
                        }
                    },
                    // Without a video: a mid-grey frame of the recorded size.
                    None => vec![0x80u8; r.width as usize * r.height as usize * 3],
                };
                // With --stats-plugin its stats (e.g. tracks, counts) are
                // drawn too, else the line's own `stats` if it has them.
                let stats = match (&rec.stats, feeder.as_mut()) {
                    (_, Some(f)) => f.update(&info, &dets),
                    (Some(s), None) => s.iter().map(stat_in).collect(),
                    (None, None) => Vec::new(),
                };
                let drawn = stage.draw(&info, &pixels, &dets, &stats);
                let sum = drawn
                    .as_deref()
                    .map(cache::content_hash)
                    .unwrap_or_else(|| "undrawn".into());
                serde_json::json!({ "index": r.index, "sha256": sum })
            }
        };
        produced.push(out.to_string());
    }
    match stage.kind() {
        StageKind::Stats => {
            final_stats = stage.finish();
            let stats: Vec<StatJson> = final_stats.iter().map(stat_json).collect();
            produced.push(serde_json::json!({ "finish": stats }).to_string());
        }
        StageKind::Topics => {
            if let Some(f) = feeder.as_mut() {
                final_stats = f.finish();
            }
            let msgs: Vec<MessageJson> = stage
                .finish_topics(&final_stats)
                .iter()
                .map(message_json)
                .collect();
            produced.push(serde_json::json!({ "finish": msgs }).to_string());
        }
        StageKind::Draw => {}
    }

    let mut sink: Box<dyn Write> = match &o.output {
        Some(p) => Box::new(std::fs::File::create(p).map_err(|e| {
            Failure::msg(
                ExitKind::Output,
                format!("cannot create {}: {e}", p.display()),
            )
        })?),
        None => Box::new(std::io::stdout().lock()),
    };
    for l in &produced {
        sink.write_all(l.as_bytes())
            .and_then(|()| sink.write_all(b"\n"))
            .or_exit(ExitKind::Output)?;
    }
    sink.flush().or_exit(ExitKind::Output)?;

    if stage.faults() > 0 {
        return Ok(TestResult::Faulted {
            faults: stage.faults(),
        });
    }
    if let Some(golden) = &o.expect {
        let text = std::fs::read_to_string(golden).map_err(|e| {
            Failure::msg(
                ExitKind::Input,
                format!("cannot read {}: {e}", golden.display()),
            )
        })?;
        let expected: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        for i in 0..expected.len().max(produced.len()) {
            let e = expected.get(i).copied();
            let g = produced.get(i).map(String::as_str);
            let same = match (e, g) {
                (Some(e), Some(g)) => {
                    serde_json::from_str::<serde_json::Value>(e).ok()
                        == serde_json::from_str::<serde_json::Value>(g).ok()
                        && serde_json::from_str::<serde_json::Value>(e).is_ok()
                }
                _ => false,
            };
            if !same {
                return Ok(TestResult::Differs {
                    line: i + 1,
                    frame: e.and_then(frame_of).or_else(|| g.and_then(frame_of)),
                    expected: e.unwrap_or("(no more lines)").to_string(),
                    got: g.unwrap_or("(no more lines)").to_string(),
                });
            }
        }
    }
    Ok(TestResult::Passed {
        lines: produced.len(),
    })
}
