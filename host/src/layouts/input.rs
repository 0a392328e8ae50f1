//! The model's input as read from the model, never from constants: size and
//! element type (float32 or uint8) and tensor order (NCHW or NHWC) from the
//! input tensor; channel order, normalisation and resize from the model's
//! `edgepipe.*` metadata (defaults: RGB, /255 for float, letterbox). Also
//! the packing of a BGR frame into that tensor: resized on the way, row by
//! row, exactly as OpenCV's resize would (`resize`), or already resized.

use super::resize::{Image, Resizer};
use super::simd;
use crate::detect::{Letterbox, PAD_VALUE};

/// How the frame is fitted to the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resize {
    /// Keep the aspect ratio, pad with grey (YOLO family).
    Letterbox,
    /// Stretch to the input size (TensorFlow Object Detection API models).
    Stretch,
}

/// The input tensor's element type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Element {
    F32,
    U8,
}

/// What the model expects, read from it.
#[derive(Debug, Clone, PartialEq)]
pub struct InputSpec {
    pub width: u32,
    pub height: u32,
    pub element: Element,
    /// `[1, 3, H, W]` (else `[1, H, W, 3]`).
    pub nchw: bool,
    /// Dim 0 is dynamic (-1): the model takes several frames in one run.
    pub dynamic_batch: bool,
    /// Channel order of the tensor: BGR (else RGB).
    pub bgr: bool,
    /// Per tensor channel: value = (byte - mean) / std (float inputs only).
    pub mean: [f32; 3],
    pub std: [f32; 3],
    pub resize: Resize,
}

/// The metadata keys that describe the input (`edgepipe.channels`,
/// `edgepipe.mean`, `edgepipe.std`, `edgepipe.resize`), as read.
#[derive(Debug, Default, Clone)]
pub struct InputMeta {
    pub channels: Option<String>,
    pub mean: Option<String>,
    pub std: Option<String>,
    pub resize: Option<String>,
}

impl InputSpec {
    /// The spec of an input of `shape` and `element`; `default_resize` is
    /// the layout's when the metadata names none.
    pub fn read(
        shape: &[i64],
        element: Element,
        meta: &InputMeta,
        default_resize: Resize,
    ) -> Result<InputSpec, String> {
        let bad = || {
            format!("input has shape {shape:?}, expected [1,3,H,W] or [1,H,W,3] with fixed H, W")
        };
        if shape.len() != 4 {
            return Err(format!(
                "input has rank {} ({shape:?}), expected 4",
                shape.len()
            ));
        }
        if !(shape[0] == 1 || shape[0] == -1) {
            return Err(bad());
        }
        let (nchw, h, w) = match (shape[1], shape[3]) {
            (3, _) => (true, shape[2], shape[3]),
            (_, 3) => (false, shape[1], shape[2]),
            _ => return Err(bad()),
        };
        if h <= 0 || w <= 0 || h > 16384 || w > 16384 {
            return Err(bad());
        }
        let bgr = match meta.channels.as_deref() {
            None | Some("rgb") => false,
            Some("bgr") => true,
            Some(other) => return Err(format!("edgepipe.channels `{other}` is not rgb or bgr")),
        };
        let resize = match meta.resize.as_deref() {
            None => default_resize,
            Some("letterbox") => Resize::Letterbox,
            Some("stretch") => Resize::Stretch,
            Some(other) => {
                return Err(format!(
                    "edgepipe.resize `{other}` is not letterbox or stretch"
                ))
            }
        };
        let mean = triple("edgepipe.mean", meta.mean.as_deref(), 0.0)?;
        let std = triple("edgepipe.std", meta.std.as_deref(), 255.0)?;
        if std.contains(&0.0) {
            return Err("edgepipe.std has a zero".into());
        }
        Ok(InputSpec {
            width: w as u32,
            height: h as u32,
            element,
            nchw,
            dynamic_batch: shape[0] == -1,
            bgr,
            mean,
            std,
            resize,
        })
    }

