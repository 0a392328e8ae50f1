//! `edgepipe plugin build DIR`: turns a plugin folder (its `plugin.toml` says
//! name, language and world) into `DIR/<name>.wasm`, whatever the language:
//! cargo for Rust, componentize-py for Python, componentize-js for JavaScript.
//! The Python and JavaScript SDKs and the WIT are embedded in this binary, so
//! a plugin is always built against the contract this host serves.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Deserialize;
use thiserror::Error;

use crate::error::{ExitKind, Failure};
use crate::plugin::StageKind;

/// The plugin's manifest, written by `edgepipe plugin new`.
pub const MANIFEST: &str = "plugin.toml";
/// The contract version every SDK builds against (the newest: it has every
/// world, `overlay` included).
pub const CONTRACT: &str = "0.4.0";
pub const WIT: &str = include_str!("../../../wit/since_v0.4.0/plugin.wit");
pub const PYTHON_SDK: &str = include_str!("../../../plugins/sdk-python/edgepipe_sdk.py");
pub const JS_SDK: &str = include_str!("../../../plugins/sdk-js/edgepipe-sdk.js");
/// Entry files: `app.py` (module `app`) and `app.js`.
pub const PYTHON_ENTRY: &str = "app.py";
pub const JS_ENTRY: &str = "app.js";
/// Pinned tool versions (scripts/setup.sh installs exactly these).
pub const COMPONENTIZE_PY: &str = "componentize-py==0.25.1";
pub const COMPONENTIZE_JS: &str = "@bytecodealliance/componentize-js@0.23.0";
/// The host links no `wasi:http`: componentize-js must not import it.
const JS_DISABLED_FEATURES: [&str; 2] = ["http", "fetch-event"];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    Rust,
    Python,
    Js,
}

impl Lang {
    pub fn parse(s: &str) -> Option<Lang> {
        match s {
            "rust" => Some(Lang::Rust),
            "python" | "py" => Some(Lang::Python),
            "js" | "javascript" => Some(Lang::Js),
            _ => None,
        }
    }
}

/// The world a plugin folder implements (`plugin.toml`'s `world`): a stage
/// kind, or `overlay`, the draw stage that returns shapes (contract 0.4.0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum World {
    Stats,
    Topics,
    Draw,
    Overlay,
}

