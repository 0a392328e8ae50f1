//! Pure maths of detection: boxes, letterbox/stretch geometry, IoU,
//! class-wise NMS and the `names` metadata. No I/O here; everything is
//! unit-tested. Packing and output decoding live in `layouts/`.

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

/// How a frame maps into the model's input: scaled by `scale_x`/`scale_y`
/// to `new_w` x `new_h`, then placed at (`pad_x`, `pad_y`) inside a `dst_w` x
/// `dst_h` canvas filled with grey. A letterbox keeps the aspect ratio (one
/// scale, centred); a stretch fills the whole canvas (no padding).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Letterbox {
    pub src_w: u32,
    pub src_h: u32,
    pub dst_w: u32,
    pub dst_h: u32,
    pub scale_x: f32,
    pub scale_y: f32,
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
            scale_x: scale,
            scale_y: scale,
            new_w,
            new_h,
            pad_x: (dst_w - new_w) / 2,
            pad_y: (dst_h - new_h) / 2,
        }
    }

    /// Stretch `src` over the whole of `dst` (each axis its own scale).
    pub fn stretch(src_w: u32, src_h: u32, dst_w: u32, dst_h: u32) -> Letterbox {
        let (dst_w, dst_h) = (dst_w.max(1), dst_h.max(1));
        Letterbox {
            src_w,
            src_h,
            dst_w,
            dst_h,
            scale_x: dst_w as f32 / src_w.max(1) as f32,
            scale_y: dst_h as f32 / src_h.max(1) as f32,
            new_w: dst_w,
            new_h: dst_h,
            pad_x: 0,
            pad_y: 0,
        }
    }

    /// Map a box in model-input pixels back to frame pixels, clipped to the frame.
    pub fn to_frame(&self, b: &BBox) -> BBox {
        let fx = |x: f32| ((x - self.pad_x as f32) / self.scale_x).clamp(0.0, self.src_w as f32);
        let fy = |y: f32| ((y - self.pad_y as f32) / self.scale_y).clamp(0.0, self.src_h as f32);
        BBox::from_corners(fx(b.x), fy(b.y), fx(b.x2()), fy(b.y2()))
    }
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
        assert!((lb.scale_x - 640.0 / 768.0).abs() < 1e-6 && lb.scale_y == lb.scale_x);
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
    fn stretch_scales_each_axis_and_maps_back() {
        let lb = Letterbox::stretch(768, 576, 300, 300);
        assert_eq!((lb.new_w, lb.new_h, lb.pad_x, lb.pad_y), (300, 300, 0, 0));
        let b = lb.to_frame(&BBox {
            x: 150.0,
            y: 75.0,
            width: 30.0,
            height: 60.0,
        });
        assert!(
            (b.x - 384.0).abs() < 1e-3 && (b.y - 144.0).abs() < 1e-3,
            "{b:?}"
        );
        assert!(
            (b.width - 76.8).abs() < 1e-3 && (b.height - 115.2).abs() < 1e-3,
            "{b:?}"
        );
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
