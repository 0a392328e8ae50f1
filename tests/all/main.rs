//! edgepipe's integration tests: one binary, modules inside. They use the real
//! parts that `scripts/setup.sh` installs: the ONNX Runtime library, the
//! yolov12n model, vtest.avi, the plugins compiled from `plugins/`, mosquitto
//! and ffmpeg.

mod bad_input;
mod common;
mod detector;
mod end_to_end;
mod mqtt;
mod engine;
mod plugins;
mod providers;
mod plugin_cache;
mod plugin_cli;
mod reload;
mod sandbox;
