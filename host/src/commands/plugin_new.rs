//! `edgepipe plugin new NAME --lang rust|python|js --world stats|topics|draw|overlay`:
//! writes a plugin folder that `edgepipe plugin build` turns into a component
//! without network access (templates in `plugin_templates/`, embedded).

use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::commands::plugin_build::{Lang, World, MANIFEST};
use crate::error::{ExitKind, Failure};

const MANIFEST_TEMPLATE: &str = include_str!("plugin_templates/plugin.toml");
const GITIGNORE: &str = include_str!("plugin_templates/gitignore");
const RUST_CARGO: &str = include_str!("plugin_templates/rust-Cargo.toml");
const RUST_CARGO_CONFIG: &str = include_str!("plugin_templates/rust-cargo-config.toml");

/// The source template of a language and world: (file name, text).
fn source(lang: Lang, world: World) -> (&'static str, &'static str) {
    match lang {
        Lang::Python => ("app.py", python_template(world)),
        Lang::Js => ("app.js", js_template(world)),
        Lang::Rust => ("src/lib.rs", rust_template(world)),
    }
}

fn python_template(world: World) -> &'static str {
    match world {
        World::Stats => include_str!("plugin_templates/python-stats.py"),
        World::Topics => include_str!("plugin_templates/python-topics.py"),
        World::Draw => include_str!("plugin_templates/python-draw.py"),
        World::Overlay => include_str!("plugin_templates/python-overlay.py"),
    }
}

fn js_template(world: World) -> &'static str {
    match world {
        World::Stats => include_str!("plugin_templates/js-stats.js"),
        World::Topics => include_str!("plugin_templates/js-topics.js"),
        World::Draw => include_str!("plugin_templates/js-draw.js"),
        World::Overlay => include_str!("plugin_templates/js-overlay.js"),
    }
}

fn rust_template(world: World) -> &'static str {
    match world {
        World::Stats => include_str!("plugin_templates/rust-stats.rs"),
        World::Topics => include_str!("plugin_templates/rust-topics.rs"),
        World::Draw => include_str!("plugin_templates/rust-draw.rs"),
        World::Overlay => include_str!("plugin_templates/rust-overlay.rs"),
    }
}

