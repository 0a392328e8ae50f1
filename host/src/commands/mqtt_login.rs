//! The MQTT login and TLS options that `run` and `fleet status` share: a CA
//! file and client certificate for `mqtts://`, a user name, and a password
//! from an environment variable or a file (never on the command line).

use std::path::PathBuf;

use clap::Args;

use crate::config::ConfigError;
use crate::mqtt::tls::TlsFiles;
use crate::mqtt::Secret;

#[derive(Debug, Args, Clone, Default)]
pub struct MqttLoginArgs {
    /// CA certificate file (PEM) for mqtts:// (default: the system's roots).
    #[arg(long, value_name = "FILE")]
    pub mqtt_ca: Option<PathBuf>,
    /// Client certificate (PEM) for mqtts:// brokers that require one.
    #[arg(long, value_name = "FILE", requires = "mqtt_key")]
    pub mqtt_cert: Option<PathBuf>,
    /// Key of --mqtt-cert (PEM).
    #[arg(long, value_name = "FILE", requires = "mqtt_cert")]
    pub mqtt_key: Option<PathBuf>,
    /// MQTT user name.
    #[arg(long)]
    pub mqtt_username: Option<String>,
    /// Name of the environment variable that holds the MQTT password.
    #[arg(long, value_name = "VAR", conflicts_with = "mqtt_password_file")]
    pub mqtt_password_env: Option<String>,
    /// File whose first line is the MQTT password.
    #[arg(long, value_name = "FILE")]
    pub mqtt_password_file: Option<PathBuf>,
}

impl MqttLoginArgs {
    /// The TLS files given (all optional; without a CA the system's roots).
    pub fn tls_files(&self) -> TlsFiles {
        TlsFiles {
            ca: self.mqtt_ca.clone(),
            cert: self.mqtt_cert.clone(),
            key: self.mqtt_key.clone(),
        }
    }

    /// The password from --mqtt-password-env or --mqtt-password-file, if given.
    pub fn password(&self) -> Result<Option<Secret>, ConfigError> {
        crate::config::load_password(
            "mqtt",
            self.mqtt_password_env.as_deref(),
            self.mqtt_password_file.as_deref(),
        )
    }
}
