//! edgepipe's integration tests: one binary, modules inside. They use the real
//! parts that `scripts/setup.sh` installs: the ONNX Runtime library, the
//! yolov12n model, vtest.avi, the plugins compiled from `plugins/`, mosquitto
//! and ffmpeg.

mod bad_input;
mod counting;
mod common;
mod detector;
mod end_to_end;
mod examples;
mod eval;
mod mqtt;
mod mqtt_limits;
mod engine;
mod lifecycle;
mod live;
mod plugins;
mod providers;
mod plugin_cache;
mod plugin_cli;
mod plugin_langs;
mod properties;
mod reload;
mod sandbox;
mod sandbox_langs;
mod tenants;
