//! The epoch ticker: advances the engine's epoch every [`EPOCH_TICK`] while a
//! call into a stage is in flight, and sleeps (parked) while none is, so an
//! idle or between-frames engine costs no wake-ups (issue 22: ticking 200
//! times a second cost ~0.17 ms of CPU a frame, mostly context switches).
//!
//! A call holds an [`InFlight`] from just before it starts (its deadline is
//! armed then) until it returns; the first one wakes the ticker. A deadline
//! counts ticks, and ticks only pass while some call is in flight, so a
//! call's deadline is met at the same time as with a ticker that never
//! sleeps, give or take one tick.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::{JoinHandle, Thread};

use wasmtime::{Engine, EngineWeak};

use super::EPOCH_TICK;

/// What the ticker and the calls share.
#[derive(Debug, Default)]
pub struct Gate {
    in_flight: AtomicUsize,
    parked: AtomicBool,
    stop: AtomicBool,
    ticks: AtomicU64,
    thread: OnceLock<Thread>,
}

impl Gate {
    /// A call starts: the ticker runs until the returned guard is dropped.
    pub fn enter(self: &Arc<Self>) -> InFlight {
        // SeqCst pairs with the ticker's `parked` store then `in_flight`
        // load: either it sees this call, or this sees it parked.
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        if self.parked.load(Ordering::SeqCst) {
            if let Some(t) = self.thread.get() {
                t.unpark();
            }
        }
        InFlight(self.clone())
    }

    /// Epoch increments so far (for tests and the curious).
    pub fn ticks(&self) -> u64 {
        self.ticks.load(Ordering::Relaxed)
    }

    /// Whether the ticker sleeps until the next call.
    pub fn is_parked(&self) -> bool {
        self.parked.load(Ordering::SeqCst)
    }

    fn run(&self, engine: EngineWeak) {
        while !self.stop.load(Ordering::SeqCst) {
            if self.in_flight.load(Ordering::SeqCst) == 0 {
                self.parked.store(true, Ordering::SeqCst);
                // Re-checked after saying so: a call that entered before
                // the store above is seen here; one after it unparks us.
                if self.in_flight.load(Ordering::SeqCst) == 0 && !self.stop.load(Ordering::SeqCst) {
                    std::thread::park();
                }
                self.parked.store(false, Ordering::SeqCst);
                continue;
            }
            std::thread::sleep(EPOCH_TICK);
            match engine.upgrade() {
                Some(engine) => engine.increment_epoch(),
                None => break,
            }
            self.ticks.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// A call in flight: keeps the ticker running while it lives.
#[derive(Debug)]
pub struct InFlight(Arc<Gate>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Owns the ticker thread; stops and joins it when dropped.
pub struct Ticker {
    gate: Arc<Gate>,
    thread: Option<JoinHandle<()>>,
}

impl Ticker {
    pub fn start(engine: &Engine) -> std::io::Result<Ticker> {
        let gate = Arc::new(Gate::default());
        let (g, weak) = (gate.clone(), engine.weak());
        let thread = std::thread::Builder::new()
            .name("epoch-ticker".into())
            .spawn(move || g.run(weak))?;
        // Set before any call can enter (the host is not handed out yet).
        let _ = gate.thread.set(thread.thread().clone());
        Ok(Ticker {
            gate,
            thread: Some(thread),
        })
    }

    pub fn gate(&self) -> &Arc<Gate> {
        &self.gate
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.gate.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            t.thread().unpark();
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    fn wait_for(what: &str, cond: impl Fn() -> bool) {
        let t = Instant::now();
        while !cond() {
            assert!(t.elapsed() < Duration::from_secs(30), "timed out: {what}");
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    #[test]
    fn it_ticks_only_while_a_call_is_in_flight() {
        let engine = Engine::default();
        let ticker = Ticker::start(&engine).expect("thread");
        let gate = ticker.gate().clone();
        wait_for("parked at start", || gate.is_parked());
        assert_eq!(gate.ticks(), 0, "no call yet: no tick");
        let call = gate.enter();
        wait_for("three ticks during a call", || gate.ticks() >= 3);
        drop(call);
        wait_for("parked after the call", || gate.is_parked());
        let parked_at = gate.ticks();
        // Nothing in flight: however long this sleeps, no tick comes.
        std::thread::sleep(EPOCH_TICK * 4);
        assert_eq!(gate.ticks(), parked_at);
        // Two calls at once: ticking goes on until both are done.
        let (a, b) = (gate.enter(), gate.enter());
        drop(a);
        wait_for("ticks with one call left", || gate.ticks() >= parked_at + 2);
        drop(b);
        wait_for("parked again", || gate.is_parked());
        drop(ticker);
    }
}
