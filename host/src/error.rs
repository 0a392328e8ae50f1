//! Failure kinds of a run and the process exit code each maps to.
//!
//! Every error that ends `edgepipe` is printed as one line on stderr
//! (`edgepipe: error: ...`) and the process exits with the code below.

use std::fmt;

/// Documented exit codes (README.md, "Exit codes").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitKind {
    /// 1: an internal error not covered below.
    Internal,
    /// 2: bad command line or configuration file.
    Config,
    /// 3: the input (file, camera, URL, image) cannot be opened or read.
    Input,
    /// 4: the model or the ONNX Runtime library cannot be loaded or is not supported.
    Model,
    /// 5: a plugin cannot be loaded, or a stage failed to configure.
    Plugin,
    /// 6: the MQTT broker cannot be reached (with `--mqtt-required`), refuses the
    /// login or the TLS handshake, or the TLS files are unusable.
    Mqtt,
    /// 7: an output (record file, stdout) failed for a reason other than its reader leaving.
    Output,
    /// 8: the run finished but some stage calls faulted, or MQTT messages were
    /// dropped or not acknowledged.
    Degraded,
}

impl ExitKind {
    pub const fn code(self) -> i32 {
        match self {
            ExitKind::Internal => 1,
            ExitKind::Config => 2,
            ExitKind::Input => 3,
            ExitKind::Model => 4,
            ExitKind::Plugin => 5,
            ExitKind::Mqtt => 6,
            ExitKind::Output => 7,
            ExitKind::Degraded => 8,
        }
    }
}

/// An error that ends the run, tagged with its exit kind.
#[derive(Debug)]
pub struct Failure {
    pub kind: ExitKind,
    pub error: anyhow::Error,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `{:#}` prints the whole context chain on one line: "a: b: c".
        write!(f, "{:#}", self.error)
    }
}

impl std::error::Error for Failure {}

/// Attach an exit kind to any error-returning result.
pub trait OrExit<T> {
    fn or_exit(self, kind: ExitKind) -> Result<T, Failure>;
}

impl<T, E: Into<anyhow::Error>> OrExit<T> for Result<T, E> {
    fn or_exit(self, kind: ExitKind) -> Result<T, Failure> {
        self.map_err(|e| Failure {
            kind,
            error: e.into(),
        })
    }
}

impl Failure {
    pub fn new(kind: ExitKind, error: impl Into<anyhow::Error>) -> Failure {
        Failure {
            kind,
            error: error.into(),
        }
    }
    pub fn msg(kind: ExitKind, message: impl fmt::Display) -> Failure {
        Failure {
            kind,
            error: anyhow::anyhow!("{message}"),
        }
    }
}
