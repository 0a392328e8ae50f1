//! The embedded MQTT broker (rumqttd), used when no `--mqtt-url` is given so
//! the main job runs with nothing else installed. It binds loopback unless
//! told otherwise; an optional WebSocket listener serves browser clients.

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener};
use std::time::{Duration, Instant};

use thiserror::Error;

#[derive(Debug, Error)]
pub enum BrokerError {
    #[error("embedded MQTT broker: cannot listen on {addr}: {reason}")]
    Bind { addr: SocketAddr, reason: String },
    #[error("embedded MQTT broker on {addr} did not start: {reason}")]
    Start { addr: SocketAddr, reason: String },
    #[error("this build has no embedded MQTT broker (feature `embedded-broker`); pass --mqtt-url")]
    Disabled,
}

/// How long to wait for the broker to accept connections.
const START_TIMEOUT: Duration = Duration::from_secs(5);

/// Where the embedded broker listens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BrokerSettings {
    /// The MQTT listener.
    pub addr: SocketAddr,
    /// Speak MQTT 5 on `addr` instead of 3.1.1.
    pub v5: bool,
    /// A WebSocket listener (MQTT 3.1.1 over `ws://`, subprotocol `mqtt`).
    pub ws: Option<SocketAddr>,
}

impl BrokerSettings {
    pub fn new(addr: SocketAddr) -> BrokerSettings {
        BrokerSettings {
            addr,
            v5: false,
            ws: None,
        }
    }
}

/// Start the broker in a background thread; returns once every listener
/// accepts TCP connections. It lives until the process ends.
#[cfg(feature = "embedded-broker")]
pub fn start(settings: &BrokerSettings) -> Result<(), BrokerError> {
    use rumqttd::{Broker, Config, ConnectionSettings, RouterConfig, ServerSettings};

    let addr = settings.addr;
    // Fail early and clearly when a port is taken.
    for a in std::iter::once(addr).chain(settings.ws) {
        TcpListener::bind(a).map_err(|e| BrokerError::Bind {
            addr: a,
            reason: e.to_string(),
        })?;
    }
    if settings.ws == Some(addr) {
        return Err(BrokerError::Bind {
            addr,
            reason: "the WebSocket listener needs a port of its own".into(),
        });
    }
    let connections = ConnectionSettings {
        connection_timeout_ms: 60_000,
        max_payload_size: 1 << 20,
        max_inflight_count: 500,
        auth: None,
        external_auth: None,
        dynamic_filters: true,
    };
    let server = |name: &str, listen: SocketAddr| ServerSettings {
        name: name.into(),
        listen,
        tls: None,
        next_connection_delay_ms: 1,
        connections: connections.clone(),
    };
    let router = RouterConfig {
        max_connections: 1000,
        max_outgoing_packet_count: 2000,
        max_segment_size: 100 << 20,
        max_segment_count: 10,
        ..Default::default()
    };
    let main = Some(HashMap::from([("main".to_string(), server("main", addr))]));
    let (v4, v5) = if settings.v5 {
        (None, main)
    } else {
        (main, None)
    };
    let ws = settings
        .ws
        .map(|w| HashMap::from([("ws".to_string(), server("ws", w))]));
    let config = Config {
        id: 0,
        router,
        v4,
        v5,
        ws,
        ..Default::default()
    };
    std::thread::Builder::new()
        .name("mqtt-broker".into())
        .spawn(move || {
            let mut broker = Broker::new(config);
            if let Err(e) = broker.start() {
                tracing::error!(error = %e, "embedded MQTT broker stopped");
            }
        })
        .map_err(|e| BrokerError::Start {
            addr,
            reason: e.to_string(),
        })?;
    let until = Instant::now() + START_TIMEOUT;
    for a in std::iter::once(addr).chain(settings.ws) {
        wait_listening(a, until)?;
    }
    Ok(())
}

/// Ready once the port is taken. Probing by binding (not connecting) keeps
/// the broker free of half-open connections that it would log as errors.
#[cfg(feature = "embedded-broker")]
fn wait_listening(addr: SocketAddr, until: Instant) -> Result<(), BrokerError> {
    loop {
        match TcpListener::bind(addr) {
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => return Ok(()),
            Err(e) => {
                return Err(BrokerError::Start {
                    addr,
                    reason: e.to_string(),
                })
            }
            Ok(probe) => drop(probe),
        }
        if Instant::now() >= until {
            return Err(BrokerError::Start {
                addr,
                reason: "not listening".into(),
            });
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[cfg(not(feature = "embedded-broker"))]
pub fn start(_settings: &BrokerSettings) -> Result<(), BrokerError> {
    let _ = (
        TcpListener::bind,
        Instant::now,
        START_TIMEOUT,
        HashMap::<u8, u8>::new,
    );
    Err(BrokerError::Disabled)
}
