//! Frames for viewers: the engine puts the newest drawn frame in a one-frame
//! slot (never waits); one encoder thread turns it into JPEG once per frame
//! for each (source, height, quality) someone is watching, and only then.
//! Viewers wait for the next JPEG and always get the newest one.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use opencv::core::{Mat, Size};
use opencv::prelude::*;

/// A tenant's draw stages run this long after its frame was last asked for
/// outside a stream.
pub const TENANT_ASKED_FOR: Duration = Duration::from_secs(5);

/// Default JPEG quality (Frigate's MJPEG uses 70 too).
pub const DEFAULT_QUALITY: u8 = 70;
/// How long the encoder waits for a frame before looking again.
const IDLE: Duration = Duration::from_millis(500);

/// The newest frame each tenant's draw stages produced, by tenant id
/// (written by the tenants' chains, read here).
pub type TenantFrames = Arc<Mutex<BTreeMap<String, Arc<Vec<u8>>>>>;

/// Whose frames a viewer watches.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Source {
    Operator,
    Tenant(String),
}

/// One encoding someone watches: 0 height means the frame's own.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct VariantKey {
    pub source: Source,
    pub height: u32,
    pub quality: u8,
}

/// One encoded frame.
pub struct Jpeg {
    /// Counts the encodings of its variant (1, 2, ...).
    pub seq: u64,
    pub bytes: Vec<u8>,
}

struct Variant {
    key: VariantKey,
    viewers: usize,
    last_src: Option<Arc<Vec<u8>>>,
    jpeg: Option<Arc<Jpeg>>,
}

struct Slot {
    seq: u64,
    frame: Option<Arc<Vec<u8>>>,
}

pub struct Frames {
    pub width: u32,
    pub height: u32,
    slot: Mutex<Slot>,
    frame_cv: Condvar,
    tenants: Option<TenantFrames>,
    variants: Mutex<BTreeMap<VariantKey, Variant>>,
    jpeg_cv: Condvar,
    operator_viewers: AtomicUsize,
    snapshot_wanted: AtomicBool,
    /// When each tenant's frame was last asked for outside a stream (snapshots).
    tenant_asked: Mutex<BTreeMap<String, Instant>>,
    closed: AtomicBool,
    /// Encodings done and their total time (microseconds), for the status.
    pub encoded: AtomicU64,
    pub encode_us: AtomicU64,
}

