//! Where a chain's messages may go, enforced by the host before anything is
//! queued: the operator's chain publishes anywhere but the host's own topics
//! (`edgepipe/<pipeline>/...`) and `$` topics; a tenant's chain publishes
//! only under its prefix (its topics are relative to it), within its size
//! and count limits. Everything refused is counted and said why.

use crate::plugin::bindings::Message;

/// Longest topic accepted (MQTT allows 65535 bytes; nobody needs that).
pub const MAX_TOPIC_BYTES: usize = 1024;
/// The sub-topic of a tenant's prefix where the host publishes the tenant's
/// own events; a tenant's relative topics cannot start with `$`, so only the
/// host writes there.
pub const TENANT_EVENTS: &str = "$events";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TopicPolicy {
    /// Any valid topic except at or under one of `host_prefixes` (the
    /// host's own: `edgepipe/<name>`, the status prefix) and `$` topics;
    /// under `camera` (a camera's topic prefix) when there are several.
    Operator {
        host_prefixes: Vec<String>,
        camera: Option<String>,
    },
    /// Topics are relative to `prefix` (no trailing `/`).
    Tenant { prefix: String },
}

/// Why a message was not published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    EmptyTopic,
    Wildcard,
    Nul,
    LeadingSlash,
    Dollar,
    DotDot,
    TopicTooLong(usize),
    PayloadTooLarge { bytes: usize, max: usize },
    TooManyMessages { max: usize },
    HostTopic(String),
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::EmptyTopic => write!(f, "empty topic"),
            Refusal::Wildcard => write!(f, "topic with a wildcard (+ or #)"),
            Refusal::Nul => write!(f, "topic with a NUL character"),
            Refusal::LeadingSlash => write!(f, "topic starting with '/'"),
            Refusal::Dollar => write!(f, "topic starting with '$'"),
            Refusal::DotDot => write!(f, "topic with a '..' level"),
            Refusal::TopicTooLong(n) => write!(f, "topic of {n} bytes (at most {MAX_TOPIC_BYTES})"),
            Refusal::PayloadTooLarge { bytes, max } => {
                write!(f, "payload of {bytes} bytes (at most {max})")
            }
            Refusal::TooManyMessages { max } => write!(f, "more than {max} messages in one frame"),
            Refusal::HostTopic(t) => write!(
                f,
                "topic {t:?} is reserved for the host (its status, plugin and source topics)"
            ),
        }
    }
}

/// The checks every topic of every chain passes.
fn check_shape(topic: &str) -> Result<(), Refusal> {
    if topic.is_empty() {
        return Err(Refusal::EmptyTopic);
    }
    if topic.len() > MAX_TOPIC_BYTES {
        return Err(Refusal::TopicTooLong(topic.len()));
    }
    if topic.contains(['+', '#']) {
        return Err(Refusal::Wildcard);
    }
    if topic.contains('\0') {
        return Err(Refusal::Nul);
    }
    if topic.starts_with('$') {
        return Err(Refusal::Dollar);
    }
    Ok(())
}

impl TopicPolicy {
    pub fn operator(host_prefixes: &[String]) -> TopicPolicy {
        TopicPolicy::camera(host_prefixes, None)
    }

    /// The operator's chain of a camera whose topics go under `prefix`.
    pub fn camera(host_prefixes: &[String], prefix: Option<&str>) -> TopicPolicy {
        TopicPolicy::Operator {
            host_prefixes: host_prefixes
                .iter()
                .map(|p| p.trim_end_matches('/').to_string())
                .collect(),
            camera: prefix.map(|p| p.trim_end_matches('/').to_string()),
        }
    }

    pub fn tenant(prefix: &str) -> TopicPolicy {
        TopicPolicy::Tenant {
            prefix: prefix.trim_end_matches('/').to_string(),
        }
    }

    /// Where the host publishes this chain's own events, if it has such a place.
    pub fn events_topic(&self) -> Option<String> {
        match self {
            TopicPolicy::Operator { .. } => None,
            TopicPolicy::Tenant { prefix } => Some(format!("{prefix}/{TENANT_EVENTS}")),
        }
    }

    /// The topic the message really goes to, or why it may not.
    pub fn place(&self, topic: &str) -> Result<String, Refusal> {
        match self {
            TopicPolicy::Operator {
                host_prefixes,
                camera,
            } => {
                check_shape(topic)?;
                let full = match camera {
                    Some(p) => format!("{p}/{topic}"),
                    None => topic.to_string(),
                };
                let under = |p: &String| {
                    full.strip_prefix(p.as_str())
                        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
                };
                if host_prefixes.iter().any(under) {
                    return Err(Refusal::HostTopic(full));
                }
                if full.len() > MAX_TOPIC_BYTES {
                    return Err(Refusal::TopicTooLong(full.len()));
                }
                Ok(full)
            }
            TopicPolicy::Tenant { prefix } => {
                check_shape(topic)?;
                if topic.starts_with('/') {
                    return Err(Refusal::LeadingSlash);
                }
                if topic.split('/').any(|level| level == ".." || level == ".") {
                    return Err(Refusal::DotDot);
                }
                let full = format!("{prefix}/{topic}");
                if full.len() > MAX_TOPIC_BYTES {
                    return Err(Refusal::TopicTooLong(full.len()));
                }
                Ok(full)
            }
        }
    }

