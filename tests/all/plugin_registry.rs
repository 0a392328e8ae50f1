//! `edgepipe plugin push|pull|keygen|sign|verify` against a real registry
//! (TLS, htpasswd login) and checked from outside with skopeo: what edgepipe
//! pushes is a Wasm OCI artifact, what skopeo copies in edgepipe pulls, and
//! every bad input is one clear line with exit 5, never a panic.

use std::path::Path;

use super::common::{self, TempDir};
use super::oci_common::{
    lying_manifest, oci_layout, padded, plugin_cmd, push, put_manifest, DockerRegistry,
};

fn pull_args(reg: &DockerRegistry, reference: &str, out: &Path, extra: &[&str]) -> Vec<String> {
    let mut a = vec![
        "pull".to_string(),
        reference.to_string(),
        "-o".into(),
        out.display().to_string(),
    ];
    a.extend(reg.flags());
    a.extend(extra.iter().map(|s| s.to_string()));
    a
}

fn run(args: &[String]) -> (i32, String, String) {
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    plugin_cmd(&a)
}

/// The last line of stderr, which must be the only `error:` line.
fn error_line(stderr: &str) -> String {
    let errors: Vec<&str> = stderr.lines().filter(|l| l.contains("error:")).collect();
    assert_eq!(errors.len(), 1, "one error line: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    errors[0].to_string()
}

#[test]
fn push_writes_the_wasm_oci_layout_and_pull_gives_back_the_same_bytes() {
    let reg = DockerRegistry::start();
    let dir = TempDir::new("push-pull");
    let file = common::plugin("people-counter");
    let bytes = std::fs::read(&file).unwrap();
    let digest = push(&reg, &file, "people-counter:1.0");

    // skopeo (not edgepipe) reads what was pushed.
    let out = reg.skopeo(&[
        "inspect",
        "--raw",
        &format!("docker://{}", reg.reference("people-counter:1.0")),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let m: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(m["mediaType"], "application/vnd.oci.image.manifest.v1+json");
    assert_eq!(
        m["config"]["mediaType"],
        "application/vnd.wasm.config.v0+json"
    );
    let layers = m["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 1, "{m}");
    assert_eq!(layers[0]["mediaType"], "application/wasm");
    assert_eq!(layers[0]["size"], bytes.len() as u64);
    // The digest push printed is the manifest's.
    let raw_digest = edgepipe::plugin::cache::content_hash(&out.stdout);
    assert_eq!(digest, format!("sha256:{raw_digest}"));

    // By tag and by digest, the same bytes come back.
    let by_tag = dir.path().join("by-tag.wasm");
    let (code, stdout, err) = run(&pull_args(
        &reg,
        &reg.reference("people-counter:1.0"),
        &by_tag,
        &[],
    ));
    assert_eq!(code, 0, "{err}");
    assert!(stdout.contains(&digest), "{stdout}");
    assert_eq!(std::fs::read(&by_tag).unwrap(), bytes);
    let by_digest = dir.path().join("by-digest.wasm");
    let pinned = format!("{}/plugins/people-counter@{digest}", reg.host());
    let (code, _, err) = run(&pull_args(&reg, &pinned, &by_digest, &[]));
    assert_eq!(code, 0, "{err}");
    assert_eq!(std::fs::read(&by_digest).unwrap(), bytes);

    // skopeo copies edgepipe's artifact; edgepipe pulls the copy.
    let out = reg.skopeo(&[
        "copy",
        &format!("docker://{}", reg.reference("people-counter:1.0")),
        &format!("docker://{}", reg.reference("copied:stable")),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let copied = dir.path().join("copied.wasm");
    let (code, _, err) = run(&pull_args(
        &reg,
        &reg.reference("copied:stable"),
        &copied,
        &[],
    ));
    assert_eq!(code, 0, "{err}");
    assert_eq!(std::fs::read(&copied).unwrap(), bytes);
}

#[test]
fn pulls_an_artifact_that_skopeo_pushed_from_a_hand_written_layout() {
    let reg = DockerRegistry::start();
    let dir = TempDir::new("skopeo-in");
    let bytes = std::fs::read(common::plugin("draw-boxes")).unwrap();
    let layout = dir.path().join("layout");
    oci_layout(
        &layout,
        "v1",
        &bytes,
        "application/vnd.wasm.config.v0+json",
        "application/wasm",
    );
    let out = reg.skopeo(&[
        "copy",
        &format!("oci:{}:v1", layout.display()),
        &format!("docker://{}", reg.reference("draw-boxes:v1")),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pulled = dir.path().join("db.wasm");
    let (code, _, err) = run(&pull_args(
        &reg,
        &reg.reference("draw-boxes:v1"),
        &pulled,
        &[],
    ));
    assert_eq!(code, 0, "{err}");
    assert_eq!(std::fs::read(&pulled).unwrap(), bytes);
}

/// The registry's stored copy of the blob with digest `hex`.
fn stored_blob(reg: &DockerRegistry, hex: &str) -> std::path::PathBuf {
    reg.dir
        .path()
        .join("data/docker/registry/v2/blobs/sha256")
        .join(&hex[..2])
        .join(hex)
        .join("data")
}

#[test]
fn bad_registry_input_is_one_clear_line_each() {
    let reg = DockerRegistry::start();
    let dir = TempDir::new("bad-registry");
    let out = dir.path().join("out.wasm");
    let file = common::plugin("people-counter");
    push(&reg, &file, "pc:1");
    let bad = |args: Vec<String>, needle: &str| {
        let (code, _, err) = run(&args);
        assert_eq!(code, 5, "{needle}: {err}");
        let line = error_line(&err);
        assert!(line.contains(needle), "{needle:?} in {line}");
        assert!(!out.exists(), "nothing written on failure");
    };
    // Nobody listens there.
    let nobody = format!("127.0.0.1:{}/plugins/pc:1", common::free_port());
    bad(pull_args(&reg, &nobody, &out, &[]), "unreachable");
    // The system roots do not know the test CA: TLS is checked.
    bad(
        vec![
            "pull".into(),
            reg.reference("pc:1"),
            "-o".into(),
            out.display().to_string(),
        ],
        "unreachable",
    );
    // Wrong password.
    let wrong = dir.path().join("wrong-pw");
    std::fs::write(&wrong, "not-it\n").unwrap();
    let mut args = pull_args(&reg, &reg.reference("pc:1"), &out, &[]);
    let i = args
        .iter()
        .position(|a| a == "--registry-password-file")
        .unwrap();
    args[i + 1] = wrong.display().to_string();
    bad(args, "refused the login");
    // A tag that does not exist.
    bad(
        pull_args(&reg, &reg.reference("pc:nope"), &out, &[]),
        "not found",
    );

    // A container image config instead of the Wasm one.
    let layout = dir.path().join("image");
    let bytes = std::fs::read(&file).unwrap();
    oci_layout(
        &layout,
        "v1",
        &bytes,
        "application/vnd.oci.image.config.v1+json",
        "application/vnd.oci.image.layer.v1.tar",
    );
    let copy = |layout: &Path, to: &str| {
        let o = reg.skopeo(&[
            "copy",
            &format!("oci:{}:v1", layout.display()),
            &format!("docker://{}", reg.reference(to)),
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    };
    copy(&layout, "image:v1");
    bad(
        pull_args(&reg, &reg.reference("image:v1"), &out, &[]),
        "config media type application/vnd.oci.image.config.v1+json",
    );
    // The Wasm media types around bytes that are not a component.
    let text = dir.path().join("text");
    oci_layout(
        &text,
        "v1",
        b"hello, not wasm at all",
        "application/vnd.wasm.config.v0+json",
        "application/wasm",
    );
    copy(&text, "text:v1");
    bad(
        pull_args(&reg, &reg.reference("text:v1"), &out, &[]),
        "not a WebAssembly component",
    );
    // Over the size cap: a 2 MB component against 1 MB (a 500 MB one is
    // refused the same way, from the manifest, before any download).
    let big = dir.path().join("big.wasm");
    std::fs::write(&big, padded(&bytes, 2 << 20)).unwrap();
    push(&reg, &big, "big:1");
    bad(
        pull_args(
            &reg,
            &reg.reference("big:1"),
            &out,
            &["--max-component-mb", "1"],
        ),
        "over the limit",
    );

    // A manifest that announces 4096 bytes for the 2 MB layer (PUT as it
    // is, by curl): the download stops at 4096 bytes, one line.
    let raw = reg.skopeo(&[
        "inspect",
        "--raw",
        &format!("docker://{}", reg.reference("big:1")),
    ]);
    assert!(raw.status.success());
    put_manifest(&reg, "big:liar", &lying_manifest(&raw.stdout, 4096));
    bad(
        pull_args(&reg, &reg.reference("big:liar"), &out, &[]),
        "sent more than the 4096 bytes its manifest announced",
    );

    // The stored layer damaged in the registry: same length (digest
    // mismatch), then cut short (truncated download).
    let hex = edgepipe::plugin::cache::content_hash(&bytes);
    let blob = stored_blob(&reg, &hex);
    let mut damaged = bytes.clone();
    damaged[100] ^= 0xff;
    std::fs::write(&blob, &damaged).unwrap();
    bad(
        pull_args(&reg, &reg.reference("pc:1"), &out, &[]),
        "digest mismatch",
    );
    std::fs::write(&blob, &bytes[..bytes.len() / 2]).unwrap();
    bad(
        pull_args(&reg, &reg.reference("pc:1"), &out, &[]),
        "truncated download",
    );
}

#[test]
fn keygen_sign_verify_and_a_signed_component_still_loads() {
    let dir = TempDir::new("sign");
    let key = dir.path().join("release.key");
    let other = dir.path().join("other.key");
    let (code, _, err) = plugin_cmd(&["keygen", key.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(dir.path().join("release.key.pub").exists());
    let (code, _, err) = plugin_cmd(&["keygen", other.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    // Never overwrites a key.
    let (code, _, err) = plugin_cmd(&["keygen", key.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(error_line(&err).contains("already exists"), "{err}");

    let wasm = dir.path().join("pc.wasm");
    std::fs::copy(common::plugin("people-counter"), &wasm).unwrap();
    let w = wasm.to_str().unwrap();
    let pubkey = format!("{}.pub", key.display());
    let other_pub = format!("{}.pub", other.display());
    let (code, _, err) = plugin_cmd(&["verify", w, "--key", &pubkey]);
    assert_eq!(code, 1);
    assert!(err.contains("not signed"), "{err}");
    let (code, _, err) = plugin_cmd(&["sign", w, "--key", key.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = plugin_cmd(&["verify", w, "--key", &pubkey]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("signed by"), "{out}");
    let (code, _, err) = plugin_cmd(&["verify", w, "--key", &other_pub]);
    assert_eq!(code, 1);
    assert!(err.contains("not signed by the key"), "{err}");
    // The embedded signature does not stop the host from loading it.
    let (code, out, err) = plugin_cmd(&["check", w]);
    assert_eq!(code, 0, "{out}{err}");
}

/// `edgepipe run` of a one-stage pipeline file with `[plugins]` lines `plugins`.
fn run_one_stage(dir: &Path, path: &str, plugins: &str) -> (i32, String) {
    let cfg = dir.join("pipeline.toml");
    std::fs::write(
        &cfg,
        format!("[plugins]\n{plugins}\n[[stages]]\nname = \"people-counter\"\nkind = \"stats\"\npath = {path:?}\n"),
    )
    .unwrap();
    let out = common::command()
        .args(["run", "--config"])
        .arg(&cfg)
        .arg("--input")
        .arg(common::clip())
        .args(["--max-frames", "2", "--no-mqtt"])
        .arg("--plugin-cache")
        .arg(dir.join("cache"))
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_run_refuses_what_it_cannot_fetch_or_trust_in_one_line() {
    let dir = TempDir::new("run-refuses");
    // A registry stage with nothing listening and nothing cached.
    let nobody = format!("oci://127.0.0.1:{}/plugins/pc:1", common::free_port());
    let (code, err) = run_one_stage(dir.path(), &nobody, "registry_plain_http = true");
    assert_eq!(code, 5, "{err}");
    let line = common::one_error_line(&err, "unreachable");
    assert!(line.contains("no verified copy in the cache"), "{line}");

    // trusted_keys set: an unsigned file is refused, a signed one runs.
    let key = dir.path().join("k");
    let (code, _, e) = plugin_cmd(&["keygen", key.to_str().unwrap()]);
    assert_eq!(code, 0, "{e}");
    let trust = format!("trusted_keys = [{:?}]", format!("{}.pub", key.display()));
    let wasm = dir.path().join("pc.wasm");
    std::fs::copy(common::plugin("people-counter"), &wasm).unwrap();
    let (code, err) = run_one_stage(dir.path(), wasm.to_str().unwrap(), &trust);
    assert_eq!(code, 5, "{err}");
    let line = common::one_error_line(&err, "refused: not signed");
    assert!(line.contains("people-counter"), "{line}");
    let (code, _, e) = plugin_cmd(&[
        "sign",
        wasm.to_str().unwrap(),
        "--key",
        key.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{e}");
    let (code, err) = run_one_stage(dir.path(), wasm.to_str().unwrap(), &trust);
    assert_eq!(code, 0, "{err}");
}

#[test]
fn pull_takes_the_password_from_the_environment_and_checks_the_key() {
    let reg = DockerRegistry::start();
    let dir = TempDir::new("pull-env-key");
    let key = dir.path().join("k");
    let (code, _, err) = plugin_cmd(&["keygen", key.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let pubkey = format!("{}.pub", key.display());
    let wasm = dir.path().join("pc.wasm");
    std::fs::copy(common::plugin("people-counter"), &wasm).unwrap();
    push(&reg, &wasm, "pc:unsigned");
    let (code, _, err) = plugin_cmd(&[
        "sign",
        wasm.to_str().unwrap(),
        "--key",
        key.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    push(&reg, &wasm, "pc:signed");
    let out = dir.path().join("out.wasm");
    let pull = |tag: &str, env_value: &str| {
        let o = common::command()
            .args(["plugin", "pull", &reg.reference(tag), "-o"])
            .arg(&out)
            .args(["--registry-user", super::oci_common::USER])
            .args(["--registry-password-env", "FLEET_TEST_REGISTRY_PW"])
            .arg("--registry-ca")
            .arg(&reg.ca)
            .args(["--key", &pubkey])
            .env("FLEET_TEST_REGISTRY_PW", env_value)
            .output()
            .unwrap();
        (
            o.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    let pw = super::oci_common::PASSWORD;
    // Signed by the key: written.
    let (code, err) = pull("pc:signed", pw);
    assert_eq!(code, 0, "{err}");
    assert_eq!(std::fs::read(&out).unwrap(), std::fs::read(&wasm).unwrap());
    std::fs::remove_file(&out).unwrap();
    // Not signed: refused, one line, nothing written.
    let (code, err) = pull("pc:unsigned", pw);
    assert_eq!(code, 5, "{err}");
    assert!(error_line(&err).contains("not signed"), "{err}");
    assert!(!out.exists());
    // The variable holds a wrong password: the login is refused.
    let (code, err) = pull("pc:signed", "wrong");
    assert_eq!(code, 5, "{err}");
    assert!(error_line(&err).contains("refused the login"), "{err}");
}
