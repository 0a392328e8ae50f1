//! The `[mqtt]` section and the MQTT flags resolved: where messages go
//! ([`MqttTarget`]), how they are delivered ([`Delivery`]), the login's
//! password (from the environment or a file, never shown).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use super::file::MqttConfig;
use super::overrides::{MqttOverrides, Overrides};
use super::{
    invalid, CameraSettings, ConfigError, RuntimeSettings, DEFAULT_BROKER_PORT,
    DEFAULT_KEEPALIVE_SECS, MAX_TIMEOUT_SECS, MIN_MESSAGE_BYTES,
};
use crate::mqtt::{Limits, MqttSettings, MqttVersion, Qos, Secret, TlsFiles, WhenFull};

/// Where MQTT messages go.
#[derive(Debug, Clone, PartialEq)]
pub enum MqttTarget {
    Off,
    Embedded(SocketAddr),
    External(String),
}

/// The `[mqtt]` delivery settings, resolved.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub required: bool,
    pub version: MqttVersion,
    pub tls: TlsFiles,
    pub username: Option<String>,
    pub password: Option<Secret>,
    pub queue: Limits,
    pub status_topic: Option<String>,
    pub retain_last: Vec<String>,
    /// WebSocket listener of the embedded broker.
    pub broker_ws: Option<SocketAddr>,
    /// `mqtt.max_message_bytes` (`None`: the client's default).
    pub max_message_bytes: Option<usize>,
    /// Topic prefixes stages may not publish under.
    pub host_prefixes: Vec<String>,
}

impl RuntimeSettings {
    /// The publisher's settings of `camera`'s connection to a broker at `url`.
    pub fn mqtt_settings(&self, camera: &CameraSettings, url: String) -> MqttSettings {
        let d = &self.delivery;
        MqttSettings {
            url,
            client_id: camera.client_id.clone(),
            keepalive: self.keepalive,
            connect_timeout: self.connect_timeout,
            ack_timeout: self.ack_timeout,
            required: d.required,
            version: d.version,
            tls: d.tls.clone(),
            username: d.username.clone(),
            password: d.password.clone(),
            queue: d.queue,
            status_topic: camera.status_topic.clone(),
            retain_last: d.retain_last.clone(),
            max_message_bytes: d.max_message_bytes,
        }
    }
}

/// A run's MQTT settings, resolved (the fields of [`RuntimeSettings`] they fill).
pub(super) struct Mqtt {
    pub target: MqttTarget,
    pub client_id: String,
    pub keepalive: Duration,
    pub connect_timeout: Duration,
    pub ack_timeout: Duration,
    pub delivery: Delivery,
}

pub(super) fn resolve(
    o: &Overrides,
    f: &MqttConfig,
    pipeline_name: &str,
) -> Result<Mqtt, ConfigError> {
    let bind = f.embedded_bind.unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
    let target = target(o, f, bind)?;
    let keepalive = o
        .keepalive_secs
        .or(f.keepalive_secs)
        .unwrap_or(DEFAULT_KEEPALIVE_SECS);
    if keepalive == 0 || keepalive > u16::MAX as u64 {
        return Err(invalid(
            "mqtt.keepalive_secs",
            format!("{keepalive} is not 1..65535"),
        ));
    }
    let connect_timeout_secs = bounded_secs(
        "mqtt.connect_timeout_secs",
        f.connect_timeout_secs.unwrap_or(5),
    )?
    .max(1);
    let ack_timeout_secs = bounded_secs("mqtt.ack_timeout_secs", f.ack_timeout_secs.unwrap_or(10))?;
    Ok(Mqtt {
        target,
        client_id: o
            .client_id
            .clone()
            .or(f.client_id.clone())
            .unwrap_or_else(default_client_id),
        keepalive: Duration::from_secs(keepalive),
        connect_timeout: Duration::from_secs(connect_timeout_secs),
        ack_timeout: Duration::from_secs(ack_timeout_secs),
        delivery: delivery(&o.mqtt, f, pipeline_name, bind)?,
    })
}

