//! One face over rumqttc's MQTT 3.1.1 and MQTT 5 clients: build a client from
//! the settings, hand it publishes, and read its event loop as a few events
//! that the delivery logic cares about.

use std::sync::Arc;
use std::time::Duration;

use rumqttc::{Outgoing, Transport};

use super::queue::Qos;
use super::url::BrokerAddr;
use super::{MqttSettings, MqttVersion};

/// What the event loop did, reduced to what delivery needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkEvent {
    /// CONNACK received, with the broker's maximum packet size (MQTT 5).
    Connected(Option<u32>),
    /// A PUBLISH was written; `0` for QoS 0.
    Published(u16),
    /// The broker acknowledged a QoS>=1 publish (PUBACK, or PUBCOMP for QoS 2).
    Acked(u16),
    /// Our DISCONNECT was written: the session is over.
    Disconnected,
    Other,
}

/// Why the event loop returned an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkError {
    /// The broker answered CONNACK with a refusal (bad credentials, not authorised...).
    Refused(String),
    /// The TLS handshake failed (certificate not trusted, wrong host name...).
    Tls(String),
    /// The broker cannot be reached or the connection broke.
    Net(String),
    /// Every client handle is gone.
    Closed,
}

impl LinkError {
    /// Refusals and TLS failures do not heal by retrying; network errors may.
    pub fn is_fatal(&self) -> bool {
        matches!(self, LinkError::Refused(_) | LinkError::Tls(_))
    }
    pub fn reason(&self) -> &str {
        match self {
            LinkError::Refused(r) | LinkError::Tls(r) | LinkError::Net(r) => r,
            LinkError::Closed => "client closed",
        }
    }
}

/// The cloneable half: hands requests to the event loop without blocking.
#[derive(Clone)]
pub enum Client {
    V4(rumqttc::Client),
    V5(rumqttc::v5::Client),
}

/// The event loop half, polled on the MQTT thread.
pub enum Connection {
    V4(Box<rumqttc::Connection>),
    V5(Box<rumqttc::v5::Connection>),
}

/// The last will and the retained "online" message.
pub struct Status {
    pub topic: String,
}

pub const ONLINE: &str = "online";
pub const OFFLINE: &str = "offline";

fn qos4(q: Qos) -> rumqttc::QoS {
    match q {
        Qos::AtMostOnce => rumqttc::QoS::AtMostOnce,
        Qos::AtLeastOnce => rumqttc::QoS::AtLeastOnce,
        Qos::ExactlyOnce => rumqttc::QoS::ExactlyOnce,
    }
}

fn qos5(q: Qos) -> rumqttc::v5::mqttbytes::QoS {
    use rumqttc::v5::mqttbytes::QoS;
    match q {
        Qos::AtMostOnce => QoS::AtMostOnce,
        Qos::AtLeastOnce => QoS::AtLeastOnce,
        Qos::ExactlyOnce => QoS::ExactlyOnce,
    }
}

