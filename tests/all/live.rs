//! The live view against the real pipeline: MJPEG parts, snapshot, SSE equal
//! to what mosquitto delivers, Prometheus text, tokens, the viewer cap, a
//! port taken, a viewer that never reads, tenants' pages, and the page in a
//! real headless Chromium.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{self, free_port, wait_for_port, Mosquitto, TempDir};

/// `edgepipe run` serving the live view on `port`, stderr into `dir/stderr`.
pub(crate) fn start(port: u16, dir: &TempDir, args: &[&str]) -> Child {
    let err = std::fs::File::create(dir.path().join("stderr")).unwrap();
    let mut c = common::command();
    c.env_remove("EDGEPIPE_NO_HTTP").arg("run").args(args);
    if !args.iter().any(|a| *a == "--config" || *a == "--http") {
        c.args(["--http", &format!("127.0.0.1:{port}")]);
    }
    let child = c.stdout(Stdio::null()).stderr(err).spawn().unwrap();
    assert!(
        wait_for_port(port, Duration::from_secs(60)),
        "live view did not start: {}",
        stderr(dir)
    );
    child
}

pub(crate) fn stderr(dir: &TempDir) -> String {
    std::fs::read_to_string(dir.path().join("stderr")).unwrap_or_default()
}

pub(crate) fn finish(mut child: Child, dir: &TempDir) -> i32 {
    let until = Instant::now() + Duration::from_secs(240);
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s.code().unwrap_or(-1);
        }
        if Instant::now() > until {
            let _ = child.kill();
            panic!("edgepipe did not finish: {}", stderr(dir));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A GET with optional cookie; (status code, head, body) read to the end.
pub(crate) fn get(port: u16, path: &str, cookie: Option<&str>) -> (u16, String, Vec<u8>) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let c = cookie
        .map(|c| format!("Cookie: edgepipe_token={c}\r\n"))
        .unwrap_or_default();
    write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\n{c}\r\n").unwrap();
    let mut all = Vec::new();
    let _ = s.read_to_end(&mut all);
    let end = all
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a response head");
    let head = String::from_utf8_lossy(&all[..end]).into_owned();
    let code = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (code, head, all[end + 4..].to_vec())
}

/// Open a stream; the reader is positioned after the response head.
pub(crate) fn open_stream(port: u16, path: &str) -> (String, BufReader<TcpStream>) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut r = BufReader::new(s);
    let mut head = String::new();
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).unwrap() == 0 || line == "\r\n" {
            break;
        }
        head.push_str(&line);
    }
    (head, r)
}

/// The next part of a multipart MJPEG stream (its JPEG bytes).
pub(crate) fn next_part(r: &mut BufReader<TcpStream>) -> Option<Vec<u8>> {
    let mut len = None;
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).ok()? == 0 {
            return None;
        }
        if let Some(v) = line.strip_prefix("Content-Length: ") {
            len = v.trim().parse::<usize>().ok();
        }
        if line == "\r\n" && len.is_some() {
            break;
        }
    }
    let mut jpeg = vec![0; len?];
    r.read_exact(&mut jpeg).ok()?;
    Some(jpeg)
}

pub(crate) fn jpeg_size(bytes: &[u8]) -> (i32, i32) {
    let m = image::load_from_memory(bytes).unwrap();
    (m.width() as i32, m.height() as i32)
}

pub(crate) fn clip_arg() -> String {
    common::clip().to_string_lossy().into_owned()
}