/// Off, an external broker (`mqtt.url`), or the embedded one on `bind`.
fn target(o: &Overrides, f: &MqttConfig, bind: IpAddr) -> Result<MqttTarget, ConfigError> {
    if o.no_mqtt || !f.enabled.unwrap_or(true) {
        return Ok(MqttTarget::Off);
    }
    if let Some(url) = o.mqtt_url.clone().or(f.url.clone()) {
        crate::mqtt::BrokerAddr::parse(&url).map_err(|e| invalid("mqtt.url", e))?;
        return Ok(MqttTarget::External(url));
    }
    let port = o
        .broker_port
        .or(f.embedded_port)
        .unwrap_or(DEFAULT_BROKER_PORT);
    Ok(MqttTarget::Embedded(SocketAddr::new(bind, port)))
}

/// The QoS handed to topics stages that do not choose their own.
pub(super) fn default_qos(o: &MqttOverrides, f: &MqttConfig) -> Result<u8, ConfigError> {
    let qos = o.qos.or(f.qos).unwrap_or(1);
    if Qos::from_level(qos).is_none() {
        return Err(invalid("mqtt.qos", format!("{qos} is not 0, 1 or 2")));
    }
    Ok(qos)
}

fn bounded_secs(key: &str, secs: u64) -> Result<u64, ConfigError> {
    if secs > MAX_TIMEOUT_SECS {
        return Err(invalid(
            key,
            format!("{secs} is more than {MAX_TIMEOUT_SECS} (a day)"),
        ));
    }
    Ok(secs)
}

/// Unique per host and process, so two pipelines never take over each other's session.
fn default_client_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let host: String = host
        .trim()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .take(32)
        .collect();
    if host.is_empty() {
        format!("edgepipe-{}", std::process::id())
    } else {
        format!("edgepipe-{host}-{}", std::process::id())
    }
}

/// A password from the environment variable `env` or the first line of
/// `file` (not both); `section` names the settings in errors (`mqtt`).
pub fn load_password(
    section: &str,
    env: Option<&str>,
    file: Option<&Path>,
) -> Result<Option<Secret>, ConfigError> {
    let key = |k: &str| format!("{section}.{k}");
    match (env, file) {
        (Some(_), Some(_)) => Err(invalid(
            &key("password_env"),
            "give the password through an environment variable or a file, not both",
        )),
        (Some(var), None) => match std::env::var(var) {
            Ok(p) if !p.is_empty() => Ok(Some(Secret::new(p))),
            _ => Err(invalid(
                &key("password_env"),
                format!("environment variable {var} is not set or empty"),
            )),
        },
        (None, Some(path)) => {
            let text = std::fs::read_to_string(path).map_err(|e| {
                invalid(
                    &key("password_file"),
                    format!("{}: {}", path.display(), e.kind()),
                )
            })?;
            let first = text.lines().next().unwrap_or("");
            if first.is_empty() {
                return Err(invalid(
                    &key("password_file"),
                    format!("{}: the first line is empty", path.display()),
                ));
            }
            Ok(Some(Secret::new(first)))
        }
        (None, None) => Ok(None),
    }
}

