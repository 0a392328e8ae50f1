//! What a stage's store holds and what a stage can reach: a WASI context with
//! nothing in it (no files, environment, arguments, sockets or name lookup;
//! reading stdin traps, stdout/stderr discarded), clocks frozen at zero and
//! random numbers from a fixed sequence, so a stage's only view of time and
//! the world is what the contract passes in; nothing in it waits (see
//! [`super::no_wait`]). Logging goes through `host.log`.

use wasmtime::component::ResourceTable;
use wasmtime::StoreLimits;
use wasmtime_wasi::{HostMonotonicClock, HostWallClock, WasiCtx, WasiCtxView, WasiView};

use super::bindings::Level;
use super::no_wait::{NoStdin, FROZEN_NOW, FROZEN_RESOLUTION_NS};

/// A wall clock stopped at the Unix epoch.
struct FrozenWallClock;
impl HostWallClock for FrozenWallClock {
    fn resolution(&self) -> std::time::Duration {
        std::time::Duration::from_secs(1)
    }
    fn now(&self) -> std::time::Duration {
        std::time::Duration::ZERO
    }
}

/// A monotonic clock that never advances.
struct FrozenMonotonicClock;
impl HostMonotonicClock for FrozenMonotonicClock {
    fn resolution(&self) -> u64 {
        FROZEN_RESOLUTION_NS
    }
    fn now(&self) -> u64 {
        FROZEN_NOW
    }
}

/// The bytes `wasi:random` hands out, cycled: the same in every run.
const RANDOM_PATTERN: [u8; 8] = [0x65, 0x64, 0x67, 0x65, 0x70, 0x69, 0x70, 0x65];

/// The WASI context every stage gets (see the module docs).
pub fn wasi_ctx() -> WasiCtx {
    let mut b = WasiCtx::builder();
    b.stdin(NoStdin)
        .wall_clock(FrozenWallClock)
        .monotonic_clock(FrozenMonotonicClock)
        .secure_random(wasmtime_wasi::Deterministic::new(RANDOM_PATTERN.to_vec()))
        .insecure_random(wasmtime_wasi::Deterministic::new(RANDOM_PATTERN.to_vec()))
        .insecure_random_seed(0)
        .allow_tcp(false)
        .allow_udp(false)
        .allow_ip_name_lookup(false);
    b.build()
}

/// One stage's store data.
pub struct StageState {
    pub(crate) name: String,
    pub(crate) wasi: WasiCtx,
    pub(crate) table: ResourceTable,
    pub(crate) limits: StoreLimits,
    /// The running call's CPU deadline and wall-clock bound.
    pub(crate) budget: Option<super::budget::CallBudget>,
    /// Keeps the epoch ticker running while a call is in flight.
    pub(crate) ticker: std::sync::Arc<super::ticker::Gate>,
    pub(crate) in_flight: Option<super::ticker::InFlight>,
}

impl WasiView for StageState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl StageState {
    /// `host.log` of every contract version: a line on the host's log,
    /// tagged with the stage's name.
    pub(crate) fn log(&mut self, level: Level, message: &str) {
        let plugin = self.name.as_str();
        match level {
            Level::Trace => tracing::trace!(plugin, "{message}"),
            Level::Debug => tracing::debug!(plugin, "{message}"),
            Level::Info => tracing::info!(plugin, "{message}"),
            Level::Warn => tracing::warn!(plugin, "{message}"),
            Level::Error => tracing::error!(plugin, "{message}"),
        }
    }
}
