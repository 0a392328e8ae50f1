//! A real OCI registry for the tests: Debian's `docker-registry` (the CNCF
//! distribution registry) on a free loopback port, with htpasswd logins
//! (apache2-utils) and TLS from a CA made with openssl; `skopeo` to look at
//! and copy artifacts from outside edgepipe's code.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use super::common::{self, TempDir};

pub const USER: &str = "fleet";
pub const PASSWORD: &str = "fleet-registry-pw";

pub struct DockerRegistry {
    pub port: u16,
    pub dir: TempDir,
    pub ca: PathBuf,
    pub password_file: PathBuf,
    config: PathBuf,
    child: Option<Child>,
}

impl DockerRegistry {
    /// A registry with TLS and one login ([`USER`], [`PASSWORD`]).
    pub fn start() -> DockerRegistry {
        let dir = TempDir::new("registry");
        let port = common::free_port();
        let (ca, cert, key) = common::make_ca_and_server_cert(dir.path(), "reg");
        let htpasswd = dir.path().join("htpasswd");
        let out = Command::new("htpasswd")
            .args(["-Bbn", USER, PASSWORD])
            .output()
            .expect("htpasswd is installed (apache2-utils, scripts/setup.sh)");
        assert!(out.status.success());
        std::fs::write(&htpasswd, &out.stdout).unwrap();
        let password_file = dir.path().join("registry-password");
        std::fs::write(&password_file, format!("{PASSWORD}\n")).unwrap();
        let config = dir.path().join("registry.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {data}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n  tls:\n    certificate: {cert}\n    key: {key}\nauth:\n  htpasswd:\n    realm: edgepipe-test\n    path: {htpasswd}\n",
                data = dir.path().join("data").display(),
                cert = cert.display(),
                key = key.display(),
                htpasswd = htpasswd.display(),
            ),
        )
        .unwrap();
        let mut r = DockerRegistry {
            port,
            dir,
            ca,
            password_file,
            config,
            child: None,
        };
        r.resume();
        r
    }

    /// Start it again (same port, same storage) after [`stop`](Self::stop).
    pub fn resume(&mut self) {
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&self.config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("docker-registry is installed (scripts/setup.sh)");
        self.child = Some(child);
        assert!(
            common::wait_for_port(self.port, Duration::from_secs(20)),
            "docker-registry did not start on port {}",
            self.port
        );
    }

    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// `127.0.0.1:PORT/plugins/<repo_tag>`
    pub fn reference(&self, repo_tag: &str) -> String {
        format!("{}/plugins/{repo_tag}", self.host())
    }

    /// The login and CA flags of `plugin push|pull`.
    pub fn flags(&self) -> Vec<String> {
        vec![
            "--registry-user".into(),
            USER.into(),
            "--registry-password-file".into(),
            self.password_file.display().to_string(),
            "--registry-ca".into(),
            self.ca.display().to_string(),
        ]
    }

    /// A folder with the CA as skopeo's `--cert-dir` wants it (`*.crt`).
    pub fn cert_dir(&self) -> PathBuf {
        let d = self.dir.path().join("skopeo-certs");
        std::fs::create_dir_all(&d).unwrap();
        std::fs::copy(&self.ca, d.join("ca.crt")).unwrap();
        d
    }

    /// Run skopeo with this registry's login and CA.
    pub fn skopeo(&self, args: &[&str]) -> Output {
        let creds = format!("{USER}:{PASSWORD}");
        let certs = self.cert_dir();
        let mut c = Command::new("skopeo");
        c.arg(args[0]);
        match args[0] {
            "copy" => {
                c.args(["--dest-creds", &creds, "--dest-cert-dir"])
                    .arg(&certs)
                    .args(["--src-creds", &creds, "--src-cert-dir"])
                    .arg(&certs);
            }
            _ => {
                c.args(["--creds", &creds, "--cert-dir"]).arg(&certs);
            }
        }
        c.args(&args[1..]);
        c.output().expect("skopeo is installed (scripts/setup.sh)")
    }
}

impl Drop for DockerRegistry {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Run `edgepipe plugin <args>`: (exit code, stdout, stderr).
pub fn plugin_cmd(args: &[&str]) -> (i32, String, String) {
    let out = common::command()
        .arg("plugin")
        .args(args)
        .output()
        .expect("edgepipe runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `plugin push FILE REF` with the registry's login; panics unless it worked.
pub fn push(reg: &DockerRegistry, file: &Path, repo_tag: &str) -> String {
    let reference = reg.reference(repo_tag);
    let mut args = vec![
        "push".to_string(),
        file.display().to_string(),
        reference.clone(),
    ];
    args.extend(reg.flags());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, out, err) = plugin_cmd(&args);
    assert_eq!(code, 0, "push {reference}: {err}");
    let digest = out
        .split('@')
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .unwrap_or_else(|| panic!("no digest in {out:?}"));
    digest.to_string()
}

fn sha256_hex(b: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(b)
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect()
}

/// A Wasm OCI layout folder holding `layer` under tag `tag`, written by hand
/// (not by edgepipe), with the given config and layer media types; for
/// `skopeo copy oci:DIR:TAG docker://...`.
pub fn oci_layout(dir: &Path, tag: &str, layer: &[u8], config_type: &str, layer_type: &str) {
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    let hex = sha256_hex(layer);
    std::fs::write(blobs.join(&hex), layer).unwrap();
    let layer = (format!("sha256:{hex}"), layer.len() as u64);
    layout_around(dir, tag, layer, config_type, layer_type);
}

/// The layout's config, manifest and index around a layer (digest, size)
/// already in `dir/blobs/sha256/`; returns the manifest.
fn layout_around(
    dir: &Path,
    tag: &str,
    (ld, ls): (String, u64),
    config_type: &str,
    layer_type: &str,
) -> Vec<u8> {
    let blobs = dir.join("blobs/sha256");
    let put = |b: &[u8]| -> (String, usize) {
        let hex = sha256_hex(b);
        std::fs::write(blobs.join(&hex), b).unwrap();
        (format!("sha256:{hex}"), b.len())
    };
    let config = serde_json::json!({"created": "2026-12-04T00:00:00Z", "architecture": "wasm", "os": "wasip2", "layerDigests": [ld]});
    let (cd, cs) = put(config.to_string().as_bytes());
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": config_type, "digest": cd, "size": cs},
        "layers": [{"mediaType": layer_type, "digest": ld, "size": ls}],
    });
    let manifest = manifest.to_string().into_bytes();
    let (md, ms) = put(&manifest);
    let index = serde_json::json!({"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md, "size": ms,
        "annotations": {"org.opencontainers.image.ref.name": tag}}]});
    std::fs::write(dir.join("index.json"), index.to_string()).unwrap();
    std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    manifest
}

