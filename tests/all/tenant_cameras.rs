//! Tenants on several cameras, with a real mosquitto (password and ACL
//! files, every log line on): a tenant's chain runs once per camera it
//! names, under `<prefix>/<camera>/`, over one connection of its own; its
//! state is kept per camera; each of its chains' stages is in the retained
//! stage status and in `edgepipe fleet status`.

use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::Duration;

use crate::common::{self, ConfiguredMosquitto, MosquittoOptions, Subscriber};

const FRAMES: u64 = 12;

/// Frame index -> how many messages on `topic` carried it.
fn frames_on(messages: &[(String, String)], topic: &str) -> BTreeMap<u64, usize> {
    let mut out = BTreeMap::new();
    for (_, p) in messages.iter().filter(|(t, _)| t == topic) {
        let v: serde_json::Value = serde_json::from_str(p).unwrap_or_else(|e| panic!("{e}: {p}"));
        let f = v["frame"]
            .as_u64()
            .unwrap_or_else(|| panic!("no frame: {p}"));
        *out.entry(f).or_default() += 1;
    }
    out
}

#[test]
fn a_tenant_on_two_of_three_cameras_gets_each_frame_once_per_camera_over_one_login() {
    let dir = common::TempDir::new("tenant-cameras");
    let users = [("operator", "op-pw"), ("acme", "acme-pw")];
    let passwd = common::password_file(dir.path(), &users);
    let acl = dir.path().join("acl");
    std::fs::write(
        &acl,
        "user operator\ntopic readwrite #\n\npattern readwrite tenants/%u/#\n",
    )
    .unwrap();
    let broker = ConfiguredMosquitto::start(&MosquittoOptions {
        password_file: Some(passwd),
        acl_file: Some(acl),
        extra: "log_type all\n".into(),
        ..Default::default()
    });
    let mut sub = Subscriber::start_as(broker.port, &["#"], Some(("operator", "op-pw")));
    // The example's tenant, and one naming a camera the pipeline lacks.
    let tenants = dir.path().join("tenants");
    std::fs::create_dir_all(&tenants).unwrap();
    let example = common::root().join("examples/cameras");
    std::fs::copy(example.join("tenants/acme.toml"), tenants.join("acme.toml")).unwrap();
    std::fs::write(
        tenants.join("odd.toml"),
        "cameras = [\"door\", \"roof\"]\n\n[[stages]]\nname = \"people-counter\"\nkind = \"stats\"\n",
    )
    .unwrap();
    let state = dir.path().join("state");
    let out = common::command()
        .args(["run", "--config"])
        .arg(example.join("tenants.toml"))
        .arg("--tenants")
        .arg(&tenants)
        .arg("--state-dir")
        .arg(&state)
        .args([
            "--max-frames",
            &FRAMES.to_string(),
            "--mqtt-url",
            &broker.url(),
            "--mqtt-username",
            "operator",
            "--mqtt-password-env",
            "PW_OPERATOR",
        ])
        .env("PW_OPERATOR", "op-pw")
        .env("ACME_MQTT_PASSWORD", "acme-pw")
        .stdout(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(0), "{stderr}");

    let topics = ["tenants/acme/door/person", "tenants/acme/till/person"];
    assert!(
        sub.wait_for(Duration::from_secs(60), |m| topics.iter().all(|t| m
            .iter()
            .filter(|(x, _)| x == t)
            .count()
            >= FRAMES as usize)),
        "the tenant's messages of both its cameras:\n{stderr}"
    );
    let m = sub.messages().to_vec();
    for t in topics {
        assert_eq!(
            frames_on(&m, t),
            (0..FRAMES).map(|f| (f, 1)).collect::<BTreeMap<_, _>>(),
            "{t}: every frame once"
        );
    }
    assert!(
        !m.iter().any(|(t, _)| t.starts_with("tenants/acme/aisle")
            || t == "tenants/acme/person"
            || t.starts_with("tenants/odd/")),
        "nothing for the camera it does not watch, nothing without a camera: {:?}",
        m.iter().map(|(t, _)| t).collect::<Vec<_>>()
    );
    // One login: one connection for both cameras, never a client id fight.
    let log = broker.log();
    let acme_connects = log
        .lines()
        .filter(|l| l.contains("New client connected") && l.contains("u'acme'"))
        .count();
    assert_eq!(acme_connects, 1, "one connection for the tenant:\n{log}");
    assert!(
        !log.lines()
            .any(|l| l.contains("already connected") || l.contains("session taken over")),
        "{log}"
    );
    // The unknown camera: one line, one event; the other tenant runs.
    let refused: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("tenant file refused"))
        .collect();
    assert_eq!(refused.len(), 1, "{stderr}");
    assert!(
        refused[0].contains("odd") && refused[0].contains("roof"),
        "{}",
        refused[0]
    );
    let events: Vec<&(String, String)> = m
        .iter()
        .filter(|(t, p)| t.ends_with("/tenants") && p.contains("\"refused\""))
        .collect();
    assert_eq!(events.len(), 1, "{events:?}");
    assert!(events[0].1.contains("roof"), "{events:?}");
    // State per camera, below it.
    for cam in ["door", "till"] {
        let f = state.join(format!("shop/{cam}/tenants/acme/people-counter.state"));
        assert!(f.is_file(), "{}", f.display());
    }
    assert!(!state.join("shop/aisle/tenants/acme").exists());

    // Each of its chains is in the retained stage status, and in fleet status.
    let mut late = Subscriber::start_as(broker.port, &["edgepipe/#"], Some(("operator", "op-pw")));
    let status = |cam: &str| format!("edgepipe/shop/cameras/{cam}/stages/tenant-acme");
    assert!(
        late.wait_for(Duration::from_secs(20), |m| ["door", "till"]
            .iter()
            .all(|c| m.iter().any(|(t, _)| *t == status(c)))),
        "retained: {:?}",
        late.messages()
    );
    let (_, door) = late
        .messages()
        .iter()
        .find(|(t, _)| *t == status("door"))
        .cloned()
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(&door).unwrap();
    assert_eq!(v["chain"], "tenant-acme");
    assert_eq!(v["camera"], "door");
    assert_eq!(v["stages"][1]["name"], "course-topics", "{door}");
    let fleet = std::process::Command::new(common::bin())
        .args(["fleet", "status", "--mqtt-url", &broker.url()])
        .args([
            "--mqtt-username",
            "operator",
            "--mqtt-password-env",
            "PW_OPERATOR",
        ])
        .env("PW_OPERATOR", "op-pw")
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&fleet.stdout);
    assert!(fleet.status.success(), "{table}");
    for cam in ["door", "till"] {
        assert!(
            table.lines().any(|l| l.contains(cam)
                && l.contains("tenant-acme")
                && l.contains("people-counter")),
            "{cam}'s tenant chain in the table:\n{table}"
        );
    }
    assert!(
        !table
            .lines()
            .any(|l| l.contains("aisle") && l.contains("tenant-acme")),
        "{table}"
    );
}
