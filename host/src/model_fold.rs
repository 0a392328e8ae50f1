//! Pre- and post-processing folded into the model at load (issue 22): the
//! ONNX file is edited so that its input takes the letterboxed frame's
//! bytes (uint8; in-graph Cast and the input's normalisation, the host's
//! exact float operations) and a YOLOv8-family output gives each anchor's
//! box, best score and best class (Slice + TopK) instead of every class's
//! score. The edit is shallow: two tag bytes turn the old input and output
//! into inner values, and a second `graph` field appended to the file adds
//! the new input, nodes, constants and outputs (protobuf merges repeated
//! fields of a message given twice). Anything unexpected: no fold.

use crate::layouts::input::{Element, InputMeta, InputSpec, Resize};
use crate::layouts::{recognise, Layout, LayoutKind, OutputInfo};
use crate::onnx_proto::{fields_at, first_bytes, put_bytes, put_uint, Field, LEN};

/// Names of the folded model's outputs: boxes `[1, 4, N]`, then each
/// anchor's best score and class (as a float) `[1, 1, N]`.
pub const BOXES: &str = "edgepipe.fold.boxes";
pub const BEST_SCORE: &str = "edgepipe.fold.best_score";
pub const BEST_CLASS: &str = "edgepipe.fold.best_class";
/// Every name the fold adds starts so; a model using it is not folded.
const PREFIX: &str = "edgepipe.fold.";

/// ONNX `TensorProto.DataType` values used here.
const FLOAT: u64 = 1;
const INT64: u64 = 7;
/// Field numbers: ModelProto, GraphProto.
const MODEL_GRAPH: u64 = 7;
const MODEL_OPSET: u64 = 8;
const MODEL_IR: u64 = 1;
const GRAPH_NODE: u64 = 1;
const GRAPH_INIT: u64 = 5;
const GRAPH_INPUT: u64 = 11;
const GRAPH_OUTPUT: u64 = 12;
const GRAPH_VALUE_INFO: u64 = 13;

/// What was folded into a model (nothing: the default).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Fold {
    /// The input takes uint8 bytes now (the graph normalises them).
    pub input: bool,
    /// The class count, when the YOLOv8 output became boxes, best score
    /// and best class ([`BOXES`], [`BEST_SCORE`], [`BEST_CLASS`]).
    pub best_of: Option<usize>,
}

/// A model with something folded into it.
#[derive(Debug)]
pub struct Folded {
    /// The edited ONNX file.
    pub bytes: Vec<u8>,
    pub fold: Fold,
}

/// The model's one input, as the fold needs it.
struct InputPlan {
    /// Where its ValueInfo's tag is in the file.
    tag_at: usize,
    name: String,
    /// Its TensorShapeProto, copied to the new input.
    shape: Vec<u8>,
    spec: InputSpec,
}

/// The YOLOv8 output to replace.
struct OutputPlan {
    tag_at: usize,
    name: String,
    classes: usize,
    anchors: i64,
}

/// [`fold`] of the ONNX file at `path`, read into a buffer with room for
/// the appended graph (no second copy of the model).
pub fn fold_file(path: &std::path::Path, named: Option<LayoutKind>) -> Result<Folded, String> {
    let read = || -> std::io::Result<Vec<u8>> {
        let mut file = std::fs::File::open(path)?;
        let len = usize::try_from(file.metadata()?.len()).unwrap_or(usize::MAX);
        let mut bytes = Vec::new();
        bytes.try_reserve_exact(len.saturating_add(4096))?;
        std::io::Read::read_to_end(&mut file, &mut bytes)?;
        Ok(bytes)
    };
    fold(read().map_err(|e| e.to_string())?, named)
}

