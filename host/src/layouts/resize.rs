//! OpenCV 4.6's `resize(.., INTER_LINEAR)` of an 8-bit BGR frame, bit for
//! bit, handed out row by row as three byte planes (B, G, R) so that the
//! tensor packing takes each row while it is in cache: no resized frame, no
//! OpenCV worker threads spinning beside the inference (issue 22).
//!
//! What is reproduced (imgproc/src/resize.cpp of OpenCV 4.6): output d sits
//! at source `(d + 0.5) * scale - 0.5`, computed in double with
//! `scale = 1 / (dst / src)` and rounded to float; the weights are the
//! fraction's 11-bit fixed point (`INTER_RESIZE_COEF_BITS`), rounded half
//! to even; a column left of pixel 0 or right of the last takes that pixel
//! alone, a row is clamped but keeps its weights; the horizontal pass is
//! exact in 32 bits and the vertical one
//! `(((b0 * (h0 >> 4)) >> 16) + ((b1 * (h1 >> 4)) >> 16) + 2) >> 2`.
//! Exactly half the size on both axes is OpenCV's `INTER_AREA` instead:
//! each 2x2 block's `(sum + 2) >> 2`. Tests compare every byte with
//! OpenCV's own `resize`.

use super::simd as avx2;

/// OpenCV's `INTER_RESIZE_COEF_SCALE` (1 << 11).
const COEF_SCALE: f32 = 2048.0;

/// One output column: byte offsets (pixel x 3) of its two source pixels
/// and their weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct XTap {
    pub lo: usize,
    pub hi: usize,
    pub a0: i16,
    pub a1: i16,
}

/// One output row: its two source rows and their weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct YTap {
    r0: usize,
    r1: usize,
    b0: i16,
    b1: i16,
}

/// OpenCV's fixed-point weight: `saturate_cast<short>(f * 2048)`.
fn coef(f: f32) -> i16 {
    (f * COEF_SCALE)
        .round_ties_even()
        .clamp(i16::MIN as f32, i16::MAX as f32) as i16
}

/// Where output `d` sits in the source: whole pixel and fraction.
fn position(d: usize, scale: f64) -> (i64, f32) {
    let f = ((d as f64 + 0.5) * scale - 0.5) as f32;
    let s = f.floor();
    (s as i64, f - s)
}

/// `1 / (dst / src)`, as OpenCV computes the scale.
fn scale(src: usize, dst: usize) -> f64 {
    1.0 / (dst as f64 / src as f64)
}

fn x_taps(src: usize, dst: usize) -> Vec<XTap> {
    let k = scale(src, dst);
    let last = src as i64 - 1;
    (0..dst)
        .map(|d| {
            let (mut sx, mut fx) = position(d, k);
            if sx < 0 {
                (sx, fx) = (0, 0.0);
            }
            if sx >= last {
                (sx, fx) = (last, 0.0);
            }
            let hi = (sx + 1).min(last);
            XTap {
                lo: sx as usize * 3,
                hi: hi as usize * 3,
                a0: coef(1.0 - fx),
                a1: coef(fx),
            }
        })
        .collect()
}

fn y_taps(src: usize, dst: usize) -> Vec<YTap> {
    let k = scale(src, dst);
    let last = src as i64 - 1;
    (0..dst)
        .map(|d| {
            let (sy, fy) = position(d, k);
            YTap {
                r0: sy.clamp(0, last) as usize,
                r1: (sy + 1).clamp(0, last) as usize,
                b0: coef(1.0 - fy),
                b1: coef(fy),
            }
        })
        .collect()
}

/// A BGR24 frame in memory.
#[derive(Debug, Clone, Copy)]
pub struct Image<'a> {
    pub data: &'a [u8],
    pub width: usize,
    pub height: usize,
    /// Bytes from one row to the next.
    pub stride: usize,
}

impl<'a> Image<'a> {
    fn fits(&self) -> bool {
        self.width > 0
            && self.height > 0
            && self.stride >= self.width * 3
            && self.data.len() >= (self.height - 1) * self.stride + self.width * 3
    }

