//! `edgepipe:plugin@0.3.0` (wit/since_v0.3.0), the newest: `frame-info`
//! carries the camera's name. Its types are the host's own, passed through.

use wasmtime::component::{HasSelf, Instance, Linker};
use wasmtime::Store;

use super::{Contract, Exports, StageState};
use crate::plugin::StageKind;

worlds!(
    "../wit/since_v0.3.0",
    "edgepipe:plugin/types",
    "edgepipe:plugin/host"
);

pub const CONTRACT: Contract = Contract {
    version: "0.3.0",
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

impl stats::edgepipe::plugin::types::Host for StageState {}
impl stats::edgepipe::plugin::host::Host for StageState {
    fn log(&mut self, level: Level, message: String) {
        StageState::log(self, level, &message);
    }
}

impl Exports for stats::Stats {
    lifecycle!();
    fn update(
        &self,
        store: &mut Store<StageState>,
        info: &FrameInfo,
        detections: &[Detection],
    ) -> wasmtime::Result<Vec<Stat>> {
        self.call_update(store, info, detections)
    }
    fn finish_stats(&self, store: &mut Store<StageState>) -> wasmtime::Result<Vec<Stat>> {
        self.call_finish(store)
    }
}

impl Exports for topics::Topics {
    lifecycle!();
    fn route(
        &self,
        store: &mut Store<StageState>,
        info: &FrameInfo,
        stats: &[Stat],
    ) -> wasmtime::Result<Vec<Message>> {
        self.call_route(store, info, stats)
    }
    fn finish_topics(
        &self,
        store: &mut Store<StageState>,
        stats: &[Stat],
    ) -> wasmtime::Result<Vec<Message>> {
        self.call_finish(store, stats)
    }
}

impl Exports for draw::Draw {
    lifecycle!();
    fn draw(
        &self,
        store: &mut Store<StageState>,
        info: &FrameInfo,
        pixels: &[u8],
        detections: &[Detection],
        stats: &[Stat],
    ) -> wasmtime::Result<Option<Vec<u8>>> {
        self.call_draw(store, info, pixels, detections, stats)
            .map(Some)
    }
}
