//! Stage state kept on disk across restarts: what each stage's `save`
//! returns is written every few seconds and at the end of a run, one file per
//! stage under `<dir>/<pipeline>/<camera>/` (a tenant's below it, in
//! `tenants/<id>/`), atomically (temporary file, fsync, rename), and handed
//! to the stage of the same name at the next start when it was saved for the
//! same source (see [`source`]).

pub mod source;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use thiserror::Error;

/// How often state is written while running, unless set.
pub const DEFAULT_EVERY: Duration = Duration::from_secs(5);
/// Longest checkpoint interval a pipeline file may ask for (a day).
pub const MAX_EVERY_SECS: u64 = 86_400;

#[derive(Debug, Error)]
pub enum StateError {
    #[error("state folder {path}: {source}")]
    Folder {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("state file {path}: {source}")]
    File {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// `[state]` of the pipeline file.
#[derive(Debug, Default, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateConfig {
    /// Keep stage state across restarts (default true).
    pub enabled: Option<bool>,
    /// Parent folder; a camera's state goes to `<dir>/<pipeline name>/<camera>/`.
    pub dir: Option<PathBuf>,
    /// Seconds between checkpoints while running (0: only at the end).
    pub every_secs: Option<u64>,
}

/// Resolved state settings of one camera's chain.
#[derive(Debug, Clone, PartialEq)]
pub struct StateSettings {
    /// This chain's own folder (`<dir>/<pipeline>/<camera>`).
    pub dir: PathBuf,
    /// `None`: only at the end of the run.
    pub every: Option<Duration>,
    /// Start empty (`--fresh-state`): nothing is restored, the next
    /// checkpoint overwrites what was there.
    pub fresh: bool,
    /// A file input continues from its saved frame (`--resume`); without
    /// it a file starts fresh.
    pub resume: bool,
    /// The source watched: state saved for another one is not restored.
    pub source: source::SourceId,
}

/// The command line's say in what is restored.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct RestoreFlags {
    /// `--fresh-state`.
    pub fresh: bool,
    /// `--resume`.
    pub resume: bool,
}

/// Where a camera's state goes: its name and what it watches.
pub struct CameraState<'a> {
    pub pipeline: &'a str,
    pub camera: &'a str,
    pub source: source::SourceId,
}

impl StateSettings {
    /// `None` when state is turned off. `dir_flag` (`--state-dir`) wins over the file.
    pub fn resolve(
        f: &StateConfig,
        dir_flag: Option<&Path>,
        flags: RestoreFlags,
        camera: CameraState<'_>,
    ) -> Result<Option<StateSettings>, String> {
        if !f.enabled.unwrap_or(true) && dir_flag.is_none() {
            return Ok(None);
        }
        let every_secs = f.every_secs.unwrap_or(DEFAULT_EVERY.as_secs());
        if every_secs > MAX_EVERY_SECS {
            return Err(format!(
                "every_secs {every_secs} is more than {MAX_EVERY_SECS}"
            ));
        }
        let parent = match dir_flag.map(Path::to_path_buf).or_else(|| f.dir.clone()) {
            Some(d) => d,
            None => default_parent().ok_or("no home folder to keep state in: set [state] dir")?,
        };
        Ok(Some(StateSettings {
            dir: parent.join(camera.pipeline).join(camera.camera),
            every: (every_secs > 0).then(|| Duration::from_secs(every_secs)),
            fresh: flags.fresh,
            resume: flags.resume,
            source: camera.source,
        }))
    }
}

/// `$XDG_STATE_HOME/edgepipe`, else `~/.local/state/edgepipe`.
pub fn default_parent() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_STATE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .map(|h| PathBuf::from(h).join(".local/state"))
        })?;
    Some(base.join("edgepipe"))
}

/// The folder of one chain's stage states.
#[derive(Debug, Clone)]
pub struct StateStore {
    dir: PathBuf,
}

