//! A BGR frame resized (letterbox or stretch), put in the tensor's channel
//! order and normalised in one pass straight into a float NCHW tensor:
//! bilinear with OpenCV's `INTER_LINEAR` pixel mapping (half-pixel centres,
//! edges clamped), computed in f32 without OpenCV's rounding to bytes in
//! between, so each value is within 1/255 of OpenCV's resize followed by
//! byte packing (tested on frames of the clip).
//!
//! Why by hand (issue 22): OpenCV's resize (0.7-0.8 ms for 768x576 ->
//! 640x480, on TBB workers that spin beside the inference) then a packing
//! pass (0.5 ms) cost 1.3 ms a frame; `fast_image_resize` 6.0's OpenCV-like
//! `Interpolation(Bilinear)` took 0.94 ms for the resize alone. This pass
//! blends the two source rows of each output row (contiguous, vectorised),
//! then reads each output pixel's two neighbours with AVX2 gathers where
//! the processor has them: about 0.6 ms in all.

use crate::detect::Letterbox;

/// Per tensor channel: which byte of a BGR pixel it takes, and its value =
/// interpolated byte * `mul` + `add`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Normalise {
    pub src: [usize; 3],
    pub mul: [f32; 3],
    pub add: [f32; 3],
}

/// One output coordinate's two source neighbours and the second one's weight.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Tap {
    lo: usize,
    hi: usize,
    w: f32,
}

/// OpenCV's `INTER_LINEAR` mapping of `dst` output coordinates onto `src`.
fn taps(src: u32, dst: u32) -> Vec<Tap> {
    let scale = src as f64 / dst.max(1) as f64;
    let last = src.max(1) as usize - 1;
    (0..dst)
        .map(|d| {
            let f = ((d as f64 + 0.5) * scale - 0.5) as f32;
            let s = f.floor();
            let w = f - s;
            if s < 0.0 {
                Tap {
                    lo: 0,
                    hi: 1.min(last),
                    w: 0.0,
                }
            } else if s as usize >= last {
                Tap {
                    lo: last,
                    hi: last,
                    w: 0.0,
                }
            } else {
                Tap {
                    lo: s as usize,
                    hi: s as usize + 1,
                    w,
                }
            }
        })
        .collect()
}

/// The taps of one frame geometry, and the blended-row buffer.
#[derive(Debug, Default)]
pub struct Resampler {
    /// (src_w, src_h, new_w, new_h) the taps are for.
    geometry: Option<(u32, u32, u32, u32)>,
    /// Per output column: byte offsets (pixel x 3) of its two neighbours.
    x_lo: Vec<i32>,
    x_hi: Vec<i32>,
    x_w: Vec<f32>,
    ys: Vec<Tap>,
    /// The current output row's two source rows blended, BGR interleaved.
    row: Vec<f32>,
    avx2: bool,
}

impl Resampler {
    pub fn new() -> Resampler {
        Resampler {
            avx2: has_avx2(),
            ..Default::default()
        }
    }

    /// Without the AVX2 path (its tests compare the two).
    #[cfg(test)]
    fn portable() -> Resampler {
        Resampler::default()
    }

    fn prepare(&mut self, lb: &Letterbox) {
        let key = (lb.src_w, lb.src_h, lb.new_w, lb.new_h);
        if self.geometry == Some(key) {
            return;
        }
        let xs = taps(lb.src_w, lb.new_w);
        self.x_lo = xs.iter().map(|t| (t.lo * 3) as i32).collect();
        self.x_hi = xs.iter().map(|t| (t.hi * 3) as i32).collect();
        self.x_w = xs.iter().map(|t| t.w).collect();
        self.ys = taps(lb.src_h, lb.new_h);
        self.row = vec![0.0; lb.src_w as usize * 3];
        self.geometry = Some(key);
    }

