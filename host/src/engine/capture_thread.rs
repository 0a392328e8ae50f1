//! The capture thread: decodes frames into recycled buffers and queues them
//! for the inference workers under the source's full-policy; opens a live
//! source again when it fails, and ends when a stop is requested.

use std::sync::mpsc::{Receiver, TryRecvError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use opencv::core::Mat;

use super::queue::{Pushed, Queue};
use super::source_health::SourceHealth;
use super::ErrorSlot;
use crate::capture::{Capture, Frame, Retry};
use crate::error::{ExitKind, Failure, OrExit};
use crate::stop::StopToken;

/// How often a wait between reconnect attempts looks at the stop token.
const STOP_POLL: Duration = Duration::from_millis(50);

/// A decoded frame on its way to inference.
pub struct Captured {
    pub frame: Frame,
    /// Wall time of decoding (and converting) this frame.
    pub capture_ms: f64,
}

/// Why the capture thread stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaptureEnd {
    EndOfInput,
    MaxFrames,
    /// The rest of the pipeline stopped first (reader gone, or an error).
    Stopped,
    /// A graceful stop was requested (a signal).
    StopRequested,
    Failed,
}

pub struct CaptureJob {
    pub capture: Capture,
    /// Read the input again from the start at its end (benchmarks).
    pub loop_input: bool,
    pub max_frames: Option<u64>,
    pub queue: Arc<Queue<Captured>>,
    /// Frame buffers handed back by the stages thread, to decode into.
    pub pool: Receiver<Mat>,
    /// Buffers that may exist at once for a file: when all are in flight
    /// the reader waits for one to come back.
    pub max_buffers: usize,
    pub errors: Arc<ErrorSlot>,
    pub stop: StopToken,
    /// Live sources: how they are opened again, and what happened.
    pub retry: Retry,
    pub health: Arc<SourceHealth>,
}

/// Closes the capture queue however the thread ends, so the workers never
/// wait for a reader that is gone.
struct CloseOnDrop(Arc<Queue<Captured>>);

impl Drop for CloseOnDrop {
    fn drop(&mut self) {
        self.0.close();
    }
}

impl CaptureJob {
    pub fn run(mut self) -> CaptureEnd {
        let _close = CloseOnDrop(self.queue.clone());
        self.frames()
    }

    fn frames(&mut self) -> CaptureEnd {
        let live = self.capture.spec().is_live();
        let input = self.capture.name().to_string();
        let fps = self.capture.fps();
        let mut buffers = 0usize;
        let mut spare: Option<Mat> = None;
        let mut produced = 0u64;
        let mut pass_start = 0u64;
        loop {
            if self.max_frames.is_some_and(|m| produced >= m) {
                return CaptureEnd::MaxFrames;
            }
            if self.stop.is_requested() {
                return CaptureEnd::StopRequested;
            }
            let buffer = match spare.take().map(Ok).unwrap_or_else(|| self.pool.try_recv()) {
                Ok(m) => m,
                Err(TryRecvError::Disconnected) => return CaptureEnd::Stopped,
                Err(TryRecvError::Empty) if live || buffers < self.max_buffers => {
                    buffers += 1;
                    Mat::default()
                }
                Err(TryRecvError::Empty) => match self.pool.recv() {
                    Ok(m) => m,
                    Err(_) => return CaptureEnd::Stopped,
                },
            };
            let t = Instant::now();
            let frame = match self
                .capture
                .next_frame_into(buffer)
                .or_exit(ExitKind::Input)
            {
                Ok(Some(f)) => f,
                Ok(None) if self.loop_input && produced > pass_start => {
                    // The buffer went with the end of the stream.
                    buffers = buffers.saturating_sub(1);
                    // Seeking keeps the decoder (re-opening leaves ~2 MB behind each time).
                    if !self.capture.rewind() {
                        match Capture::open(&input).or_exit(ExitKind::Input) {
                            Ok(c) => self.capture = c,
                            Err(f) => {
                                self.errors.set(f);
                                return CaptureEnd::Failed;
                            }
                        }
                    }
                    pass_start = produced;
                    continue;
                }
                Ok(None) if live && self.retry.enabled() => {
                    buffers = buffers.saturating_sub(1);
                    match self.reopen("the stream ended".into()) {
                        Some(end) => return end,
                        None => continue,
                    }
                }
                Ok(None) => return CaptureEnd::EndOfInput,
                Err(f) if live && self.retry.enabled() => {
                    buffers = buffers.saturating_sub(1);
                    match self.reopen(f.to_string()) {
                        Some(end) => return end,
                        None => continue,
                    }
                }
                Err(f) => {
                    self.errors.set(f);
                    return CaptureEnd::Failed;
                }
            };
            crate::fault::check(crate::fault::Thread::Capture, produced);
            let capture_ms = t.elapsed().as_secs_f64() * 1000.0;
            let mut frame = frame;
            if pass_start > 0 {
                // A later pass over a looped file continues the numbering.
                frame.index = produced;
                frame.timestamp_ms = (produced as f64 * 1000.0 / fps).round() as u64;
            }
            crate::timeline::frame("decoded", frame.index);
            produced += 1;
            match self.queue.push(Captured { frame, capture_ms }) {
                Pushed::Queued => {}
                Pushed::Replaced(old) => spare = Some(old.frame.mat),
                Pushed::Closed(_) => return CaptureEnd::Stopped,
            }
        }
    }

    /// A live source failed: open it again with back-off until it yields a
    /// frame (`None`: go on), a stop is requested, or the retry time is up.
    fn reopen(&mut self, reason: String) -> Option<CaptureEnd> {
        let input = self.capture.name().to_string();
        let outage = Instant::now();
        tracing::warn!(input = %input, "input lost ({reason}); opening it again with back-off ({:?} doubling to {:?})",
            self.retry.initial, self.retry.max);
        self.health.lost(reason);
        let mut attempt = 0u32;
        loop {
            let wait = self.retry.delay(attempt);
            attempt = attempt.saturating_add(1);
            if let Some(limit) = self.retry.give_up_after {
                if outage.elapsed() + wait > limit {
                    self.health.gave_up(outage.elapsed());
                    let msg = format!(
                        "input {input} gave no frames for {:.1} s (--source-retry-secs {})",
                        outage.elapsed().as_secs_f64(),
                        limit.as_secs()
                    );
                    self.errors.set(Failure::msg(ExitKind::Input, msg));
                    return Some(CaptureEnd::Failed);
                }
            }
            if self.sleep_unless_stopped(wait) {
                return Some(CaptureEnd::StopRequested);
            }
            match Capture::open(&input) {
                Ok(mut c) => {
                    c.resume_after(&self.capture);
                    self.capture = c;
                    tracing::info!(input = %input, attempts = attempt, "input back after {:.1} s", outage.elapsed().as_secs_f64());
                    self.health.back(attempt);
                    return None;
                }
                Err(e) => tracing::debug!(input = %input, attempt, "input still away: {e}"),
            }
        }
    }

    /// Sleep `d`, or less when a stop is requested (then `true`).
    fn sleep_unless_stopped(&self, d: Duration) -> bool {
        let until = Instant::now() + d;
        loop {
            if self.stop.is_requested() {
                return true;
            }
            let now = Instant::now();
            if now >= until {
                return false;
            }
            std::thread::sleep((until - now).min(STOP_POLL));
        }
    }
}
