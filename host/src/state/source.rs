//! Which source a stage's state was saved for, and where in it: a header in
//! front of the stage's own bytes, so that state is never handed to a stage
//! watching another source, and `--resume` knows the frame to continue at.

use std::path::Path;

use thiserror::Error;

/// First line of every state file this version writes.
const MAGIC: &[u8] = b"edgepipe-state 1\n";
/// A header longer than this is not one (a source key is a path or a URL).
const MAX_HEADER: usize = 8 * 1024;

#[derive(Debug, Error, PartialEq)]
pub enum HeaderError {
    #[error("not an edgepipe state file (no `edgepipe-state 1` header)")]
    NoHeader,
    #[error("state file header unreadable: {0}")]
    Bad(String),
}

/// What a camera watches, as far as its state is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceId {
    /// `file:<absolute path>:<bytes>:<modified>` or `live:<input>`.
    pub key: String,
    /// A live source resumes its state by default; a file only with `--resume`.
    pub live: bool,
}

impl SourceId {
    /// A camera, stream URL or other source that never ends.
    pub fn live(input: &str) -> SourceId {
        SourceId {
            key: format!("live:{input}"),
            live: true,
        }
    }

    /// A file: its absolute path, size and modification time, so that a
    /// file replaced under the same name counts as another source.
    pub fn file(path: &Path) -> SourceId {
        let abs = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        let (len, modified) = std::fs::metadata(&abs)
            .map(|m| {
                let secs = m
                    .modified()
                    .ok()
                    .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                    .map_or(0, |d| d.as_secs());
                (m.len(), secs)
            })
            .unwrap_or((0, 0));
        SourceId {
            key: format!("file:{}:{len}:{modified}", abs.display()),
            live: false,
        }
    }
}

/// What a state file says about itself.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Header {
    /// [`SourceId::key`] of the source the state was saved for.
    pub source: String,
    /// The frame after the last one the state includes.
    pub next_frame: u64,
}

/// The file's bytes: the magic line, the header as one JSON line, the state.
pub fn encode(header: &Header, state: &[u8]) -> Vec<u8> {
    let json = serde_json::to_string(header).unwrap_or_default();
    let mut out = Vec::with_capacity(MAGIC.len() + json.len() + 1 + state.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(json.as_bytes());
    out.push(b'\n');
    out.extend_from_slice(state);
    out
}

/// The header and the stage's bytes of a state file.
pub fn decode(bytes: &[u8]) -> Result<(Header, &[u8]), HeaderError> {
    let rest = bytes.strip_prefix(MAGIC).ok_or(HeaderError::NoHeader)?;
    let end = rest
        .iter()
        .take(MAX_HEADER)
        .position(|&b| b == b'\n')
        .ok_or_else(|| HeaderError::Bad("no end of header line".into()))?;
    let header: Header =
        serde_json::from_slice(&rest[..end]).map_err(|e| HeaderError::Bad(e.to_string()))?;
    Ok((header, &rest[end + 1..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_state_reads_back_with_its_source_and_frame() {
        let h = Header {
            source: "file:/x/clip.avi:10:20".into(),
            next_frame: 120,
        };
        let bytes = encode(&h, b"\x00\xffstate\n bytes");
        let (back, state) = decode(&bytes).unwrap();
        assert_eq!(back, h);
        assert_eq!(state, b"\x00\xffstate\n bytes");
    }

    #[test]
    fn files_without_a_header_are_refused() {
        assert_eq!(decode(b"{\"version\":2}"), Err(HeaderError::NoHeader));
        assert!(matches!(
            decode(b"edgepipe-state 1\nnot json\n"),
            Err(HeaderError::Bad(_))
        ));
        assert!(matches!(
            decode(b"edgepipe-state 1\n{\"source\":\"a\""),
            Err(HeaderError::Bad(_))
        ));
    }

    #[test]
    fn two_files_are_two_sources_and_a_live_input_is_live() {
        let dir = std::env::temp_dir().join(format!("edgepipe-srcid-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (a, b) = (dir.join("a.avi"), dir.join("b.avi"));
        std::fs::write(&a, b"one").unwrap();
        std::fs::write(&b, b"one").unwrap();
        let (ia, ib) = (SourceId::file(&a), SourceId::file(&b));
        assert_ne!(ia, ib);
        assert_eq!(ia, SourceId::file(&dir.join(".").join("a.avi")));
        assert!(!ia.live);
        std::fs::write(&a, b"longer now").unwrap();
        assert_ne!(SourceId::file(&a), ia, "a file replaced is another source");
        let cam = SourceId::live("rtsp://door/stream");
        assert!(cam.live);
        assert_eq!(cam.key, "live:rtsp://door/stream");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
