//! `edgepipe:plugin@0.4.0` (wit/since_v0.4.0), the newest: world `overlay`,
//! a draw stage that returns shapes for the host to paint. Its types are
//! the host's own, passed through.

use wasmtime::component::{HasSelf, Instance, Linker};
use wasmtime::Store;

use super::{Contract, Exports, StageState};
use crate::plugin::StageKind;

worlds!(
    "../wit/since_v0.4.0",
    "edgepipe:plugin/types",
    "edgepipe:plugin/host",
    overlay
);
pub use stats::edgepipe::plugin::types::{Area, Bgr, Blend, Fill, Line, Outline, Shape, Text};

pub const CONTRACT: Contract = Contract {
    version: "0.4.0",
    required_exports: super::since_v0_2_0::required_exports,
    overlay: true,
    link,
    bind,
};

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

impl Exports for overlay::Overlay {
    lifecycle!();
    fn is_overlay(&self) -> bool {
        true
    }
    fn overlay(
        &self,
        store: &mut Store<StageState>,
        info: &FrameInfo,
        detections: &[Detection],
        stats: &[Stat],
    ) -> wasmtime::Result<Option<Vec<Shape>>> {
        self.call_overlay(store, info, detections, stats).map(Some)
    }
}
