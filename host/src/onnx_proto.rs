//! The few protobuf pieces edgepipe reads and writes in ONNX files by hand
//! (no generated code: a model's graph is walked field by field, its bulk
//! never copied): varints, a message's top-level fields with their place,
//! and the writers of the fields a small message needs.

/// Protobuf wire type of length-delimited fields.
pub const LEN: u64 = 2;
/// Protobuf wire type of varints.
pub const VARINT: u64 = 0;

/// Read a protobuf varint at `*at`, moving past it.
pub fn varint(b: &[u8], at: &mut usize) -> Option<u64> {
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

/// One top-level field of a message.
#[derive(Debug, Clone, Copy)]
pub struct Field<'a> {
    pub number: u64,
    pub wire: u64,
    /// Where its tag starts in the message.
    pub tag_at: usize,
    /// The payload of a length-delimited field (empty for others).
    pub payload: &'a [u8],
    /// The value of a varint field (0 for others).
    pub value: u64,
}

/// The top-level fields of a message, in order; `None` when it is not
/// well formed.
pub fn fields_at(b: &[u8]) -> Option<Vec<Field<'_>>> {
    let mut at = 0;
    let mut out = Vec::new();
    while at < b.len() {
        let tag_at = at;
        let tag = varint(b, &mut at)?;
        let (number, wire) = (tag >> 3, tag & 7);
        let mut field = Field {
            number,
            wire,
            tag_at,
            payload: &[],
            value: 0,
        };
        match wire {
            VARINT => field.value = varint(b, &mut at)?,
            1 => at = at.checked_add(8).filter(|&e| e <= b.len())?,
            LEN => {
                let len = usize::try_from(varint(b, &mut at)?).ok()?;
                let end = at.checked_add(len).filter(|&e| e <= b.len())?;
                field.payload = &b[at..end];
                at = end;
            }
            5 => at = at.checked_add(4).filter(|&e| e <= b.len())?,
            _ => return None,
        }
        out.push(field);
    }
    Some(out)
}

/// The first length-delimited field `number` of a message.
pub fn first_bytes(b: &[u8], number: u64) -> Option<&[u8]> {
    fields_at(b)?
        .into_iter()
        .find(|f| f.number == number && f.wire == LEN)
        .map(|f| f.payload)
}

/// Append `v` as a varint.
pub fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Append varint field `number` = `v`.
pub fn put_uint(out: &mut Vec<u8>, number: u64, v: u64) {
    put_varint(out, number << 3 | VARINT);
    put_varint(out, v);
}

/// Append length-delimited field `number` holding `payload`.
pub fn put_bytes(out: &mut Vec<u8>, number: u64, payload: &[u8]) {
    put_varint(out, number << 3 | LEN);
    put_varint(out, payload.len() as u64);
    out.extend_from_slice(payload);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_round_trip_and_fields_keep_their_place() {
        let mut m = Vec::new();
        put_uint(&mut m, 1, 300);
        put_bytes(&mut m, 7, &[9; 200]);
        put_uint(&mut m, 2, u64::MAX);
        let f = fields_at(&m).unwrap();
        assert_eq!(f.len(), 3);
        assert_eq!((f[0].number, f[0].wire, f[0].value), (1, VARINT, 300));
        assert_eq!((f[1].number, f[1].tag_at, f[1].payload.len()), (7, 3, 200));
        assert_eq!(f[2].value, u64::MAX);
        assert_eq!(first_bytes(&m, 7), Some(&[9u8; 200][..]));
        assert!(fields_at(&m[..10]).is_none(), "a cut message");
        assert!(fields_at(&[0x80]).is_none());
    }
}
