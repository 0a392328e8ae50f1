//! WASI without waiting. A stage runs on the frame thread, and epoch
//! interruption stops guest code, not a host call that blocks: so every WASI
//! call that could wait is answered at once or traps. With the clocks frozen,
//! time never passes: a clock subscription for a later instant is never ready,
//! and `poll` or `block` on pollables none of which is ready traps instead of
//! waiting (a sleep would never end). Reading stdin traps too: stages get
//! their input through the contract only.

use wasmtime::component::{HasData, Linker, Resource, ResourceTable};
use wasmtime_wasi::p2::bindings::clocks::monotonic_clock;
use wasmtime_wasi::p2::bindings::sync::io::poll;
use wasmtime_wasi::p2::{subscribe, DynPollable, InputStream, Pollable, StreamError, StreamResult};

use super::sandbox::StageState;

/// What the frozen monotonic clock always reads.
pub const FROZEN_NOW: u64 = 0;
/// Resolution the frozen clocks announce: one second, in nanoseconds.
pub const FROZEN_RESOLUTION_NS: u64 = 1_000_000_000;

/// The trap of a call that would wait.
pub fn would_wait(what: &str) -> wasmtime::Error {
    wasmtime::format_err!(
        "{what} would wait, and a stage may never block (its clock is frozen; time is `frame-info.timestamp-ms`)"
    )
}

/// Replace the waiting parts of the WASI already in `linker`: `wasi:io/poll`
/// and the subscriptions of `wasi:clocks/monotonic-clock`.
pub fn add_to_linker(linker: &mut Linker<StageState>) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    poll::add_to_linker::<StageState, NoWait>(linker, |s| NoWaitView {
        table: &mut s.table,
    })?;
    monotonic_clock::add_to_linker::<StageState, NoWait>(linker, |s| NoWaitView {
        table: &mut s.table,
    })?;
    linker.allow_shadowing(false);
    Ok(())
}

struct NoWait;
impl HasData for NoWait {
    type Data<'a> = NoWaitView<'a>;
}

struct NoWaitView<'a> {
    table: &'a mut ResourceTable,
}

/// Always ready: a subscription for now or the past.
struct Now;
#[wasmtime_wasi::async_trait]
impl Pollable for Now {
    async fn ready(&mut self) {}
}

/// Never ready: a subscription for an instant the frozen clock never reaches.
struct Never;
#[wasmtime_wasi::async_trait]
impl Pollable for Never {
    async fn ready(&mut self) {
        std::future::pending::<()>().await
    }
}

impl NoWaitView<'_> {
    fn ready_now(&mut self, p: &Resource<DynPollable>) -> wasmtime::Result<bool> {
        poll::HostPollable::ready(&mut *self.table, Resource::new_borrow(p.rep()))
    }

    fn subscribe_after(&mut self, nanos: u64) -> wasmtime::Result<Resource<DynPollable>> {
        if nanos == 0 {
            let r = self.table.push(Now)?;
            Ok(subscribe(self.table, r)?)
        } else {
            let r = self.table.push(Never)?;
            Ok(subscribe(self.table, r)?)
        }
    }
}

impl poll::Host for NoWaitView<'_> {
    fn poll(&mut self, pollables: Vec<Resource<DynPollable>>) -> wasmtime::Result<Vec<u32>> {
        if pollables.is_empty() {
            return Err(wasmtime::format_err!("empty poll list"));
        }
        let mut ready = Vec::new();
        for (i, p) in pollables.iter().enumerate() {
            if self.ready_now(p)? {
                ready.push(u32::try_from(i)?);
            }
        }
        if ready.is_empty() {
            return Err(would_wait(
                "`wasi:io/poll.poll` on pollables none of which is ready",
            ));
        }
        Ok(ready)
    }
}

impl poll::HostPollable for NoWaitView<'_> {
    fn ready(&mut self, p: Resource<DynPollable>) -> wasmtime::Result<bool> {
        self.ready_now(&p)
    }
    fn block(&mut self, p: Resource<DynPollable>) -> wasmtime::Result<()> {
        if self.ready_now(&p)? {
            Ok(())
        } else {
            Err(would_wait(
                "`wasi:io/poll.pollable.block` on a pollable that is not ready",
            ))
        }
    }
    fn drop(&mut self, p: Resource<DynPollable>) -> wasmtime::Result<()> {
        poll::HostPollable::drop(&mut *self.table, p)
    }
}

impl monotonic_clock::Host for NoWaitView<'_> {
    fn now(&mut self) -> wasmtime::Result<u64> {
        Ok(FROZEN_NOW)
    }
    fn resolution(&mut self) -> wasmtime::Result<u64> {
        Ok(FROZEN_RESOLUTION_NS)
    }
    fn subscribe_instant(&mut self, when: u64) -> wasmtime::Result<Resource<DynPollable>> {
        self.subscribe_after(when.saturating_sub(FROZEN_NOW))
    }
    fn subscribe_duration(&mut self, nanos: u64) -> wasmtime::Result<Resource<DynPollable>> {
        self.subscribe_after(nanos)
    }
}

/// Stdin of a stage: always "ready", and any read traps.
pub struct NoStdin;

impl wasmtime_wasi::cli::IsTerminal for NoStdin {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl wasmtime_wasi::cli::StdinStream for NoStdin {
    fn async_stream(&self) -> Box<dyn tokio::io::AsyncRead + Send + Sync> {
        Box::new(tokio::io::empty())
    }
    fn p2_stream(&self) -> Box<dyn InputStream> {
        Box::new(NoStdinStream)
    }
}

struct NoStdinStream;

#[wasmtime_wasi::async_trait]
impl Pollable for NoStdinStream {
    async fn ready(&mut self) {}
}

impl InputStream for NoStdinStream {
    fn read(&mut self, _size: usize) -> StreamResult<bytes::Bytes> {
        Err(StreamError::trap(
            "reading stdin: a stage has no input but what the contract passes in",
        ))
    }
}