#[derive(Debug, thiserror::Error)]
pub enum EncodeError {
    #[error("frame of {got} bytes, expected {want} ({w}x{h} BGR24)")]
    Size {
        got: usize,
        want: usize,
        w: u32,
        h: u32,
    },
    #[error("scaling the frame: {0}")]
    OpenCv(#[from] opencv::Error),
    #[error("JPEG encoding: {0}")]
    Jpeg(#[from] turbojpeg::Error),
}

/// Encode a BGR24 frame as JPEG, scaled down to `out_h` rows when smaller (0: as is).
pub fn encode(bgr: &[u8], w: u32, h: u32, out_h: u32, quality: u8) -> Result<Vec<u8>, EncodeError> {
    let want = w as usize * h as usize * 3;
    if bgr.len() != want {
        return Err(EncodeError::Size {
            got: bgr.len(),
            want,
            w,
            h,
        });
    }
    if out_h > 0 && out_h < h {
        let flat = Mat::new_rows_cols_with_data::<u8>(h as i32, (w * 3) as i32, bgr)?;
        let img = flat.reshape(3, h as i32)?;
        let out_w = ((w as u64 * out_h as u64) / h as u64).max(1) as i32;
        let mut small = Mat::default();
        opencv::imgproc::resize(
            &img,
            &mut small,
            Size::new(out_w, out_h as i32),
            0.0,
            0.0,
            opencv::imgproc::INTER_AREA,
        )?;
        jpeg(small.data_bytes()?, out_w as u32, out_h, quality)
    } else {
        jpeg(bgr, w, h, quality)
    }
}

/// BGR24 to JPEG: baseline, 4:2:0 (libjpeg's default, as OpenCV's imencode).
fn jpeg(bgr: &[u8], w: u32, h: u32, quality: u8) -> Result<Vec<u8>, EncodeError> {
    let image = turbojpeg::Image {
        pixels: bgr,
        width: w as usize,
        pitch: w as usize * 3,
        height: h as usize,
        format: turbojpeg::PixelFormat::BGR,
    };
    let mut c = turbojpeg::Compressor::new()?;
    c.set_quality(i32::from(quality.clamp(1, 100)));
    c.set_subsamp(turbojpeg::Subsamp::Sub2x2);
    Ok(c.compress_to_vec(image)?)
}

/// A viewer's registration; dropping it stops the encoding it needed
/// (when nobody else watches it).
pub struct Watch<'a> {
    frames: &'a Frames,
    pub key: VariantKey,
}

impl Drop for Watch<'_> {
    fn drop(&mut self) {
        let mut v = self
            .frames
            .variants
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(var) = v.get_mut(&self.key) {
            var.viewers -= 1;
            if var.viewers == 0 {
                v.remove(&self.key);
            }
        }
        if self.key.source == Source::Operator {
            self.frames.operator_viewers.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

impl Frames {
    pub fn new(width: u32, height: u32, tenants: Option<TenantFrames>) -> Frames {
        Frames {
            width,
            height,
            slot: Mutex::new(Slot {
                seq: 0,
                frame: None,
            }),
            frame_cv: Condvar::new(),
            tenants,
            variants: Mutex::new(BTreeMap::new()),
            jpeg_cv: Condvar::new(),
            operator_viewers: AtomicUsize::new(0),
            snapshot_wanted: AtomicBool::new(false),
            tenant_asked: Mutex::new(BTreeMap::new()),
            closed: AtomicBool::new(false),
            encoded: AtomicU64::new(0),
            encode_us: AtomicU64::new(0),
        }
    }

    /// Someone watches the operator's frames or asked for a snapshot.
    pub fn wanted(&self) -> bool {
        self.operator_viewers.load(Ordering::Relaxed) > 0
            || self.snapshot_wanted.load(Ordering::Relaxed)
    }

    /// A frame went through the stages (`bgr`: the operator's, when handed over).
    pub fn put(&self, _index: u64, bgr: Option<Arc<Vec<u8>>>) {
        let mut s = self.slot.lock().unwrap_or_else(PoisonError::into_inner);
        s.seq += 1;
        if bgr.is_some() {
            s.frame = bgr;
            self.snapshot_wanted.store(false, Ordering::Relaxed);
        }
        drop(s);
        self.frame_cv.notify_all();
    }

    /// The operator's newest frame (asks the engine for one if there is none yet).
    pub fn latest(&self) -> Option<Arc<Vec<u8>>> {
        let f = self
            .slot
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .frame
            .clone();
        if f.is_none() {
            self.snapshot_wanted.store(true, Ordering::Relaxed);
        }
        f
    }

    /// Ask for the next frame to be handed over and wait for it (at most `wait`).
    pub fn fresh(&self, wait: Duration) -> Option<Arc<Vec<u8>>> {
        self.snapshot_wanted.store(true, Ordering::Relaxed);
        let s = self.slot.lock().unwrap_or_else(PoisonError::into_inner);
        let seq = s.seq;
        let (s, _) = self
            .frame_cv
            .wait_timeout_while(s, wait, |s| s.seq == seq)
            .unwrap_or_else(PoisonError::into_inner);
        s.frame.clone()
    }

    /// A tenant's newest drawn frame (asking for it makes the tenant's draw
    /// stages run for [`TENANT_ASKED_FOR`]).
    pub fn tenant_frame(&self, id: &str) -> Option<Arc<Vec<u8>>> {
        self.tenant_asked
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id.to_string(), Instant::now());
        self.source_frame(&Source::Tenant(id.to_string()), &None)
    }

    /// The same, waiting at most `wait` for one to be drawn.
    pub fn tenant_fresh(&self, id: &str, wait: Duration) -> Option<Arc<Vec<u8>>> {
        let until = Instant::now() + wait;
        loop {
            if let Some(f) = self.tenant_frame(id) {
                return Some(f);
            }
            if Instant::now() >= until {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Someone watches tenant `id`'s frames (or asked for one lately): only
    /// then do its draw stages run.
    pub fn tenant_wanted(&self, id: &str) -> bool {
        let asked = self
            .tenant_asked
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(id)
            .is_some_and(|t| t.elapsed() < TENANT_ASKED_FOR);
        asked
            || self
                .variants
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .values()
                .any(|v| v.viewers > 0 && v.key.source == Source::Tenant(id.to_string()))
    }

    pub fn tenant_ids(&self) -> Vec<String> {
        self.tenants
            .as_ref()
            .map(|t| {
                t.lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .keys()
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn watch(&self, key: VariantKey) -> Watch<'_> {
        if key.source == Source::Operator {
            self.operator_viewers.fetch_add(1, Ordering::Relaxed);
        }
        let mut v = self.variants.lock().unwrap_or_else(PoisonError::into_inner);
        v.entry(key.clone())
            .or_insert_with(|| Variant {
                key: key.clone(),
                viewers: 0,
                last_src: None,
                jpeg: None,
            })
            .viewers += 1;
        drop(v);
        // Wake the encoder: the newest frame may already be there.
        self.frame_cv.notify_all();
        Watch { frames: self, key }
    }

    /// The newest JPEG of `w`'s variant newer than `after`, waiting at most
    /// `wait`; on timeout the newest there is (the caller re-sends it).
    pub fn next(&self, w: &Watch<'_>, after: u64, wait: Duration) -> Option<Arc<Jpeg>> {
        let v = self.variants.lock().unwrap_or_else(PoisonError::into_inner);
        let newer = |v: &mut BTreeMap<VariantKey, Variant>| {
            v.get(&w.key)
                .and_then(|x| x.jpeg.as_ref())
                .is_some_and(|j| j.seq > after)
        };
        let (mut v, _) = self
            .jpeg_cv
            .wait_timeout_while(v, wait, |v| !newer(v) && !self.is_closed())
            .unwrap_or_else(PoisonError::into_inner);
        v.get_mut(&w.key).and_then(|x| x.jpeg.clone())
    }

    pub fn close(&self) {
        self.closed.store(true, Ordering::Relaxed);
        self.frame_cv.notify_all();
        self.jpeg_cv.notify_all();
    }
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Relaxed)
    }

    /// Mean encode time so far, in ms.
    pub fn mean_encode_ms(&self) -> f64 {
        let n = self.encoded.load(Ordering::Relaxed);
        if n == 0 {
            0.0
        } else {
            self.encode_us.load(Ordering::Relaxed) as f64 / n as f64 / 1000.0
        }
    }

    fn source_frame(&self, s: &Source, operator: &Option<Arc<Vec<u8>>>) -> Option<Arc<Vec<u8>>> {
        match s {
            Source::Operator => operator.clone(),
            Source::Tenant(id) => self
                .tenants
                .as_ref()?
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .get(id)
                .cloned(),
        }
    }

    /// One pass of the encoder: every watched variant whose source has a new frame.
    fn encode_pass(&self, operator: &Option<Arc<Vec<u8>>>) {
        let work: Vec<(VariantKey, Arc<Vec<u8>>)> = {
            let v = self.variants.lock().unwrap_or_else(PoisonError::into_inner);
            v.values()
                .filter_map(|var| {
                    let src = self.source_frame(&var.key.source, operator)?;
                    let same = var.last_src.as_ref().is_some_and(|l| Arc::ptr_eq(l, &src));
                    (!same).then(|| (var.key.clone(), src))
                })
                .collect()
        };
        for (key, src) in work {
            let t = Instant::now();
            let bytes = match encode(&src, self.width, self.height, key.height, key.quality) {
                Ok(b) => b,
                Err(e) => {
                    tracing::warn!("live view: {e}");
                    continue;
                }
            };
            self.encoded.fetch_add(1, Ordering::Relaxed);
            self.encode_us
                .fetch_add(t.elapsed().as_micros() as u64, Ordering::Relaxed);
            let mut v = self.variants.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(var) = v.get_mut(&key) {
                let seq = var.jpeg.as_ref().map_or(0, |j| j.seq) + 1;
                var.jpeg = Some(Arc::new(Jpeg { seq, bytes }));
                var.last_src = Some(src);
            }
            drop(v);
            self.jpeg_cv.notify_all();
        }
    }

    fn run_encoder(&self) {
        let mut seen = 0;
        while !self.is_closed() {
            let operator = {
                let s = self.slot.lock().unwrap_or_else(PoisonError::into_inner);
                let (s, _) = self
                    .frame_cv
                    .wait_timeout_while(s, IDLE, |s| s.seq == seen && !self.is_closed())
                    .unwrap_or_else(PoisonError::into_inner);
                seen = s.seq;
                s.frame.clone()
            };
            self.encode_pass(&operator);
        }
    }
}

/// Start the encoder thread (ends when the frames are closed).
pub fn spawn(hub: Arc<super::Hub>) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("live-jpeg".into())
        .spawn(move || hub.frames.run_encoder())
        .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_a_jpeg_of_the_frame_size_and_scaled() {
        let (w, h) = (64u32, 48u32);
        let bgr: Vec<u8> = (0..w * h * 3).map(|i| (i % 251) as u8).collect();
        let full = encode(&bgr, w, h, 0, 80).unwrap_or_default();
        assert_eq!(&full[..2], &[0xFF, 0xD8]);
        let size = |j: &[u8]| image::load_from_memory(j).map(|m| (m.width(), m.height()));
        assert_eq!(size(&full).ok(), Some((64, 48)));
        let small = encode(&bgr, w, h, 24, 80).unwrap_or_default();
        assert_eq!(size(&small).ok(), Some((32, 24)));
        assert!(matches!(
            encode(&bgr[1..], w, h, 0, 80),
            Err(EncodeError::Size { .. })
        ));
    }
}
