//! edgepipe's integration tests: one binary, modules inside. They use the real
//! parts that `scripts/setup.sh` installs: the ONNX Runtime library, the
//! yolov12n model, vtest.avi, the plugins compiled from `plugins/`, mosquitto
//! and ffmpeg.

mod bad_input;
mod batching;
mod bench_scripts;
mod camera_dir;
mod cameras;
mod cameras_live;
mod cameras_process;
mod common;
mod concurrent_runs;
mod contract;
mod counting;
mod detector;
mod end_to_end;
mod engine;
mod eval;
mod examples;
mod fleet;
mod fleet_status;
mod fold;
mod frames_out;
mod layouts;
mod lifecycle;
mod live;
mod models;
mod mqtt;
mod mqtt_limits;
mod oci_common;
mod oci_stages;
mod overlay;
mod plugin_cache;
mod plugin_cli;
mod plugin_langs;
mod plugin_registry;
mod plugins;
mod preprocess;
mod properties;
mod providers;
mod reload;
mod sandbox;
mod sandbox_langs;
mod sources;
mod start_order;
mod state;
mod tenant_cameras;
mod tenants;
mod timeline;
