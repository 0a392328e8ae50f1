//! Video files, URLs and camera devices decoded with FFmpeg's libraries
//! (libavformat, libavcodec) and converted to BGR24 with libswscale, straight
//! into the `Mat` the pipeline hands back.

use std::ffi::{c_int, c_void, CString};
use std::ptr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Once};
use std::time::{Duration, Instant};

use ff::ffi;
use ff::format::Pixel;
use ffmpeg_next as ff;
use opencv::core::{Mat, CV_8UC3};
use opencv::prelude::*;

/// What to open.
pub enum Target<'a> {
    /// A file path or a URL, with the time an open or a read may block
    /// (`None`: no limit).
    Url(&'a str, Option<Duration>),
    /// A V4L2 device (`/dev/videoN`).
    Device(&'a str),
}

/// A bounded wait for a blocking FFmpeg call: its interrupt callback says
/// "give up" once the deadline set before the call has passed.
struct Deadline {
    base: Instant,
    /// Milliseconds after `base`; `u64::MAX`: none.
    until_ms: AtomicU64,
}

impl Deadline {
    fn arm(&self, wait: Option<Duration>) {
        let until = wait.map_or(u64::MAX, |w| {
            (self.base.elapsed() + w)
                .as_millis()
                .min(u64::MAX as u128 - 1) as u64
        });
        self.until_ms.store(until, Ordering::Relaxed);
    }
    fn passed(&self) -> bool {
        self.base.elapsed().as_millis() as u64 > self.until_ms.load(Ordering::Relaxed)
    }
}

extern "C" fn interrupt(opaque: *mut c_void) -> c_int {
    // SAFETY: `opaque` is the `Deadline` the reader keeps alive (`deadline`)
    // for as long as the format context that calls this exists.
    let deadline = unsafe { &*(opaque as *const Deadline) };
    c_int::from(deadline.passed())
}

/// libswscale's context, owned by one reader (and so by one thread at a time).
struct Scaler {
    ctx: ff::software::scaling::Context,
    key: (Pixel, u32, u32),
}

// SAFETY: a SwsContext has no thread affinity; the reader that owns it uses it
// from one thread at a time (`&mut self`).
unsafe impl Send for Scaler {}

/// An open video stream.
pub struct VideoReader {
    // Dropped in this order: the decoder and the format context before the
    // deadline their interrupt callback reads.
    decoder: ff::decoder::Video,
    input: ff::format::context::Input,
    stream: usize,
    time_base: f64,
    start_pts: i64,
    fps: f64,
    frames: Option<u64>,
    timeout: Option<Duration>,
    decoded: ff::frame::Video,
    /// A frame decoded while seeking, returned by the next read.
    pending: bool,
    flushed: bool,
    scaler: Option<Scaler>,
    deadline: Arc<Deadline>,
}

/// FFmpeg's own log lines stay off stderr (OpenCV's FFmpeg backend did the
/// same); failures come back as errors with FFmpeg's message.
fn init() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        // ffmpeg-next's messages for FFmpeg's own error codes ("Protocol not
        // found", ...) are filled in here; before, they were empty.
        ff::util::error::register_all();
        ff::util::log::set_level(ff::util::log::Level::Quiet);
        ff::format::network::init();
    });
}

fn rational(r: ff::Rational) -> f64 {
    if r.denominator() == 0 {
        0.0
    } else {
        f64::from(r.numerator()) / f64::from(r.denominator())
    }
}

