//! Talking to an OCI registry: push a component as a Wasm OCI artifact
//! (config `application/vnd.wasm.config.v0+json`, one `application/wasm`
//! layer), resolve a tag to its manifest digest, pull a component with every
//! check a fleet needs (media types, size cap, digests, truncation). Blocking
//! calls over `oci-client`, each on a small current-thread tokio runtime.

use std::path::PathBuf;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use oci_client::client::{Certificate, CertificateEncoding, ClientConfig, ClientProtocol};
use oci_client::manifest::{OciDescriptor, OCI_IMAGE_MEDIA_TYPE};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};

use super::{OciError, WASM_LAYER_MEDIA_TYPE};
use crate::plugin::cache::content_hash;

/// Largest component pulled unless configured otherwise.
pub const DEFAULT_MAX_COMPONENT: u64 = 64 << 20;
/// Connecting to a registry gives up after this long.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// A whole push, pull or tag lookup gives up after this long.
pub const OPERATION_TIMEOUT: Duration = Duration::from_secs(120);

/// How to reach registries: login, trust, transport, limits.
#[derive(Clone, Default)]
pub struct RegistryOptions {
    pub user: Option<String>,
    pub password: Option<crate::mqtt::Secret>,
    /// A PEM CA bundle trusted besides the system roots.
    pub ca_file: Option<PathBuf>,
    /// Plain HTTP (no TLS) to every registry: only when asked for.
    pub plain_http: bool,
    /// Largest component accepted (bytes); 0: [`DEFAULT_MAX_COMPONENT`].
    pub max_component: u64,
}

impl std::fmt::Debug for RegistryOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryOptions")
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("ca_file", &self.ca_file)
            .field("plain_http", &self.plain_http)
            .field("max_component", &self.max_component)
            .finish()
    }
}

/// A component pulled and checked.
#[derive(Debug, Clone)]
pub struct Pulled {
    /// `sha256:<hex>` of the manifest: what a tag points to.
    pub digest: String,
    pub bytes: Vec<u8>,
}

/// A blocking client for one process (cheap to make; one per operation is fine).
pub struct Registry {
    client: Client,
    auth: RegistryAuth,
    max_component: u64,
    runtime: tokio::runtime::Runtime,
}

/// An error with its causes (reqwest hides the TLS or socket reason in them).
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let t = c.to_string();
        if !text.contains(&t) {
            text.push_str(": ");
            text.push_str(&t);
        }
        cause = c.source();
    }
    text
}

fn registry_err(r: &Reference, e: oci_client::errors::OciDistributionError) -> OciError {
    use oci_client::errors::OciDistributionError as E;
    let text = chain(&e);
    let upper = text.to_ascii_uppercase().replace('_', " ");
    let login = matches!(e, E::AuthenticationFailure(_) | E::UnauthorizedError { .. })
        || upper.contains("UNAUTHORIZED")
        || upper.contains("DENIED");
    let missing = matches!(e, E::ImageManifestNotFoundError(_))
        || upper.contains("MANIFEST UNKNOWN")
        || upper.contains("NAME UNKNOWN");
    if login {
        OciError::Login {
            registry: r.registry().to_string(),
            reason: text,
        }
    } else if missing {
        OciError::NotFound {
            reference: r.to_string(),
            reason: text,
        }
    } else {
        OciError::Unreachable {
            registry: r.registry().to_string(),
            reason: text,
        }
    }
}

impl Registry {
    pub fn new(o: &RegistryOptions) -> Result<Registry, OciError> {
        // reqwest is built without a crypto provider: use ring, like MQTT's TLS.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut extra = Vec::new();
        if let Some(ca) = &o.ca_file {
            let data = std::fs::read(ca).map_err(|e| OciError::Ca {
                path: ca.clone(),
                reason: e.to_string(),
            })?;
            extra.push(Certificate {
                encoding: CertificateEncoding::Pem,
                data,
            });
        }
        let config = ClientConfig {
            protocol: if o.plain_http {
                ClientProtocol::Http
            } else {
                ClientProtocol::Https
            },
            extra_root_certificates: extra,
            connect_timeout: Some(CONNECT_TIMEOUT),
            read_timeout: Some(Duration::from_secs(30)),
            ..Default::default()
        };
        let auth = match (&o.user, &o.password) {
            (Some(u), Some(p)) => RegistryAuth::Basic(u.clone(), p.expose().to_string()),
            (Some(u), None) => RegistryAuth::Basic(u.clone(), String::new()),
            _ => RegistryAuth::Anonymous,
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| OciError::Runtime(e.to_string()))?;
        Ok(Registry {
            client: Client::new(config),
            auth,
            max_component: if o.max_component == 0 {
                DEFAULT_MAX_COMPONENT
            } else {
                o.max_component
            },
            runtime,
        })
    }

    fn block<T>(
        &self,
        r: &Reference,
        f: impl std::future::Future<Output = Result<T, OciError>>,
    ) -> Result<T, OciError> {
        self.runtime
            .block_on(async { tokio::time::timeout(OPERATION_TIMEOUT, f).await })
            .map_err(|_| OciError::Unreachable {
                registry: r.registry().to_string(),
                reason: format!("no answer within {} s", OPERATION_TIMEOUT.as_secs()),
            })?
    }

