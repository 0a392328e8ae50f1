//! `edgepipe plugin push|pull|keygen|sign|verify`: components to and from an
//! OCI registry (the Wasm OCI layout), and their Ed25519 signatures
//! (wasmsign2 format). One line on stdout says what was done.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;

use crate::error::{ExitKind, Failure, OrExit};
use crate::plugin::oci::{self, Registry, RegistryOptions};
use crate::plugin::signature;

/// How to reach the registry. The password never goes on the command line.
#[derive(Debug, Args, Clone, Default)]
pub struct RegistryArgs {
    /// Registry user name; the password comes from --registry-password-env or --registry-password-file.
    #[arg(long, value_name = "USER")]
    pub registry_user: Option<String>,
    /// Environment variable holding the registry password.
    #[arg(long, value_name = "VAR")]
    pub registry_password_env: Option<String>,
    /// File whose first line is the registry password.
    #[arg(long, value_name = "FILE")]
    pub registry_password_file: Option<PathBuf>,
    /// CA certificate (PEM) trusted for the registry besides the system roots.
    #[arg(long, value_name = "FILE")]
    pub registry_ca: Option<PathBuf>,
    /// Plain HTTP, no TLS (a registry on this machine or a lab network).
    #[arg(long)]
    pub registry_plain_http: bool,
    /// The largest component pulled, MiB.
    #[arg(long, value_name = "MB", default_value_t = 64)]
    pub max_component_mb: u64,
}

impl RegistryArgs {
    pub fn options(&self) -> Result<RegistryOptions, Failure> {
        let password = crate::config::load_password(
            "registry",
            self.registry_password_env.as_deref(),
            self.registry_password_file.as_deref(),
        )
        .or_exit(ExitKind::Config)?;
        if password.is_some() && self.registry_user.is_none() {
            return Err(Failure::msg(
                ExitKind::Config,
                "a registry password is given but no --registry-user",
            ));
        }
        Ok(RegistryOptions {
            user: self.registry_user.clone(),
            password,
            ca_file: self.registry_ca.clone(),
            plain_http: self.registry_plain_http,
            max_component: self.max_component_mb.saturating_mul(1 << 20),
        })
    }
}

#[derive(Debug, Args)]
pub struct PushArgs {
    /// The component (.wasm).
    pub file: PathBuf,
    /// Where to: registry.example:5000/plugins/name:tag
    pub reference: String,
    #[command(flatten)]
    pub registry: RegistryArgs,
}

#[derive(Debug, Args)]
pub struct PullArgs {
    /// What: registry.example:5000/plugins/name:tag or ...@sha256:<digest>
    pub reference: String,
    /// Where to write the component (default: <name>.wasm here).
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Refuse the component unless this public key signed it.
    #[arg(long, value_name = "KEY.pub")]
    pub key: Option<PathBuf>,
    #[command(flatten)]
    pub registry: RegistryArgs,
}

fn reference(text: &str) -> Result<oci_client::Reference, Failure> {
    oci::parse(text.strip_prefix(oci::SCHEME).unwrap_or(text)).or_exit(ExitKind::Config)
}

/// `plugin push FILE REF`: prints `pushed FILE to REF@sha256:...`.
pub fn push(a: &PushArgs) -> Result<(), Failure> {
    let r = reference(&a.reference)?;
    let bytes = std::fs::read(&a.file)
        .with_context(|| format!("cannot read {}", a.file.display()))
        .or_exit(ExitKind::Plugin)?;
    if bytes.len() < 8 || &bytes[..4] != b"\0asm" || bytes[6..8] == [0, 0] {
        return Err(Failure::msg(
            ExitKind::Plugin,
            format!(
                "{} is not a WebAssembly component (build it for wasm32-wasip2)",
                a.file.display()
            ),
        ));
    }
    let registry = Registry::new(&a.registry.options()?).or_exit(ExitKind::Plugin)?;
    let digest = registry.push(&r, &bytes).or_exit(ExitKind::Plugin)?;
    println!(
        "pushed {} to {}/{}@{digest} ({} bytes)",
        a.file.display(),
        r.registry(),
        r.repository(),
        bytes.len()
    );
    Ok(())
}

/// `plugin pull REF [-o FILE]`: prints `pulled REF@sha256:... to FILE`.
pub fn pull(a: &PullArgs) -> Result<(), Failure> {
    let r = reference(&a.reference)?;
    let registry = Registry::new(&a.registry.options()?).or_exit(ExitKind::Plugin)?;
    let pulled = registry.pull(&r).or_exit(ExitKind::Plugin)?;
    if let Some(key_path) = &a.key {
        let key = signature::public_key(key_path).or_exit(ExitKind::Config)?;
        signature::verify_with(&pulled.bytes, &key, key_path)
            .with_context(|| format!("{} refused", a.reference))
            .or_exit(ExitKind::Plugin)?;
    }
    let out = a.output.clone().unwrap_or_else(|| {
        let name = r.repository().rsplit('/').next().unwrap_or("component");
        PathBuf::from(format!("{name}.wasm"))
    });
    std::fs::write(&out, &pulled.bytes)
        .with_context(|| format!("cannot write {}", out.display()))
        .or_exit(ExitKind::Output)?;
    println!(
        "pulled {}/{}@{} to {} ({} bytes)",
        r.registry(),
        r.repository(),
        pulled.digest,
        out.display(),
        pulled.bytes.len()
    );
    Ok(())
}

/// `plugin keygen KEY`: KEY (secret, 0600) and KEY.pub.
pub fn keygen(key: &Path) -> Result<(), Failure> {
    let public = signature::keygen(key).or_exit(ExitKind::Config)?;
    println!(
        "secret key {} (keep it off the boxes), public key {} (list it in [plugins] trusted_keys)",
        key.display(),
        public.display()
    );
    Ok(())
}

/// `plugin sign FILE --key KEY [-o OUT]`: the signature embedded (in place by default).
pub fn sign(file: &Path, key: &Path, output: Option<&Path>) -> Result<(), Failure> {
    let sk = signature::secret_key(key).or_exit(ExitKind::Config)?;
    let bytes = std::fs::read(file)
        .with_context(|| format!("cannot read {}", file.display()))
        .or_exit(ExitKind::Plugin)?;
    let signed = signature::sign(&bytes, &sk)
        .with_context(|| file.display().to_string())
        .or_exit(ExitKind::Plugin)?;
    let out = output.unwrap_or(file);
    std::fs::write(out, &signed)
        .with_context(|| format!("cannot write {}", out.display()))
        .or_exit(ExitKind::Output)?;
    println!("signed {} with {}", out.display(), key.display());
    Ok(())
}

/// `plugin verify FILE --key KEY.pub`: true when the key signed it.
pub fn verify(file: &Path, key: &Path) -> Result<bool, Failure> {
    let pk = signature::public_key(key).or_exit(ExitKind::Config)?;
    let bytes = std::fs::read(file)
        .with_context(|| format!("cannot read {}", file.display()))
        .or_exit(ExitKind::Plugin)?;
    match signature::verify_with(&bytes, &pk, key) {
        Ok(()) => {
            println!("{}: signed by {}", file.display(), key.display());
            Ok(true)
        }
        Err(e) => {
            eprintln!("edgepipe: {}: {e}", file.display());
            Ok(false)
        }
    }
}