    /// The geometry of a `src_w` x `src_h` frame in this input.
    pub fn geometry(&self, src_w: u32, src_h: u32) -> Letterbox {
        match self.resize {
            Resize::Letterbox => Letterbox::new(src_w, src_h, self.width, self.height),
            Resize::Stretch => Letterbox::stretch(src_w, src_h, self.width, self.height),
        }
    }

    /// The shape of the tensor.
    pub fn shape(&self) -> [usize; 4] {
        let (h, w) = (self.height as usize, self.width as usize);
        if self.nchw {
            [1, 3, h, w]
        } else {
            [1, h, w, 3]
        }
    }

    /// The shape of a tensor of `frames` frames (a dynamic batch).
    pub fn batch_shape(&self, frames: usize) -> [usize; 4] {
        let [_, a, b, c] = self.shape();
        [frames, a, b, c]
    }

    /// Which byte of a BGR pixel each tensor channel takes.
    fn sources(&self) -> [usize; 3] {
        if self.bgr {
            [0, 1, 2]
        } else {
            [2, 1, 0]
        }
    }

    /// Per tensor channel, the float value of every byte.
    fn float_lut(&self) -> Box<[[f32; 256]; 3]> {
        let mut lut = Box::new([[0.0f32; 256]; 3]);
        for (c, table) in lut.iter_mut().enumerate() {
            for (v, out) in table.iter_mut().enumerate() {
                *out = (v as f32 - self.mean[c]) / self.std[c];
            }
        }
        lut
    }
}

/// "a,b,c" as three floats, or `default` three times when unset.
fn triple(key: &str, text: Option<&str>, default: f32) -> Result<[f32; 3], String> {
    let Some(text) = text else {
        return Ok([default; 3]);
    };
    let v: Vec<f32> = text
        .split(',')
        .map(|s| s.trim().parse::<f32>())
        .collect::<Result<_, _>>()
        .map_err(|_| format!("{key} `{text}` is not three numbers"))?;
    match v[..] {
        [a, b, c] if v.iter().all(|x| x.is_finite()) => Ok([a, b, c]),
        _ => Err(format!("{key} `{text}` is not three numbers")),
    }
}

/// The input tensor of a model, reused from frame to frame.
#[derive(Debug, Clone)]
pub enum InputTensor {
    F32(Vec<f32>),
    U8(Vec<u8>),
}

/// Packs frames into an [`InputTensor`] of one [`InputSpec`].
pub struct Packer {
    spec: InputSpec,
    lut: Option<Box<[[f32; 256]; 3]>>,
    /// Per tensor channel, the table's arithmetic for the AVX2 kernel.
    norm: [simd::Normalise; 3],
    resizer: Resizer,
}

impl Packer {
    pub fn new(spec: InputSpec) -> Packer {
        let lut = (spec.element == Element::F32).then(|| spec.float_lut());
        let norm = [0, 1, 2].map(|c| simd::Normalise::new(spec.mean[c], spec.std[c]));
        Packer {
            spec,
            lut,
            norm,
            resizer: Resizer::new(),
        }
    }

    /// Without the AVX2 kernels (tests compare both ways).
    pub fn portable(spec: InputSpec) -> Packer {
        Packer {
            resizer: Resizer::portable(),
            ..Packer::new(spec)
        }
    }

    pub fn spec(&self) -> &InputSpec {
        &self.spec
    }

    /// A tensor of the right size and type, all grey.
    pub fn blank(&self) -> InputTensor {
        let len = self.spec.shape().iter().product();
        let mut t = match &self.lut {
            Some(_) => InputTensor::F32(vec![0.0; len]),
            None => InputTensor::U8(vec![0; len]),
        };
        self.fill_grey(&mut t);
        t
    }

    /// Fill the whole tensor with the padding grey (once per geometry).
    pub fn fill_grey(&self, tensor: &mut InputTensor) {
        let nchw = self.spec.nchw;
        match (tensor, &self.lut) {
            (InputTensor::F32(t), Some(lut)) => fill(t, nchw, |c| lut[c][PAD_VALUE as usize]),
            (InputTensor::U8(t), _) => fill(t, nchw, |_| PAD_VALUE),
            (InputTensor::F32(_), None) => {}
        }
    }