/// A valid component of `bytes` plus a custom section of `extra` zero bytes,
/// as a layout in `dir` (the big layer a sparse file: nothing is written or
/// held in memory but its head), copied by skopeo to `repo_tag`. Returns
/// the manifest as the registry serves it.
pub fn push_padded_sparse(
    reg: &DockerRegistry,
    dir: &Path,
    bytes: &[u8],
    extra: u64,
    repo_tag: &str,
) -> Vec<u8> {
    use sha2::{Digest, Sha256};
    use std::io::{Read, Write};
    // A custom section (id 0) of 8 + extra bytes, in LEB128: its name
    // (`padding`, with its length byte), then the zeros.
    let mut head = bytes.to_vec();
    head.push(0);
    leb128(8 + extra, &mut head);
    head.push(7);
    head.extend_from_slice(b"padding");
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    let tmp = blobs.join("sparse");
    let mut f = std::fs::File::create(&tmp).unwrap();
    f.write_all(&head).unwrap();
    let size = head.len() as u64 + extra;
    f.set_len(size).unwrap();
    drop(f);
    let mut hasher = Sha256::new();
    let mut f = std::fs::File::open(&tmp).unwrap();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    let hex: String = hasher
        .finalize()
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect();
    std::fs::rename(&tmp, blobs.join(&hex)).unwrap();
    let layer = (format!("sha256:{hex}"), size);
    layout_around(
        dir,
        "big",
        layer,
        "application/vnd.wasm.config.v0+json",
        "application/wasm",
    );
    let out = reg.skopeo(&[
        "copy",
        &format!("oci:{}:big", dir.display()),
        &format!("docker://{}", reg.reference(repo_tag)),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = reg.skopeo(&[
        "inspect",
        "--raw",
        &format!("docker://{}", reg.reference(repo_tag)),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// `manifest` with its layer's size replaced by `size` (a lie).
pub fn lying_manifest(manifest: &[u8], size: u64) -> Vec<u8> {
    let mut m: serde_json::Value = serde_json::from_slice(manifest).unwrap();
    m["layers"][0]["size"] = size.into();
    m.to_string().into_bytes()
}

/// PUT `manifest` as `repo_tag` straight to the registry's HTTP API (curl),
/// as a client that does not check what it uploads would; returns its digest.
pub fn put_manifest(reg: &DockerRegistry, repo_tag: &str, manifest: &[u8]) -> String {
    let (repo, tag) = repo_tag.split_once(':').unwrap();
    let file = reg.dir.path().join(format!("manifest-{repo}-{tag}.json"));
    std::fs::write(&file, manifest).unwrap();
    let out = Command::new("curl")
        .args(["-sS", "--fail-with-body", "-X", "PUT", "--cacert"])
        .arg(&reg.ca)
        .args(["-u", &format!("{USER}:{PASSWORD}")])
        .args([
            "-H",
            "Content-Type: application/vnd.oci.image.manifest.v1+json",
        ])
        .arg("--data-binary")
        .arg(format!("@{}", file.display()))
        .arg(format!(
            "https://{}/v2/plugins/{repo}/manifests/{tag}",
            reg.host()
        ))
        .output()
        .expect("curl is installed (scripts/setup.sh)");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    format!("sha256:{}", sha256_hex(manifest))
}

/// `bytes` with a custom section of `extra` zero bytes appended: a valid,
/// larger component.
pub fn padded(bytes: &[u8], extra: usize) -> Vec<u8> {
    let name = b"padding";
    let mut payload = vec![name.len() as u8];
    payload.extend_from_slice(name);
    payload.resize(payload.len() + extra, 0);
    let mut out = bytes.to_vec();
    out.push(0);
    leb128(payload.len() as u64, &mut out);
    out.extend_from_slice(&payload);
    out
}

/// `n` as unsigned LEB128 (a wasm section's size).
fn leb128(mut n: u64, out: &mut Vec<u8>) {
    loop {
        let b = (n & 0x7f) as u8;
        n >>= 7;
        out.push(if n == 0 { b } else { b | 0x80 });
        if n == 0 {
            break;
        }
    }
}
