//! The plugin contract as the host serves it: one file per version in
//! `bindings/` (`since_v0_X_Y.rs`, from `wit/since_vX.Y.Z`), each generating
//! that version's bindings and implementing [`Exports`] for its worlds,
//! converting from and to the newest version's types, which are the host's
//! own. Everything else in the host calls a stage through [`Exports`] and
//! learns what a version needs from its [`Contract`], so a new version is a
//! new file, a line in [`CONTRACTS`], and the conversions in the file of the
//! version it replaces as newest (its types stop being the host's).

use wasmtime::component::{Instance, Linker};
use wasmtime::Store;

use super::sandbox::StageState;
use super::StageKind;

#[macro_use]
mod macros;
pub mod since_v0_1_0;
pub mod since_v0_2_0;
pub mod since_v0_3_0;
pub mod since_v0_4_0;

/// The newest version: its types are the host's own.
pub use since_v0_4_0 as latest;
pub use since_v0_4_0::{draw, overlay, stats, topics};
pub use since_v0_4_0::{Detection, FrameInfo, Level, Message, Qos, Rect, Shape, Stat};

/// Every version this host loads, newest first.
pub const CONTRACTS: &[&Contract] = &[
    &since_v0_4_0::CONTRACT,
    &since_v0_3_0::CONTRACT,
    &since_v0_2_0::CONTRACT,
    &since_v0_1_0::CONTRACT,
];

/// The exports of world `overlay` (a draw stage that returns shapes).
pub const OVERLAY_EXPORTS: &[&str] = &["configure", "overlay", "save", "restore"];

/// The package these bindings serve.
pub const PACKAGE: &str = "edgepipe:plugin";
/// The newest version: what the SDKs build against.
pub const VERSION: &str = since_v0_4_0::CONTRACT.version;
/// The camera name of a pipeline with one source (`FrameInfo::camera`).
pub const DEFAULT_CAMERA: &str = "default";

/// The calls into one instance of a stage, whatever its version and world.
/// A call its world does not have returns nothing (the default bodies).
pub trait Exports: Send + Sync {
    fn configure(
        &self,
        store: &mut Store<StageState>,
        settings: &[(String, String)],
    ) -> wasmtime::Result<Result<(), String>>;
    fn save(&self, store: &mut Store<StageState>) -> wasmtime::Result<Vec<u8>>;
    fn restore(
        &self,
        store: &mut Store<StageState>,
        state: &[u8],
    ) -> wasmtime::Result<Result<(), String>>;
    /// `stats.update`.
    fn update(
        &self,
        _store: &mut Store<StageState>,
        _info: &FrameInfo,
        _detections: &[Detection],
    ) -> wasmtime::Result<Vec<Stat>> {
        Ok(Vec::new())
    }
    /// `stats.finish`.
    fn finish_stats(&self, _store: &mut Store<StageState>) -> wasmtime::Result<Vec<Stat>> {
        Ok(Vec::new())
    }
    /// `topics.route`.
    fn route(
        &self,
        _store: &mut Store<StageState>,
        _info: &FrameInfo,
        _stats: &[Stat],
    ) -> wasmtime::Result<Vec<Message>> {
        Ok(Vec::new())
    }
    /// `topics.finish` (from 0.2.0).
    fn finish_topics(
        &self,
        _store: &mut Store<StageState>,
        _stats: &[Stat],
    ) -> wasmtime::Result<Vec<Message>> {
        Ok(Vec::new())
    }
    /// Whether this is world `overlay` (a draw stage that returns shapes).
    fn is_overlay(&self) -> bool {
        false
    }
    /// `overlay.overlay` (from 0.4.0); `None` for the other worlds.
    fn overlay(
        &self,
        _store: &mut Store<StageState>,
        _info: &FrameInfo,
        _detections: &[Detection],
        _stats: &[Stat],
    ) -> wasmtime::Result<Option<Vec<Shape>>> {
        Ok(None)
    }
    /// `draw.draw`; `None` for the other worlds.
    fn draw(
        &self,
        _store: &mut Store<StageState>,
        _info: &FrameInfo,
        _pixels: &[u8],
        _detections: &[Detection],
        _stats: &[Stat],
    ) -> wasmtime::Result<Option<Vec<u8>>> {
        Ok(None)
    }
}

/// Makes the typed exports of an instantiated component of one version and world.
pub type Bind =
    fn(StageKind, &mut Store<StageState>, &Instance) -> wasmtime::Result<Box<dyn Exports>>;

/// What the host knows of one contract version.
pub struct Contract {
    /// `X.Y.Z` of `edgepipe:plugin@X.Y.Z`.
    pub version: &'static str,
    /// The exports a component of each world must have (a draw stage of
    /// world `draw`; [`OVERLAY_EXPORTS`] for one of world `overlay`).
    pub required_exports: fn(StageKind) -> &'static [&'static str],
    /// Whether a draw stage may implement world `overlay` (0.4.0 on).
    pub overlay: bool,
    /// Adds this version's imports (`host`) to the linker.
    pub(crate) link: fn(&mut Linker<StageState>) -> wasmtime::Result<()>,
    pub(crate) bind: Bind,
}

/// One contract version this host serves.
#[derive(Clone, Copy)]
pub struct ApiVersion(&'static Contract);

impl PartialEq for ApiVersion {
    fn eq(&self, other: &Self) -> bool {
        self.0.version == other.0.version
    }
}
impl Eq for ApiVersion {}

impl std::fmt::Debug for ApiVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{PACKAGE}@{}", self.0.version)
    }
}

impl ApiVersion {
    pub const NEWEST: ApiVersion = ApiVersion(CONTRACTS[0]);
    pub fn parse(v: &str) -> Option<ApiVersion> {
        CONTRACTS
            .iter()
            .find(|c| c.version == v)
            .map(|&c| ApiVersion(c))
    }
    pub fn as_str(self) -> &'static str {
        self.0.version
    }
    pub fn contract(self) -> &'static Contract {
        self.0
    }
}

/// Every served version's imports, into one linker.
pub(crate) fn link_all(linker: &mut Linker<StageState>) -> wasmtime::Result<()> {
    CONTRACTS.iter().try_for_each(|c| (c.link)(linker))
}

/// `edgepipe:plugin@0.3.0, edgepipe:plugin@0.2.0, ...` for messages.
pub fn served_versions() -> String {
    CONTRACTS
        .iter()
        .map(|c| format!("{PACKAGE}@{}", c.version))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests;