#[derive(Debug, Error)]
pub enum NewError {
    #[error("plugin name {name:?}: {reason}")]
    BadName { name: String, reason: String },
    #[error("{0} already exists; choose another name or --dir")]
    Exists(PathBuf),
    /// Shown as "cannot write PATH: source" (the source is chained by `{:#}`).
    #[error("cannot write {path}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// A plugin name: lowercase letters, digits and `-`, starting with a letter.
pub fn check_name(name: &str) -> Result<(), String> {
    let ok_chars = name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if name.is_empty()
        || name.len() > 64
        || !ok_chars
        || !name.starts_with(|c: char| c.is_ascii_lowercase())
        || name.ends_with('-')
    {
        return Err("use 1-64 lowercase letters, digits and `-`, starting with a letter (e.g. `car-counter`)".into());
    }
    Ok(())
}

/// `car-counter` -> `CarCounter`.
fn class_name(name: &str) -> String {
    name.split('-')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let mut c = p.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

fn lang_name(lang: Lang) -> &'static str {
    match lang {
        Lang::Rust => "rust",
        Lang::Python => "python",
        Lang::Js => "js",
    }
}

/// Write the plugin `name` into `parent/name`; returns the folder.
pub fn scaffold(parent: &Path, name: &str, lang: Lang, world: World) -> Result<PathBuf, NewError> {
    check_name(name).map_err(|reason| NewError::BadName {
        name: name.into(),
        reason,
    })?;
    let dir = parent.join(name);
    if dir.exists() {
        return Err(NewError::Exists(dir));
    }
    let sdk = Path::new(crate::config::BUILD_ROOT).join("plugins/sdk");
    let sdk = std::fs::canonicalize(&sdk).unwrap_or(sdk);
    let fill = |t: &str| {
        t.replace("{{name}}", name)
            .replace("{{Class}}", &class_name(name))
            .replace("{{lang}}", lang_name(lang))
            .replace("{{world}}", world.name())
            .replace("{{sdk}}", &sdk.to_string_lossy())
    };
    let (file, text) = source(lang, world);
    let mut files = vec![
        (MANIFEST, fill(MANIFEST_TEMPLATE)),
        (".gitignore", GITIGNORE.to_string()),
        (file, fill(text)),
    ];
    if lang == Lang::Rust {
        files.push(("Cargo.toml", fill(RUST_CARGO)));
        files.push((".cargo/config.toml", RUST_CARGO_CONFIG.to_string()));
    }
    for (rel, text) in files {
        let path = dir.join(rel);
        let write = |p: &Path| -> std::io::Result<()> {
            if let Some(d) = p.parent() {
                std::fs::create_dir_all(d)?;
            }
            std::fs::write(p, &text)
        };
        write(&path).map_err(|source| NewError::Write { path, source })?;
    }
    Ok(dir)
}

/// `edgepipe plugin new`: scaffold, then say on stderr what to do next.
pub fn run(a: &crate::commands::cli::PluginNewArgs) -> Result<(), Failure> {
    let lang = Lang::parse(&a.lang).ok_or_else(|| {
        Failure::msg(
            ExitKind::Config,
            format!("--lang {}: not rust, python or js", a.lang),
        )
    })?;
    let world = World::parse(&a.world).ok_or_else(|| {
        Failure::msg(
            ExitKind::Config,
            format!("--world {}: not stats, topics, draw or overlay", a.world),
        )
    })?;
    let dir = scaffold(&a.dir, &a.name, lang, world).map_err(|e| {
        let kind = if matches!(e, NewError::Write { .. }) {
            ExitKind::Output
        } else {
            ExitKind::Config
        };
        Failure::new(kind, e)
    })?;
    let d = dir.display();
    eprintln!(
        "edgepipe: plugin new: made {d} ({} {} stage, kind = \"{}\" in a pipeline); next:",
        lang_name(lang),
        world.name(),
        world.kind().world()
    );
    eprintln!(
        "  edgepipe plugin build {d} && edgepipe plugin check {d}/{}.wasm",
        a.name
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(check_name("car-counter").is_ok());
        assert!(check_name("a1").is_ok());
        for bad in ["", "Car", "1car", "car_counter", "car-", "../x", "a b"] {
            assert!(check_name(bad).is_err(), "{bad:?} accepted");
        }
        assert_eq!(class_name("car-counter"), "CarCounter");
        assert_eq!(class_name("x"), "X");
    }

    #[test]
    fn every_language_and_world_fills_every_placeholder() {
        let tmp =
            std::env::temp_dir().join(format!("edgepipe-plugin-new-unit-{}", std::process::id()));
        for lang in [Lang::Rust, Lang::Python, Lang::Js] {
            for world in World::ALL {
                let name = format!("t-{}-{}", lang_name(lang), world.name());
                let dir = scaffold(&tmp, &name, lang, world).unwrap();
                let (file, _) = source(lang, world);
                for f in [MANIFEST, file] {
                    let text = std::fs::read_to_string(dir.join(f)).unwrap();
                    assert!(
                        !text.contains("{{name}}") && !text.contains("{{Class}}"),
                        "{f} of {name}"
                    );
                }
                let m = crate::commands::plugin_build::read_manifest(&dir).unwrap();
                assert_eq!(
                    (m.name.as_str(), m.lang, m.world),
                    (name.as_str(), lang, world)
                );
                assert!(matches!(
                    scaffold(&tmp, &name, lang, world),
                    Err(NewError::Exists(_))
                ));
            }
        }
        let _ = std::fs::remove_dir_all(&tmp);
    }
}
