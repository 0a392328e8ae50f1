//! One ONNX Runtime `Run` on a session that other threads may be running at
//! the same time: several workers on one compiled model (`[model] requests`).
//! `ort` 2.0.0-rc.15 offers `Session::run` on `&mut self` only, so this calls
//! the C API's `Run` itself; the one `unsafe` block of the detector.

use std::ffi::{c_char, CString};
use std::ptr::{self, NonNull};

use ort::session::Session;
use ort::value::{DynValue, Value};
use ort::AsPointer;

/// The names a run passes, as C strings, made once per model.
pub struct RunNames {
    input: CString,
    outputs: Vec<CString>,
}

impl RunNames {
    /// `input` and every output of the model, in the session's order.
    pub fn new(input: &str, outputs: &[String]) -> Result<RunNames, String> {
        let c =
            |s: &str| CString::new(s).map_err(|_| format!("tensor name {s:?} holds a NUL byte"));
        Ok(RunNames {
            input: c(input)?,
            outputs: outputs.iter().map(|o| c(o)).collect::<Result<_, _>>()?,
        })
    }
}

/// Run `session` on `input` (the model's one input), returning every output
/// in the order of [`RunNames`]. Other threads may run the same session at
/// the same time, each with its own input.
pub fn run(session: &Session, names: &RunNames, input: &Value) -> Result<Vec<DynValue>, String> {
    let input_names: [*const c_char; 1] = [names.input.as_ptr()];
    let inputs: [*const ort::sys::OrtValue; 1] = [input.ptr()];
    let output_names: Vec<*const c_char> = names.outputs.iter().map(|n| n.as_ptr()).collect();
    let mut outputs: Vec<*mut ort::sys::OrtValue> = vec![ptr::null_mut(); output_names.len()];
    // SAFETY: ONNX Runtime documents `Run` as callable from several threads
    // on one session at once ("Multiple threads can invoke the Run() method
    // on the same inference session object": docs/reference/high-level-design,
    // "Key design decisions"; kernels' `Compute` is `const`; maintainers in
    // microsoft/onnxruntime#114 and #22967, "Sessions are stateless so you
    // can call Run concurrently"; #19301 "InferenceSession::Run() is
    // guaranteed to be thread-safe"). `ort`'s doubt (its `run_inner`) names
    // CUDA and DirectML; edgepipe builds only the CPU provider, whose
    // kernels are stateless, and OpenVINO's, whose `BasicBackend::Infer` is
    // `const` and takes a whole infer request from a pool (one per
    // `num_of_threads`) for each call, waiting when none is free
    // (onnxruntime/core/providers/openvino/backends/basic_backend.cc).
    // The pointers: `session` is borrowed for the call; no run options; one
    // input name and one input value, `input` borrowed for the call and
    // owned by this caller alone (each worker has its own tensor); output
    // names live in `names` for the call; `outputs` has one null slot per
    // name, which ONNX Runtime fills with new values this function owns.
    let status = unsafe {
        (ort::api().Run)(
            session.ptr().cast_mut(),
            ptr::null(),
            input_names.as_ptr(),
            inputs.as_ptr(),
            inputs.len(),
            output_names.as_ptr(),
            output_names.len(),
            outputs.as_mut_ptr(),
        )
    };
    // Take ownership of whatever was returned first, so that it is freed
    // whether or not the run failed.
    let allocator = session.allocator();
    let values: Vec<Option<DynValue>> = outputs
        .iter()
        .map(|p| {
            // SAFETY: a non-null slot is an `OrtValue` ONNX Runtime just made
            // for this call and owns nothing else; the session's allocator
            // outlives it (the value holds a handle to it).
            NonNull::new(*p).map(|p| unsafe { DynValue::from_ptr(p, Some(allocator)) })
        })
        .collect();
    // SAFETY: `status` is the status `Run` returned, taken over once here.
    unsafe { ort::Error::result_from_status(status) }.map_err(|e| e.to_string())?;
    values
        .into_iter()
        .zip(&names.outputs)
        .map(|(v, n)| v.ok_or_else(|| format!("no output {n:?}")))
        .collect()
}
