//! Broker URLs: `mqtt://host[:port]` (also `tcp://`) and `mqtts://host[:port]`
//! (also `ssl://`), parsed into an address and whether TLS is used.

use super::MqttError;

/// Port of plain MQTT when the URL has none.
pub const DEFAULT_PORT: u16 = 1883;
/// Port of MQTT over TLS when the URL has none.
pub const DEFAULT_TLS_PORT: u16 = 8883;

/// Where the broker is, and how to talk to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerAddr {
    pub host: String,
    pub port: u16,
    pub tls: bool,
}

impl BrokerAddr {
    /// Parse `mqtt://host[:port]` (1883), `mqtts://host[:port]` (8883); `tcp://`
    /// and `ssl://` are accepted as their synonyms.
    pub fn parse(url: &str) -> Result<BrokerAddr, MqttError> {
        let shown = redact(url);
        let err = |reason: &str| MqttError::Url {
            url: shown.clone(),
            reason: reason.to_string(),
        };
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| err("expected mqtt://host:port or mqtts://host:port"))?;
        let tls = match scheme.to_ascii_lowercase().as_str() {
            "mqtt" | "tcp" => false,
            "mqtts" | "ssl" => true,
            "ws" | "wss" => {
                return Err(err(&format!(
                    "scheme `{scheme}` is not supported for publishing; use mqtt:// or mqtts://"
                )))
            }
            other => {
                return Err(err(&format!(
                    "unknown scheme `{other}`; use mqtt://host:port or mqtts://host:port"
                )))
            }
        };
        let authority = rest.split('/').next().unwrap_or("");
        if authority.contains('@') {
            return Err(err("credentials in the URL are not supported; use --mqtt-username and --mqtt-password-env/--mqtt-password-file"));
        }
        let default_port = if tls { DEFAULT_TLS_PORT } else { DEFAULT_PORT };
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(']') || h.starts_with('[') => {
                if h.starts_with('[') && !h.ends_with(']') {
                    (authority, default_port)
                } else {
                    let port: u16 = p
                        .parse()
                        .map_err(|_| err(&format!("bad port `{p}` (expected 1..65535)")))?;
                    if port == 0 {
                        return Err(err("port 0 is not valid"));
                    }
                    (h, port)
                }
            }
            _ => (authority, default_port),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() {
            return Err(err("no host"));
        }
        Ok(BrokerAddr {
            host: host.to_string(),
            port,
            tls,
        })
    }
}

/// The URL with any `user:password@` replaced, so that it can be shown.
pub fn redact(url: &str) -> String {
    let (scheme, rest) = match url.split_once("://") {
        Some(x) => x,
        None => return url.to_string(),
    };
    let end = rest.find('/').unwrap_or(rest.len());
    match rest[..end].rfind('@') {
        Some(at) => format!("{scheme}://***@{}", &rest[at + 1..]),
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_urls() {
        let a = BrokerAddr::parse("mqtt://localhost:1884").unwrap();
        assert_eq!(
            a,
            BrokerAddr {
                host: "localhost".into(),
                port: 1884,
                tls: false
            }
        );
        assert_eq!(BrokerAddr::parse("mqtt://broker").unwrap().port, 1883);
        assert_eq!(
            BrokerAddr::parse("tcp://10.0.0.1:1883/").unwrap().host,
            "10.0.0.1"
        );
        assert_eq!(
            BrokerAddr::parse("mqtt://[::1]:1999").unwrap(),
            BrokerAddr {
                host: "::1".into(),
                port: 1999,
                tls: false
            }
        );
        assert_eq!(
            BrokerAddr::parse("mqtts://broker").unwrap(),
            BrokerAddr {
                host: "broker".into(),
                port: 8883,
                tls: true
            }
        );
        assert!(BrokerAddr::parse("SSL://h:8884").unwrap().tls);
    }

    #[test]
    fn bad_urls_are_one_line_errors() {
        for bad in [
            "mqtt://",
            "http://x:1",
            "localhost:1883",
            "mqtt://h:99999",
            "mqtt://h:abc",
            "mqtt://h:0",
            "ws://h:1",
            "mqtt://u:p@h",
        ] {
            let e = BrokerAddr::parse(bad).unwrap_err().to_string();
            assert!(e.starts_with("MQTT URL"), "{bad}: {e}");
            assert!(!e.contains('\n'));
        }
        let e = BrokerAddr::parse("mqtt://u:hunter2@h:1")
            .unwrap_err()
            .to_string();
        assert!(!e.contains("hunter2"), "{e}");
        assert_eq!(redact("mqtts://a:b@h:1/x"), "mqtts://***@h:1/x");
    }
}
