//! The edgepipe plugin SDK: the one place where guest bindings are generated.
//!
//! A stage implements one trait ([`Stats`], [`Topics`], [`Draw`] or
//! [`Overlay`], a draw stage that returns [`Shapes`] for the host to paint), whose
//! methods other than the main one have defaults, and exports it with the
//! matching macro:
//!
//! ```ignore
//! use edgepipe_sdk::{Stats, FrameInfo, Detection, Stat};
//! #[derive(Default)]
//! struct Counter { seen: u64 }
//! impl Stats for Counter {
//!     fn update(&mut self, _info: FrameInfo, detections: Vec<Detection>) -> Vec<Stat> {
//!         self.seen += detections.len() as u64;
//!         vec![Stat::json("seen", self.seen)]
//!     }
//! }
//! edgepipe_sdk::export_stats!(Counter);
//! ```
//!
//! One value of the type lives per instance; the host creates it with
//! `Default`, then calls `configure` once with the stage's settings.

#![allow(clippy::too_many_arguments)]

/// The three worlds of one contract version; `topics` and `draw` share the
/// `types` and `host` interfaces generated in `stats`.
macro_rules! worlds {
    ($path:literal, $types:literal, $host:literal) => {
        /// Bindings of world `stats`.
        pub mod stats {
            wit_bindgen::generate!({
                path: $path,
                world: "stats",
                pub_export_macro: true,
                export_macro_name: "export",
                default_bindings_module: "edgepipe_sdk::stats",
            });
        }
        /// Bindings of world `topics`.
        pub mod topics {
            wit_bindgen::generate!({
                path: $path,
                world: "topics",
                pub_export_macro: true,
                export_macro_name: "export",
                default_bindings_module: "edgepipe_sdk::topics",
                with: {
                    $types: crate::stats::edgepipe::plugin::types,
                    $host: crate::stats::edgepipe::plugin::host,
                },
            });
        }
        /// Bindings of world `draw`.
        pub mod draw {
            wit_bindgen::generate!({
                path: $path,
                world: "draw",
                pub_export_macro: true,
                export_macro_name: "export",
                default_bindings_module: "edgepipe_sdk::draw",
                with: {
                    $types: crate::stats::edgepipe::plugin::types,
                    $host: crate::stats::edgepipe::plugin::host,
                },
            });
        }
    };
}

#[cfg(any(
    all(feature = "v0_1_0", feature = "v0_2_0"),
    all(feature = "v0_1_0", feature = "v0_3_0"),
    all(feature = "v0_2_0", feature = "v0_3_0"),
))]
compile_error!("edgepipe-sdk: choose one of the features v0_1_0, v0_2_0 and v0_3_0");

// The newest contract, 0.4.0 (the default), with world `overlay`.
#[cfg(not(any(feature = "v0_1_0", feature = "v0_2_0", feature = "v0_3_0")))]
worlds!(
    "../../wit/since_v0.4.0",
    "edgepipe:plugin/types@0.4.0",
    "edgepipe:plugin/host@0.4.0"
);
#[cfg(not(any(feature = "v0_1_0", feature = "v0_2_0", feature = "v0_3_0")))]
pub const API_VERSION: &str = "0.4.0";
#[cfg(not(any(feature = "v0_1_0", feature = "v0_2_0", feature = "v0_3_0")))]
mod overlay_world;
#[cfg(not(any(feature = "v0_1_0", feature = "v0_2_0", feature = "v0_3_0")))]
pub use overlay_world::*;

// The frozen 0.3.0 (feature `v0_3_0`): no world `overlay`.
#[cfg(feature = "v0_3_0")]
worlds!(
    "../../wit/since_v0.3.0",
    "edgepipe:plugin/types@0.3.0",
    "edgepipe:plugin/host@0.3.0"
);
#[cfg(feature = "v0_3_0")]
pub const API_VERSION: &str = "0.3.0";

// The frozen 0.2.0 (feature `v0_2_0`), for plugins that must keep loading
// on hosts that serve only up to 0.2.0: no `FrameInfo::camera`.
#[cfg(feature = "v0_2_0")]
worlds!(
    "../../wit/since_v0.2.0",
    "edgepipe:plugin/types@0.2.0",
    "edgepipe:plugin/host@0.2.0"
);
#[cfg(feature = "v0_2_0")]
pub const API_VERSION: &str = "0.2.0";

// The frozen 0.1.0 (feature `v0_1_0`): no camera, no `topics.finish`.
#[cfg(feature = "v0_1_0")]
worlds!(
    "../../wit/since_v0.1.0",
    "edgepipe:plugin/types@0.1.0",
    "edgepipe:plugin/host@0.1.0"
);
#[cfg(feature = "v0_1_0")]
pub const API_VERSION: &str = "0.1.0";

