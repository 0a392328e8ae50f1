//! MQTT delivery that loses nothing. `publish` only adds to a bounded queue
//! ([`queue`]); the rumqttc event loop runs on its own thread, reconnects with
//! back-off, and re-sends every message not yet acknowledged, in publish
//! order, after each reconnect. At the end `finish` waits (up to a timeout)
//! for every QoS>=1 message to be acknowledged and reports what was not.

pub mod bench;
pub mod latency;
mod link;
pub mod queue;
mod state;
pub mod tls;
pub mod url;
mod worker;

use std::str::FromStr;
use std::sync::{mpsc, Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use thiserror::Error;

use link::Client;
pub use link::{v4_error, LinkError};
pub use queue::{Limits, Qos, WhenFull};
use state::{Shared, State};
pub use tls::TlsFiles;
pub use url::BrokerAddr;
use worker::Worker;

/// Most messages handed to rumqttc and not yet acknowledged (its in-flight window).
pub const WINDOW: usize = 100;
/// Reconnect back-off: doubles from MIN to MAX.
pub const RECONNECT_MIN: Duration = Duration::from_millis(100);
pub const RECONNECT_MAX: Duration = Duration::from_secs(2);
/// At most one "queue full" warning per this interval.
pub const DROP_LOG_INTERVAL: Duration = Duration::from_secs(5);
/// While the broker stays away, a reminder at most this often.
pub const AWAY_LOG_INTERVAL: Duration = Duration::from_secs(10);
/// How long `finish` waits for the event loop thread after DISCONNECT.
const JOIN_GRACE: Duration = Duration::from_secs(2);
/// The client's largest PUBLISH packet unless `mqtt.max_message_bytes` says
/// otherwise (the broker's own limit, announced by MQTT 5, may be smaller).
pub const DEFAULT_MAX_PACKET: usize = 1 << 20;
/// The largest packet MQTT can encode (remaining length 268,435,455 plus the fixed header).
pub const MQTT_MAX_PACKET: usize = 268_435_460;

/// Why a message was refused before the queue. Counted as `rejected`; the
/// connection never sees it.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Refused {
    #[error("invalid topic {0:?} (empty, over 65535 bytes, or with + # NUL)")]
    InvalidTopic(String),
    #[error("message on {topic:?} is {size} bytes, over the limit of {limit} bytes (mqtt.max_message_bytes, or the broker's maximum packet size)")]
    TooLarge {
        topic: String,
        size: usize,
        limit: usize,
    },
}

#[derive(Debug, Error)]
pub enum MqttError {
    #[error("MQTT URL {url:?}: {reason}")]
    Url { url: String, reason: String },
    #[error("cannot connect to MQTT broker {url}: {reason}")]
    Connect { url: String, reason: String },
    #[error("MQTT broker {url}: no answer within {secs} s")]
    ConnectTimeout { url: String, secs: u64 },
    #[error("MQTT broker {url}: {reason}")]
    Refused { url: String, reason: String },
    #[error("MQTT broker {url}: {reason} (check --mqtt-ca, --mqtt-cert/--mqtt-key and the broker's certificate)")]
    Handshake { url: String, reason: String },
    #[error("MQTT TLS: {0}")]
    Tls(String),
    #[error("MQTT: {0}")]
    Thread(String),
}

/// A password: kept out of `Debug`, logs and errors.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// MQTT protocol version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MqttVersion {
    #[default]
    V311,
    V5,
}

impl FromStr for MqttVersion {
    type Err = String;
    fn from_str(s: &str) -> Result<MqttVersion, String> {
        match s {
            "3.1.1" | "311" | "4" => Ok(MqttVersion::V311),
            "5" | "5.0" => Ok(MqttVersion::V5),
            other => Err(format!("{other:?} is not 3.1.1 or 5")),
        }
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
    /// An unreachable broker at start is an error instead of a warning.
    pub required: bool,
    pub version: MqttVersion,
    /// Used for `mqtts://` URLs.
    pub tls: TlsFiles,
    pub username: Option<String>,
    pub password: Option<Secret>,
    pub queue: Limits,
    /// `<prefix>/status`: last will `offline`, `online` after each connect (both retained).
    pub status_topic: Option<String>,
    /// Topics published retained, so a late subscriber sees the last value.
    pub retain_last: Vec<String>,
    /// The largest message (whole PUBLISH packet) the client sends; `None`:
    /// [`DEFAULT_MAX_PACKET`]. The broker's limit (MQTT 5) lowers it.
    pub max_message_bytes: Option<usize>,
}

impl MqttSettings {
    /// Defaults for everything but where to connect.
    pub fn new(url: impl Into<String>, client_id: impl Into<String>) -> MqttSettings {
        MqttSettings {
            url: url.into(),
            client_id: client_id.into(),
            keepalive: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(5),
            ack_timeout: Duration::from_secs(10),
            required: false,
            version: MqttVersion::V311,
            tls: TlsFiles::default(),
            username: None,
            password: None,
            queue: Limits::default(),
            status_topic: None,
            retain_last: Vec::new(),
            max_message_bytes: None,
        }
    }

