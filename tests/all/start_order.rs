//! The order of a run's start (issue 22, start to first frame): the stages
//! load while the model compiles, nothing reaches a sink before the model
//! is ready, and the errors keep their precedence and exit codes (a broken
//! model before a broken stage, as when the model loaded first).

use crate::common::{self, one_error_line, run_edgepipe};

fn clip() -> String {
    common::clip().to_string_lossy().into_owned()
}

/// A pipeline file of one stage of `kind` at `path`.
fn one_stage(dir: &std::path::Path, kind: &str, path: &std::path::Path) -> std::path::PathBuf {
    let cfg = dir.join("pipeline.toml");
    std::fs::write(
        &cfg,
        format!(
            "[[stages]]\nname = \"only\"\nkind = \"{kind}\"\npath = {:?}\n",
            path.to_str().unwrap()
        ),
    )
    .unwrap();
    cfg
}

/// The index of the first stderr line holding `needle`.
fn line_of(stderr: &str, needle: &str) -> usize {
    stderr
        .lines()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no line with {needle:?} in:\n{stderr}"))
}

#[test]
fn the_stages_load_while_the_model_compiles() {
    let (code, stdout, stderr) = run_edgepipe(&[
        "run",
        "--input",
        &clip(),
        "--max-frames",
        "2",
        "--stdout",
        "--no-mqtt",
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout.len(), 2 * 768 * 576 * 3, "two whole frames");
    let model = line_of(&stderr, "model loaded");
    let loaded: Vec<usize> = stderr
        .lines()
        .enumerate()
        .filter(|(_, l)| l.contains("stage loaded"))
        .map(|(i, _)| i)
        .collect();
    assert_eq!(
        loaded.len(),
        5,
        "the default pipeline's five stages:\n{stderr}"
    );
    assert!(
        loaded.iter().all(|&i| i < model),
        "every stage loads before the model is ready (the main thread loads them while the model compiles):\n{stderr}"
    );
    // The sinks come after the model: the stdout hint follows it.
    assert!(line_of(&stderr, "stdout: raw BGR24") > model, "{stderr}");
}

#[test]
fn a_broken_stage_is_one_error_while_the_model_compiles_and_nothing_is_written() {
    let dir = common::TempDir::new("startstage");
    let wasm = dir.path().join("core.wasm");
    std::fs::write(&wasm, b"\0asm\x01\0\0\0").unwrap();
    let cfg = one_stage(dir.path(), "stats", &wasm);
    let (code, stdout, stderr) = run_edgepipe(&[
        "run",
        "--config",
        cfg.to_str().unwrap(),
        "--input",
        &clip(),
        "--stdout",
        "--no-mqtt",
    ]);
    assert_eq!(code, 5, "{stderr}");
    assert!(
        stdout.is_empty(),
        "no frame before the model and the stages are ready"
    );
    one_error_line(&stderr, "not a component");
    assert!(
        !stderr.contains("stdout: raw BGR24"),
        "no sink opened:\n{stderr}"
    );
}

#[test]
fn a_broken_model_comes_before_a_broken_stage() {
    let dir = common::TempDir::new("startboth");
    let model = dir.path().join("broken.onnx");
    std::fs::write(&model, b"\x08\x07garbage").unwrap();
    let wasm = dir.path().join("core.wasm");
    std::fs::write(&wasm, b"\0asm\x01\0\0\0").unwrap();
    let cfg = one_stage(dir.path(), "stats", &wasm);
    let (code, stdout, stderr) = run_edgepipe(&[
        "run",
        "--config",
        cfg.to_str().unwrap(),
        "--input",
        &clip(),
        "--stdout",
        "--no-mqtt",
        "--model",
        model.to_str().unwrap(),
    ]);
    assert_eq!(code, 4, "{stderr}");
    assert!(stdout.is_empty());
    one_error_line(&stderr, "cannot load model");
}

#[test]
fn a_broken_model_after_the_stages_loaded_writes_nothing() {
    let dir = common::TempDir::new("startmodel");
    let model = dir.path().join("broken.onnx");
    std::fs::write(&model, b"\x08\x07garbage").unwrap();
    let (code, stdout, stderr) = run_edgepipe(&[
        "run",
        "--input",
        &clip(),
        "--stdout",
        "--no-mqtt",
        "--model",
        model.to_str().unwrap(),
    ]);
    assert_eq!(code, 4, "{stderr}");
    assert!(stdout.is_empty(), "the frames decoded early reach no sink");
    one_error_line(&stderr, "cannot load model");
    assert!(
        !stderr.contains("stdout: raw BGR24"),
        "no sink opened:\n{stderr}"
    );
}
