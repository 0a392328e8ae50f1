//! The `[http]` table of a pipeline file and the `--http*` flags, resolved
//! into [`LiveSettings`].

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::Deserialize;

use super::{LiveSettings, Tokens, DEFAULT_LISTEN, DEFAULT_MAX_VIEWERS};
use crate::config::ConfigError;

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

fn invalid(key: &str, reason: impl std::fmt::Display) -> ConfigError {
    ConfigError::Invalid { key: key.to_string(), reason: reason.to_string() }
}

/// `None`: no live view (turned off).
pub fn resolve(o: &HttpOverrides, f: &HttpConfig) -> Result<Option<LiveSettings>, ConfigError> {
    if o.off || (o.listen.is_none() && f.enabled == Some(false)) {
        return Ok(None);
    }
    let text = o.listen.clone().or(f.listen.clone()).unwrap_or_else(|| DEFAULT_LISTEN.to_string());
    let listen: SocketAddr = text.parse().map_err(|_| invalid("http.listen", format!("{text:?} is not an address like 127.0.0.1:8080")))?;
    let max_viewers = f.max_viewers.unwrap_or(DEFAULT_MAX_VIEWERS);
    if max_viewers == 0 || max_viewers > MAX_VIEWERS {
        return Err(invalid("http.max_viewers", format!("{max_viewers} is not between 1 and {MAX_VIEWERS}")));
    }
    let (var, file) = match (&o.token_env, &o.token_file) {
        (None, None) => (f.token_env.as_deref(), f.token_file.as_deref()),
        (v, p) => (v.as_deref(), p.as_deref()),
    };
    let token = super::auth::read_token(var, file).map_err(|e| invalid("http.token", e))?;
    Ok(Some(LiveSettings { listen, explicit: o.listen.is_some(), max_viewers, tokens: Tokens::new(token) }))
}