    /// The client's own packet limit.
    pub fn client_max_packet(&self) -> usize {
        self.max_message_bytes.unwrap_or(DEFAULT_MAX_PACKET)
    }
}

/// What happened to the messages of a run.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PublishReport {
    /// Handed to `publish` by the pipeline (valid topics).
    pub published: u64,
    /// Written to the broker at least once.
    pub sent: u64,
    /// QoS>=1 messages the broker acknowledged.
    pub acked: u64,
    /// QoS>=1 messages that were published and not dropped.
    pub expected_acks: u64,
    /// Dropped by the queue-full policy.
    pub dropped: u64,
    /// Refused before queueing or at hand-over (invalid or host topic, too large).
    pub rejected: u64,
    /// Of those, per stage that returned them: (stage, refused), in first-refusal order.
    pub refused_by_stage: Vec<(String, u64)>,
    /// QoS 0 messages never written (broker away at the end).
    pub unsent: u64,
    /// Writes repeated after a reconnect.
    pub resent: u64,
    pub reconnects: u64,
    /// Publish -> acknowledgement, microseconds, over acknowledged messages.
    pub latency_p50_us: Option<u64>,
    pub latency_p99_us: Option<u64>,
}

impl PublishReport {
    pub fn unacknowledged(&self) -> u64 {
        self.expected_acks.saturating_sub(self.acked)
    }
    /// Messages that did not reach the broker as promised.
    pub fn lost(&self) -> u64 {
        self.unacknowledged() + self.dropped + self.rejected + self.unsent
    }
}

/// Publishes a pipeline's messages.
pub struct Publisher {
    client: Client,
    shared: Arc<Shared>,
    thread: Option<std::thread::JoinHandle<()>>,
    settings: MqttSettings,
    shown_url: String,
}

fn valid_topic(t: &str) -> bool {
    !t.is_empty() && t.len() <= 65_535 && !t.contains(['+', '#', '\0'])
}

/// The encoded size of a PUBLISH packet without properties, as rumqttc
/// computes it for its packet-size check.
pub fn packet_size(topic: &str, payload: usize, qos: Qos, v5: bool) -> usize {
    let len = 2 + topic.len() + if qos.acked() { 2 } else { 0 } + usize::from(v5) + payload;
    let len_len = match len {
        0..=127 => 1,
        128..=16_383 => 2,
        16_384..=2_097_151 => 3,
        _ => 4,
    };
    1 + len_len + len
}

/// A topic as logs and events show it: at most 80 characters.
fn shown_topic(t: &str) -> String {
    match t.char_indices().nth(80) {
        Some((at, _)) => format!("{}...", &t[..at]),
        None => t.to_string(),
    }
}

fn qos_of(q: crate::plugin::bindings::Qos) -> Qos {
    use crate::plugin::bindings::Qos as Q;
    match q {
        Q::AtMostOnce => Qos::AtMostOnce,
        Q::AtLeastOnce => Qos::AtLeastOnce,
        Q::ExactlyOnce => Qos::ExactlyOnce,
    }
}

impl Publisher {
    /// Start the connection. Returns once connected, or, when the broker
    /// cannot be reached and `required` is off, right after the first failed
    /// attempt (messages are then queued until it answers). A refused login or
    /// a failed TLS handshake is always an error.
    pub fn connect(settings: &MqttSettings) -> Result<Publisher, MqttError> {
        let (ready_tx, ready_rx) = mpsc::channel::<Result<(), LinkError>>();
        let publisher = Publisher::spawn(settings, Some(ready_tx), None)?;
        let shown_url = publisher.shown_url.clone();
        // The first attempt may take up to the connect timeout (TCP + TLS + CONNACK).
        match ready_rx.recv_timeout(settings.connect_timeout + Duration::from_secs(1)) {
            Ok(Ok(())) => {
                tracing::info!(url = %shown_url, client_id = %settings.client_id, version = ?settings.version, "connected to MQTT broker");
                Ok(publisher)
            }
            Ok(Err(e)) if e.is_fatal() => {
                publisher.abandon();
                let reason = e.reason().to_string();
                Err(match e {
                    LinkError::Tls(_) => MqttError::Handshake {
                        url: shown_url,
                        reason,
                    },
                    _ => MqttError::Refused {
                        url: shown_url,
                        reason,
                    },
                })
            }
            Ok(Err(e)) if settings.required => {
                publisher.abandon();
                Err(MqttError::Connect {
                    url: shown_url,
                    reason: e.reason().to_string(),
                })
            }
            Ok(Err(e)) => {
                tracing::warn!(
                    url = %shown_url,
                    error = e.reason(),
                    "MQTT broker unreachable; running on and queueing messages until it answers (--mqtt-required makes this an error)"
                );
                Ok(publisher)
            }
            Err(_) if settings.required => {
                publisher.abandon();
                Err(MqttError::ConnectTimeout {
                    url: shown_url,
                    secs: settings.connect_timeout.as_secs(),
                })
            }
            Err(_) => {
                tracing::warn!(url = %shown_url, "MQTT broker does not answer; running on and queueing messages (--mqtt-required makes this an error)");
                Ok(publisher)
            }
        }
    }

