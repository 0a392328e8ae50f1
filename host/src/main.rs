//! The `edgepipe` binary: parse flags, log to stderr, run, map errors to exit codes.

use std::process::ExitCode;

use clap::Parser;
use edgepipe::cli::{Cli, Command};
use edgepipe::error::{ExitKind, Failure};

/// Dependencies kept quiet unless asked for (`--log rumqttd=debug`): ORT's own
/// logging, and the embedded broker, which logs ordinary client disconnects as
/// errors (`router-drop`, `no-connection id 0 is already gone`).
const QUIET: &str = "ort=warn,rumqttd=off,cranelift_codegen=warn,wasmtime_internal_cranelift=warn,wasmtime=info";

fn init_logging(filter: &str) {
    let quiet: Vec<&str> = QUIET.split(',').filter(|d| !filter.contains(d.split('=').next().unwrap_or(d))).collect();
    let filter = tracing_subscriber::EnvFilter::try_new(format!("{filter},{}", quiet.join(",")))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(format!("info,{QUIET}")));
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(filter)
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}

fn main() -> ExitCode {
    // A panic is a bug; still, say it in one line on stderr, never on stdout.
    std::panic::set_hook(Box::new(|info| {
        let msg = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown".into());
        let at = info.location().map(|l| format!(" at {}:{}", l.file(), l.line())).unwrap_or_default();
        eprintln!("edgepipe: internal error (bug): {msg}{at}");
    }));

    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand) {
                // Help and version are the documented output of these flags.
                let _ = e.print();
                return ExitCode::from(if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand { 2 } else { 0 });
            }
            let text = e.to_string();
            let first = text.lines().next().unwrap_or("bad command line").trim_start_matches("error: ");
            eprintln!("edgepipe: error: {first} (see edgepipe --help)");
            return ExitCode::from(ExitKind::Config.code() as u8);
        }
    };
    init_logging(&cli.log);
    let result = match &cli.command {
        Command::Run(args) => run(args),
        Command::Bench(args) => bench(args),
    };
    match result {
        Ok(code) => code,
        Err(f) => {
            eprintln!("edgepipe: error: {f}");
            ExitCode::from(f.kind.code() as u8)
        }
    }
}

fn run(args: &edgepipe::cli::RunArgs) -> Result<ExitCode, Failure> {
    let settings = args.settings()?;
    let summary = edgepipe::pipeline::run(&settings)?;
    summary.print();
    let unacked = summary.mqtt.map(|m| m.unacknowledged()).unwrap_or(0);
    if summary.total_faults() > 0 || unacked > 0 {
        eprintln!(
            "edgepipe: error: run degraded: {} stage fault(s), {} unacknowledged message(s)",
            summary.total_faults(),
            unacked
        );
        return Ok(ExitCode::from(ExitKind::Degraded.code() as u8));
    }
    Ok(ExitCode::SUCCESS)
}

fn bench(args: &edgepipe::cli::BenchArgs) -> Result<ExitCode, Failure> {
    let report = edgepipe::bench::run(args)?;
    report.pipeline.print();
    // The report is what `bench` is for: it goes to stdout (no frames do here).
    use std::io::Write;
    std::io::stdout().lock().write_all(report.render().as_bytes()).map_err(|e| Failure::new(ExitKind::Output, e))?;
    Ok(ExitCode::SUCCESS)
}