#[test]
fn live_mjpeg_parts_and_snapshot_are_jpegs_of_the_frame_size() {
    let (port, dir) = (free_port(), TempDir::new("live-mjpeg"));
    let child = start(
        port,
        &dir,
        &["--no-mqtt", "--input", &clip_arg(), "--max-frames", "60"],
    );
    let (head, mut r) = open_stream(port, "/stream.mjpeg");
    assert!(
        head.contains("multipart/x-mixed-replace; boundary=edgepipe-frame"),
        "{head}"
    );
    let parts: Vec<Vec<u8>> = (0..3).map_while(|_| next_part(&mut r)).collect();
    assert_eq!(parts.len(), 3, "three parts");
    for p in &parts {
        assert_eq!(jpeg_size(p), (768, 576));
    }
    assert_ne!(parts[0], parts[2], "the video moves");
    let (_, mut small) = open_stream(port, "/stream.mjpeg?height=288&quality=50&fps=5");
    assert_eq!(
        jpeg_size(&next_part(&mut small).expect("a part")),
        (384, 288)
    );
    let (code, head, body) = get(port, "/snapshot.jpg", None);
    assert_eq!(code, 200, "{head}");
    assert!(head.contains("image/jpeg"));
    assert_eq!(jpeg_size(&body), (768, 576));
    drop((r, small));
    assert_eq!(finish(child, &dir), 0, "{}", stderr(&dir));
    assert!(stderr(&dir).contains(&format!("live view on http://127.0.0.1:{port}/")));
}

/// (topic, payload) of every SSE `message` event until the stream ends.
pub(crate) fn read_sse(mut r: BufReader<TcpStream>) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut line = String::new();
    while r.read_line(&mut line).map(|n| n > 0).unwrap_or(false) {
        if let Some(data) = line.trim_end().strip_prefix("data: {") {
            let v: serde_json::Value = serde_json::from_str(&format!("{{{data}")).unwrap();
            out.push((
                v["topic"].as_str().unwrap().to_string(),
                v["payload"].as_str().unwrap().to_string(),
            ));
        }
        line.clear();
    }
    out
}

#[test]
fn live_sse_events_equal_what_mosquitto_delivers() {
    let broker = Mosquitto::start();
    // Subscribed (SUBACK) before the run starts: no fixed wait.
    let mut sub = common::Subscriber::start(broker.port, &["#"]);
    let (port, dir) = (free_port(), TempDir::new("live-sse"));
    let child = start(
        port,
        &dir,
        &[
            "--mqtt-url",
            &broker.url(),
            "--input",
            &clip_arg(),
            "--max-frames",
            "50",
        ],
    );
    let (head, r) = open_stream(port, "/api/events");
    assert!(head.contains("text/event-stream"), "{head}");
    let reader = std::thread::spawn(move || read_sse(r));
    assert_eq!(finish(child, &dir), 0, "{}", stderr(&dir));
    let sse = reader.join().unwrap();
    assert!(sse.len() >= 40, "SSE carried {} messages", sse.len());
    assert!(
        sse.iter().any(|(t, _)| t == "person/duration")
            || sse.iter().any(|(t, _)| t == "person/total")
    );
    // The connection's own status (LWT) is the MQTT layer's, and the retained
    // stage status (`edgepipe/<name>/stages/operator`) is for `fleet status`:
    // neither is a pipeline message.
    let pipeline = |m: &[(String, String)]| -> Vec<(String, String)> {
        m.iter()
            .filter(|(t, _)| !t.ends_with("/status") && !t.contains("/stages/"))
            .cloned()
            .collect()
    };
    // The stream was opened a moment after the start: it is the tail of
    // what the broker delivers (waited for, not slept for).
    let tail = |m: &[(String, String)]| {
        let mqtt = pipeline(m);
        mqtt.len() >= sse.len() && mqtt[mqtt.len() - sse.len()..] == sse[..]
    };
    let delivered = sub.wait_for(Duration::from_secs(60), tail);
    let mqtt = pipeline(sub.messages());
    assert!(
        delivered,
        "mosquitto delivered {} messages, the SSE stream {}, not its tail",
        mqtt.len(),
        sse.len()
    );
}