impl StateStore {
    /// Create the folder (0700) if needed.
    pub fn open(dir: &Path) -> Result<StateStore, StateError> {
        let err = |source| StateError::Folder {
            path: dir.to_path_buf(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(err)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(err)?;
        }
        Ok(StateStore {
            dir: dir.to_path_buf(),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file of stage `name`: the name itself where it is a plain file
    /// name, else a hash of it (names come from configuration).
    pub fn path_of(&self, name: &str) -> PathBuf {
        let plain = !name.is_empty()
            && name.len() <= 64
            && !name.starts_with('.')
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        let file = if plain {
            format!("{name}.state")
        } else {
            use sha2::Digest;
            let h = sha2::Sha256::digest(name.as_bytes());
            let hex: String = h.iter().take(8).map(|b| format!("{b:02x}")).collect();
            format!("stage-{hex}.state")
        };
        self.dir.join(file)
    }

    /// The saved state of stage `name`, if any.
    pub fn load(&self, name: &str) -> Result<Option<Vec<u8>>, StateError> {
        let path = self.path_of(name);
        match std::fs::read(&path) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(StateError::File { path, source }),
        }
    }

    /// Replace the saved state of stage `name`; a crash at any point leaves
    /// either the old file or the new one, never a part of one.
    pub fn save(&self, name: &str, state: &[u8]) -> Result<(), StateError> {
        let path = self.path_of(name);
        let tmp = path.with_extension(format!("state.tmp{}", std::process::id()));
        let err = |source| StateError::File {
            path: path.clone(),
            source,
        };
        let write = || -> std::io::Result<()> {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(state)?;
            f.sync_all()?;
            std::fs::rename(&tmp, &path)
        };
        write().map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            err(e)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(tag: &str) -> PathBuf {
        std::env::temp_dir().join(format!("edgepipe-state-{tag}-{}", std::process::id()))
    }

    #[test]
    fn saved_state_reads_back_and_is_replaced_whole() {
        let dir = temp("rw");
        let s = StateStore::open(&dir).unwrap();
        assert_eq!(s.load("people-counter").unwrap(), None);
        s.save("people-counter", b"one").unwrap();
        s.save("people-counter", b"two!").unwrap();
        assert_eq!(
            s.load("people-counter").unwrap().as_deref(),
            Some(&b"two!"[..])
        );
        let names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(
            names,
            ["people-counter.state"],
            "no temporary file left behind"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn odd_stage_names_never_leave_the_folder() {
        let s = StateStore {
            dir: PathBuf::from("/st"),
        };
        assert_eq!(s.path_of("counter"), PathBuf::from("/st/counter.state"));
        for evil in ["../x", "a/b", "", ".hidden", "x\0y"] {
            let p = s.path_of(evil);
            assert_eq!(
                p.parent(),
                Some(Path::new("/st")),
                "{evil:?} -> {}",
                p.display()
            );
            assert!(p
                .file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("stage-"));
        }
    }

    fn door() -> CameraState<'static> {
        CameraState {
            pipeline: "shop",
            camera: "door",
            source: source::SourceId::live("rtsp://door"),
        }
    }

    #[test]
    fn settings_resolve() {
        let f = StateConfig::default();
        let no = RestoreFlags::default();
        let s = StateSettings::resolve(&f, Some(Path::new("/tmp/st")), no, door())
            .unwrap()
            .unwrap();
        assert_eq!(s.dir, PathBuf::from("/tmp/st/shop/door"));
        assert_eq!(s.source, source::SourceId::live("rtsp://door"));
        assert_eq!(s.every, Some(DEFAULT_EVERY));
        let off = StateConfig {
            enabled: Some(false),
            ..Default::default()
        };
        assert_eq!(
            StateSettings::resolve(&off, None, no, door()).unwrap(),
            None
        );
        let huge = StateConfig {
            every_secs: Some(u64::MAX),
            ..Default::default()
        };
        assert!(StateSettings::resolve(&huge, None, no, door()).is_err());
        let end_only = StateConfig {
            every_secs: Some(0),
            dir: Some("/x".into()),
            ..Default::default()
        };
        let fresh = RestoreFlags {
            fresh: true,
            resume: false,
        };
        let s = StateSettings::resolve(&end_only, None, fresh, door())
            .unwrap()
            .unwrap();
        assert_eq!((s.every, s.fresh), (None, true));
    }
}
