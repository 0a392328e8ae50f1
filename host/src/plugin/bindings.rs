//! Host-side bindings of every contract version this host serves: the only
//! `bindgen!` calls. Within a version the `types` and `host` interfaces are
//! generated once (in `stats`) and shared by the other worlds. The newest
//! version's types are the host's own; older versions convert through
//! [`super::compat`].

macro_rules! version_bindings {
    ($path:literal, $types:literal, $host:literal) => {
        pub mod stats {
            wasmtime::component::bindgen!({ path: $path, world: "stats" });
        }
        pub mod topics {
            wasmtime::component::bindgen!({
                path: $path,
                world: "topics",
                with: { $types: super::stats::edgepipe::plugin::types, $host: super::stats::edgepipe::plugin::host },
            });
        }
        pub mod draw {
            wasmtime::component::bindgen!({
                path: $path,
                world: "draw",
                with: { $types: super::stats::edgepipe::plugin::types, $host: super::stats::edgepipe::plugin::host },
            });
        }
        pub use stats::edgepipe::plugin::host::Level;
        pub use stats::edgepipe::plugin::types::{Detection, FrameInfo, Message, Qos, Rect, Stat};
    };
}

/// `edgepipe:plugin@0.1.0` (wit/since_v0.1.0).
pub mod v0_1_0 {
    version_bindings!(
        "../wit/since_v0.1.0",
        "edgepipe:plugin/types",
        "edgepipe:plugin/host"
    );
}

/// `edgepipe:plugin@0.2.0` (wit/since_v0.2.0): the newest.
pub mod v0_2_0 {
    version_bindings!(
        "../wit/since_v0.2.0",
        "edgepipe:plugin/types",
        "edgepipe:plugin/host"
    );
}

pub use v0_2_0::draw;
pub use v0_2_0::stats;
pub use v0_2_0::topics;
pub use v0_2_0::{Detection, FrameInfo, Level, Message, Qos, Rect, Stat};

/// The package these bindings serve.
pub const PACKAGE: &str = "edgepipe:plugin";
/// The newest version: what the SDK builds against.
pub const VERSION: &str = "0.2.0";
/// Every version this host loads, newest first.
pub const SERVED_VERSIONS: &[&str] = &["0.2.0", "0.1.0"];

/// One contract version this host serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiVersion {
    V0_1_0,
    V0_2_0,
}

impl ApiVersion {
    pub fn parse(v: &str) -> Option<ApiVersion> {
        match v {
            "0.1.0" => Some(ApiVersion::V0_1_0),
            "0.2.0" => Some(ApiVersion::V0_2_0),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            ApiVersion::V0_1_0 => "0.1.0",
            ApiVersion::V0_2_0 => "0.2.0",
        }
    }
    pub const NEWEST: ApiVersion = ApiVersion::V0_2_0;
}

/// `0.2.0, 0.1.0` for messages.
pub fn served_versions() -> String {
    SERVED_VERSIONS
        .iter()
        .map(|v| format!("{PACKAGE}@{v}"))
        .collect::<Vec<_>>()
        .join(", ")
}
