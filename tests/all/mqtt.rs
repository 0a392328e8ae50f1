//! MQTT delivery on a real mosquitto: broker outages, a full queue, the last
//! will, TLS, passwords, MQTT 5, retained values and bad URLs.

use std::collections::{BTreeMap, HashSet};
use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rumqttc::{Client, Event, MqttOptions, Outgoing, Packet, QoS};

use crate::common::{self, one_error_line, ConfiguredMosquitto, MosquittoOptions};

const FRAME_BYTES: u64 = 768 * 576 * 3;

/// A subscriber on its own thread; reconnects by itself.
struct Sub {
    rx: Receiver<(String, Vec<u8>)>,
    client: Client,
    thread: Option<JoinHandle<()>>,
}

impl Sub {
    /// Subscribe at QoS 1 and wait for the SUBACKs. `persistent`: a session
    /// that the broker keeps (and queues for) while this client is away.
    fn start(port: u16, id: &str, topics: &[&str], persistent: bool) -> Sub {
        let mut opts = MqttOptions::new(id, "127.0.0.1", port);
        opts.set_keep_alive(Duration::from_secs(5));
        opts.set_clean_session(!persistent);
        let (client, mut connection) = Client::new(opts, 100);
        for t in topics {
            client.subscribe(*t, QoS::AtLeastOnce).unwrap();
        }
        let (tx, rx) = mpsc::channel();
        let (ready_tx, ready_rx) = mpsc::channel::<()>();
        let wanted = topics.len();
        let thread = std::thread::spawn(move || {
            let mut subacks = 0;
            for ev in connection.iter() {
                match ev {
                    Ok(Event::Incoming(Packet::SubAck(_))) => {
                        subacks += 1;
                        if subacks == wanted {
                            let _ = ready_tx.send(());
                        }
                    }
                    Ok(Event::Incoming(Packet::Publish(p))) => {
                        if tx.send((p.topic.clone(), p.payload.to_vec())).is_err() {
                            break;
                        }
                    }
                    Ok(Event::Outgoing(Outgoing::Disconnect)) => break,
                    Ok(_) => {}
                    // The broker is away: rumqttc reconnects on the next poll.
                    Err(_) => std::thread::sleep(Duration::from_millis(100)),
                }
            }
        });
        ready_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("subscribed");
        Sub {
            rx,
            client,
            thread: Some(thread),
        }
    }

    /// Collect messages until `done` says so or nothing came for `quiet`.
    fn collect(
        &self,
        quiet: Duration,
        mut done: impl FnMut(&[(String, Vec<u8>)]) -> bool,
    ) -> Vec<(String, Vec<u8>)> {
        let mut got = Vec::new();
        while let Ok(m) = self.rx.recv_timeout(quiet) {
            got.push(m);
            if done(&got) {
                break;
            }
        }
        got
    }
}

impl Drop for Sub {
    fn drop(&mut self) {
        let _ = self.client.disconnect();
        if let Some(t) = self.thread.take() {
            let until = Instant::now() + Duration::from_secs(3);
            while !t.is_finished() && Instant::now() < until {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }
}

/// `edgepipe run` in the background: stdout is read (frames counted), stderr kept.
struct Running {
    child: Child,
    frames: Arc<AtomicU64>,
    out: Option<JoinHandle<u64>>,
    err: Option<JoinHandle<String>>,
}

impl Running {
    fn spawn(args: &[&str], env: &[(&str, &str)]) -> Running {
        let mut cmd = common::command();
        cmd.args(args)
            .env_remove("ORT_DYLIB_PATH")
            .env_remove("EDGEPIPE_MQTT_URL");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let frames = Arc::new(AtomicU64::new(0));
        let mut stdout = child.stdout.take().unwrap();
        let f2 = frames.clone();
        let out = std::thread::spawn(move || {
            let mut buf = vec![0u8; 1 << 16];
            let mut total = 0u64;
            while let Ok(n) = stdout.read(&mut buf) {
                if n == 0 {
                    break;
                }
                total += n as u64;
                f2.store(total / FRAME_BYTES, Ordering::Release);
            }
            total
        });
        let mut stderr = child.stderr.take().unwrap();
        let err = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = stderr.read_to_string(&mut s);
            s
        });
        Running {
            child,
            frames,
            out: Some(out),
            err: Some(err),
        }
    }

