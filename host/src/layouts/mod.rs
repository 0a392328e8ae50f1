//! Output layouts of detection models: which one a model has (recognised
//! from its outputs, or named by the model's `edgepipe.layout` metadata or
//! `[model] layout`), and each one's decoding into detections in frame
//! pixels. One file per layout, pure functions; the input side in `input`.

pub mod batch;
pub mod end2end;
pub mod input;
mod recognise;
pub mod resize;
mod simd;
pub mod tfod;
pub mod yolov5;
pub mod yolov8;

use thiserror::Error;

use crate::detect::{Detection, Letterbox};

pub use recognise::recognise;

/// The layouts edgepipe reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayoutKind {
    /// `[1, 4 + C, N]`, NMS in the host.
    Yolov8,
    /// `[1, N, 5 + C]` with objectness, NMS in the host.
    Yolov5,
    /// `[1, N, 6]` x1, y1, x2, y2, score, class; no NMS.
    End2End,
    /// TensorFlow Object Detection API: num_detections, boxes, scores, classes.
    Tfod,
}

impl LayoutKind {
    pub const ALL: [LayoutKind; 4] = [
        LayoutKind::Yolov8,
        LayoutKind::Yolov5,
        LayoutKind::End2End,
        LayoutKind::Tfod,
    ];

    pub fn name(self) -> &'static str {
        match self {
            LayoutKind::Yolov8 => "yolov8",
            LayoutKind::Yolov5 => "yolov5",
            LayoutKind::End2End => "end2end",
            LayoutKind::Tfod => "tfod",
        }
    }

    /// How frames are fitted to the input when the model does not say.
    pub fn default_resize(self) -> input::Resize {
        match self {
            LayoutKind::Tfod => input::Resize::Stretch,
            _ => input::Resize::Letterbox,
        }
    }
}

impl std::fmt::Display for LayoutKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for LayoutKind {
    type Err = String;
    fn from_str(s: &str) -> Result<LayoutKind, String> {
        LayoutKind::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| format!("unknown layout `{s}` (yolov8, yolov5, end2end, tfod)"))
    }
}

/// One output of the model as declared (-1: a dynamic dimension).
#[derive(Debug, Clone, PartialEq)]
pub struct OutputInfo {
    pub name: String,
    pub shape: Vec<i64>,
    pub float: bool,
}

/// A recognised layout: its kind and the outputs it reads (indices into
/// the model's outputs).
#[derive(Debug, Clone, PartialEq)]
pub enum Layout {
    Yolov8 {
        output: usize,
        classes: usize,
    },
    /// YOLOv8 with its scores reduced in the graph (`model_fold`): boxes
    /// `[1, 4, N]`, best score `[1, 1, N]`, best class `[1, 1, N]` (float).
    Yolov8Best {
        outputs: [usize; 3],
        classes: usize,
    },
    Yolov5 {
        output: usize,
        classes: usize,
    },
    End2End {
        output: usize,
    },
    Tfod {
        outputs: [usize; 4],
    },
}

impl Layout {
    pub fn kind(&self) -> LayoutKind {
        match self {
            Layout::Yolov8 { .. } | Layout::Yolov8Best { .. } => LayoutKind::Yolov8,
            Layout::Yolov5 { .. } => LayoutKind::Yolov5,
            Layout::End2End { .. } => LayoutKind::End2End,
            Layout::Tfod { .. } => LayoutKind::Tfod,
        }
    }

    /// The class count the outputs' shapes fix (`None`: only the labels say).
    pub fn classes(&self) -> Option<usize> {
        match self {
            Layout::Yolov8 { classes, .. }
            | Layout::Yolov8Best { classes, .. }
            | Layout::Yolov5 { classes, .. } => Some(*classes),
            _ => None,
        }
    }

    /// The outputs read, in the order [`decode`] takes their data.
    pub fn outputs(&self) -> Vec<usize> {
        match self {
            Layout::Yolov8 { output, .. }
            | Layout::Yolov5 { output, .. }
            | Layout::End2End { output } => vec![*output],
            Layout::Yolov8Best { outputs, .. } => outputs.to_vec(),
            Layout::Tfod { outputs } => outputs.to_vec(),
        }
    }

    /// Whether the host runs NMS after decoding (not when the graph did).
    pub fn needs_nms(&self) -> bool {
        matches!(
            self,
            Layout::Yolov8 { .. } | Layout::Yolov8Best { .. } | Layout::Yolov5 { .. }
        )
    }
}

/// A frame's outputs that the model gave but that cannot be read.
#[derive(Debug, Error, PartialEq)]
pub enum DecodeError {
    #[error("class id {class} is beyond the model's {labels} labels")]
    ClassBeyondLabels { class: String, labels: usize },
    #[error("output has shape {0:?}, not the layout's")]
    Shape(Vec<i64>),
}

/// A class id given as a float (`first`: the id of the first label); an
/// error unless it is a whole number naming one of `labels` labels.
pub(crate) fn class_id(raw: f32, first: f32, labels: usize) -> Result<u32, DecodeError> {
    let id = raw - first;
    if id >= 0.0 && id.fract() == 0.0 && (id as usize) < labels {
        Ok(id as u32)
    } else {
        Err(DecodeError::ClassBeyondLabels {
            class: id.to_string(),
            labels,
        })
    }
}

