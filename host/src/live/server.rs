//! The HTTP server: a listener thread, a thread per connection (streams are
//! capped at `max_viewers`; beyond it 503), routing and the token check.
//! Paths under `/tenants/<id>/` are that tenant's own view.

use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::auth::{Scope, COOKIE};
use super::http::{read_request, respond, Request};
use super::{mjpeg, page, sse, Hub};

/// A client that stops reading is dropped after this long.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// Counts a stream against the viewer cap while it lives.
pub struct ViewerSlot<'a>(&'a AtomicUsize);

impl Drop for ViewerSlot<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

fn viewer(hub: &Hub) -> Option<ViewerSlot<'_>> {
    if hub.viewers.fetch_add(1, Ordering::Relaxed) >= hub.max_viewers {
        hub.viewers.fetch_sub(1, Ordering::Relaxed);
        return None;
    }
    Some(ViewerSlot(&hub.viewers))
}

pub fn spawn(listener: TcpListener, hub: Arc<Hub>) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("live-http".into())
        .spawn(move || accept_loop(listener, hub))
        .map(|_| ())
}

fn accept_loop(listener: TcpListener, hub: Arc<Hub>) {
    // Connections (streams and short requests) at once; more are closed.
    let open = Arc::new(AtomicUsize::new(0));
    let most = hub.max_viewers * 2 + 32;
    for conn in listener.incoming() {
        if hub.frames.is_closed() {
            return;
        }
        let Ok(stream) = conn else { continue };
        if open.fetch_add(1, Ordering::Relaxed) >= most {
            open.fetch_sub(1, Ordering::Relaxed);
            let _ = respond(
                &stream,
                "503 Service Unavailable",
                "text/plain",
                "",
                b"too many connections\n",
            );
            continue;
        }
        let (hub, open2) = (hub.clone(), open.clone());
        let spawned = std::thread::Builder::new()
            .name("live-conn".into())
            .spawn(move || {
                serve(&stream, &hub);
                open2.fetch_sub(1, Ordering::Relaxed);
            });
        if spawned.is_err() {
            open.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

/// Split `/tenants/<id>/rest` into the tenant and the rest.
fn scope_of(path: &str) -> (Scope<'_>, &str) {
    match path.strip_prefix("/tenants/") {
        Some(rest) => {
            let (id, rest) = rest.split_once('/').map_or((rest, ""), |(id, r)| (id, r));
            (
                Scope::Tenant(id),
                if rest.is_empty() && !path.ends_with('/') {
                    ""
                } else {
                    &path[path.len() - rest.len() - 1..]
                },
            )
        }
        None => (Scope::Operator, path),
    }
}

fn serve(stream: &TcpStream, hub: &Hub) {
    let _ = stream.set_write_timeout(Some(WRITE_TIMEOUT));
    let _ = stream.set_nodelay(true);
    let Some(req) = read_request(stream) else {
        let _ = respond(
            stream,
            "400 Bad Request",
            "text/plain",
            "",
            b"bad request\n",
        );
        return;
    };
    if req.method != "GET" && req.method != "HEAD" {
        let _ = respond(
            stream,
            "405 Method Not Allowed",
            "text/plain",
            "Allow: GET\r\n",
            b"GET only\n",
        );
        return;
    }
    let (scope, rest) = scope_of(&req.path);
    if !hub.tokens.allows(&scope, req.token()) {
        let _ = respond(
            stream,
            "401 Unauthorized",
            "text/plain",
            "",
            b"a token is required: ?token=... or the edgepipe_token cookie\n",
        );
        return;
    }
    let prefix = match &scope {
        Scope::Operator => None,
        Scope::Tenant(id) => match hub.status.get().tenants.into_iter().find(|t| t.id == *id) {
            Some(t) => Some((id.to_string(), t.prefix)),
            None => {
                let _ = respond(
                    stream,
                    "404 Not Found",
                    "text/plain",
                    "",
                    b"no such tenant\n",
                );
                return;
            }
        },
    };
    if rest.is_empty() {
        let _ = respond(
            stream,
            "308 Permanent Redirect",
            "text/plain",
            &format!("Location: {}/\r\n", req.path),
            b"",
        );
        return;
    }
    route(stream, hub, &req, rest, prefix);
}

fn route(
    stream: &TcpStream,
    hub: &Hub,
    req: &Request,
    rest: &str,
    tenant: Option<(String, String)>,
) {
    let cookie = match (req.param("token"), &tenant) {
        (Some(t), None) => {
            format!("Set-Cookie: {COOKIE}={t}; Path=/; HttpOnly; SameSite=Strict\r\n")
        }
        (Some(t), Some((id, _))) => {
            format!("Set-Cookie: {COOKIE}={t}; Path=/tenants/{id}/; HttpOnly; SameSite=Strict\r\n")
        }
        (None, _) => String::new(),
    };
    let r = match rest {
        "/" | "/index.html" => respond(
            stream,
            "200 OK",
            "text/html; charset=utf-8",
            &cookie,
            page::INDEX.as_bytes(),
        ),
        "/app.js" => respond(
            stream,
            "200 OK",
            "text/javascript; charset=utf-8",
            "",
            page::APP_JS.as_bytes(),
        ),
        "/style.css" => respond(
            stream,
            "200 OK",
            "text/css; charset=utf-8",
            "",
            page::STYLE_CSS.as_bytes(),
        ),
        "/healthz" => respond(stream, "200 OK", "text/plain", "", b"ok\n"),
        "/api/status" => {
            let mut s = hub.status.get();
            if let Some((id, _)) = &tenant {
                // A tenant sees its own entry only.
                s.tenants.retain(|t| &t.id == id);
            }
            let body = serde_json::to_vec(&s).unwrap_or_default();
            respond(stream, "200 OK", "application/json", "", &body)
        }
        "/metrics" if tenant.is_none() => respond(
            stream,
            "200 OK",
            "text/plain; version=0.0.4; charset=utf-8",
            "",
            super::metrics::render(hub).as_bytes(),
        ),
        "/snapshot.jpg" => mjpeg::snapshot(stream, hub, req, tenant.as_ref().map(|t| t.0.as_str())),
        "/stream.mjpeg" | "/api/events" => {
            let Some(_slot) = viewer(hub) else {
                let _ = respond(
                    stream,
                    "503 Service Unavailable",
                    "text/plain",
                    "Retry-After: 5\r\n",
                    b"too many viewers\n",
                );
                return;
            };
            if rest == "/stream.mjpeg" {
                mjpeg::stream(stream, hub, req, tenant.as_ref().map(|t| t.0.as_str()))
            } else {
                sse::stream(stream, hub, tenant.as_ref().map(|t| t.1.as_str()))
            }
        }
        _ => respond(stream, "404 Not Found", "text/plain", "", b"not found\n"),
    };
    if let Err(e) = r {
        tracing::debug!(path = %req.path, "live view client gone: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_paths_are_split() {
        assert_eq!(
            scope_of("/tenants/acme/stream.mjpeg"),
            (Scope::Tenant("acme"), "/stream.mjpeg")
        );
        assert_eq!(scope_of("/tenants/acme/"), (Scope::Tenant("acme"), "/"));
        assert_eq!(scope_of("/tenants/acme"), (Scope::Tenant("acme"), ""));
        assert_eq!(scope_of("/metrics"), (Scope::Operator, "/metrics"));
    }
}
