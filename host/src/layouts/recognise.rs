//! Which layout a model's outputs have: the one named (setting or the
//! model's `edgepipe.layout` metadata), checked against the outputs, else
//! the one their names and shapes show; else a refusal naming the outputs.

use super::{Layout, LayoutKind, OutputInfo};

/// The names of the Object Detection API outputs, in [`Layout::Tfod`] order.
const TFOD_NAMES: [&str; 4] = [
    "num_detections",
    "detection_boxes",
    "detection_scores",
    "detection_classes",
];

/// The order layouts are tried in: names first, then `[1, N, 6]` as
/// end-to-end before the wider row layouts.
const AUTO: [LayoutKind; 4] = [
    LayoutKind::Tfod,
    LayoutKind::End2End,
    LayoutKind::Yolov8,
    LayoutKind::Yolov5,
];

/// The layout of `outputs`; `named`: the layout asked for.
pub fn recognise(outputs: &[OutputInfo], named: Option<LayoutKind>) -> Result<Layout, String> {
    let found = match named {
        Some(kind) => fit(outputs, kind),
        None => AUTO.into_iter().find_map(|k| fit(outputs, k)),
    };
    if let Some(layout) = found {
        return Ok(layout);
    }
    let list: Vec<String> = outputs
        .iter()
        .map(|o| {
            format!(
                "`{}` {:?}{}",
                o.name,
                o.shape,
                if o.float { "" } else { " (not float32)" }
            )
        })
        .collect();
    Err(match named {
        Some(kind) => format!("outputs {} do not fit layout {kind}", list.join(", ")),
        None => format!("outputs {} match no layout", list.join(", ")),
    })
}

/// `outputs` read as `kind`, if they fit it.
fn fit(outputs: &[OutputInfo], kind: LayoutKind) -> Option<Layout> {
    if kind == LayoutKind::Tfod {
        let find = |name: &str| {
            outputs
                .iter()
                .position(|o| o.float && o.name.split(':').next() == Some(name))
        };
        let idx = TFOD_NAMES.map(find);
        return match idx {
            [Some(a), Some(b), Some(c), Some(d)] => Some(Layout::Tfod {
                outputs: [a, b, c, d],
            }),
            _ => None,
        };
    }
    // The single-tensor layouts read the first output.
    let o = outputs.first().filter(|o| o.float && o.shape.len() == 3)?;
    if !(o.shape[0] == 1 || o.shape[0] == -1) {
        return None;
    }
    let (a, b) = (o.shape[1], o.shape[2]);
    match kind {
        LayoutKind::End2End => (b == 6).then_some(Layout::End2End { output: 0 }),
        LayoutKind::Yolov8 => (a >= 5 && (b == -1 || a < b)).then(|| Layout::Yolov8 {
            output: 0,
            classes: (a - 4) as usize,
        }),
        LayoutKind::Yolov5 => (b >= 6 && (a == -1 || a > b)).then(|| Layout::Yolov5 {
            output: 0,
            classes: (b - 5) as usize,
        }),
        LayoutKind::Tfod => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn out(name: &str, shape: &[i64]) -> OutputInfo {
        OutputInfo {
            name: name.into(),
            shape: shape.to_vec(),
            float: true,
        }
    }

    #[test]
    fn shapes_and_names_show_the_layout() {
        let r = |o: &[OutputInfo]| recognise(o, None);
        assert_eq!(
            r(&[out("output0", &[1, 84, 8400])]),
            Ok(Layout::Yolov8 {
                output: 0,
                classes: 80
            })
        );
        assert_eq!(
            r(&[out("output0", &[1, 84, 3549])]).map(|l| l.classes()),
            Ok(Some(80))
        );
        assert_eq!(
            r(&[out("rows", &[1, 8400, 85])]),
            Ok(Layout::Yolov5 {
                output: 0,
                classes: 80
            })
        );
        assert_eq!(
            r(&[out("dets", &[1, -1, 6])]),
            Ok(Layout::End2End { output: 0 })
        );
        assert_eq!(
            r(&[out("dets", &[1, 300, 6])]),
            Ok(Layout::End2End { output: 0 })
        );
        let tfod = [
            out("num_detections:0", &[-1]),
            out("detection_boxes:0", &[-1, -1, -1]),
            out("detection_scores:0", &[-1, -1]),
            out("detection_classes:0", &[-1, -1]),
        ];
        assert_eq!(
            r(&tfod),
            Ok(Layout::Tfod {
                outputs: [0, 1, 2, 3]
            })
        );
        let mut shuffled = tfod.to_vec();
        shuffled.rotate_left(1);
        assert_eq!(
            r(&shuffled),
            Ok(Layout::Tfod {
                outputs: [3, 0, 1, 2]
            })
        );
    }

    #[test]
    fn outputs_of_no_layout_are_refused_with_their_shapes() {
        let e = recognise(&[out("out", &[1, 3, 32, 32])], None).unwrap_err();
        assert_eq!(e, "outputs `out` [1, 3, 32, 32] match no layout");
        let e = recognise(&[out("a", &[2, 84, 8400]), out("b", &[7])], None).unwrap_err();
        assert!(e.contains("`a` [2, 84, 8400], `b` [7]"), "{e}");
        let mut int = out("out", &[1, 84, 8400]);
        int.float = false;
        let e = recognise(&[int], None).unwrap_err();
        assert!(e.contains("(not float32)"), "{e}");
        assert!(recognise(&[], None).is_err());
    }

    #[test]
    fn a_named_layout_wins_but_must_fit() {
        // A one-class YOLOv5 model looks end-to-end by shape; naming decides.
        let one_class = [out("rows", &[1, 8400, 6])];
        assert_eq!(
            recognise(&one_class, None),
            Ok(Layout::End2End { output: 0 })
        );
        assert_eq!(
            recognise(&one_class, Some(LayoutKind::Yolov5)),
            Ok(Layout::Yolov5 {
                output: 0,
                classes: 1
            })
        );
        let e = recognise(&[out("output0", &[1, 84, 8400])], Some(LayoutKind::Tfod)).unwrap_err();
        assert_eq!(e, "outputs `output0` [1, 84, 8400] do not fit layout tfod");
    }
}
