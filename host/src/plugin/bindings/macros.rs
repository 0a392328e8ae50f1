//! The macros the `since_v*` files share: a version's worlds, the calls
//! every world has, and what the versions older than the newest have in
//! common.

/// Inside the `since_v*` module of a version older than the newest (`&`
/// where its `frame-info` is passed by reference, as one with a string is): the
/// `From` conversions between its types and the newest ones (the same
/// records; `frame-info` is each version's own), the `host` import, and the
/// `stats` and `draw` worlds (unchanged since 0.1.0).
macro_rules! older_shapes {
    ($($by_ref:tt)?) => {
        impl Exports for stats::Stats {
            lifecycle!();
            fn update(
                &self,
                store: &mut Store<StageState>,
                info: &super::latest::FrameInfo,
                detections: &[super::latest::Detection],
            ) -> wasmtime::Result<Vec<super::latest::Stat>> {
                self.call_update(store, $($by_ref)? info.into(), &self::detections(detections))
                    .map(stats_out)
            }
            fn finish_stats(
                &self,
                store: &mut Store<StageState>,
            ) -> wasmtime::Result<Vec<super::latest::Stat>> {
                self.call_finish(store).map(stats_out)
            }
        }
        impl Exports for draw::Draw {
            lifecycle!();
            fn draw(
                &self,
                store: &mut Store<StageState>,
                info: &super::latest::FrameInfo,
                pixels: &[u8],
                detections: &[super::latest::Detection],
                stats: &[super::latest::Stat],
            ) -> wasmtime::Result<Option<Vec<u8>>> {
                let (d, s) = (self::detections(detections), stats_in(stats));
                self.call_draw(store, $($by_ref)? info.into(), pixels, &d, &s)
                    .map(Some)
            }
        }
        impl From<&super::latest::Detection> for Detection {
            fn from(d: &super::latest::Detection) -> Self {
                let b = &d.bbox;
                Detection {
                    class_id: d.class_id,
                    label: d.label.clone(),
                    score: d.score,
                    bbox: Rect {
                        x: b.x,
                        y: b.y,
                        width: b.width,
                        height: b.height,
                    },
                }
            }
        }
        impl From<&super::latest::Stat> for Stat {
            fn from(s: &super::latest::Stat) -> Self {
                Stat {
                    name: s.name.clone(),
                    value: s.value.clone(),
                }
            }
        }
        impl From<Stat> for super::latest::Stat {
            fn from(s: Stat) -> Self {
                super::latest::Stat {
                    name: s.name,
                    value: s.value,
                }
            }
        }
        impl From<Message> for super::latest::Message {
            fn from(m: Message) -> Self {
                use super::latest::Qos as Q;
                super::latest::Message {
                    topic: m.topic,
                    payload: m.payload,
                    qos: match m.qos {
                        Qos::AtMostOnce => Q::AtMostOnce,
                        Qos::AtLeastOnce => Q::AtLeastOnce,
                        Qos::ExactlyOnce => Q::ExactlyOnce,
                    },
                    retain: m.retain,
                }
            }
        }
        impl stats::edgepipe::plugin::types::Host for StageState {}
        impl stats::edgepipe::plugin::host::Host for StageState {
            fn log(&mut self, level: Level, message: String) {
                use super::latest::Level as L;
                let level = match level {
                    Level::Trace => L::Trace,
                    Level::Debug => L::Debug,
                    Level::Info => L::Info,
                    Level::Warn => L::Warn,
                    Level::Error => L::Error,
                };
                self.log(level, &message);
            }
        }
        fn detections(d: &[super::latest::Detection]) -> Vec<Detection> {
            d.iter().map(Into::into).collect()
        }
        fn stats_in(s: &[super::latest::Stat]) -> Vec<Stat> {
            s.iter().map(Into::into).collect()
        }
        fn stats_out(s: Vec<Stat>) -> Vec<super::latest::Stat> {
            s.into_iter().map(Into::into).collect()
        }
        fn messages_out(m: Vec<Message>) -> Vec<super::latest::Message> {
            m.into_iter().map(Into::into).collect()
        }
    };
}

/// 0.1.0's and 0.2.0's `frame-info`: the newest one without the camera.
macro_rules! no_camera {
    () => {
        impl From<&super::latest::FrameInfo> for FrameInfo {
            fn from(f: &super::latest::FrameInfo) -> Self {
                FrameInfo {
                    index: f.index,
                    timestamp_ms: f.timestamp_ms,
                    width: f.width,
                    height: f.height,
                }
            }
        }
    };
}

