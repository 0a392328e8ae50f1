//! Where components may come from and what they must prove: the trusted
//! signing keys (`[plugins] trusted_keys`), how registries are reached, how
//! often tags are polled, and the store of pulled components. One per
//! [`super::PluginHost`], set once the configuration is read.

use std::sync::Arc;
use std::time::Duration;

use super::oci::{RegistryOptions, Store};
use super::signature::TrustedKeys;

/// How often a tag is looked up unless configured.
pub const DEFAULT_POLL: Duration = Duration::from_secs(60);

#[derive(Debug)]
pub struct Sources {
    /// When set, every component must carry a valid signature by one of these.
    pub trusted: Option<Arc<TrustedKeys>>,
    pub registry: RegistryOptions,
    pub poll: Duration,
    pub store: Store,
}

impl Sources {
    /// No signature required, anonymous HTTPS, the default poll, the store
    /// beside the component cache `cache_dir`.
    pub fn new(cache_dir: Option<&std::path::Path>) -> Sources {
        Sources {
            trusted: None,
            registry: RegistryOptions::default(),
            poll: DEFAULT_POLL,
            store: Store::for_cache(cache_dir),
        }
    }
}