    fn frames(&self) -> u64 {
        self.frames.load(Ordering::Acquire)
    }

    fn wait_frames(&self, n: u64, within: Duration) {
        let until = Instant::now() + within;
        while self.frames() < n {
            assert!(
                Instant::now() < until,
                "edgepipe did not reach frame {n} in {within:?} (at {})",
                self.frames()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// (exit code, stdout bytes, stderr)
    fn wait(mut self) -> (i32, u64, String) {
        let status = self.child.wait().unwrap();
        let bytes = self.out.take().unwrap().join().unwrap();
        let err = self.err.take().unwrap().join().unwrap();
        (status.code().unwrap_or(-1), bytes, err)
    }
}

/// The number after `label` on the first stderr line that has it.
pub(crate) fn figure(stderr: &str, label: &str) -> u64 {
    let line = stderr
        .lines()
        .find(|l| l.contains(label))
        .unwrap_or_else(|| panic!("no {label:?} in:\n{stderr}"));
    let rest = &line[line.find(label).unwrap() + label.len()..];
    let digits: String = rest
        .trim_start()
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    digits
        .parse()
        .unwrap_or_else(|_| panic!("no number after {label:?} in {line:?}"))
}

/// A pipeline whose `person` messages carry their frame index.
fn pipeline_with_frames(dir: &std::path::Path, mqtt: &str) -> String {
    let p = dir.join("pipeline.toml");
    std::fs::write(
        &p,
        format!(
            "[mqtt]\n{mqtt}\n\n[[stages]]\nname = \"people-counter\"\nkind = \"stats\"\n\n\
             [[stages]]\nname = \"course-topics\"\nkind = \"topics\"\nsettings = {{ include_frame = true }}\n"
        ),
    )
    .unwrap();
    p.to_string_lossy().into_owned()
}

fn frame_of(payload: &[u8]) -> u64 {
    let v: serde_json::Value = serde_json::from_slice(payload).unwrap();
    v["frame"]
        .as_u64()
        .unwrap_or_else(|| panic!("frame index in {}", String::from_utf8_lossy(payload)))
}

#[test]
fn three_broker_outages_lose_nothing() {
    const FRAMES: u64 = 450;
    let mut broker = ConfiguredMosquitto::start(&MosquittoOptions {
        persistence: true,
        ..Default::default()
    });
    let sub = Sub::start(
        broker.port,
        "outage-subscriber",
        &[
            "person",
            "person/duration",
            "person/total",
            "edgepipe/+/plugins",
            "edgepipe/+/stages/#",
        ],
        true,
    );
    let dir = common::TempDir::new("outage");
    let cfg = pipeline_with_frames(dir.path(), "ack_timeout_secs = 60");
    let clip = common::clip();
    let max = FRAMES.to_string();
    let url = broker.url();
    // One single-thread session of the CPU provider: about 10 fps on 2
    // quiet cores, so the run outlasts three outages and the reconnects
    // between them (OpenVINO would run through the clip first).
    let run = Running::spawn(
        &[
            "run",
            "--config",
            &cfg,
            "--input",
            clip.to_str().unwrap(),
            "--max-frames",
            &max,
            "--stdout",
            "--mqtt-url",
            &url,
            "--sessions",
            "1",
            "--threads",
            "1",
            "--ep",
            "cpu",
        ],
        &[],
    );
    // Three outages of about 5 s. Between two, the broker stays up longer
    // than the longest reconnect back-off (2 s), so each outage is a
    // disconnect + reconnect of its own.
    let mut next_at = 20;
    for _ in 0..3 {
        run.wait_frames(next_at, Duration::from_secs(120));
        broker.stop();
        let before = run.frames();
        std::thread::sleep(Duration::from_secs(5));
        assert!(
            run.frames() > before,
            "frames keep flowing to stdout while the broker is away"
        );
        broker.resume();
        std::thread::sleep(Duration::from_secs(4));
        next_at = run.frames() + 1;
    }
    assert!(
        run.frames() < FRAMES,
        "the run outlasted the outages (at frame {})",
        run.frames()
    );
    let (code, bytes, stderr) = run.wait();
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(bytes, FRAMES * FRAME_BYTES, "every frame went to stdout");
    let published = figure(&stderr, "MQTT messages published:");
    assert_eq!(figure(&stderr, "unacknowledged:"), 0, "{stderr}");
    assert_eq!(figure(&stderr, "dropped (queue full):"), 0, "{stderr}");
    assert!(figure(&stderr, "reconnects:") >= 3, "{stderr}");
    assert!(stderr.contains("MQTT connection lost"), "{stderr}");

    // Besides `person` (one per frame) and `person/duration`: the end-of-stream
    // `person/total`, the plugin events (`loaded`, one per stage) and the
    // retained stage status (`edgepipe/default/stages/operator`).
    const OTHERS: u64 = 4;
    let durations_published = published - FRAMES - OTHERS;
    let mut person = Vec::new();
    let mut durations = 0u64;
    let mut others = HashSet::new();
    let got = sub.collect(Duration::from_secs(20), |got| {
        let distinct: HashSet<&(String, Vec<u8>)> = got.iter().collect();
        distinct.len() as u64 >= published
    });
    for (topic, payload) in &got {
        match topic.as_str() {
            "person" => person.push(frame_of(payload)),
            "person/duration" => durations += 1,
            "person/total" | "edgepipe/default/plugins" | "edgepipe/default/stages/operator" => {
                others.insert((topic.clone(), payload.clone()));
            }
            other => panic!("unexpected topic {other}"),
        }
    }
    assert_eq!(others.len() as u64, OTHERS, "{others:?}");
    // QoS 1 may deliver twice; exactly once by (topic, frame) after that.
    let mut first_seen = Vec::new();
    let mut seen = HashSet::new();
    for f in &person {
        if seen.insert(*f) {
            first_seen.push(*f);
        }
    }
    assert_eq!(
        first_seen,
        (0..FRAMES).collect::<Vec<_>>(),
        "every frame's message, in order (duplicates: {})",
        person.len() - first_seen.len()
    );
    assert!(
        durations >= durations_published,
        "person/duration: {durations} received of {durations_published}"
    );
    assert_eq!(
        seen.len() as u64 + durations_published + others.len() as u64,
        published,
        "published == received"
    );
    eprintln!(
        "outage test: published {published}, received {} distinct person + {durations} duration ({} duplicates), dropped 0",
        seen.len(),
        person.len() - first_seen.len()
    );
}

#[test]
fn a_full_queue_drops_the_oldest_and_counts_them() {
    const FRAMES: u64 = 40;
    const QUEUE: u64 = 5;
    let mut broker = ConfiguredMosquitto::start(&MosquittoOptions {
        persistence: true,
        ..Default::default()
    });
    let sub = Sub::start(
        broker.port,
        "queue-subscriber",
        &[
            "person",
            "person/duration",
            "person/total",
            "edgepipe/+/plugins",
        ],
        true,
    );
    broker.stop();
    let dir = common::TempDir::new("queuefull");
    let cfg = pipeline_with_frames(dir.path(), "ack_timeout_secs = 60");
    let clip = common::clip();
    let (max, queue, url) = (FRAMES.to_string(), QUEUE.to_string(), broker.url());
    let run = Running::spawn(
        &[
            "run",
            "--config",
            &cfg,
            "--input",
            clip.to_str().unwrap(),
            "--max-frames",
            &max,
            "--stdout",
            "--mqtt-url",
            &url,
        ]
        .into_iter()
        .chain(["--mqtt-queue-messages", &queue])
        .collect::<Vec<_>>(),
        &[],
    );
    // All frames go through with the broker away; then it comes back while
    // edgepipe waits for acknowledgements.
    run.wait_frames(FRAMES, Duration::from_secs(120));
    broker.resume();
    let (code, bytes, stderr) = run.wait();
    assert_eq!(code, 8, "drops make the run degraded: {stderr}");
    assert_eq!(bytes, FRAMES * FRAME_BYTES);
    assert!(
        stderr.contains("MQTT broker unreachable; running on and queueing"),
        "{stderr}"
    );
    assert!(
        stderr.contains("MQTT queue full: messages dropped"),
        "{stderr}"
    );
    let published = figure(&stderr, "MQTT messages published:");
    let dropped = figure(&stderr, "dropped (queue full):");
    assert_eq!(figure(&stderr, "unacknowledged:"), 0, "{stderr}");
    assert_eq!(published - dropped, QUEUE, "{stderr}");

    // The newest QUEUE messages: the last frames' and the end-of-stream `person/total`.
    // (people still in view at the end each get a `person/duration`, and two
    // who came into view together have the same payload: count messages, and
    // bound the distinct ones, since QoS 1 may also deliver one twice.)
    let got = sub.collect(Duration::from_secs(10), |got| got.len() as u64 >= QUEUE);
    let distinct: HashSet<&(String, Vec<u8>)> = got.iter().collect();
    assert!(
        got.len() as u64 >= published - dropped && distinct.len() as u64 <= published - dropped,
        "the subscriber misses exactly the dropped ones: {got:?}"
    );
    for (topic, payload) in &got {
        if topic == "person" {
            assert!(
                frame_of(payload) >= FRAMES - QUEUE,
                "drop-oldest keeps the newest: {}",
                String::from_utf8_lossy(payload)
            );
        }
    }
}

#[test]
fn sigkill_leaves_a_retained_offline_status() {
    let broker = common::Mosquitto::start();
    let sub = Sub::start(
        broker.port,
        "lwt-subscriber",
        &["edgepipe/lwt-test/status"],
        false,
    );
    let clip = common::clip();
    let url = broker.url();
    let mut run = Running::spawn(
        &[
            "run",
            "--name",
            "lwt-test",
            "--input",
            clip.to_str().unwrap(),
            "--max-frames",
            "500",
            "--mqtt-url",
            &url,
            "--mqtt-keepalive",
            "5",
        ],
        &[],
    );
    let online = sub.collect(Duration::from_secs(30), |got| {
        got.iter().any(|(_, p)| p == b"online")
    });
    assert!(
        online.iter().any(|(_, p)| p == b"online"),
        "online after connecting: {online:?}"
    );
    run.child.kill().unwrap(); // SIGKILL: no chance to say goodbye
    let _ = run.wait();
    let after = sub.collect(Duration::from_secs(15), |got| {
        got.iter().any(|(_, p)| p == b"offline")
    });
    assert!(
        after.iter().any(|(_, p)| p == b"offline"),
        "the last will says offline: {after:?}"
    );
    // Retained: a dashboard that connects later sees it too.
    let late = Sub::start(
        broker.port,
        "lwt-late",
        &["edgepipe/lwt-test/status"],
        false,
    );
    let seen = late.collect(Duration::from_secs(5), |got| !got.is_empty());
    assert_eq!(
        seen.first().map(|(_, p)| p.as_slice()),
        Some(&b"offline"[..])
    );
}

#[test]
fn status_online_then_offline_and_retained_last_value() {
    let broker = common::Mosquitto::start();
    let sub = Sub::start(
        broker.port,
        "status-subscriber",
        &["edgepipe/status-test/status"],
        false,
    );
    let dir = common::TempDir::new("retain");
    let cfg = pipeline_with_frames(dir.path(), "");
    let clip = common::clip();
    let url = broker.url();
    let (code, _, stderr) = common::run_edgepipe(&[
        "run",
        "--config",
        &cfg,
        "--name",
        "status-test",
        "--input",
        clip.to_str().unwrap(),
        "--max-frames",
        "8",
        "--mqtt-url",
        &url,
        "--mqtt-retain-last",
        "person",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let got = sub.collect(Duration::from_secs(5), |got| got.len() >= 2);
    let payloads: Vec<&[u8]> = got.iter().map(|(_, p)| p.as_slice()).collect();
    assert_eq!(
        payloads,
        [&b"online"[..], &b"offline"[..]],
        "status on a clean run"
    );
    // A subscriber that comes after the run sees the last count.
    let late = Sub::start(broker.port, "retain-late", &["person"], false);
    let seen = late.collect(Duration::from_secs(5), |got| !got.is_empty());
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(
        frame_of(&seen[0].1),
        7,
        "the retained value is the last frame's"
    );
}

#[test]
fn tls_with_the_right_ca_delivers_and_a_wrong_ca_fails_clearly() {
    let dir = common::TempDir::new("tls");
    let (ca, cert, key) = common::make_ca_and_server_cert(dir.path(), "good");
    let (other_ca, _, _) = common::make_ca_and_server_cert(dir.path(), "other");
    let broker = ConfiguredMosquitto::start(&MosquittoOptions {
        tls: Some((ca.clone(), cert, key)),
        ..Default::default()
    });
    let url = broker.url();
    assert!(url.starts_with("mqtts://"));
    let clip = common::clip();
    let (code, _, stderr) = common::run_edgepipe(&[
        "run",
        "--input",
        clip.to_str().unwrap(),
        "--max-frames",
        "5",
        "--mqtt-url",
        &url,
        "--mqtt-ca",
        ca.to_str().unwrap(),
        "--mqtt-retain-last",
        "person",
    ]);
    assert_eq!(code, 0, "{stderr}\n{}", broker.log());
    let published = figure(&stderr, "MQTT messages published:");
    assert!(
        published >= 5 && stderr.contains(&format!("acknowledged: {published}/{published}")),
        "{stderr}"
    );
    // Read the retained value back over TLS with mosquitto's own client.
    let out = Command::new("mosquitto_sub")
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &broker.port.to_string(),
            "-t",
            "person",
            "-C",
            "1",
            "-W",
            "10",
            "--cafile",
        ])
        .arg(&ca)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("\"count\":"));

    let (code, stdout, stderr) = common::run_edgepipe(&[
        "run",
        "--input",
        clip.to_str().unwrap(),
        "--max-frames",
        "5",
        "--mqtt-url",
        &url,
        "--mqtt-ca",
        other_ca.to_str().unwrap(),
    ]);
    assert_eq!(code, 6, "{stderr}");
    assert!(stdout.is_empty());
    let line = one_error_line(&stderr, "TLS handshake failed");
    assert!(
        line.contains(&url) && line.to_lowercase().contains("certificate"),
        "{line}"
    );

    let (code, _, stderr) = common::run_edgepipe(&[
        "run",
        "--input",
        clip.to_str().unwrap(),
        "--mqtt-url",
        &url,
        "--mqtt-ca",
        "/nonexistent/ca.pem",
    ]);
    assert_eq!(code, 6, "{stderr}");
    one_error_line(&stderr, "/nonexistent/ca.pem: CA file does not exist");
}

#[test]
fn a_wrong_password_fails_clearly_and_is_never_shown() {
    const SECRET: &str = "s3cr3t-Pa55";
    const WRONG: &str = "wr0ng-Pa55-xyzzy";
    let dir = common::TempDir::new("auth");
    let passwd = dir.path().join("passwd");
    common::sh(
        Command::new("mosquitto_passwd")
            .arg("-b")
            .arg("-c")
            .arg(&passwd)
            .args(["camera", SECRET]),
    );
    let broker = ConfiguredMosquitto::start(&MosquittoOptions {
        password_file: Some(passwd),
        ..Default::default()
    });
    let url = broker.url();
    let clip = common::clip();
    let clip = clip.to_str().unwrap();

    let run = Running::spawn(
        &[
            "run",
            "--input",
            clip,
            "--max-frames",
            "3",
            "--mqtt-url",
            &url,
            "--mqtt-username",
            "camera",
            "--mqtt-password-env",
            "EP_TEST_PW",
            "--log",
            "trace",
        ],
        &[("EP_TEST_PW", WRONG)],
    );
    let (code, bytes, stderr) = run.wait();
    assert_eq!(code, 6, "{stderr}");
    assert_eq!(bytes, 0);
    one_error_line(&stderr, "not authorised");
    assert!(
        !stderr.contains(WRONG),
        "the password appears nowhere: {stderr}"
    );

    let pwfile = dir.path().join("pw");
    std::fs::write(&pwfile, format!("{SECRET}\n")).unwrap();
    let (code, stdout, stderr) = common::run_edgepipe(&[
        "run",
        "--input",
        clip,
        "--max-frames",
        "3",
        "--mqtt-url",
        &url,
        "--mqtt-username",
        "camera",
        "--mqtt-password-file",
        pwfile.to_str().unwrap(),
        "--log",
        "debug",
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("unacknowledged: 0"), "{stderr}");
    assert!(
        !stderr.contains(SECRET) && !String::from_utf8_lossy(&stdout).contains(SECRET),
        "{stderr}"
    );

    let (code, _, stderr) = common::run_edgepipe(&[
        "run",
        "--input",
        clip,
        "--mqtt-url",
        &url,
        "--mqtt-username",
        "camera",
        "--mqtt-password-env",
        "EP_TEST_PW_UNSET_123",
    ]);
    assert_eq!(code, 2, "{stderr}");
    one_error_line(
        &stderr,
        "environment variable EP_TEST_PW_UNSET_123 is not set",
    );
}

#[test]
fn mqtt_5_delivers() {
    let broker = common::Mosquitto::start();
    let sub = Sub::start(broker.port, "v5-subscriber", &["person"], false);
    let clip = common::clip();
    let url = broker.url();
    let (code, _, stderr) = common::run_edgepipe(&[
        "run",
        "--input",
        clip.to_str().unwrap(),
        "--max-frames",
        "5",
        "--mqtt-url",
        &url,
        "--mqtt-version",
        "5",
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("acknowledged: 5/5") || figure(&stderr, "unacknowledged:") == 0,
        "{stderr}"
    );
    let got = sub.collect(Duration::from_secs(5), |got| got.len() >= 5);
    assert_eq!(got.len(), 5, "{got:?}");
}

#[test]
fn an_unreachable_broker_is_a_warning_unless_required() {
    let port = common::free_port();
    let url = format!("mqtt://127.0.0.1:{port}");
    let dir = common::TempDir::new("unreach");
    let cfg = dir.path().join("p.toml");
    std::fs::write(&cfg, "[mqtt]\nack_timeout_secs = 1\n").unwrap();
    let clip = common::clip();
    let (code, _, stderr) = common::run_edgepipe(&[
        "run",
        "--config",
        cfg.to_str().unwrap(),
        "--input",
        clip.to_str().unwrap(),
        "--max-frames",
        "3",
        "--mqtt-url",
        &url,
    ]);
    assert_eq!(code, 8, "{stderr}");
    assert!(
        stderr.contains("MQTT broker unreachable; running on and queueing"),
        "{stderr}"
    );
    assert_eq!(figure(&stderr, "summary:"), 3, "all frames ran: {stderr}");
    assert!(figure(&stderr, "unacknowledged:") >= 3, "{stderr}");
    one_error_line(&stderr, "unacknowledged message(s)");

    let (code, _, stderr) = common::run_edgepipe(&[
        "run",
        "--input",
        clip.to_str().unwrap(),
        "--max-frames",
        "1",
        "--mqtt-url",
        &url,
        "--mqtt-required",
    ]);
    assert_eq!(code, 6, "{stderr}");
    one_error_line(&stderr, &format!("cannot connect to MQTT broker {url}"));
}

#[test]
fn bad_mqtt_settings_are_one_line_errors() {
    let clip = common::clip();
    let clip = clip.to_str().unwrap();
    let cases: BTreeMap<&str, Vec<&str>> = BTreeMap::from([
        ("mqtt.url", vec!["--mqtt-url", "mqtt://"]),
        ("unknown scheme `ftp`", vec!["--mqtt-url", "ftp://h:1"]),
        ("bad port `99999`", vec!["--mqtt-url", "mqtts://h:99999"]),
        (
            "credentials in the URL",
            vec!["--mqtt-url", "mqtt://u:hunter2@h:1"],
        ),
        ("mqtt.version", vec!["--mqtt-version", "4.5"]),
        ("mqtt.when_full", vec!["--mqtt-when-full", "block"]),
        ("mqtt.queue_messages", vec!["--mqtt-queue-messages", "0"]),
        ("mqtt.qos", vec!["--mqtt-qos", "3"]),
        ("mqtt.retain_last", vec!["--mqtt-retain-last", "a/#"]),
    ]);
    for (needle, flags) in cases {
        let mut args = vec!["run", "--input", clip];
        args.extend(flags.iter().copied());
        let (code, _, stderr) = common::run_edgepipe(&args);
        assert_eq!(code, 2, "{flags:?}: {stderr}");
        one_error_line(&stderr, needle);
        assert!(!stderr.contains("hunter2"), "{stderr}");
    }
}

// --- the embedded broker: MQTT 5 and the WebSocket listener ---

#[test]
fn the_embedded_broker_speaks_mqtt_5_when_asked() {
    let port = common::free_port().to_string();
    let clip = common::clip();
    let (code, _, stderr) = common::run_edgepipe(&[
        "run",
        "--input",
        clip.to_str().unwrap(),
        "--max-frames",
        "3",
        "--broker-port",
        &port,
        "--mqtt-version",
        "5",
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains(&format!("embedded broker listening on 127.0.0.1:{port}")),
        "{stderr}"
    );
    assert!(stderr.contains("version=V5"), "{stderr}");
    assert_eq!(figure(&stderr, "unacknowledged:"), 0, "{stderr}");
}

/// One WebSocket frame from the server (never masked).
fn ws_read_frame(s: &mut std::net::TcpStream) -> Vec<u8> {
    use std::io::Read as _;
    let mut h = [0u8; 2];
    s.read_exact(&mut h).unwrap();
    let mut len = (h[1] & 0x7f) as usize;
    if len == 126 {
        let mut ext = [0u8; 2];
        s.read_exact(&mut ext).unwrap();
        len = u16::from_be_bytes(ext) as usize;
    } else if len == 127 {
        let mut ext = [0u8; 8];
        s.read_exact(&mut ext).unwrap();
        len = u64::from_be_bytes(ext) as usize;
    }
    let mut payload = vec![0u8; len];
    s.read_exact(&mut payload).unwrap();
    payload
}

/// A binary frame from the client: masked, with an all-zero mask.
fn ws_write_frame(s: &mut std::net::TcpStream, payload: &[u8]) {
    use std::io::Write as _;
    assert!(payload.len() < 126);
    let mut f = vec![0x82, 0x80 | payload.len() as u8, 0, 0, 0, 0];
    f.extend_from_slice(payload);
    s.write_all(&f).unwrap();
}

#[test]
fn a_websocket_client_can_subscribe_to_the_embedded_broker() {
    use std::io::{Read as _, Write as _};
    let (port, ws_port) = (common::free_port(), common::free_port());
    let clip = common::clip();
    let (p, w) = (port.to_string(), ws_port.to_string());
    let run = Running::spawn(
        &[
            "run",
            "--input",
            clip.to_str().unwrap(),
            "--max-frames",
            "400",
            "--broker-port",
            &p,
            "--broker-ws-port",
            &w,
        ],
        &[],
    );
    assert!(
        common::wait_for_port(ws_port, Duration::from_secs(60)),
        "WebSocket listener up"
    );
    let mut s = std::net::TcpStream::connect(("127.0.0.1", ws_port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        s,
        "GET /mqtt HTTP/1.1\r\nHost: 127.0.0.1:{ws_port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n"
    )
    .unwrap();
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        s.read_exact(&mut b).unwrap();
        head.push(b[0]);
    }
    let head = String::from_utf8_lossy(&head).to_lowercase();
    assert!(
        head.starts_with("http/1.1 101") && head.contains("sec-websocket-protocol: mqtt"),
        "{head}"
    );
    // MQTT 3.1.1 CONNECT (clean session, keepalive 60, client id "ws"), then SUBSCRIBE person at QoS 0.
    ws_write_frame(
        &mut s,
        &[
            0x10, 14, 0, 4, b'M', b'Q', b'T', b'T', 4, 2, 0, 60, 0, 2, b'w', b's',
        ],
    );
    assert_eq!(ws_read_frame(&mut s), [0x20, 2, 0, 0], "CONNACK accepted");
    ws_write_frame(
        &mut s,
        &[0x82, 11, 0, 1, 0, 6, b'p', b'e', b'r', b's', b'o', b'n', 0],
    );
    assert_eq!(ws_read_frame(&mut s), [0x90, 3, 0, 1, 0], "SUBACK");
    let mut got = Vec::new();
    while !String::from_utf8_lossy(&got).contains("\"count\":") {
        got.extend(ws_read_frame(&mut s));
    }
    assert_eq!(got[0] & 0xf0, 0x30, "a PUBLISH");
    let mut run = run;
    run.child.kill().unwrap();
    let (_, _, stderr) = run.wait();
    assert!(
        stderr.contains(&format!("WebSocket listener on ws://127.0.0.1:{ws_port}/")),
        "{stderr}"
    );
}

#[test]
fn the_bench_command_prints_its_figures() {
    let broker = common::Mosquitto::start();
    let out = common::command()
        .args([
            "bench-mqtt",
            "--url",
            &broker.url(),
            "--messages",
            "2000",
            "--qos",
            "1",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.starts_with("bench-mqtt: qos 1 2000 messages"),
        "{stdout}"
    );
    assert!(
        stdout.contains("msg/s") && stdout.contains("p99") && stdout.contains("unacknowledged 0"),
        "{stdout}"
    );
    let rate: f64 = stdout
        .split(" msg/s")
        .next()
        .and_then(|s| s.rsplit(' ').next())
        .and_then(|s| s.parse().ok())
        .unwrap();
    assert!(rate > 0.0, "{stdout}");
}

#[test]
fn a_broker_that_requires_a_client_certificate_gets_one() {
    let dir = common::TempDir::new("mtls");
    let (ca, cert, key) = common::make_ca_and_server_cert(dir.path(), "m");
    let (client_cert, client_key) = common::make_client_cert(dir.path(), "m");
    let broker = ConfiguredMosquitto::start(&MosquittoOptions {
        tls: Some((ca.clone(), cert, key)),
        require_certificate: true,
        ..Default::default()
    });
    let url = broker.url();
    let clip = common::clip();
    let base = [
        "run",
        "--input",
        clip.to_str().unwrap(),
        "--max-frames",
        "3",
        "--mqtt-url",
        &url,
        "--mqtt-ca",
        ca.to_str().unwrap(),
    ];
    let with_cert: Vec<&str> = base
        .iter()
        .copied()
        .chain([
            "--mqtt-cert",
            client_cert.to_str().unwrap(),
            "--mqtt-key",
            client_key.to_str().unwrap(),
        ])
        .collect();
    let (code, _, stderr) = common::run_edgepipe(&with_cert);
    assert_eq!(code, 0, "{stderr}\n{}", broker.log());
    assert_eq!(figure(&stderr, "unacknowledged:"), 0, "{stderr}");
    // Without it the broker refuses the handshake: a clear error, exit 6.
    let (code, _, stderr) = common::run_edgepipe(&base);
    assert_eq!(code, 6, "{stderr}");
    let line = one_error_line(&stderr, &url);
    assert!(
        line.contains("CertificateRequired") && line.contains("--mqtt-cert"),
        "{line}"
    );
}
