//! The `[http]` table of a pipeline file and the `--http*` flags, resolved
//! into [`LiveSettings`] (what the live view in `live/` serves), and
//! how a token is read (the operator's here, a tenant's from its file).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{invalid, ConfigError};
use crate::mqtt::Secret;

/// Default address of the live view.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// Viewers (MJPEG + SSE connections) served at once; more get 503.
pub const DEFAULT_MAX_VIEWERS: usize = 16;
/// Most viewers a file may allow.
pub const MAX_VIEWERS: usize = 256;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    /// `false`: no live view.
    pub enabled: Option<bool>,
    /// Address to serve on (default 127.0.0.1:8080).
    pub listen: Option<String>,
    /// Environment variable holding the operator's token.
    pub token_env: Option<String>,
    /// File whose first line is the operator's token.
    pub token_file: Option<PathBuf>,
    /// Streams (video, events) served at once (default 16).
    pub max_viewers: Option<usize>,
}

/// The flags of `edgepipe run`.
#[derive(Debug, Default, Clone)]
pub struct HttpOverrides {
    pub listen: Option<String>,
    pub off: bool,
    pub token_env: Option<String>,
    pub token_file: Option<PathBuf>,
}

/// The live view's settings, resolved.
#[derive(Debug, Clone)]
pub struct LiveSettings {
    pub listen: SocketAddr,
    /// The address was asked for (`--http`): a port taken is an error, not a warning.
    pub explicit: bool,
    pub max_viewers: usize,
    /// Operator token (required off loopback); tenants' tokens are added at start.
    pub token: Option<Secret>,
}

/// `None`: no live view (turned off).
pub fn resolve(o: &HttpOverrides, f: &HttpConfig) -> Result<Option<LiveSettings>, ConfigError> {
    if o.off || (o.listen.is_none() && f.enabled == Some(false)) {
        return Ok(None);
    }
    let text = o
        .listen
        .clone()
        .or(f.listen.clone())
        .unwrap_or_else(|| DEFAULT_LISTEN.to_string());
    let listen: SocketAddr = text.parse().map_err(|_| {
        invalid(
            "http.listen",
            format!("{text:?} is not an address like 127.0.0.1:8080"),
        )
    })?;
    let max_viewers = f.max_viewers.unwrap_or(DEFAULT_MAX_VIEWERS);
    if max_viewers == 0 || max_viewers > MAX_VIEWERS {
        return Err(invalid(
            "http.max_viewers",
            format!("{max_viewers} is not between 1 and {MAX_VIEWERS}"),
        ));
    }
    let (var, file) = match (&o.token_env, &o.token_file) {
        (None, None) => (f.token_env.as_deref(), f.token_file.as_deref()),
        (v, p) => (v.as_deref(), p.as_deref()),
    };
    let token = read_token(var, file).map_err(|e| invalid("http.token", e))?;
    Ok(Some(LiveSettings {
        listen,
        explicit: o.listen.is_some(),
        max_viewers,
        token: token.map(Secret::new),
    }))
}

/// Read a token: from the environment variable `var`, or the first line of `file`.
pub fn read_token(var: Option<&str>, file: Option<&Path>) -> Result<Option<String>, String> {
    let tok = match (var, file) {
        (Some(v), _) => std::env::var(v)
            .map_err(|_| format!("the environment variable {v} (HTTP token) is not set"))?,
        (None, Some(f)) => {
            let text = std::fs::read_to_string(f)
                .map_err(|e| format!("HTTP token file {}: {e}", f.display()))?;
            text.lines().next().unwrap_or("").to_string()
        }
        (None, None) => return Ok(None),
    };
    let tok = tok.trim().to_string();
    if tok.len() < 8 {
        return Err("the HTTP token is shorter than 8 characters".into());
    }
    if !tok
        .bytes()
        .all(|b| b.is_ascii_graphic() && b != b';' && b != b'&' && b != b'%')
    {
        return Err(
            "the HTTP token must be printable ASCII without ';', '&', '%' or spaces".into(),
        );
    }
    Ok(Some(tok))
}
