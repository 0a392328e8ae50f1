//! Who built a component: Ed25519 signatures in the wasmsign2 format (a
//! custom section at the front of the component, readable by the `wasmsign2`
//! tool), key files, and the check against `[plugins] trusted_keys` that
//! every component passes before it is compiled, from a file or a registry.

use std::path::{Path, PathBuf};

use thiserror::Error;
use wasmsign2::{KeyPair, Module, PublicKey, PublicKeySet, SecretKey, WSError};

#[derive(Debug, Error)]
pub enum SignatureError {
    #[error("cannot read key {path}: {reason}")]
    Key { path: PathBuf, reason: String },
    #[error("{0} already exists; not overwriting a key")]
    Exists(PathBuf),
    #[error("cannot write {path}: {reason}")]
    Write { path: PathBuf, reason: String },
    #[error("not a WebAssembly component: {0}")]
    Parse(String),
    #[error("not signed (no wasmsign2 signature section); sign it with `edgepipe plugin sign`")]
    Unsigned,
    #[error("not signed by {keys}")]
    Untrusted { keys: String },
}

fn key_err(path: &Path, e: impl std::fmt::Display) -> SignatureError {
    SignatureError::Key {
        path: path.to_path_buf(),
        reason: e.to_string(),
    }
}

/// The public key file that belongs to the secret key file `key`: `KEY.pub`.
pub fn public_key_path(key: &Path) -> PathBuf {
    let mut s = key.as_os_str().to_os_string();
    s.push(".pub");
    PathBuf::from(s)
}

fn write_new(path: &Path, bytes: &[u8], mode: u32) -> Result<(), SignatureError> {
    use std::io::Write;
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, mode);
    let mut f = o.open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::AlreadyExists => SignatureError::Exists(path.to_path_buf()),
        _ => SignatureError::Write {
            path: path.to_path_buf(),
            reason: e.to_string(),
        },
    })?;
    f.write_all(bytes).map_err(|e| SignatureError::Write {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })
}

/// Make a key pair: the secret key in `key` (readable by its owner only),
/// the public key in `KEY.pub`, both in wasmsign2's raw key format. Neither
/// file may exist yet. Returns the public key's path.
pub fn keygen(key: &Path) -> Result<PathBuf, SignatureError> {
    let pair = KeyPair::generate();
    let public = public_key_path(key);
    if public.exists() {
        return Err(SignatureError::Exists(public));
    }
    write_new(key, &pair.sk.to_bytes(), 0o600)?;
    write_new(&public, &pair.pk.to_bytes(), 0o644)?;
    Ok(public)
}

/// Read a secret key (raw, PEM or DER).
pub fn secret_key(path: &Path) -> Result<SecretKey, SignatureError> {
    SecretKey::from_any_file(path).map_err(|e| key_err(path, e))
}

/// Read a public key (raw, PEM or DER).
pub fn public_key(path: &Path) -> Result<PublicKey, SignatureError> {
    PublicKey::from_any_file(path).map_err(|e| key_err(path, e))
}

/// `bytes` with a signature by `key` embedded (an existing one is replaced).
pub fn sign(bytes: &[u8], key: &SecretKey) -> Result<Vec<u8>, SignatureError> {
    let module = Module::deserialize(&mut std::io::Cursor::new(bytes))
        .map_err(|e| SignatureError::Parse(e.to_string()))?;
    let signed = key
        .sign(module, None)
        .map_err(|e| SignatureError::Parse(e.to_string()))?;
    let mut out = Vec::with_capacity(bytes.len() + 256);
    signed
        .serialize(&mut out)
        .map_err(|e| SignatureError::Parse(e.to_string()))?;
    Ok(out)
}

fn verify_error(e: WSError, keys: &str) -> SignatureError {
    match e {
        WSError::NoSignatures => SignatureError::Unsigned,
        WSError::VerificationFailed => SignatureError::Untrusted {
            keys: keys.to_string(),
        },
        other => SignatureError::Parse(other.to_string()),
    }
}

/// The public keys every component must be signed by (one of them).
#[derive(Debug)]
pub struct TrustedKeys {
    keys: Vec<(PathBuf, PublicKey)>,
}

impl TrustedKeys {
    /// Read every key file; an unreadable one is an error.
    pub fn load(paths: &[PathBuf]) -> Result<TrustedKeys, SignatureError> {
        let keys = paths
            .iter()
            .map(|p| Ok((p.clone(), public_key(p)?)))
            .collect::<Result<Vec<_>, SignatureError>>()?;
        Ok(TrustedKeys { keys })
    }

    fn names(&self) -> String {
        let names: Vec<String> = self
            .keys
            .iter()
            .map(|(p, _)| p.display().to_string())
            .collect();
        match names.len() {
            1 => format!("the trusted key {}", names[0]),
            _ => format!("any of the trusted keys {}", names.join(", ")),
        }
    }

    /// The key file whose key signed `bytes`, or why none did.
    pub fn verify(&self, bytes: &[u8]) -> Result<&Path, SignatureError> {
        let mut set = PublicKeySet::empty();
        for (_, k) in &self.keys {
            // Two files holding one key are one key here.
            let _ = set.insert(k.clone());
        }
        let valid = set
            .verify(&mut std::io::Cursor::new(bytes), None)
            .map_err(|e| verify_error(e, &self.names()))?;
        self.keys
            .iter()
            .find(|(_, k)| valid.contains(k))
            .map(|(p, _)| p.as_path())
            .ok_or_else(|| SignatureError::Untrusted { keys: self.names() })
    }
}

/// Verify `bytes` against one public key.
pub fn verify_with(bytes: &[u8], key: &PublicKey, key_path: &Path) -> Result<(), SignatureError> {
    key.verify(&mut std::io::Cursor::new(bytes), None)
        .map_err(|e| verify_error(e, &format!("the key {}", key_path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tiny component: the header of layer 1 and one custom section `x`.
    const COMPONENT: &[u8] = &[
        0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00, 0x00, 0x02, 0x01, b'x',
    ];

    fn dir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("edgepipe-sig-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn signed_by_a_trusted_key_passes_others_do_not() {
        let d = dir("trust");
        let (a, b) = (d.join("a.key"), d.join("b.key"));
        let (pa, pb) = (keygen(&a).unwrap(), keygen(&b).unwrap());
        let signed = sign(COMPONENT, &secret_key(&a).unwrap()).unwrap();
        let only_a = TrustedKeys::load(std::slice::from_ref(&pa)).unwrap();
        assert_eq!(only_a.verify(&signed).unwrap(), pa.as_path());
        let only_b = TrustedKeys::load(std::slice::from_ref(&pb)).unwrap();
        let e = only_b.verify(&signed).unwrap_err().to_string();
        assert!(e.contains("not signed by the trusted key"), "{e}");
        let e = only_a.verify(COMPONENT).unwrap_err();
        assert!(matches!(e, SignatureError::Unsigned), "{e}");
        // A section added after signing breaks the signature.
        let mut tampered = signed.clone();
        tampered.extend_from_slice(b"\x00\x05\x04name");
        let e = only_a.verify(&tampered).unwrap_err().to_string();
        assert!(e.contains("not signed by"), "{e}");
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn keygen_never_overwrites_and_keeps_the_secret_private() {
        let d = dir("keygen");
        let k = d.join("k");
        keygen(&k).unwrap();
        let e = keygen(&k).unwrap_err();
        assert!(matches!(e, SignatureError::Exists(_)), "{e}");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&k).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        let _ = std::fs::remove_dir_all(&d);
    }
}
