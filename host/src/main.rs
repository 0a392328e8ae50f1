//! The `edgepipe` binary: parse flags, log to stderr, run, map errors to exit codes.

use std::process::ExitCode;

use clap::Parser;
use edgepipe::commands::cli::{
    Cli, Command, FleetCommand, PluginBenchArgs, PluginCommand, PluginTestArgs, TenantsCommand,
};
use edgepipe::error::{ExitKind, Failure, OrExit};

/// Dependencies kept quiet unless asked for (`--log rumqttd=debug`): ORT's own
/// logging, and the embedded broker, which logs ordinary client disconnects as
/// errors (`router-drop`, `no-connection id 0 is already gone`).
const QUIET: &str =
    "ort=warn,rumqttd=off,cranelift_codegen=warn,wasmtime_internal_cranelift=warn,wasmtime=info";

fn init_logging(filter: &str) {
    let quiet: Vec<&str> = QUIET
        .split(',')
        .filter(|d| !filter.contains(d.split('=').next().unwrap_or(d)))
        .collect();
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
    // Before any thread starts (issue 22: peak memory).
    edgepipe::timeline::start();
    edgepipe::malloc::tune();
    // A panic is a bug; still, it ends the run with one line and exit 1.
    edgepipe::panics::install_hook();

    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(
                e.kind(),
                ErrorKind::DisplayHelp
                    | ErrorKind::DisplayVersion
                    | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
            ) {
                // Help and version are the documented output of these flags.
                let _ = e.print();
                return ExitCode::from(
                    if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
                        2
                    } else {
                        0
                    },
                );
            }
            let text = e.to_string();
            let first = text
                .lines()
                .next()
                .unwrap_or("bad command line")
                .trim_start_matches("error: ");
            eprintln!("edgepipe: error: {first} (see edgepipe --help)");
            return ExitCode::from(ExitKind::Config.code() as u8);
        }
    };
    init_logging(&cli.log);
    let result = edgepipe::panics::guarded(|| command(&cli))
        .unwrap_or_else(|text| Err(Failure::msg(ExitKind::Internal, text)));
    match result {
        Ok(code) => code,
        Err(f) => {
            eprintln!("edgepipe: error: {f}");
            ExitCode::from(f.kind.code() as u8)
        }
    }
}

fn command(cli: &Cli) -> Result<ExitCode, Failure> {
    match &cli.command {
        Command::Run(args) => run(args),
        Command::Plugin(PluginCommand::Check { file }) => plugin_check(file),
        Command::Plugin(PluginCommand::Test(args)) => plugin_test(args),
        Command::Plugin(PluginCommand::Bench(args)) => plugin_bench(args),
        Command::Plugin(PluginCommand::New(args)) => {
            edgepipe::commands::plugin_new::run(args).map(|()| ExitCode::SUCCESS)
        }
        Command::Plugin(PluginCommand::Build { dir }) => {
            edgepipe::commands::plugin_build::run(dir).map(|()| ExitCode::SUCCESS)
        }
        Command::Plugin(
            p @ (PluginCommand::Push(_)
            | PluginCommand::Pull(_)
            | PluginCommand::Keygen { .. }
            | PluginCommand::Sign { .. }
            | PluginCommand::Verify { .. }),
        ) => plugin_oci(p),
        Command::Fleet(FleetCommand::Status(a)) => {
            edgepipe::commands::fleet::status(a).map(|()| ExitCode::SUCCESS)
        }
        Command::BenchMqtt(args) => args.run().map(|()| ExitCode::SUCCESS),
        Command::Bench(args) => bench(args),
        Command::Eval(args) => edgepipe::commands::eval::run(args).map(|()| ExitCode::SUCCESS),
        Command::Tenants(TenantsCommand::Check {
            dir,
            config,
            plugin_dir,
        }) => tenants_check(dir, config.as_deref(), plugin_dir.clone()),
    }
}