/// `topics` of a version older than the newest: `[&]` where its
/// `frame-info` is passed by reference; `finish` from 0.2.0 on.
macro_rules! older_topics {
    ([$($by_ref:tt)?] $($finish:ident)?) => {
        impl Exports for topics::Topics {
            lifecycle!();
            fn route(
                &self,
                store: &mut Store<StageState>,
                info: &latest::FrameInfo,
                stats: &[latest::Stat],
            ) -> wasmtime::Result<Vec<latest::Message>> {
                self.call_route(store, $($by_ref)? info.into(), &stats_in(stats))
                    .map(messages_out)
            }
            $(older_topics!(@$finish);)?
        }
    };
    (@finish) => {
        fn finish_topics(
            &self,
            store: &mut Store<StageState>,
            stats: &[latest::Stat],
        ) -> wasmtime::Result<Vec<latest::Message>> {
            self.call_finish(store, &stats_in(stats)).map(messages_out)
        }
    };
}

/// `stats`, `topics` and `draw` of one version (and `overlay` from 0.4.0
/// on: `worlds!(.., overlay)`), all sharing the `types` and `host`
/// interfaces generated in `stats`. A `draw` stage of a version with
/// `overlay` is bound to that world when it exports `overlay`.
macro_rules! worlds {
    ($path:literal, $types:literal, $host:literal) => {
        worlds!(@common $path, $types, $host);
        fn bind_draw(
            store: &mut Store<StageState>,
            instance: &Instance,
        ) -> wasmtime::Result<Box<dyn Exports>> {
            Ok(Box::new(draw::Draw::new(store, instance)?))
        }
    };
    ($path:literal, $types:literal, $host:literal, overlay) => {
        worlds!(@common $path, $types, $host);
        pub mod overlay {
            wasmtime::component::bindgen!({
                path: $path,
                world: "overlay",
                with: { $types: super::stats::edgepipe::plugin::types, $host: super::stats::edgepipe::plugin::host },
            });
        }
        fn bind_draw(
            store: &mut Store<StageState>,
            instance: &Instance,
        ) -> wasmtime::Result<Box<dyn Exports>> {
            Ok(match overlay::Overlay::new(&mut *store, instance) {
                Ok(o) => Box::new(o),
                Err(_) => Box::new(draw::Draw::new(store, instance)?),
            })
        }
    };
    (@common $path:literal, $types:literal, $host:literal) => {
        pub mod stats {
            wasmtime::component::bindgen!({ path: $path, world: "stats" });
        }
        pub mod topics {
            wasmtime::component::bindgen!({
                path: $path,
                world: "topics",
                with: { $types: super::stats::edgepipe::plugin::types, $host: super::stats::edgepipe::plugin::host },
            });
        }
        pub mod draw {
            wasmtime::component::bindgen!({
                path: $path,
                world: "draw",
                with: { $types: super::stats::edgepipe::plugin::types, $host: super::stats::edgepipe::plugin::host },
            });
        }
        pub use stats::edgepipe::plugin::host::Level;
        pub use stats::edgepipe::plugin::types::{Detection, FrameInfo, Message, Qos, Rect, Stat};

        fn link(linker: &mut Linker<StageState>) -> wasmtime::Result<()> {
            stats::Stats::add_to_linker::<StageState, HasSelf<StageState>>(linker, |s| s)
        }

        fn bind(
            kind: StageKind,
            store: &mut Store<StageState>,
            instance: &Instance,
        ) -> wasmtime::Result<Box<dyn Exports>> {
            Ok(match kind {
                StageKind::Stats => Box::new(stats::Stats::new(store, instance)?),
                StageKind::Topics => Box::new(topics::Topics::new(store, instance)?),
                StageKind::Draw => bind_draw(store, instance)?,
            })
        }
    };
}

/// `configure`, `save` and `restore`: the same in every world and version.
macro_rules! lifecycle {
    () => {
        fn configure(
            &self,
            store: &mut Store<StageState>,
            settings: &[(String, String)],
        ) -> wasmtime::Result<Result<(), String>> {
            self.call_configure(store, settings)
        }
        fn save(&self, store: &mut Store<StageState>) -> wasmtime::Result<Vec<u8>> {
            self.call_save(store)
        }
        fn restore(
            &self,
            store: &mut Store<StageState>,
            state: &[u8],
        ) -> wasmtime::Result<Result<(), String>> {
            self.call_restore(store, state)
        }
    };
}
