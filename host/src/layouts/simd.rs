//! The AVX2 kernels of the pre-processing, each the same arithmetic as its
//! scalar twin (tests compare them): the exact resize's horizontal pass 16
//! columns at a time (each group of 4 columns' source bytes fetched by one
//! 16-byte load and a byte shuffle), its vertical pass 32 bytes at a time,
//! and bytes to normalised floats 8 at a time (a division, or a multiply
//! corrected by fused multiply-adds where that is exact for every byte).

use super::resize::XTap;

/// Output columns per block of the horizontal kernel.
pub const BLOCK: usize = 16;

/// 16 output columns for the horizontal kernel: per group of 4 columns,
/// the byte offset of a 16-byte load and the shuffle that puts each
/// column's two source bytes in a 32-bit lane as two 16-bit words; per
/// column, its two weights as the two words of a 32-bit lane.
#[derive(Debug, Clone)]
pub struct Block {
    base: [usize; 4],
    mask: [[u8; 16]; 4],
    alpha: [i32; 16],
}

/// Whether this processor runs the AVX2 kernels.
pub fn available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// The blocks of `xs` (whole blocks of 16 columns; the rest are done one
/// by one) for rows of `row_len` bytes. `None`: a group's source bytes are
/// more than 16 apart (a strong shrink) or a load would leave the row.
pub fn blocks(xs: &[XTap], row_len: usize) -> Vec<Option<Block>> {
    xs.chunks_exact(BLOCK)
        .map(|cols| block(cols, row_len))
        .collect()
}

fn block(cols: &[XTap], row_len: usize) -> Option<Block> {
    let mut b = Block {
        base: [0; 4],
        mask: [[0x80; 16]; 4],
        alpha: [0; 16],
    };
    for (g, group) in cols.chunks_exact(4).enumerate() {
        let base = group[0].lo;
        // The third channel's load reads base + 2 .. base + 18.
        if base + 18 > row_len {
            return None;
        }
        b.base[g] = base;
        for (i, t) in group.iter().enumerate() {
            let lo = t.lo.checked_sub(base).filter(|&o| o < 16)?;
            let hi = t.hi.checked_sub(base).filter(|&o| o < 16)?;
            b.mask[g][4 * i] = lo as u8;
            b.mask[g][4 * i + 2] = hi as u8;
        }
    }
    for (a, t) in b.alpha.iter_mut().zip(cols) {
        *a = (t.a0 as u16 as i32) | ((t.a1 as i32) << 16);
    }
    Some(b)
}