    /// Resize `img` (BGR24, `lb.src_w` x `lb.src_h`, rows of `stride`
    /// bytes) into the inner region of `tensor` (`[1, 3, dst_h, dst_w]`);
    /// the padding is left as it is. `false` (nothing written) when `img`
    /// or `tensor` is too small for `lb`.
    pub fn run(
        &mut self,
        img: &[u8],
        stride: usize,
        lb: &Letterbox,
        norm: &Normalise,
        tensor: &mut [f32],
    ) -> bool {
        let (sw, sh) = (lb.src_w as usize, lb.src_h as usize);
        let (w, h) = (lb.dst_w as usize, lb.dst_h as usize);
        let (nw, nh) = (lb.new_w as usize, lb.new_h as usize);
        let plane = w * h;
        let fits = sw > 0
            && sh > 0
            && stride >= sw * 3
            && img.len() >= (sh - 1) * stride + sw * 3
            && tensor.len() >= 3 * plane
            && lb.pad_x as usize + nw <= w
            && lb.pad_y as usize + nh <= h;
        if !fits {
            return false;
        }
        self.prepare(lb);
        for (dy, ty) in self.ys.iter().enumerate() {
            let r0 = &img[ty.lo * stride..ty.lo * stride + sw * 3];
            let r1 = &img[ty.hi * stride..ty.hi * stride + sw * 3];
            blend_rows(r0, r1, ty.w, &mut self.row, self.avx2);
            let off = (dy + lb.pad_y as usize) * w + lb.pad_x as usize;
            for c in 0..3 {
                let out = &mut tensor[c * plane + off..c * plane + off + nw];
                let cols = Columns {
                    lo: &self.x_lo,
                    hi: &self.x_hi,
                    w: &self.x_w,
                };
                let (mul, add) = (norm.mul[c], norm.add[c]);
                columns(&self.row, norm.src[c], &cols, (mul, add), out, self.avx2);
            }
        }
        true
    }
}

/// Whether this processor runs the AVX2 + FMA path.
fn has_avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// `row` = `r0` * (1 - w) + `r1` * w, byte by byte.
fn blend_rows(r0: &[u8], r1: &[u8], w: f32, row: &mut [f32], avx2: bool) {
    #[cfg(target_arch = "x86_64")]
    if avx2 {
        // SAFETY: the processor has AVX2 and FMA (checked by `has_avx2`).
        unsafe { blend_rows_avx2(r0, r1, w, row) };
        return;
    }
    let _ = avx2;
    blend(r0, r1, w, row);
}

#[inline(always)]
fn blend(r0: &[u8], r1: &[u8], w: f32, row: &mut [f32]) {
    let a = 1.0 - w;
    for ((v, &p), &q) in row.iter_mut().zip(r0).zip(r1) {
        *v = p as f32 * a + q as f32 * w;
    }
}

/// [`blend`] compiled for AVX2 (the compiler vectorises it 8 wide).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn blend_rows_avx2(r0: &[u8], r1: &[u8], w: f32, row: &mut [f32]) {
    blend(r0, r1, w, row)
}

/// Per output column: its neighbours' offsets in the blended row and the weight.
struct Columns<'a> {
    lo: &'a [i32],
    hi: &'a [i32],
    w: &'a [f32],
}

/// One tensor channel of one output row: for each column, its two
/// neighbours' channel `c` in `row` interpolated, then `* mul + add`.
fn columns(row: &[f32], c: usize, cols: &Columns, norm: (f32, f32), out: &mut [f32], avx2: bool) {
    #[cfg(target_arch = "x86_64")]
    if avx2 {
        // SAFETY: AVX2 and FMA are there (`has_avx2`); every offset + c is
        // inside `row` (taps are clamped to the source width, c < 3).
        unsafe { columns_avx2(row, c, cols, norm, out) };
        return;
    }
    let _ = avx2;
    columns_portable(row, c, cols, norm, out);
}

fn columns_portable(
    row: &[f32],
    c: usize,
    cols: &Columns,
    (mul, add): (f32, f32),
    out: &mut [f32],
) {
    for (((o, &l), &h), &w) in out.iter_mut().zip(cols.lo).zip(cols.hi).zip(cols.w) {
        let a = row[l as usize + c];
        let b = row[h as usize + c];
        *o = ((b - a) * w + a) * mul + add;
    }
}

/// [`columns_portable`] 8 columns at a time with AVX2 gathers.
///
/// # Safety
/// The processor has AVX2 and FMA; `cols.lo[i] + c` and `cols.hi[i] + c`
/// are below `row.len()` for every i; `cols` and `out` have one length.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn columns_avx2(
    row: &[f32],
    c: usize,
    cols: &Columns,
    (mul, add): (f32, f32),
    out: &mut [f32],
) {
    use std::arch::x86_64::*;
    let n = out
        .len()
        .min(cols.lo.len())
        .min(cols.hi.len())
        .min(cols.w.len());
    let full = n / 8 * 8;
    let base = row.as_ptr().add(c);
    let (m, a) = (_mm256_set1_ps(mul), _mm256_set1_ps(add));
    let mut i = 0;
    while i < full {
        let lo = _mm256_loadu_si256(cols.lo.as_ptr().add(i) as *const __m256i);
        let hi = _mm256_loadu_si256(cols.hi.as_ptr().add(i) as *const __m256i);
        let w = _mm256_loadu_ps(cols.w.as_ptr().add(i));
        let g0 = _mm256_i32gather_ps::<4>(base, lo);
        let g1 = _mm256_i32gather_ps::<4>(base, hi);
        let v = _mm256_fmadd_ps(_mm256_sub_ps(g1, g0), w, g0);
        _mm256_storeu_ps(out.as_mut_ptr().add(i), _mm256_fmadd_ps(v, m, a));
        i += 8;
    }
    let tail = Columns {
        lo: &cols.lo[full..n],
        hi: &cols.hi[full..n],
        w: &cols.w[full..n],
    };
    columns_portable(row, c, &tail, (mul, add), &mut out[full..n]);
}

