//! Pure maths of detection: letterbox geometry, tensor packing, YOLO output
//! decoding, IoU and class-wise NMS. No I/O here; everything is unit-tested.

/// An axis-aligned box: top-left corner and size, in pixels.
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct BBox {
    pub x: f32,
    pub y: f32,
    pub width: f32,
    pub height: f32,
}

impl BBox {
    pub fn from_corners(x1: f32, y1: f32, x2: f32, y2: f32) -> BBox {
        BBox {
            x: x1,
            y: y1,
            width: (x2 - x1).max(0.0),
            height: (y2 - y1).max(0.0),
        }
    }
    pub fn area(&self) -> f32 {
        self.width.max(0.0) * self.height.max(0.0)
    }
    pub fn x2(&self) -> f32 {
        self.x + self.width
    }
    pub fn y2(&self) -> f32 {
        self.y + self.height
    }
}

/// One detection in frame pixels.
#[derive(Debug, Clone, PartialEq)]
pub struct Detection {
    pub class_id: u32,
    pub score: f32,
    pub bbox: BBox,
}

/// Intersection over union of two boxes; 0 when either is empty.
pub fn iou(a: &BBox, b: &BBox) -> f32 {
    let ix = (a.x2().min(b.x2()) - a.x.max(b.x)).max(0.0);
    let iy = (a.y2().min(b.y2()) - a.y.max(b.y)).max(0.0);
    let inter = ix * iy;
    let union = a.area() + b.area() - inter;
    if union <= 0.0 || !union.is_finite() {
        0.0
    } else {
        inter / union
    }
}

/// Class-wise non-maximum suppression: keeps, per class, the best-scoring boxes
/// whose IoU with every kept box of the same class is at most `iou_threshold`.
/// The result is sorted by descending score and holds at most `max_keep` boxes.
pub fn nms(mut dets: Vec<Detection>, iou_threshold: f32, max_keep: usize) -> Vec<Detection> {
    dets.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut kept: Vec<Detection> = Vec::with_capacity(dets.len().min(max_keep));
    for d in dets {
        if kept.len() >= max_keep {
            break;
        }
        let suppressed = kept
            .iter()
            .any(|k| k.class_id == d.class_id && iou(&k.bbox, &d.bbox) > iou_threshold);
        if !suppressed {
            kept.push(d);
        }
    }
    kept
}

/// How a frame maps into the model's input: scaled by `scale`, then placed at
/// (`pad_x`, `pad_y`) inside a `dst_w` x `dst_h` canvas filled with grey.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Letterbox {
    pub src_w: u32,
    pub src_h: u32,
    pub dst_w: u32,
    pub dst_h: u32,
    pub scale: f32,
    pub new_w: u32,
    pub new_h: u32,
    pub pad_x: u32,
    pub pad_y: u32,
}

/// The grey YOLO models are trained with for padding (114/255).
pub const PAD_VALUE: u8 = 114;

impl Letterbox {
    /// Fit `src` into `dst` keeping the aspect ratio, centred.
    pub fn new(src_w: u32, src_h: u32, dst_w: u32, dst_h: u32) -> Letterbox {
        let scale = (dst_w as f32 / src_w.max(1) as f32).min(dst_h as f32 / src_h.max(1) as f32);
        let new_w = ((src_w as f32 * scale).round() as u32).clamp(1, dst_w.max(1));
        let new_h = ((src_h as f32 * scale).round() as u32).clamp(1, dst_h.max(1));
        Letterbox {
            src_w,
            src_h,
            dst_w,
            dst_h,
            scale,
            new_w,
            new_h,
            pad_x: (dst_w - new_w) / 2,
            pad_y: (dst_h - new_h) / 2,
        }
    }

    /// Map a box in model-input pixels back to frame pixels, clipped to the frame.
    pub fn to_frame(&self, b: &BBox) -> BBox {
        let fx = |x: f32| ((x - self.pad_x as f32) / self.scale).clamp(0.0, self.src_w as f32);
        let fy = |y: f32| ((y - self.pad_y as f32) / self.scale).clamp(0.0, self.src_h as f32);
        BBox::from_corners(fx(b.x), fy(b.y), fx(b.x2()), fy(b.y2()))
    }

