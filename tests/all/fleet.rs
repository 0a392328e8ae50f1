//! A fleet on one machine: three edgepipe processes (three boxes) run the
//! README's `examples/fleet.toml` against one real registry (TLS, login) and
//! one mosquitto. Moving the tag swaps all three (state kept, every frame's
//! messages once), a component signed by an unknown key is refused by all
//! three, moving the tag back rolls back, `fleet status` shows the digests,
//! and the registry stopped mid-run changes nothing; a box started while the
//! registry is away runs the last verified digest from its cache.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::common::{self, Subscriber, TempDir};
use super::oci_common::{
    lying_manifest, plugin_cmd, push, push_padded_sparse, put_manifest, DockerRegistry,
};

const BOXES: [&str; 3] = ["box-a", "box-b", "box-c"];
type Pred<'a> = dyn Fn(&[(String, String)]) -> bool + 'a;

const WAIT: Duration = Duration::from_secs(180);

/// One edgepipe process and its stderr, read as it comes.
struct Box_ {
    name: &'static str,
    child: Child,
    stderr: Arc<Mutex<String>>,
}

impl Box_ {
    fn start(name: &'static str, config: &Path, cache: &Path, broker: &str, frames: u64) -> Box_ {
        let mut child = common::command()
            .args(["run", "--config"])
            .arg(config)
            .arg("--input")
            .arg(common::clip())
            .args(["--max-frames", &frames.to_string(), "--mqtt-url", broker])
            .args(["--sessions", "1", "--threads", "1"])
            .arg("--plugin-cache")
            .arg(cache)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut err = child.stderr.take().unwrap();
        let stderr = Arc::new(Mutex::new(String::new()));
        let sink = stderr.clone();
        std::thread::spawn(move || {
            use std::io::Read;
            let mut buf = [0u8; 4096];
            while let Ok(n) = err.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        Box_ {
            name,
            child,
            stderr,
        }
    }
    fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }
    fn wait_stderr(&self, needle: &str) -> bool {
        let until = Instant::now() + WAIT;
        while Instant::now() < until {
            if self.stderr().contains(needle) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }
    /// SIGTERM (a graceful stop) and the exit code.
    fn stop(mut self) -> (i32, String) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let code = common::wait_exit(&mut self.child, WAIT);
        // The reader thread has the rest once the pipe closes.
        std::thread::sleep(Duration::from_millis(100));
        (code, self.stderr())
    }
}

/// The README's fleet example, pointed at this test's registry, keys and box name.
fn box_config(dir: &Path, name: &str, reg: &DockerRegistry, keys: &Path, topics: &Path) -> PathBuf {
    let example = std::fs::read_to_string(common::root().join("examples/fleet.toml")).unwrap();
    let text = example
        .replace("name = \"box-1\"", &format!("name = \"{name}\""))
        .replace("registry.example:5000", &reg.host())
        .replace(
            "\"/etc/edgepipe/release.key.pub\"",
            &format!("{:?}", keys.display().to_string()),
        )
        .replace(
            "\"/etc/edgepipe/registry-password\"",
            &format!("{:?}", reg.password_file.display().to_string()),
        )
        .replace(
            "\"/etc/edgepipe/registry-ca.pem\"",
            &format!("{:?}", reg.ca.display().to_string()),
        )
        .replace(
            "\"/usr/lib/edgepipe/plugins/course-topics.wasm\"",
            &format!("{:?}", topics.display().to_string()),
        )
        .replace("poll_secs = 60", "poll_secs = 0.5")
        .replace("prefix = \"box-1\"", &format!("prefix = \"{name}\""));
    assert!(
        text.contains(&reg.host()) && !text.contains("/etc/edgepipe"),
        "{text}"
    );
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, text).unwrap();
    path
}

fn sha256(b: &[u8]) -> String {
    edgepipe::plugin::cache::content_hash(b)
}

fn json(p: &str) -> serde_json::Value {
    serde_json::from_str(p).unwrap_or(serde_json::Value::Null)
}