#[cfg(test)]
mod tests {
    use super::*;

    const RGB_OVER_255: Normalise = Normalise {
        src: [2, 1, 0],
        mul: [1.0 / 255.0; 3],
        add: [0.0; 3],
    };

    /// A BGR test picture: smooth gradients plus a pattern, rows of `stride`.
    fn picture(w: usize, h: usize, stride: usize) -> Vec<u8> {
        let mut img = vec![0u8; stride * h];
        for y in 0..h {
            for x in 0..w {
                for c in 0..3 {
                    img[y * stride + x * 3 + c] =
                        ((x * (c + 1) + y * 2 + (x * y) % 7 * 9) % 256) as u8;
                }
            }
        }
        img
    }

    #[test]
    fn taps_follow_opencv_half_pixel_centres_clamped_at_the_edges() {
        // 768 -> 640: output 0 sits at source 0.1, output 639 at 766.9.
        let t = taps(768, 640);
        assert_eq!((t[0].lo, t[0].hi), (0, 1));
        assert!((t[0].w - 0.1).abs() < 1e-5, "{:?}", t[0]);
        assert!((t[639].w - 0.9).abs() < 1e-4, "{:?}", t[639]);
        assert_eq!((t[639].lo, t[639].hi), (766, 767));
        // Upscaling 2 -> 4: the first output is left of source pixel 0.
        let t = taps(2, 4);
        assert_eq!(
            t[0],
            Tap {
                lo: 0,
                hi: 1,
                w: 0.0
            }
        );
        assert_eq!(
            t[3],
            Tap {
                lo: 1,
                hi: 1,
                w: 0.0
            }
        );
        // Same size: every output is its own source pixel.
        assert!(taps(5, 5)
            .iter()
            .enumerate()
            .all(|(i, t)| t.lo == i && t.w == 0.0));
    }

    #[test]
    fn same_size_copies_bytes_in_channel_order_inside_the_padding() {
        // 4x2 into 4x4: no scaling, one padding row above and below.
        let lb = Letterbox::new(4, 2, 4, 4);
        assert_eq!((lb.new_w, lb.new_h, lb.pad_y), (4, 2, 1));
        let img = picture(4, 2, 12);
        let mut t = vec![-1.0f32; 48];
        assert!(Resampler::new().run(&img, 12, &lb, &RGB_OVER_255, &mut t));
        for c in 0..3 {
            let plane = &t[c * 16..(c + 1) * 16];
            assert!(
                plane[..4].iter().chain(&plane[12..]).all(|&v| v == -1.0),
                "padding untouched"
            );
            for y in 0..2 {
                for x in 0..4 {
                    let byte = img[y * 12 + x * 3 + (2 - c)];
                    let v = plane[(y + 1) * 4 + x];
                    assert!(
                        (v - byte as f32 / 255.0).abs() < 1e-6,
                        "c{c} x{x} y{y}: {v}"
                    );
                }
            }
        }
    }

    #[test]
    fn avx2_and_portable_paths_agree() {
        // 101 columns: 12 blocks of 8 and a tail of 5; rows with padding bytes.
        let lb = Letterbox::new(121, 77, 101, 101);
        let img = picture(121, 77, 121 * 3 + 5);
        let norm = Normalise {
            src: [0, 1, 2],
            mul: [0.5, 0.25, 2.0],
            add: [-1.0, 0.0, 3.0],
        };
        let mut a = vec![0.0f32; 3 * 101 * 101];
        let mut b = a.clone();
        assert!(Resampler::new().run(&img, 121 * 3 + 5, &lb, &norm, &mut a));
        assert!(Resampler::portable().run(&img, 121 * 3 + 5, &lb, &norm, &mut b));
        let worst = a
            .iter()
            .zip(&b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0f32, f32::max);
        assert!(worst < 1e-3, "largest difference {worst}");
        assert!(a.iter().any(|&v| v != 0.0));
    }

    #[test]
    fn a_frame_that_does_not_fit_its_geometry_is_left_alone() {
        let lb = Letterbox::new(8, 8, 4, 4);
        let mut t = vec![7.0f32; 48];
        assert!(!Resampler::new().run(&[0u8; 10], 24, &lb, &RGB_OVER_255, &mut t));
        assert!(t.iter().all(|&v| v == 7.0));
    }
}
