//! The `metadata_props` of an ONNX file read straight from its protobuf,
//! without ONNX Runtime: what must be known before a session is opened
//! (`edgepipe.providers`: the execution providers a model runs on).

/// Read a protobuf varint at `*at`, moving past it.
fn varint(b: &[u8], at: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *b.get(*at)?;
        *at += 1;
        v |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

/// The top-level fields of a message: (field number, wire type, payload
/// of length-delimited fields); `None` when it is not well formed.
fn fields(b: &[u8]) -> Option<Vec<(u64, u64, &[u8])>> {
    let mut at = 0;
    let mut out = Vec::new();
    while at < b.len() {
        let tag = varint(b, &mut at)?;
        let (field, wire) = (tag >> 3, tag & 7);
        let payload: &[u8] = match wire {
            0 => {
                varint(b, &mut at)?;
                &[]
            }
            1 => {
                at = at.checked_add(8).filter(|&e| e <= b.len())?;
                &[]
            }
            2 => {
                let len = usize::try_from(varint(b, &mut at)?).ok()?;
                let end = at.checked_add(len).filter(|&e| e <= b.len())?;
                let p = &b[at..end];
                at = end;
                p
            }
            5 => {
                at = at.checked_add(4).filter(|&e| e <= b.len())?;
                &[]
            }
            _ => return None,
        };
        out.push((field, wire, payload));
    }
    Some(out)
}

/// The (key, value) pairs of a serialised ModelProto's `metadata_props`
/// (field 14); empty when the bytes are not a well-formed model.
pub fn metadata_props(model: &[u8]) -> Vec<(String, String)> {
    let Some(top) = fields(model) else {
        return Vec::new();
    };
    top.into_iter()
        .filter(|(f, w, _)| *f == 14 && *w == 2)
        .filter_map(|(_, _, entry)| {
            let mut key = None;
            let mut value = None;
            for (f, w, p) in fields(entry)? {
                let text = (w == 2).then(|| String::from_utf8_lossy(p).into_owned());
                match f {
                    1 => key = text,
                    2 => value = text,
                    _ => {}
                }
            }
            Some((key?, value.unwrap_or_default()))
        })
        .collect()
}

/// The providers `edgepipe.providers` names (comma-separated), if it is set.
pub fn providers(model: &[u8]) -> Option<Vec<String>> {
    metadata_props(model)
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
    fn bad_bytes_give_no_metadata_and_no_panic() {
        assert!(metadata_props(b"this is not an onnx model").is_empty());
        assert!(metadata_props(&[0x72, 0xff, 0xff, 0xff, 0xff, 0x0f]).is_empty());
        assert!(metadata_props(&[0x80]).is_empty());
        assert_eq!(providers(&[]), None);
    }
}
