//! Guest memory of a stage over many frames, for `plugin bench --stage`: the
//! size of its linear memories after 10, 100 and 500 calls of its world's
//! per-frame function (each followed by the checkpoint `save`, as a running
//! pipeline does). Flat is right; growth per call means the stage will reach
//! its memory cap and fault (Python and JavaScript draw stages once kept one
//! frame per call: see plugin_pyfix.rs). The stage runs in its own store
//! without the stage's cap (up to `CEILING`), so growth past the cap shows as
//! a number instead of a fault; a call may run `CALL_LIMIT` at most.

use std::time::Duration;

use wasmtime::component::{HasSelf, Linker, ResourceTable};
use wasmtime::{ResourceLimiter, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::commands::plugin_bench::Frame;
use crate::plugin::bindings::{self as wit, latest, Level};
use crate::plugin::{cache, PluginHost, StageKind, EPOCH_TICK};

/// Frames after which the memory size is read.
pub const CHECKPOINTS: [usize; 3] = [10, 100, 500];
/// Guest memory the probe allows, all linear memories together.
const CEILING: usize = 2 << 30;
/// Longest call the probe waits for (an endless loop ends the probe).
const CALL_LIMIT: Duration = Duration::from_secs(5);

/// Store data: an empty WASI context, and the memory the guest holds.
struct Probe {
    wasi: WasiCtx,
    table: ResourceTable,
    /// Bytes of all linear memories together.
    bytes: usize,
}

impl WasiView for Probe {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}
impl latest::stats::edgepipe::plugin::types::Host for Probe {}
impl latest::stats::edgepipe::plugin::host::Host for Probe {
    fn log(&mut self, _level: Level, _message: String) {}
}
impl ResourceLimiter for Probe {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let total = self.bytes + desired.saturating_sub(current);
        if total > CEILING {
            wasmtime::bail!("guest memory past {} MiB", CEILING >> 20);
        }
        self.bytes = total;
        Ok(true)
    }
    fn table_growing(
        &mut self,
        _current: usize,
        _desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(true)
    }
}

enum World {
    Stats(latest::stats::Stats),
    Topics(latest::topics::Topics),
    Draw(latest::draw::Draw),
    Overlay(latest::overlay::Overlay),
}

/// Bytes of guest memory after each of `CHECKPOINTS` frames (the recorded
/// frames over and over), for a component of the newest contract.
pub(crate) fn memory_after(
    host: &PluginHost,
    bytes: &[u8],
    kind: StageKind,
    frames: &[Frame],
    stats: &[Vec<wit::Stat>],
) -> wasmtime::Result<Vec<usize>> {
    if frames.is_empty() || frames.len() != stats.len() {
        wasmtime::bail!("no frames");
    }
    let engine = host.engine();
    // The epoch ticks (and each call's deadline can come) while this runs.
    let _ticking = host.ticker().enter();
    let (component, _) =
        host.cache()
            .load_or_compile(engine, bytes, &cache::content_hash(bytes))?;
    let mut linker = Linker::<Probe>::new(engine);
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker)?;
    latest::stats::Stats::add_to_linker::<Probe, HasSelf<Probe>>(&mut linker, |p| p)?;
    let mut store = Store::new(
        engine,
        Probe {
            wasi: WasiCtx::builder().build(),
            table: ResourceTable::new(),
            bytes: 0,
        },
    );
    store.limiter(|p| p);
    // The host's engine interrupts on epochs: each call gets CALL_LIMIT.
    let ticks = (CALL_LIMIT.as_micros() / EPOCH_TICK.as_micros().max(1)) as u64;
    store.set_epoch_deadline(ticks);
    let instance = linker.instantiate(&mut store, &component)?;
    let world = match kind {
        StageKind::Stats => World::Stats(latest::stats::Stats::new(&mut store, &instance)?),
        StageKind::Topics => World::Topics(latest::topics::Topics::new(&mut store, &instance)?),
        StageKind::Draw => match latest::overlay::Overlay::new(&mut store, &instance) {
            Ok(o) => World::Overlay(o),
            Err(_) => World::Draw(latest::draw::Draw::new(&mut store, &instance)?),
        },
    };
    store.set_epoch_deadline(ticks);
    let configured = match &world {
        World::Stats(w) => w.call_configure(&mut store, &[])?,
        World::Topics(w) => w.call_configure(&mut store, &[])?,
        World::Draw(w) => w.call_configure(&mut store, &[])?,
        World::Overlay(w) => w.call_configure(&mut store, &[])?,
    };
    configured.map_err(|e| wasmtime::format_err!("configure refused: {e}"))?;
    let mut sizes = Vec::new();
    for n in 0..CHECKPOINTS[CHECKPOINTS.len() - 1] {
        let i = n % frames.len();
        let (f, s) = (&frames[i], &stats[i]);
        let info = wit::FrameInfo {
            index: n as u64,
            ..f.info.clone()
        };
        store.set_epoch_deadline(ticks);
        match &world {
            World::Stats(w) => drop(w.call_update(&mut store, &info, &f.dets)?),
            World::Topics(w) => drop(w.call_route(&mut store, &info, s)?),
            World::Draw(w) => drop(w.call_draw(&mut store, &info, &f.pixels, &f.dets, s)?),
            World::Overlay(w) => drop(w.call_overlay(&mut store, &info, &f.dets, s)?),
        }
        drop(match &world {
            World::Stats(w) => w.call_save(&mut store)?,
            World::Topics(w) => w.call_save(&mut store)?,
            World::Draw(w) => w.call_save(&mut store)?,
            World::Overlay(w) => w.call_save(&mut store)?,
        });
        if CHECKPOINTS.contains(&(n + 1)) {
            sizes.push(store.data().bytes);
        }
    }
    Ok(sizes)
}