    fn row(&self, y: usize) -> &'a [u8] {
        &self.data[y * self.stride..y * self.stride + self.width * 3]
    }
}

/// How one geometry is resized.
enum Kind {
    Linear {
        xs: Vec<XTap>,
        ys: Vec<YTap>,
        /// The AVX2 kernel's blocks of 16 columns (`None`: columns too far
        /// apart for it, done one by one).
        blocks: Vec<Option<avx2::Block>>,
    },
    /// Half the size on both axes (OpenCV's `INTER_AREA` fast path).
    Halve,
}

/// (source width, source height, output width, output height).
type Geometry = (usize, usize, usize, usize);

/// Resizes frames of one geometry after another; keeps the taps of the
/// last geometry and its row buffers.
#[derive(Default)]
pub struct Resizer {
    plan: Option<(Geometry, Kind)>,
    /// Horizontal passes of two source rows: (row, three planes of i16
    /// `h >> 4`); `usize::MAX`: none.
    rows: [(usize, Vec<i16>); 2],
    /// The output row: three planes of bytes.
    out: Vec<u8>,
    avx2: bool,
}

impl Resizer {
    pub fn new() -> Resizer {
        Resizer {
            avx2: avx2::available(),
            ..Resizer::default()
        }
    }

    /// Without the AVX2 kernels (tests compare both with OpenCV).
    pub fn portable() -> Resizer {
        Resizer::default()
    }

    fn prepare(&mut self, g: Geometry) {
        if self.plan.as_ref().is_some_and(|(k, _)| *k == g) {
            return;
        }
        let (sw, sh, nw, nh) = g;
        let halve = (scale(sw, nw) - 2.0).abs() < f64::EPSILON
            && (scale(sh, nh) - 2.0).abs() < f64::EPSILON;
        let kind = if halve {
            Kind::Halve
        } else {
            let xs = x_taps(sw, nw);
            let blocks = avx2::blocks(&xs, sw * 3);
            Kind::Linear {
                xs,
                ys: y_taps(sh, nh),
                blocks,
            }
        };
        for r in &mut self.rows {
            *r = (usize::MAX, vec![0; 3 * nw]);
        }
        self.out = vec![0; 3 * nw];
        self.plan = Some((g, kind));
    }

    /// Resize `img` to `width` x `height`; `row(y, [b, g, r])` gets each
    /// output row in order as three byte planes. `false` (nothing done)
    /// when `img` is smaller than it says or the output is empty.
    pub fn run(
        &mut self,
        img: &Image,
        width: usize,
        height: usize,
        mut row: impl FnMut(usize, [&[u8]; 3]),
    ) -> bool {
        if !img.fits() || width == 0 || height == 0 {
            return false;
        }
        self.prepare((img.width, img.height, width, height));
        let Some((_, kind)) = &self.plan else {
            return false;
        };
        for y in 0..height {
            match kind {
                Kind::Linear { xs, ys, blocks } => {
                    let t = ys[y];
                    let s = Sources { img, xs, blocks };
                    let held = (0..2).find(|&i| self.rows[i].0 == t.r1);
                    let slot0 = horizontal(&mut self.rows, t.r0, held, &s, self.avx2);
                    let slot1 = horizontal(&mut self.rows, t.r1, Some(slot0), &s, self.avx2);
                    let (h0, h1) = (&self.rows[slot0].1, &self.rows[slot1].1);
                    vertical(h0, h1, (t.b0, t.b1), &mut self.out, self.avx2);
                }
                Kind::Halve => halve(img.row(2 * y), img.row(2 * y + 1), &mut self.out),
            }
            let (b, rest) = self.out.split_at(width);
            let (g, r) = rest.split_at(width);
            row(y, [b, g, r]);
        }
        true
    }
}

/// What the horizontal pass reads.
struct Sources<'a> {
    img: &'a Image<'a>,
    xs: &'a [XTap],
    blocks: &'a [Option<avx2::Block>],
}