fn plugin_oci(p: &PluginCommand) -> Result<ExitCode, Failure> {
    use edgepipe::commands::plugin_oci as o;
    let done = |r: Result<(), Failure>| r.map(|()| ExitCode::SUCCESS);
    match p {
        PluginCommand::Push(a) => done(o::push(a)),
        PluginCommand::Pull(a) => done(o::pull(a)),
        PluginCommand::Keygen { key } => done(o::keygen(key)),
        PluginCommand::Sign { file, key, output } => done(o::sign(file, key, output.as_deref())),
        PluginCommand::Verify { file, key } => Ok(if o::verify(file, key)? {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        }),
        _ => Err(Failure::msg(
            ExitKind::Internal,
            "not a registry or signature command",
        )),
    }
}

fn tenants_check(
    dir: &std::path::Path,
    config: Option<&std::path::Path>,
    plugin_dir: Option<std::path::PathBuf>,
) -> Result<ExitCode, Failure> {
    use edgepipe::config::{self, FileConfig, Overrides};
    let file = match config {
        Some(p) => Some(FileConfig::load(p).or_exit(ExitKind::Config)?),
        None => None,
    };
    let s = config::resolve(
        file,
        &Overrides {
            plugin_dir,
            no_mqtt: true,
            ..Default::default()
        },
    )
    .or_exit(ExitKind::Config)?;
    let rt = &s.runtime;
    let host = edgepipe::plugin::PluginHost::with_cache(
        edgepipe::plugin::Limits {
            call_timeout: rt.call_timeout,
            memory: rt.memory_limit,
        },
        edgepipe::plugin::ComponentCache::new(rt.plugin_cache.clone()),
    )
    .or_exit(ExitKind::Plugin)?;
    let cameras: Vec<String> = s.cameras.iter().map(|c| c.name.clone()).collect();
    let pipeline = edgepipe::tenants::check::Pipeline {
        plugin_dir: &rt.plugin_dir,
        default_qos: rt.default_qos,
        max: &rt.tenant_maxima,
        cameras: &cameras,
    };
    let ok = edgepipe::tenants::check::run(dir, &host, &pipeline)
        .map_err(|e| Failure::msg(ExitKind::Config, e))?;
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn run(args: &edgepipe::commands::cli::RunArgs) -> Result<ExitCode, Failure> {
    let settings = args.settings()?;
    let stop = edgepipe::stop::StopToken::new();
    stop.install_signal_handlers().or_exit(ExitKind::Internal)?;
    if settings.several_cameras() {
        return run_cameras(&settings, stop);
    }
    let summary = edgepipe::engine::run(
        &settings,
        edgepipe::engine::EngineOptions {
            stop,
            process_ends: true,
            ..Default::default()
        },
    )?;
    summary.print();
    Ok(ExitCode::from(judge(&summary)))
}

/// Several cameras: a summary and an exit status per camera; the process
/// exits with the worst.
fn run_cameras(
    settings: &edgepipe::config::Settings,
    stop: edgepipe::stop::StopToken,
) -> Result<ExitCode, Failure> {
    let results = edgepipe::engine::cameras::run_cameras(settings, stop, true)?;
    let mut worst = 0u8;
    for c in results {
        eprintln!("edgepipe: camera {}:", c.name);
        let code = match c.result {
            Ok(summary) => {
                summary.print();
                judge(&summary)
            }
            Err(f) => {
                eprintln!("edgepipe: error: camera {}: {f}", c.name);
                f.kind.code() as u8
            }
        };
        eprintln!("edgepipe: camera {}: exit status {code}", c.name);
        worst = worst.max(code);
    }
    Ok(ExitCode::from(worst))
}

/// A finished run's exit status: 0, or degraded (faults, messages lost).
fn judge(summary: &edgepipe::pipeline::Summary) -> u8 {
    let unacked = summary
        .mqtt
        .as_ref()
        .map(|m| m.unacknowledged())
        .unwrap_or(0);
    let refused: u64 = summary.refusals.iter().map(|(_, n)| n).sum();
    let lost = summary.mqtt.as_ref().map(|m| m.lost()).unwrap_or(0) + refused;
    if summary.total_faults() > 0 || lost > 0 {
        eprintln!(
            "edgepipe: error: run degraded: {} stage fault(s), {} unacknowledged message(s), {} message(s) dropped, refused or not sent",
            summary.total_faults(),
            unacked,
            lost - unacked
        );
        return ExitKind::Degraded.code() as u8;
    }
    0
}

fn plugin_check(file: &std::path::Path) -> Result<ExitCode, Failure> {
    Ok(if edgepipe::commands::plugin_tool::check(file)? {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn plugin_test(a: &PluginTestArgs) -> Result<ExitCode, Failure> {
    use edgepipe::commands::plugin_tool::{test, TestOptions, TestResult};
    let mut settings = Vec::with_capacity(a.settings.len());
    for kv in &a.settings {
        let (k, v) = kv.split_once('=').ok_or_else(|| {
            Failure::msg(
                ExitKind::Config,
                format!("--set {kv:?}: expected KEY=VALUE"),
            )
        })?;
        settings.push((k.to_string(), v.to_string()));
    }
    let o = TestOptions {
        file: a.file.clone(),
        input: a.input.clone(),
        expect: a.expect.clone(),
        video: a.video.clone(),
        settings,
        stats_plugin: a.stats_plugin.clone(),
        output: a.output.clone(),
    };
    match test(&o)? {
        TestResult::Passed { lines } => {
            if a.expect.is_some() {
                eprintln!(
                    "edgepipe: plugin test: {} lines match {}",
                    lines,
                    a.expect
                        .as_deref()
                        .map(|p| p.display().to_string())
                        .unwrap_or_default()
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        TestResult::Differs {
            line,
            frame,
            expected,
            got,
        } => {
            let at = frame
                .map(|f| format!("frame {f}"))
                .unwrap_or_else(|| "the end-of-stream line".into());
            eprintln!("edgepipe: plugin test: first difference at {at} (line {line}): expected {expected} got {got}");
            Ok(ExitCode::from(1))
        }
        TestResult::Faulted { faults } => {
            eprintln!("edgepipe: plugin test: the stage faulted {faults} time(s)");
            Ok(ExitCode::from(1))
        }
    }
}

fn plugin_bench(a: &PluginBenchArgs) -> Result<ExitCode, Failure> {
    use edgepipe::config::{default_asset, DEFAULT_INPUT, DEFAULT_PLUGIN_DIR};
    if a.reloads == 0 || a.rounds == 0 {
        return Err(Failure::msg(
            ExitKind::Config,
            "--reloads and --rounds must be at least 1",
        ));
    }
    let o = edgepipe::commands::plugin_bench::BenchOptions {
        plugin_dir: a
            .plugin_dir
            .clone()
            .unwrap_or_else(|| default_asset(DEFAULT_PLUGIN_DIR)),
        record: a
            .record
            .clone()
            .unwrap_or_else(|| default_asset("tests/data/vtest-100.jsonl")),
        video: a
            .video
            .clone()
            .unwrap_or_else(|| default_asset(DEFAULT_INPUT)),
        reloads: a.reloads,
        rounds: a.rounds,
    };
    if a.stage.is_empty() {
        edgepipe::commands::plugin_bench::bench(&o)?;
    } else {
        edgepipe::commands::plugin_bench_stage::bench(&o, &a.stage)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// A bench's report on stdout (in bench mode no frames go there).
fn to_stdout(text: &str) -> Result<(), Failure> {
    use std::io::Write;
    std::io::stdout()
        .lock()
        .write_all(text.as_bytes())
        .map_err(|e| Failure::new(ExitKind::Output, e))
}

fn bench(args: &edgepipe::commands::cli::BenchArgs) -> Result<ExitCode, Failure> {
    if let Some(n) = args.cameras {
        let text = edgepipe::commands::bench_cameras::run(args, n)?;
        to_stdout(&text)?;
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(n) = args.viewers {
        let text = edgepipe::commands::bench_viewers::run(args, n)?;
        to_stdout(&text)?;
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(d) = args.soak {
        let text = edgepipe::commands::bench_soak::run(args, d, args.soak_every)?;
        to_stdout(&text)?;
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(n) = args.tenants {
        let text = edgepipe::commands::bench_tenants::run(args, n)?;
        to_stdout(&text)?;
        return Ok(ExitCode::SUCCESS);
    }
    let report = edgepipe::commands::bench::run(args)?;
    for r in &report.runs {
        r.pipeline.print();
    }
    // The report is what `bench` is for: it goes to stdout (no frames do here).
    to_stdout(&report.render())?;
    Ok(ExitCode::SUCCESS)
}
