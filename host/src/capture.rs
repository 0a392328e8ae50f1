//! Frame sources: a video file, a camera index, an `rtsp://`/`http(s)://` URL
//! (FFmpeg: `video`), or a still image (`still`), as BGR `Mat`s.

mod device;
mod still;
mod video;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use opencv::core::{Mat, Size};
use opencv::prelude::*;
use thiserror::Error;

use video::{Target, VideoReader};

#[derive(Debug, Error)]
pub enum CaptureError {
    #[error("input file {0} does not exist")]
    Missing(PathBuf),
    #[error("cannot open input {input}: {reason}")]
    Open { input: String, reason: String },
    #[error("cannot read from input {input}: {reason}")]
    Read { input: String, reason: String },
}

/// What `--input` names.
#[derive(Debug, Clone, PartialEq)]
pub enum SourceSpec {
    Camera(i32),
    Url(String),
    Image(PathBuf),
    Video(PathBuf),
}

const IMAGE_EXTENSIONS: &[&str] = &[
    "jpg", "jpeg", "png", "bmp", "webp", "tif", "tiff", "ppm", "pgm",
];
const URL_SCHEMES: &[&str] = &[
    "rtsp://", "rtsps://", "http://", "https://", "rtmp://", "udp://", "tcp://",
];

impl SourceSpec {
    pub fn parse(input: &str) -> SourceSpec {
        if let Ok(index) = input.parse::<i32>() {
            return SourceSpec::Camera(index);
        }
        let lower = input.to_ascii_lowercase();
        if URL_SCHEMES.iter().any(|s| lower.starts_with(s)) {
            return SourceSpec::Url(input.to_string());
        }
        let path = PathBuf::from(input);
        let is_image = path
            .extension()
            .and_then(|e| e.to_str())
            .map(|e| IMAGE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
            .unwrap_or(false);
        if is_image {
            SourceSpec::Image(path)
        } else {
            SourceSpec::Video(path)
        }
    }

    /// A live source drops frames when behind; a file never does.
    pub fn is_live(&self) -> bool {
        matches!(self, SourceSpec::Camera(_) | SourceSpec::Url(_))
    }
}

/// How long opening or reading a URL may block before it counts as failed.
pub const URL_TIMEOUT: Duration = Duration::from_secs(10);

/// How a live source that errors or ends is opened again: waits from
/// `initial` doubling up to `max`, for at most `give_up_after` without a
/// frame (`None`: forever; zero: never try again).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Retry {
    pub initial: Duration,
    pub max: Duration,
    pub give_up_after: Option<Duration>,
}

impl Default for Retry {
    fn default() -> Self {
        Retry {
            initial: Duration::from_millis(500),
            max: Duration::from_secs(10),
            give_up_after: None,
        }
    }
}

impl Retry {
    /// The wait before attempt `n` (0-based).
    pub fn delay(&self, n: u32) -> Duration {
        let factor = 1u32.checked_shl(n.min(31)).unwrap_or(u32::MAX);
        self.initial
            .checked_mul(factor)
            .unwrap_or(self.max)
            .min(self.max)
    }
    /// Whether a live source is opened again at all.
    pub fn enabled(&self) -> bool {
        self.give_up_after != Some(Duration::ZERO)
    }
}

/// One decoded frame.
pub struct Frame {
    pub index: u64,
    pub timestamp_ms: u64,
    /// BGR, 8 bits, 3 channels, continuous.
    pub mat: Mat,
}

enum Reader {
    Video(VideoReader),
    Image(Option<Mat>),
}

/// An open source.
pub struct Capture {
    name: String,
    spec: SourceSpec,
    reader: Reader,
    width: u32,
    height: u32,
    fps: f64,
    next_index: u64,
    started: Instant,
    first: Option<Mat>,
}

fn open_err(input: &str, reason: impl ToString) -> CaptureError {
    CaptureError::Open {
        input: input.to_string(),
        reason: reason.to_string(),
    }
}