impl VideoReader {
    pub fn open(target: Target<'_>) -> Result<VideoReader, String> {
        init();
        let (url, timeout, format) = match target {
            Target::Url(u, t) => (u, t, ptr::null()),
            Target::Device(d) => (d, None, super::device::v4l2()?),
        };
        let deadline = Arc::new(Deadline {
            base: Instant::now(),
            until_ms: AtomicU64::new(u64::MAX),
        });
        deadline.arm(timeout);
        let input = open_input(url, format, &deadline)?;
        let stream = input
            .streams()
            .best(ff::media::Type::Video)
            .ok_or("it has no video stream")?;
        let index = stream.index();
        let time_base = rational(stream.time_base());
        let start_pts = match stream.start_time() {
            ffi::AV_NOPTS_VALUE => 0,
            t => t,
        };
        let fps = [stream.avg_frame_rate(), stream.rate()]
            .into_iter()
            .map(rational)
            .find(|f| f.is_finite() && *f > 0.0)
            .unwrap_or(0.0);
        let frames = frame_count(&input, &stream, fps);
        let codec = stream.parameters().id().name();
        let mut ctx = ff::codec::context::Context::from_parameters(stream.parameters())
            .map_err(|e| format!("FFmpeg: {e}"))?;
        // SAFETY: plain fields of the context just made from the parameters.
        let (width, height) = unsafe { ((*ctx.as_ptr()).width, (*ctx.as_ptr()).height) };
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        ctx.set_threading(ff::codec::threading::Config {
            kind: ff::codec::threading::Type::Frame,
            count: decoder_threads(width, height, cores),
            ..Default::default()
        });
        let decoder = ctx
            .decoder()
            .video()
            .map_err(|e| format!("FFmpeg cannot decode its video ({codec}): {e}"))?;
        deadline.arm(None);
        Ok(VideoReader {
            decoder,
            input,
            stream: index,
            time_base,
            start_pts,
            fps,
            frames,
            timeout,
            decoded: ff::frame::Video::empty(),
            pending: false,
            flushed: false,
            scaler: None,
            deadline,
        })
    }

    /// Frames per second the stream says it has (0: unknown).
    pub fn fps(&self) -> f64 {
        self.fps
    }

    /// Frames in the stream where the container says (or its duration tells).
    pub fn frame_count(&self) -> Option<u64> {
        self.frames
    }

    /// Decode the next frame into `mat` as BGR24 (its buffer is reused when
    /// the size matches); `None` at the end of the stream.
    pub fn read(&mut self, mut mat: Mat) -> Result<Option<Mat>, String> {
        if !std::mem::take(&mut self.pending) && !self.decode_next()? {
            return Ok(None);
        }
        self.convert(&mut mat)?;
        Ok(Some(mat))
    }

    /// Decode one frame into `self.decoded`; `false` at the end.
    fn decode_next(&mut self) -> Result<bool, String> {
        let mut packet = ff::Packet::empty();
        loop {
            match self.decoder.receive_frame(&mut self.decoded) {
                Ok(()) => return Ok(true),
                Err(ff::Error::Eof) => return Ok(false),
                Err(ff::Error::Other { errno }) if errno == ff::util::error::EAGAIN => {}
                Err(e) => return Err(format!("FFmpeg: {e}")),
            }
            if self.flushed {
                return Ok(false);
            }
            self.deadline.arm(self.timeout);
            let read = packet.read(&mut self.input);
            self.deadline.arm(None);
            match read {
                Ok(()) if packet.stream() != self.stream => continue,
                // A damaged packet is skipped, as FFmpeg's own tools do.
                Ok(()) => {
                    let _ = self.decoder.send_packet(&packet);
                }
                Err(ff::Error::Eof) => {
                    self.flushed = true;
                    let _ = self.decoder.send_eof();
                }
                Err(ff::Error::Exit) => {
                    return Err(format!(
                        "no data for {} s",
                        self.timeout.unwrap_or_default().as_secs()
                    ))
                }
                Err(e) => return Err(format!("FFmpeg: {e}")),
            }
        }
    }