    /// Check and place one frame's messages; refused ones come back apart.
    pub fn apply(
        &self,
        messages: Vec<Message>,
        max_bytes: usize,
        max_count: usize,
    ) -> (Vec<Message>, Vec<(String, Refusal)>) {
        let mut ok = Vec::with_capacity(messages.len().min(max_count));
        let mut refused = Vec::new();
        for mut m in messages {
            if ok.len() >= max_count {
                refused.push((m.topic, Refusal::TooManyMessages { max: max_count }));
                continue;
            }
            if m.payload.len() > max_bytes {
                refused.push((
                    m.topic,
                    Refusal::PayloadTooLarge {
                        bytes: m.payload.len(),
                        max: max_bytes,
                    },
                ));
                continue;
            }
            match self.place(&m.topic) {
                Ok(t) => {
                    m.topic = t;
                    ok.push(m);
                }
                Err(r) => refused.push((m.topic, r)),
            }
        }
        (ok, refused)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugin::bindings::Qos;

    fn msg(topic: &str, payload: &str) -> Message {
        Message {
            topic: topic.into(),
            payload: payload.into(),
            qos: Qos::AtLeastOnce,
            retain: false,
        }
    }

    #[test]
    fn a_tenant_publishes_only_under_its_prefix() {
        let p = TopicPolicy::tenant("tenants/acme");
        assert_eq!(p.place("person").unwrap(), "tenants/acme/person");
        assert_eq!(p.place("a/b").unwrap(), "tenants/acme/a/b");
        for (bad, why) in [
            ("", Refusal::EmptyTopic),
            ("a/#", Refusal::Wildcard),
            ("+/x", Refusal::Wildcard),
            ("a\0b", Refusal::Nul),
            ("/abs", Refusal::LeadingSlash),
            ("$SYS/x", Refusal::Dollar),
            ("$events", Refusal::Dollar),
            ("../other/x", Refusal::DotDot),
            ("a/../../b", Refusal::DotDot),
        ] {
            assert_eq!(p.place(bad), Err(why), "{bad:?}");
        }
        assert!(matches!(
            p.place(&"x".repeat(2000)),
            Err(Refusal::TopicTooLong(_))
        ));
        assert_eq!(p.events_topic().as_deref(), Some("tenants/acme/$events"));
    }

    #[test]
    fn the_operator_cannot_write_the_hosts_topics() {
        let p = TopicPolicy::operator(&["edgepipe/door".to_string(), "site/cam/".to_string()]);
        assert_eq!(p.place("person").unwrap(), "person");
        assert_eq!(
            p.place("edgepipe/door/status"),
            Err(Refusal::HostTopic("edgepipe/door/status".into()))
        );
        assert_eq!(
            p.place("edgepipe/door"),
            Err(Refusal::HostTopic("edgepipe/door".into()))
        );
        assert_eq!(
            p.place("site/cam/status"),
            Err(Refusal::HostTopic("site/cam/status".into()))
        );
        assert_eq!(
            p.place("edgepipe/door2/status").unwrap(),
            "edgepipe/door2/status"
        );
        assert_eq!(
            p.place("edgepipe/other/status").unwrap(),
            "edgepipe/other/status"
        );
        assert_eq!(p.place("a/$b").unwrap(), "a/$b");
        assert_eq!(p.place("$SYS/broker"), Err(Refusal::Dollar));
    }

    #[test]
    fn sizes_and_counts_are_capped_per_frame() {
        let p = TopicPolicy::tenant("t/a");
        let (ok, refused) = p.apply(
            vec![
                msg("a", "1"),
                msg("b", &"x".repeat(100)),
                msg("c", "3"),
                msg("d", "4"),
            ],
            10,
            2,
        );
        assert_eq!(
            ok.iter().map(|m| m.topic.as_str()).collect::<Vec<_>>(),
            ["t/a/a", "t/a/c"]
        );
        assert_eq!(refused.len(), 2);
        assert!(matches!(
            refused[0].1,
            Refusal::PayloadTooLarge {
                bytes: 100,
                max: 10
            }
        ));
        assert_eq!(refused[1].1, Refusal::TooManyMessages { max: 2 });
    }
}
