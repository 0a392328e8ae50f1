//! The live view: edgepipe's own HTTP server (a page with the annotated video,
//! the course's figures and the live messages; MJPEG, snapshot, Server-Sent
//! Events, status JSON, Prometheus metrics, health). The engine only hands it
//! the newest frame, each message and a status snapshot through a [`Tap`];
//! nothing here can slow the frame loop.

pub mod auth;
pub mod bus;
pub mod encoder;
pub mod http;
pub mod metrics;
pub mod mjpeg;
pub mod page;
pub mod server;
pub mod sse;
pub mod status;

use std::net::SocketAddr;
use std::sync::Arc;

pub use auth::Tokens;
pub use bus::Bus;
pub use encoder::Frames;
pub use status::Status;

/// The live view's settings (from `[http]` and the `--http*` flags).
pub use crate::config::LiveSettings;

#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    #[error("live view: cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("live view: {0}")]
    Token(String),
    #[error("live view: cannot start a thread: {0}")]
    Thread(std::io::Error),
}

/// Everything the server and the engine share.
pub struct Hub {
    pub frames: Frames,
    pub bus: Bus,
    pub status: Status,
    pub tokens: Tokens,
    pub max_viewers: usize,
    pub viewers: std::sync::atomic::AtomicUsize,
}

/// The engine's side: cheap calls from the stages thread, none of which waits.
#[derive(Clone)]
pub struct Tap {
    pub hub: Arc<Hub>,
}

impl Tap {
    /// A frame is worth handing over (someone watches or asked for a snapshot).
    pub fn wants_frame(&self) -> bool {
        self.hub.frames.wanted()
    }
    /// Tenant `id`'s frames are watched: its draw stages should run.
    pub fn wants_tenant_frame(&self, id: &str) -> bool {
        self.hub.frames.tenant_wanted(id)
    }
    /// The operator's newest drawn frame; wakes the encoder.
    pub fn frame(&self, index: u64, bgr: Option<Arc<Vec<u8>>>) {
        self.hub.frames.put(index, bgr);
    }
    /// A message the pipeline publishes (or would, with MQTT off).
    pub fn message(&self, topic: &str, payload: &str) {
        self.hub.bus.publish(topic, payload);
        self.hub
            .status
            .counters
            .messages
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
    /// A chain's messages of one frame and its plugin events (on `events_topic`).
    pub fn chain_output(
        &self,
        messages: &[crate::plugin::bindings::Message],
        events_topic: &str,
        events: &[crate::plugin::PluginEvent],
    ) {
        for m in messages {
            self.message(&m.topic, &m.payload);
        }
        for e in events {
            self.message(events_topic, &e.to_json());
        }
    }
    /// The end of a frame: the operator's drawn frame (moved, not copied) or,
    /// when someone wants one, a copy of the undrawn pixels; the stages' time.
    pub fn frame_done(&self, index: u64, drawn: Option<Vec<u8>>, pixels: &[u8], stages_ms: f64) {
        let bgr = match drawn {
            Some(d) => Some(Arc::new(d)),
            None if self.wants_frame() => Some(Arc::new(pixels.to_vec())),
            None => None,
        };
        self.hub.status.frame_done(stages_ms);
        self.frame(index, bgr);
    }
    pub fn refresh(&self, s: status::Snapshot) {
        self.hub.status.set(s);
    }
}

/// A running live view: the server's listener thread and the encoder.
pub struct Live {
    pub tap: Tap,
    pub addr: SocketAddr,
}

impl Live {
    /// Stop serving: streams end, the encoder and the listener stop.
    pub fn close(&self) {
        self.tap.hub.frames.close();
        // Wake the listener blocked in accept.
        let _ =
            std::net::TcpStream::connect_timeout(&self.addr, std::time::Duration::from_millis(200));
    }
}

/// Bind and start serving. `Ok(None)`: the default port was taken (warned,
/// the run goes on without the view).
pub fn start(
    s: &LiveSettings,
    width: u32,
    height: u32,
    tenant_frames: Option<encoder::TenantFrames>,
) -> Result<Option<Live>, LiveError> {
    if !s.listen.ip().is_loopback() && s.token.is_none() {
        return Err(LiveError::Token(format!(
            "{} is not a loopback address: a token is required (--http-token-env VAR or --http-token-file FILE)",
            s.listen
        )));
    }
    let listener = match std::net::TcpListener::bind(s.listen) {
        Ok(l) => l,
        Err(e) if !s.explicit && e.kind() == std::io::ErrorKind::AddrInUse => {
            tracing::warn!(addr = %s.listen, "live view off: the address is taken (choose one with --http ADDR, or --no-http)");
            return Ok(None);
        }
        Err(source) => {
            return Err(LiveError::Bind {
                addr: s.listen,
                source,
            })
        }
    };
    let addr = listener.local_addr().map_err(|source| LiveError::Bind {
        addr: s.listen,
        source,
    })?;
    let hub = Arc::new(Hub {
        frames: Frames::new(width, height, tenant_frames),
        bus: Bus::new(bus::CAPACITY),
        status: Status::default(),
        tokens: Tokens::new(s.token.as_ref().map(|t| t.expose().to_string())),
        max_viewers: s.max_viewers,
        viewers: Default::default(),
    });
    encoder::spawn(hub.clone()).map_err(LiveError::Thread)?;
    server::spawn(listener, hub.clone()).map_err(LiveError::Thread)?;
    Ok(Some(Live {
        tap: Tap { hub },
        addr,
    }))
}
