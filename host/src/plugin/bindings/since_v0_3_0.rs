//! `edgepipe:plugin@0.3.0` (wit/since_v0.3.0): `frame-info` carries the
//! camera's name; no `overlay` world (its draw stages return pixels).

use wasmtime::component::{HasSelf, Instance, Linker};
use wasmtime::Store;

use super::{latest, Contract, Exports, StageState};
use crate::plugin::StageKind;

worlds!(
    "../wit/since_v0.3.0",
    "edgepipe:plugin/types",
    "edgepipe:plugin/host"
);
older_shapes!(&);
older_topics!([&] finish);

pub const CONTRACT: Contract = Contract {
    version: "0.3.0",
    required_exports: super::since_v0_2_0::required_exports,
    overlay: false,
    link,
    bind,
};

impl From<&latest::FrameInfo> for FrameInfo {
    fn from(f: &latest::FrameInfo) -> Self {
        FrameInfo {
            index: f.index,
            timestamp_ms: f.timestamp_ms,
            width: f.width,
            height: f.height,
            camera: f.camera.clone(),
        }
    }
}