impl World {
    pub const ALL: [World; 4] = [World::Stats, World::Topics, World::Draw, World::Overlay];
    /// Its name in the contract and in `--world`.
    pub fn name(self) -> &'static str {
        match self {
            World::Stats => "stats",
            World::Topics => "topics",
            World::Draw => "draw",
            World::Overlay => "overlay",
        }
    }
    /// `--world NAME`.
    pub fn parse(name: &str) -> Option<World> {
        World::ALL.into_iter().find(|w| w.name() == name)
    }
    /// The stage kind a pipeline loads it as (`overlay` is a draw stage).
    pub fn kind(self) -> StageKind {
        match self {
            World::Stats => StageKind::Stats,
            World::Topics => StageKind::Topics,
            World::Draw | World::Overlay => StageKind::Draw,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub name: String,
    pub lang: Lang,
    pub world: World,
}

#[derive(Debug, Error)]
pub enum BuildError {
    #[error("{0}: no {MANIFEST} (make a plugin with `edgepipe plugin new NAME --lang rust|python|js --world stats|topics|draw|overlay`)")]
    NoManifest(PathBuf),
    #[error("{path}: {reason}")]
    BadManifest { path: PathBuf, reason: String },
    #[error("{path}: missing; a {lang} plugin's entry point is {entry}")]
    NoEntry {
        path: PathBuf,
        lang: &'static str,
        entry: &'static str,
    },
    #[error("{tool} not found: {install}")]
    ToolMissing { tool: &'static str, install: String },
    #[error("{tool} failed ({status}) building {dir}:\n{output}")]
    ToolFailed {
        tool: &'static str,
        status: String,
        dir: PathBuf,
        output: String,
    },
    /// Shown as "what: source" (the source is chained by `{:#}`).
    #[error("{what}")]
    Io {
        what: String,
        source: std::io::Error,
    },
    #[error("{tool} output could not be fixed up: {reason}")]
    Patch { tool: &'static str, reason: String },
    #[error("{tool} finished but {path} is not there")]
    NoOutput { tool: &'static str, path: PathBuf },
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> BuildError {
    let what = what.into();
    move |source| BuildError::Io { what, source }
}

/// Read and check `DIR/plugin.toml`.
pub fn read_manifest(dir: &Path) -> Result<Manifest, BuildError> {
    let path = dir.join(MANIFEST);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(BuildError::NoManifest(dir.to_path_buf()))
        }
        Err(e) => return Err(io(path.display().to_string())(e)),
    };
    let m: Manifest = toml::from_str(&text).map_err(|e| BuildError::BadManifest {
        path: path.clone(),
        reason: e.message().to_string(),
    })?;
    crate::commands::plugin_new::check_name(&m.name)
        .map_err(|reason| BuildError::BadManifest { path, reason })?;
    Ok(m)
}

/// Build the plugin in `dir`; returns the path of the component.
pub fn build(dir: &Path) -> Result<PathBuf, BuildError> {
    let m = read_manifest(dir)?;
    // Absolute: cargo runs inside the folder.
    let dir = &std::fs::canonicalize(dir).map_err(io(dir.display().to_string()))?;
    let out = dir.join(format!("{}.wasm", m.name));
    let scratch = Scratch::new(&m.name)?;
    match m.lang {
        Lang::Python => build_python(dir, &m, &out, &scratch.0)?,
        Lang::Js => build_js(dir, &m, &out, &scratch.0)?,
        Lang::Rust => build_rust(dir, &m, &out)?,
    }
    if !out.is_file() {
        return Err(BuildError::NoOutput {
            tool: tool_name(m.lang),
            path: out,
        });
    }
    Ok(out)
}

/// `edgepipe plugin build DIR`: build, then say what was made on stderr.
pub fn run(dir: &Path) -> Result<(), Failure> {
    let started = std::time::Instant::now();
    let out = build(dir).map_err(|e| {
        let kind = match e {
            BuildError::NoManifest(_)
            | BuildError::BadManifest { .. }
            | BuildError::NoEntry { .. } => ExitKind::Config,
            _ => ExitKind::Plugin,
        };
        Failure::new(kind, e)
    })?;
    let len = std::fs::metadata(&out).map(|m| m.len()).unwrap_or(0);
    eprintln!(
        "edgepipe: plugin build: {} ({len} bytes) in {:.1} s",
        out.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn tool_name(lang: Lang) -> &'static str {
    match lang {
        Lang::Rust => "cargo",
        Lang::Python => "componentize-py",
        Lang::Js => "componentize-js",
    }
}

/// A temporary build folder, removed on drop.
struct Scratch(PathBuf);
impl Scratch {
    fn new(name: &str) -> Result<Scratch, BuildError> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let p = std::env::temp_dir().join(format!(
            "edgepipe-build-{name}-{}-{nanos}",
            std::process::id()
        ));
        std::fs::create_dir_all(p.join("wit")).map_err(io(p.display().to_string()))?;
        std::fs::write(p.join("wit/plugin.wit"), WIT).map_err(io(p.display().to_string()))?;
        Ok(Scratch(p))
    }
}
impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A tool: the environment variable if set, then the copy scripts/setup.sh
/// installs under vendor/ (if any), then PATH.
fn find_tool(env: &str, vendored: Option<&str>, on_path: &str) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(env).filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    let v = vendored
        .map(|v| Path::new(crate::config::BUILD_ROOT).join(v))
        .filter(|v| v.is_file());
    v.or_else(|| self::on_path(on_path))
}

fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

fn run_tool(tool: &'static str, cmd: &mut Command, dir: &Path) -> Result<(), BuildError> {
    // A tool's error, not its Rust backtrace (cargo test exports RUST_BACKTRACE).
    cmd.env("RUST_BACKTRACE", "0");
    tracing::debug!(?cmd, "building");
    let out = cmd.output().map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => BuildError::ToolMissing {
            tool,
            install: install_hint(tool),
        },
        _ => BuildError::Io {
            what: format!("running {tool}"),
            source: e,
        },
    })?;
    if out.status.success() {
        return Ok(());
    }
    let mut text = String::from_utf8_lossy(&out.stderr).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stdout));
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let tail = lines[lines.len().saturating_sub(20)..].join("\n");
    Err(BuildError::ToolFailed {
        tool,
        status: out.status.to_string(),
        dir: dir.to_path_buf(),
        output: tail,
    })
}

fn install_hint(tool: &str) -> String {
    match tool {
        "componentize-py" => format!(
            "run `bash scripts/setup.sh` (installs it into vendor/componentize-py), or `pip install {COMPONENTIZE_PY}`, or set EDGEPIPE_COMPONENTIZE_PY to its path"
        ),
        "componentize-js" => format!(
            "run `bash scripts/setup.sh` (installs it into vendor/componentize-js), or `npm install {COMPONENTIZE_JS}`, or set EDGEPIPE_COMPONENTIZE_JS to its path"
        ),
        "node" => "componentize-js runs on Node.js 20 or newer: install it (`apt-get install nodejs`, or from nodejs.org)".into(),
        _ => "install Rust with rustup (https://rustup.rs), then `rustup target add wasm32-wasip2`".into(),
    }
}

fn missing(tool: &'static str) -> BuildError {
    BuildError::ToolMissing {
        tool,
        install: install_hint(tool),
    }
}

fn need_entry(dir: &Path, entry: &'static str, lang: &'static str) -> Result<(), BuildError> {
    let p = dir.join(entry);
    if p.is_file() {
        Ok(())
    } else {
        Err(BuildError::NoEntry {
            path: p,
            lang,
            entry,
        })
    }
}

