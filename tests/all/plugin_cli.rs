//! `edgepipe plugin check` and `edgepipe plugin test`, with the default
//! plugins' goldens checked into the repo (scripts/plugin-goldens.sh).

use crate::common::{self, run_edgepipe};

fn s(p: &std::path::Path) -> String {
    p.to_string_lossy().into_owned()
}

fn record() -> String {
    s(&common::root().join("tests/data/vtest-100.jsonl"))
}

fn golden(plugin: &str) -> String {
    s(&common::root()
        .join("plugins")
        .join(plugin)
        .join("golden.jsonl"))
}

#[test]
fn check_reports_world_version_and_loadability() {
    let (code, out, err) =
        run_edgepipe(&["plugin", "check", &s(&common::plugin("people-counter"))]);
    let out = String::from_utf8_lossy(&out);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("world: stats"), "{out}");
    assert!(out.contains("contract: edgepipe:plugin 0.4.0"), "{out}");
    assert!(
        out.contains("exports: configure, update, finish, save, restore"),
        "{out}"
    );
    assert!(out.contains("loadable: yes"), "{out}");

    let (code, out, _) = run_edgepipe(&["plugin", "check", &s(&common::guest("legacy-topics"))]);
    let out = String::from_utf8_lossy(&out);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("loadable: yes (world topics of edgepipe:plugin@0.1.0)"),
        "{out}"
    );

    let (code, out, err) = run_edgepipe(&["plugin", "check", &s(&common::guest("future-version"))]);
    assert_eq!(code, 1);
    assert!(String::from_utf8_lossy(&out).contains("loadable: no"));
    assert!(err.contains("built against edgepipe:plugin@0.9.0; this host serves edgepipe:plugin@0.4.0, edgepipe:plugin@0.3.0, edgepipe:plugin@0.2.0, edgepipe:plugin@0.1.0"), "{err}");

    let dir = common::TempDir::new("check");
    let junk = dir.path().join("junk.wasm");
    std::fs::write(&junk, b"not wasm at all").unwrap();
    let (code, _, err) = run_edgepipe(&["plugin", "check", &s(&junk)]);
    assert_eq!(code, 1);
    assert!(err.contains("is not WebAssembly"), "{err}");
    let (code, _, err) = run_edgepipe(&["plugin", "check", &s(&dir.path().join("missing.wasm"))]);
    assert_eq!(code, 1);
    assert!(err.contains("does not exist"), "{err}");
}

#[test]
fn default_plugins_match_their_goldens() {
    let pc = s(&common::plugin("people-counter"));
    let (code, out, err) = run_edgepipe(&[
        "plugin",
        "test",
        &pc,
        "--input",
        &record(),
        "--expect",
        &golden("people-counter"),
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        String::from_utf8_lossy(&out).lines().count(),
        101,
        "100 frames + finish"
    );
    assert!(err.contains("101 lines match"), "{err}");

    let ct = s(&common::plugin("course-topics"));
    let (code, _, err) = run_edgepipe(&[
        "plugin",
        "test",
        &ct,
        "--input",
        &record(),
        "--stats-plugin",
        &pc,
        "--expect",
        &golden("course-topics"),
    ]);
    assert_eq!(code, 0, "{err}");

    let db = s(&common::plugin("draw-boxes"));
    let (code, _, err) = run_edgepipe(&[
        "plugin",
        "test",
        &db,
        "--input",
        &record(),
        "--video",
        &s(&common::clip()),
        "--expect",
        &golden("draw-boxes"),
    ]);
    assert_eq!(code, 0, "{err}");
    // With people-counter's stats: track ids on the tags and the count
    // panel (blended), byte for byte what the per-pixel drawing made.
    let (code, _, err) = run_edgepipe(&[
        "plugin",
        "test",
        &db,
        "--input",
        &record(),
        "--video",
        &s(&common::clip()),
        "--stats-plugin",
        &pc,
        "--expect",
        &s(&common::root()
            .join("plugins")
            .join("draw-boxes")
            .join("golden-tracked.jsonl")),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("100 lines match"), "{err}");
    // Every stat it draws (tracks, counts, speed, line-counter's lines and
    // zones) from the record's own stats: the golden is what the last pixel
    // (0.3.0) build drew, so the shapes the host paints now are the same bytes.
    let (code, _, err) = run_edgepipe(&[
        "plugin",
        "test",
        &db,
        "--input",
        &s(&common::root().join("tests/data/vtest-100-stats.jsonl")),
        "--video",
        &s(&common::clip()),
        "--expect",
        &s(&common::root()
            .join("plugins")
            .join("draw-boxes")
            .join("golden-all-stats.jsonl")),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("100 lines match"), "{err}");

    for name in ["class-names", "speedometer"] {
        let (code, _, err) = run_edgepipe(&[
            "plugin",
            "test",
            &s(&common::plugin(name)),
            "--input",
            &record(),
            "--expect",
            &golden(name),
        ]);
        assert_eq!(code, 0, "{name}: {err}");
    }
    // The settings scripts/plugin-goldens.sh uses.
    let lc = s(&common::plugin("line-counter"));
    let (code, _, err) = run_edgepipe(&[
        "plugin",
        "test",
        &lc,
        "--input",
        &record(),
        "--set",
        "lines=path: 0.65,0.30 0.65,0.80",
        "--set",
        "zones=lamp-post: 0.45,0.38 0.60,0.38 0.60,0.56 0.45,0.56",
        "--expect",
        &golden("line-counter"),
    ]);
    assert_eq!(code, 0, "{err}");
}

#[test]
fn a_difference_fails_and_names_the_first_differing_frame() {
    let dir = common::TempDir::new("golden");
    let text = std::fs::read_to_string(golden("people-counter")).unwrap();
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    // Frame 40 claims one more person than the plugin counts.
    let v: serde_json::Value = serde_json::from_str(&lines[40]).unwrap();
    assert_eq!(v["index"], 40);
    let count: u64 = v["stats"][0]["value"].as_str().unwrap().parse().unwrap();
    lines[40] = lines[40].replacen(
        &format!("\"value\":\"{count}\""),
        &format!("\"value\":\"{}\"", count + 1),
        1,
    );
    let bad = dir.path().join("bad.jsonl");
    std::fs::write(&bad, lines.join("\n")).unwrap();
    let (code, _, err) = run_edgepipe(&[
        "plugin",
        "test",
        &s(&common::plugin("people-counter")),
        "--input",
        &record(),
        "--expect",
        &s(&bad),
    ]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("first difference at frame 40 (line 41)"),
        "{err}"
    );

    // A setting changes the output: the golden no longer matches.
    let (code, _, err) = run_edgepipe(&[
        "plugin",
        "test",
        &s(&common::plugin("people-counter")),
        "--input",
        &record(),
        "--set",
        "min_hits=1",
        "--expect",
        &golden("people-counter"),
    ]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("first difference at frame"), "{err}");
}

#[test]
fn a_faulting_stage_fails_its_test() {
    let (code, _, err) = run_edgepipe(&[
        "plugin",
        "test",
        &s(&common::guest("hostile")),
        "--input",
        &record(),
        "--set",
        "mode=panic",
        "--set",
        "at=3",
    ]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("the stage faulted 1 time(s)"), "{err}");
}
