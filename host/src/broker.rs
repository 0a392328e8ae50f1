//! The embedded MQTT broker (rumqttd), used when no `--mqtt-url` is given so
//! the main job runs with nothing else installed.

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

/// Start the broker on `addr` in a background thread; returns once it accepts
/// TCP connections. It lives until the process ends.
#[cfg(feature = "embedded-broker")]
pub fn start(addr: SocketAddr) -> Result<(), BrokerError> {
    use rumqttd::{Broker, Config, ConnectionSettings, RouterConfig, ServerSettings};

    // Fail early and clearly when the port is taken.
    TcpListener::bind(addr).map_err(|e| BrokerError::Bind { addr, reason: e.to_string() })?;
    let connections = ConnectionSettings {
        connection_timeout_ms: 60_000,
        max_payload_size: 1 << 20,
        max_inflight_count: 500,
        auth: None,
        external_auth: None,
        dynamic_filters: true,
    };
    let server = ServerSettings {
        name: "v4-1".into(),
        listen: addr,
        tls: None,
        next_connection_delay_ms: 1,
        connections,
    };
    let router = RouterConfig {
        max_connections: 1000,
        max_outgoing_packet_count: 2000,
        max_segment_size: 100 << 20,
        max_segment_count: 10,
        ..Default::default()
    };
    let config = Config { id: 0, router, v4: Some(HashMap::from([("v4-1".to_string(), server)])), ..Default::default() };
    std::thread::Builder::new()
        .name("mqtt-broker".into())
        .spawn(move || {
            let mut broker = Broker::new(config);
            if let Err(e) = broker.start() {
                tracing::error!(error = %e, "embedded MQTT broker stopped");
            }
        })
        .map_err(|e| BrokerError::Start { addr, reason: e.to_string() })?;
    // Ready once the port is taken. Probing by binding (not connecting) keeps
    // the broker free of half-open connections that it would log as errors.
    let until = Instant::now() + START_TIMEOUT;
    loop {
        match TcpListener::bind(addr) {
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => return Ok(()),
            Err(e) => return Err(BrokerError::Start { addr, reason: e.to_string() }),
            Ok(probe) => drop(probe),
        }
        if Instant::now() >= until {
            return Err(BrokerError::Start { addr, reason: "not listening".into() });
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[cfg(not(feature = "embedded-broker"))]
pub fn start(_addr: SocketAddr) -> Result<(), BrokerError> {
    let _ = (TcpListener::bind, Instant::now, START_TIMEOUT, HashMap::<u8, u8>::new);
    Err(BrokerError::Disabled)
}