/// A strict reader of the Prometheus text format (0.0.4): every sample's
/// family is declared by a TYPE line first, names and labels well formed,
/// values numbers, histogram buckets cumulative and ending in +Inf = count.
pub(crate) fn parse_prometheus(text: &str) -> std::collections::BTreeMap<String, f64> {
    let mut types = std::collections::BTreeMap::new();
    let mut samples = std::collections::BTreeMap::new();
    let name_ok = |n: &str| {
        !n.is_empty()
            && n.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
            && !n.starts_with(|c: char| c.is_ascii_digit())
    };
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (n, t) = rest.split_once(' ').unwrap();
            assert!(
                name_ok(n) && ["counter", "gauge", "histogram", "summary", "untyped"].contains(&t),
                "{line}"
            );
            assert!(
                types.insert(n.to_string(), t.to_string()).is_none(),
                "TYPE twice: {line}"
            );
            continue;
        }
        if line.starts_with("# HELP ") || line.is_empty() {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').unwrap();
        let v: f64 = value.parse().unwrap_or_else(|_| panic!("value of {line}"));
        let name = series.split('{').next().unwrap();
        assert!(name_ok(name), "{line}");
        assert!(name.starts_with("edgepipe_"), "{line}");
        if let Some(labels) = series.strip_prefix(name) {
            if !labels.is_empty() {
                assert!(labels.starts_with('{') && labels.ends_with('}'), "{line}");
                for kv in labels[1..labels.len() - 1].split(',') {
                    let (k, v) = kv.split_once('=').unwrap();
                    assert!(
                        name_ok(k) && v.starts_with('"') && v.ends_with('"'),
                        "{line}"
                    );
                }
            }
        }
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| {
                name.strip_suffix(s)
                    .filter(|f| types.get(*f).is_some_and(|t| t == "histogram"))
            })
            .unwrap_or(name);
        assert!(types.contains_key(family), "no TYPE before {line}");
        samples.insert(series.to_string(), v);
    }
    samples
}