fn build_python(dir: &Path, m: &Manifest, out: &Path, scratch: &Path) -> Result<(), BuildError> {
    need_entry(dir, PYTHON_ENTRY, "Python")?;
    let tool = find_tool(
        "EDGEPIPE_COMPONENTIZE_PY",
        Some("vendor/componentize-py/bin/componentize-py"),
        "componentize-py",
    )
    .ok_or_else(|| missing("componentize-py"))?;
    let sdk = scratch.join("sdk");
    std::fs::create_dir_all(&sdk).map_err(io(sdk.display().to_string()))?;
    std::fs::write(sdk.join("edgepipe_sdk.py"), PYTHON_SDK)
        .map_err(io(sdk.display().to_string()))?;
    let world = format!("edgepipe:plugin/{}@{CONTRACT}", m.world.name());
    let mut cmd = Command::new(&tool);
    // No __pycache__ left in the plugin's folder.
    cmd.env("PYTHONDONTWRITEBYTECODE", "1")
        .arg("-q")
        .arg("-d")
        .arg(scratch.join("wit"))
        .args(["-w", &world, "componentize", "-p"])
        .arg(dir)
        .arg("-p")
        .arg(&sdk);
    let raw = scratch.join("componentize-py.wasm");
    cmd.args(["app", "-o"]).arg(&raw);
    run_tool("componentize-py", &mut cmd, dir)?;
    let mut bytes = std::fs::read(&raw).map_err(io(raw.display().to_string()))?;
    match tool_version(&tool).as_deref() {
        Some(v) if v == crate::commands::plugin_pyfix::PATCHED_VERSION => {
            let (fixed, _) = crate::commands::plugin_pyfix::free_returned_bytes(&bytes, &crate::commands::plugin_pyfix::BYTE_LIST_EXPORTS)
                .map_err(|e| BuildError::Patch { tool: "componentize-py", reason: e.to_string() })?;
            bytes = fixed;
        }
        v => tracing::warn!(
            version = v.unwrap_or("unknown"),
            "componentize-py is not {}: the fix for the bytes a Python stage returns (draw, save) is not applied; a draw stage may outgrow its memory cap",
            crate::commands::plugin_pyfix::PATCHED_VERSION
        ),
    }
    std::fs::write(out, bytes).map_err(io(out.display().to_string()))
}

/// `TOOL --version` -> "0.25.1" (from "componentize-py 0.25.1").
fn tool_version(tool: &Path) -> Option<String> {
    let out = Command::new(tool)
        .arg("--version")
        .env("RUST_BACKTRACE", "0")
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.split_whitespace().last().map(str::to_string)
}

fn build_js(dir: &Path, m: &Manifest, out: &Path, scratch: &Path) -> Result<(), BuildError> {
    need_entry(dir, JS_ENTRY, "JavaScript")?;
    let tool = find_tool(
        "EDGEPIPE_COMPONENTIZE_JS",
        Some("vendor/componentize-js/node_modules/.bin/componentize-js"),
        "componentize-js",
    )
    .ok_or_else(|| missing("componentize-js"))?;
    if on_path("node").is_none() {
        return Err(missing("node"));
    }
    // The plugin's own modules beside the SDK, so `./edgepipe-sdk.js` resolves.
    let src = scratch.join("src");
    std::fs::create_dir_all(&src).map_err(io(src.display().to_string()))?;
    for e in std::fs::read_dir(dir).map_err(io(dir.display().to_string()))? {
        let p = e.map_err(io(dir.display().to_string()))?.path();
        if p.is_file() && p.extension().is_some_and(|x| x == "js" || x == "mjs") {
            let to = src.join(p.file_name().unwrap_or_default());
            std::fs::copy(&p, &to).map_err(io(p.display().to_string()))?;
        }
    }
    std::fs::write(src.join("edgepipe-sdk.js"), JS_SDK).map_err(io(src.display().to_string()))?;
    let mut cmd = Command::new(tool);
    cmd.arg(src.join(JS_ENTRY))
        .arg("-w")
        .arg(scratch.join("wit"))
        .args(["-n", m.world.name(), "-d"]);
    cmd.args(JS_DISABLED_FEATURES).arg("-o").arg(out);
    run_tool("componentize-js", &mut cmd, dir)
}

fn build_rust(dir: &Path, m: &Manifest, out: &Path) -> Result<(), BuildError> {
    if !dir.join("Cargo.toml").is_file() {
        return Err(BuildError::NoEntry {
            path: dir.join("Cargo.toml"),
            lang: "Rust",
            entry: "Cargo.toml",
        });
    }
    // CARGO: set when edgepipe itself runs under cargo.
    let cargo = find_tool("CARGO", None, "cargo").ok_or_else(|| missing("cargo"))?;
    let target = dir.join("target");
    let mut cmd = Command::new(cargo);
    cmd.current_dir(dir)
        .args([
            "build",
            "--quiet",
            "--profile",
            "plugin",
            "--target",
            "wasm32-wasip2",
            "--target-dir",
        ])
        .arg(&target);
    run_tool("cargo", &mut cmd, dir)?;
    let built = target
        .join("wasm32-wasip2/plugin")
        .join(format!("{}.wasm", m.name.replace('-', "_")));
    std::fs::copy(&built, out).map_err(io(built.display().to_string()))?;
    Ok(())
}
