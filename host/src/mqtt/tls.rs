//! TLS for `mqtts://`: a rustls client configuration (ring provider) from a CA
//! file (or the system's roots) and an optional client certificate and key.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ClientConfig, RootCertStore};

use super::MqttError;

/// The files TLS needs; all optional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsFiles {
    /// PEM file of the CA(s) that signed the broker's certificate; without it
    /// the system's roots are trusted.
    pub ca: Option<PathBuf>,
    /// PEM client certificate chain and its key, for brokers that require them.
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
}

fn tls_err(path: &Path, reason: impl std::fmt::Display) -> MqttError {
    MqttError::Tls(format!("{}: {reason}", path.display()))
}

fn certs(path: &Path, what: &str) -> Result<Vec<CertificateDer<'static>>, MqttError> {
    if !path.is_file() {
        return Err(tls_err(path, format!("{what} file does not exist")));
    }
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| tls_err(path, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| tls_err(path, format!("not a PEM {what} file: {e}")))?;
    if certs.is_empty() {
        return Err(tls_err(
            path,
            format!("no PEM certificate in this {what} file"),
        ));
    }
    Ok(certs)
}

/// Build the client configuration.
pub fn client_config(files: &TlsFiles) -> Result<Arc<ClientConfig>, MqttError> {
    if files.cert.is_some() != files.key.is_some() {
        return Err(MqttError::Tls(
            "a client certificate needs its key, and a key its certificate".into(),
        ));
    }
    let mut roots = RootCertStore::empty();
    match &files.ca {
        Some(ca) => {
            let (added, _ignored) = roots.add_parsable_certificates(certs(ca, "CA")?);
            if added == 0 {
                return Err(tls_err(ca, "no usable CA certificate in this file"));
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            roots.add_parsable_certificates(found.certs);
            if roots.is_empty() {
                return Err(MqttError::Tls(
                    "no system CA certificates found; give a CA file (--mqtt-ca)".into(),
                ));
            }
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| MqttError::Tls(e.to_string()))?
        .with_root_certificates(roots);
    let config = match (&files.cert, &files.key) {
        (Some(cert), Some(key)) => {
            let chain = certs(cert, "client certificate")?;
            if !key.is_file() {
                return Err(tls_err(key, "client key file does not exist"));
            }
            let key_der = PrivateKeyDer::from_pem_file(key)
                .map_err(|e| tls_err(key, format!("not a PEM private key: {e}")))?;
            builder
                .with_client_auth_cert(chain, key_der)
                .map_err(|e| tls_err(cert, e))?
        }
        _ => builder.with_no_client_auth(),
    };
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_and_empty_ca_files_are_named() {
        let e = client_config(&TlsFiles {
            ca: Some("/nonexistent/ca.pem".into()),
            ..Default::default()
        })
        .unwrap_err();
        assert!(
            e.to_string()
                .contains("/nonexistent/ca.pem: CA file does not exist"),
            "{e}"
        );
        let dir = std::env::temp_dir().join(format!("edgepipe-tls-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let empty = dir.join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let e = client_config(&TlsFiles {
            ca: Some(empty.clone()),
            ..Default::default()
        })
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("empty.pem") && e.contains("no PEM certificate"),
            "{e}"
        );
        let e = client_config(&TlsFiles {
            ca: None,
            cert: Some(empty),
            key: None,
        })
        .unwrap_err()
        .to_string();
        assert!(e.contains("needs its key"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