    /// Pack an already resized BGR24 image (`lb.new_w` x `lb.new_h`, rows
    /// of `stride` bytes) into the inner region of the tensor.
    pub fn pack(
        &self,
        resized_bgr: &[u8],
        stride: usize,
        lb: &Letterbox,
        tensor: &mut InputTensor,
    ) {
        let to = Target {
            lb,
            nchw: self.spec.nchw,
            src: self.spec.sources(),
        };
        match (tensor, &self.lut) {
            (InputTensor::F32(t), Some(lut)) => {
                to.pack(resized_bgr, stride, t, |c, v| lut[c][v as usize])
            }
            (InputTensor::U8(t), _) => to.pack(resized_bgr, stride, t, |_, v| v),
            (InputTensor::F32(_), None) => {}
        }
    }

    /// Resize a whole BGR24 frame (`lb.src_w` x `lb.src_h`) into the inner
    /// region of the tensor, row by row: the same tensor as OpenCV's
    /// `resize(INTER_LINEAR)` to `lb.new_w` x `lb.new_h` then
    /// [`pack`](Self::pack), without the resized frame. `false` (nothing
    /// written) when the frame, the geometry and the tensor do not fit.
    pub fn resize_pack(&mut self, img: &Image, lb: &Letterbox, tensor: &mut InputTensor) -> bool {
        let (w, h) = (lb.dst_w as usize, lb.dst_h as usize);
        let fits = img.width == lb.src_w as usize
            && img.height == lb.src_h as usize
            && lb.pad_x as usize + lb.new_w as usize <= w
            && lb.pad_y as usize + lb.new_h as usize <= h
            && self.spec.shape().iter().product::<usize>() == 3 * w * h;
        let to = Target {
            lb,
            nchw: self.spec.nchw,
            src: self.spec.sources(),
        };
        let (nw, nh) = (lb.new_w as usize, lb.new_h as usize);
        let (spec, norm) = (&self.spec, &self.norm);
        match (tensor, &self.lut) {
            (InputTensor::F32(t), Some(lut)) if fits && t.len() == 3 * w * h => {
                self.resizer.run(img, nw, nh, |y, planes| {
                    if spec.nchw {
                        to.put_floats(y, planes, t, norm, lut);
                    } else {
                        to.put_row(y, planes, t, |c, v| lut[c][v as usize]);
                    }
                })
            }
            (InputTensor::U8(t), _) if fits && t.len() == 3 * w * h => {
                self.resizer
                    .run(img, nw, nh, |y, planes| to.put_row(y, planes, t, |_, v| v))
            }
            _ => false,
        }
    }
}

/// Every element of tensor channel `c` set to `value(c)`.
fn fill<T: Copy>(t: &mut [T], nchw: bool, value: impl Fn(usize) -> T) {
    if nchw {
        let plane = t.len() / 3;
        for c in 0..3 {
            t[c * plane..(c + 1) * plane].fill(value(c));
        }
    } else {
        let px = [value(0), value(1), value(2)];
        for chunk in t.chunks_exact_mut(3) {
            chunk.copy_from_slice(&px);
        }
    }
}

/// Where and how pixels land in the tensor.
struct Target<'a> {
    lb: &'a Letterbox,
    nchw: bool,
    /// The BGR byte that tensor channel c takes.
    src: [usize; 3],
}