pub use stats::edgepipe::plugin::host::Level;
pub use stats::edgepipe::plugin::types::{Detection, FrameInfo, Message, Qos, Rect, Stat};

/// Settings handed to `configure`: `(key, value)` pairs from the pipeline config.
pub type Settings = Vec<(String, String)>;

/// Write a line to the host's log.
pub fn log(level: Level, message: &str) {
    stats::edgepipe::plugin::host::log(level, message);
}

impl Stat {
    /// A stat whose value is `value` serialised as a JSON number/literal via `Display`.
    pub fn json(name: &str, value: impl core::fmt::Display) -> Stat {
        Stat {
            name: name.to_string(),
            value: value.to_string(),
        }
    }
}

impl Rect {
    /// The same box with a non-negative width and height (a negative size
    /// flips the corner); `None` if any coordinate is not finite.
    pub fn normalized(&self) -> Option<Rect> {
        let (mut x, mut y, mut w, mut h) = (self.x, self.y, self.width, self.height);
        if !(x.is_finite() && y.is_finite() && w.is_finite() && h.is_finite()) {
            return None;
        }
        if w < 0.0 {
            x += w;
            w = -w;
        }
        if h < 0.0 {
            y += h;
            h = -h;
        }
        Some(Rect {
            x,
            y,
            width: w,
            height: h,
        })
    }
}

impl Message {
    pub fn new(topic: &str, payload: String, qos: Qos, retain: bool) -> Message {
        Message {
            topic: topic.to_string(),
            payload,
            qos,
            retain,
        }
    }
}

/// Find a setting by key.
pub fn setting<'a>(settings: &'a [(String, String)], key: &str) -> Option<&'a str> {
    settings
        .iter()
        .rev()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// Parse a setting, with a clear message naming the key on failure.
pub fn parse_setting<T: core::str::FromStr>(
    settings: &[(String, String)],
    key: &str,
    default: T,
) -> Result<T, String> {
    match setting(settings, key) {
        None => Ok(default),
        Some(v) => v
            .parse()
            .map_err(|_| format!("setting `{key}`: cannot parse {v:?}")),
    }
}

/// A stage that turns detections into statistics.
pub trait Stats: Default + 'static {
    fn configure(&mut self, _settings: Settings) -> Result<(), String> {
        Ok(())
    }
    fn update(&mut self, info: FrameInfo, detections: Vec<Detection>) -> Vec<Stat>;
    fn finish(&mut self) -> Vec<Stat> {
        Vec::new()
    }
    fn save(&self) -> Vec<u8> {
        Vec::new()
    }
    fn restore(&mut self, _state: Vec<u8>) -> Result<(), String> {
        Ok(())
    }
}

/// A stage that turns statistics into MQTT messages.
pub trait Topics: Default + 'static {
    fn configure(&mut self, _settings: Settings) -> Result<(), String> {
        Ok(())
    }
    fn route(&mut self, info: FrameInfo, stats: Vec<Stat>) -> Vec<Message>;
    /// End of stream, with the stats stages' final stats (contract 0.2.0
    /// on; never called on a 0.1.0 build).
    fn finish(&mut self, _stats: Vec<Stat>) -> Vec<Message> {
        Vec::new()
    }
    fn save(&self) -> Vec<u8> {
        Vec::new()
    }
    fn restore(&mut self, _state: Vec<u8>) -> Result<(), String> {
        Ok(())
    }
}

/// A stage that draws on BGR24 frames.
pub trait Draw: Default + 'static {
    fn configure(&mut self, _settings: Settings) -> Result<(), String> {
        Ok(())
    }
    /// Draw on `pixels` (BGR24, `info.width * info.height * 3` bytes) in place.
    fn draw(
        &mut self,
        info: FrameInfo,
        pixels: &mut [u8],
        detections: Vec<Detection>,
        stats: Vec<Stat>,
    );
    fn save(&self) -> Vec<u8> {
        Vec::new()
    }
    fn restore(&mut self, _state: Vec<u8>) -> Result<(), String> {
        Ok(())
    }
}

/// Export a [`Stats`] implementation as the component's `stats` world.
#[macro_export]
macro_rules! export_stats {
    ($t:ty) => {
        const _: () = {
            ::std::thread_local! {
                static STAGE: ::core::cell::RefCell<$t> = ::core::cell::RefCell::new(<$t as ::core::default::Default>::default());
            }
            struct __EdgepipeStats;
            impl $crate::stats::Guest for __EdgepipeStats {
                fn configure(settings: ::std::vec::Vec<(::std::string::String, ::std::string::String)>) -> ::core::result::Result<(), ::std::string::String> {
                    STAGE.with(|s| <$t as $crate::Stats>::configure(&mut *s.borrow_mut(), settings))
                }
                fn update(info: $crate::FrameInfo, detections: ::std::vec::Vec<$crate::Detection>) -> ::std::vec::Vec<$crate::Stat> {
                    STAGE.with(|s| <$t as $crate::Stats>::update(&mut *s.borrow_mut(), info, detections))
                }
                fn finish() -> ::std::vec::Vec<$crate::Stat> {
                    STAGE.with(|s| <$t as $crate::Stats>::finish(&mut *s.borrow_mut()))
                }
                fn save() -> ::std::vec::Vec<u8> {
                    STAGE.with(|s| <$t as $crate::Stats>::save(&*s.borrow()))
                }
                fn restore(state: ::std::vec::Vec<u8>) -> ::core::result::Result<(), ::std::string::String> {
                    STAGE.with(|s| <$t as $crate::Stats>::restore(&mut *s.borrow_mut(), state))
                }
            }
            $crate::__export_stats_impl!(__EdgepipeStats with_types_in $crate::stats);
        };
    };
}

