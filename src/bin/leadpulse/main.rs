//! The `leadpulse` command: parse the CLI, initialise telemetry, run one
//! subcommand (one file each under `commands/`).

mod commands;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use commands::{config, demo, generate, model, notify, replay, report, run, simulate_sales, watch};

/// mimalloc: millions of small, long-lived lead states fragment glibc's
/// allocator; with mimalloc resident memory per lead is about a fifth lower
/// and scoring faster (BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Real-time lead scoring and hot-lead alerts on Kafka, exactly once.
#[derive(Parser)]
#[command(name = "leadpulse", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the service against a Kafka cluster.
    Run(run::Args),
    /// Deliver alerts, breaches and overdue feedback to the people the
    /// roster names (webhooks, Slack, email, Teams), and take their
    /// one-click feedback (docs/notify.md).
    Notify(notify::Args),
    /// Score an NDJSON file of events offline: alerts go to stdout as
    /// NDJSON, a summary to stderr.
    Replay(replay::Args),
    /// The sales check-in report: leads passed, follow-up SLA and time,
    /// conversion by stage, rejections, wins and losses, per team and rep
    /// (docs/report.md).
    Report(report::Args),
    /// Simulate a sales team: feedback events (NDJSON) for the alerts of a
    /// run, deterministic for a seed.
    SimulateSales(simulate_sales::Args),
    /// Run the whole job on an in-process Kafka cluster with generated
    /// events, printing alerts as they fire.
    Demo(demo::Args),
    /// Write a synthetic event stream as NDJSON to stdout, or with `--kafka`
    /// produce it to the events topic at `--rate` events per second.
    Generate(generate::Args),
    /// Write the protobuf FileDescriptorSet of the outputs and events to
    /// stdout, for clients in other languages (no protoc needed).
    ProtoDescriptors,
    /// Work with model files.
    Model {
        #[command(subcommand)]
        command: model::Command,
    },
    /// Work with config files.
    Config {
        #[command(subcommand)]
        command: config::Command,
    },
    /// The reps' watches on the `lead-watches` topic.
    Watch {
        #[command(subcommand)]
        command: watch::Command,
    },
}

fn main() -> ExitCode {
    let command = Cli::parse().command;
    if let Command::Run(args) = command {
        // The service sets up its own logging from its config.
        return run::run(args);
    }
    if let Command::Notify(args) = command {
        return notify::run(args);
    }
    commands::quiet_logging();
    let result = match command {
        Command::Run(_) | Command::Notify(_) => unreachable!("handled above"),
        Command::Replay(args) => replay::run(args),
        Command::Report(args) => report::run(args),
        Command::SimulateSales(args) => simulate_sales::run(args),
        Command::Demo(args) => demo::run(args),
        Command::Generate(args) => generate::run(args),
        Command::ProtoDescriptors => commands::proto_descriptors(),
        Command::Model { command } => model::run(command),
        Command::Config { command } => config::run(command),
        Command::Watch { command } => watch::run(command),
    };
    result.unwrap_or_else(|e| {
        eprintln!("leadpulse: {e:#}");
        ExitCode::from(1)
    })
}