/// The slot of `rows` holding source row `y`'s horizontal pass, computed
/// into a slot other than `keep` when neither holds it.
fn horizontal(
    rows: &mut [(usize, Vec<i16>); 2],
    y: usize,
    keep: Option<usize>,
    s: &Sources,
    avx2: bool,
) -> usize {
    if let Some(i) = (0..2).find(|&i| rows[i].0 == y) {
        return i;
    }
    let slot = if keep == Some(0) { 1 } else { 0 };
    rows[slot].0 = y;
    let out = &mut rows[slot].1;
    let src = s.img.row(y);
    let n = s.xs.len();
    for (b, block) in s.blocks.iter().enumerate() {
        let x = b * avx2::BLOCK;
        let done = avx2
            && block
                .as_ref()
                .is_some_and(|k| avx2::horizontal(src, k, x, n, out));
        if !done {
            horizontal_scalar(src, s.xs, x, avx2::BLOCK, out);
        }
    }
    let done = s.blocks.len() * avx2::BLOCK;
    horizontal_scalar(src, s.xs, done, n - done, out);
    slot
}

/// Columns `from..from + count` of one source row, planar.
fn horizontal_scalar(src: &[u8], xs: &[XTap], from: usize, count: usize, out: &mut [i16]) {
    let n = xs.len();
    for (x, t) in xs.iter().enumerate().skip(from).take(count) {
        for c in 0..3 {
            let v = src[t.lo + c] as i32 * t.a0 as i32 + src[t.hi + c] as i32 * t.a1 as i32;
            out[c * n + x] = (v >> 4) as i16;
        }
    }
}

/// One output row from two horizontal passes.
fn vertical(h0: &[i16], h1: &[i16], b: (i16, i16), out: &mut [u8], avx2: bool) {
    let done = if avx2 {
        avx2::vertical(h0, h1, b, out)
    } else {
        0
    };
    vertical_scalar(&h0[done..], &h1[done..], b, &mut out[done..]);
}

pub(super) fn vertical_scalar(h0: &[i16], h1: &[i16], (b0, b1): (i16, i16), out: &mut [u8]) {
    for ((o, &p), &q) in out.iter_mut().zip(h0).zip(h1) {
        let v = ((b0 as i32 * p as i32) >> 16) + ((b1 as i32 * q as i32) >> 16);
        *o = ((v + 2) >> 2) as u8;
    }
}