/// Fold what can be folded into the ONNX file `bytes`; `named`: the layout
/// the settings name. `Err`: why nothing was folded (the file is then
/// loaded as it is).
pub fn fold(mut bytes: Vec<u8>, named: Option<LayoutKind>) -> Result<Folded, String> {
    let (input, output) = plan(&bytes, named)?;
    if input.is_none() && output.is_none() {
        return Err("nothing to fold (input not float32, output not YOLOv8)".into());
    }
    let mut graph = Vec::new();
    for (tag_at, old) in [
        input.as_ref().map(|i| (i.tag_at, GRAPH_INPUT)),
        output.as_ref().map(|o| (o.tag_at, GRAPH_OUTPUT)),
    ]
    .into_iter()
    .flatten()
    {
        // A one-byte tag of a length-delimited field either way.
        if bytes.get(tag_at) != Some(&((old << 3 | LEN) as u8)) {
            return Err("unexpected tag".into());
        }
        bytes[tag_at] = (GRAPH_VALUE_INFO << 3 | LEN) as u8;
    }
    if let Some(i) = &input {
        fold_input(i, &mut graph);
    }
    if let Some(o) = &output {
        fold_output(o, &mut graph);
    }
    bytes.reserve_exact(graph.len() + 8);
    put_bytes(&mut bytes, MODEL_GRAPH, &graph);
    let fold = Fold {
        input: input.is_some(),
        best_of: output.map(|o| o.classes),
    };
    Ok(Folded { bytes, fold })
}

/// Read the model and decide what to fold.
fn plan(
    bytes: &[u8],
    named: Option<LayoutKind>,
) -> Result<(Option<InputPlan>, Option<OutputPlan>), String> {
    let model = fields_at(bytes).ok_or("not a protobuf message")?;
    let ir = model.iter().find(|f| f.number == MODEL_IR).map(|f| f.value);
    // IR 4 lets initializers stay out of the graph's inputs.
    if ir.is_none_or(|v| v < 4) {
        return Err(format!("IR version {ir:?} below 4"));
    }
    let opset = default_opset(&model).ok_or("no default-domain opset")?;
    if opset < 10 {
        return Err(format!("opset {opset} below 10 (Slice, TopK with inputs)"));
    }
    let graphs: Vec<&Field> = model
        .iter()
        .filter(|f| f.number == MODEL_GRAPH && f.wire == LEN)
        .collect();
    let [graph] = graphs[..] else {
        return Err(format!("{} graph fields", graphs.len()));
    };
    let base = offset(bytes, graph.payload);
    let fields = fields_at(graph.payload).ok_or("graph not well formed")?;
    check_graph(&fields)?;
    let props = crate::model_meta::metadata_props(bytes);
    let meta = |k: &str| props.iter().find(|(key, _)| key == k).map(|p| p.1.clone());
    let inputs: Vec<&Field> = fields.iter().filter(|f| f.number == GRAPH_INPUT).collect();
    let [input] = inputs[..] else {
        return Err(format!("{} graph inputs", inputs.len()));
    };
    let input_meta = InputMeta {
        channels: meta("edgepipe.channels"),
        mean: meta("edgepipe.mean"),
        std: meta("edgepipe.std"),
        resize: None,
    };
    let input = plan_input(input, base, &input_meta)?;
    let named = match named {
        Some(k) => Some(k),
        None => meta("edgepipe.layout").and_then(|s| s.parse().ok()),
    };
    let output = plan_output(&fields, base, named)?;
    Ok((input, output))
}

/// Where `inner` (a slice of `outer`) starts in `outer`.
fn offset(outer: &[u8], inner: &[u8]) -> usize {
    inner.as_ptr() as usize - outer.as_ptr() as usize
}

/// The model's opset of the default ONNX domain.
fn default_opset(model: &[Field]) -> Option<u64> {
    model
        .iter()
        .filter(|f| f.number == MODEL_OPSET && f.wire == LEN)
        .find_map(|f| {
            let parts = fields_at(f.payload)?;
            let domain = parts.iter().find(|p| p.number == 1).map(|p| p.payload);
            let version = parts.iter().find(|p| p.number == 2)?.value;
            matches!(domain, None | Some(b"") | Some(b"ai.onnx")).then_some(version)
        })
}

