//! Every configuration README.md shows is a file under examples/, and every
//! example loads and runs (a short run against a real mosquitto).

use std::path::PathBuf;

use crate::common;

/// The ```toml blocks of a markdown text.
fn toml_blocks(md: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in md.lines() {
        match current.as_mut() {
            None if line.trim_start() == "```toml" => current = Some(String::new()),
            Some(_) if line.trim_start() == "```" => blocks.extend(current.take()),
            Some(b) => {
                b.push_str(line);
                b.push('\n');
            }
            None => {}
        }
    }
    blocks
}

fn examples() -> Vec<(PathBuf, String)> {
    examples_in("examples")
}

/// The pipeline files of a folder of the repository (not below it).
fn examples_in(folder: &str) -> Vec<(PathBuf, String)> {
    let mut out: Vec<(PathBuf, String)> = std::fs::read_dir(common::root().join(folder))
        .expect("the examples folder exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            (p, text)
        })
        .collect();
    out.sort();
    out
}

#[test]
fn every_configuration_in_the_readme_is_an_example_file() {
    let readme = std::fs::read_to_string(common::root().join("README.md")).unwrap();
    let blocks = toml_blocks(&readme);
    assert!(!blocks.is_empty(), "README.md shows a pipeline file");
    let mut examples = examples();
    examples.extend(examples_in("examples/cameras"));
    for b in &blocks {
        assert!(
            examples.iter().any(|(_, text)| text == b),
            "this README.md block is not a file under examples/:\n{b}"
        );
    }
}

#[test]
fn every_example_loads_and_runs() {
    let broker = common::Mosquitto::start();
    for (path, text) in examples() {
        let home = common::TempDir::new("example-home");
        let record = home.path().join("seen.jsonl");
        let out = common::command()
            .args(["run", "--config"])
            .arg(&path)
            .args(["--max-frames", "3", "--mqtt-url", &broker.url(), "--record"])
            .arg(&record)
            // `~/` in the file is this home; the password its password_env names.
            .env("HOME", home.path())
            .env("MQTT_PASSWORD", "example-password")
            .env_remove("EDGEPIPE_CACHE_DIR")
            .env_remove("EDGEPIPE_PLUGIN_DIR")
            .env_remove("ORT_DYLIB_PATH")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        // An example for a device this machine may lack runs where the device
        // is, and elsewhere ends with the provider's one-line error (exit 4).
        if text.contains("device_type") && out.status.code() == Some(4) {
            common::one_error_line(&stderr, "cannot load");
            continue;
        }
        // The fleet example runs on a box with its key, login and registry
        // (tests/all/fleet.rs runs it so); here it ends with one line (exit 2).
        if text.contains("oci://") {
            assert_eq!(out.status.code(), Some(2), "{}: {stderr}", path.display());
            common::one_error_line(&stderr, "/etc/edgepipe/");
            continue;
        }
        assert_eq!(out.status.code(), Some(0), "{}: {stderr}", path.display());
        assert_eq!(
            std::fs::read_to_string(&record).unwrap().lines().count(),
            3,
            "{}",
            path.display()
        );
        if text.contains("\nstdout = true") {
            assert_eq!(
                out.stdout.len(),
                3 * 768 * 576 * 3,
                "{}: three frames on stdout",
                path.display()
            );
        }
        if text.contains("cache_dir = \"~/") {
            let cache = home.path().join(".cache/edgepipe/components");
            let entries = std::fs::read_dir(&cache).map(|d| d.count()).unwrap_or(0);
            assert!(
                entries > 0,
                "{}: `~/` is the home folder ({} is empty)",
                path.display(),
                cache.display()
            );
        }
        assert!(
            !path.parent().unwrap().join("~").exists(),
            "no literal `~` folder beside the example"
        );
    }
}

/// The topic prefix of each camera of a pipeline file: its `[[cameras]]`,
/// or the files of its cameras folder (read as the run reads them).
fn camera_prefixes(file: edgepipe::config::FileConfig) -> Vec<String> {
    let folder = file.cameras.dir.clone();
    let s = edgepipe::config::resolve(Some(file), &Default::default()).unwrap();
    let mut cameras = s.cameras;
    if let Some(dir) = folder {
        let (files, odd) = edgepipe::folder::list(&dir).unwrap();
        assert!(odd.is_empty(), "{odd:?}");
        for (name, path) in files {
            cameras.push(s.camera_defaults.from_file(&path, &name).unwrap());
        }
    }
    cameras
        .into_iter()
        .map(|c| c.topic_prefix.unwrap_or(c.name))
        .collect()
}

#[test]
fn every_cameras_example_runs_each_camera_under_its_prefix() {
    let broker = common::Mosquitto::start();
    let examples = examples_in("examples/cameras");
    assert!(!examples.is_empty(), "examples/cameras/ has pipeline files");
    for (path, text) in examples {
        let file = edgepipe::config::FileConfig::load(&path).unwrap();
        let prefixes = camera_prefixes(file);
        assert!(!prefixes.is_empty(), "{}: cameras", path.display());
        let mut sub = common::Subscriber::start(broker.port, &["#"]);
        let home = common::TempDir::new("cameras-example-home");
        let out = common::command()
            .args(["run", "--config"])
            .arg(&path)
            // A cameras folder is read once: the run ends with its cameras.
            .args([
                "--max-frames",
                "3",
                "--no-reload",
                "--mqtt-url",
                &broker.url(),
            ])
            .env("HOME", home.path())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{}: {stderr}", path.display());
        for prefix in prefixes {
            let topic = format!("{prefix}/person");
            assert!(
                sub.wait_for(std::time::Duration::from_secs(10), |m| {
                    m.iter().filter(|(t, _)| *t == topic).count() == 3
                }),
                "{}: three messages on {topic} ({text})",
                path.display()
            );
        }
    }
}
