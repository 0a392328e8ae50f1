//! The sandbox holds for Python and JavaScript guests exactly as for Rust:
//! tests/guests/hostile-py and hostile-js (built by scripts/setup.sh) loop
//! forever or ask for 1 GiB; the call deadline and the memory cap stop them,
//! the stage is disabled after 3 faults in a row, and after one fault it comes
//! back with the state its SDK saved.

use std::time::Duration;

use edgepipe::plugin::bindings::{FrameInfo, Stat};
use edgepipe::plugin::{
    ComponentCache, Limits, PluginEvent, PluginHost, Stage, StageKind, MAX_CONSECUTIVE_FAULTS,
};

use crate::common;
use crate::plugin_langs::test_cache;

fn info(index: u64) -> FrameInfo {
    FrameInfo {
        index,
        timestamp_ms: index * 100,
        width: 768,
        height: 576,
        camera: "default".into(),
    }
}

fn hostile(guest: &str, mode: &str, at: Option<u64>) -> (PluginHost, Stage) {
    let host =
        PluginHost::with_cache(Limits::default(), ComponentCache::new(Some(test_cache()))).unwrap();
    let mut settings = vec![("mode".to_string(), mode.to_string())];
    if let Some(at) = at {
        settings.push(("at".into(), at.to_string()));
    }
    let stage = host
        .load(guest, &common::guest(guest), StageKind::Stats, settings)
        .unwrap();
    (host, stage)
}

fn seen(stats: &[Stat]) -> Option<u64> {
    stats
        .iter()
        .find(|s| s.name == "seen")
        .and_then(|s| s.value.parse().ok())
}

/// Call `update` until the stage is disabled; the events it raised.
fn run_until_disabled(stage: &mut Stage) -> Vec<PluginEvent> {
    let mut events = Vec::new();
    for i in 0..200 {
        assert!(
            stage.update(&info(i), &[]).is_empty(),
            "a faulting call gives no output"
        );
        events.extend(stage.take_events());
        if stage.is_disabled() {
            return events;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("stage never disabled; events: {events:?}");
}

fn assert_disabled_by(guest: &str, mode: &str, reason_part: &str) {
    let (_host, mut stage) = hostile(guest, mode, None);
    let events = run_until_disabled(&mut stage);
    let kinds: Vec<&str> = events.iter().map(|e| e.event).collect();
    assert_eq!(
        kinds.iter().filter(|k| **k == "fault").count() as u32,
        MAX_CONSECUTIVE_FAULTS,
        "{kinds:?}"
    );
    assert_eq!(kinds.last(), Some(&"disabled"), "{kinds:?}");
    for e in events.iter().filter(|e| e.event == "fault") {
        let reason = e.reason.as_deref().unwrap_or("");
        assert!(
            reason.contains(reason_part),
            "{guest}: fault reason {reason:?} should contain {reason_part:?}"
        );
        assert_eq!(e.plugin, guest);
    }
    assert!(stage.update(&info(999), &[]).is_empty());
    assert_eq!(stage.faults(), MAX_CONSECUTIVE_FAULTS as u64);
}

#[test]
fn a_python_endless_loop_hits_the_deadline() {
    assert_disabled_by("hostile-py", "loop", "deadline of 50 ms exceeded");
}

#[test]
fn a_js_endless_loop_hits_the_deadline() {
    assert_disabled_by("hostile-js", "loop", "deadline of 50 ms exceeded");
}

#[test]
fn a_python_gigabyte_hits_the_memory_cap() {
    assert_disabled_by("hostile-py", "alloc", "memory limit of 64 MiB reached");
}

#[test]
fn a_js_gigabyte_hits_the_memory_cap() {
    assert_disabled_by("hostile-js", "alloc", "memory limit of 64 MiB reached");
}

#[test]
fn python_and_js_guests_come_back_from_their_sdk_checkpoint() {
    for guest in ["hostile-py", "hostile-js"] {
        let (_host, mut stage) = hostile(guest, "loop", Some(2));
        assert_eq!(seen(&stage.update(&info(0), &[])), Some(1), "{guest}");
        assert_eq!(seen(&stage.update(&info(1), &[])), Some(2), "{guest}");
        assert!(
            stage.update(&info(2), &[]).is_empty(),
            "{guest}: frame 2 runs past the deadline"
        );
        assert_eq!(stage.faults(), 1);
        std::thread::sleep(edgepipe::plugin::FAULT_BACKOFF_BASE + Duration::from_millis(20));
        // Re-created from the state the SDK saved after frame 1 (`self.state`).
        assert_eq!(seen(&stage.update(&info(4), &[])), Some(3), "{guest}");
        let kinds: Vec<&str> = stage.take_events().iter().map(|e| e.event).collect();
        assert_eq!(kinds, ["fault", "recovered"], "{guest}");
    }
}