/// Refuse a graph whose weights live in other files (the edited model is
/// loaded from memory, with no directory) or that already uses the fold's
/// names.
fn check_graph(fields: &[Field]) -> Result<(), String> {
    let prefix = PREFIX.as_bytes();
    let has_prefix = |b: &[u8]| b.windows(prefix.len()).any(|w| w == prefix);
    for f in fields {
        if f.number == GRAPH_INIT {
            let t = fields_at(f.payload).ok_or("initializer not well formed")?;
            // TensorProto: name 8, external_data 13, data_location 14.
            if t.iter()
                .any(|p| p.number == 13 || (p.number == 14 && p.value == 1))
            {
                return Err("weights in external data files".into());
            }
            if t.iter().any(|p| p.number == 8 && has_prefix(p.payload)) {
                return Err(format!("a tensor name starts with {PREFIX}"));
            }
        } else if f.wire == LEN && has_prefix(f.payload) {
            return Err(format!("a name starts with {PREFIX}"));
        }
    }
    Ok(())
}

/// A ValueInfoProto's name, element type and shape (dims, -1 where not a
/// fixed value; and the TensorShapeProto's bytes).
fn value_info(vi: &[u8]) -> Option<(String, u64, Vec<i64>, &[u8])> {
    let name = String::from_utf8(first_bytes(vi, 1)?.to_vec()).ok()?;
    let tensor = first_bytes(first_bytes(vi, 2)?, 1)?;
    let parts = fields_at(tensor)?;
    let elem = parts.iter().find(|p| p.number == 1)?.value;
    let shape = parts
        .iter()
        .find(|p| p.number == 2 && p.wire == LEN)?
        .payload;
    let dims = fields_at(shape)?
        .iter()
        .filter(|d| d.number == 1)
        .map(|d| {
            let dim = fields_at(d.payload)?;
            Some(match dim.iter().find(|p| p.number == 1) {
                Some(v) => i64::try_from(v.value).unwrap_or(-1),
                None => -1,
            })
        })
        .collect::<Option<Vec<i64>>>()?;
    Some((name, elem, dims, shape))
}

/// The input to fold: a float32 image input; `None` for another type.
fn plan_input(f: &Field, base: usize, meta: &InputMeta) -> Result<Option<InputPlan>, String> {
    let (name, elem, dims, shape) = value_info(f.payload).ok_or("input has no tensor type")?;
    if elem != FLOAT {
        return Ok(None);
    }
    let spec = InputSpec::read(&dims, Element::F32, meta, Resize::Letterbox)?;
    Ok(Some(InputPlan {
        tag_at: base + f.tag_at,
        name,
        shape: shape.to_vec(),
        spec,
    }))
}

/// The output to fold: the one output of a YOLOv8 layout `[1, 4 + C, N]`.
fn plan_output(
    fields: &[Field],
    base: usize,
    named: Option<LayoutKind>,
) -> Result<Option<OutputPlan>, String> {
    let outputs: Vec<&Field> = fields.iter().filter(|f| f.number == GRAPH_OUTPUT).collect();
    let [output] = outputs[..] else {
        return Ok(None);
    };
    let (name, elem, dims, _) = value_info(output.payload).ok_or("output has no tensor type")?;
    let info = OutputInfo {
        name: name.clone(),
        shape: dims.clone(),
        float: elem == FLOAT,
    };
    match (recognise(&[info], named), dims.as_slice()) {
        (Ok(Layout::Yolov8 { classes, .. }), &[1, c, n]) if c == 4 + classes as i64 && n > 0 => {
            Ok(Some(OutputPlan {
                tag_at: base + output.tag_at,
                name,
                classes,
                anchors: n,
            }))
        }
        _ => Ok(None),
    }
}

