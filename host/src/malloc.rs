//! glibc malloc settings for the process, set once at start: fewer arenas and
//! freed memory handed back to the system sooner (issue 22, peak memory).
//!
//! By default glibc gives busy threads arenas of their own (up to 8 per core)
//! and keeps freed memory at the top of each heap. Here the OpenVINO
//! sessions, the capture thread and the stages each left tens of MiB behind
//! in their own arena: one arena and a 128 KiB trim threshold took a default
//! run's peak from 347 to 312 MiB (bench/memmap.py, README "Throughput").
//! Most per-frame buffers are reused (frames, tensors, ONNX Runtime's arena),
//! so the one arena sees little traffic. A setting given in the environment
//! (`MALLOC_ARENA_MAX`, `MALLOC_TRIM_THRESHOLD_`, `MALLOC_MMAP_THRESHOLD_`,
//! read by glibc itself) is left as it is.
//!
//! Blocks up to 4 MiB come from the heap, and up to 4 MiB of free memory
//! stays at its top (issue 22, throughput): setting the trim threshold
//! turns off glibc's adaptive mmap threshold, so the frame a draw stage
//! hands back (1.3 MB at 768x576, a new `Vec` each frame) was a fresh mmap,
//! 325 page faults and an munmap every frame: 60% of the process's page
//! faults, and 10 ms of the stages thread's frame when both cores were busy
//! (0.7 ms without them). Peak memory of 150 frames of the clip: +1.4 and
//! +2.8 MiB (two runs); 8 MiB thresholds cost +6.5 and +13.5 MiB.

/// One arena for the whole process.
pub const ARENA_MAX: i32 = 1;
/// Free memory above this many bytes at the top of the heap goes back.
pub const TRIM_THRESHOLD: i32 = 4 * 1024 * 1024;
/// Blocks of this many bytes or more get an mmap of their own (a 720p BGR
/// frame, 2.8 MB, comes from the heap; a 1080p one, 6.2 MB, does not).
pub const MMAP_THRESHOLD: i32 = 4 * 1024 * 1024;

/// `(glibc environment variable, mallopt parameter, value)` for the settings
/// the environment does not already give.
pub fn wanted(env: impl Fn(&str) -> bool) -> Vec<(&'static str, i32, i32)> {
    [
        ("MALLOC_ARENA_MAX", param::ARENA_MAX, ARENA_MAX),
        (
            "MALLOC_TRIM_THRESHOLD_",
            param::TRIM_THRESHOLD,
            TRIM_THRESHOLD,
        ),
        (
            "MALLOC_MMAP_THRESHOLD_",
            param::MMAP_THRESHOLD,
            MMAP_THRESHOLD,
        ),
    ]
    .into_iter()
    .filter(|(name, _, _)| !env(name))
    .collect()
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
mod param {
    pub const ARENA_MAX: i32 = libc::M_ARENA_MAX;
    pub const TRIM_THRESHOLD: i32 = libc::M_TRIM_THRESHOLD;
    pub const MMAP_THRESHOLD: i32 = libc::M_MMAP_THRESHOLD;
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
mod param {
    pub const ARENA_MAX: i32 = -8;
    pub const TRIM_THRESHOLD: i32 = -1;
    pub const MMAP_THRESHOLD: i32 = -3;
}

/// Apply [`wanted`]; call first thing in `main`, before any thread starts.
/// A setting glibc refuses is logged and skipped.
pub fn tune() {
    for (name, p, value) in wanted(|n| std::env::var_os(n).is_some()) {
        if !set(p, value) {
            tracing::debug!(setting = name, value, "malloc setting refused");
        }
    }
}

/// Hand the free memory inside the heap back to the system (glibc's
/// `malloc_trim(0)`, which also releases free pages between live blocks, not
/// only at the top). Called once a camera's start-up is over and before its
/// frames flow: building the ONNX Runtime/OpenVINO session frees most of
/// what it allocated, and those pages stayed resident for the whole run
/// (issue 22, peak memory). Returns whether memory was released.
pub fn release_free() -> bool {
    let t = std::time::Instant::now();
    let released = trim();
    tracing::debug!(
        released,
        ms = t.elapsed().as_secs_f64() * 1000.0,
        "free heap memory handed back"
    );
    released
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn trim() -> bool {
    // SAFETY: malloc_trim only returns free memory of glibc's arenas to the
    // system; it takes each arena's lock and is safe from any thread.
    unsafe { libc::malloc_trim(0) == 1 }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn trim() -> bool {
    false
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn set(p: i32, value: i32) -> bool {
    // SAFETY: mallopt only changes glibc's allocator parameters; it is
    // called before any other thread of this process starts.
    unsafe { libc::mallopt(p, value) == 1 }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn set(_p: i32, _value: i32) -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_the_environment_gives_are_left_alone() {
        let all = wanted(|_| false);
        assert_eq!(
            all.iter().map(|(n, _, v)| (*n, *v)).collect::<Vec<_>>(),
            [
                ("MALLOC_ARENA_MAX", ARENA_MAX),
                ("MALLOC_TRIM_THRESHOLD_", TRIM_THRESHOLD),
                ("MALLOC_MMAP_THRESHOLD_", MMAP_THRESHOLD)
            ]
        );
        let some = wanted(|n| n == "MALLOC_ARENA_MAX");
        assert_eq!(some.len(), 2);
        assert_eq!(some[0].0, "MALLOC_TRIM_THRESHOLD_");
        assert!(wanted(|_| true).is_empty());
    }
}
