//! The little HTTP/1.1 the live view needs: read one request head, write a
//! response head. One connection serves one request (`Connection: close`).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// Largest request head accepted.
pub const MAX_HEAD: usize = 8 * 1024;
/// How long a client may take to send its request head.
pub const READ_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub cookie_token: Option<String>,
}

impl Request {
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
    /// The token given (query first, then cookie).
    pub fn token(&self) -> Option<&str> {
        self.param("token").or(self.cookie_token.as_deref())
    }
}

fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                match u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("zz"), 16)
                {
                    Ok(v) => {
                        out.push(v);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parse a request line's target into path and query pairs.
pub fn split_target(target: &str) -> (String, Vec<(String, String)>) {
    let (path, q) = target.split_once('?').unwrap_or((target, ""));
    let query = q
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (unescape(k), unescape(v))
        })
        .collect();
    (path.to_string(), query)
}

/// Read the request head (line + headers); `None` for anything malformed.
pub fn read_request(stream: &TcpStream) -> Option<Request> {
    stream.set_read_timeout(Some(READ_TIMEOUT)).ok()?;
    let mut r = BufReader::new(stream.take(MAX_HEAD as u64));
    let mut line = String::new();
    r.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let (method, target) = (parts.next()?.to_string(), parts.next()?);
    let (path, query) = split_target(target);
    let mut cookie_token = None;
    loop {
        let mut h = String::new();
        if r.read_line(&mut h).ok()? == 0 {
            return None;
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((name, value)) = h.split_once(':') {
            if name.eq_ignore_ascii_case("cookie") {
                cookie_token = value
                    .split(';')
                    .filter_map(|c| c.trim().split_once('='))
                    .find(|(k, _)| *k == super::auth::COOKIE)
                    .map(|(_, v)| v.to_string());
            }
        }
    }
    Some(Request {
        method,
        path,
        query,
        cookie_token,
    })
}

/// Write a whole small response.
pub fn respond(
    mut s: &TcpStream,
    status: &str,
    content_type: &str,
    extra: &str,
    body: &[u8],
) -> std::io::Result<()> {
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nCache-Control: no-store\r\nConnection: close\r\n{extra}\r\n",
        body.len()
    );
    s.write_all(head.as_bytes())?;
    s.write_all(body)?;
    s.flush()
}

/// Write the head of a response whose body streams until the connection ends.
pub fn stream_head(mut s: &TcpStream, content_type: &str) -> std::io::Result<()> {
    let head = format!("HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nCache-Control: no-store\r\nConnection: close\r\nX-Accel-Buffering: no\r\n\r\n");
    s.write_all(head.as_bytes())
}

#[cfg(test)]
mod tests {
    #[test]
    fn target_is_split_and_unescaped() {
        let (p, q) = super::split_target("/stream.mjpeg?fps=5&height=240&token=a%2Bb&x");
        assert_eq!(p, "/stream.mjpeg");
        assert_eq!(
            q,
            vec![
                ("fps".into(), "5".into()),
                ("height".into(), "240".into()),
                ("token".into(), "a+b".into()),
                ("x".into(), "".into())
            ]
        );
        let (_, q) = super::split_target("/?a=%zz&b=%4");
        assert_eq!(
            q,
            vec![("a".into(), "%zz".into()), ("b".into(), "%4".into())]
        );
    }
}