/// One output row of a halving from source rows `r0` and `r1`, planar.
fn halve(r0: &[u8], r1: &[u8], out: &mut [u8]) {
    let n = out.len() / 3;
    for x in 0..n {
        for c in 0..3 {
            let i = 6 * x + c;
            let sum = r0[i] as u32 + r0[i + 3] as u32 + r1[i] as u32 + r1[i + 3] as u32;
            out[c * n + x] = ((sum + 2) >> 2) as u8;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opencv::core::{Mat, Size, CV_8UC3};
    use opencv::prelude::*;

    /// A BGR test picture: gradients, a pattern and hard edges.
    fn picture(w: usize, h: usize, stride: usize) -> Vec<u8> {
        let mut img = vec![0u8; stride * h];
        for y in 0..h {
            for x in 0..w {
                for c in 0..3 {
                    let edge = if (x / 5 + y / 3) % 2 == 0 { 255 } else { 0 };
                    let v = (x * (c + 1) + y * 2 + (x * y) % 7 * 9) % 256;
                    img[y * stride + x * 3 + c] = if c == 1 { edge } else { v as u8 };
                }
            }
        }
        img
    }

    /// OpenCV's resize of `img`, packed rows of `w * 3` bytes.
    fn opencv(img: &Image, w: usize, h: usize) -> Vec<u8> {
        let packed: Vec<u8> = (0..img.height).flat_map(|y| img.row(y).to_vec()).collect();
        let src = Mat::new_rows_cols_with_data(img.height as i32, img.width as i32 * 3, &packed);
        let src = src.unwrap();
        let src = src.reshape(3, img.height as i32).unwrap();
        let mut out = Mat::default();
        let size = Size::new(w as i32, h as i32);
        opencv::imgproc::resize(&src, &mut out, size, 0.0, 0.0, 1).unwrap();
        assert_eq!(out.typ(), CV_8UC3);
        out.data_bytes().unwrap().to_vec()
    }

    /// Ours, interleaved back to rows of `w * 3` bytes.
    fn ours(r: &mut Resizer, img: &Image, w: usize, h: usize) -> Vec<u8> {
        let mut out = vec![0u8; w * h * 3];
        let mut rows = 0;
        assert!(r.run(img, w, h, |y, planes| {
            assert_eq!(y, rows);
            rows += 1;
            for (c, plane) in planes.iter().enumerate() {
                for (x, &v) in plane.iter().enumerate() {
                    out[(y * w + x) * 3 + c] = v;
                }
            }
        }));
        assert_eq!(rows, h);
        out
    }

    #[test]
    fn every_byte_is_opencvs_on_pictures_of_many_sizes() {
        let sizes = [
            ((768, 576), (640, 480)),
            ((768, 576), (333, 250)),
            ((320, 240), (640, 480)),
            ((97, 61), (640, 403)),
            ((1280, 720), (640, 360)),
            ((1281, 721), (640, 360)),
            ((1920, 1080), (640, 360)),
            ((640, 480), (640, 480)),
            ((640, 480), (640, 481)),
            ((1, 1), (7, 5)),
            ((2, 3), (1, 1)),
            ((33, 1), (16, 4)),
        ];
        for ((sw, sh), (w, h)) in sizes {
            let stride = sw * 3 + 7;
            let data = picture(sw, sh, stride);
            let img = Image {
                data: &data,
                width: sw,
                height: sh,
                stride,
            };
            let want = opencv(&img, w, h);
            for mut r in [Resizer::new(), Resizer::portable()] {
                let avx2 = r.avx2;
                let got = ours(&mut r, &img, w, h);
                let diff = got.iter().zip(&want).filter(|(a, b)| a != b).count();
                assert_eq!(diff, 0, "{sw}x{sh} -> {w}x{h} (avx2 {avx2})");
            }
        }
    }

    #[test]
    fn taps_are_opencvs_fixed_point_at_the_edges() {
        // 768 -> 640: output 0 sits at source 0.1; output 639 at 766.9.
        let t = x_taps(768, 640);
        assert_eq!(
            t[0],
            XTap {
                lo: 0,
                hi: 3,
                a0: 1843,
                a1: 205
            }
        );
        assert_eq!((t[639].lo, t[639].hi), (766 * 3, 767 * 3));
        // Upscaling 2 -> 4: left of pixel 0 and right of pixel 1 take it alone.
        let t = x_taps(2, 4);
        assert_eq!(
            t[0],
            XTap {
                lo: 0,
                hi: 3,
                a0: 2048,
                a1: 0
            }
        );
        assert_eq!(
            t[3],
            XTap {
                lo: 3,
                hi: 3,
                a0: 2048,
                a1: 0
            }
        );
        // Rows are clamped but keep their weights.
        let t = y_taps(2, 4);
        assert_eq!(
            t[0],
            YTap {
                r0: 0,
                r1: 0,
                b0: 512,
                b1: 1536
            }
        );
        assert_eq!(
            t[3],
            YTap {
                r0: 1,
                r1: 1,
                b0: 1536,
                b1: 512
            }
        );
    }

    #[test]
    fn the_clips_geometry_takes_the_avx2_blocks_but_at_the_rows_end() {
        let blocks = avx2::blocks(&x_taps(768, 640), 768 * 3);
        assert_eq!(blocks.len(), 40);
        assert!(blocks[..39].iter().all(Option::is_some));
        assert!(blocks[39].is_none(), "its last load would leave the row");
    }

    #[test]
    fn an_image_smaller_than_it_says_is_left_alone() {
        let data = [0u8; 10];
        let img = Image {
            data: &data,
            width: 4,
            height: 4,
            stride: 12,
        };
        assert!(!Resizer::new().run(&img, 2, 2, |_, _| panic!("no rows")));
        let img = Image { height: 0, ..img };
        assert!(!Resizer::new().run(&img, 2, 2, |_, _| panic!("no rows")));
    }
}