    /// Push `bytes` (a component) to `r` as a Wasm OCI artifact; returns
    /// the manifest digest.
    pub fn push(&self, r: &Reference, bytes: &[u8]) -> Result<String, OciError> {
        let layer = oci_client::client::ImageLayer::new(
            bytes.to_vec(),
            WASM_LAYER_MEDIA_TYPE.to_string(),
            None,
        );
        let config = super::artifact::config(bytes)?;
        let manifest = super::artifact::manifest(&layer, &config);
        let pushed = self.block(r, async {
            self.client
                .push(r, &[layer], config, &self.auth, Some(manifest))
                .await
                .map_err(|e| registry_err(r, e))
        })?;
        // The registry's Location names the manifest by digest; else ask.
        match pushed.manifest_url.rsplit_once("sha256:") {
            Some((_, hex)) if hex.len() == 64 => Ok(format!("sha256:{hex}")),
            _ => self.digest(r),
        }
    }

    /// The manifest digest `r` points to now (a tag lookup; no download).
    pub fn digest(&self, r: &Reference) -> Result<String, OciError> {
        if let Some(d) = r.digest() {
            return Ok(d.to_string());
        }
        self.block(r, async {
            self.client
                .fetch_manifest_digest(r, &self.auth)
                .await
                .map_err(|e| registry_err(r, e))
        })
    }

    /// Pull the component `r` points to, checked: an image manifest of the
    /// Wasm layout, its layer within the size cap, every digest matching.
    pub fn pull(&self, r: &Reference) -> Result<Pulled, OciError> {
        self.block(r, async {
            let (raw, digest) = self
                .client
                .pull_manifest_raw(r, &self.auth, &[OCI_IMAGE_MEDIA_TYPE])
                .await
                .map_err(|e| registry_err(r, e))?;
            let actual = format!("sha256:{}", content_hash(&raw));
            let wanted = r.digest().map(str::to_string).unwrap_or(digest);
            if actual != wanted {
                return Err(OciError::DigestMismatch {
                    what: "manifest".into(),
                    expected: wanted,
                    actual,
                });
            }
            let layer = super::artifact::wasm_layer(r, &raw, self.max_component)?;
            let bytes = self.pull_layer(r, &layer).await?;
            if bytes.len() < 8 || &bytes[..4] != b"\0asm" {
                return Err(OciError::NotWasm {
                    reference: r.to_string(),
                    reason: format!(
                        "its layer is not a WebAssembly component ({} bytes, no `\\0asm` header)",
                        bytes.len()
                    ),
                });
            }
            Ok(Pulled {
                digest: actual,
                bytes,
            })
        })
    }

    async fn pull_layer(&self, r: &Reference, layer: &OciDescriptor) -> Result<Vec<u8>, OciError> {
        let size = u64::try_from(layer.size).unwrap_or(0);
        let mut sink = Capped {
            buf: Vec::with_capacity(usize::try_from(size).unwrap_or(0)),
            max: size,
            overflowed: false,
        };
        let pulled = self.client.pull_blob(r, layer, &mut sink).await;
        let got = sink.buf.len() as u64;
        if sink.overflowed {
            return Err(OciError::Overflow {
                reference: r.to_string(),
                size,
            });
        }
        if let Err(e) = pulled {
            if got < size {
                return Err(OciError::Truncated {
                    reference: r.to_string(),
                    got,
                    size,
                    reason: chain(&e),
                });
            }
            if let oci_client::errors::OciDistributionError::DigestError(d) = &e {
                return Err(OciError::DigestMismatch {
                    what: "layer".into(),
                    expected: layer.digest.clone(),
                    actual: chain(d),
                });
            }
            return Err(registry_err(r, e));
        }
        if got != size {
            return Err(OciError::Truncated {
                reference: r.to_string(),
                got,
                size,
                reason: "the download ended early".into(),
            });
        }
        let actual = format!("sha256:{}", content_hash(&sink.buf));
        if actual != layer.digest {
            return Err(OciError::DigestMismatch {
                what: "layer".into(),
                expected: layer.digest.clone(),
                actual,
            });
        }
        Ok(sink.buf)
    }
}

/// A buffer that refuses to grow past the size the manifest announced (itself
/// within the size cap): a registry that sends more is stopped while
/// streaming, whatever the blob's real size.
struct Capped {
    buf: Vec<u8>,
    max: u64,
    /// More bytes came than announced; the download was stopped.
    overflowed: bool,
}

impl tokio::io::AsyncWrite for Capped {
    fn poll_write(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        if self.buf.len() as u64 + data.len() as u64 > self.max {
            self.overflowed = true;
            return Poll::Ready(Err(std::io::Error::other(
                "the registry sent more bytes than the manifest announced",
            )));
        }
        self.buf.extend_from_slice(data);
        Poll::Ready(Ok(data.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}