impl Target<'_> {
    /// Output row `y` of the resize (three byte planes, B, G, R) at its
    /// place in the tensor: channel `c` of each pixel = `conv(c, byte)`.
    fn put_row<T: Copy>(
        &self,
        y: usize,
        planes: [&[u8]; 3],
        t: &mut [T],
        conv: impl Fn(usize, u8) -> T,
    ) {
        let lb = self.lb;
        let w = lb.dst_w as usize;
        let plane = w * lb.dst_h as usize;
        let src = self.src.map(|s| planes[s]);
        let nw = src[0].len();
        let off = (y + lb.pad_y as usize) * w + lb.pad_x as usize;
        if self.nchw {
            for (c, bytes) in src.iter().enumerate() {
                let out = &mut t[c * plane + off..c * plane + off + nw];
                for (o, &v) in out.iter_mut().zip(bytes.iter()) {
                    *o = conv(c, v);
                }
            }
        } else {
            let out = &mut t[off * 3..(off + nw) * 3];
            for (x, o) in out.chunks_exact_mut(3).enumerate() {
                for (c, bytes) in src.iter().enumerate() {
                    o[c] = conv(c, bytes[x]);
                }
            }
        }
    }

    /// [`put_row`](Self::put_row) into a float NCHW tensor, 8 values at a
    /// time where AVX2 is there (the same floats as the table).
    fn put_floats(
        &self,
        y: usize,
        planes: [&[u8]; 3],
        t: &mut [f32],
        norm: &[simd::Normalise; 3],
        lut: &[[f32; 256]; 3],
    ) {
        let lb = self.lb;
        let w = lb.dst_w as usize;
        let plane = w * lb.dst_h as usize;
        let off = (y + lb.pad_y as usize) * w + lb.pad_x as usize;
        for (c, &s) in self.src.iter().enumerate() {
            let bytes = planes[s];
            let out = &mut t[c * plane + off..c * plane + off + bytes.len()];
            let done = simd::normalise(bytes, &norm[c], out);
            for (o, &v) in out[done..].iter_mut().zip(&bytes[done..]) {
                *o = lut[c][v as usize];
            }
        }
    }

    /// Tensor channel `c` of each pixel = `conv(c, its source byte)`.
    fn pack<T: Copy>(&self, img: &[u8], stride: usize, t: &mut [T], conv: impl Fn(usize, u8) -> T) {
        let lb = self.lb;
        let w = lb.dst_w as usize;
        let plane = w * lb.dst_h as usize;
        let (nw, nh) = (lb.new_w as usize, lb.new_h as usize);
        let [s0, s1, s2] = self.src;
        for y in 0..nh {
            let row = &img[y * stride..y * stride + nw * 3];
            let off = (y + lb.pad_y as usize) * w + lb.pad_x as usize;
            if self.nchw {
                let (p0, rest) = t.split_at_mut(plane);
                let (p1, p2) = rest.split_at_mut(plane);
                let (p0, p1, p2) = (
                    &mut p0[off..off + nw],
                    &mut p1[off..off + nw],
                    &mut p2[off..off + nw],
                );
                for (x, px) in row.chunks_exact(3).enumerate() {
                    p0[x] = conv(0, px[s0]);
                    p1[x] = conv(1, px[s1]);
                    p2[x] = conv(2, px[s2]);
                }
            } else {
                let out = &mut t[off * 3..(off + nw) * 3];
                for (o, px) in out.chunks_exact_mut(3).zip(row.chunks_exact(3)) {
                    o[0] = conv(0, px[s0]);
                    o[1] = conv(1, px[s1]);
                    o[2] = conv(2, px[s2]);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(shape: &[i64], element: Element, meta: &InputMeta) -> Result<InputSpec, String> {
        InputSpec::read(shape, element, meta, Resize::Letterbox)
    }

    #[test]
    fn reads_size_order_and_type_from_the_shape() {
        let s = spec(&[1, 3, 416, 320], Element::F32, &InputMeta::default()).unwrap();
        assert_eq!((s.width, s.height, s.nchw, s.bgr), (320, 416, true, false));
        assert_eq!((s.mean, s.std), ([0.0; 3], [255.0; 3]));
        let s = spec(&[1, 300, 300, 3], Element::U8, &InputMeta::default()).unwrap();
        assert_eq!((s.width, s.height, s.nchw), (300, 300, false));
        assert_eq!(s.shape(), [1, 300, 300, 3]);
        assert!(!s.dynamic_batch);
        let s = spec(&[-1, 3, 64, 32], Element::F32, &InputMeta::default()).unwrap();
        assert!(s.dynamic_batch);
        assert_eq!(
            (s.shape(), s.batch_shape(3)),
            ([1, 3, 64, 32], [3, 3, 64, 32])
        );
        let e = spec(&[1, 3, 64], Element::F32, &InputMeta::default()).unwrap_err();
        assert!(e.contains("rank 3"), "{e}");
        let e = spec(&[1, 4, 64, 64], Element::F32, &InputMeta::default()).unwrap_err();
        assert!(e.contains("[1, 4, 64, 64]"), "{e}");
        let e = spec(&[1, 3, -1, -1], Element::F32, &InputMeta::default()).unwrap_err();
        assert!(e.contains("fixed H, W"), "{e}");
    }

    #[test]
    fn metadata_sets_channels_normalisation_and_resize() {
        let meta = InputMeta {
            channels: Some("bgr".into()),
            mean: Some("103.53, 116.28,123.675".into()),
            std: Some("57.375,57.12,58.395".into()),
            resize: Some("stretch".into()),
        };
        let s = spec(&[1, 3, 416, 416], Element::F32, &meta).unwrap();
        assert!(s.bgr);
        assert_eq!(s.mean, [103.53, 116.28, 123.675]);
        assert_eq!(s.resize, Resize::Stretch);
        for bad in [
            InputMeta {
                channels: Some("gbr".into()),
                ..Default::default()
            },
            InputMeta {
                mean: Some("1,2".into()),
                ..Default::default()
            },
            InputMeta {
                std: Some("1,0,1".into()),
                ..Default::default()
            },
            InputMeta {
                std: Some("1,x,1".into()),
                ..Default::default()
            },
            InputMeta {
                resize: Some("crop".into()),
                ..Default::default()
            },
        ] {
            assert!(spec(&[1, 3, 8, 8], Element::F32, &bad).is_err(), "{bad:?}");
        }
    }

    /// A 2x1 frame letterboxed into 4x4: scale 2 -> 4x2, padding rows 0 and 3.
    fn packed(spec: InputSpec) -> InputTensor {
        let lb = spec.geometry(2, 1);
        assert_eq!((lb.new_w, lb.new_h, lb.pad_x, lb.pad_y), (4, 2, 0, 1));
        let p = Packer::new(spec);
        let mut t = p.blank();
        let img: Vec<u8> = std::iter::repeat_n([10u8, 20, 30], 8).flatten().collect();
        p.pack(&img, 12, &lb, &mut t);
        t
    }

    #[test]
    fn packs_float_nchw_rgb_over_255_with_grey_padding() {
        let s = spec(&[1, 3, 4, 4], Element::F32, &InputMeta::default()).unwrap();
        let InputTensor::F32(t) = packed(s) else {
            panic!("float input, float tensor")
        };
        let grey = 114.0 / 255.0;
        for c in 0..3 {
            let p = &t[c * 16..(c + 1) * 16];
            assert!(p[..4].iter().all(|&v| v == grey), "row 0 is padding");
            assert!(p[12..].iter().all(|&v| v == grey), "row 3 is padding");
        }
        assert_eq!(t[4], 30.0 / 255.0); // R plane gets byte 2
        assert_eq!(t[16 + 4], 20.0 / 255.0); // G
        assert_eq!(t[32 + 4], 10.0 / 255.0); // B
    }

    #[test]
    fn packs_float_bgr_with_mean_and_std() {
        let meta = InputMeta {
            channels: Some("bgr".into()),
            mean: Some("10,0,0".into()),
            std: Some("2,1,1".into()),
            ..Default::default()
        };
        let s = spec(&[1, 3, 4, 4], Element::F32, &meta).unwrap();
        let InputTensor::F32(t) = packed(s) else {
            panic!("float tensor")
        };
        assert_eq!(t[4], 0.0, "B plane first: (10 - 10) / 2");
        assert_eq!(t[16 + 4], 20.0);
        assert_eq!(t[32 + 4], 30.0);
        assert_eq!(t[0], (114.0 - 10.0) / 2.0, "padding normalised too");
    }

    #[test]
    fn packs_uint8_nhwc_rgb_bytes() {
        let s = spec(&[1, 4, 4, 3], Element::U8, &InputMeta::default()).unwrap();
        let InputTensor::U8(t) = packed(s) else {
            panic!("uint8 input, uint8 tensor")
        };
        assert_eq!(&t[..3], &[114, 114, 114], "row 0 is padding");
        assert_eq!(&t[12..15], &[30, 20, 10], "pixel (0,1): R, G, B");
        assert_eq!(t.len(), 48);
    }
}
