//! The HTTP server: a listener thread, a thread per connection (streams are
//! capped at `max_viewers` for the whole process; beyond it 503), routing
//! and the token check. With one camera every path is that camera's; with
//! several, `/` is the camera list and `/cameras/<name>/...` a camera's own
//! paths. Paths under `.../tenants/<id>/` are that tenant's own view.

use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::auth::{Scope, COOKIE};
use super::http::{read_request, respond, Request};
use super::status::{CameraRow, SiteStatus};
use super::{mjpeg, page, sse, Hub, Site};

/// A client that stops reading is dropped after this long.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// Counts a stream against the viewer cap while it lives.
pub struct ViewerSlot<'a>(&'a AtomicUsize);

impl Drop for ViewerSlot<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

fn viewer(site: &Site) -> Option<ViewerSlot<'_>> {
    if site.viewers.fetch_add(1, Ordering::Relaxed) >= site.max_viewers {
        site.viewers.fetch_sub(1, Ordering::Relaxed);
        return None;
    }
    Some(ViewerSlot(&site.viewers))
}

pub fn spawn(listener: TcpListener, site: Arc<Site>) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("live-http".into())
        .spawn(move || accept_loop(listener, site))
        .map(|_| ())
}

fn accept_loop(listener: TcpListener, site: Arc<Site>) {
    // Connections (streams and short requests) at once; more are closed.
    let open = Arc::new(AtomicUsize::new(0));
    let most = site.max_viewers * 2 + 32;
    for conn in listener.incoming() {
        if site.is_closed() {
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
        let (site, open2) = (site.clone(), open.clone());
        let spawned = std::thread::Builder::new()
            .name("live-conn".into())
            .spawn(move || {
                serve(&stream, &site);
                open2.fetch_sub(1, Ordering::Relaxed);
            });
        if spawned.is_err() {
            open.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

/// Split `/<kind>/<id>/rest` (kind `cameras` or `tenants`) into the id and
/// `/rest` (empty for `/<kind>/<id>` without its slash).
fn split_under<'a>(path: &'a str, kind: &str) -> Option<(&'a str, &'a str)> {
    let rest = path
        .strip_prefix('/')?
        .strip_prefix(kind)?
        .strip_prefix('/')?;
    Some(match rest.split_once('/') {
        Some((id, r)) => (id, &path[path.len() - r.len() - 1..]),
        None => (rest, ""),
    })
}

/// Split `/tenants/<id>/rest` into the tenant and the rest.
fn scope_of(path: &str) -> (Scope<'_>, &str) {
    match split_under(path, "tenants") {
        Some((id, rest)) => (Scope::Tenant(id), rest),
        None => (Scope::Operator, path),
    }
}

fn plain(stream: &TcpStream, status: &str, extra: &str, body: &[u8]) {
    let _ = respond(stream, status, "text/plain", extra, body);
}

fn serve(stream: &TcpStream, site: &Site) {
    let _ = stream.set_write_timeout(Some(WRITE_TIMEOUT));
    let _ = stream.set_nodelay(true);
    let Some(req) = read_request(stream) else {
        return plain(stream, "400 Bad Request", "", b"bad request\n");
    };
    if req.method != "GET" && req.method != "HEAD" {
        return plain(
            stream,
            "405 Method Not Allowed",
            "Allow: GET\r\n",
            b"GET only\n",
        );
    }
    let (camera, path) = match split_under(&req.path, "cameras") {
        Some((name, rest)) => (Some(name), rest),
        None => (None, req.path.as_str()),
    };
    let (scope, rest) = scope_of(path);
    if !site.tokens.allows(&scope, req.token()) {
        return plain(
            stream,
            "401 Unauthorized",
            "",
            b"a token is required: ?token=... or the edgepipe_token cookie\n",
        );
    }
    if rest.is_empty() {
        let to = format!("Location: {}/\r\n", req.path);
        return plain(stream, "308 Permanent Redirect", &to, b"");
    }
    let hub = match camera {
        Some(name) => match site.camera(name) {
            Some(h) => h,
            None => return plain(stream, "404 Not Found", "", b"no such camera\n"),
        },
        None => match site.only() {
            Some(h) => h,
            None if matches!(scope, Scope::Operator) => return route_site(stream, site, &req),
            None => {
                return plain(
                    stream,
                    "404 Not Found",
                    "",
                    b"with several cameras a tenant's page is /cameras/<name>/tenants/<id>/\n",
                )
            }
        },
    };
    let base = camera.map(|c| format!("/cameras/{c}")).unwrap_or_default();
    let tenant = match &scope {
        Scope::Operator => None,
        Scope::Tenant(id) => match hub.status.get().tenants.into_iter().find(|t| t.id == *id) {
            Some(t) => Some((id.to_string(), t.prefix)),
            None => return plain(stream, "404 Not Found", "", b"no such tenant\n"),
        },
    };
    route(stream, site, &hub, &req, rest, (&base, tenant));
}

/// The cookie that keeps a `?token=` for the pages it opens.
fn cookie(req: &Request, base: &str, tenant: Option<&(String, String)>) -> String {
    match (req.param("token"), tenant) {
        (Some(t), None) => {
            format!("Set-Cookie: {COOKIE}={t}; Path=/; HttpOnly; SameSite=Strict\r\n")
        }
        (Some(t), Some((id, _))) => format!(
            "Set-Cookie: {COOKIE}={t}; Path={base}/tenants/{id}/; HttpOnly; SameSite=Strict\r\n"
        ),
        (None, _) => String::new(),
    }
}

/// The same files for every page.
fn asset(stream: &TcpStream, path: &str) -> Option<std::io::Result<()>> {
    let (kind, body) = match path {
        "/app.js" => ("text/javascript; charset=utf-8", page::APP_JS),
        "/cameras.js" => ("text/javascript; charset=utf-8", page::CAMERAS_JS),
        "/style.css" => ("text/css; charset=utf-8", page::STYLE_CSS),
        "/healthz" => ("text/plain", "ok\n"),
        _ => return None,
    };
    Some(respond(stream, "200 OK", kind, "", body.as_bytes()))
}

/// `/` and the process-wide paths of a process with several cameras.
fn route_site(stream: &TcpStream, site: &Site, req: &Request) {
    let path = req.path.as_str();
    let r = match path {
        "/" | "/index.html" => respond(
            stream,
            "200 OK",
            "text/html; charset=utf-8",
            &cookie(req, "", None),
            page::CAMERAS.as_bytes(),
        ),
        "/api/status" => {
            let body = serde_json::to_vec(&SiteStatus::of(&site.cameras())).unwrap_or_default();
            respond(stream, "200 OK", "application/json", "", &body)
        }
        "/metrics" => metrics(stream, site, &site.cameras()),
        "/api/events" => match viewer(site) {
            Some(_slot) => sse::stream(stream, &site.bus, &|| site.is_closed(), None),
            None => too_many(stream),
        },
        _ => match asset(stream, path) {
            Some(r) => r,
            None => respond(
                stream,
                "404 Not Found",
                "text/plain",
                "",
                b"not found (with several cameras a camera's paths are under /cameras/<name>/)\n",
            ),
        },
    };
    if let Err(e) = r {
        tracing::debug!(path = %req.path, "live view client gone: {e}");
    }
}

fn metrics(stream: &TcpStream, site: &Site, hubs: &[Arc<Hub>]) -> std::io::Result<()> {
    let runs = site.runs.get().map(|r| r.runs_and_frames());
    let viewers = site.viewers.load(Ordering::Relaxed);
    let text = super::metrics::render(hubs, viewers, site.several(), runs);
    respond(
        stream,
        "200 OK",
        "text/plain; version=0.0.4; charset=utf-8",
        "",
        text.as_bytes(),
    )
}

fn too_many(stream: &TcpStream) -> std::io::Result<()> {
    respond(
        stream,
        "503 Service Unavailable",
        "text/plain",
        "Retry-After: 5\r\n",
        b"too many viewers\n",
    )
}

/// A camera's paths (`base`: `/cameras/<name>` with several cameras).
fn route(
    stream: &TcpStream,
    site: &Site,
    hub: &Arc<Hub>,
    req: &Request,
    rest: &str,
    (base, tenant): (&str, Option<(String, String)>),
) {
    let tenant_id = tenant.as_ref().map(|t| t.0.as_str());
    let r = match rest {
        "/" | "/index.html" => respond(
            stream,
            "200 OK",
            "text/html; charset=utf-8",
            &cookie(req, base, tenant.as_ref()),
            page::INDEX.as_bytes(),
        ),
        "/api/status" => {
            let mut s = CameraRow::of(hub);
            if let Some(id) = tenant_id {
                // A tenant sees its own entry only.
                s.status.tenants.retain(|t| t.id == id);
            }
            let body = serde_json::to_vec(&s).unwrap_or_default();
            respond(stream, "200 OK", "application/json", "", &body)
        }
        "/metrics" if tenant.is_none() => metrics(stream, site, std::slice::from_ref(hub)),
        "/snapshot.jpg" => mjpeg::snapshot(stream, hub, req, tenant_id),
        "/stream.mjpeg" | "/api/events" => {
            let Some(_slot) = viewer(site) else {
                let _ = too_many(stream);
                return;
            };
            if rest == "/stream.mjpeg" {
                mjpeg::stream(stream, hub, req, tenant_id)
            } else {
                let prefix = tenant.as_ref().map(|t| t.1.as_str());
                sse::stream(stream, &hub.bus, &|| hub.frames.is_closed(), prefix)
            }
        }
        _ => match asset(stream, rest) {
            Some(r) => r,
            None => respond(stream, "404 Not Found", "text/plain", "", b"not found\n"),
        },
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

    #[test]
    fn camera_paths_are_split() {
        assert_eq!(
            split_under("/cameras/door/stream.mjpeg", "cameras"),
            Some(("door", "/stream.mjpeg"))
        );
        assert_eq!(
            split_under("/cameras/door/tenants/acme/", "cameras"),
            Some(("door", "/tenants/acme/"))
        );
        assert_eq!(split_under("/cameras/door", "cameras"), Some(("door", "")));
        assert_eq!(split_under("/camerasx/door/", "cameras"), None);
        assert_eq!(split_under("/metrics", "cameras"), None);
    }
}
