//! The live view: edgepipe's own HTTP server (a page with the annotated video,
//! the course's figures and the live messages; MJPEG, snapshot, Server-Sent
//! Events, status JSON, Prometheus metrics, health). The engine only hands it
//! the newest frame, each message and a status snapshot through a [`Tap`];
//! nothing here can slow the frame loop. One server per process ([`Live`]),
//! a [`Hub`] per camera ([`Live::add_camera`]); see [`site`] for the URLs.

pub mod auth;
pub mod bus;
pub mod encoder;
pub mod http;
pub mod metrics;
pub mod mjpeg;
pub mod page;
pub mod server;
pub mod site;
pub mod sse;
pub mod status;

use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex, PoisonError};

pub use auth::Tokens;
pub use bus::Bus;
pub use encoder::Frames;
pub use site::Site;
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

/// Everything the server and one camera's engine share.
pub struct Hub {
    /// The camera's name (`default` for `--input`).
    pub camera: String,
    /// Its chains' topic prefix (`door/`; empty with one camera).
    pub topic_prefix: String,
    pub frames: Frames,
    pub bus: Bus,
    pub status: Status,
    /// The process's tokens (shared).
    pub tokens: Tokens,
    pub max_viewers: usize,
    /// Open streams of the whole process (shared).
    pub viewers: Arc<AtomicUsize>,
    /// The process-wide bus (every camera's messages).
    pub all: Arc<Bus>,
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
        self.hub.all.publish_from(&self.hub.camera, topic, payload);
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

/// The process's live view: the listener and the cameras it serves.
pub struct Live {
    pub site: Arc<Site>,
    pub addr: SocketAddr,
    /// Taken by the accept loop when it starts (at once with several
    /// cameras, with the first camera otherwise: until then connections wait).
    listener: Mutex<Option<TcpListener>>,
}

/// One camera on the live view.
pub struct CameraView {
    pub tap: Tap,
}

impl CameraView {
    /// The camera ended: its streams end (it stays listed with its last figures).
    pub fn close(&self) {
        self.tap.hub.frames.close();
    }
}

impl Live {
    /// Serve camera `name` (frames of `width` x `height`, topics under `topic_prefix`).
    pub fn add_camera(
        &self,
        name: &str,
        topic_prefix: &str,
        size: (u32, u32),
        tenant_frames: Option<encoder::TenantFrames>,
    ) -> Result<CameraView, LiveError> {
        let hub = Arc::new(Hub {
            camera: name.to_string(),
            topic_prefix: topic_prefix.to_string(),
            frames: Frames::new(size.0, size.1, tenant_frames),
            bus: Bus::new(bus::CAPACITY),
            status: Status::default(),
            tokens: self.site.tokens.clone(),
            max_viewers: self.site.max_viewers,
            viewers: self.site.viewers.clone(),
            all: self.site.bus.clone(),
        });
        encoder::spawn(hub.clone()).map_err(LiveError::Thread)?;
        self.site.add(hub.clone());
        self.serve()?;
        Ok(CameraView { tap: Tap { hub } })
    }

    /// Start accepting connections (once).
    fn serve(&self) -> Result<(), LiveError> {
        let taken = self
            .listener
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        match taken {
            Some(l) => server::spawn(l, self.site.clone()).map_err(LiveError::Thread),
            None => Ok(()),
        }
    }

    /// Stop serving: streams end, the encoders and the listener stop.
    pub fn close(&self) {
        self.site.close();
        // Wake the listener blocked in accept.
        let _ =
            std::net::TcpStream::connect_timeout(&self.addr, std::time::Duration::from_millis(200));
    }
}

/// Bind (and, with `several` cameras, start serving: `/` lists them).
/// `Ok(None)`: the default port was taken (warned, the run goes on without
/// the view).
pub fn start(s: &LiveSettings, several: bool) -> Result<Option<Live>, LiveError> {
    if !s.listen.ip().is_loopback() && s.token.is_none() {
        return Err(LiveError::Token(format!(
            "{} is not a loopback address: a token is required (--http-token-env VAR or --http-token-file FILE)",
            s.listen
        )));
    }
    let listener = match TcpListener::bind(s.listen) {
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
    let tokens = Tokens::new(s.token.as_ref().map(|t| t.expose().to_string()));
    let live = Live {
        site: Arc::new(Site::new(several, tokens, s.max_viewers)),
        addr,
        listener: Mutex::new(Some(listener)),
    };
    if several {
        live.serve()?;
    }
    Ok(Some(live))
}
