//! Hot reload under load: the counter plugin is replaced 10 times while the
//! pipeline runs on the sample clip (copy over, rename into place, slow
//! partial write); no frame is lost or repeated, and `total` never drops.

use std::io::Write;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use crate::common;

const FRAMES: u64 = 240;
const REPLACEMENTS: usize = 10;

/// Replace `target` with `bytes`, the way `how` says.
fn replace(target: &Path, bytes: &[u8], how: usize) {
    match how % 3 {
        // Copy over the file in place (truncate + write).
        0 => std::fs::write(target, bytes).unwrap(),
        // Write beside it, then rename into place (what cargo and editors do).
        1 => {
            let tmp = target.with_extension("wasm.tmp");
            std::fs::write(&tmp, bytes).unwrap();
            std::fs::rename(&tmp, target).unwrap();
        }
        // A slow writer: half, a pause longer than the debounce, the rest.
        _ => {
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .truncate(true)
                .open(target)
                .unwrap();
            let half = bytes.len() / 2;
            f.write_all(&bytes[..half]).unwrap();
            f.flush().unwrap();
            std::thread::sleep(edgepipe::plugin::reload::RELOAD_DEBOUNCE * 4);
            f.write_all(&bytes[half..]).unwrap();
            f.flush().unwrap();
        }
    }
}

fn field(payload: &str, key: &str) -> u64 {
    let v: serde_json::Value = serde_json::from_str(payload).unwrap();
    v[key]
        .as_u64()
        .unwrap_or_else(|| panic!("{key} in {payload}"))
}

#[test]
fn replacing_the_counter_ten_times_loses_nothing() {
    let broker = common::Mosquitto::start();
    let mut sub = common::Subscriber::start(broker.port, &["person", "edgepipe/+/plugins"]);
    let dir = common::TempDir::new("reload");
    let counter = dir.path().join("people-counter.wasm");
    let original = std::fs::read(common::plugin("people-counter")).unwrap();
    std::fs::write(&counter, &original).unwrap();
    let pipeline = dir.path().join("pipeline.toml");
    std::fs::write(
        &pipeline,
        format!(
            "name = \"reload-test\"\n\
             [[stages]]\nname = \"people-counter\"\nkind = \"stats\"\npath = {:?}\n\
             [[stages]]\nname = \"course-topics\"\nkind = \"topics\"\npath = {:?}\nsettings = {{ include_frame = true }}\n\
             [[stages]]\nname = \"draw-boxes\"\nkind = \"draw\"\npath = {:?}\n",
            counter,
            common::plugin("course-topics"),
            common::plugin("draw-boxes")
        ),
    )
    .unwrap();
    let mut child = common::command()
        .args(["run", "--config"])
        .arg(&pipeline)
        .arg("--input")
        .arg(common::clip())
        .args([
            "--max-frames",
            &FRAMES.to_string(),
            "--stdout",
            "--mqtt-url",
            &broker.url(),
        ])
        // One single-thread session (about 10 fps here): the run outlasts the replacements.
        .args(["--sessions", "1", "--threads", "1"])
        .arg("--plugin-cache")
        .arg(dir.path().join("cache"))
        .env_remove("ORT_DYLIB_PATH")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let counted = common::count_bytes(child.stdout.take().unwrap());

    // Start replacing once frames flow; space the replacements so each is seen.
    assert!(
        sub.wait_for(Duration::from_secs(60), |m| m
            .iter()
            .any(|(t, _)| t == "person")),
        "frames flow"
    );
    for i in 0..REPLACEMENTS {
        let variant = common::with_custom_section(&original, &format!("reload-test-{i}"));
        replace(&counter, &variant, i);
        let want = i + 1;
        let applied = sub.wait_for(Duration::from_secs(20), |m| {
            m.iter()
                .filter(|(t, p)| t.ends_with("/plugins") && p.contains("\"event\":\"reloaded\""))
                .count()
                >= want
        });
        assert!(applied, "replacement {i} was applied");
    }

    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(
        counted.join().unwrap(),
        FRAMES * 768 * 576 * 3,
        "every frame exactly once on stdout"
    );
    assert!(
        stderr.contains(&format!("plugin reloads: {REPLACEMENTS} applied")),
        "{stderr}"
    );

    assert!(sub.wait_for(Duration::from_secs(10), |m| m
        .iter()
        .filter(|(t, _)| t == "person")
        .count() as u64
        >= FRAMES));
    let msgs = sub.messages().to_vec();
    let person: Vec<&String> = msgs
        .iter()
        .filter(|(t, _)| t == "person")
        .map(|(_, p)| p)
        .collect();
    let frames: Vec<u64> = person.iter().map(|p| field(p, "frame")).collect();
    assert_eq!(
        frames,
        (0..FRAMES).collect::<Vec<_>>(),
        "each frame index exactly once, in order"
    );
    let totals: Vec<u64> = person.iter().map(|p| field(p, "total")).collect();
    assert!(
        totals.windows(2).all(|w| w[1] >= w[0]),
        "total never decreases: {totals:?}"
    );
    assert!(*totals.last().unwrap() > 0);

    let events: Vec<serde_json::Value> = msgs
        .iter()
        .filter(|(t, _)| t == "edgepipe/reload-test/plugins")
        .map(|(_, p)| serde_json::from_str(p).unwrap())
        .collect();
    let reloaded: Vec<&serde_json::Value> =
        events.iter().filter(|e| e["event"] == "reloaded").collect();
    assert_eq!(reloaded.len(), REPLACEMENTS);
    for (i, e) in reloaded.iter().enumerate() {
        assert_eq!(e["plugin"], "people-counter");
        assert_eq!(e["version"]["generation"], i as u64 + 1);
        assert_eq!(e["candidate"]["generation"], i as u64 + 2);
        assert_ne!(e["version"]["hash"], e["candidate"]["hash"]);
    }
    // Half-written files may have been seen: each was rejected, never run.
    for e in events.iter().filter(|e| e["event"] == "reload-failed") {
        assert!(
            e["reason"]
                .as_str()
                .unwrap()
                .contains("not a valid component"),
            "{e}"
        );
    }
}

