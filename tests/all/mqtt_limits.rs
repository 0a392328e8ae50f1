//! What no stage message can do to MQTT, on a real mosquitto: a message over
//! the size limit (ours, or the one an MQTT 5 broker announces) and a message
//! on the host's own topics (`edgepipe/<name>/...`, `$...`) are refused before
//! the queue, counted per stage and reported; the connection never drops.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::common::{self, ConfiguredMosquitto, MosquittoOptions};
use crate::mqtt::figure;

const FRAMES: u64 = 12;

/// A pipeline named `name`: people-counter + course-topics, and one
/// hostile-topics stage per (stage name, topic, payload bytes).
fn pipeline(dir: &Path, name: &str, hostile: &[(&str, &str, usize)]) -> PathBuf {
    let mut toml = format!("name = \"{name}\"\n");
    for (stage, kind) in [("people-counter", "stats"), ("course-topics", "topics")] {
        toml += &format!(
            "[[stages]]\nname = \"{stage}\"\nkind = \"{kind}\"\npath = {:?}\n",
            common::plugin(stage)
        );
    }
    for (stage, topic, bytes) in hostile {
        toml += &format!(
            "[[stages]]\nname = \"{stage}\"\nkind = \"topics\"\npath = {:?}\nsettings = {{ topic = \"{topic}\", bytes = {bytes} }}\n",
            common::guest("hostile-topics")
        );
    }
    let p = dir.join("pipeline.toml");
    std::fs::write(&p, toml).unwrap();
    p
}

fn run(pipeline: &Path, url: &str, extra: &[&str]) -> (i32, String) {
    let clip = common::clip();
    let max = FRAMES.to_string();
    let mut args = vec![
        "run",
        "--config",
        pipeline.to_str().unwrap(),
        "--input",
        clip.to_str().unwrap(),
        "--max-frames",
        &max,
    ];
    args.extend(["--mqtt-url", url, "--no-reload", "--no-plugin-cache"]);
    args.extend(extra);
    let (code, _, stderr) = common::run_edgepipe(&args);
    (code, stderr)
}

/// The plugin events of `stage` seen by the subscriber.
fn events_of(msgs: &[(String, String)], stage: &str) -> Vec<serde_json::Value> {
    msgs.iter()
        .filter(|(t, _)| t.ends_with("/plugins"))
        .filter_map(|(_, p)| serde_json::from_str::<serde_json::Value>(p).ok())
        .filter(|e| e["plugin"] == stage)
        .collect()
}