/// Columns `x..x + 16` of one source row `src` into `out` (three planes of
/// `n`), as `resize::horizontal_scalar` computes them. `false` (nothing
/// written) without AVX2 or when the block does not fit `src` or `out`.
pub fn horizontal(src: &[u8], block: &Block, x: usize, n: usize, out: &mut [i16]) -> bool {
    let fits =
        block.base.iter().all(|&b| b + 18 <= src.len()) && x + BLOCK <= n && out.len() >= 3 * n;
    if !fits || !available() {
        return false;
    }
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: AVX2 is there; every load (base + c .. base + c + 16,
        // c < 3) is inside `src` and every store inside `out` (checked).
        unsafe { horizontal_avx2(src, block, x, n, out) };
        true
    }
    #[cfg(not(target_arch = "x86_64"))]
    false
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn horizontal_avx2(src: &[u8], b: &Block, x: usize, n: usize, out: &mut [i16]) {
    use std::arch::x86_64::*;
    let masks = b.mask.as_ptr() as *const __m256i;
    let (m01, m23) = (_mm256_loadu_si256(masks), _mm256_loadu_si256(masks.add(1)));
    let alpha = b.alpha.as_ptr() as *const __m256i;
    let (a01, a23) = (_mm256_loadu_si256(alpha), _mm256_loadu_si256(alpha.add(1)));
    for c in 0..3 {
        let p = src.as_ptr().add(c);
        let g0 = _mm_loadu_si128(p.add(b.base[0]) as *const __m128i);
        let g1 = _mm_loadu_si128(p.add(b.base[1]) as *const __m128i);
        let g2 = _mm_loadu_si128(p.add(b.base[2]) as *const __m128i);
        let g3 = _mm_loadu_si128(p.add(b.base[3]) as *const __m128i);
        let v01 = _mm256_shuffle_epi8(_mm256_set_m128i(g1, g0), m01);
        let v23 = _mm256_shuffle_epi8(_mm256_set_m128i(g3, g2), m23);
        let h01 = _mm256_srai_epi32::<4>(_mm256_madd_epi16(v01, a01));
        let h23 = _mm256_srai_epi32::<4>(_mm256_madd_epi16(v23, a23));
        // packs interleaves the 128-bit lanes: columns 0-3, 8-11, 4-7, 12-15.
        let h = _mm256_permute4x64_epi64::<0b11_01_10_00>(_mm256_packs_epi32(h01, h23));
        _mm256_storeu_si256(out.as_mut_ptr().add(c * n + x) as *mut __m256i, h);
    }
}

/// The vertical pass over the first whole 32s of `out`, as
/// `resize::vertical_scalar` computes it; how many bytes it wrote.
pub fn vertical(h0: &[i16], h1: &[i16], b: (i16, i16), out: &mut [u8]) -> usize {
    let n = out.len().min(h0.len()).min(h1.len()) / 32 * 32;
    if n == 0 || !available() {
        return 0;
    }
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: AVX2 is there; n is within all three slices.
        unsafe { vertical_avx2(h0, h1, b, &mut out[..n]) };
        n
    }
    #[cfg(not(target_arch = "x86_64"))]
    0
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn vertical_avx2(h0: &[i16], h1: &[i16], (b0, b1): (i16, i16), out: &mut [u8]) {
    use std::arch::x86_64::*;
    let (vb0, vb1, two) = (
        _mm256_set1_epi16(b0),
        _mm256_set1_epi16(b1),
        _mm256_set1_epi16(2),
    );
    let row = |x: usize| {
        let p = _mm256_loadu_si256(h0.as_ptr().add(x) as *const __m256i);
        let q = _mm256_loadu_si256(h1.as_ptr().add(x) as *const __m256i);
        let v = _mm256_add_epi16(_mm256_mulhi_epi16(p, vb0), _mm256_mulhi_epi16(q, vb1));
        _mm256_srai_epi16::<2>(_mm256_add_epi16(v, two))
    };
    let mut x = 0;
    while x + 32 <= out.len() {
        let bytes = _mm256_packus_epi16(row(x), row(x + 16));
        let bytes = _mm256_permute4x64_epi64::<0b11_01_10_00>(bytes);
        _mm256_storeu_si256(out.as_mut_ptr().add(x) as *mut __m256i, bytes);
        x += 32;
    }
}

/// A channel's normalisation, `(byte - mean) / std`, and whether its
/// quotient may be taken as `q = x * (1 / std)` corrected once with two
/// fused multiply-adds: only when that gives the correctly rounded
/// quotient for every byte (checked here, byte by byte), else a division.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Normalise {
    mean: f32,
    std: f32,
    recip: f32,
    fma: bool,
}

impl Normalise {
    pub fn new(mean: f32, std: f32) -> Normalise {
        let recip = 1.0 / std;
        let fma = (0..=255u8).all(|v| {
            let x = v as f32 - mean;
            corrected(x, std, recip).to_bits() == (x / std).to_bits()
        });
        Normalise {
            mean,
            std,
            recip,
            fma,
        }
    }
}

/// `x / std` from `x * recip`, corrected by the exact residual.
fn corrected(x: f32, std: f32, recip: f32) -> f32 {
    let q = x * recip;
    let residual = (-q).mul_add(std, x);
    residual.mul_add(recip, q)
}