    /// Fill the constant padding of an NCHW RGB tensor (`3 * dst_w * dst_h`).
    /// Only the padding: [`pack_nchw`] writes the rest every frame.
    pub fn fill_padding(&self, tensor: &mut [f32]) {
        let pad = PAD_VALUE as f32 / 255.0;
        let (w, h) = (self.dst_w as usize, self.dst_h as usize);
        let plane = w * h;
        for c in 0..3 {
            let p = &mut tensor[c * plane..(c + 1) * plane];
            for y in 0..h {
                let inside_y = y >= self.pad_y as usize && y < (self.pad_y + self.new_h) as usize;
                let row = &mut p[y * w..(y + 1) * w];
                if inside_y {
                    row[..self.pad_x as usize].fill(pad);
                    row[(self.pad_x + self.new_w) as usize..].fill(pad);
                } else {
                    row.fill(pad);
                }
            }
        }
    }
}

/// 1/255 for every byte value.
fn unit_lut() -> &'static [f32; 256] {
    static LUT: std::sync::OnceLock<[f32; 256]> = std::sync::OnceLock::new();
    LUT.get_or_init(|| {
        let mut t = [0.0f32; 256];
        for (i, v) in t.iter_mut().enumerate() {
            *v = i as f32 / 255.0;
        }
        t
    })
}

/// Pack an already resized BGR24 image (`lb.new_w` x `lb.new_h`, rows of
/// `stride` bytes) into the inner region of an NCHW RGB float tensor, /255.
pub fn pack_nchw(resized_bgr: &[u8], stride: usize, lb: &Letterbox, tensor: &mut [f32]) {
    let lut = unit_lut();
    let w = lb.dst_w as usize;
    let plane = w * lb.dst_h as usize;
    let (nw, nh) = (lb.new_w as usize, lb.new_h as usize);
    let (r_plane, rest) = tensor.split_at_mut(plane);
    let (g_plane, b_plane) = rest.split_at_mut(plane);
    for y in 0..nh {
        let src = &resized_bgr[y * stride..y * stride + nw * 3];
        let off = (y + lb.pad_y as usize) * w + lb.pad_x as usize;
        let r = &mut r_plane[off..off + nw];
        let g = &mut g_plane[off..off + nw];
        let b = &mut b_plane[off..off + nw];
        for (x, px) in src.chunks_exact(3).enumerate() {
            b[x] = lut[px[0] as usize];
            g[x] = lut[px[1] as usize];
            r[x] = lut[px[2] as usize];
        }
    }
}

/// Shape of a YOLOv8-family output `[1, 4 + classes, anchors]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct YoloLayout {
    pub classes: usize,
    pub anchors: usize,
}

/// Decode a YOLOv8-family output (row-major `[4 + C, N]`, batch 1): per anchor
/// the best class; keep those scoring at least `confidence`; boxes (cx, cy, w, h
/// in input pixels) are mapped to frame pixels with `lb`. No NMS here.
/// `best`/`best_class` are scratch buffers reused across frames.
pub fn decode_yolo(
    data: &[f32],
    layout: YoloLayout,
    confidence: f32,
    lb: &Letterbox,
    scratch: &mut DecodeScratch,
) -> Vec<Detection> {
    let n = layout.anchors;
    let c = layout.classes;
    if data.len() < (4 + c) * n {
        return Vec::new();
    }
    scratch.best.clear();
    scratch.best.resize(n, f32::NEG_INFINITY);
    scratch.class.clear();
    scratch.class.resize(n, 0);
    // Class-major: each class row is contiguous, so walk rows, not columns.
    for k in 0..c {
        let row = &data[(4 + k) * n..(5 + k) * n];
        for (i, &s) in row.iter().enumerate() {
            if s > scratch.best[i] {
                scratch.best[i] = s;
                scratch.class[i] = k as u32;
            }
        }
    }
    let mut out = Vec::new();
    for i in 0..n {
        let score = scratch.best[i];
        // NaN scores fail this test too.
        if score.is_nan() || score < confidence {
            continue;
        }
        let (cx, cy, w, h) = (data[i], data[n + i], data[2 * n + i], data[3 * n + i]);
        if !(w > 0.0 && h > 0.0) {
            continue;
        }
        let input_box = BBox {
            x: cx - w / 2.0,
            y: cy - h / 2.0,
            width: w,
            height: h,
        };
        let bbox = lb.to_frame(&input_box);
        if bbox.area() <= 0.0 {
            continue;
        }
        out.push(Detection {
            class_id: scratch.class[i],
            score,
            bbox,
        });
    }
    out
}

