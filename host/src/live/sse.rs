//! `/api/events`: Server-Sent Events, one `message` event per message the
//! pipeline publishes (`{"topic":..,"payload":..}`, plugin and host events
//! included, as a subscriber to `#` gets them), a `missed` event when the
//! reader fell behind the ring, a comment every few seconds to keep proxies
//! from closing it. A tenant's stream carries only topics under its prefix.
//! The camera list's stream (several cameras) carries every camera's
//! messages, each with its `camera`.

use std::io::Write;
use std::net::TcpStream;
use std::time::Duration;

use super::bus::Bus;
use super::http::stream_head;

/// A keep-alive comment after this long without events.
pub const KEEPALIVE: Duration = Duration::from_secs(10);

/// Whether `topic` lies under `prefix` (a tenant's topics and `$events`).
pub fn under(topic: &str, prefix: &str) -> bool {
    topic
        .strip_prefix(prefix)
        .is_some_and(|r| r.is_empty() || r.starts_with('/'))
}

/// Stream `bus` until `closed()` and drained (or the client goes).
pub fn stream(
    mut s: &TcpStream,
    bus: &Bus,
    closed: &dyn Fn() -> bool,
    prefix: Option<&str>,
) -> std::io::Result<()> {
    stream_head(s, "text/event-stream")?;
    s.write_all(b"retry: 1000\n\n")?;
    s.flush()?;
    let mut next = bus.position();
    let mut out = String::new();
    loop {
        // After the run ends, what was published last still goes out.
        let closed = closed();
        let batch = bus.read(next, if closed { Duration::ZERO } else { KEEPALIVE });
        if closed && batch.items.is_empty() {
            return Ok(());
        }
        out.clear();
        if batch.missed > 0 {
            out.push_str(&format!("event: missed\ndata: {}\n\n", batch.missed));
        }
        for item in &batch.items {
            next = item.seq + 1;
            if prefix.is_some_and(|p| !under(&item.topic, p)) {
                continue;
            }
            let data = match &item.camera {
                None => serde_json::json!({"topic": &*item.topic, "payload": &*item.payload}),
                Some(c) => {
                    serde_json::json!({"camera": &**c, "topic": &*item.topic, "payload": &*item.payload})
                }
            };
            out.push_str(&format!(
                "id: {}\nevent: message\ndata: {data}\n\n",
                item.seq
            ));
        }
        if out.is_empty() {
            out.push_str(": keep-alive\n\n");
        }
        s.write_all(out.as_bytes())?;
        s.flush()?;
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn prefix_matches_whole_levels() {
        assert!(super::under("tenants/acme/person", "tenants/acme"));
        assert!(super::under("tenants/acme", "tenants/acme"));
        assert!(!super::under("tenants/acme2/person", "tenants/acme"));
    }
}