#[test]
fn live_metrics_parse_as_prometheus_text_and_status_is_json() {
    // No frame count: the run goes on until what the test checks is there
    // (a short run could end first on a fast machine), then SIGTERM ends it.
    let (port, dir) = (free_port(), TempDir::new("live-metrics"));
    let child = start(port, &dir, &["--no-mqtt", "--input", &clip_arg()]);
    let until = Instant::now() + Duration::from_secs(240);
    let (samples, status) = loop {
        let (code, head, body) = get(port, "/metrics", None);
        assert_eq!(code, 200);
        assert!(head.contains("text/plain; version=0.0.4"));
        let s = parse_prometheus(&String::from_utf8(body).unwrap());
        let (code, _, body) = get(port, "/api/status", None);
        assert_eq!(code, 200);
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        let drawn = v["stage_ms"]
            .as_array()
            .is_some_and(|a| a.iter().any(|p| p[0] == "draw-boxes"));
        let at_least_10 = |n: &str| s.get(n).is_some_and(|v| *v >= 10.0);
        // One person message a frame.
        let counted = at_least_10("edgepipe_frames_total")
            && at_least_10("edgepipe_stage_seconds_count")
            && at_least_10("edgepipe_messages_total");
        if drawn && counted {
            break (s, v);
        }
        assert!(
            Instant::now() < until,
            "no draw-boxes timing or 10 frames: {v}\n{}",
            stderr(&dir)
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    for name in [
        "edgepipe_messages_total",
        "edgepipe_faults_total",
        "edgepipe_drops_total",
        "edgepipe_reloads_total",
        "edgepipe_fps",
    ] {
        assert!(samples.contains_key(name), "{name}");
    }
    assert!(samples.contains_key("edgepipe_queue_depth{queue=\"capture\"}"));
    let inf = samples["edgepipe_stage_seconds_bucket{le=\"+Inf\"}"];
    assert_eq!(inf, samples["edgepipe_stage_seconds_count"]);
    assert_eq!(status["width"], 768);
    assert!(status["stages"]
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s["name"] == "people-counter" && s["hash"].as_str().unwrap().len() > 8));
    assert_eq!(get(port, "/healthz", None).0, 200);
    assert_eq!(get(port, "/nope", None).0, 404);
    let ok = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
    assert_eq!(finish(child, &dir), 0, "{}", stderr(&dir));
}

#[test]
fn live_token_is_required_off_loopback_and_checked_on_every_endpoint() {
    let port = free_port();
    // Off loopback without a token: refused before anything starts.
    let (code, _, err) = common::run_edgepipe_with_http(&[
        "run",
        "--no-mqtt",
        "--max-frames",
        "1",
        "--http",
        &format!("0.0.0.0:{port}"),
    ]);
    assert_eq!(code, 2, "{err}");
    common::one_error_line(&err, "token is required");

    let dir = TempDir::new("live-token");
    let secret = "s3cret-token-123";
    let tok = dir.path().join("token");
    std::fs::write(&tok, format!("{secret}\n")).unwrap();
    let child = start(
        port,
        &dir,
        &[
            "--no-mqtt",
            "--input",
            &clip_arg(),
            "--max-frames",
            "40",
            "--http",
            &format!("0.0.0.0:{port}"),
            "--http-token-file",
            tok.to_str().unwrap(),
        ],
    );
    for path in [
        "/",
        "/app.js",
        "/stream.mjpeg",
        "/snapshot.jpg",
        "/api/events",
        "/api/status",
        "/metrics",
        "/healthz",
    ] {
        assert_eq!(get(port, path, None).0, 401, "{path} without a token");
        assert_eq!(
            get(port, &format!("{path}?token=wrong-token-456"), None).0,
            401,
            "{path} wrong token"
        );
        assert_eq!(
            get(port, path, Some("wrong-token-456")).0,
            401,
            "{path} wrong cookie"
        );
    }
    for path in ["/", "/api/status", "/metrics", "/healthz", "/snapshot.jpg"] {
        assert_eq!(
            get(port, path, Some(secret)).0,
            200,
            "{path} with the cookie"
        );
    }
    let (code, head, _) = get(port, &format!("/?token={secret}"), None);
    assert_eq!(code, 200);
    assert!(
        head.contains(&format!(
            "Set-Cookie: edgepipe_token={secret}; Path=/; HttpOnly"
        )),
        "{head}"
    );
    assert_eq!(finish(child, &dir), 0, "{}", stderr(&dir));
    assert!(!stderr(&dir).contains(secret), "the token is never logged");
}

#[test]
fn live_port_taken_is_an_error_only_when_asked_for() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let (code, _, err) = common::run_edgepipe_with_http(&[
        "run",
        "--no-mqtt",
        "--max-frames",
        "1",
        "--http",
        &format!("127.0.0.1:{port}"),
    ]);
    assert_eq!(code, 7, "{err}");
    common::one_error_line(&err, &format!("cannot listen on 127.0.0.1:{port}"));
    // From the file (not asked for on the command line): a warning, the run goes on.
    let dir = TempDir::new("live-taken");
    let cfg = dir.path().join("p.toml");
    std::fs::write(&cfg, format!("[http]\nlisten = \"127.0.0.1:{port}\"\n")).unwrap();
    let (code, _, err) = common::run_edgepipe_with_http(&[
        "run",
        "--config",
        cfg.to_str().unwrap(),
        "--no-mqtt",
        "--max-frames",
        "3",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("live view off: the address is taken"), "{err}");
    drop(taken);
}

#[test]
fn live_viewer_cap_answers_503_and_a_viewer_that_never_reads_holds_nothing_back() {
    let (port, dir) = (free_port(), TempDir::new("live-cap"));
    let cfg = dir.path().join("p.toml");
    std::fs::write(
        &cfg,
        format!("[http]\nlisten = \"127.0.0.1:{port}\"\nmax_viewers = 2\n"),
    )
    .unwrap();
    let child = start(
        port,
        &dir,
        &[
            "--config",
            cfg.to_str().unwrap(),
            "--no-mqtt",
            "--input",
            &clip_arg(),
            "--max-frames",
            "60",
        ],
    );
    // Viewer 1 never reads: its socket buffer fills, its writes block.
    let mut stalled = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(stalled, "GET /stream.mjpeg HTTP/1.1\r\n\r\n").unwrap();
    // Counted by the server before the next viewer comes (no fixed wait).
    let until = Instant::now() + Duration::from_secs(60);
    while parse_prometheus(&String::from_utf8(get(port, "/metrics", None).2).unwrap())
        .get("edgepipe_viewers")
        .is_none_or(|v| *v < 1.0)
    {
        assert!(
            Instant::now() < until,
            "the stalled viewer was never counted"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // Viewer 2 reads.
    let (_, mut reader) = open_stream(port, "/stream.mjpeg");
    // Viewer 3: over the cap.
    let (code, _, _) = get(port, "/stream.mjpeg", None);
    assert_eq!(code, 503);
    // The reading viewer gets new frames while the other is stuck.
    let parts: Vec<Vec<u8>> = (0..8).map_while(|_| next_part(&mut reader)).collect();
    assert_eq!(parts.len(), 8);
    let distinct: std::collections::BTreeSet<&Vec<u8>> = parts.iter().collect();
    assert!(
        distinct.len() >= 6,
        "new frames keep coming ({} distinct of 8)",
        distinct.len()
    );
    drop(reader);
    // The pipeline never waited for the stalled viewer: every frame went through.
    assert_eq!(finish(child, &dir), 0, "{}", stderr(&dir));
    assert!(
        stderr(&dir).contains("summary: 60 frames"),
        "{}",
        stderr(&dir)
    );
    drop(stalled);
}

#[test]
fn live_tenant_pages_show_its_own_frames_and_only_its_messages() {
    let dir = TempDir::new("live-tenants");
    let tenants = dir.path().join("tenants");
    std::fs::create_dir_all(&tenants).unwrap();
    let p = |n: &str| common::plugin(n).display().to_string();
    std::fs::write(
        tenants.join("acme.toml"),
        format!(
            "[[stages]]\nname = \"people-counter\"\nkind = \"stats\"\npath = {:?}\n\n[[stages]]\nname = \"course-topics\"\nkind = \"topics\"\npath = {:?}\n\n[[stages]]\nname = \"draw-boxes\"\nkind = \"draw\"\npath = {:?}\n",
            p("people-counter"), p("course-topics"), p("draw-boxes")
        ),
    )
    .unwrap();
    let port = free_port();
    let child = start(
        port,
        &dir,
        &[
            "--no-mqtt",
            "--input",
            &clip_arg(),
            "--max-frames",
            "50",
            "--tenants",
            tenants.to_str().unwrap(),
        ],
    );
    let (code, head, body) = get(port, "/tenants/acme/", None);
    assert_eq!(code, 200, "{head}");
    assert!(String::from_utf8_lossy(&body).contains("stream.mjpeg"));
    assert_eq!(get(port, "/tenants/acme", None).0, 308);
    assert_eq!(get(port, "/tenants/nobody/", None).0, 404);
    assert_eq!(
        get(port, "/tenants/acme/metrics", None).0,
        404,
        "metrics are the operator's"
    );
    let (_, mut video) = open_stream(port, "/tenants/acme/stream.mjpeg");
    assert_eq!(
        jpeg_size(&next_part(&mut video).expect("a tenant frame")),
        (768, 576)
    );
    drop(video);
    let (_, events) = open_stream(port, "/tenants/acme/api/events");
    let reader = std::thread::spawn(move || read_sse(events));
    let (_, ops) = open_stream(port, "/api/events");
    let op_reader = std::thread::spawn(move || read_sse(ops));
    assert_eq!(finish(child, &dir), 0, "{}", stderr(&dir));
    let mine = reader.join().unwrap();
    let all = op_reader.join().unwrap();
    assert!(
        mine.iter().any(|(t, _)| t == "tenants/acme/person"),
        "{mine:?}"
    );
    assert!(
        mine.iter().all(|(t, _)| t.starts_with("tenants/acme/")),
        "only the tenant's topics"
    );
    assert!(
        all.iter().any(|(t, _)| t == "person"),
        "the operator's page sees the operator's messages too"
    );
}

#[test]
fn live_page_in_headless_chromium() {
    let pw = common::root().join("vendor/node/node_modules/playwright-core");
    assert!(
        pw.exists() && std::path::Path::new("/usr/bin/chromium").exists(),
        "run scripts/setup.sh (chromium, playwright-core)"
    );
    let (port, dir) = (free_port(), TempDir::new("live-page"));
    let mut child = start(
        port,
        &dir,
        &["--no-mqtt", "--input", &clip_arg(), "--max-frames", "400"],
    );
    let artifacts = common::root().join("target/test-artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    let shot = artifacts.join("live-view.png");
    let out = Command::new("node")
        .arg(common::root().join("tests/browser/live-page.cjs"))
        .args([&format!("http://127.0.0.1:{port}/"), shot.to_str().unwrap()])
        .env("PLAYWRIGHT_CORE", &pw)
        .output()
        .unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v["videoDiffers"], true,
        "two grabs of the video differ: {v}"
    );
    assert!(
        v["second"]["frames"].as_u64() > v["first"]["frames"].as_u64(),
        "the frame counter moves: {v}"
    );
    assert!(
        v["first"]["messages"].as_u64().unwrap() > 0,
        "live messages shown: {v}"
    );
    assert_eq!(v["first"]["width"], 768);
    assert!(
        v["second"]["people"]
            .as_str()
            .unwrap()
            .parse::<u32>()
            .is_ok(),
        "{v}"
    );
    assert!(
        v["errors"].as_array().unwrap().is_empty(),
        "no script errors: {v}"
    );
    assert!(
        std::fs::metadata(&shot).unwrap().len() > 10_000,
        "a screenshot is kept at {}",
        shot.display()
    );
}

#[test]
fn live_tenant_token_opens_only_its_own_pages() {
    let dir = TempDir::new("live-tenant-token");
    let tenants = dir.path().join("tenants");
    std::fs::create_dir_all(&tenants).unwrap();
    let (op, acme) = ("operator-token-1", "acme-token-22");
    std::fs::write(dir.path().join("op.token"), op).unwrap();
    std::fs::write(dir.path().join("acme.token"), acme).unwrap();
    let chain = format!(
        "[[stages]]\nname = \"people-counter\"\nkind = \"stats\"\npath = {:?}\n",
        common::plugin("people-counter").display().to_string()
    );
    std::fs::write(
        tenants.join("acme.toml"),
        format!("[http]\ntoken_file = \"../acme.token\"\n\n{chain}"),
    )
    .unwrap();
    std::fs::write(tenants.join("globex.toml"), &chain).unwrap();
    let port = free_port();
    let tok = dir.path().join("op.token");
    let child = start(
        port,
        &dir,
        &[
            "--no-mqtt",
            "--input",
            &clip_arg(),
            "--max-frames",
            "200",
            "--tenants",
            tenants.to_str().unwrap(),
            "--http",
            &format!("127.0.0.1:{port}"),
            "--http-token-file",
            tok.to_str().unwrap(),
        ],
    );
    for path in [
        "/tenants/acme/",
        "/tenants/acme/api/status",
        "/tenants/acme/api/events",
        "/tenants/acme/snapshot.jpg",
    ] {
        if path.ends_with("events") {
            let (head, _) = open_stream(port, &format!("{path}?token={acme}"));
            assert!(head.starts_with("HTTP/1.1 200"), "{path}: {head}");
            continue;
        }
        let code = get(port, path, Some(acme)).0;
        assert!(
            code == 200 || (path.ends_with(".jpg") && code == 503),
            "{path} with acme's token: {code}"
        );
    }
    for path in [
        "/",
        "/metrics",
        "/api/status",
        "/stream.mjpeg",
        "/tenants/globex/",
        "/tenants/globex/api/status",
    ] {
        assert_eq!(get(port, path, Some(acme)).0, 401, "{path} is not acme's");
    }
    for path in ["/", "/metrics", "/tenants/acme/", "/tenants/globex/"] {
        assert_eq!(
            get(port, path, Some(op)).0,
            200,
            "{path} with the operator's token"
        );
    }
    let (_, _, body) = get(port, "/tenants/acme/api/status", Some(acme));
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        v["tenants"].as_array().unwrap().len(),
        1,
        "a tenant sees only itself: {v}"
    );
    assert_eq!(finish(child, &dir), 0, "{}", stderr(&dir));
    assert!(
        !stderr(&dir).contains(acme) && !stderr(&dir).contains(op),
        "tokens are never logged"
    );
}

/// A camera that serves `jpegs` as MJPEG over HTTP, then keeps the
/// connection open and sends nothing more (a stalled source).
fn stalling_camera(jpegs: Vec<Vec<u8>>) -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let mut reader = BufReader::new(conn.try_clone().unwrap());
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 0) && line != "\r\n" {
                line.clear();
            }
            let head = "HTTP/1.0 200 OK\r\nContent-Type: multipart/x-mixed-replace; boundary=frame\r\n\r\n";
            let _ = conn.write_all(head.as_bytes());
            for j in &jpegs {
                let part = format!(
                    "--frame\r\nContent-Type: image/jpeg\r\nContent-Length: {}\r\n\r\n",
                    j.len()
                );
                let _ = conn
                    .write_all(part.as_bytes())
                    .and_then(|_| conn.write_all(j))
                    .and_then(|_| conn.write_all(b"\r\n"));
                std::thread::sleep(Duration::from_millis(50));
            }
            held.push(conn);
        }
    });
    port
}

