//! hostile: a stats stage that misbehaves on purpose (see tests/guests/README.md).

use edgepipe_sdk::{parse_setting, setting, Detection, FrameInfo, Settings, Stat, Stats};

const MODES: [&str; 9] = [
    "ok",
    "loop",
    "alloc",
    "panic",
    "fail-restore",
    "sleep",
    "poll-clock",
    "stdin",
    "loop-configure",
];

/// How long the blocking modes ask to wait: far longer than any test runs.
const WAIT_SECS: u64 = 600;

#[derive(Default)]
struct Hostile {
    mode: String,
    at: Option<u64>,
    seen: u64,
    /// Busy work in every `update` (a well-behaved stage that needs some CPU).
    update_spin: u64,
    /// `save` calls so far, reported as the stat `saves` when `report_saves` is on.
    saves: std::cell::Cell<u64>,
    report_saves: bool,
}

impl Stats for Hostile {
    fn configure(&mut self, settings: Settings) -> Result<(), String> {
        self.mode = setting(&settings, "mode").unwrap_or("ok").to_string();
        if !MODES.contains(&self.mode.as_str()) {
            return Err(format!("setting `mode`: unknown mode {:?}", self.mode));
        }
        self.at = match setting(&settings, "at") {
            Some(_) => Some(parse_setting(&settings, "at", 0u64)?),
            None => None,
        };
        // Busy work in every `configure` (a guest slow to start, like a large
        // Python or JavaScript runtime, but measurable from a Rust guest).
        self.update_spin = parse_setting(&settings, "update_spin", 0u64)?;
        self.report_saves = parse_setting(&settings, "report_saves", false)?;
        let spin: u64 = parse_setting(&settings, "configure_spin", 0u64)?;
        let mut acc = 0u64;
        for i in 0..spin {
            acc = std::hint::black_box(acc.wrapping_add(i));
        }
        if self.mode == "loop-configure" {
            loop {
                std::hint::black_box(&mut self.seen);
            }
        }
        Ok(())
    }

    fn update(&mut self, info: FrameInfo, _detections: Vec<Detection>) -> Vec<Stat> {
        let mut acc = 0u64;
        for i in 0..self.update_spin {
            acc = std::hint::black_box(acc.wrapping_add(i));
        }
        if self.at.is_none_or(|at| at == info.index) {
            match self.mode.as_str() {
                "loop" => loop {
                    std::hint::black_box(&mut self.seen);
                },
                "alloc" => {
                    let big = vec![1u8; 1 << 30];
                    std::hint::black_box(&big);
                }
                "panic" => panic!("hostile guest panics on frame {}", info.index),
                // wasi:clocks subscribe-duration + pollable.block
                "sleep" => std::thread::sleep(std::time::Duration::from_secs(WAIT_SECS)),
                // wasi:io/poll.poll on a clock pollable (libc's poll with a timeout)
                "poll-clock" => {
                    let timeout_ms = i32::try_from(WAIT_SECS * 1000).unwrap_or(i32::MAX);
                    // SAFETY: no descriptors (null, 0); only the timeout is used.
                    let n = unsafe { libc::poll(std::ptr::null_mut(), 0, timeout_ms) };
                    std::hint::black_box(n);
                }
                // wasi:cli/stdin + input-stream.blocking-read
                "stdin" => {
                    let mut line = String::new();
                    let n = std::io::stdin().read_line(&mut line);
                    std::hint::black_box((n.ok(), &line));
                }
                _ => {}
            }
        }
        self.seen += 1;
        let mut out = vec![Stat::json("seen", self.seen)];
        if self.report_saves {
            out.push(Stat::json("saves", self.saves.get()));
        }
        out
    }

    fn save(&self) -> Vec<u8> {
        self.saves.set(self.saves.get() + 1);
        self.seen.to_le_bytes().to_vec()
    }

    fn restore(&mut self, state: Vec<u8>) -> Result<(), String> {
        if self.mode == "fail-restore" {
            return Err("hostile guest refuses every state".into());
        }
        if state.is_empty() {
            return Ok(());
        }
        let bytes: [u8; 8] = state
            .as_slice()
            .try_into()
            .map_err(|_| format!("expected 8 bytes of state, got {}", state.len()))?;
        self.seen = u64::from_le_bytes(bytes);
        Ok(())
    }
}

edgepipe_sdk::export_stats!(Hostile);
