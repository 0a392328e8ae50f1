//! Panics are bugs, and still end a run in a defined way: a panic inside
//! [`guarded`] becomes an error value (the engine stops its threads and the
//! process exits 1 with one `edgepipe: error:` line); a panic on any other
//! thread (a library's) prints that line and exits 1 at once, so nothing can
//! hang waiting for a thread that is gone.

use std::cell::RefCell;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Exit status of a run ended by a panic (see [`crate::error::ExitKind::Internal`]).
pub const PANIC_EXIT: i32 = 1;

thread_local! {
    /// Set while this thread runs inside [`guarded`]; the hook leaves the
    /// message here instead of printing it.
    static GUARDED: RefCell<Option<Option<String>>> = const { RefCell::new(None) };
}

/// Install the process-wide hook. Call once, first thing in `main`.
pub fn install_hook() {
    std::panic::set_hook(Box::new(|info| {
        let msg = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown".into());
        let at = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        let thread = std::thread::current()
            .name()
            .unwrap_or("unnamed")
            .to_string();
        let text = format!("internal error (bug) in thread '{thread}': {msg}{at}");
        let kept = GUARDED.with(|g| match g.borrow_mut().as_mut() {
            Some(slot) => {
                *slot = Some(text.clone());
                true
            }
            None => false,
        });
        if !kept {
            eprintln!("edgepipe: error: {text}");
            std::process::exit(PANIC_EXIT);
        }
    }));
}

/// Run `f`; a panic inside it comes back as `Err` with the panic's message,
/// thread and place.
pub fn guarded<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    let outer = GUARDED.with(|g| g.borrow_mut().replace(None));
    let r = catch_unwind(AssertUnwindSafe(f));
    let text = GUARDED
        .with(|g| std::mem::replace(&mut *g.borrow_mut(), outer))
        .flatten();
    r.map_err(|payload| {
        text.unwrap_or_else(|| {
            let msg = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown".into());
            format!("internal error (bug): {msg}")
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_guarded_panic_is_an_error_value() {
        // (The hook is process-wide: not installed in the unit tests, where
        // it would end the test runner on any other test's failure.)
        let r: Result<(), String> = guarded(|| panic!("boom"));
        let e = r.unwrap_err();
        assert!(e.contains("boom") && e.contains("internal error"), "{e}");
        assert_eq!(guarded(|| 7), Ok(7));
    }
}
