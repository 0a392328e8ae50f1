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
v0_1_shapes!();

pub const CONTRACT: Contract = Contract {
    version: "0.2.0",
    required_exports,
    link,
    bind,
};

fn required_exports(kind: StageKind) -> &'static [&'static str] {
    match kind {
        StageKind::Stats => &["configure", "update", "finish", "save", "restore"],
        StageKind::Topics => &["configure", "route", "finish", "save", "restore"],
        StageKind::Draw => &["configure", "draw", "save", "restore"],
    }
}

impl Exports for topics::Topics {
    lifecycle!();
    fn route(
        &self,
        store: &mut Store<StageState>,
        info: &latest::FrameInfo,
        stats: &[latest::Stat],
    ) -> wasmtime::Result<Vec<latest::Message>> {
        self.call_route(store, info.into(), &stats_in(stats))
            .map(messages_out)
    }
    fn finish_topics(
        &self,
        store: &mut Store<StageState>,
        stats: &[latest::Stat],
    ) -> wasmtime::Result<Vec<latest::Message>> {
        self.call_finish(store, &stats_in(stats)).map(messages_out)
    }
}
