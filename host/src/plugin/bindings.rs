//! Host-side bindings of edgepipe:plugin@0.1.0: the only `bindgen!` calls.
//! The `types` and `host` interfaces are generated once (in `stats`) and
//! shared by the other worlds, so one `Host` impl serves all stages.

pub mod stats {
    wasmtime::component::bindgen!({
        path: "../wit/since_v0.1.0",
        world: "stats",
    });
}

pub mod topics {
    wasmtime::component::bindgen!({
        path: "../wit/since_v0.1.0",
        world: "topics",
        with: {
            "edgepipe:plugin/types": super::stats::edgepipe::plugin::types,
            "edgepipe:plugin/host": super::stats::edgepipe::plugin::host,
        },
    });
}

pub mod draw {
    wasmtime::component::bindgen!({
        path: "../wit/since_v0.1.0",
        world: "draw",
        with: {
            "edgepipe:plugin/types": super::stats::edgepipe::plugin::types,
            "edgepipe:plugin/host": super::stats::edgepipe::plugin::host,
        },
    });
}

pub use stats::edgepipe::plugin::host::Level;
pub use stats::edgepipe::plugin::types::{Detection, FrameInfo, Message, Qos, Rect, Stat};

/// The package and version these bindings serve.
pub const PACKAGE: &str = "edgepipe:plugin";
pub const VERSION: &str = "0.1.0";
