//! Bad input of each kind: one clear error line, a documented exit code, no panic.

use crate::common::{self, one_error_line, run_edgepipe};

fn clip() -> String {
    common::clip().to_string_lossy().into_owned()
}

#[test]
fn missing_input_file_exits_3() {
    let (code, stdout, stderr) =
        run_edgepipe(&["run", "--input", "/nonexistent/clip.avi", "--no-mqtt"]);
    assert_eq!(code, 3, "{stderr}");
    assert!(stdout.is_empty());
    one_error_line(&stderr, "input file /nonexistent/clip.avi does not exist");
}

#[test]
fn unreadable_model_exits_4() {
    let dir = common::TempDir::new("badmodel");
    let model = dir.path().join("broken.onnx");
    std::fs::write(&model, b"\x08\x07garbage").unwrap();
    let (code, _, stderr) = run_edgepipe(&[
        "run",
        "--input",
        &clip(),
        "--no-mqtt",
        "--model",
        model.to_str().unwrap(),
    ]);
    assert_eq!(code, 4, "{stderr}");
    one_error_line(&stderr, "cannot load model");
}

#[test]
fn unsupported_model_layout_exits_4() {
    let dir = common::TempDir::new("layoutcli");
    let model = dir.path().join("identity.onnx");
    std::fs::write(&model, common::identity_onnx(&[1, 3, 64, 64])).unwrap();
    let (code, _, stderr) = run_edgepipe(&[
        "run",
        "--input",
        &clip(),
        "--no-mqtt",
        "--model",
        model.to_str().unwrap(),
    ]);
    assert_eq!(code, 4, "{stderr}");
    one_error_line(&stderr, "unsupported layout");
}

#[test]
fn missing_ort_library_exits_4() {
    let (code, _, stderr) = run_edgepipe(&[
        "run",
        "--input",
        &clip(),
        "--no-mqtt",
        "--ort-lib",
        "/nonexistent/libonnxruntime.so",
    ]);
    assert_eq!(code, 4, "{stderr}");
    one_error_line(
        &stderr,
        "ONNX Runtime library /nonexistent/libonnxruntime.so does not exist",
    );
}

fn pipeline_with(dir: &std::path::Path, kind: &str, path: &std::path::Path) -> std::path::PathBuf {
    let cfg = dir.join("pipeline.toml");
    std::fs::write(
        &cfg,
        format!(
            "[[stages]]\nname = \"bad\"\nkind = \"{kind}\"\npath = {:?}\n",
            path.to_str().unwrap()
        ),
    )
    .unwrap();
    cfg
}

#[test]
fn a_core_module_as_plugin_exits_5() {
    let dir = common::TempDir::new("core");
    let wasm = dir.path().join("core.wasm");
    std::fs::write(&wasm, b"\0asm\x01\0\0\0").unwrap();
    let cfg = pipeline_with(dir.path(), "stats", &wasm);
    let (code, _, stderr) = run_edgepipe(&[
        "run",
        "--config",
        cfg.to_str().unwrap(),
        "--input",
        &clip(),
        "--no-mqtt",
    ]);
    assert_eq!(code, 5, "{stderr}");
    one_error_line(&stderr, "not a component");
}

#[test]
fn a_plugin_of_the_wrong_world_exits_5() {
    let dir = common::TempDir::new("world");
    let cfg = pipeline_with(dir.path(), "draw", &common::plugin("people-counter"));
    let (code, _, stderr) = run_edgepipe(&[
        "run",
        "--config",
        cfg.to_str().unwrap(),
        "--input",
        &clip(),
        "--no-mqtt",
    ]);
    assert_eq!(code, 5, "{stderr}");
    one_error_line(
        &stderr,
        "does not implement world `draw` of edgepipe:plugin@0.4.0",
    );
}

#[test]
fn unreachable_broker_exits_6() {
    let port = common::free_port();
    let url = format!("mqtt://127.0.0.1:{port}");
    let (code, _, stderr) = run_edgepipe(&[
        "run",
        "--input",
        &clip(),
        "--max-frames",
        "1",
        "--mqtt-url",
        &url,
        "--mqtt-required",
    ]);
    assert_eq!(code, 6, "{stderr}");
    one_error_line(&stderr, &format!("cannot connect to MQTT broker {url}"));
}