/// Build a client and its (not yet connected) event loop.
pub fn build(
    settings: &MqttSettings,
    addr: &BrokerAddr,
    tls: Option<Arc<rustls::ClientConfig>>,
    status: Option<&Status>,
    window: usize,
) -> (Client, Connection) {
    let transport = tls.map(|c| Transport::tls_with_config(rumqttc::TlsConfiguration::Rustls(c)));
    // Room for the whole window plus the status messages and DISCONNECT, so a
    // hand-over inside the window never finds the channel full.
    let cap = window + 8;
    let inflight = u16::try_from(window).unwrap_or(u16::MAX).max(1);
    let connect_secs = settings.connect_timeout.as_secs().max(1);
    match settings.version {
        MqttVersion::V311 => {
            let mut o =
                rumqttc::MqttOptions::new(settings.client_id.clone(), addr.host.clone(), addr.port);
            o.set_keep_alive(settings.keepalive);
            // Unacknowledged messages are re-sent by us after a reconnect, from
            // our own queue, so the broker-side session is not needed.
            o.set_clean_session(true);
            o.set_inflight(inflight);
            // Outgoing: our own limit, which `Publisher` applies before the
            // queue, so rumqttc's check never fails (that would drop the connection).
            o.set_max_packet_size(super::DEFAULT_MAX_PACKET, settings.client_max_packet());
            if let Some(user) = &settings.username {
                o.set_credentials(
                    user.clone(),
                    settings
                        .password
                        .as_ref()
                        .map(|p| p.expose().to_string())
                        .unwrap_or_default(),
                );
            }
            if let Some(t) = transport {
                o.set_transport(t);
            }
            if let Some(s) = status {
                o.set_last_will(rumqttc::LastWill::new(
                    s.topic.clone(),
                    OFFLINE,
                    rumqttc::QoS::AtLeastOnce,
                    true,
                ));
            }
            let (client, mut connection) = rumqttc::Client::new(o, cap);
            let mut net = connection.eventloop.network_options();
            net.set_connection_timeout(connect_secs);
            connection.eventloop.set_network_options(net);
            (Client::V4(client), Connection::V4(Box::new(connection)))
        }
        MqttVersion::V5 => {
            use rumqttc::v5::mqttbytes::v5::LastWill;
            let mut o = rumqttc::v5::MqttOptions::new(
                settings.client_id.clone(),
                addr.host.clone(),
                addr.port,
            );
            o.set_keep_alive(settings.keepalive);
            o.set_clean_start(true);
            o.set_outgoing_inflight_upper_limit(inflight);
            // What we accept; what we send is checked against our own limit
            // and the one the broker announces in CONNACK.
            o.set_max_packet_size(Some(super::DEFAULT_MAX_PACKET as u32));
            o.set_connection_timeout(connect_secs);
            if let Some(user) = &settings.username {
                o.set_credentials(
                    user.clone(),
                    settings
                        .password
                        .as_ref()
                        .map(|p| p.expose().to_string())
                        .unwrap_or_default(),
                );
            }
            if let Some(t) = transport {
                o.set_transport(t);
            }
            if let Some(s) = status {
                o.set_last_will(LastWill::new(
                    s.topic.clone(),
                    OFFLINE,
                    qos5(Qos::AtLeastOnce),
                    true,
                    None,
                ));
            }
            let (client, connection) = rumqttc::v5::Client::new(o, cap);
            (Client::V5(client), Connection::V5(Box::new(connection)))
        }
    }
}

impl Client {
    /// Hand a publish to the event loop; never waits.
    pub fn try_publish(
        &self,
        topic: &str,
        qos: Qos,
        retain: bool,
        payload: Vec<u8>,
    ) -> Result<(), String> {
        match self {
            Client::V4(c) => c
                .try_publish(topic, qos4(qos), retain, payload)
                .map_err(|e| e.to_string()),
            Client::V5(c) => c
                .try_publish(topic, qos5(qos), retain, payload)
                .map_err(|e| e.to_string()),
        }
    }

    pub fn try_disconnect(&self) {
        // Fails only when the event loop is gone, and then there is nothing to close.
        match self {
            Client::V4(c) => drop(c.try_disconnect()),
            Client::V5(c) => drop(c.try_disconnect()),
        }
    }
}

fn v4_refusal(code: rumqttc::ConnectReturnCode) -> String {
    use rumqttc::ConnectReturnCode as C;
    match code {
        C::BadUserNamePassword => "broker refused the connection: bad user name or password".into(),
        C::NotAuthorized => {
            "broker refused the connection: not authorised (check the user name and password)"
                .into()
        }
        C::BadClientId => "broker refused the connection: client id rejected".into(),
        C::RefusedProtocolVersion => {
            "broker refused the connection: MQTT 3.1.1 not supported (try --mqtt-version 5)".into()
        }
        other => format!("broker refused the connection: {other:?}"),
    }
}

fn v5_refusal(code: rumqttc::v5::mqttbytes::v5::ConnectReturnCode) -> String {
    use rumqttc::v5::mqttbytes::v5::ConnectReturnCode as C;
    match code {
        C::BadUserNamePassword => "broker refused the connection: bad user name or password".into(),
        C::NotAuthorized => {
            "broker refused the connection: not authorised (check the user name and password)"
                .into()
        }
        C::UnsupportedProtocolVersion | C::RefusedProtocolVersion => {
            "broker refused the connection: MQTT 5 not supported (try --mqtt-version 3.1.1)".into()
        }
        other => format!("broker refused the connection: {other:?}"),
    }
}

/// One line, without rumqttc's "I/O: " style prefixes doubling up.
fn tls_reason(e: &dyn std::fmt::Display) -> String {
    format!(
        "TLS handshake failed: {}",
        e.to_string().trim_start_matches("I/O: ")
    )
}

/// With TLS 1.3 the server judges the client's certificate after the
/// handshake, so its refusal arrives as an alert while reading CONNACK.
fn net_or_tls(reason: String) -> LinkError {
    match reason.find("received fatal alert") {
        Some(at) => LinkError::Tls(format!(
            "TLS: broker sent {}",
            &reason[at + "received ".len()..]
        )),
        None => LinkError::Net(reason),
    }
}

