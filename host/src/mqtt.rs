//! MQTT publishing with rumqttc: the event loop runs on its own thread; the
//! frame loop hands messages over and, at the end, waits for every QoS>=1
//! message to be acknowledged before a clean disconnect.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use rumqttc::{Client, Connection, Event, MqttOptions, Outgoing, Packet, QoS};
use thiserror::Error;

/// Capacity of the request channel in front of the event loop.
pub const REQUEST_CAPACITY: usize = 1024;

#[derive(Debug, Error)]
pub enum MqttError {
    #[error("MQTT URL {url:?}: {reason}")]
    Url { url: String, reason: String },
    #[error("cannot connect to MQTT broker {url}: {reason}")]
    Connect { url: String, reason: String },
    #[error("MQTT broker {url}: no answer within {secs} s")]
    ConnectTimeout { url: String, secs: u64 },
    #[error("MQTT publish failed: {0}")]
    Publish(String),
}

/// Where the broker is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerAddr {
    pub host: String,
    pub port: u16,
}

impl BrokerAddr {
    /// Parse `mqtt://host[:port]` (also `tcp://`); the port defaults to 1883.
    pub fn parse(url: &str) -> Result<BrokerAddr, MqttError> {
        let err = |reason: &str| MqttError::Url { url: url.to_string(), reason: reason.to_string() };
        let (scheme, rest) = url.split_once("://").ok_or_else(|| err("expected mqtt://host:port"))?;
        match scheme.to_ascii_lowercase().as_str() {
            "mqtt" | "tcp" => {}
            "mqtts" | "ssl" | "ws" | "wss" => return Err(err(&format!("scheme `{scheme}` is not supported yet; use mqtt://"))),
            other => return Err(err(&format!("unknown scheme `{other}`; use mqtt://host:port"))),
        }
        let authority = rest.split('/').next().unwrap_or("");
        if authority.contains('@') {
            return Err(err("credentials in the URL are not supported"));
        }
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(']') || h.starts_with('[') => {
                let port: u16 = p.parse().map_err(|_| err(&format!("bad port `{p}`")))?;
                if port == 0 {
                    return Err(err("port 0 is not valid"));
                }
                (h, port)
            }
            _ => (authority, 1883),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() {
            return Err(err("no host"));
        }
        Ok(BrokerAddr { host: host.to_string(), port })
    }
}

/// MQTT settings.
#[derive(Debug, Clone)]
pub struct MqttSettings {
    pub url: String,
    pub client_id: String,
    pub keepalive: Duration,
    pub connect_timeout: Duration,
    pub ack_timeout: Duration,
}

#[derive(Default)]
struct Counters {
    sent: AtomicU64,
    acked: AtomicU64,
}

/// What happened to the messages of a run.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PublishReport {
    pub published: u64,
    pub sent: u64,
    pub acked: u64,
    pub expected_acks: u64,
}

impl PublishReport {
    pub fn unacknowledged(&self) -> u64 {
        self.expected_acks.saturating_sub(self.acked)
    }
}

/// A connected publisher.
pub struct Publisher {
    client: Client,
    counters: Arc<Counters>,
    thread: Option<std::thread::JoinHandle<()>>,
    published: u64,
    expected_acks: u64,
    ack_timeout: Duration,
    url: String,
}

fn qos_of(q: crate::plugin::bindings::Qos) -> QoS {
    use crate::plugin::bindings::Qos as Q;
    match q {
        Q::AtMostOnce => QoS::AtMostOnce,
        Q::AtLeastOnce => QoS::AtLeastOnce,
        Q::ExactlyOnce => QoS::ExactlyOnce,
    }
}

impl Publisher {
    /// Connect and wait for the broker's CONNACK.
    pub fn connect(settings: &MqttSettings) -> Result<Publisher, MqttError> {
        let addr = BrokerAddr::parse(&settings.url)?;
        let mut options = MqttOptions::new(settings.client_id.clone(), addr.host.clone(), addr.port);
        options.set_keep_alive(settings.keepalive);
        options.set_clean_session(true);
        let (client, connection) = Client::new(options, REQUEST_CAPACITY);
        let counters = Arc::new(Counters::default());
        let (ready_tx, ready_rx) = mpsc::channel::<Result<(), String>>();
        let c2 = counters.clone();
        let url = settings.url.clone();
        let thread = std::thread::Builder::new()
            .name("mqtt".into())
            .spawn(move || event_loop(connection, c2, ready_tx, url))
            .map_err(|e| MqttError::Connect { url: settings.url.clone(), reason: e.to_string() })?;
        match ready_rx.recv_timeout(settings.connect_timeout) {
            Ok(Ok(())) => {}
            Ok(Err(reason)) => {
                let _ = thread.join();
                return Err(MqttError::Connect { url: settings.url.clone(), reason });
            }
            Err(_) => {
                return Err(MqttError::ConnectTimeout { url: settings.url.clone(), secs: settings.connect_timeout.as_secs() })
            }
        }
        Ok(Publisher {
            client,
            counters,
            thread: Some(thread),
            published: 0,
            expected_acks: 0,
            ack_timeout: settings.ack_timeout,
            url: settings.url.clone(),
        })
    }

