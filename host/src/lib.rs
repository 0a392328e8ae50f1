//! edgepipe: capture -> ONNX detection -> WebAssembly stages -> MQTT + stdout.

pub mod bench;
pub mod bench_tenants;
pub mod bench_viewers;
pub mod broker;
pub mod capture;
pub mod chain;
pub mod checkpoint;
pub mod cli;
pub mod config;
pub mod debounce;
pub mod detect;
pub mod engine;
pub mod error;
pub mod live;
pub mod model;
pub mod mqtt;
pub mod panics;
pub mod pipeline;
pub mod plugin;
pub mod plugin_bench;
pub mod plugin_tool;
pub mod sink;
pub mod state;
pub mod stop;
pub mod tenants;