fn delivery(
    o: &MqttOverrides,
    f: &MqttConfig,
    pipeline_name: &str,
    bind: IpAddr,
) -> Result<Delivery, ConfigError> {
    let version = match o.version.clone().or(f.version.clone()) {
        Some(v) => v
            .parse::<MqttVersion>()
            .map_err(|e| invalid("mqtt.version", e))?,
        None => MqttVersion::V311,
    };
    let queue = queue(o, f)?;
    let (username, password) = login(o, f)?;
    let (status_topic, host_prefixes) = status_topic(f, pipeline_name)?;
    let max_message_bytes = f.max_message_bytes;
    if let Some(m) = max_message_bytes
        .filter(|m| !(MIN_MESSAGE_BYTES..=crate::mqtt::MQTT_MAX_PACKET).contains(m))
    {
        return Err(invalid(
            "mqtt.max_message_bytes",
            format!(
                "{m} is not {MIN_MESSAGE_BYTES}..={} (the largest MQTT packet)",
                crate::mqtt::MQTT_MAX_PACKET
            ),
        ));
    }
    let mut retain_last = f.retain_last.clone().unwrap_or_default();
    retain_last.extend(o.retain_last.iter().cloned());
    if let Some(t) = retain_last
        .iter()
        .find(|t| t.is_empty() || t.contains(['+', '#']))
    {
        return Err(invalid(
            "mqtt.retain_last",
            format!("{t:?} is not a topic name (no wildcards)"),
        ));
    }
    Ok(Delivery {
        required: o.required || f.required.unwrap_or(false),
        version,
        tls: TlsFiles {
            ca: o.ca_file.clone().or(f.ca_file.clone()),
            cert: o.client_cert.clone().or(f.client_cert.clone()),
            key: o.client_key.clone().or(f.client_key.clone()),
        },
        username,
        password,
        queue,
        status_topic,
        retain_last,
        broker_ws: o
            .broker_ws_port
            .or(f.embedded_ws_port)
            .map(|p| SocketAddr::new(bind, p)),
        max_message_bytes,
        host_prefixes,
    })
}

/// The bounds of the queue in front of the connection and what happens when it is full.
fn queue(o: &MqttOverrides, f: &MqttConfig) -> Result<Limits, ConfigError> {
    let when_full = match o.when_full.clone().or(f.when_full.clone()) {
        Some(w) => w
            .parse::<WhenFull>()
            .map_err(|e| invalid("mqtt.when_full", e))?,
        None => WhenFull::DropOldest,
    };
    let defaults = Limits::default();
    let messages = o
        .queue_messages
        .or(f.queue_messages)
        .unwrap_or(defaults.messages);
    let bytes = o.queue_bytes.or(f.queue_bytes).unwrap_or(defaults.bytes);
    if messages == 0 {
        return Err(invalid("mqtt.queue_messages", "must be at least 1"));
    }
    if bytes < 1024 {
        return Err(invalid(
            "mqtt.queue_bytes",
            format!("{bytes} is below 1024"),
        ));
    }
    Ok(Limits {
        messages,
        bytes,
        when_full,
    })
}

/// The user name and the password (from an environment variable or a file; never shown).
fn login(
    o: &MqttOverrides,
    f: &MqttConfig,
) -> Result<(Option<String>, Option<Secret>), ConfigError> {
    let username = o.username.clone().or(f.username.clone());
    let env = o.password_env.clone().or(f.password_env.clone());
    let file = o.password_file.clone().or(f.password_file.clone());
    let password = load_password("mqtt", env.as_deref(), file.as_deref())?;
    if password.is_some() && username.is_none() {
        return Err(invalid(
            "mqtt.username",
            "a password is given but no user name",
        ));
    }
    Ok((username, password))
}

