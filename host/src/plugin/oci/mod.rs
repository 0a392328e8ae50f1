//! Stages from an OCI registry: `path = "oci://REF"` in a pipeline, camera or
//! tenant file. The component is pulled (checked: Wasm OCI layout, size cap,
//! digests), kept in a content-addressed store that also remembers the last
//! verified digest of every reference (so a box starts with its registry
//! away), and a tag is polled: a new digest is pulled, verified and compiled
//! off the frame path and handed to the frame loop exactly like a changed
//! file ([`poll`]).

pub mod artifact;
pub mod poll;
pub mod registry;
pub mod store;

use std::path::{Path, PathBuf};

use thiserror::Error;

pub use registry::{Pulled, Registry, RegistryOptions};
pub use store::Store;

/// The media type of a Wasm OCI artifact's config (CNCF TAG Runtime layout).
pub const WASM_CONFIG_MEDIA_TYPE: &str = "application/vnd.wasm.config.v0+json";
/// The media type of its one layer: the component.
pub const WASM_LAYER_MEDIA_TYPE: &str = "application/wasm";
/// How a stage's `path` names a registry reference.
pub const SCHEME: &str = "oci://";

#[derive(Debug, Error)]
pub enum OciError {
    #[error("{0:?} is not a registry reference like registry.example:5000/plugins/name:tag or ...@sha256:<digest>: {1}")]
    Reference(String, String),
    #[error("registry {registry} unreachable: {reason}")]
    Unreachable { registry: String, reason: String },
    #[error("registry {registry} refused the login: {reason}")]
    Login { registry: String, reason: String },
    #[error("{reference} not found in the registry: {reason}")]
    NotFound { reference: String, reason: String },
    #[error("{reference} is not a Wasm component artifact: {reason}")]
    NotWasm { reference: String, reason: String },
    #[error("{reference}: the component is {size} bytes, over the limit of {max} bytes ([plugins] max_component_mb)")]
    TooLarge {
        reference: String,
        size: u64,
        max: u64,
    },
    #[error("{reference}: the registry sent more than the {size} bytes its manifest announced; download stopped there")]
    Overflow { reference: String, size: u64 },
    #[error("{what} digest mismatch: expected {expected}, got {actual}")]
    DigestMismatch {
        what: String,
        expected: String,
        actual: String,
    },
    #[error("{reference}: truncated download ({got} of {size} bytes): {reason}")]
    Truncated {
        reference: String,
        got: u64,
        size: u64,
        reason: String,
    },
    #[error("cannot read the registry CA file {path}: {reason}")]
    Ca { path: PathBuf, reason: String },
    #[error("component store {path}: {reason}")]
    Store { path: PathBuf, reason: String },
    #[error("registry client: {0}")]
    Runtime(String),
}

/// The registry reference a stage's `path` names, if it is `oci://...`.
pub fn stage_reference(path: &Path) -> Option<&str> {
    path.to_str()?.strip_prefix(SCHEME)
}

/// Parse `REF` (without `oci://`).
pub fn parse(text: &str) -> Result<oci_client::Reference, OciError> {
    text.parse::<oci_client::Reference>()
        .map_err(|e| OciError::Reference(text.to_string(), e.to_string()))
}
