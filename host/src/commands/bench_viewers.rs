//! `edgepipe bench --viewers N`: what N browsers watching the live view's
//! MJPEG stream cost the pipeline. Runs without and with the viewers
//! alternate (the machine's drift hits both alike); the report gives the
//! median fps of each, their ratio, the frames the viewers got, and the JPEG
//! encoding time of the clip's frames at the stream's default quality.

use std::fmt::Write as _;

use opencv::prelude::*;
use std::io::Read;
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::commands::bench_compare::{self, median, ROUNDS};
use crate::commands::cli::BenchArgs;
use crate::error::{ExitKind, Failure, OrExit};
use crate::live::LiveSettings;

/// Frames of the clip whose JPEG encoding is timed.
pub const ENCODE_FRAMES: usize = 100;

/// A viewer: reads the stream as a browser would, counting bytes and parts.
fn viewer(addr: SocketAddr, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<u64> {
    std::thread::spawn(move || {
        let mut s = loop {
            if stop.load(Ordering::Relaxed) {
                return 0;
            }
            match TcpStream::connect(addr) {
                Ok(s) => break s,
                Err(_) => std::thread::sleep(Duration::from_millis(20)),
            }
        };
        let _ =
            std::io::Write::write_all(&mut s, b"GET /stream.mjpeg HTTP/1.1\r\nHost: bench\r\n\r\n");
        let mut buf = vec![0u8; 256 * 1024];
        let mut parts = 0u64;
        while let Ok(n) = s.read(&mut buf) {
            if n == 0 {
                break;
            }
            parts += buf[..n]
                .windows(4)
                .filter(|w| w == b"\xFF\xD8\xFF\xE0" || w == b"\xFF\xD8\xFF\xDB")
                .count() as u64;
        }
        parts
    })
}

/// Median ms to encode the clip's first frames as the stream does.
fn encode_ms(input: &str) -> Result<(f64, u32, u32), Failure> {
    let mut cap = crate::capture::Capture::open(input).or_exit(ExitKind::Input)?;
    let (w, h) = (cap.width(), cap.height());
    let mut ms = Vec::with_capacity(ENCODE_FRAMES);
    for _ in 0..ENCODE_FRAMES {
        let Some(frame) = cap.next_frame().or_exit(ExitKind::Input)? else {
            break;
        };
        let bytes = frame.mat.data_bytes().or_exit(ExitKind::Internal)?;
        let t = Instant::now();
        crate::live::encoder::encode(bytes, w, h, 0, crate::live::encoder::DEFAULT_QUALITY)
            .or_exit(ExitKind::Internal)?;
        ms.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    Ok((median(ms), w, h))
}

/// Measure and return the report (for stdout).
pub fn run(args: &BenchArgs, viewers: usize) -> Result<String, Failure> {
    if args.frames == 0 || viewers == 0 {
        return Err(Failure::msg(
            ExitKind::Config,
            "bench: --frames and --viewers must be at least 1",
        ));
    }
    let mut settings = bench_compare::settings(args)?;
    let (mut without, mut with, mut got) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        for on in [false, true] {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .or_exit(ExitKind::Output)?;
            settings.runtime.live = Some(LiveSettings {
                listen: port,
                explicit: true,
                max_viewers: viewers.max(1),
                token: None,
            });
            let stop = Arc::new(AtomicBool::new(false));
            let handles: Vec<_> = if on {
                (0..viewers).map(|_| viewer(port, stop.clone())).collect()
            } else {
                Vec::new()
            };
            tracing::info!(
                round,
                viewers = if on { viewers } else { 0 },
                "bench: pipeline"
            );
            let s = bench_compare::run(args, &settings);
            stop.store(true, Ordering::Relaxed);
            let parts: Vec<u64> = handles.into_iter().map(|h| h.join().unwrap_or(0)).collect();
            let s = s?;
            if on {
                with.push(s.fps());
                got.push(parts.iter().sum::<u64>() as f64 / viewers as f64);
            } else {
                without.push(s.fps());
            }
        }
    }
    let input = bench_compare::camera(&settings)?.input.clone();
    let (enc, w, h) = encode_ms(&input)?;
    let (a, b) = (median(without.clone()), median(with.clone()));
    let ratio = if a > 0.0 { b / a } else { 0.0 };
    let list = |v: &[f64]| {
        v.iter()
            .map(|f| format!("{f:.2}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut o = String::new();
    let _ = writeln!(o, "edgepipe bench --viewers {viewers}: {} frames per run, {} session(s) x {} request(s) x {} thread(s), {ROUNDS} rounds alternating", args.frames, settings.model.sessions, settings.model.requests, settings.model.threads);
    let _ = writeln!(
        o,
        "   fps without viewers: {} -> median {a:.2}",
        list(&without)
    );
    let _ = writeln!(
        o,
        "   fps with {viewers} MJPEG viewers: {} -> median {b:.2}",
        list(&with)
    );
    let _ = writeln!(
        o,
        "   with / without: {ratio:.3} (target >= 0.95: {})",
        if ratio >= 0.95 { "met" } else { "missed" }
    );
    let _ = writeln!(o, "   JPEG parts each viewer got per run: {}", list(&got));
    let _ = writeln!(o, "   JPEG encode (quality {}), {w}x{h}, median of {ENCODE_FRAMES} frames: {enc:.2} ms (target <= 3 ms: {})", crate::live::encoder::DEFAULT_QUALITY, if enc <= 3.0 { "met" } else { "missed" });
    Ok(o)
}