/// The new uint8 input, and Cast (+ Sub) + Div into the old input's name.
fn fold_input(i: &InputPlan, graph: &mut Vec<u8>) {
    let u8_input = format!("{PREFIX}input");
    let mut tensor = Vec::new();
    put_uint(&mut tensor, 1, 2); // elem_type UINT8
    put_bytes(&mut tensor, 2, &i.shape);
    put_bytes(graph, GRAPH_INPUT, &value_info_bytes(&u8_input, &tensor));
    let float = format!("{PREFIX}float");
    node(graph, "Cast", &[&u8_input], &[&float], &[("to", FLOAT)]);
    // The host's table: (byte - mean[c]) / std[c] in f32, per tensor channel.
    let dims: &[i64] = if i.spec.nchw {
        &[1, 3, 1, 1]
    } else {
        &[1, 1, 1, 3]
    };
    let per_channel = |v: [f32; 3]| -> (Vec<i64>, Vec<f32>) {
        if v[0] == v[1] && v[1] == v[2] {
            (Vec::new(), vec![v[0]])
        } else {
            (dims.to_vec(), v.to_vec())
        }
    };
    let mut x = float;
    if i.spec.mean != [0.0; 3] {
        let (d, v) = per_channel(i.spec.mean);
        let mean = format!("{PREFIX}mean");
        put_bytes(graph, GRAPH_INIT, &floats(&mean, &d, &v));
        let centred = format!("{PREFIX}centred");
        node(graph, "Sub", &[&x, &mean], &[&centred], &[]);
        x = centred;
    }
    let (d, v) = per_channel(i.spec.std);
    let std = format!("{PREFIX}std");
    put_bytes(graph, GRAPH_INIT, &floats(&std, &d, &v));
    node(graph, "Div", &[&x, &std], &[&i.name], &[]);
}

/// Slice the boxes and the scores, TopK(1) over the classes, the index as
/// a float; three new outputs.
fn fold_output(o: &OutputPlan, graph: &mut Vec<u8>) {
    let c = 4 + o.classes as i64;
    let int = |name: &str, v: i64| ints(&format!("{PREFIX}{name}"), &[v]);
    for (name, v) in [("0", 0), ("4", 4), ("end", c), ("axis", 1), ("k", 1)] {
        put_bytes(graph, GRAPH_INIT, &int(name, v));
    }
    let n = |s: &str| format!("{PREFIX}{s}");
    let (zero, four, end, axis, k) = (n("0"), n("4"), n("end"), n("axis"), n("k"));
    let (scores, index) = (n("scores"), n("index"));
    node(
        graph,
        "Slice",
        &[&o.name, &zero, &four, &axis],
        &[BOXES],
        &[],
    );
    node(
        graph,
        "Slice",
        &[&o.name, &four, &end, &axis],
        &[&scores],
        &[],
    );
    let outs = [BEST_SCORE, index.as_str()];
    node(graph, "TopK", &[&scores, &k], &outs, &[("axis", 1)]);
    node(graph, "Cast", &[&index], &[BEST_CLASS], &[("to", FLOAT)]);
    for (name, rows) in [(BOXES, 4), (BEST_SCORE, 1), (BEST_CLASS, 1)] {
        let mut shape = Vec::new();
        for d in [1, rows, o.anchors] {
            let mut dim = Vec::new();
            put_uint(&mut dim, 1, d as u64);
            put_bytes(&mut shape, 1, &dim);
        }
        let mut tensor = Vec::new();
        put_uint(&mut tensor, 1, FLOAT);
        put_bytes(&mut tensor, 2, &shape);
        put_bytes(graph, GRAPH_OUTPUT, &value_info_bytes(name, &tensor));
    }
}

/// A ValueInfoProto of `name` with TypeProto.Tensor `tensor`.
fn value_info_bytes(name: &str, tensor: &[u8]) -> Vec<u8> {
    let mut ty = Vec::new();
    put_bytes(&mut ty, 1, tensor);
    let mut vi = Vec::new();
    put_bytes(&mut vi, 1, name.as_bytes());
    put_bytes(&mut vi, 2, &ty);
    vi
}