/// One output of a run as [`decode`] takes it: its shape and values.
pub type OutputView<'a> = (&'a [i64], &'a [f32]);

/// Settings of decoding.
#[derive(Debug, Clone, Copy)]
pub struct DecodeParams {
    pub confidence: f32,
    pub iou: f32,
    pub max_detections: usize,
    /// How many labels the model has: class ids must stay below.
    pub labels: usize,
}

/// Decode one frame's outputs (`data[i]`: shape and values of the i-th of
/// [`Layout::outputs`]) into detections in frame pixels, best first, NMS
/// applied where the layout needs it.
pub fn decode(
    layout: &Layout,
    data: &[(&[i64], &[f32])],
    p: &DecodeParams,
    lb: &Letterbox,
    scratch: &mut yolov8::DecodeScratch,
) -> Result<Vec<Detection>, DecodeError> {
    let first = data.first().ok_or(DecodeError::Shape(Vec::new()))?;
    let dets = match layout {
        Layout::Yolov8 { classes, .. } => {
            let anchors = rows_of(first.0, 1, 4 + classes)?;
            let shape = yolov8::Shape {
                classes: *classes,
                anchors,
            };
            yolov8::decode(first.1, shape, p.confidence, lb, scratch)
        }
        Layout::Yolov8Best { .. } => {
            let anchors = rows_of(first.0, 1, 4)?;
            let rows = |i: usize| -> Result<&[f32], DecodeError> {
                let (shape, values) = data.get(i).ok_or(DecodeError::Shape(Vec::new()))?;
                match rows_of(shape, 1, 1)? == anchors && values.len() >= anchors {
                    true => Ok(values),
                    false => Err(DecodeError::Shape(shape.to_vec())),
                }
            };
            let best = yolov8::Best {
                score: rows(1)?,
                class: rows(2)?,
            };
            yolov8::decode_best(first.1, anchors, &best, p.confidence, lb)
        }
        Layout::Yolov5 { classes, .. } => {
            rows_of(first.0, 2, 5 + classes)?;
            yolov5::decode(first.1, *classes, p.confidence, lb)
        }
        Layout::End2End { .. } => {
            rows_of(first.0, 2, 6)?;
            end2end::decode(first.1, p.confidence, p.labels, lb)?
        }
        Layout::Tfod { .. } => {
            let [num, boxes, scores, classes] =
                [0, 1, 2, 3].map(|i| data.get(i).map_or(&[][..], |d| d.1));
            let o = tfod::Outputs {
                num,
                boxes,
                scores,
                classes,
            };
            tfod::decode(&o, p.confidence, p.labels, lb)?
        }
    };
    Ok(if layout.needs_nms() {
        crate::detect::nms(dets, p.iou, p.max_detections)
    } else {
        let mut dets = dets;
        dets.sort_by(|a, b| b.score.total_cmp(&a.score));
        dets.truncate(p.max_detections);
        dets
    })
}

/// The row count of a rank-3 batch-1 output whose dimension `fixed` (1 or
/// 2) is `width`; an error for any other shape.
fn rows_of(shape: &[i64], fixed: usize, width: usize) -> Result<usize, DecodeError> {
    let ok = shape.len() == 3 && shape[0] == 1 && shape[fixed] == width as i64;
    let rows = shape.get(3 - fixed).copied().unwrap_or(-1);
    if ok && rows >= 0 {
        Ok(rows as usize)
    } else {
        Err(DecodeError::Shape(shape.to_vec()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_names_round_trip() {
        for k in LayoutKind::ALL {
            assert_eq!(k.name().parse::<LayoutKind>(), Ok(k));
        }
        assert!("ssd"
            .parse::<LayoutKind>()
            .unwrap_err()
            .contains("yolov8, yolov5"));
    }

    #[test]
    fn nms_only_where_the_graph_did_none() {
        let lb = Letterbox::new(100, 100, 100, 100);
        let p = DecodeParams {
            confidence: 0.25,
            iou: 0.45,
            max_detections: 10,
            labels: 1,
        };
        let mut s = yolov8::DecodeScratch::default();
        // Two overlapping boxes of class 0.
        #[rustfmt::skip]
        let rows = [10.0, 10.0, 50.0, 50.0, 0.9, 0.0, 11.0, 10.0, 51.0, 50.0, 0.8, 0.0];
        let e2e = Layout::End2End { output: 0 };
        let dets = decode(&e2e, &[(&[1, 2, 6], &rows)], &p, &lb, &mut s).unwrap();
        assert_eq!(
            dets.len(),
            2,
            "end-to-end output is kept as the model gave it"
        );
        // The same two boxes as YOLOv5 rows (cx, cy, w, h, obj, class score).
        #[rustfmt::skip]
        let v5 = [30.0, 30.0, 40.0, 40.0, 0.9, 1.0, 31.0, 30.0, 40.0, 40.0, 0.8, 1.0];
        let y5 = Layout::Yolov5 {
            output: 0,
            classes: 1,
        };
        let dets = decode(&y5, &[(&[1, 2, 6], &v5)], &p, &lb, &mut s).unwrap();
        assert_eq!(dets.len(), 1, "NMS in the host");
        let e = decode(&y5, &[(&[1, 6, 2], &v5)], &p, &lb, &mut s).unwrap_err();
        assert_eq!(e, DecodeError::Shape(vec![1, 6, 2]));
    }
}
