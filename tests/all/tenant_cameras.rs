//! Tenants on several cameras, with a real mosquitto (password and ACL
//! files, every log line on): a tenant's chain runs once per camera it
//! names, under `<prefix>/<camera>/`, over one connection of its own; its
//! state is kept per camera; each of its chains' stages is in the retained
//! stage status and in `edgepipe fleet status`.

use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::Duration;

use crate::common::{self, Subscriber};

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
    let (broker, mut sub) = common::broker_with_logins(
        dir.path(),
        &users,
        "user operator\ntopic readwrite #\n\npattern readwrite tenants/%u/#\n",
    );
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

/// No frame twice, and none missing between the first and the last.
fn contiguous_once(frames: &BTreeMap<u64, usize>, what: &str) {
    assert!(
        frames.values().all(|n| *n == 1),
        "{what}: a frame twice: {frames:?}"
    );
    if let (Some(first), Some(last)) = (frames.keys().next(), frames.keys().last()) {
        assert_eq!(
            frames.len() as u64,
            last - first + 1,
            "{what}: a frame missing: {frames:?}"
        );
    }
}

/// Edited while running: a tenant on two cameras narrowed to one leaves the
/// other camera (its chain finished, its stage status cleared) and, alone on
/// one camera, publishes without the camera level; its one connection is
/// kept (same login) and every frame of that camera is published once.
#[test]
fn editing_a_tenants_cameras_while_running_moves_its_chains_on_one_connection() {
    let dir = common::TempDir::new("tenant-cameras-edit");
    let users = [("operator", "op-pw"), ("acme", "acme-pw")];
    let (broker, mut sub) = common::broker_with_logins(
        dir.path(),
        &users,
        "user operator\ntopic readwrite #\n\npattern readwrite tenants/%u/#\n",
    );
    let tenants = dir.path().join("tenants");
    std::fs::create_dir_all(&tenants).unwrap();
    let acme =
        std::fs::read_to_string(common::root().join("examples/cameras/tenants/acme.toml")).unwrap();
    std::fs::write(tenants.join("acme.toml"), &acme).unwrap();
    let config = dir.path().join("pipeline.toml");
    std::fs::write(
        &config,
        format!(
            "[[cameras]]\nname = \"door\"\ninput = {clip:?}\n\n[[cameras]]\nname = \"till\"\ninput = {clip:?}\n\n\
             [tenants]\ndir = {tenants:?}\nmax_frame_budget_ms = 200\n",
            clip = common::clip()
        ),
    )
    .unwrap();
    let mut child = common::command()
        .args(["run", "--config"])
        .arg(&config)
        .args([
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
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let err = common::stderr_of(&mut child);
    let count = |m: &[(String, String)], t: &str| m.iter().filter(|(x, _)| x == t).count();
    fn wait(sub: &mut Subscriber, what: &str, f: impl Fn(&[(String, String)]) -> bool) {
        assert!(sub.wait_for(Duration::from_secs(120), f), "{what}");
    }
    wait(&mut sub, "acme on both cameras", |m| {
        count(m, "tenants/acme/door/person") >= 5 && count(m, "tenants/acme/till/person") >= 5
    });
    std::fs::write(
        tenants.join("acme.toml"),
        acme.replace("cameras = [\"door\", \"till\"]", "cameras = [\"till\"]"),
    )
    .unwrap();
    let host_event = |m: &[(String, String)], cam: &str, what: &str| {
        m.iter().any(|(t, p)| {
            *t == format!("edgepipe/default/cameras/{cam}/tenants") && p.contains(what)
        })
    };
    wait(&mut sub, "the edit applied on both cameras", |m| {
        host_event(m, "door", "\"removed\"")
            && host_event(m, "till", "\"updated\"")
            && count(m, "tenants/acme/person") >= 5
    });
    let ok = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
    let code = common::wait_exit(&mut child, Duration::from_secs(240));
    let stderr = err.join().unwrap();
    assert_eq!(code, 0, "{stderr}");

    let m = sub.messages().to_vec();
    // Till: every frame once, first under till/, then without the camera level.
    let mut till = frames_on(&m, "tenants/acme/till/person");
    for (f, n) in frames_on(&m, "tenants/acme/person") {
        *till.entry(f).or_default() += n;
    }
    assert_eq!(till.keys().next(), Some(&0), "{till:?}");
    contiguous_once(&till, "till");
    contiguous_once(&frames_on(&m, "tenants/acme/door/person"), "door");
    let log = broker.log();
    let connects = log
        .lines()
        .filter(|l| l.contains("New client connected") && l.contains("u'acme'"))
        .count();
    assert_eq!(
        connects, 1,
        "the same login keeps its one connection:\n{log}"
    );
    assert!(
        !log.lines()
            .any(|l| l.contains("already connected") || l.contains("session taken over")),
        "{log}"
    );
    // The door's tenant chain is gone from the retained status, till's stays.
    let mut late = Subscriber::start_as(broker.port, &["edgepipe/#"], Some(("operator", "op-pw")));
    let status = |cam: &str| format!("edgepipe/default/cameras/{cam}/stages/tenant-acme");
    assert!(late.wait_for(Duration::from_secs(20), |m| m
        .iter()
        .any(|(t, _)| *t == status("till"))));
    assert!(
        !late
            .messages()
            .iter()
            .any(|(t, p)| *t == status("door") && !p.is_empty()),
        "{:?}",
        late.messages()
    );
}

/// `tenants check --config` knows the pipeline's cameras: a tenant naming
/// one it lacks fails the check with that name; the example passes.
#[test]
fn tenants_check_names_a_camera_the_pipeline_lacks() {
    let dir = common::TempDir::new("tenant-cameras-check");
    let example = common::root().join("examples/cameras");
    std::fs::copy(
        example.join("tenants/acme.toml"),
        dir.path().join("acme.toml"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("odd.toml"),
        "cameras = [\"door\", \"roof\"]\n\n[[stages]]\nname = \"people-counter\"\nkind = \"stats\"\n",
    )
    .unwrap();
    let o = common::command()
        .args(["tenants", "check"])
        .arg(dir.path())
        .arg("--config")
        .arg(example.join("tenants.toml"))
        .env("ACME_MQTT_PASSWORD", "acme-pw")
        .output()
        .unwrap();
    let (code, out, stderr) = (
        o.status.code(),
        o.stdout,
        String::from_utf8_lossy(&o.stderr),
    );
    let out = String::from_utf8(out).unwrap();
    assert_eq!(code, Some(1), "{out}{stderr}");
    assert!(out.lines().any(|l| l.starts_with("ok acme:")), "{out}");
    assert!(
        out.lines()
            .any(|l| l.contains("odd.toml") && l.contains("roof is not a camera")),
        "{out}"
    );
}