    /// `self.decoded` into `mat` as continuous BGR24 of the frame's size.
    fn convert(&mut self, mat: &mut Mat) -> Result<(), String> {
        let (w, h, fmt) = (
            self.decoded.width(),
            self.decoded.height(),
            self.decoded.format(),
        );
        if self.scaler.as_ref().is_none_or(|s| s.key != (fmt, w, h)) {
            let ctx = ff::software::scaling::Context::get(
                fmt,
                w,
                h,
                Pixel::BGR24,
                w,
                h,
                ff::software::scaling::Flags::BICUBIC,
            )
            .map_err(|e| format!("FFmpeg cannot convert {fmt:?} frames to BGR: {e}"))?;
            self.scaler = Some(Scaler {
                ctx,
                key: (fmt, w, h),
            });
        }
        if mat.cols() != w as i32 || mat.rows() != h as i32 || mat.typ() != CV_8UC3 {
            // SAFETY: every byte is written by sws_scale below.
            *mat = unsafe { Mat::new_rows_cols(h as i32, w as i32, CV_8UC3) }
                .map_err(|e| e.to_string())?;
        }
        let Some(scaler) = self.scaler.as_mut() else {
            return Err("no scaler".into());
        };
        let dst = [
            mat.data_mut(),
            ptr::null_mut(),
            ptr::null_mut(),
            ptr::null_mut(),
        ];
        let dst_stride: [c_int; 4] = [w as c_int * 3, 0, 0, 0];
        // SAFETY: the scaler was made for this frame's format and size; `mat`
        // is a continuous h x w x 3 buffer, exactly what BGR24 of w x h needs.
        let rows = unsafe {
            let src = self.decoded.as_ptr();
            ffi::sws_scale(
                scaler.ctx.as_mut_ptr(),
                (*src).data.as_ptr() as *const *const u8,
                (*src).linesize.as_ptr(),
                0,
                h as c_int,
                dst.as_ptr(),
                dst_stride.as_ptr(),
            )
        };
        if rows != h as c_int {
            return Err(format!("FFmpeg converted {rows} of {h} rows"));
        }
        Ok(())
    }

    /// Continue at frame `n` (0-based): seek to the key frame before it and
    /// decode up to it. `false` where the stream cannot seek.
    pub fn seek_frame(&mut self, n: u64) -> bool {
        if self.fps <= 0.0 || self.time_base <= 0.0 {
            return false;
        }
        let target = self.start_pts + ((n as f64 / self.fps) / self.time_base).round() as i64;
        // SAFETY: a plain call on the open format context.
        let r = unsafe {
            ffi::av_seek_frame(
                self.input.as_mut_ptr(),
                self.stream as c_int,
                target,
                ffi::AVSEEK_FLAG_BACKWARD,
            )
        };
        if r < 0 {
            return false;
        }
        self.decoder.flush();
        self.flushed = false;
        self.pending = false;
        loop {
            match self.decode_next() {
                Ok(true) => {}
                _ => return false,
            }
            let index = self
                .decoded
                .timestamp()
                .map(|t| ((t - self.start_pts) as f64 * self.time_base * self.fps).round() as i64);
            match index {
                Some(i) if i < n as i64 => continue,
                Some(_) => {
                    self.pending = true;
                    return true;
                }
                None => return false,
            }
        }
    }
}

/// Frames up to this many pixels decode on the reader's own thread.
const ONE_THREAD_PIXELS: i64 = 1920 * 1088;

/// Decoder threads for a stream of `width` x `height`: one (the reader's)
/// up to 1080p, where a frame decodes in a few ms, since frame threads cost
/// CPU the inference threads want (issue 22: H.264 768x576 +5 % CPU a frame
/// with 2 threads, 1080p as much), delay frames and keep more of them
/// resident; larger frames (4K) get a thread per core, at most 16, so that
/// a live stream's decoding keeps up. Unknown sizes count as large.
fn decoder_threads(width: i32, height: i32, cores: usize) -> usize {
    let pixels = i64::from(width) * i64::from(height);
    if pixels > 0 && pixels <= ONE_THREAD_PIXELS {
        1
    } else {
        cores.clamp(1, 16)
    }
}

