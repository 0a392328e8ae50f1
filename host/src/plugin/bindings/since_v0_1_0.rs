//! `edgepipe:plugin@0.1.0` (wit/since_v0.1.0), the first: no `topics.finish`
//! (a 0.1.0 topics stage publishes nothing at the end of the stream), and a
//! `frame-info` without the camera (the host's is narrowed to it).

use wasmtime::component::{HasSelf, Instance, Linker};
use wasmtime::Store;

use super::{latest, Contract, Exports, StageState};
use crate::plugin::StageKind;

worlds!(
    "../wit/since_v0.1.0",
    "edgepipe:plugin/types",
    "edgepipe:plugin/host"
);
older_shapes!();
no_camera!();

pub const CONTRACT: Contract = Contract {
    version: "0.1.0",
    required_exports,
    overlay: false,
    link,
    bind,
};

fn required_exports(kind: StageKind) -> &'static [&'static str] {
    match kind {
        StageKind::Stats => &["configure", "update", "finish", "save", "restore"],
        StageKind::Topics => &["configure", "route", "save", "restore"],
        StageKind::Draw => &["configure", "draw", "save", "restore"],
    }
}

older_topics!([]);
