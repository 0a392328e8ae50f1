//! The cameras folder (`--cameras-dir`), with real parts (the clip, the
//! model, built stages, mosquitto): a camera added, edited and removed while
//! another runs, with no gap for it; an edited camera carries its state and
//! continues at its frame; a bad file is refused while what runs stays.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use crate::common::{self, Subscriber};
use crate::tenants::{each_frame_once, frames_on, totals_on};

/// Frames the other camera reads: enough for the folder's changes to land
/// while it runs.
const FRAMES: u64 = 300;

/// A camera file: `input`, the counting chain (frame index in each payload), and `extra`.
fn camera_file(input: &Path, extra: &str) -> String {
    let plugin = |n: &str| common::plugin(n).display().to_string();
    format!(
        "input = {:?}\n{extra}\n\
         [[stages]]\nname = \"people-counter\"\nkind = \"stats\"\npath = {:?}\n\n\
         [[stages]]\nname = \"course-topics\"\nkind = \"topics\"\npath = {:?}\nsettings = {{ include_frame = true }}\n",
        input.display(),
        plugin("people-counter"),
        plugin("course-topics")
    )
}

fn count(m: &[(String, String)], topic: &str) -> usize {
    m.iter().filter(|(t, _)| t == topic).count()
}

/// The camera-file events of `name` that say `event`.
fn events(m: &[(String, String)], name: &str, event: &str) -> usize {
    let topic = format!("edgepipe/default/cameras/{name}/events");
    m.iter()
        .filter(|(t, p)| *t == topic && p.contains(&format!("\"event\":\"{event}\"")))
        .count()
}

fn wait(sub: &mut Subscriber, what: &str, pred: impl Fn(&[(String, String)]) -> bool) {
    assert!(sub.wait_for(Duration::from_secs(120), pred), "{what}");
}

#[test]
fn cameras_come_change_and_go_while_running_with_no_gap_for_the_others() {
    let dir = common::TempDir::new("camera-dir");
    let cams = dir.path().join("cams");
    std::fs::create_dir_all(&cams).unwrap();
    let clip = common::clip();
    std::fs::write(cams.join("gate.toml"), camera_file(&clip, "")).unwrap();
    let broker = common::Mosquitto::start();
    let mut sub = Subscriber::start(broker.port, &["#"]);
    let state = dir.path().join("state");
    let pipeline = dir.path().join("pipeline.toml");
    let door = camera_file(&clip, "").replace(&format!("input = {:?}\n", clip.display()), "");
    std::fs::write(&pipeline, door).unwrap();
    let mut child = common::command()
        .args(["run", "--config"])
        .arg(&pipeline)
        .arg("--camera")
        .arg(format!("door={}", clip.display()))
        .arg("--cameras-dir")
        .arg(&cams)
        .args([
            "--max-frames",
            &FRAMES.to_string(),
            "--mqtt-url",
            &broker.url(),
        ])
        .arg("--state-dir")
        .arg(&state)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let err = common::stderr_of(&mut child);
    wait(&mut sub, "door and gate run", |m| {
        count(m, "door/person") >= 10 && count(m, "gate/person") >= 10
    });

    // Added mid-run.
    std::fs::write(cams.join("yard.toml"), camera_file(&clip, "")).unwrap();
    wait(&mut sub, "yard added", |m| {
        events(m, "yard", "added") == 1 && count(m, "yard/person") >= 5
    });

    // Edited: gate's topics move to gate-b/; it continues at its frame, its state carried.
    std::fs::write(
        cams.join("gate.toml"),
        camera_file(&clip, "topic_prefix = \"gate-b\""),
    )
    .unwrap();
    wait(&mut sub, "gate edited", |m| {
        events(m, "gate", "updated") == 1 && count(m, "gate-b/person") >= 5
    });

    // Bad files are refused; what runs stays.
    std::fs::write(cams.join("bad.toml"), "input = \"a.avi\"\nfps = 3\n").unwrap();
    std::fs::write(cams.join("yard.toml"), "[[stages]\nthis is not toml").unwrap();
    wait(&mut sub, "bad files refused", |m| {
        events(m, "bad", "refused") == 1 && events(m, "yard", "refused") == 1
    });
    let before = count(sub.messages(), "yard/person");
    wait(&mut sub, "yard keeps running", |m| {
        count(m, "yard/person") >= before + 5
    });

    // Removed: its chains' finish runs, then it stops.
    std::fs::remove_file(cams.join("yard.toml")).unwrap();
    wait(&mut sub, "yard removed", |m| {
        events(m, "yard", "removed") == 1 && count(m, "yard/person/total") >= 1
    });

    // The others run to their last frame; then the run is stopped.
    wait(&mut sub, "door's and gate's last frames", |m| {
        count(m, "door/person") as u64 == FRAMES
            && count(m, "door/person/total") == 1
            && count(m, "gate-b/person/total") == 1
    });
    let ok = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
    let code = common::wait_exit(&mut child, Duration::from_secs(120));
    let stderr = err.join().unwrap();
    assert_eq!(code, 0, "{stderr}");
    let m = sub.messages().to_vec();

    // No gap, no duplicate for the camera that ran beside the changes.
    each_frame_once(&m, "door/person", FRAMES);
    // The edited camera: every frame once across its edit (it continued at
    // the frame it had reached), its counter's total going on.
    let mut gate = frames_on(&m, "gate/person");
    let before_edit = gate.len() as u64;
    for (f, n) in frames_on(&m, "gate-b/person") {
        *gate.entry(f).or_default() += n;
    }
    let last = gate.keys().last().copied().unwrap_or(0);
    assert_eq!(
        gate,
        (0..=last).map(|f| (f, 1)).collect::<BTreeMap<_, _>>(),
        "gate: every frame once, across its edit"
    );
    assert!(
        last + 1 > before_edit,
        "gate went on after its edit: {before_edit} frames, then up to {last}"
    );
    let (v1, v2) = (totals_on(&m, "gate/person"), totals_on(&m, "gate-b/person"));
    assert!(
        v2.first().copied().unwrap_or(0) >= v1.last().copied().unwrap_or(0),
        "state carried: gate ended at {:?}, gate-b began at {:?}",
        v1.last(),
        v2.first()
    );
    // The removed camera stopped before the end of its input.
    let yard = frames_on(&m, "yard/person");
    assert!(
        (yard.len() as u64) < FRAMES,
        "yard stopped early: {} frames",
        yard.len()
    );
    // The process says once that it stops; a removed camera is not a stop
    // of the process.
    assert_eq!(
        stderr.matches("(again to exit at once)").count(),
        1,
        "one stop line for the process: {stderr}"
    );
    assert!(stderr.contains("SIGINT received: finishing every camera's frames in flight"));
    assert!(
        stderr.contains("camera file refused (not running)")
            && stderr.contains("camera file refused (the running camera stays)"),
        "{stderr}"
    );
}
