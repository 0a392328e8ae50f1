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
    /// Frames to the process's stdout: written straight to its file
    /// descriptor (std's `Stdout` is line-buffered: it would look for a
    /// newline in every 1.3 MB frame and split the write there), a pipe
    /// grown to hold a whole frame where the system allows it.
    pub fn new(width: u32, height: u32) -> StdoutSink {
        let frame_len = width as usize * height as usize * 3;
        let out: Box<dyn Write> = match stdout_file() {
            Some(f) => {
                grow_pipe(&f, frame_len);
                Box::new(f)
            }
            None => Box::new(std::io::stdout().lock()),
        };
        StdoutSink::with_writer(width, height, out)
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

/// A second descriptor of stdout as a `File` (unbuffered); `None` when it
/// cannot be duplicated (stdout closed).
fn stdout_file() -> Option<File> {
    use std::os::fd::AsFd;
    let fd = std::io::stdout().as_fd().try_clone_to_owned().ok()?;
    Some(File::from(fd))
}

/// Grows a pipe to hold `frame_len` bytes (the kernel rounds up to a power
/// of two pages), else to the most an unprivileged process may ask
/// (`/proc/sys/fs/pipe-max-size`): a frame then crosses in one or two
/// writes instead of one per 64 KiB of the default pipe, each waking the
/// reader (issue 22: with a 64 KiB pipe the writer and reader switched ~40
/// times a frame beside the inference threads). Not a pipe, or a pipe the
/// system will not grow: left as it is. Returns the pipe's size, if any.
pub fn grow_pipe(f: &File, frame_len: usize) -> Option<usize> {
    use std::os::fd::AsRawFd;
    let fd = f.as_raw_fd();
    // SAFETY: fcntl on a descriptor `f` owns; F_GETPIPE_SZ only reads, and
    // fails (EBADF, EINVAL) on anything that is not a pipe.
    let current = usize::try_from(unsafe { libc::fcntl(fd, libc::F_GETPIPE_SZ) })
        .ok()
        .filter(|n| *n > 0)?;
    if current >= frame_len {
        // Never shrunk: a small frame keeps the pipe it was given.
        return Some(current);
    }
    let max = std::fs::read_to_string("/proc/sys/fs/pipe-max-size")
        .ok()
        .and_then(|s| s.trim().parse::<usize>().ok());
    let wanted = [
        Some(frame_len),
        max.filter(|m| *m < frame_len && *m > current),
    ];
    for size in wanted.into_iter().flatten() {
        let Ok(arg) = libc::c_int::try_from(size) else {
            continue;
        };
        // SAFETY: as above; F_SETPIPE_SZ takes an int and fails (EPERM,
        // EBUSY) without side effects.
        let got = unsafe { libc::fcntl(fd, libc::F_SETPIPE_SZ, arg) };
        if got > 0 {
            tracing::debug!(bytes = got, "stdout pipe grown");
            return usize::try_from(got).ok();
        }
    }
    Some(current)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pipe_is_grown_to_hold_a_frame_where_allowed_and_a_file_is_left_alone() {
        let frame = 768 * 576 * 3;
        let (reader, writer) = std::io::pipe().expect("a pipe");
        let writer = File::from(std::os::fd::OwnedFd::from(writer));
        let size = grow_pipe(&writer, frame).expect("a pipe has a size");
        let max: usize = std::fs::read_to_string("/proc/sys/fs/pipe-max-size")
            .expect("pipe-max-size")
            .trim()
            .parse()
            .expect("a number");
        // Root may go past pipe-max-size; anyone else gets at most it.
        assert!(
            size >= frame || size == max,
            "pipe of {size} bytes for a {frame}-byte frame (max {max})"
        );
        assert!(size > 65536, "still the default 64 KiB pipe");
        // A whole frame goes in while nobody reads when it fits.
        if size >= frame {
            let mut w = &writer;
            w.write_all(&vec![7u8; frame]).expect("one frame fits");
        }
        drop(reader);
        // A frame smaller than the pipe leaves it as it is (not shrunk).
        let (_r, small) = std::io::pipe().expect("a pipe");
        let small = File::from(std::os::fd::OwnedFd::from(small));
        let before = grow_pipe(&small, 0).expect("a pipe has a size");
        assert_eq!(grow_pipe(&small, 64 * 48 * 3), Some(before));
        assert!(before >= 65536, "the default pipe is {before} bytes");
        let path = std::env::temp_dir().join(format!("edgepipe-sink-{}", std::process::id()));
        let file = File::create(&path).expect("a file");
        assert_eq!(grow_pipe(&file, frame), None);
        let _ = std::fs::remove_file(&path);
    }
}
