//! `edgepipe tenants check DIR`: every tenant file and its plugins checked
//! offline (parse, limits against the pipeline's maxima, prefixes that do
//! not overlap, cameras the pipeline has, each stage compiled, instantiated
//! and configured), for the tenants' own CI. One line per tenant on stdout;
//! exit 0 when all pass.

use std::io::Write;
use std::path::Path;

use super::{file, Maxima};
use crate::plugin::{PluginHost, StageSet};

/// What the tenants are checked against: the pipeline's plugins, maxima and cameras.
pub struct Pipeline<'a> {
    pub plugin_dir: &'a Path,
    pub default_qos: u8,
    pub max: &'a Maxima,
    /// Its cameras' names (a tenant's `cameras` must be among them).
    pub cameras: &'a [String],
}

/// Check every tenant in `dir`; `Ok(true)` when all pass.
pub fn run(dir: &Path, host: &PluginHost, pipeline: &Pipeline) -> Result<bool, String> {
    let (ids, odd) =
        file::list(dir).map_err(|e| format!("tenants folder {}: {e}", dir.display()))?;
    let mut out = std::io::stdout().lock();
    let mut ok = odd.is_empty();
    for p in &odd {
        let _ = writeln!(
            out,
            "{}: not a tenant file name: use <id>.toml with an id of [a-z0-9][a-z0-9-]{{0,31}}",
            p.display()
        );
    }
    let mut prefixes: Vec<(String, String)> = Vec::new();
    for (id, path) in &ids {
        let line = match check_one(path, host, pipeline) {
            Ok((prefix, stages)) => match prefixes.iter().find(|(_, p)| file::overlaps(p, &prefix))
            {
                Some((other, p)) => Err(format!(
                    "topic prefix {prefix:?} overlaps tenant {other}'s {p:?}"
                )),
                None => {
                    prefixes.push((id.clone(), prefix.clone()));
                    Ok(format!(
                        "ok {id}: {stages} stage(s), topics under {prefix}/"
                    ))
                }
            },
            Err(e) => Err(e),
        };
        match line {
            Ok(l) => {
                let _ = writeln!(out, "{l}");
            }
            Err(e) => {
                ok = false;
                let _ = writeln!(out, "{}: {e}", path.display());
            }
        }
    }
    if ids.is_empty() && odd.is_empty() {
        let _ = writeln!(out, "{}: no tenant files (<id>.toml)", dir.display());
    }
    Ok(ok)
}

fn check_one(path: &Path, host: &PluginHost, p: &Pipeline) -> Result<(String, usize), String> {
    let spec = file::load(path, p.plugin_dir, p.default_qos, p.max).map_err(|e| e.to_string())?;
    spec.cameras_of(p.cameras)?;
    let set =
        StageSet::load_limited(host, &spec.stages, spec.stage_limits).map_err(|e| e.to_string())?;
    Ok((spec.prefix, set.stages().len()))
}