/// A NodeProto appended to `graph`; attributes are ints.
fn node(graph: &mut Vec<u8>, op: &str, inputs: &[&str], outputs: &[&str], attrs: &[(&str, u64)]) {
    let mut n = Vec::new();
    for i in inputs {
        put_bytes(&mut n, 1, i.as_bytes());
    }
    for o in outputs {
        put_bytes(&mut n, 2, o.as_bytes());
    }
    put_bytes(&mut n, 3, format!("{PREFIX}{op}.{}", outputs[0]).as_bytes());
    put_bytes(&mut n, 4, op.as_bytes());
    for (name, v) in attrs {
        let mut a = Vec::new();
        put_bytes(&mut a, 1, name.as_bytes());
        put_uint(&mut a, 3, *v); // i
        put_uint(&mut a, 20, 2); // type INT
        put_bytes(&mut n, 5, &a);
    }
    put_bytes(graph, GRAPH_NODE, &n);
}

/// A TensorProto of `dims`, `data_type` and little-endian `raw` data.
fn tensor(name: &str, dims: &[i64], data_type: u64, raw: &[u8]) -> Vec<u8> {
    let mut t = Vec::new();
    for d in dims {
        put_uint(&mut t, 1, *d as u64);
    }
    put_uint(&mut t, 2, data_type);
    put_bytes(&mut t, 8, name.as_bytes());
    put_bytes(&mut t, 9, raw);
    t
}

fn floats(name: &str, dims: &[i64], v: &[f32]) -> Vec<u8> {
    let raw: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
    tensor(name, dims, FLOAT, &raw)
}

/// A one-dimensional int64 tensor.
fn ints(name: &str, v: &[i64]) -> Vec<u8> {
    let raw: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
    tensor(name, &[v.len() as i64], INT64, &raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A graph whose initializer's data lives in another file, or that
    /// uses the fold's names already, is not folded.
    #[test]
    fn external_weights_and_taken_names_are_refused() {
        let external = {
            let mut t = tensor("w", &[1], FLOAT, &[]);
            put_uint(&mut t, 14, 1); // data_location EXTERNAL
            t
        };
        let mut g = Vec::new();
        put_bytes(&mut g, GRAPH_INIT, &external);
        let e = check_graph(&fields_at(&g).unwrap()).unwrap_err();
        assert!(e.contains("external"), "{e}");
        let mut g = Vec::new();
        put_bytes(
            &mut g,
            GRAPH_INIT,
            &floats("edgepipe.fold.std", &[], &[255.0]),
        );
        assert!(check_graph(&fields_at(&g).unwrap()).is_err());
        let mut g = Vec::new();
        node(&mut g, "Relu", &["x"], &["edgepipe.fold.y"], &[]);
        assert!(check_graph(&fields_at(&g).unwrap()).is_err());
        let mut g = Vec::new();
        put_bytes(&mut g, GRAPH_INIT, &floats("w", &[], &[1.0]));
        let mut relu = Vec::new();
        put_bytes(&mut relu, 1, b"x");
        put_bytes(&mut relu, 2, b"y");
        put_bytes(&mut relu, 4, b"Relu");
        put_bytes(&mut g, GRAPH_NODE, &relu);
        assert_eq!(check_graph(&fields_at(&g).unwrap()), Ok(()));
    }

    /// The input's ValueInfo read back: name, type and dims (a symbolic
    /// batch dimension as -1).
    #[test]
    fn value_info_reads_name_type_and_dims() {
        let mut shape = Vec::new();
        let mut dim = Vec::new();
        put_bytes(&mut dim, 2, b"batch");
        put_bytes(&mut shape, 1, &dim);
        for d in [3u64, 64, 32] {
            let mut dim = Vec::new();
            put_uint(&mut dim, 1, d);
            put_bytes(&mut shape, 1, &dim);
        }
        let mut t = Vec::new();
        put_uint(&mut t, 1, FLOAT);
        put_bytes(&mut t, 2, &shape);
        let vi = value_info_bytes("images", &t);
        let (name, elem, dims, raw) = value_info(&vi).unwrap();
        assert_eq!(
            (name.as_str(), elem, dims),
            ("images", FLOAT, vec![-1, 3, 64, 32])
        );
        assert_eq!(raw, &shape[..]);
        assert!(value_info(b"\x0a\x01x").is_none(), "no type");
    }
}