    /// Start the connection without waiting for it: `before` runs first on
    /// the connection's thread (closing another connection with the same
    /// client id, so the two never overlap); messages queue until the
    /// broker answers. A refused login is then retried and warned about, not
    /// an error here.
    pub fn connect_after(
        settings: &MqttSettings,
        before: Box<dyn FnOnce() + Send>,
    ) -> Result<Publisher, MqttError> {
        Publisher::spawn(settings, None, Some(before))
    }

    /// The client, its state and its event loop thread (which first runs `before`).
    fn spawn(
        settings: &MqttSettings,
        ready: Option<mpsc::Sender<Result<(), LinkError>>>,
        before: Option<Box<dyn FnOnce() + Send>>,
    ) -> Result<Publisher, MqttError> {
        let addr = BrokerAddr::parse(&settings.url)?;
        let shown_url = url::redact(&settings.url);
        let tls = if addr.tls {
            Some(tls::client_config(&settings.tls)?)
        } else {
            None
        };
        let status = settings
            .status_topic
            .as_ref()
            .map(|t| link::Status { topic: t.clone() });
        let (client, connection) = link::build(settings, &addr, tls, status.as_ref(), WINDOW);
        let shared = Arc::new(Shared {
            state: Mutex::new(State::new(settings)),
            changed: Condvar::new(),
        });
        let worker = Worker {
            shared: shared.clone(),
            client: client.clone(),
            connection,
            ready,
            url: shown_url.clone(),
            status_topic: settings.status_topic.clone(),
        };
        let thread = std::thread::Builder::new()
            .name("mqtt".into())
            .spawn(move || {
                if let Some(before) = before {
                    before();
                }
                worker.run();
            })
            .map_err(|e| MqttError::Thread(e.to_string()))?;
        Ok(Publisher {
            client,
            shared,
            thread: Some(thread),
            settings: settings.clone(),
            shown_url,
        })
    }

    /// Stop the thread without waiting for it.
    fn abandon(mut self) {
        self.shared.lock().stop = true;
        self.client.try_disconnect();
        self.thread.take();
    }

    /// Queue one of the host's own messages (plugin events); never waits.
    /// Topics of `retain_last` are retained. `Err`: refused (invalid topic,
    /// over the size limit), counted in the report's `rejected`; a full queue
    /// is not an error here (its policy drops and counts, see [`Limits`]).
    pub fn publish(&mut self, msg: &crate::plugin::bindings::Message) -> Result<(), Refused> {
        let retain = msg.retain || self.settings.retain_last.iter().any(|t| t == &msg.topic);
        self.enqueue(&msg.topic, msg.payload.as_bytes(), qos_of(msg.qos), retain)
    }

    /// Queue a message a stage returned (its chain already checked where it
    /// may go, see [`crate::chain::policy`]); never waits. Refused (and
    /// counted against `stage`) when it is larger than the limit.
    pub fn publish_from(
        &mut self,
        stage: &str,
        msg: &crate::plugin::bindings::Message,
    ) -> Result<(), Refused> {
        let refused = self.publish_all_from([(stage, msg)]);
        refused
            .into_iter()
            .next()
            .map_or(Ok(()), |(_, why)| Err(why))
    }