/// `out[i] = (src[i] - mean) / std` over the first whole 8s, the same
/// floats as a table of `(v as f32 - mean) / std`; how many values it
/// wrote.
pub fn normalise(src: &[u8], k: &Normalise, out: &mut [f32]) -> usize {
    let n = out.len().min(src.len()) / 8 * 8;
    if n == 0 || !available() {
        return 0;
    }
    #[cfg(target_arch = "x86_64")]
    {
        let (src, out) = (&src[..n], &mut out[..n]);
        if k.fma && std::arch::is_x86_feature_detected!("fma") {
            // SAFETY: AVX2 and FMA are there; n is within both slices.
            unsafe { normalise_fma(src, k, out) };
        } else {
            // SAFETY: AVX2 is there; n is within both slices.
            unsafe { normalise_div(src, k, out) };
        }
        n
    }
    #[cfg(not(target_arch = "x86_64"))]
    0
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn normalise_div(src: &[u8], k: &Normalise, out: &mut [f32]) {
    use std::arch::x86_64::*;
    let (m, s) = (_mm256_set1_ps(k.mean), _mm256_set1_ps(k.std));
    each8(out, |i| {
        let bytes = _mm_loadl_epi64(src.as_ptr().add(i) as *const __m128i);
        let v = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(bytes));
        _mm256_div_ps(_mm256_sub_ps(v, m), s)
    });
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn normalise_fma(src: &[u8], k: &Normalise, out: &mut [f32]) {
    use std::arch::x86_64::*;
    let (m, s, r) = (
        _mm256_set1_ps(k.mean),
        _mm256_set1_ps(k.std),
        _mm256_set1_ps(k.recip),
    );
    each8(out, |i| {
        let bytes = _mm_loadl_epi64(src.as_ptr().add(i) as *const __m128i);
        let x = _mm256_sub_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(bytes)), m);
        let q = _mm256_mul_ps(x, r);
        let residual = _mm256_fnmadd_ps(q, s, x);
        _mm256_fmadd_ps(residual, r, q)
    });
}

/// `out[i..i + 8] = value(i)` for each whole 8 of `out`.
///
/// # Safety
/// AVX2 is there; `value(i)` may read 8 values from `i` for any
/// `i <= out.len() - 8`.
#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn each8(out: &mut [f32], value: impl Fn(usize) -> std::arch::x86_64::__m256) {
    let mut i = 0;
    while i + 8 <= out.len() {
        std::arch::x86_64::_mm256_storeu_ps(out.as_mut_ptr().add(i), value(i));
        i += 8;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalised_floats_are_the_tables_bit_for_bit() {
        if !available() {
            return;
        }
        let bytes: Vec<u8> = (0..=255u8).chain(0..=255u8).collect();
        let cases = [
            (0.0f32, 255.0f32),
            (103.53, 57.375),
            (127.5, 127.5),
            (0.0, 1.0),
            (1.0, 3.0),
        ];
        for (mean, std) in cases {
            let k = Normalise::new(mean, std);
            for k in [k, Normalise { fma: false, ..k }] {
                let mut out = vec![f32::NAN; bytes.len()];
                assert_eq!(normalise(&bytes, &k, &mut out), 512);
                for (&b, &o) in bytes.iter().zip(&out) {
                    let want = (b as f32 - mean) / std;
                    assert_eq!(o.to_bits(), want.to_bits(), "{b} with {k:?}");
                }
            }
        }
        // The usual /255 takes the multiply-adds.
        assert!(Normalise::new(0.0, 255.0).fma);
    }

    #[test]
    fn a_strong_shrink_or_the_rows_end_leaves_a_block_to_the_scalar_code() {
        let tap = |lo: usize| XTap {
            lo: lo * 3,
            hi: lo * 3 + 3,
            a0: 1024,
            a1: 1024,
        };
        let near: Vec<XTap> = (0..16).map(tap).collect();
        assert!(block(&near, 16 * 3 + 18).is_some());
        assert!(
            block(&near, 12 * 3 + 17).is_none(),
            "last load past the row"
        );
        let far: Vec<XTap> = (0..16).map(|i| tap(i * 3)).collect();
        assert!(block(&far, 1000).is_none(), "4 columns over 10 pixels");
    }
}