#[test]
fn live_stalled_pipeline_resends_the_last_jpeg_about_once_a_second() {
    let dir = TempDir::new("live-stall");
    let ok = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-y", "-i"])
        .arg(common::clip())
        .args(["-frames:v", "30", "-q:v", "5"])
        .arg(dir.path().join("f%03d.jpg"))
        .status()
        .unwrap();
    assert!(ok.success());
    let jpegs: Vec<Vec<u8>> = (1..=30)
        .map(|i| std::fs::read(dir.path().join(format!("f{i:03}.jpg"))).unwrap())
        .collect();
    let cam = stalling_camera(jpegs);
    let port = free_port();
    let mut child = start(
        port,
        &dir,
        &[
            "--no-mqtt",
            "--input",
            &format!("http://127.0.0.1:{cam}/video.mjpg"),
            "--max-frames",
            "1000",
        ],
    );
    // A viewer from the start (so the frames are drawn and handed over; the
    // operator's draw stages run only while something shows the frames),
    // reading every part with the time it came.
    let (_, mut r) = open_stream(port, "/stream.mjpeg");
    let t0 = Instant::now();
    let got = std::sync::Arc::new(std::sync::Mutex::new(Vec::<(Duration, Vec<u8>)>::new()));
    let reader = {
        let got = got.clone();
        std::thread::spawn(move || {
            while let Some(p) = next_part(&mut r) {
                got.lock().unwrap().push((t0.elapsed(), p));
            }
        })
    };
    // Wait until the frames that came went through, then watch the stalled pipeline.
    let until = Instant::now() + Duration::from_secs(90);
    let mut last_frames = 0;
    loop {
        let (_, _, body) = get(port, "/api/status", None);
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        let frames = v["frames"].as_u64().unwrap();
        if frames > 0 && frames == last_frames && v["secs_since_frame"].as_f64().unwrap() > 1.5 {
            break;
        }
        assert!(Instant::now() < until, "frames never stopped coming: {v}");
        last_frames = frames;
        std::thread::sleep(Duration::from_millis(500));
    }
    let stalled = t0.elapsed();
    let after = |got: &[(Duration, Vec<u8>)]| -> Vec<(Duration, Vec<u8>)> {
        got.iter()
            .filter(|(t, _)| *t > stalled)
            .take(4)
            .cloned()
            .collect()
    };
    let until = Instant::now() + Duration::from_secs(60);
    while after(&got.lock().unwrap()).len() < 4 && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
    let _ = reader.join();
    let parts = after(&got.lock().unwrap());
    assert_eq!(parts.len(), 4, "parts keep coming while no frame does");
    assert!(
        parts.iter().all(|(_, p)| p == &parts[0].1),
        "the same (last) frame each time"
    );
    let span = parts[3].0 - parts[0].0;
    assert!(
        span >= Duration::from_millis(2500) && span <= Duration::from_secs(6),
        "about once a second: 3 gaps took {span:?}"
    );
}