    /// Queue a frame's messages in order, each as [`publish_from`](Self::publish_from)
    /// would, and hand them to the connection together: one lock and one
    /// wake-up of the event loop for the frame instead of one per message.
    /// Returns the refused ones (position in `msgs`, why).
    pub fn publish_all_from<'a>(
        &mut self,
        msgs: impl IntoIterator<Item = (&'a str, &'a crate::plugin::bindings::Message)>,
    ) -> Vec<(usize, Refused)> {
        let mut refused = Vec::new();
        let mut st = self.shared.lock();
        for (i, (stage, msg)) in msgs.into_iter().enumerate() {
            let retain = msg.retain || self.settings.retain_last.iter().any(|t| t == &msg.topic);
            let r = st.enqueue(&msg.topic, msg.payload.as_bytes(), qos_of(msg.qos), retain);
            if let Err(why) = r {
                st.refused_by(stage);
                refused.push((i, why));
            }
        }
        st.feed(&self.client);
        refused
    }

    /// The queueing behind `publish`, for any payload.
    pub fn enqueue(
        &mut self,
        topic: &str,
        payload: &[u8],
        qos: Qos,
        retain: bool,
    ) -> Result<(), Refused> {
        let mut st = self.shared.lock();
        let r = st.enqueue(topic, payload, qos, retain);
        st.feed(&self.client);
        r
    }

    pub fn published(&self) -> u64 {
        self.shared.lock().report.published
    }

    /// Messages waiting in the queue (not yet handed to the connection).
    pub fn queued(&self) -> usize {
        self.shared.lock().outbox.len()
    }

    /// The settings it was connected with.
    pub fn settings(&self) -> &MqttSettings {
        &self.settings
    }

    /// Wait until every message was delivered (QoS>=1: acknowledged) or the
    /// ack timeout passed, publish `offline`, disconnect, and report.
    pub fn finish(mut self) -> PublishReport {
        let deadline = Instant::now() + self.settings.ack_timeout;
        let mut st = self.shared.lock();
        st.finishing = true;
        loop {
            let thread_gone = self.thread.as_ref().is_none_or(|t| t.is_finished());
            let now = Instant::now();
            if st.settled() || now >= deadline || thread_gone {
                break;
            }
            let wait = (deadline - now).min(Duration::from_millis(50));
            st = self
                .shared
                .changed
                .wait_timeout(st, wait)
                .map(|(g, _)| g)
                .unwrap_or_else(|p| p.into_inner().0);
        }
        if st.connected {
            if let Some(t) = &self.settings.status_topic {
                let _ = self.client.try_publish(
                    t,
                    Qos::AtLeastOnce,
                    true,
                    link::OFFLINE.as_bytes().to_vec(),
                );
            }
        }
        st.stop = true;
        let mut left = st.outbox.drain();
        left.extend(st.take_in_flight());
        st.report.unsent = left.iter().filter(|q| !q.qos.acked() && !q.sent).count() as u64;
        st.report.latency_p50_us = st.latencies.quantile(0.50);
        st.report.latency_p99_us = st.latencies.quantile(0.99);
        let report = st.report.clone();
        drop(st);
        self.client.try_disconnect();
        if let Some(t) = self.thread.take() {
            let until = Instant::now() + JOIN_GRACE;
            while !t.is_finished() && Instant::now() < until {
                std::thread::sleep(Duration::from_millis(5));
            }
            if t.is_finished() {
                let _ = t.join();
            }
        }
        tracing::debug!(url = %self.shown_url, ?report, "mqtt finished");
        report
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_do_not_print() {
        let s = MqttSettings {
            password: Some(Secret::new("hunter2")),
            ..MqttSettings::new("mqtt://h", "c")
        };
        assert!(!format!("{s:?}").contains("hunter2"));
    }

    #[test]
    fn versions() {
        assert_eq!("3.1.1".parse::<MqttVersion>(), Ok(MqttVersion::V311));
        assert_eq!("5".parse::<MqttVersion>(), Ok(MqttVersion::V5));
        assert!("6".parse::<MqttVersion>().is_err());
    }

    #[test]
    fn topics() {
        assert!(valid_topic("person/duration"));
        assert!(!valid_topic("") && !valid_topic("a/#") && !valid_topic("a/+/b"));
    }

    #[test]
    fn shown_topics_are_short() {
        assert_eq!(
            shown_topic(&"é".repeat(100)),
            format!("{}...", "é".repeat(80))
        );
    }

    #[test]
    fn packet_sizes_match_the_encoding() {
        // 1 fixed header + 1 remaining length + 2 topic length + 1 topic + 2 packet id + 3 payload.
        assert_eq!(packet_size("t", 3, Qos::AtLeastOnce, false), 10);
        assert_eq!(packet_size("t", 3, Qos::AtMostOnce, true), 9);
        // Remaining length 128 (2 + 1 + 125) takes two bytes.
        assert_eq!(packet_size("t", 125, Qos::AtMostOnce, false), 1 + 2 + 128);
    }
}
