//! Paths to the real assets and helpers shared by the tests.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn require(p: PathBuf) -> PathBuf {
    assert!(
        p.exists(),
        "{} is missing: run scripts/setup.sh first",
        p.display()
    );
    p
}

pub fn model() -> PathBuf {
    require(root().join(edgepipe::config::DEFAULT_MODEL))
}
/// A named model's file (`scripts/setup.sh` converts them).
pub fn named_model(name: &str) -> PathBuf {
    require(root().join("models").join(format!("{name}.onnx")))
}
/// A test model of another output layout, made from yolov12n by set-up.
pub fn layout_model(name: &str) -> PathBuf {
    require(root().join("models/test").join(format!("{name}.onnx")))
}
/// The Python of the model tools' venv (onnx, onnxruntime, opencv).
pub fn model_tools_python() -> PathBuf {
    require(root().join("vendor/model-tools/venv/bin/python"))
}
pub fn ort_lib() -> PathBuf {
    require(root().join(edgepipe::config::DEFAULT_ORT_LIB))
}
pub fn clip() -> PathBuf {
    require(root().join(edgepipe::config::DEFAULT_INPUT))
}
pub fn plugin(name: &str) -> PathBuf {
    require(
        root()
            .join(edgepipe::config::DEFAULT_PLUGIN_DIR)
            .join(format!("{name}.wasm")),
    )
}
pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_edgepipe"))
}