impl Capture {
    pub fn open(input: &str) -> Result<Capture, CaptureError> {
        let spec = SourceSpec::parse(input);
        let check_file = |p: &Path| {
            if p.is_file() {
                Ok(())
            } else {
                Err(CaptureError::Missing(p.to_path_buf()))
            }
        };
        let video = |t: Target<'_>| {
            let r = VideoReader::open(t).map_err(|e| open_err(input, e))?;
            let fps = r.fps();
            Ok::<_, CaptureError>((Reader::Video(r), fps))
        };
        let (reader, fps) = match &spec {
            SourceSpec::Image(path) => {
                check_file(path)?;
                let img = still::read(path).map_err(|e| open_err(input, e))?;
                (Reader::Image(Some(img)), 1.0)
            }
            SourceSpec::Video(path) => {
                check_file(path)?;
                let name = path
                    .to_str()
                    .ok_or_else(|| open_err(input, "the path is not valid UTF-8"))?;
                // FFmpeg reads "a:b" as protocol "a": name the file protocol.
                video(Target::Url(&format!("file:{name}"), None))?
            }
            // Bounded waits, so a network that stalls counts as an outage.
            SourceSpec::Url(url) => video(Target::Url(url, Some(URL_TIMEOUT)))?,
            SourceSpec::Camera(index) => video(Target::Device(&device::path(*index)))?,
        };
        let fps = if fps.is_finite() && fps > 0.0 && fps < 1000.0 {
            fps
        } else {
            25.0
        };
        let mut cap = Capture {
            name: input.to_string(),
            spec,
            reader,
            width: 0,
            height: 0,
            fps,
            next_index: 0,
            started: Instant::now(),
            first: None,
        };
        // Read the first frame now: it fixes the output size and proves the
        // source really yields frames.
        let first = cap
            .read_mat(Mat::default())?
            .ok_or_else(|| open_err(input, "no frames could be read"))?;
        cap.width = first.cols() as u32;
        cap.height = first.rows() as u32;
        cap.first = Some(first);
        Ok(cap)
    }

    pub fn width(&self) -> u32 {
        self.width
    }
    pub fn height(&self) -> u32 {
        self.height
    }
    pub fn fps(&self) -> f64 {
        self.fps
    }
    pub fn spec(&self) -> &SourceSpec {
        &self.spec
    }
    /// The input as given.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Carry on where `previous` (the same source, before it failed) left
    /// off: its frame size (frames are resized to it), numbering and clock.
    pub fn resume_after(&mut self, previous: &Capture) {
        self.width = previous.width;
        self.height = previous.height;
        self.next_index = previous.next_index;
        self.started = previous.started;
    }

    /// Frames in the input when it is a file that says so (an image is one).
    pub fn frame_count(&self) -> Option<u64> {
        match (&self.reader, &self.spec) {
            (_, SourceSpec::Image(_)) => Some(1),
            (Reader::Video(cap), SourceSpec::Video(_)) => cap.frame_count(),
            _ => None,
        }
    }

    /// Go back to the first frame of a video file (for looping); `false`
    /// where the source cannot seek.
    pub fn rewind(&mut self) -> bool {
        match (&mut self.reader, &self.spec) {
            (Reader::Video(cap), SourceSpec::Video(_)) => {
                self.first = None;
                cap.seek_frame(0)
            }
            _ => false,
        }
    }

    /// Continue a video file at frame `n` (0-based, `--resume`): the frames
    /// before it are skipped by seeking and the numbering goes on from `n`.
    /// `false` where the source cannot seek (then it starts at its first frame).
    pub fn seek_to(&mut self, n: u64) -> bool {
        let (Reader::Video(cap), SourceSpec::Video(_)) = (&mut self.reader, &self.spec) else {
            return false;
        };
        if !cap.seek_frame(n) {
            // Still at the start: the first frame read at open stays first.
            return false;
        }
        self.first = None;
        self.next_index = n;
        true
    }

    /// Read into `mat`, reusing its buffer when the size matches.
    fn read_mat(&mut self, mat: Mat) -> Result<Option<Mat>, CaptureError> {
        match &mut self.reader {
            Reader::Image(img) => Ok(img.take()),
            Reader::Video(cap) => cap.read(mat).map_err(|reason| CaptureError::Read {
                input: self.name.clone(),
                reason,
            }),
        }
    }

    /// The next frame, or `None` at the end of the stream. Frames are
    /// converted to continuous BGR of the first frame's size.
    pub fn next_frame(&mut self) -> Result<Option<Frame>, CaptureError> {
        self.next_frame_into(Mat::default())
    }

    /// Like [`next_frame`](Self::next_frame), decoding into `buffer` (a frame
    /// handed back by the pipeline) instead of a new allocation.
    pub fn next_frame_into(&mut self, buffer: Mat) -> Result<Option<Frame>, CaptureError> {
        let mat = match self.first.take() {
            Some(m) => m,
            None => match self.read_mat(buffer)? {
                Some(m) => m,
                None => return Ok(None),
            },
        };
        let mat = self.normalise(mat)?;
        let index = self.next_index;
        self.next_index += 1;
        let timestamp_ms = if self.spec.is_live() {
            self.started.elapsed().as_millis() as u64
        } else {
            (index as f64 * 1000.0 / self.fps).round() as u64
        };
        Ok(Some(Frame {
            index,
            timestamp_ms,
            mat,
        }))
    }

    fn normalise(&self, mat: Mat) -> Result<Mat, CaptureError> {
        let err = |e: opencv::Error| CaptureError::Read {
            input: self.name.clone(),
            reason: e.to_string(),
        };
        let mut mat = match mat.channels() {
            3 => mat,
            1 => {
                let mut out = Mat::default();
                opencv::imgproc::cvt_color_def(&mat, &mut out, opencv::imgproc::COLOR_GRAY2BGR)
                    .map_err(err)?;
                out
            }
            4 => {
                let mut out = Mat::default();
                opencv::imgproc::cvt_color_def(&mat, &mut out, opencv::imgproc::COLOR_BGRA2BGR)
                    .map_err(err)?;
                out
            }
            n => {
                return Err(CaptureError::Read {
                    input: self.name.clone(),
                    reason: format!("frames with {n} channels are not supported"),
                })
            }
        };
        if self.width != 0 && (mat.cols() as u32 != self.width || mat.rows() as u32 != self.height)
        {
            let mut out = Mat::default();
            opencv::imgproc::resize(
                &mat,
                &mut out,
                Size::new(self.width as i32, self.height as i32),
                0.0,
                0.0,
                opencv::imgproc::INTER_LINEAR,
            )
            .map_err(err)?;
            mat = out;
        }
        if !mat.is_continuous() {
            mat = mat.try_clone().map_err(err)?;
        }
        Ok(mat)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_kinds_are_recognised() {
        assert_eq!(SourceSpec::parse("0"), SourceSpec::Camera(0));
        assert_eq!(
            SourceSpec::parse("rtsp://cam/stream"),
            SourceSpec::Url("rtsp://cam/stream".into())
        );
        assert_eq!(
            SourceSpec::parse("HTTP://x/y.mjpg"),
            SourceSpec::Url("HTTP://x/y.mjpg".into())
        );
        assert_eq!(
            SourceSpec::parse("a/b.JPG"),
            SourceSpec::Image("a/b.JPG".into())
        );
        assert_eq!(
            SourceSpec::parse("clip.avi"),
            SourceSpec::Video("clip.avi".into())
        );
        assert!(SourceSpec::parse("1").is_live());
        assert!(!SourceSpec::parse("clip.mp4").is_live());
    }

    #[test]
    fn retry_waits_double_up_to_the_cap() {
        let r = Retry::default();
        let waits: Vec<u64> = (0..8).map(|n| r.delay(n).as_millis() as u64).collect();
        assert_eq!(waits, [500, 1000, 2000, 4000, 8000, 10000, 10000, 10000]);
        assert_eq!(
            r.delay(u32::MAX),
            r.max,
            "no overflow however long the outage"
        );
        assert!(r.enabled());
        assert!(!Retry {
            give_up_after: Some(Duration::ZERO),
            ..r
        }
        .enabled());
    }

    #[test]
    fn a_missing_file_is_a_clear_error() {
        let err = Capture::open("/nonexistent/clip.avi")
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some("input file /nonexistent/clip.avi does not exist")
        );
    }
}