/// Buffers [`decode_yolo`] reuses from frame to frame.
#[derive(Debug, Default)]
pub struct DecodeScratch {
    best: Vec<f32>,
    class: Vec<u32>,
}

/// Parse the Ultralytics `names` metadata (a Python dict literal such as
/// `{0: 'person', 1: 'bicycle'}`) into labels indexed by class id. `None`
/// unless it parses and every id is below `classes` (the model's class
/// count), so that metadata never decides how much is allocated.
pub fn parse_names(text: &str, classes: usize) -> Option<Vec<String>> {
    let body = text.trim().strip_prefix('{')?.strip_suffix('}')?;
    let mut pairs: Vec<(usize, String)> = Vec::new();
    let mut rest = body.trim();
    while !rest.is_empty() {
        let colon = rest.find(':')?;
        let id: usize = rest[..colon]
            .trim()
            .parse()
            .ok()
            .filter(|&id| id < classes)?;
        let after = rest[colon + 1..].trim_start();
        let quote = after.chars().next()?;
        if quote != '\'' && quote != '"' {
            return None;
        }
        let end = after[1..].find(quote)? + 1;
        pairs.push((id, after[1..end].to_string()));
        rest = after[end + 1..].trim_start();
        rest = rest.strip_prefix(',').unwrap_or(rest).trim_start();
    }
    if pairs.is_empty() {
        return None;
    }
    let len = pairs.iter().map(|(i, _)| i + 1).max()?;
    let mut names = vec![String::new(); len];
    for (i, name) in pairs {
        names[i] = name;
    }
    for (i, n) in names.iter_mut().enumerate() {
        if n.is_empty() {
            *n = format!("class{i}");
        }
    }
    Some(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn det(class_id: u32, score: f32, x: f32, y: f32, w: f32, h: f32) -> Detection {
        Detection {
            class_id,
            score,
            bbox: BBox {
                x,
                y,
                width: w,
                height: h,
            },
        }
    }

    #[test]
    fn iou_of_identical_disjoint_and_half_overlapping_boxes() {
        let a = BBox {
            x: 0.0,
            y: 0.0,
            width: 10.0,
            height: 10.0,
        };
        assert_eq!(iou(&a, &a), 1.0);
        let far = BBox {
            x: 20.0,
            y: 20.0,
            width: 10.0,
            height: 10.0,
        };
        assert_eq!(iou(&a, &far), 0.0);
        let half = BBox {
            x: 5.0,
            y: 0.0,
            width: 10.0,
            height: 10.0,
        };
        // intersection 50, union 150
        assert!((iou(&a, &half) - 1.0 / 3.0).abs() < 1e-6);
        let empty = BBox {
            x: 0.0,
            y: 0.0,
            width: 0.0,
            height: 0.0,
        };
        assert_eq!(iou(&empty, &empty), 0.0);
    }

    #[test]
    fn nms_suppresses_overlaps_within_a_class_only() {
        let dets = vec![
            det(0, 0.9, 0.0, 0.0, 10.0, 10.0),
            det(0, 0.8, 1.0, 0.0, 10.0, 10.0), // overlaps the first: suppressed
            det(1, 0.7, 1.0, 0.0, 10.0, 10.0), // other class: kept
            det(0, 0.6, 50.0, 50.0, 10.0, 10.0), // far away: kept
        ];
        let kept = nms(dets, 0.5, 100);
        let scores: Vec<f32> = kept.iter().map(|d| d.score).collect();
        assert_eq!(scores, vec![0.9, 0.7, 0.6]);
        let capped = nms(kept, 0.5, 2);
        assert_eq!(capped.len(), 2);
    }

    #[test]
    fn letterbox_of_vtest_size_into_640() {
        let lb = Letterbox::new(768, 576, 640, 640);
        assert!((lb.scale - 640.0 / 768.0).abs() < 1e-6);
        assert_eq!((lb.new_w, lb.new_h), (640, 480));
        assert_eq!((lb.pad_x, lb.pad_y), (0, 80));
        // A box in input pixels maps back to frame pixels.
        let b = lb.to_frame(&BBox {
            x: 100.0,
            y: 180.0,
            width: 50.0,
            height: 100.0,
        });
        assert!((b.x - 120.0).abs() < 1e-3 && (b.y - 120.0).abs() < 1e-3);
        assert!((b.width - 60.0).abs() < 1e-3 && (b.height - 120.0).abs() < 1e-3);
        // Boxes reaching into the padding are clipped to the frame.
        let c = lb.to_frame(&BBox {
            x: -10.0,
            y: 0.0,
            width: 700.0,
            height: 700.0,
        });
        assert_eq!((c.x, c.y), (0.0, 0.0));
        assert_eq!((c.x2(), c.y2()), (768.0, 576.0));
    }

    #[test]
    fn letterbox_of_tall_image_pads_left_and_right() {
        let lb = Letterbox::new(100, 200, 64, 64);
        assert_eq!((lb.new_w, lb.new_h), (32, 64));
        assert_eq!((lb.pad_x, lb.pad_y), (16, 0));
    }

    #[test]
    fn packing_writes_rgb_planes_and_padding_is_grey() {
        let lb = Letterbox::new(2, 1, 4, 4); // scale 2 -> 4x2, pad_y 1
        assert_eq!((lb.new_w, lb.new_h, lb.pad_x, lb.pad_y), (4, 2, 0, 1));
        let mut t = vec![-1.0f32; 3 * 16];
        lb.fill_padding(&mut t);
        // resized image 4x2, BGR pixel (10, 20, 30) everywhere, stride 12
        let img: Vec<u8> = std::iter::repeat_n([10u8, 20, 30], 8).flatten().collect();
        pack_nchw(&img, 12, &lb, &mut t);
        let grey = 114.0 / 255.0;
        for c in 0..3 {
            let p = &t[c * 16..(c + 1) * 16];
            assert!(p[..4].iter().all(|&v| v == grey), "row 0 is padding");
            assert!(p[12..].iter().all(|&v| v == grey), "row 3 is padding");
        }
        assert_eq!(t[4], 30.0 / 255.0); // R plane gets byte 2
        assert_eq!(t[16 + 4], 20.0 / 255.0); // G
        assert_eq!(t[32 + 4], 10.0 / 255.0); // B
        assert!(t.iter().all(|&v| v >= 0.0), "every element written");
    }

    #[test]
    fn decode_picks_best_class_and_maps_to_frame() {
        // 2 classes, 3 anchors; layout [4+2, 3]
        let n = 3;
        let mut data = vec![0.0f32; 6 * n];
        let set = |d: &mut Vec<f32>, row: usize, i: usize, v: f32| d[row * n + i] = v;
        // anchor 0: box at (cx 100, cy 180, 50x100) class 1 score 0.9
        set(&mut data, 0, 0, 125.0);
        set(&mut data, 1, 0, 230.0);
        set(&mut data, 2, 0, 50.0);
        set(&mut data, 3, 0, 100.0);
        set(&mut data, 4, 0, 0.2);
        set(&mut data, 5, 0, 0.9);
        // anchor 1: below threshold
        set(&mut data, 2, 1, 10.0);
        set(&mut data, 3, 1, 10.0);
        set(&mut data, 4, 1, 0.1);
        // anchor 2: zero-size box, high score: dropped
        set(&mut data, 4, 2, 0.95);
        let lb = Letterbox::new(768, 576, 640, 640);
        let mut scratch = DecodeScratch::default();
        let dets = decode_yolo(
            &data,
            YoloLayout {
                classes: 2,
                anchors: n,
            },
            0.25,
            &lb,
            &mut scratch,
        );
        assert_eq!(dets.len(), 1);
        assert_eq!(dets[0].class_id, 1);
        assert!((dets[0].score - 0.9).abs() < 1e-6);
        assert!((dets[0].bbox.x - 120.0).abs() < 1e-3);
        assert!((dets[0].bbox.y - 120.0).abs() < 1e-3);
        // A short buffer decodes to nothing instead of panicking.
        assert!(decode_yolo(
            &data[..5],
            YoloLayout {
                classes: 2,
                anchors: n
            },
            0.25,
            &lb,
            &mut scratch
        )
        .is_empty());
    }

    #[test]
    fn parses_ultralytics_names() {
        let names = parse_names("{0: 'person', 1: \"bicycle\", 3: 'motorcycle'}", 80).unwrap();
        assert_eq!(names, vec!["person", "bicycle", "class2", "motorcycle"]);
        assert!(parse_names("not a dict", 80).is_none());
        assert!(parse_names("{}", 80).is_none());
        // Ids past the model's classes, up to usize::MAX: rejected, nothing allocated.
        assert!(parse_names("{0: 'a', 80: 'b'}", 80).is_none());
        assert!(parse_names("{1000000000000: 'x'}", 80).is_none());
        assert!(parse_names("{18446744073709551615: 'x'}", 80).is_none());
    }
}
