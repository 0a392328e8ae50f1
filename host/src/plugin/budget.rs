//! A call's deadline measured on the stage's own CPU time: the thread that
//! calls the stage is the one that runs it, so the CPU clock of that thread
//! counts the stage's work and nothing else (other processes keeping the
//! cores busy no longer fault a stage that needs well under a millisecond).
//! A stage that does not use the CPU and still does not return (it blocks)
//! meets a separate, larger wall-clock bound. Both are checked in the store's
//! epoch-deadline callback, which the epoch ticker drives.

use std::time::{Duration, Instant};

use thiserror::Error;
use wasmtime::{Store, UpdateDeadline};

use super::sandbox::StageState;
use super::EPOCH_TICK;

/// The wall-clock bound of a call is this many times its CPU deadline.
pub const WALL_FACTOR: u32 = 20;

/// Why a call was stopped (the trap's error, see [`super::stage`]'s trap text).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum Exceeded {
    #[error("deadline of {} ms exceeded (CPU time)", .0.as_millis())]
    Cpu(Duration),
    #[error("wall-clock bound of {} ms exceeded (the stage blocked)", .0.as_millis())]
    Wall(Duration),
}

/// The running call's start and limits.
#[derive(Debug, Clone, Copy)]
pub struct CallBudget {
    cpu_start: Duration,
    cpu_limit: Duration,
    wall_start: Instant,
    wall_limit: Duration,
}

impl CallBudget {
    fn start(cpu_limit: Duration) -> CallBudget {
        CallBudget {
            cpu_start: thread_cpu(),
            cpu_limit,
            wall_start: Instant::now(),
            wall_limit: wall_bound(cpu_limit),
        }
    }

    /// Stop the call, or the ticks until the next look.
    fn check(&self) -> Result<u64, Exceeded> {
        let cpu = thread_cpu().saturating_sub(self.cpu_start);
        if cpu >= self.cpu_limit {
            return Err(Exceeded::Cpu(self.cpu_limit));
        }
        let wall = self.wall_start.elapsed();
        if wall >= self.wall_limit {
            return Err(Exceeded::Wall(self.wall_limit));
        }
        // The CPU left cannot be spent in less wall time than itself.
        let next = (self.cpu_limit - cpu).min(self.wall_limit - wall);
        Ok(ticks(next))
    }
}

/// The wall-clock bound that goes with a CPU deadline.
pub fn wall_bound(cpu_limit: Duration) -> Duration {
    cpu_limit.saturating_mul(WALL_FACTOR)
}

/// Epoch ticks for a duration (rounded up, plus the tick already running).
pub fn ticks(d: Duration) -> u64 {
    let tick = EPOCH_TICK.as_micros().max(1);
    (d.as_micros().div_ceil(tick) as u64).max(1) + 1
}

/// CPU time the calling thread has used (`CLOCK_THREAD_CPUTIME_ID`).
pub fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; the clock id is a constant
    // every Linux kernel knows.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return Duration::ZERO;
    }
    Duration::new(
        u64::try_from(ts.tv_sec).unwrap_or(0),
        u32::try_from(ts.tv_nsec).unwrap_or(0),
    )
}

/// Check every call of this store against its budget (once, when the store is made).
pub fn install(store: &mut Store<StageState>) {
    store.epoch_deadline_callback(|ctx| {
        let Some(budget) = ctx.data().budget else {
            return Ok(UpdateDeadline::Interrupt);
        };
        match budget.check() {
            Ok(next) => Ok(UpdateDeadline::Continue(next)),
            Err(e) => Err(wasmtime::Error::new(e)),
        }
    });
}

/// Start a call of at most `cpu_limit` of CPU time (and [`wall_bound`] of it
/// on the clock), on the calling thread.
pub fn arm(store: &mut Store<StageState>, cpu_limit: Duration) {
    let state = store.data_mut();
    state.budget = Some(CallBudget::start(cpu_limit));
    if state.in_flight.is_none() {
        state.in_flight = Some(state.ticker.enter());
    }
    // CPU time never runs ahead of the clock: the first look is due after
    // the CPU deadline has passed on the clock.
    store.set_epoch_deadline(ticks(cpu_limit));
}

/// The call armed last has returned: the epoch ticker may sleep.
pub fn disarm(store: &mut Store<StageState>) {
    store.data_mut().in_flight = None;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_thread_cpu_clock_does_not_count_sleep() {
        let before = thread_cpu();
        std::thread::sleep(Duration::from_millis(50));
        let slept = thread_cpu().saturating_sub(before);
        assert!(slept < Duration::from_millis(25), "{slept:?}");
        let t = Instant::now();
        let mut x = 0u64;
        while t.elapsed() < Duration::from_millis(30) {
            x = std::hint::black_box(x.wrapping_add(1));
        }
        assert!(thread_cpu() > before, "spinning counts");
    }

    #[test]
    fn a_budget_ends_on_cpu_time_and_on_the_wall_bound() {
        let b = CallBudget::start(Duration::ZERO);
        assert_eq!(b.check(), Err(Exceeded::Cpu(Duration::ZERO)));
        let mut b = CallBudget::start(Duration::from_secs(10));
        assert!(b.check().is_ok());
        if let Some(earlier) = b.wall_start.checked_sub(b.wall_limit) {
            b.wall_start = earlier;
            assert_eq!(b.check(), Err(Exceeded::Wall(b.wall_limit)));
        }
    }
}
