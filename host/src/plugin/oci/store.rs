//! The content-addressed store of pulled components: `blobs/<digest>.wasm`
//! named by manifest digest (written once, atomically), and `refs/` with the
//! last digest of each reference that passed verification and compiled, so
//! a box whose registry is away at start runs what it ran before.

use std::path::{Path, PathBuf};

use super::OciError;
use crate::plugin::cache::content_hash;

#[derive(Debug, Clone)]
pub struct Store {
    dir: PathBuf,
}

fn hex_of(digest: &str) -> Option<&str> {
    let hex = digest.strip_prefix("sha256:")?;
    (hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit())).then_some(hex)
}

impl Store {
    pub fn new(dir: PathBuf) -> Store {
        Store { dir }
    }

    /// `<cache_dir>/oci`, or the default cache's when the component cache is off.
    pub fn for_cache(cache_dir: Option<&Path>) -> Store {
        let base = cache_dir
            .map(Path::to_path_buf)
            .or_else(crate::plugin::cache::default_dir)
            .unwrap_or_else(|| std::env::temp_dir().join("edgepipe-components"));
        Store::new(base.join("oci"))
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn err(&self, path: &Path, e: impl std::fmt::Display) -> OciError {
        OciError::Store {
            path: path.to_path_buf(),
            reason: e.to_string(),
        }
    }

    /// Where the component of manifest `digest` lives.
    pub fn blob_path(&self, digest: &str) -> Result<PathBuf, OciError> {
        let hex = hex_of(digest)
            .ok_or_else(|| self.err(&self.dir, format!("{digest:?} is not a sha256 digest")))?;
        Ok(self.dir.join("blobs").join(format!("{hex}.wasm")))
    }

    /// Keep `bytes` (the component of manifest `digest`); returns its path.
    pub fn put(&self, digest: &str, bytes: &[u8]) -> Result<PathBuf, OciError> {
        let path = self.blob_path(digest)?;
        if std::fs::read(&path).is_ok_and(|b| b == bytes) {
            return Ok(path);
        }
        write_atomic(&path, bytes).map_err(|e| self.err(&path, e))?;
        Ok(path)
    }

    fn ref_path(&self, reference: &str) -> PathBuf {
        self.dir
            .join("refs")
            .join(content_hash(reference.as_bytes()))
    }

    /// Remember that `reference` last resolved to `digest`, verified.
    pub fn remember(&self, reference: &str, digest: &str) -> Result<(), OciError> {
        let path = self.ref_path(reference);
        write_atomic(&path, format!("{digest}\n{reference}\n").as_bytes())
            .map_err(|e| self.err(&path, e))
    }

    /// The last verified digest of `reference` whose component is still here.
    pub fn last_verified(&self, reference: &str) -> Option<(String, PathBuf)> {
        let text = std::fs::read_to_string(self.ref_path(reference)).ok()?;
        let mut lines = text.lines();
        let digest = lines.next()?.to_string();
        (lines.next()? == reference).then_some(())?;
        let path = self.blob_path(&digest).ok()?;
        path.is_file().then_some((digest, path))
    }
}

fn write_atomic(path: &Path, data: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".tmp-{}-{name}", std::process::id()));
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(data)?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_the_last_verified_digest_per_reference() {
        let dir = std::env::temp_dir().join(format!("edgepipe-oci-store-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let s = Store::new(dir.clone());
        let d = format!("sha256:{}", "a".repeat(64));
        assert!(s.last_verified("r:1").is_none());
        let p = s.put(&d, b"\0asm").unwrap();
        s.remember("r:1", &d).unwrap();
        assert_eq!(s.last_verified("r:1"), Some((d.clone(), p.clone())));
        assert!(s.last_verified("r:2").is_none());
        // The component gone: nothing to fall back on.
        std::fs::remove_file(&p).unwrap();
        assert!(s.last_verified("r:1").is_none());
        assert!(s.put("sha256:../../x", b"").is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