/// A fresh temporary folder, removed on drop.
pub struct TempDir(pub PathBuf);
impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let p = std::env::temp_dir().join(format!(
            "edgepipe-test-{tag}-{}-{nanos}",
            std::process::id()
        ));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
}
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A loopback port nobody listens on (at the time of asking).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn wait_for_port(port: u16, within: Duration) -> bool {
    let until = Instant::now() + within;
    while Instant::now() < until {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// A real mosquitto on a free loopback port, killed on drop.
pub struct Mosquitto {
    pub port: u16,
    child: Child,
}
impl Mosquitto {
    pub fn start() -> Mosquitto {
        let port = free_port();
        let child = Command::new("mosquitto")
            .args(["-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("mosquitto is installed (scripts/setup.sh)");
        assert!(
            wait_for_port(port, Duration::from_secs(10)),
            "mosquitto did not start on port {port}"
        );
        Mosquitto { port, child }
    }
    pub fn url(&self) -> String {
        format!("mqtt://127.0.0.1:{}", self.port)
    }
}
impl Drop for Mosquitto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A state folder no other run uses (stage state is kept across runs by
/// default, and tests run in parallel).
pub fn fresh_state_dir() -> PathBuf {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    std::env::temp_dir()
        .join(format!("edgepipe-test-state-{}", std::process::id()))
        .join(n.to_string())
}

/// The binary as the tests start it: nothing inherited that changes what it
/// loads or where it publishes, and stage state in a folder of its own.
pub fn command() -> Command {
    let mut c = Command::new(bin());
    c.env_remove("ORT_DYLIB_PATH")
        .env_remove("EDGEPIPE_MQTT_URL")
        .env("EDGEPIPE_STATE_DIR", fresh_state_dir());
    // Tests run in parallel: only the live view's own tests serve HTTP.
    c.env("EDGEPIPE_NO_HTTP", "true");
    c
}

/// Run the binary to completion; (exit code, stdout, stderr).
pub fn run_edgepipe(args: &[&str]) -> (i32, Vec<u8>, String) {
    let out = command().args(args).output().expect("edgepipe runs");
    (
        out.status.code().unwrap_or(-1),
        out.stdout,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// As [`run_edgepipe`], with the live view allowed to serve.
pub fn run_edgepipe_with_http(args: &[&str]) -> (i32, Vec<u8>, String) {
    let out = command()
        .env_remove("EDGEPIPE_NO_HTTP")
        .args(args)
        .output()
        .expect("edgepipe runs");
    (
        out.status.code().unwrap_or(-1),
        out.stdout,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The people counter's `total` in the run's final stats line.
pub fn final_total(stderr: &str) -> u64 {
    let line = stderr
        .lines()
        .find(|l| l.contains("final stats:") && l.contains("people-counter"))
        .unwrap_or_else(|| panic!("no final stats:\n{stderr}"));
    line.split("total=")
        .nth(1)
        .and_then(|r| r.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no total in {line}"))
}

/// Assert that stderr holds exactly one error line, that it mentions
/// `needle`, and that nothing panicked. Returns the line.
pub fn one_error_line(stderr: &str, needle: &str) -> String {
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("edgepipe: error:"))
        .collect();
    assert_eq!(
        errors.len(),
        1,
        "exactly one error line expected in:\n{stderr}"
    );
    assert!(
        errors[0].contains(needle),
        "error line {:?} should mention {needle:?}",
        errors[0]
    );
    assert!(
        !stderr.contains("panicked") && !stderr.contains("internal error"),
        "no panic:\n{stderr}"
    );
    errors[0].to_string()
}

// --- a minimal ONNX writer, to make models of shapes the detector must reject ---

fn varint(mut v: u64, out: &mut Vec<u8>) {
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}
fn f_varint(tag: u64, v: u64, out: &mut Vec<u8>) {
    varint(tag << 3, out);
    varint(v, out);
}
fn f_bytes(tag: u64, bytes: &[u8], out: &mut Vec<u8>) {
    varint((tag << 3) | 2, out);
    varint(bytes.len() as u64, out);
    out.extend_from_slice(bytes);
}
fn value_info(name: &str, dims: &[u64]) -> Vec<u8> {
    let mut shape = Vec::new();
    for &d in dims {
        let mut dim = Vec::new();
        f_varint(1, d, &mut dim);
        f_bytes(1, &dim, &mut shape);
    }
    let mut tensor = Vec::new();
    f_varint(1, 1, &mut tensor); // FLOAT
    f_bytes(2, &shape, &mut tensor);
    let mut ty = Vec::new();
    f_bytes(1, &tensor, &mut ty);
    let mut vi = Vec::new();
    f_bytes(1, name.as_bytes(), &mut vi);
    f_bytes(2, &ty, &mut vi);
    vi
}

/// An ONNX model with one Identity node: input `images` of shape `dims`,
/// output `out` of the same shape.
pub fn identity_onnx(dims: &[u64]) -> Vec<u8> {
    let mut node = Vec::new();
    f_bytes(1, b"images", &mut node);
    f_bytes(2, b"out", &mut node);
    f_bytes(4, b"Identity", &mut node);
    let mut graph = Vec::new();
    f_bytes(1, &node, &mut graph);
    f_bytes(2, b"identity", &mut graph);
    f_bytes(11, &value_info("images", dims), &mut graph);
    f_bytes(12, &value_info("out", dims), &mut graph);
    let mut opset = Vec::new();
    f_bytes(1, b"", &mut opset);
    f_varint(2, 13, &mut opset);
    let mut model = Vec::new();
    f_varint(1, 8, &mut model); // ir_version
    f_bytes(8, &opset, &mut model);
    f_bytes(7, &graph, &mut model);
    model
}

/// A stage of `path` loaded as `kind` with `settings` on a host of its own.
pub fn load_stage(
    path: &Path,
    kind: edgepipe::plugin::StageKind,
    settings: &[(&str, &str)],
) -> (edgepipe::plugin::PluginHost, edgepipe::plugin::Stage) {
    use edgepipe::plugin::{Limits, PluginHost};
    let host = PluginHost::new(Limits::default()).unwrap();
    let settings = settings
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let name = path.file_stem().unwrap().to_str().unwrap();
    let stage = host.load(name, path, kind, settings).unwrap();
    (host, stage)
}

// --- plugins built only for the tests (tests/guests, by scripts/setup.sh) ---

pub fn guest(name: &str) -> PathBuf {
    require(
        root()
            .join("target/test-guests")
            .join(format!("{name}.wasm")),
    )
}

/// `bytes` with a custom section appended: a different file (and content
/// hash) with the same behaviour.
pub fn with_custom_section(bytes: &[u8], tag: &str) -> Vec<u8> {
    let mut payload = Vec::new();
    varint(tag.len() as u64, &mut payload);
    payload.extend_from_slice(tag.as_bytes());
    payload.extend_from_slice(b"variant");
    let mut out = bytes.to_vec();
    out.push(0);
    varint(payload.len() as u64, &mut out);
    out.extend_from_slice(&payload);
    out
}

/// A mosquitto_passwd file in `dir` with these (user, password) pairs.
pub fn password_file(dir: &Path, users: &[(&str, &str)]) -> PathBuf {
    let file = dir.join("passwd");
    for (i, (u, p)) in users.iter().enumerate() {
        let mut cmd = Command::new("mosquitto_passwd");
        cmd.arg("-b");
        if i == 0 {
            cmd.arg("-c");
        }
        sh(cmd.arg(&file).args([u, p]));
    }
    file
}

/// An MQTT subscriber (rumqttc) on a test broker: subscribes, waits for the
/// SUBACKs, then collects (topic, payload) until dropped.
pub struct Subscriber {
    client: rumqttc::Client,
    rx: std::sync::mpsc::Receiver<(String, String)>,
    got: Vec<(String, String)>,
}
impl Subscriber {
    pub fn start(port: u16, topics: &[&str]) -> Subscriber {
        Subscriber::start_as(port, topics, None)
    }
    /// The same with a login (user, password).
    pub fn start_as(port: u16, topics: &[&str], login: Option<(&str, &str)>) -> Subscriber {
        use rumqttc::{Client, Event, MqttOptions, Packet, QoS};
        let mut opts = MqttOptions::new(
            format!("test-sub-{}-{port}", std::process::id()),
            "127.0.0.1",
            port,
        );
        if let Some((u, p)) = login {
            opts.set_credentials(u, p);
        }
        opts.set_keep_alive(Duration::from_secs(30));
        opts.set_max_packet_size(1 << 20, 1 << 20);
        let (client, mut connection) = Client::new(opts, 1000);
        for t in topics {
            client.subscribe(*t, QoS::AtLeastOnce).unwrap();
        }
        let want = topics.len();
        let (tx, rx) = std::sync::mpsc::channel();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<()>();
        std::thread::spawn(move || {
            let mut subacks = 0;
            for ev in connection.iter() {
                match ev {
                    Ok(Event::Incoming(Packet::SubAck(_))) => {
                        subacks += 1;
                        if subacks == want {
                            let _ = ready_tx.send(());
                        }
                    }
                    Ok(Event::Incoming(Packet::Publish(p))) => {
                        let _ = tx.send((
                            p.topic.clone(),
                            String::from_utf8_lossy(&p.payload).into_owned(),
                        ));
                    }
                    Ok(Event::Outgoing(rumqttc::Outgoing::Disconnect)) => break,
                    Ok(_) => {}
                    Err(_) => break,
                }
            }
        });
        ready_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("subscribed");
        Subscriber {
            client,
            rx,
            got: Vec::new(),
        }
    }
    /// Everything received so far (and keep it).
    pub fn messages(&mut self) -> &[(String, String)] {
        self.got.extend(self.rx.try_iter());
        &self.got
    }
    /// Wait until `pred` holds over the messages, up to `within`.
    pub fn wait_for(
        &mut self,
        within: Duration,
        pred: impl Fn(&[(String, String)]) -> bool,
    ) -> bool {
        let until = Instant::now() + within;
        while Instant::now() < until {
            if pred(self.messages()) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        pred(self.messages())
    }
}
impl Drop for Subscriber {
    fn drop(&mut self) {
        let _ = self.client.disconnect();
    }
}

/// Wait for a child's exit, at most `within` (then kill it and fail the test).
pub fn wait_exit(child: &mut Child, within: Duration) -> i32 {
    let until = Instant::now() + within;
    while Instant::now() < until {
        if let Some(st) = child.try_wait().unwrap() {
            return st.code().unwrap_or(-1);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    panic!("edgepipe did not exit within {within:?}");
}

/// Collect a child's stderr on a thread.
pub fn stderr_of(child: &mut Child) -> std::thread::JoinHandle<String> {
    let mut err = child.stderr.take().expect("stderr piped");
    std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut err, &mut s);
        s
    })
}

/// Read a child's stdout to the end on a thread; the byte count comes back.
pub fn count_bytes(mut from: std::process::ChildStdout) -> std::thread::JoinHandle<u64> {
    std::thread::spawn(move || {
        use std::io::Read;
        let mut buf = vec![0u8; 1 << 16];
        let mut total = 0u64;
        loop {
            match from.read(&mut buf) {
                Ok(0) | Err(_) => return total,
                Ok(n) => total += n as u64,
            }
        }
    })
}

// --- mosquitto with a config file: restartable on its port, persistence, TLS, passwords ---

/// What a [`ConfiguredMosquitto`] is set up with.
#[derive(Default, Clone)]
pub struct MosquittoOptions {
    /// Keep sessions and queued messages across restarts.
    pub persistence: bool,
    /// (CA, server certificate, server key) in PEM: the listener speaks TLS.
    pub tls: Option<(PathBuf, PathBuf, PathBuf)>,
    /// A mosquitto_passwd file: anonymous clients are refused.
    pub password_file: Option<PathBuf>,
    /// With `tls`: clients must show a certificate signed by the CA.
    pub require_certificate: bool,
    /// A mosquitto ACL file (with `password_file`).
    pub acl_file: Option<PathBuf>,
    /// More configuration lines, as they are.
    pub extra: String,
}

/// A real mosquitto from a config file in its own folder, on a fixed free
/// loopback port, which the test can stop and start again.
pub struct ConfiguredMosquitto {
    pub port: u16,
    pub dir: TempDir,
    conf: PathBuf,
    child: Option<Child>,
}

impl ConfiguredMosquitto {
    pub fn start(opts: &MosquittoOptions) -> ConfiguredMosquitto {
        let dir = TempDir::new("mosquitto");
        let port = free_port();
        // `user root`: as root mosquitto would otherwise switch to its own user,
        // which cannot read the test's key files or write its persistence folder.
        let mut conf = format!("listener {port} 127.0.0.1\nlog_dest stderr\nuser root\n");
        if opts.persistence {
            conf += &format!(
                "persistence true\npersistence_location {}/\nautosave_interval 1\n",
                dir.path().display()
            );
        }
        if let Some((ca, cert, key)) = &opts.tls {
            conf += &format!(
                "cafile {}\ncertfile {}\nkeyfile {}\n",
                ca.display(),
                cert.display(),
                key.display()
            );
            if opts.require_certificate {
                conf += "require_certificate true\n";
            }
        }
        conf += &opts.extra;
        match &opts.password_file {
            Some(p) => conf += &format!("allow_anonymous false\npassword_file {}\n", p.display()),
            None => conf += "allow_anonymous true\n",
        }
        if let Some(acl) = &opts.acl_file {
            conf += &format!("acl_file {}\n", acl.display());
        }
        let path = dir.path().join("mosquitto.conf");
        std::fs::write(&path, conf).unwrap();
        let mut m = ConfiguredMosquitto {
            port,
            dir,
            conf: path,
            child: None,
        };
        m.resume();
        m
    }

    /// Start it (again) on the same port.
    pub fn resume(&mut self) {
        assert!(self.child.is_none(), "already running");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("mosquitto.log"))
            .unwrap();
        let child = Command::new("mosquitto")
            .arg("-c")
            .arg(&self.conf)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("mosquitto is installed (scripts/setup.sh)");
        self.child = Some(child);
        assert!(
            self.wait_listening(),
            "mosquitto did not start on port {}: {}",
            self.port,
            self.log()
        );
    }

    fn wait_listening(&self) -> bool {
        // A bind probe: a TCP connect would show up in its log as a client.
        let until = Instant::now() + Duration::from_secs(10);
        while Instant::now() < until {
            if TcpListener::bind(("127.0.0.1", self.port)).is_err() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    /// Stop it with SIGTERM, so that it saves its persistence file.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let until = Instant::now() + Duration::from_secs(10);
            while Instant::now() < until {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn url(&self) -> String {
        let scheme = if self.conf_text().contains("certfile") {
            "mqtts"
        } else {
            "mqtt"
        };
        format!("{scheme}://127.0.0.1:{}", self.port)
    }

    fn conf_text(&self) -> String {
        std::fs::read_to_string(&self.conf).unwrap_or_default()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("mosquitto.log")).unwrap_or_default()
    }
}

impl Drop for ConfiguredMosquitto {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Run a command and assert it succeeded.
pub fn sh(cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A test CA and a server certificate for 127.0.0.1 signed by it, made with
/// the openssl CLI in `dir`: (ca.pem, server.pem, server.key).
pub fn make_ca_and_server_cert(dir: &Path, tag: &str) -> (PathBuf, PathBuf, PathBuf) {
    let p = |n: &str| dir.join(format!("{tag}-{n}"));
    sh(Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            &format!("/CN=edgepipe test CA {tag}"),
        ])
        .args([
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ])
        .arg("-keyout")
        .arg(p("ca.key"))
        .arg("-out")
        .arg(p("ca.pem")));
    sh(Command::new("openssl")
        .args([
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=localhost",
        ])
        .arg("-keyout")
        .arg(p("server.key"))
        .arg("-out")
        .arg(p("server.csr")));
    std::fs::write(
        p("san.ext"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n",
    )
    .unwrap();
    sh(Command::new("openssl")
        .args(["x509", "-req", "-days", "2", "-CAcreateserial"])
        .arg("-in")
        .arg(p("server.csr"))
        .arg("-CA")
        .arg(p("ca.pem"))
        .arg("-CAkey")
        .arg(p("ca.key"))
        .arg("-out")
        .arg(p("server.pem"))
        .arg("-extfile")
        .arg(p("san.ext")));
    (p("ca.pem"), p("server.pem"), p("server.key"))
}

/// A client certificate signed by the CA that [`make_ca_and_server_cert`] made
/// with the same `tag`: (client.pem, client.key).
pub fn make_client_cert(dir: &Path, tag: &str) -> (PathBuf, PathBuf) {
    let p = |n: &str| dir.join(format!("{tag}-{n}"));
    sh(Command::new("openssl")
        .args([
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=edgepipe-client",
        ])
        .arg("-keyout")
        .arg(p("client.key"))
        .arg("-out")
        .arg(p("client.csr")));
    std::fs::write(
        p("client.ext"),
        "extendedKeyUsage=clientAuth\nbasicConstraints=CA:FALSE\n",
    )
    .unwrap();
    sh(Command::new("openssl")
        .args(["x509", "-req", "-days", "2", "-CAcreateserial"])
        .arg("-in")
        .arg(p("client.csr"))
        .arg("-CA")
        .arg(p("ca.pem"))
        .arg("-CAkey")
        .arg(p("ca.key"))
        .arg("-out")
        .arg(p("client.pem"))
        .arg("-extfile")
        .arg(p("client.ext")));
    (p("client.pem"), p("client.key"))
}

/// The detector settings the tests use: `model` on `provider`, confidence
/// 0.25, IoU 0.45, 2 threads, one request (struct update for the rest).
pub fn detector_settings(
    model: impl Into<edgepipe::model::ModelFile>,
    provider: edgepipe::ep::Provider,
) -> edgepipe::model::DetectorSettings {
    edgepipe::model::DetectorSettings {
        model: model.into(),
        labels: None,
        ort_lib: ort_lib(),
        confidence: 0.25,
        iou: 0.45,
        intra_threads: 2,
        requests: 1,
        max_detections: 300,
        ep: edgepipe::ep::Ep {
            provider,
            ..edgepipe::ep::Ep::cpu()
        },
        fold: true,
    }
}

/// A mosquitto that logs every line, with a password file of `users` and
/// the ACL `acl` (mosquitto's ACL file syntax), and a subscriber to `#`
/// logged in as `operator` (who must be in `users` with "op-pw").
pub fn broker_with_logins(
    dir: &Path,
    users: &[(&str, &str)],
    acl: &str,
) -> (ConfiguredMosquitto, Subscriber) {
    let passwd = password_file(dir, users);
    let acl_file = dir.join("acl");
    std::fs::write(&acl_file, acl).unwrap();
    let broker = ConfiguredMosquitto::start(&MosquittoOptions {
        password_file: Some(passwd),
        acl_file: Some(acl_file),
        extra: "log_type all\n".into(),
        ..Default::default()
    });
    let sub = Subscriber::start_as(broker.port, &["#"], Some(("operator", "op-pw")));
    (broker, sub)
}

/// (boxes of `a` scoring >= `min_score`, those with a box of `b` of the
/// same class at IoU >= `min_iou`), frame by frame.
pub fn matched(
    a: &[Vec<edgepipe::detect::Detection>],
    b: &[Vec<edgepipe::detect::Detection>],
    min_score: f32,
    min_iou: f32,
) -> (usize, usize) {
    let (mut total, mut hits) = (0, 0);
    for (fa, fb) in a.iter().zip(b) {
        for d in fa.iter().filter(|d| d.score >= min_score) {
            total += 1;
            if fb.iter().any(|e| {
                e.class_id == d.class_id && edgepipe::detect::iou(&d.bbox, &e.bbox) >= min_iou
            }) {
                hits += 1;
            }
        }
    }
    (total, hits)
}

/// `det`'s detections of every `step`-th frame of the first `frames` of the clip.
pub fn clip_detections(
    det: &mut edgepipe::model::Detector,
    frames: u64,
    step: u64,
) -> Vec<Vec<edgepipe::detect::Detection>> {
    let mut cap = edgepipe::capture::Capture::open(clip().to_str().unwrap()).unwrap();
    let mut out = Vec::new();
    let mut timings = edgepipe::model::DetectTimings::default();
    while let Some(frame) = cap.next_frame().unwrap() {
        if frame.index >= frames {
            break;
        }
        if frame.index % step == 0 {
            out.push(det.detect(&frame.mat, &mut timings).unwrap());
        }
    }
    out
}