/// A stage file `stage.wasm` with `bytes` in a fresh folder, loaded as the
/// stats stages `(name, mode setting)` of one set that watches the file.
fn watched_stats(
    tag: &str,
    bytes: &[u8],
    stages: &[(&str, &str)],
) -> (
    common::TempDir,
    std::path::PathBuf,
    edgepipe::plugin::StageSet,
) {
    use edgepipe::plugin::{Limits, PluginHost, StageKind, StageSet, StageSettings};
    let dir = common::TempDir::new(tag);
    let path = dir.path().join("stage.wasm");
    std::fs::write(&path, bytes).unwrap();
    let host = PluginHost::new(Limits::default()).unwrap();
    let specs: Vec<StageSettings> = stages
        .iter()
        .map(|(name, mode)| StageSettings {
            name: name.to_string(),
            kind: StageKind::Stats,
            path: path.clone(),
            settings: vec![("mode".into(), mode.to_string())],
        })
        .collect();
    let mut set = StageSet::load(&host, &specs).unwrap();
    set.watch(&host).unwrap();
    (dir, path, set)
}

fn info(i: u64) -> edgepipe::plugin::bindings::FrameInfo {
    edgepipe::plugin::bindings::FrameInfo {
        index: i,
        timestamp_ms: i * 100,
        width: 8,
        height: 8,
        camera: "default".into(),
    }
}