/// Export a [`Topics`] implementation as the component's `topics` world.
/// `topics.finish` exists from contract 0.2.0 on: expands to its export, or
/// to nothing on a 0.1.0 build.
#[doc(hidden)]
#[cfg(not(feature = "v0_1_0"))]
#[macro_export]
macro_rules! __topics_finish {
    ($t:ty, $stage:ident) => {
        fn finish(stats: ::std::vec::Vec<$crate::Stat>) -> ::std::vec::Vec<$crate::Message> {
            $stage.with(|s| <$t as $crate::Topics>::finish(&mut *s.borrow_mut(), stats))
        }
    };
}
#[doc(hidden)]
#[cfg(feature = "v0_1_0")]
#[macro_export]
macro_rules! __topics_finish {
    ($t:ty, $stage:ident) => {};
}

#[macro_export]
macro_rules! export_topics {
    ($t:ty) => {
        const _: () = {
            ::std::thread_local! {
                static STAGE: ::core::cell::RefCell<$t> = ::core::cell::RefCell::new(<$t as ::core::default::Default>::default());
            }
            struct __EdgepipeTopics;
            impl $crate::topics::Guest for __EdgepipeTopics {
                fn configure(settings: ::std::vec::Vec<(::std::string::String, ::std::string::String)>) -> ::core::result::Result<(), ::std::string::String> {
                    STAGE.with(|s| <$t as $crate::Topics>::configure(&mut *s.borrow_mut(), settings))
                }
                fn route(info: $crate::FrameInfo, stats: ::std::vec::Vec<$crate::Stat>) -> ::std::vec::Vec<$crate::Message> {
                    STAGE.with(|s| <$t as $crate::Topics>::route(&mut *s.borrow_mut(), info, stats))
                }
                $crate::__topics_finish!($t, STAGE);
                fn save() -> ::std::vec::Vec<u8> {
                    STAGE.with(|s| <$t as $crate::Topics>::save(&*s.borrow()))
                }
                fn restore(state: ::std::vec::Vec<u8>) -> ::core::result::Result<(), ::std::string::String> {
                    STAGE.with(|s| <$t as $crate::Topics>::restore(&mut *s.borrow_mut(), state))
                }
            }
            $crate::__export_topics_impl!(__EdgepipeTopics with_types_in $crate::topics);
        };
    };
}

/// Export a [`Draw`] implementation as the component's `draw` world.
#[macro_export]
macro_rules! export_draw {
    ($t:ty) => {
        const _: () = {
            ::std::thread_local! {
                static STAGE: ::core::cell::RefCell<$t> = ::core::cell::RefCell::new(<$t as ::core::default::Default>::default());
            }
            struct __EdgepipeDraw;
            impl $crate::draw::Guest for __EdgepipeDraw {
                fn configure(settings: ::std::vec::Vec<(::std::string::String, ::std::string::String)>) -> ::core::result::Result<(), ::std::string::String> {
                    STAGE.with(|s| <$t as $crate::Draw>::configure(&mut *s.borrow_mut(), settings))
                }
                fn draw(info: $crate::FrameInfo, mut pixels: ::std::vec::Vec<u8>, detections: ::std::vec::Vec<$crate::Detection>, stats: ::std::vec::Vec<$crate::Stat>) -> ::std::vec::Vec<u8> {
                    STAGE.with(|s| <$t as $crate::Draw>::draw(&mut *s.borrow_mut(), info, &mut pixels, detections, stats));
                    pixels
                }
                fn save() -> ::std::vec::Vec<u8> {
                    STAGE.with(|s| <$t as $crate::Draw>::save(&*s.borrow()))
                }
                fn restore(state: ::std::vec::Vec<u8>) -> ::core::result::Result<(), ::std::string::String> {
                    STAGE.with(|s| <$t as $crate::Draw>::restore(&mut *s.borrow_mut(), state))
                }
            }
            $crate::__export_draw_impl!(__EdgepipeDraw with_types_in $crate::draw);
        };
    };
}