/// Has every box published an event `event` of people-counter about `hash`?
fn all_saw(m: &[(String, String)], event: &str, hash: &str) -> bool {
    BOXES.iter().all(|b| {
        m.iter().any(|(t, p)| {
            let e = json(p);
            t == &format!("edgepipe/{b}/plugins")
                && e["event"] == event
                && e["plugin"] == "people-counter"
                && e["candidate"]["hash"] == hash
        })
    })
}

/// Has every box refused `digest` with a reason mentioning `why`?
fn refused_by_all(m: &[(String, String)], digest: &str, why: &str) -> bool {
    BOXES.iter().all(|b| {
        m.iter().any(|(t, p)| {
            let e = json(p);
            t == &format!("edgepipe/{b}/plugins")
                && e["event"] == "reload-failed"
                && e["reason"]
                    .as_str()
                    .is_some_and(|r| r.contains(why) && r.contains(digest))
        })
    })
}

/// The people-counter digest each box's retained status shows last.
fn status_digests(m: &[(String, String)]) -> Vec<Option<String>> {
    BOXES
        .iter()
        .map(|b| {
            m.iter()
                .rev()
                .find(|(t, _)| t == &format!("edgepipe/{b}/stages/operator"))
                .and_then(|(_, p)| {
                    json(p)["stages"]
                        .as_array()?
                        .iter()
                        .find(|s| s["name"] == "people-counter")?["digest"]
                        .as_str()
                        .map(str::to_string)
                })
        })
        .collect()
}

