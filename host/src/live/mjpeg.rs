//! `/stream.mjpeg` (multipart/x-mixed-replace: works in a plain `<img>`;
//! `?fps=&height=&quality=`) and `/snapshot.jpg`. A viewer always gets the
//! newest JPEG; when no new frame comes the last one is sent again about
//! once a second, so browsers keep showing it (Chrome shows a part only once
//! the next boundary arrives).

use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use super::encoder::{encode, Source, VariantKey, DEFAULT_QUALITY};
use super::http::{respond, stream_head, Request};
use super::Hub;

pub const BOUNDARY: &str = "edgepipe-frame";
/// The last JPEG is sent again after this long without a new one.
pub const RESEND: Duration = Duration::from_secs(1);

fn key(req: &Request, tenant: Option<&str>) -> VariantKey {
    VariantKey {
        source: tenant.map_or(Source::Operator, |t| Source::Tenant(t.to_string())),
        height: req
            .param("height")
            .and_then(|h| h.parse().ok())
            .unwrap_or(0),
        quality: req
            .param("quality")
            .and_then(|q| q.parse().ok())
            .map_or(DEFAULT_QUALITY, |q: u8| q.clamp(1, 100)),
    }
}

pub fn stream(
    mut s: &TcpStream,
    hub: &Hub,
    req: &Request,
    tenant: Option<&str>,
) -> std::io::Result<()> {
    let min_gap = req
        .param("fps")
        .and_then(|f| f.parse::<f64>().ok())
        .filter(|f| *f > 0.0)
        .map(|f| Duration::from_secs_f64(1.0 / f.min(1000.0)));
    stream_head(
        s,
        &format!("multipart/x-mixed-replace; boundary={BOUNDARY}"),
    )?;
    let watch = hub.frames.watch(key(req, tenant));
    let mut sent = 0u64;
    let mut last = Instant::now();
    while !hub.frames.is_closed() {
        if let Some(gap) = min_gap {
            let since = last.elapsed();
            if since < gap {
                std::thread::sleep(gap - since);
            }
        }
        let Some(j) = hub.frames.next(&watch, sent, RESEND) else {
            continue;
        };
        if j.seq == sent && last.elapsed() < RESEND {
            continue;
        }
        let head = format!(
            "--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {}\r\n\r\n",
            j.bytes.len()
        );
        s.write_all(head.as_bytes())?;
        s.write_all(&j.bytes)?;
        s.write_all(b"\r\n")?;
        s.flush()?;
        sent = j.seq;
        last = Instant::now();
    }
    Ok(())
}

pub fn snapshot(
    s: &TcpStream,
    hub: &Hub,
    req: &Request,
    tenant: Option<&str>,
) -> std::io::Result<()> {
    let k = key(req, tenant);
    let frame = match tenant {
        None => hub
            .frames
            .latest()
            .or_else(|| hub.frames.fresh(Duration::from_secs(2))),
        Some(id) => hub.frames.tenant_fresh(id, Duration::from_secs(2)),
    };
    let Some(frame) = frame else {
        return respond(
            s,
            "503 Service Unavailable",
            "text/plain",
            "Retry-After: 1\r\n",
            b"no frame yet\n",
        );
    };
    match encode(
        &frame,
        hub.frames.width,
        hub.frames.height,
        k.height,
        k.quality,
    ) {
        Ok(jpeg) => respond(s, "200 OK", "image/jpeg", "", &jpeg),
        Err(e) => respond(
            s,
            "500 Internal Server Error",
            "text/plain",
            "",
            format!("{e}\n").as_bytes(),
        ),
    }
}
