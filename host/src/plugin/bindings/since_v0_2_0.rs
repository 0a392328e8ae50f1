//! `edgepipe:plugin@0.2.0` (wit/since_v0.2.0): `topics.finish`; its
//! `frame-info` has no camera (the host's is narrowed to it).

use wasmtime::component::{HasSelf, Instance, Linker};
use wasmtime::Store;

use super::{latest, Contract, Exports, StageState};
use crate::plugin::StageKind;

worlds!(
    "../wit/since_v0.2.0",
    "edgepipe:plugin/types",
    "edgepipe:plugin/host"
);
older_shapes!();
no_camera!();

pub const CONTRACT: Contract = Contract {
    version: "0.2.0",
    required_exports,
    overlay: false,
    link,
    bind,
};

/// The same from 0.2.0 to 0.4.0 (0.4.0's `overlay` world aside).
pub(super) fn required_exports(kind: StageKind) -> &'static [&'static str] {
    match kind {
        StageKind::Stats => &["configure", "update", "finish", "save", "restore"],
        StageKind::Topics => &["configure", "route", "finish", "save", "restore"],
        StageKind::Draw => &["configure", "draw", "save", "restore"],
    }
}

older_topics!([] finish);
