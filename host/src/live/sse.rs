//! `/api/events`: Server-Sent Events, one `message` event per message the
//! pipeline publishes (`{"topic":..,"payload":..}`, plugin and host events
//! included, as a subscriber to `#` gets them), a `missed` event when the
//! reader fell behind the ring, a comment every few seconds to keep proxies
//! from closing it. A tenant's stream carries only topics under its prefix.

use std::io::Write;
use std::net::TcpStream;
use std::time::Duration;

use super::http::stream_head;
use super::Hub;

/// A keep-alive comment after this long without events.
pub const KEEPALIVE: Duration = Duration::from_secs(10);

/// Whether `topic` lies under `prefix` (a tenant's topics and `$events`).
pub fn under(topic: &str, prefix: &str) -> bool {
    topic
        .strip_prefix(prefix)
        .is_some_and(|r| r.is_empty() || r.starts_with('/'))
}

pub fn stream(mut s: &TcpStream, hub: &Hub, prefix: Option<&str>) -> std::io::Result<()> {
    stream_head(s, "text/event-stream")?;
    s.write_all(b"retry: 1000\n\n")?;
    s.flush()?;
    let mut next = hub.bus.position();
    let mut out = String::new();
    loop {
        // After the run ends, what was published last still goes out.
        let closed = hub.frames.is_closed();
        let batch = hub
            .bus
            .read(next, if closed { Duration::ZERO } else { KEEPALIVE });
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
            let data = serde_json::json!({"topic": &*item.topic, "payload": &*item.payload});
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
