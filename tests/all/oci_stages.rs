//! `oci://` stage paths beyond the pipeline's own stages (issue 19: "a
//! stage's `path` may be `oci://REF` in a pipeline, camera or tenant file"):
//! a camera's `[[cameras.stages]]` and a tenant's stages pulled from a real
//! registry (TLS, htpasswd login), run on two cameras, each frame's messages
//! delivered once.

use std::process::Stdio;
use std::time::Duration;

use super::common::{self, Mosquitto, Subscriber, TempDir};
use super::oci_common::{push, DockerRegistry, USER};
use super::tenants::each_frame_once;

const FRAMES: u64 = 4;

#[test]
fn a_camera_file_and_a_tenant_file_run_stages_from_the_registry() {
    let reg = DockerRegistry::start();
    let digest = push(
        &reg,
        &common::plugin("people-counter"),
        "people-counter:stable",
    );
    let oci = format!("oci://{}", reg.reference("people-counter:stable"));
    let dir = TempDir::new("oci-stages");
    let clip = common::clip();
    let config = dir.path().join("pipeline.toml");
    std::fs::write(
        &config,
        format!(
            "name = \"shop\"\n\n[plugins]\nregistry_user = {user:?}\nregistry_password_file = {pw:?}\nregistry_ca = {ca:?}\n\n\
             [[cameras]]\nname = \"door\"\ninput = {clip:?}\n\n\
             [[cameras.stages]]\nname = \"people-counter\"\nkind = \"stats\"\npath = {oci:?}\n\n\
             [[cameras.stages]]\nname = \"course-topics\"\nkind = \"topics\"\nsettings = {{ include_frame = true }}\n\n\
             [[cameras]]\nname = \"till\"\ninput = {clip:?}\n",
            user = USER,
            pw = reg.password_file.display().to_string(),
            ca = reg.ca.display().to_string(),
            clip = clip.display().to_string(),
        ),
    )
    .unwrap();
    let tenants = dir.path().join("tenants");
    std::fs::create_dir_all(&tenants).unwrap();
    std::fs::write(
        tenants.join("acme.toml"),
        format!(
            "[[stages]]\nname = \"people-counter\"\nkind = \"stats\"\npath = {oci:?}\n\n\
             [[stages]]\nname = \"course-topics\"\nkind = \"topics\"\nsettings = {{ include_frame = true }}\n"
        ),
    )
    .unwrap();
    let broker = Mosquitto::start();
    let mut sub = Subscriber::start(broker.port, &["#"]);
    let out = common::command()
        .args(["run", "--config"])
        .arg(&config)
        .arg("--tenants")
        .arg(&tenants)
        .arg("--plugin-cache")
        .arg(dir.path().join("cache"))
        .arg("--state-dir")
        .arg(dir.path().join("state"))
        .args([
            "--max-frames",
            &FRAMES.to_string(),
            "--mqtt-url",
            &broker.url(),
        ])
        .stdout(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(0), "{stderr}");

    // Loaded from the registry: the door's own chain and the tenant's chain
    // on each camera (the till's operator chain runs the default files).
    let from_registry = stderr
        .lines()
        .filter(|l| l.contains("stage loaded") && l.contains("plugin=people-counter"))
        .filter(|l| l.contains(&format!("digest=\"{digest}\"")))
        .count();
    assert_eq!(from_registry, 3, "{stderr}");

    let topics = [
        "door/person",
        "tenants/acme/door/person",
        "tenants/acme/till/person",
    ];
    let all_there = |m: &[(String, String)]| {
        topics
            .iter()
            .all(|t| m.iter().filter(|(topic, _)| topic == t).count() as u64 >= FRAMES)
    };
    assert!(
        sub.wait_for(Duration::from_secs(30), all_there),
        "{:?}",
        sub.messages()
    );
    for t in topics {
        each_frame_once(sub.messages(), t, FRAMES);
    }
}
