//! The commands on top of the pipeline: the command line (`cli`) and every
//! subcommand besides `run` (benches, `eval`, the plugin tools). They use the
//! library below them; nothing below imports them.

pub mod bench;
pub mod bench_cameras;
pub mod bench_compare;
pub mod bench_soak;
pub mod bench_tenants;
pub mod bench_viewers;
pub mod cli;
pub mod eval;
pub mod fleet;
pub mod mqtt_login;
pub mod plugin_bench;
pub mod plugin_bench_memory;
pub mod plugin_bench_stage;
pub mod plugin_build;
pub mod plugin_new;
pub mod plugin_oci;
pub mod plugin_pyfix;
pub mod plugin_tool;