/// What an MQTT 3.1.1 connection error means: a refused login, a failed
/// TLS handshake, a broken network (also for `fleet status`'s subscriber).
pub fn v4_error(e: rumqttc::ConnectionError) -> LinkError {
    use rumqttc::ConnectionError as E;
    match e {
        E::ConnectionRefused(code) => LinkError::Refused(v4_refusal(code)),
        E::Tls(t) => LinkError::Tls(tls_reason(&t)),
        E::RequestsDone => LinkError::Closed,
        other => net_or_tls(other.to_string()),
    }
}

impl Connection {
    /// Wait for the next event. Never cancelled half-way: rumqttc's poll is
    /// not cancel-safe while it writes.
    pub fn recv(&mut self) -> Result<LinkEvent, LinkError> {
        match self {
            Connection::V4(c) => {
                use rumqttc::{Event, Packet};
                match c.recv() {
                    Err(_) => Err(LinkError::Closed),
                    Ok(Ok(ev)) => Ok(match ev {
                        Event::Incoming(Packet::ConnAck(_)) => LinkEvent::Connected(None),
                        Event::Incoming(Packet::PubAck(a)) => LinkEvent::Acked(a.pkid),
                        Event::Incoming(Packet::PubComp(a)) => LinkEvent::Acked(a.pkid),
                        Event::Outgoing(Outgoing::Publish(pkid)) => LinkEvent::Published(pkid),
                        Event::Outgoing(Outgoing::Disconnect) => LinkEvent::Disconnected,
                        _ => LinkEvent::Other,
                    }),
                    Ok(Err(e)) => Err(v4_error(e)),
                }
            }
            Connection::V5(c) => {
                use rumqttc::v5::mqttbytes::v5::Packet;
                use rumqttc::v5::{ConnectionError as E, Event};
                match c.recv() {
                    Err(_) => Err(LinkError::Closed),
                    Ok(Ok(ev)) => Ok(match ev {
                        Event::Incoming(Packet::ConnAck(a)) => {
                            LinkEvent::Connected(a.properties.and_then(|p| p.max_packet_size))
                        }
                        Event::Incoming(Packet::PubAck(a)) => LinkEvent::Acked(a.pkid),
                        Event::Incoming(Packet::PubComp(a)) => LinkEvent::Acked(a.pkid),
                        Event::Outgoing(Outgoing::Publish(pkid)) => LinkEvent::Published(pkid),
                        Event::Outgoing(Outgoing::Disconnect) => LinkEvent::Disconnected,
                        _ => LinkEvent::Other,
                    }),
                    Ok(Err(e)) => Err(match e {
                        E::ConnectionRefused(code) => LinkError::Refused(v5_refusal(code)),
                        E::Tls(t) => LinkError::Tls(tls_reason(&t)),
                        E::RequestsDone => LinkError::Closed,
                        other => net_or_tls(other.to_string()),
                    }),
                }
            }
        }
    }

    /// Forget what rumqttc kept for re-sending (its in-flight publishes and the
    /// requests still in its channel): our own queue re-sends them in order,
    /// and rumqttc would drop them anyway on a session that is not resumed.
    pub fn forget_pending(&mut self) {
        match self {
            Connection::V4(c) => {
                c.eventloop.clean();
                c.eventloop.pending.clear();
            }
            Connection::V5(c) => {
                c.eventloop.clean();
                c.eventloop.pending.clear();
            }
        }
    }
}

/// How long to wait before the next connection attempt.
pub fn backoff(attempt: u32, min: Duration, max: Duration) -> Duration {
    min.saturating_mul(1u32 << attempt.min(16)).min(max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_alerts_are_tls_errors() {
        let e = net_or_tls("Mqtt state: Mqtt serialization/deserialization error: IO: received fatal alert: CertificateRequired".into());
        assert_eq!(
            e,
            LinkError::Tls("TLS: broker sent fatal alert: CertificateRequired".into())
        );
        assert!(e.is_fatal());
        assert!(!net_or_tls("I/O: Connection refused (os error 111)".into()).is_fatal());
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let (min, max) = (Duration::from_millis(100), Duration::from_secs(2));
        let seq: Vec<u128> = (0..7).map(|a| backoff(a, min, max).as_millis()).collect();
        assert_eq!(seq, [100, 200, 400, 800, 1600, 2000, 2000]);
        assert_eq!(backoff(1000, min, max), max);
    }
}