/// `avformat_open_input` + `avformat_find_stream_info` with the interrupt
/// callback installed first, so both are bounded by `deadline`.
fn open_input(
    url: &str,
    format: *const ffi::AVInputFormat,
    deadline: &Arc<Deadline>,
) -> Result<ff::format::context::Input, String> {
    let c_url = CString::new(url).map_err(|_| "the name contains a NUL byte".to_string())?;
    // SAFETY: the context is allocated here, handed to avformat_open_input
    // (which frees it on failure) and wrapped (closed on drop) on success;
    // the callback's opaque pointer outlives it (the reader keeps the Arc).
    unsafe {
        let mut ps = ffi::avformat_alloc_context();
        if ps.is_null() {
            return Err("FFmpeg: out of memory".into());
        }
        (*ps).interrupt_callback = ffi::AVIOInterruptCB {
            callback: Some(interrupt),
            opaque: Arc::as_ptr(deadline) as *mut c_void,
        };
        let mut opts = options(url).disown();
        let r = ffi::avformat_open_input(&mut ps, c_url.as_ptr(), format, &mut opts);
        drop(ff::Dictionary::own(opts));
        if r != 0 {
            return Err(ff_error(r, deadline));
        }
        let r = ffi::avformat_find_stream_info(ps, ptr::null_mut());
        if r < 0 {
            ffi::avformat_close_input(&mut ps);
            return Err(ff_error(r, deadline));
        }
        Ok(ff::format::context::Input::wrap(ps))
    }
}

/// RTSP over TCP (as OpenCV's FFmpeg backend opened it): no lost UDP
/// packets, and it passes firewalls and NAT.
fn options(url: &str) -> ff::Dictionary<'static> {
    let mut d = ff::Dictionary::new();
    if url.get(..4).is_some_and(|s| s.eq_ignore_ascii_case("rtsp")) {
        d.set("rtsp_transport", "tcp");
    }
    d
}

/// What the built-in FFmpeg reads (scripts/setup-ffmpeg.sh).
const PROTOCOLS: &str = "file, pipe, http, https, rtsp, rtp, udp, tcp";

fn ff_error(code: c_int, deadline: &Deadline) -> String {
    if deadline.passed() {
        "it did not answer in time".into()
    } else if ff::Error::from(code) == ff::Error::ProtocolNotFound {
        format!("this FFmpeg reads no such URL (it reads {PROTOCOLS})")
    } else {
        format!("FFmpeg: {}", ff::Error::from(code))
    }
}

/// The stream's frame count, or its duration times its rate (as OpenCV did).
fn frame_count(
    input: &ff::format::context::Input,
    stream: &ff::Stream<'_>,
    fps: f64,
) -> Option<u64> {
    let n = stream.frames();
    if n > 0 {
        return Some(n as u64);
    }
    let mut secs = input.duration() as f64 / f64::from(ffi::AV_TIME_BASE);
    if secs <= 0.0 {
        secs = stream.duration() as f64 * rational(stream.time_base());
    }
    let n = (secs * fps + 0.5).floor();
    (n.is_finite() && n >= 1.0).then_some(n as u64)
}

#[cfg(test)]
mod tests {
    use super::decoder_threads;

    #[test]
    fn streams_up_to_1080p_decode_on_one_thread() {
        assert_eq!(decoder_threads(768, 576, 2), 1);
        assert_eq!(decoder_threads(1920, 1080, 8), 1);
        assert_eq!(decoder_threads(1920, 1088, 8), 1);
        assert_eq!(decoder_threads(3840, 2160, 2), 2, "4K: a thread per core");
        assert_eq!(decoder_threads(3840, 2160, 64), 16);
        assert_eq!(decoder_threads(3840, 2160, 0), 1);
        assert_eq!(decoder_threads(0, 0, 4), 4, "size unknown until decoded");
    }
}
