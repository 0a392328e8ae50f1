//! Outputs of the frame loop: raw BGR24 frames on stdout and the JSONL record
//! of what the detector saw and what the stats stages made of it.

use std::fs::File;
use std::io::{BufWriter, ErrorKind, Write};
use std::path::{Path, PathBuf};

use thiserror::Error;

#[derive(Debug, Error)]
pub enum SinkError {
    #[error("writing frames to stdout failed: {0}")]
    Stdout(std::io::Error),
    #[error("record file {path}: {source}")]
    Record {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Outcome of writing one frame to stdout.
#[derive(Debug, PartialEq, Eq)]
pub enum Written {
    Ok,
    /// The reader went away (EPIPE): end the run cleanly.
    ReaderGone,
}

/// Exactly `width*height*3` bytes per frame, via `write_all`, nothing else.
pub struct StdoutSink {
    out: Box<dyn Write>,
    frame_len: usize,
    frames: u64,
}

impl StdoutSink {
    pub fn new(width: u32, height: u32) -> StdoutSink {
        StdoutSink::with_writer(width, height, Box::new(std::io::stdout().lock()))
    }

    /// The same sink writing elsewhere (the benchmark writes to /dev/null).
    pub fn with_writer(width: u32, height: u32, out: Box<dyn Write>) -> StdoutSink {
        StdoutSink {
            out,
            frame_len: width as usize * height as usize * 3,
            frames: 0,
        }
    }

    pub fn frames(&self) -> u64 {
        self.frames
    }

    pub fn write(&mut self, bgr: &[u8]) -> Result<Written, SinkError> {
        debug_assert_eq!(bgr.len(), self.frame_len);
        match self.out.write_all(bgr).and_then(|_| self.out.flush()) {
            Ok(()) => {
                self.frames += 1;
                Ok(Written::Ok)
            }
            Err(e) if e.kind() == ErrorKind::BrokenPipe => Ok(Written::ReaderGone),
            Err(e) => Err(SinkError::Stdout(e)),
        }
    }
}

/// The ffmpeg command that reads what `StdoutSink` writes.
pub fn ffmpeg_hint(width: u32, height: u32, fps: f64) -> String {
    format!(
        "ffmpeg -f rawvideo -pixel_format bgr24 -video_size {width}x{height} -framerate {fps} -i - -c:v libx264 -pix_fmt yuv420p out.mp4"
    )
}

/// One JSON object per frame.
#[derive(Debug, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct RecordLine {
    pub index: u64,
    pub timestamp_ms: u64,
    pub width: u32,
    pub height: u32,
    pub detections: Vec<RecordDetection>,
    /// Every stats stage's stats of this frame (`value` a JSON document, as
    /// the stage returned it); absent in records made before they were kept.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stats: Vec<RecordStat>,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct RecordStat {
    pub name: String,
    pub value: String,
}

#[derive(Debug, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct RecordDetection {
    pub class_id: u32,
    pub label: String,
    pub score: f32,
    #[serde(rename = "box")]
    pub bbox: crate::detect::BBox,
}

/// Writes `--record FILE.jsonl`.
pub struct Recorder {
    path: PathBuf,
    out: BufWriter<File>,
}

impl Recorder {
    pub fn create(path: &Path) -> Result<Recorder, SinkError> {
        let file = File::create(path).map_err(|source| SinkError::Record {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(Recorder {
            path: path.to_path_buf(),
            out: BufWriter::new(file),
        })
    }

    pub fn write(&mut self, line: &RecordLine) -> Result<(), SinkError> {
        let err = |source| SinkError::Record {
            path: self.path.clone(),
            source,
        };
        serde_json::to_writer(&mut self.out, line).map_err(|e| err(std::io::Error::other(e)))?;
        self.out.write_all(b"\n").map_err(err)
    }

    pub fn finish(mut self) -> Result<(), SinkError> {
        self.out.flush().map_err(|source| SinkError::Record {
            path: self.path.clone(),
            source,
        })
    }
}