/// The other stages' messages were all delivered and the link never broke.
fn assert_delivered_without_reconnects(stderr: &str) {
    assert_eq!(figure(stderr, "reconnects:"), 0, "{stderr}");
    assert_eq!(figure(stderr, "unacknowledged:"), 0, "{stderr}");
    assert_eq!(figure(stderr, "re-sent:"), 0, "{stderr}");
    assert!(!stderr.contains("MQTT connection lost"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn a_4_mib_message_is_refused_and_the_connection_never_drops() {
    let broker = common::Mosquitto::start();
    let mut sub = common::Subscriber::start(broker.port, &["person", "big", "edgepipe/+/plugins"]);
    let dir = common::TempDir::new("big-message");
    let p = pipeline(dir.path(), "big-test", &[("hostile-big", "big", 4 << 20)]);
    let (code, stderr) = run(&p, &broker.url(), &[]);
    assert_eq!(code, 8, "refused messages make the run degraded: {stderr}");
    assert_delivered_without_reconnects(&stderr);
    assert_eq!(figure(&stderr, "rejected:"), FRAMES, "{stderr}");
    assert!(
        stderr.contains(
            "MQTT messages refused (host topic, invalid topic or too large): hostile-big: 12"
        ),
        "{stderr}"
    );
    assert!(sub.wait_for(Duration::from_secs(10), |m| m
        .iter()
        .filter(|(t, _)| t == "person")
        .count() as u64
        == FRAMES));
    let msgs = sub.messages().to_vec();
    assert!(
        !msgs.iter().any(|(t, _)| t == "big"),
        "the big message never went out"
    );
    let refused = events_of(&msgs, "hostile-big");
    let refused: Vec<&serde_json::Value> = refused
        .iter()
        .filter(|e| e["event"] == "message-refused")
        .collect();
    assert_eq!(refused.len(), 1, "one event, then only counted: {msgs:?}");
    assert!(
        refused[0]["reason"]
            .as_str()
            .unwrap()
            .contains("over the limit of 1048576 bytes"),
        "{:?}",
        refused[0]
    );
}

/// MQTT 5: the broker's maximum packet size (2 KiB here, from CONNACK) is
/// the limit, though ours is 1 MiB.
#[test]
fn the_maximum_packet_size_an_mqtt_5_broker_announces_is_the_limit() {
    let extra = "max_packet_size 2048\n".to_string();
    let broker = ConfiguredMosquitto::start(&MosquittoOptions {
        extra,
        ..Default::default()
    });
    let mut sub = common::Subscriber::start(broker.port, &["person", "mid"]);
    let dir = common::TempDir::new("broker-limit");
    let p = pipeline(dir.path(), "limit-test", &[("hostile-mid", "mid", 4000)]);
    let (code, stderr) = run(&p, &broker.url(), &["--mqtt-version", "5"]);
    assert_eq!(code, 8, "{stderr}");
    assert_delivered_without_reconnects(&stderr);
    assert!(stderr.contains("hostile-mid: 12"), "{stderr}");
    assert!(sub.wait_for(Duration::from_secs(10), |m| m
        .iter()
        .filter(|(t, _)| t == "person")
        .count() as u64
        == FRAMES));
    assert!(!sub.messages().iter().any(|(t, _)| t == "mid"));
}

/// A stage cannot speak for the host: `edgepipe/<name>/status` (availability),
/// `edgepipe/<name>/plugins` (events) and `$` topics are refused.
#[test]
fn stages_cannot_publish_on_the_host_topics() {
    let broker = common::Mosquitto::start();
    let mut sub = common::Subscriber::start(broker.port, &["person", "edgepipe/spoof-test/#"]);
    let dir = common::TempDir::new("spoof");
    let p = pipeline(
        dir.path(),
        "spoof-test",
        &[
            ("spoof-status", "edgepipe/spoof-test/status", 2),
            ("spoof-events", "edgepipe/spoof-test/plugins", 2),
            ("spoof-sys", "$SYS/spoof", 2),
        ],
    );
    let (code, stderr) = run(&p, &broker.url(), &[]);
    assert_eq!(code, 8, "{stderr}");
    assert_delivered_without_reconnects(&stderr);
    assert!(
        stderr.contains("spoof-status: 12, spoof-events: 12, spoof-sys: 12"),
        "{stderr}"
    );
    assert!(sub.wait_for(Duration::from_secs(10), |m| m
        .iter()
        .filter(|(t, _)| t == "person")
        .count() as u64
        == FRAMES));
    // Give the end-of-run messages a moment, then look at all the host topics carried.
    assert!(sub.wait_for(Duration::from_secs(5), |m| m
        .iter()
        .any(|(t, p)| t == "edgepipe/spoof-test/status" && p == "offline")));
    for (topic, payload) in sub.messages() {
        match topic.as_str() {
            "edgepipe/spoof-test/status" => assert!(
                payload == "online" || payload == "offline",
                "spoofed status {payload:?}"
            ),
            "edgepipe/spoof-test/plugins" => {
                let e: serde_json::Value = serde_json::from_str(payload)
                    .unwrap_or_else(|_| panic!("spoofed event {payload:?}"));
                assert!(e["event"].is_string(), "{payload}");
            }
            "edgepipe/spoof-test/stages/operator" => {
                let c: edgepipe::chain::inventory::ChainStatus = serde_json::from_str(payload)
                    .unwrap_or_else(|_| panic!("spoofed stage status {payload:?}"));
                assert_eq!(c.box_name, "spoof-test", "{payload}");
            }
            "person" => {}
            other => panic!("unexpected topic {other}"),
        }
    }
    let events = events_of(sub.messages(), "spoof-status");
    assert!(
        events.iter().any(|e| e["event"] == "message-refused"
            && e["reason"]
                .as_str()
                .unwrap()
                .contains("reserved for the host")),
        "{events:?}"
    );
}

/// The host's own messages (plugin events, source events) go through
/// `Publisher::publish`: a refusal comes back as an error its callers see
/// (it always said `Ok` before), and is counted in the report.
#[test]
fn publish_says_when_the_host_s_own_message_is_refused() {
    use edgepipe::mqtt::{MqttSettings, Publisher};
    use edgepipe::plugin::bindings::{Message, Qos};
    let broker = common::Mosquitto::start();
    let mut settings = MqttSettings::new(broker.url(), "host-refusals");
    settings.max_message_bytes = Some(256);
    settings.required = true;
    let mut p = Publisher::connect(&settings).unwrap();
    let msg = |topic: &str, bytes: usize| Message {
        topic: topic.into(),
        payload: "x".repeat(bytes),
        qos: Qos::AtLeastOnce,
        retain: false,
    };
    let big = p.publish(&msg("edgepipe/refusals/plugins", 1_000));
    assert!(
        big.as_ref()
            .is_err_and(|e| e.to_string().contains("over the limit")),
        "{big:?}"
    );
    let bad = p.publish(&msg("edgepipe/+/plugins", 10));
    assert!(
        bad.as_ref()
            .is_err_and(|e| e.to_string().contains("invalid topic")),
        "{bad:?}"
    );
    assert!(p.publish(&msg("edgepipe/refusals/plugins", 10)).is_ok());
    let report = p.finish();
    assert_eq!((report.rejected, report.acked), (2, 1), "{report:?}");
}

/// A frame's messages go to the connection together (`publish_all_from`,
/// issue 22: one lock and one wake-up a frame): they arrive in their order,
/// a refused one in the middle is reported at its position and counted
/// against its stage, and the ones after it still go out.
#[test]
fn a_frame_s_messages_go_out_together_in_order() {
    use edgepipe::mqtt::{MqttSettings, Publisher};
    use edgepipe::plugin::bindings::{Message, Qos};
    let broker = common::Mosquitto::start();
    let mut sub = common::Subscriber::start(broker.port, &["batch/#"]);
    let mut settings = MqttSettings::new(broker.url(), "batch-order");
    settings.max_message_bytes = Some(256);
    settings.required = true;
    let mut p = Publisher::connect(&settings).unwrap();
    let msg = |topic: &str, payload: String| Message {
        topic: topic.into(),
        payload,
        qos: Qos::AtLeastOnce,
        retain: false,
    };
    let mut sent = Vec::new();
    for frame in 0..20 {
        let msgs = [
            msg("batch/person", format!("{{\"frame\":{frame}}}")),
            msg("batch/big", "x".repeat(1_000)),
            msg("batch/class", format!("[{frame}]")),
            msg("batch/speedometer", format!("{frame}.5")),
        ];
        let stages = ["counter", "noisy", "counter", "speed"];
        let refused = p.publish_all_from(stages.iter().copied().zip(msgs.iter()));
        let at: Vec<usize> = refused.iter().map(|(i, _)| *i).collect();
        assert_eq!(at, [1], "frame {frame}: {refused:?}");
        sent.extend(msgs.into_iter().filter(|m| m.topic != "batch/big"));
    }
    let report = p.finish();
    assert_eq!((report.acked, report.rejected), (60, 20), "{report:?}");
    assert_eq!(report.refused_by_stage, [("noisy".to_string(), 20)]);
    let want: Vec<(String, String)> = sent.into_iter().map(|m| (m.topic, m.payload)).collect();
    assert!(
        sub.wait_for(Duration::from_secs(10), |got| got.len() >= want.len()),
        "{:?}",
        sub.messages()
    );
    assert_eq!(sub.messages(), want.as_slice());
}
