//! The capture thread: decodes frames into recycled buffers and queues them
//! for the inference workers under the source's full-policy.

use std::sync::mpsc::{Receiver, TryRecvError};
use std::sync::Arc;
use std::time::Instant;

use opencv::core::Mat;

use super::queue::{Pushed, Queue};
use super::ErrorSlot;
use crate::capture::{Capture, Frame};
use crate::error::{ExitKind, OrExit};

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
            let frame = match self.capture.next_frame_into(buffer).or_exit(ExitKind::Input) {
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
                Ok(None) => return CaptureEnd::EndOfInput,
                Err(f) => {
                    self.errors.set(f);
                    return CaptureEnd::Failed;
                }
            };
            let capture_ms = t.elapsed().as_secs_f64() * 1000.0;
            let mut frame = frame;
            if pass_start > 0 {
                // A later pass over a looped file continues the numbering.
                frame.index = produced;
                frame.timestamp_ms = (produced as f64 * 1000.0 / fps).round() as u64;
            }
            produced += 1;
            match self.queue.push(Captured { frame, capture_ms }) {
                Pushed::Queued => {}
                Pushed::Replaced(old) => spare = Some(old.frame.mat),
                Pushed::Closed(_) => return CaptureEnd::Stopped,
            }
        }
    }
}
