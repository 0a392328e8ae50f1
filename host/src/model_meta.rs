//! The `metadata_props` of an ONNX file read straight from its protobuf,
//! without ONNX Runtime: what must be known before a session is opened
//! (`edgepipe.providers`: the execution providers a model runs on). A file
//! is read field by field, seeking past the graph and everything else that
//! is not metadata: a few kilobytes of a model of megabytes, which ONNX
//! Runtime then reads whole (issue 22, start-up).

use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::Path;

/// A protobuf varint read from `r`; `None` at the end or when malformed.
fn read_varint(r: &mut impl Read) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let mut byte = [0u8];
        r.read_exact(&mut byte).ok()?;
        v |= u64::from(byte[0] & 0x7f) << shift;
        if byte[0] & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

/// Skip `n` bytes of `r`, failing past its end (`len`: the stream's length).
fn skip(r: &mut (impl Read + Seek), n: u64, len: u64) -> Option<()> {
    let at = r.stream_position().ok()?;
    let to = at.checked_add(n).filter(|&e| e <= len)?;
    r.seek(SeekFrom::Start(to)).ok().map(|_| ())
}

/// The longest `metadata_props` entry read (a key and a value of text).
const MAX_ENTRY: u64 = 16 << 20;

/// The (key, value) pairs of a serialised ModelProto's `metadata_props`
/// (field 14) in `r`, reading only those entries; what was read up to a
/// malformed field.
fn metadata_props_in(mut r: impl Read + Seek) -> Vec<(String, String)> {
    let mut props = Vec::new();
    let Some(len) = r.seek(SeekFrom::End(0)).ok() else {
        return props;
    };
    if r.seek(SeekFrom::Start(0)).is_err() {
        return props;
    }
    while let Some(tag) = read_varint(&mut r) {
        let (field, wire) = (tag >> 3, tag & 7);
        let ok = match wire {
            0 => read_varint(&mut r).map(|_| ()),
            1 => skip(&mut r, 8, len),
            5 => skip(&mut r, 4, len),
            2 => match read_varint(&mut r) {
                Some(n) if field == 14 && n <= MAX_ENTRY => {
                    let mut entry = vec![0u8; n as usize];
                    r.read_exact(&mut entry).ok().map(|_| {
                        props.extend(entry_pair(&entry));
                    })
                }
                Some(n) => skip(&mut r, n, len),
                None => None,
            },
            _ => None,
        };
        if ok.is_none() {
            return Vec::new();
        }
    }
    props
}

/// One `StringStringEntryProto`: its key and value.
fn entry_pair(entry: &[u8]) -> Option<(String, String)> {
    let mut key = None;
    let mut value = None;
    for f in crate::onnx_proto::fields_at(entry)? {
        let text = (f.wire == crate::onnx_proto::LEN)
            .then(|| String::from_utf8_lossy(f.payload).into_owned());
        match f.number {
            1 => key = text,
            2 => value = text,
            _ => {}
        }
    }
    Some((key?, value.unwrap_or_default()))
}

/// The (key, value) pairs of a serialised ModelProto's `metadata_props`
/// (field 14); empty when the bytes are not a well-formed model.
pub fn metadata_props(model: &[u8]) -> Vec<(String, String)> {
    metadata_props_in(std::io::Cursor::new(model))
}

/// The providers `edgepipe.providers` names (comma-separated), if it is set.
pub fn providers(model: &[u8]) -> Option<Vec<String>> {
    providers_in(metadata_props(model))
}

/// [`providers`] of the model file at `path`, read field by field (`None`
/// too when the file cannot be read).
pub fn providers_of_file(path: &Path) -> Option<Vec<String>> {
    let file = std::fs::File::open(path).ok()?;
    providers_in(metadata_props_in(BufReader::new(file)))
}

fn providers_in(props: Vec<(String, String)>) -> Option<Vec<String>> {
    props
        .into_iter()
        .find(|(k, _)| k == "edgepipe.providers")
        .map(|(_, v)| v.split(',').map(|s| s.trim().to_string()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(n: u64, payload: &[u8], out: &mut Vec<u8>) {
        out.push(((n << 3) | 2) as u8);
        out.push(payload.len() as u8);
        out.extend_from_slice(payload);
    }

    fn entry(k: &str, v: &str) -> Vec<u8> {
        let mut e = Vec::new();
        field(1, k.as_bytes(), &mut e);
        field(2, v.as_bytes(), &mut e);
        e
    }

    #[test]
    fn reads_metadata_props_among_other_fields() {
        let mut m = vec![0x08, 0x08]; // ir_version 8
        field(7, b"a graph", &mut m);
        field(14, &entry("names", "{0: 'person'}"), &mut m);
        m.extend_from_slice(&[0x29, 1, 2, 3, 4, 5, 6, 7, 8]); // a fixed64 field 5
        field(14, &entry("edgepipe.providers", "cpu, openvino"), &mut m);
        assert_eq!(
            metadata_props(&m),
            vec![
                ("names".to_string(), "{0: 'person'}".to_string()),
                (
                    "edgepipe.providers".to_string(),
                    "cpu, openvino".to_string()
                )
            ]
        );
        assert_eq!(providers(&m), Some(vec!["cpu".into(), "openvino".into()]));
    }

    #[test]
    fn a_file_is_read_past_its_graph_to_its_metadata() {
        let mut m = vec![0x08, 0x08];
        // A graph of 300 000 bytes (a three-byte length) before the metadata.
        m.extend_from_slice(&[(7 << 3) | 2, 0xe0, 0xa7, 0x12]);
        m.extend(std::iter::repeat_n(0x55u8, 300_000));
        field(14, &entry("edgepipe.providers", "cpu"), &mut m);
        let dir = std::env::temp_dir().join(format!("edgepipe-meta-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("m.onnx");
        std::fs::write(&path, &m).unwrap();
        assert_eq!(providers_of_file(&path), Some(vec!["cpu".to_string()]));
        assert_eq!(providers(&m), Some(vec!["cpu".to_string()]));
        // The graph's length runs past the end of the file: no metadata.
        std::fs::write(&path, &m[..1000]).unwrap();
        assert_eq!(providers_of_file(&path), None);
        assert_eq!(providers_of_file(&dir.join("missing.onnx")), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn bad_bytes_give_no_metadata_and_no_panic() {
        assert!(metadata_props(b"this is not an onnx model").is_empty());
        assert!(metadata_props(&[0x72, 0xff, 0xff, 0xff, 0xff, 0x0f]).is_empty());
        assert!(metadata_props(&[0x80]).is_empty());
        assert_eq!(providers(&[]), None);
    }
}
