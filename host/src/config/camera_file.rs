//! A file of the cameras folder (`<dir>/<name>.toml`): the keys of a
//! `[[cameras]]` entry, its name from the file's name, its paths relative
//! to the file's folder; completed with the pipeline's defaults.

use std::path::{Path, PathBuf};

use super::cameras::{check, spec_of, CameraConfig, StageDefaults};
use super::file::{home, parse_error, read_text};
use super::{CameraDefaults, CameraSettings, ConfigError};

impl CameraDefaults {
    /// The camera of the file `path`, named `name` (its file's name).
    pub fn from_file(&self, path: &Path, name: &str) -> Result<CameraSettings, ConfigError> {
        let bad = |reason: String| ConfigError::Parse {
            path: path.to_path_buf(),
            reason,
        };
        let text = read_text(path)?;
        let mut table: toml::Table = toml::from_str(&text).map_err(|e| parse_error(path, &e))?;
        match table.get("name") {
            None => {
                table.insert("name".into(), toml::Value::String(name.to_string()));
            }
            Some(toml::Value::String(n)) if n == name => {}
            Some(other) => {
                return Err(bad(format!(
                    "name = {other} differs from the file's name {name:?} (leave it out)"
                )))
            }
        }
        let mut config: CameraConfig = toml::Value::Table(table)
            .try_into()
            .map_err(|e| parse_error(path, &e))?;
        let dir = path
            .parent()
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
        config.rebase(&dir, home().as_deref()).map_err(bad)?;
        let spec = spec_of(
            &config,
            &StageDefaults {
                plugin_dir: &self.plugin_dir,
                default_qos: self.default_qos,
            },
        )?;
        check(&spec)?;
        Ok(self.camera(&spec))
    }
}

#[cfg(test)]
mod tests {
    use crate::config::{resolve, FileConfig, Overrides};
    use std::path::Path;

    #[test]
    fn a_camera_file_is_named_by_its_file_and_rebased_on_its_folder() {
        let dir = std::env::temp_dir().join(format!("edgepipe-camera-file-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = FileConfig::parse("[cameras]\ndir = \"cams\"\n", Path::new("p.toml")).unwrap();
        let s = resolve(Some(f), &Overrides::default()).unwrap();
        let d = &s.camera_defaults;
        let door = dir.join("door.toml");
        std::fs::write(&door, "input = \"door.avi\"\ndetect_fps = 2.0\n").unwrap();
        let c = d.from_file(&door, "door").unwrap();
        assert_eq!(c.name, "door");
        assert_eq!(Path::new(&c.input), dir.join("door.avi"));
        assert_eq!(c.detect_fps, Some(2.0));
        assert_eq!(
            c.topic_prefix.as_deref(),
            Some("door"),
            "a folder's cameras are named in their topics"
        );
        assert_eq!(c.host_topics, "edgepipe/default/cameras/door");
        std::fs::write(&door, "name = \"till\"\ninput = \"a.avi\"\n").unwrap();
        let e = d.from_file(&door, "door").unwrap_err().to_string();
        assert!(e.contains("differs from the file's name"), "{e}");
        std::fs::write(&door, "input = \"a.avi\"\ninptu = 1\n").unwrap();
        let e = d.from_file(&door, "door").unwrap_err().to_string();
        assert!(e.contains("inptu") && !e.contains('\n'), "{e}");
        std::fs::write(&door, "input = \"a.avi\"\ndetect_fps = 0.0\n").unwrap();
        assert!(d.from_file(&door, "door").is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