    /// Queue a message for the event loop (waits if the queue is full).
    pub fn publish(&mut self, msg: &crate::plugin::bindings::Message) -> Result<(), MqttError> {
        let qos = qos_of(msg.qos);
        self.client
            .publish(msg.topic.clone(), qos, msg.retain, msg.payload.clone().into_bytes())
            .map_err(|e| MqttError::Publish(e.to_string()))?;
        self.published += 1;
        if qos != QoS::AtMostOnce {
            self.expected_acks += 1;
        }
        Ok(())
    }

    pub fn published(&self) -> u64 {
        self.published
    }

    /// Wait until everything queued was sent and every QoS>=1 message was
    /// acknowledged (or the ack timeout passed), then disconnect cleanly.
    pub fn finish(mut self) -> PublishReport {
        let deadline = Instant::now() + self.ack_timeout;
        loop {
            let sent = self.counters.sent.load(Ordering::Acquire);
            let acked = self.counters.acked.load(Ordering::Acquire);
            if (sent >= self.published && acked >= self.expected_acks) || Instant::now() >= deadline {
                break;
            }
            if self.thread.as_ref().is_some_and(|t| t.is_finished()) {
                break;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        let _ = self.client.disconnect();
        if let Some(t) = self.thread.take() {
            let until = Instant::now() + Duration::from_secs(2);
            while !t.is_finished() && Instant::now() < until {
                std::thread::sleep(Duration::from_millis(2));
            }
            if t.is_finished() {
                let _ = t.join();
            }
        }
        let report = PublishReport {
            published: self.published,
            sent: self.counters.sent.load(Ordering::Acquire),
            acked: self.counters.acked.load(Ordering::Acquire),
            expected_acks: self.expected_acks,
        };
        tracing::debug!(url = %self.url, ?report, "mqtt finished");
        report
    }
}

fn event_loop(mut connection: Connection, counters: Arc<Counters>, ready: mpsc::Sender<Result<(), String>>, url: String) {
    let mut connected = false;
    for event in connection.iter() {
        match event {
            Ok(Event::Incoming(Packet::ConnAck(_))) => {
                if !connected {
                    connected = true;
                    let _ = ready.send(Ok(()));
                } else {
                    tracing::info!(%url, "reconnected to MQTT broker");
                }
            }
            Ok(Event::Outgoing(Outgoing::Publish(_))) => {
                counters.sent.fetch_add(1, Ordering::AcqRel);
            }
            Ok(Event::Incoming(Packet::PubAck(_))) | Ok(Event::Incoming(Packet::PubComp(_))) => {
                counters.acked.fetch_add(1, Ordering::AcqRel);
            }
            Ok(Event::Outgoing(Outgoing::Disconnect)) => break,
            Ok(_) => {}
            Err(e) => {
                if !connected {
                    let _ = ready.send(Err(e.to_string()));
                    return;
                }
                tracing::warn!(%url, error = %e, "MQTT connection lost; reconnecting");
                std::thread::sleep(Duration::from_millis(500));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(BrokerAddr::parse("mqtt://localhost:1884").unwrap(), BrokerAddr { host: "localhost".into(), port: 1884 });
        assert_eq!(BrokerAddr::parse("mqtt://broker").unwrap().port, 1883);
        assert_eq!(BrokerAddr::parse("tcp://10.0.0.1:1883/").unwrap().host, "10.0.0.1");
        assert_eq!(BrokerAddr::parse("mqtt://[::1]:1999").unwrap(), BrokerAddr { host: "::1".into(), port: 1999 });
        for bad in ["mqtt://", "http://x:1", "localhost:1883", "mqtt://h:99999", "mqtt://h:abc", "mqtt://h:0"] {
            let e = BrokerAddr::parse(bad).unwrap_err().to_string();
            assert!(e.starts_with("MQTT URL"), "{bad}: {e}");
            assert!(!e.contains('\n'));
        }
    }
}
