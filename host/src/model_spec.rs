//! What an ONNX Runtime session says about its model: the input (shape,
//! type, `edgepipe.*` metadata) and the output layout, read once at load.

use ort::session::Session;
use ort::value::{TensorElementType, ValueType};

use crate::layouts::input::{Element, InputMeta, InputSpec};
use crate::layouts::{recognise, Layout, LayoutKind, OutputInfo};

/// The model's input and output layout.
pub struct ModelSpec {
    pub input_name: String,
    pub input: InputSpec,
    pub output_names: Vec<String>,
    pub layout: Layout,
}

fn tensor_dims(v: &ValueType) -> Option<(TensorElementType, Vec<i64>)> {
    match v {
        ValueType::Tensor { ty, shape, .. } => Some((*ty, shape.iter().copied().collect())),
        _ => None,
    }
}

/// One of the model's `edgepipe.*` (or other) metadata values.
fn custom(session: &Session, key: &str) -> Option<String> {
    session.metadata().ok().and_then(|m| m.custom(key))
}

/// Read `session`'s model; `named`: the layout the settings ask for (else
/// the model's `edgepipe.layout` metadata, else its outputs decide);
/// `best_of`: the class count when the YOLOv8 output was folded into
/// boxes, best score and best class (`model_fold`).
pub fn read(
    session: &Session,
    named: Option<LayoutKind>,
    best_of: Option<usize>,
) -> Result<ModelSpec, String> {
    if session.inputs().len() != 1 {
        return Err(format!("{} inputs, expected 1", session.inputs().len()));
    }
    let input = &session.inputs()[0];
    let (ty, shape) = tensor_dims(input.dtype())
        .ok_or_else(|| format!("input `{}` is not a tensor", input.name()))?;
    // The input's rank first: a model of another kind entirely says so.
    if shape.len() != 4 {
        return Err(format!(
            "input `{}` has rank {} ({shape:?}), expected 4",
            input.name(),
            shape.len()
        ));
    }
    let outputs: Vec<OutputInfo> = session
        .outputs()
        .iter()
        .map(|o| {
            let (ty, shape) =
                tensor_dims(o.dtype()).unwrap_or((TensorElementType::Undefined, Vec::new()));
            OutputInfo {
                name: o.name().to_string(),
                shape,
                float: ty == TensorElementType::Float32,
            }
        })
        .collect();
    let named = match named {
        Some(k) => Some(k),
        None => custom(session, "edgepipe.layout")
            .map(|s| {
                s.parse::<LayoutKind>()
                    .map_err(|e| format!("metadata edgepipe.layout: {e}"))
            })
            .transpose()?,
    };
    let layout = match best_of {
        Some(classes) => folded_layout(&outputs, classes)?,
        None => recognise(&outputs, named)?,
    };
    let element = match ty {
        TensorElementType::Float32 => Element::F32,
        TensorElementType::Uint8 => Element::U8,
        other => {
            return Err(format!(
                "input `{}` is {other:?}, not float32 or uint8",
                input.name()
            ))
        }
    };
    let meta = InputMeta {
        channels: custom(session, "edgepipe.channels"),
        mean: custom(session, "edgepipe.mean"),
        std: custom(session, "edgepipe.std"),
        resize: custom(session, "edgepipe.resize"),
    };
    let spec = InputSpec::read(&shape, element, &meta, layout.kind().default_resize())
        .map_err(|e| format!("input `{}`: {e}", input.name()))?;
    Ok(ModelSpec {
        input_name: input.name().to_string(),
        input: spec,
        output_names: outputs.into_iter().map(|o| o.name).collect(),
        layout,
    })
}

/// The layout of a model whose YOLOv8 output was folded (`model_fold`).
fn folded_layout(outputs: &[OutputInfo], classes: usize) -> Result<Layout, String> {
    use crate::model_fold::{BEST_CLASS, BEST_SCORE, BOXES};
    let find = |name: &str| {
        outputs
            .iter()
            .position(|o| o.float && o.name == name)
            .ok_or_else(|| format!("the folded model has no float output `{name}`"))
    };
    Ok(Layout::Yolov8Best {
        outputs: [find(BOXES)?, find(BEST_SCORE)?, find(BEST_CLASS)?],
        classes,
    })
}