#[test]
fn bad_broker_url_exits_2() {
    for url in ["mqtt://", "http://localhost:1883", "mqtt://localhost:70000"] {
        let (code, _, stderr) = run_edgepipe(&["run", "--input", &clip(), "--mqtt-url", url]);
        assert_eq!(code, 2, "{url}: {stderr}");
        one_error_line(&stderr, "mqtt.url");
    }
}

#[test]
fn unknown_config_key_exits_2() {
    let dir = common::TempDir::new("cfg");
    let cfg = dir.path().join("pipeline.toml");
    std::fs::write(&cfg, "[source]\ninput = \"x.avi\"\nframerate = 5\n").unwrap();
    let (code, _, stderr) = run_edgepipe(&["run", "--config", cfg.to_str().unwrap()]);
    assert_eq!(code, 2, "{stderr}");
    one_error_line(&stderr, "unknown field `framerate`");
}

#[test]
fn unknown_flag_exits_2_with_one_line() {
    let (code, _, stderr) = run_edgepipe(&["run", "--frobnicate"]);
    assert_eq!(code, 2, "{stderr}");
    one_error_line(&stderr, "--frobnicate");
}

#[test]
fn an_unloadable_ort_library_exits_4() {
    let dir = common::TempDir::new("badort");
    let lib = dir.path().join("libonnxruntime.so");
    std::fs::write(&lib, b"not a shared library").unwrap();
    let (code, _, stderr) = run_edgepipe(&[
        "run",
        "--input",
        &clip(),
        "--no-mqtt",
        "--ort-lib",
        lib.to_str().unwrap(),
    ]);
    assert_eq!(code, 4, "{stderr}");
    one_error_line(&stderr, "cannot load ONNX Runtime library");
}

#[test]
fn output_other_than_stdout_exits_2() {
    let (code, _, stderr) =
        run_edgepipe(&["run", "--input", &clip(), "--no-mqtt", "-o", "file.mp4"]);
    assert_eq!(code, 2, "{stderr}");
    one_error_line(&stderr, "only `-` (stdout) is supported");
}

#[test]
fn embedded_broker_port_taken_exits_6() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let (code, _, stderr) = run_edgepipe(&[
        "run",
        "--input",
        &clip(),
        "--max-frames",
        "1",
        "--broker-port",
        &port,
    ]);
    assert_eq!(code, 6, "{stderr}");
    one_error_line(
        &stderr,
        &format!("embedded MQTT broker: cannot listen on 127.0.0.1:{port}"),
    );
}

/// Values that would overflow (a deadline past the end of time, a memory cap
/// shifted out of range, absurd thread counts) are configuration errors,
/// before anything runs: exit 2, one line naming the setting.
#[test]
fn overflowing_settings_are_one_line_errors() {
    let broker = common::Mosquitto::start();
    let dir = common::TempDir::new("overflow");
    let cases = [
        (
            "mqtt.ack_timeout_secs",
            "[mqtt]\nack_timeout_secs = 9223372036854775807\n",
        ),
        (
            "mqtt.connect_timeout_secs",
            "[mqtt]\nconnect_timeout_secs = 9223372036854775807\n",
        ),
        (
            "plugins.memory_mb",
            "[plugins]\nmemory_mb = 17592186044417\n",
        ),
        (
            "plugins.call_timeout_ms",
            "[plugins]\ncall_timeout_ms = 9223372036854775807\n",
        ),
        ("model.threads", "[model]\nthreads = 9223372036854775807\n"),
    ];
    for (key, toml) in cases {
        let cfg = dir.path().join("pipeline.toml");
        std::fs::write(&cfg, toml).unwrap();
        let url = broker.url();
        let (code, _, stderr) = run_edgepipe(&[
            "run",
            "--config",
            cfg.to_str().unwrap(),
            "--input",
            &clip(),
            "--max-frames",
            "2",
            "--mqtt-url",
            &url,
        ]);
        assert_eq!(code, 2, "{key}: {stderr}");
        one_error_line(&stderr, &format!("setting `{key}`"));
    }
}
