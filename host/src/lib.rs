//! edgepipe: capture -> ONNX detection -> WebAssembly stages -> MQTT + stdout.

pub mod bench;
pub mod broker;
pub mod capture;
pub mod cli;
pub mod config;
pub mod detect;
pub mod engine;
pub mod ep;
pub mod error;
pub mod model;
pub mod mqtt;
pub mod pipeline;
pub mod plugin;
pub mod plugin_bench;
pub mod plugin_tool;
pub mod sink;