fn fleet_status(broker: &str) -> String {
    let out = common::command()
        .args(["fleet", "status", "--mqtt-url", broker])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The row of `box` for people-counter shows `digest` (12 hex digits).
fn row_shows(table: &str, box_name: &str, digest: &str) -> bool {
    let short = &digest["sha256:".len()..][..12];
    table
        .lines()
        .any(|l| l.starts_with(box_name) && l.contains("people-counter") && l.contains(short))
}

/// `sign` a copy of `bytes` (with a custom section `tag`, a version of its own) by `key`.
fn signed(dir: &Path, bytes: &[u8], tag: &str, key: &Path) -> (PathBuf, Vec<u8>) {
    let path = dir.join(format!("{tag}.wasm"));
    std::fs::write(&path, common::with_custom_section(bytes, tag)).unwrap();
    let (code, _, err) = plugin_cmd(&[
        "sign",
        path.to_str().unwrap(),
        "--key",
        key.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let b = std::fs::read(&path).unwrap();
    (path, b)
}

/// Frame indices of a box's `person` messages: 0, 1, 2, ... each once; totals never drop.
fn check_frames(m: &[(String, String)], box_name: &str) -> usize {
    let person: Vec<serde_json::Value> = m
        .iter()
        .filter(|(t, _)| t == &format!("{box_name}/person"))
        .map(|(_, p)| json(p))
        .collect();
    let frames: Vec<u64> = person
        .iter()
        .map(|p| p["frame"].as_u64().unwrap())
        .collect();
    assert_eq!(
        frames,
        (0..frames.len() as u64).collect::<Vec<_>>(),
        "{box_name}: every frame once, in order"
    );
    let totals: Vec<u64> = person
        .iter()
        .map(|p| p["total"].as_u64().unwrap())
        .collect();
    assert!(
        totals.windows(2).all(|w| w[1] >= w[0]),
        "{box_name}: state carried over every swap: {totals:?}"
    );
    frames.len()
}

#[test]
fn three_boxes_follow_the_tag_refuse_unknown_keys_and_roll_back() {
    let dir = TempDir::new("fleet");
    let mut reg = DockerRegistry::start();
    let broker = common::Mosquitto::start();
    let key = dir.path().join("release.key");
    let rogue = dir.path().join("rogue.key");
    for k in [&key, &rogue] {
        let (code, _, err) = plugin_cmd(&["keygen", k.to_str().unwrap()]);
        assert_eq!(code, 0, "{err}");
    }
    let public = dir.path().join("release.key.pub");
    let counter = std::fs::read(common::plugin("people-counter")).unwrap();
    let (v1, v1b) = signed(dir.path(), &counter, "fleet-v1", &key);
    let (v2, v2b) = signed(dir.path(), &counter, "fleet-v2", &key);
    let (evil, evilb) = signed(dir.path(), &counter, "fleet-rogue", &rogue);
    let topics_bytes = std::fs::read(common::plugin("course-topics")).unwrap();
    let (topics, _) = signed(dir.path(), &topics_bytes, "course-topics", &key);
    let d1 = push(&reg, &v1, "people-counter:stable");

    let mut sub = Subscriber::start(
        broker.port,
        &["+/person", "edgepipe/+/plugins", "edgepipe/+/stages/#"],
    );
    let boxes: Vec<Box_> = BOXES
        .iter()
        .map(|name| {
            let cfg = box_config(dir.path(), name, &reg, &public, &topics);
            let cache = dir.path().join(format!("cache-{name}"));
            Box_::start(name, &cfg, &cache, &broker.url(), 100_000)
        })
        .collect();
    let all = |s: &mut Subscriber, what: &str, pred: &Pred<'_>| {
        assert!(
            s.wait_for(WAIT, pred),
            "{what}; stderr: {}",
            boxes
                .iter()
                .map(|b| b.stderr())
                .collect::<Vec<_>>()
                .join("\n---\n")
        );
    };
    all(&mut sub, "every box runs v1", &|m| {
        status_digests(m).iter().all(|d| d.as_deref() == Some(&d1))
    });
    all(&mut sub, "frames flow on every box", &|m| {
        BOXES
            .iter()
            .all(|b| m.iter().any(|(t, _)| t == &format!("{b}/person")))
    });
    let table = fleet_status(&broker.url());
    for b in BOXES {
        assert!(row_shows(&table, b, &d1), "{b} runs {d1}:\n{table}");
    }

    // Roll out: move the tag.
    let pushed = Instant::now();
    let d2 = push(&reg, &v2, "people-counter:stable");
    all(&mut sub, "every box swapped to v2", &|m| {
        all_saw(m, "reloaded", &sha256(&v2b))
    });
    eprintln!(
        "fleet: tag moved -> all {} boxes swapped in {:.1} s (poll 0.5 s)",
        BOXES.len(),
        pushed.elapsed().as_secs_f64()
    );
    all(&mut sub, "every box reports v2", &|m| {
        status_digests(m).iter().all(|d| d.as_deref() == Some(&d2))
    });
    let table = fleet_status(&broker.url());
    for b in BOXES {
        assert!(row_shows(&table, b, &d2), "{b} runs {d2}:\n{table}");
    }

    // A component signed by a key nobody trusts: refused everywhere, v2 stays.
    let bad = push(&reg, &evil, "people-counter:stable");
    all(&mut sub, "every box refused the rogue component", &|m| {
        BOXES.iter().all(|b| {
            m.iter().any(|(t, p)| {
                let e = json(p);
                t == &format!("edgepipe/{b}/plugins")
                    && e["event"] == "reload-failed"
                    && e["reason"].as_str().is_some_and(|r| {
                        r.contains("not signed by the trusted key") && r.contains(&bad)
                    })
            })
        })
    });
    assert!(!all_saw(sub.messages(), "reloaded", &sha256(&evilb)));

    // A component of 500 MB (a valid one: a custom section of zeros, a
    // sparse file), over the boxes' default cap of 64 MB: refused by all
    // three from its manifest, before any download, v2 keeps running.
    let made = Instant::now();
    let huge = push_padded_sparse(
        &reg,
        &dir.path().join("huge"),
        &counter,
        500 << 20,
        "people-counter:stable",
    );
    let pushed = made.elapsed();
    let huge_digest = format!("sha256:{}", sha256(&huge));
    all(&mut sub, "every box refused the 500 MB component", &|m| {
        refused_by_all(m, &huge_digest, "over the limit of 67108864 bytes")
    });
    eprintln!(
        "fleet: 500 MB component made and pushed in {:.1} s, refused by all {} boxes {:.1} s later",
        pushed.as_secs_f64(),
        BOXES.len(),
        (made.elapsed() - pushed).as_secs_f64()
    );
    // Its manifest rewritten to announce 1 MB: the download is stopped
    // while streaming, after 1 MB of the 500.
    let liar = put_manifest(
        &reg,
        "people-counter:stable",
        &lying_manifest(&huge, 1 << 20),
    );
    all(&mut sub, "every box stopped the lying download", &|m| {
        refused_by_all(
            m,
            &liar,
            "more than the 1048576 bytes its manifest announced",
        )
    });
    all(&mut sub, "every box still reports v2", &|m| {
        status_digests(m).iter().all(|d| d.as_deref() == Some(&d2))
    });

    // Roll back: the tag moved back to v1's digest (by skopeo, outside edgepipe).
    let out = reg.skopeo(&[
        "copy",
        &format!("docker://{}/plugins/people-counter@{d1}", reg.host()),
        &format!("docker://{}", reg.reference("people-counter:stable")),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    all(&mut sub, "every box rolled back to v1", &|m| {
        all_saw(m, "reloaded", &sha256(&v1b))
            && status_digests(m).iter().all(|d| d.as_deref() == Some(&d1))
    });
    let table = fleet_status(&broker.url());
    for b in BOXES {
        assert!(row_shows(&table, b, &d1), "{b} runs {d1} again:\n{table}");
    }

    // A tag that flips every second: each flip is a swap or nothing, never
    // a lost frame; the boxes end on what the tag ends on.
    for i in 0..5 {
        let to = if i % 2 == 0 { &d2 } else { &d1 };
        let out = reg.skopeo(&[
            "copy",
            &format!("docker://{}/plugins/people-counter@{to}", reg.host()),
            &format!("docker://{}", reg.reference("people-counter:stable")),
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::thread::sleep(Duration::from_secs(1));
    }
    all(&mut sub, "every box ends on the tag's last digest", &|m| {
        status_digests(m).iter().all(|d| d.as_deref() == Some(&d2))
    });

    // The registry goes away: every box says so once and keeps running v2.
    reg.stop();
    for b in &boxes {
        assert!(
            b.wait_stderr("tag lookup failed, the running version stays"),
            "{}: {}",
            b.name,
            b.stderr()
        );
    }
    let before: Vec<usize> = BOXES
        .iter()
        .map(|b| {
            sub.messages()
                .iter()
                .filter(|(t, _)| t == &format!("{b}/person"))
                .count()
        })
        .collect();
    all(&mut sub, "frames still flow with the registry away", &|m| {
        BOXES.iter().zip(&before).all(|(b, n)| {
            m.iter()
                .filter(|(t, _)| t == &format!("{b}/person"))
                .count()
                > n + 3
        })
    });
    for b in boxes {
        let name = b.name;
        let (code, stderr) = b.stop();
        assert_eq!(code, 0, "{name}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    // Let the last messages arrive, then check every box's frames.
    std::thread::sleep(Duration::from_millis(300));
    let m = sub.messages().to_vec();
    for b in BOXES {
        let n = check_frames(&m, b);
        assert!(n > 10, "{b}: {n} frames");
    }

    // A box that starts with the registry away runs what it last verified.
    let cfg = dir.path().join("box-a.toml");
    let cache = dir.path().join("cache-box-a");
    let again = Box_::start("box-a", &cfg, &cache, &broker.url(), 3);
    let mut child = again.child;
    let code = common::wait_exit(&mut child, WAIT);
    std::thread::sleep(Duration::from_millis(100));
    let stderr = again.stderr.lock().unwrap().clone();
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains(&format!(
            "running the last verified digest {d2} from the cache"
        )),
        "{stderr}"
    );
}
