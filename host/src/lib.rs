//! edgepipe: capture -> ONNX detection -> WebAssembly stages -> MQTT + stdout.

pub mod broker;
pub mod capture;
pub mod chain;
pub mod checkpoint;
pub mod commands;
pub mod config;
pub mod debounce;
pub mod detect;
pub mod engine;
pub mod ep;
pub mod error;
pub mod fault;
pub mod layouts;
pub mod live;
pub mod model;
pub mod model_meta;
pub mod model_spec;
pub mod mqtt;
pub mod panics;
pub mod pipeline;
pub mod plugin;
pub mod sink;
pub mod state;
pub mod state_writer;
pub mod stop;
pub mod tenants;
