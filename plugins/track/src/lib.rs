//! edgepipe-track: a ByteTrack-style multi-object tracker (constant-velocity
//! Kalman filter per track; high-score detections associated first, low-score
//! ones second; tentative tracks confirmed after a few hits; lost tracks kept
//! for a buffer of frames), and the assignment solver it uses. Pure Rust, no
//! plugin bindings: shared by the stats plugins and by `edgepipe eval`.

pub mod assign;
pub mod config;
pub mod geom;
pub mod kalman;
#[cfg(feature = "sdk")]
pub mod sdk;
pub mod tracker;

pub use assign::assign;
pub use config::TrackConfig;
pub use geom::BBox;
pub use kalman::Kalman;
pub use tracker::{Det, Ended, Track, TrackState, Tracker};
