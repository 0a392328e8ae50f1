//! `edgepipe fleet status --mqtt-url URL`: reads every box's retained stage
//! status (`edgepipe/+/stages/#`, and `edgepipe/+/cameras/+/stages/#` of
//! boxes with several cameras) from the broker and prints a table of boxes,
//! cameras, chains, stages, versions and digests: after a rollout, which
//! boxes still run the old version.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use clap::Args;
use rumqttc::{Client, Event, MqttOptions, Packet, QoS, TlsConfiguration, Transport};

use crate::chain::inventory::ChainStatus;
use crate::commands::mqtt_login::MqttLoginArgs;
use crate::error::{ExitKind, Failure, OrExit};
use crate::mqtt::tls::client_config;
use crate::mqtt::url::{redact, BrokerAddr};
use crate::mqtt::{v4_error, LinkError};

#[derive(Debug, Args)]
pub struct FleetStatusArgs {
    /// The broker every box publishes to (mqtt://host:port or mqtts://host:port).
    #[arg(long, env = "EDGEPIPE_MQTT_URL")]
    pub mqtt_url: String,
    /// TLS files and login, as `run` takes them.
    #[command(flatten)]
    pub login: MqttLoginArgs,
    /// How long to wait for more retained messages after the last one, ms.
    #[arg(long, default_value_t = 500)]
    pub quiet_ms: u64,
}

/// The topic filters of every box's stage status: one camera, several cameras.
pub const FILTERS: [&str; 2] = ["edgepipe/+/stages/#", "edgepipe/+/cameras/+/stages/#"];

/// The client's options: TLS (`mqtts://`, with --mqtt-ca or the system's
/// roots) and the login, resolved as `run` resolves them.
fn options(a: &FleetStatusArgs) -> Result<MqttOptions, Failure> {
    let addr = BrokerAddr::parse(&a.mqtt_url).or_exit(ExitKind::Config)?;
    let mut o = MqttOptions::new(
        format!("edgepipe-fleet-{}", std::process::id()),
        addr.host.clone(),
        addr.port,
    );
    o.set_max_packet_size(1 << 20, 1 << 20);
    if addr.tls {
        let config = client_config(&a.login.tls_files()).or_exit(ExitKind::Mqtt)?;
        o.set_transport(Transport::tls_with_config(TlsConfiguration::Rustls(config)));
    }
    let password = a.login.password().or_exit(ExitKind::Config)?;
    match (&a.login.mqtt_username, password) {
        (Some(user), p) => {
            let p = p.map(|s| s.expose().to_string()).unwrap_or_default();
            o.set_credentials(user.clone(), p);
        }
        (None, Some(_)) => {
            return Err(Failure::msg(
                ExitKind::Config,
                "an MQTT password is given but no --mqtt-username",
            ))
        }
        (None, None) => {}
    }
    Ok(o)
}

/// Collect the retained statuses: until `quiet` passes without a new one
/// after the subscription is acknowledged (retained messages come first).
fn collect(a: &FleetStatusArgs) -> Result<Vec<ChainStatus>, Failure> {
    let o = options(a)?;
    let (client, mut connection) = Client::new(o, 64);
    client
        .subscribe_many(
            FILTERS
                .iter()
                .map(|f| rumqttc::SubscribeFilter::new(f.to_string(), QoS::AtLeastOnce)),
        )
        .or_exit(ExitKind::Mqtt)?;
    let quiet = Duration::from_millis(a.quiet_ms.max(1));
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut subscribed = false;
    let mut last = Instant::now();
    let mut found: BTreeMap<String, ChainStatus> = BTreeMap::new();
    loop {
        if subscribed && last.elapsed() >= quiet {
            break;
        }
        if Instant::now() > deadline {
            if subscribed {
                break;
            }
            return Err(Failure::msg(
                ExitKind::Mqtt,
                format!(
                    "MQTT broker {}: no answer to the subscription within 10 s",
                    redact(&a.mqtt_url)
                ),
            ));
        }
        match connection.recv_timeout(Duration::from_millis(50)) {
            Ok(Ok(Event::Incoming(Packet::SubAck(_)))) => {
                subscribed = true;
                last = Instant::now();
            }
            Ok(Ok(Event::Incoming(Packet::Publish(p)))) => {
                last = Instant::now();
                match serde_json::from_slice::<ChainStatus>(&p.payload) {
                    Ok(s) => {
                        found.insert(p.topic.clone(), s);
                    }
                    // An empty retained message clears a topic; other text is not ours.
                    Err(_) if p.payload.is_empty() => {}
                    Err(e) => tracing::warn!(topic = %p.topic, "not a stage status: {e}"),
                }
            }
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                let e = v4_error(e);
                let hint = if matches!(e, LinkError::Tls(_)) {
                    " (check --mqtt-ca, --mqtt-cert/--mqtt-key and the broker's certificate)"
                } else {
                    ""
                };
                return Err(Failure::msg(
                    ExitKind::Mqtt,
                    format!("MQTT broker {}: {}{hint}", redact(&a.mqtt_url), e.reason()),
                ));
            }
            Err(_) => {}
        }
    }
    let _ = client.disconnect();
    Ok(found.into_values().collect())
}

/// `sha256:` and 12 hex digits: enough to tell versions apart in a table.
fn short(d: &str) -> String {
    let hex = d.trim_start_matches("sha256:");
    format!("sha256:{}", &hex[..hex.len().min(12)])
}

/// The table: one line per stage of every chain of every box.
pub fn table(statuses: &[ChainStatus]) -> String {
    let mut rows = vec![[
        "BOX".to_string(),
        "CAMERA".into(),
        "CHAIN".into(),
        "STAGE".into(),
        "VERSION".into(),
        "DIGEST".into(),
        "ORIGIN".into(),
    ]];
    for c in statuses {
        for s in &c.stages {
            rows.push([
                c.box_name.clone(),
                c.camera.clone(),
                c.chain.clone(),
                s.name.clone(),
                format!("v{}", s.version),
                s.digest
                    .as_deref()
                    .map(short)
                    .unwrap_or_else(|| short(&s.sha256)),
                s.origin.clone(),
            ]);
        }
    }
    let widths: Vec<usize> = (0..7)
        .map(|i| rows.iter().map(|r| r[i].len()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for r in &rows {
        let cells: Vec<String> = r
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

pub fn status(a: &FleetStatusArgs) -> Result<(), Failure> {
    let statuses = collect(a)?;
    if statuses.is_empty() {
        eprintln!(
            "edgepipe: fleet status: no box has published its stages on {} yet",
            a.mqtt_url
        );
    }
    print!("{}", table(&statuses));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chain::inventory::StageLine;

    #[test]
    fn the_table_names_box_chain_stage_version_and_digest() {
        let s = ChainStatus {
            box_name: "box-a".into(),
            camera: "door".into(),
            chain: "operator".into(),
            frame: 3,
            stages: vec![StageLine {
                name: "people-counter".into(),
                version: 2,
                sha256: "f".repeat(64),
                origin: "oci://r:5000/plugins/pc:stable".into(),
                digest: Some(format!("sha256:{}", "a".repeat(64))),
            }],
        };
        let t = table(&[s]);
        let lines: Vec<&str> = t.lines().collect();
        assert!(lines[0].starts_with("BOX"), "{t}");
        assert!(
            lines[1].contains("box-a")
                && lines[1].contains("door")
                && lines[1].contains("people-counter"),
            "{t}"
        );
        assert!(
            lines[1].contains("v2") && lines[1].contains("sha256:aaaaaaaaaaaa "),
            "{t}"
        );
    }
}