/// `<status_prefix>/status` (`None`: an empty prefix) and the prefixes
/// stages may not publish under.
fn status_topic(
    f: &MqttConfig,
    pipeline_name: &str,
) -> Result<(Option<String>, Vec<String>), ConfigError> {
    let prefix = f
        .status_prefix
        .clone()
        .unwrap_or_else(|| format!("edgepipe/{pipeline_name}"));
    let prefix = prefix.trim_end_matches('/').to_string();
    if prefix.contains(['+', '#']) {
        return Err(invalid(
            "mqtt.status_prefix",
            format!("{prefix:?} must be free of '+' and '#'"),
        ));
    }
    let status_topic = if prefix.is_empty() {
        None
    } else {
        Some(format!("{prefix}/status"))
    };
    let mut host_prefixes = vec![format!("edgepipe/{pipeline_name}")];
    if !prefix.is_empty() && !host_prefixes.contains(&prefix) {
        host_prefixes.push(prefix);
    }
    Ok((status_topic, host_prefixes))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::{resolve, FileConfig, Overrides};
    use crate::plugin::StageKind;

    #[test]
    fn mqtt_delivery_defaults_and_overrides() {
        let s = resolve(
            None,
            &Overrides {
                name: Some("door".into()),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(
            s.runtime.delivery.status_topic.as_deref(),
            Some("edgepipe/door/status")
        );
        assert_eq!(s.runtime.delivery.queue, Limits::default());
        assert!(!s.runtime.delivery.required && s.runtime.delivery.version == MqttVersion::V311);
        let topics = s.cameras[0]
            .stages
            .iter()
            .find(|st| st.kind == StageKind::Topics)
            .unwrap();
        assert!(
            topics
                .settings
                .contains(&("qos".to_string(), "1".to_string())),
            "default QoS handed to topics stages"
        );

        let f = FileConfig::parse(
            "[mqtt]\nqos = 0\nstatus_prefix = \"site/cam\"\nwhen_full = \"drop-newest\"\nretain_last = [\"person\"]\n\n\
             [[stages]]\nname = \"t\"\nkind = \"topics\"\nsettings = { qos = 2 }\n[[stages]]\nname = \"u\"\nkind = \"topics\"\n",
            Path::new("p.toml"),
        )
        .unwrap();
        let o = Overrides {
            mqtt: MqttOverrides {
                queue_messages: Some(7),
                ..Default::default()
            },
            ..Default::default()
        };
        let s = resolve(Some(f), &o).unwrap();
        assert_eq!(
            s.runtime.delivery.status_topic.as_deref(),
            Some("site/cam/status")
        );
        assert_eq!(s.runtime.delivery.queue.messages, 7);
        assert_eq!(s.runtime.delivery.queue.when_full, WhenFull::DropNewest);
        assert_eq!(s.runtime.delivery.retain_last, ["person"]);
        let qos: Vec<&str> = s.cameras[0]
            .stages
            .iter()
            .flat_map(|st| {
                st.settings
                    .iter()
                    .filter(|(k, _)| k == "qos")
                    .map(|(_, v)| v.as_str())
            })
            .collect();
        assert_eq!(
            qos,
            ["2", "0"],
            "a stage's own qos wins over the pipeline default"
        );
    }

    #[test]
    fn passwords_come_from_env_or_file_and_never_show() {
        let dir = std::env::temp_dir().join(format!("edgepipe-cfg-pw-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("pw");
        std::fs::write(&file, "hunter2\nignored\n").unwrap();
        let o = Overrides {
            mqtt: MqttOverrides {
                username: Some("u".into()),
                password_file: Some(file.clone()),
                ..Default::default()
            },
            ..Default::default()
        };
        let s = resolve(None, &o).unwrap();
        assert_eq!(
            s.runtime.delivery.password.as_ref().map(|p| p.expose()),
            Some("hunter2")
        );
        assert!(!format!("{s:?}").contains("hunter2"));
        let o = Overrides {
            mqtt: MqttOverrides {
                password_file: Some(file),
                ..Default::default()
            },
            ..Default::default()
        };
        let e = resolve(None, &o).unwrap_err().to_string();
        assert!(e.contains("no user name") && !e.contains("hunter2"), "{e}");
        let o = Overrides {
            mqtt: MqttOverrides {
                username: Some("u".into()),
                password_env: Some("EDGEPIPE_UNIT_NO_SUCH_VAR".into()),
                ..Default::default()
            },
            ..Default::default()
        };
        assert!(resolve(None, &o)
            .unwrap_err()
            .to_string()
            .contains("EDGEPIPE_UNIT_NO_SUCH_VAR is not set"));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn stages_may_not_use_the_host_topics() {
        let s = resolve(
            None,
            &Overrides {
                name: Some("door".into()),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(s.runtime.delivery.host_prefixes, ["edgepipe/door"]);
        let f = FileConfig::parse(
            "[mqtt]\nstatus_prefix = \"site/cam/\"\n",
            Path::new("p.toml"),
        )
        .unwrap();
        let s = resolve(Some(f), &Overrides::default()).unwrap();
        assert_eq!(
            s.runtime.delivery.host_prefixes,
            ["edgepipe/default", "site/cam"]
        );
    }
}