/// A new version whose `restore` rejects the running state is not swapped in.
#[test]
fn a_version_that_cannot_restore_the_state_is_not_swapped_in() {
    let original = std::fs::read(common::guest("hostile")).unwrap();
    let (_dir, path, mut set) =
        watched_stats("reload-restore", &original, &[("hostile", "fail-restore")]);
    for i in 0..3 {
        set.stages_mut()[0].update(&info(i), &[]);
    }
    let before = set.stages()[0].version();
    std::fs::write(&path, common::with_custom_section(&original, "next")).unwrap();
    let mut events = Vec::new();
    for i in 3..400 {
        set.apply_reloads(i);
        let out = set.stages_mut()[0].update(&info(i), &[]);
        assert_eq!(
            out[0].value,
            (i + 1).to_string(),
            "the old version keeps counting"
        );
        events.extend(set.take_events(i));
        if events.iter().any(|e| e.event == "reload-failed") {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let failed = events
        .iter()
        .find(|e| e.event == "reload-failed")
        .expect("a reload-failed event");
    assert!(
        failed
            .reason
            .as_deref()
            .unwrap()
            .contains("restore failed: hostile guest refuses every state"),
        "{failed:?}"
    );
    assert_eq!(failed.version, before);
    assert_eq!(
        set.stages()[0].version(),
        before,
        "old version still running"
    );
    assert_eq!(set.rejected_reloads(), 1);
}

/// Two stages built from one file (with different settings) both take up
/// its new version, each keeping its own state.
#[test]
fn every_stage_sharing_a_file_is_reloaded() {
    let original = std::fs::read(common::guest("hostile")).unwrap();
    let (_dir, path, mut set) =
        watched_stats("reload-shared", &original, &[("a", "ok"), ("b", "ok")]);
    // Stage a sees 3 frames, stage b 1: different states.
    for i in 0..3 {
        set.stages_mut()[0].update(&info(i), &[]);
    }
    set.stages_mut()[1].update(&info(0), &[]);
    std::fs::write(&path, common::with_custom_section(&original, "shared")).unwrap();
    for i in 3..500 {
        set.apply_reloads(i);
        if set.stages().iter().all(|s| s.version().generation == 2) {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(
        set.stages().iter().all(|s| s.version().generation == 2),
        "both stages reloaded"
    );
    let a = set.stages_mut()[0].update(&info(10), &[]);
    let b = set.stages_mut()[1].update(&info(10), &[]);
    assert_eq!(
        (a[0].value.as_str(), b[0].value.as_str()),
        ("4", "2"),
        "each kept its own count"
    );
}

/// A new version is instantiated and configured by the reload worker, not
/// between two frames: here its `configure` never returns, and the frame
/// loop never waits for it (before, `apply_reloads` sat out the whole
/// deadline on the frame thread, then rejected it).
#[test]
fn a_version_slow_to_start_never_holds_up_a_frame() {
    use edgepipe::plugin::START_TIMEOUT;
    use std::time::Instant;

    // Running: class-names (ignores the `mode` setting); next: hostile, whose
    // `configure` loops with that setting until the start deadline stops it.
    let running = std::fs::read(common::plugin("class-names")).unwrap();
    let (_dir, path, mut set) =
        watched_stats("reload-slow-start", &running, &[("slow", "loop-configure")]);
    let before = set.stages()[0].version();
    std::fs::write(&path, std::fs::read(common::guest("hostile")).unwrap()).unwrap();
    let (mut events, mut longest) = (Vec::new(), Duration::ZERO);
    let give_up = Instant::now() + Duration::from_secs(60);
    let mut i = 0;
    while Instant::now() < give_up
        && !events
            .iter()
            .any(|e: &edgepipe::plugin::PluginEvent| e.event == "reload-failed")
    {
        let t = Instant::now();
        set.apply_reloads(i);
        longest = longest.max(t.elapsed());
        set.stages_mut()[0].update(&info(i), &[]);
        events.extend(set.take_events(i));
        i += 1;
        std::thread::sleep(Duration::from_millis(10));
    }
    let failed = events
        .iter()
        .find(|e| e.event == "reload-failed")
        .expect("a reload-failed event");
    let reason = failed.reason.as_deref().unwrap();
    let deadline = format!("deadline of {} ms exceeded", START_TIMEOUT.as_millis());
    assert!(
        reason.contains("configure failed") && reason.contains(&deadline),
        "{reason}"
    );
    assert_eq!(
        set.stages()[0].version(),
        before,
        "the running version stays"
    );
    assert!(
        longest < START_TIMEOUT / 10,
        "a frame waited {longest:?} for the new version's configure (deadline {START_TIMEOUT:?})"
    );
    assert_eq!(set.stages()[0].faults(), 0);
}
