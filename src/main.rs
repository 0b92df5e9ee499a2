//! The `leadpulse` command: parse the CLI, load settings, run.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use clap::{Parser, Subcommand};

use leadpulse::codec::{self, parse_rfc3339, Format};
use leadpulse::core::{Millis, Model, Scorer};
use leadpulse::generate::{Generator, GeneratorConfig};
use leadpulse::kafka::status::Status;
use leadpulse::settings::{LogSettings, Settings};
use leadpulse::{admin, backtest, demo, kafka, produce, replay, telemetry};

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
    Run {
        /// Config file (TOML); `LEADPULSE_SECTION__KEY` variables override it.
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// Model file; overrides `model.path`.
        #[arg(long, short)]
        model: Option<PathBuf>,
    },
    /// Score an NDJSON file of events offline: alerts go to stdout as
    /// NDJSON, a summary to stderr.
    Replay {
        /// Model file.
        #[arg(long, short)]
        model: PathBuf,
        /// NDJSON events; `-` or absent reads stdin.
        #[arg(long, short)]
        events: Option<PathBuf>,
        /// Also write every lead's final score as NDJSON to this file.
        #[arg(long)]
        scores: Option<PathBuf>,
        /// Record time to judge future-dated events against (RFC 3339);
        /// defaults to now.
        #[arg(long)]
        reference_time: Option<String>,
        /// Events dated more than this after the reference time are refused.
        #[arg(long, default_value_t = 86_400)]
        max_future_skew_secs: i64,
        /// Print a backtest report (alerts per day, score distribution,
        /// top rules, enrichment holds) instead of the alerts.
        #[arg(long)]
        report: bool,
        /// With --report: replay the same events under this model too and
        /// show both side by side.
        #[arg(long, requires = "report")]
        compare: Option<PathBuf>,
    },
    /// Run the whole job on an in-process Kafka cluster with generated
    /// events, printing alerts as they fire.
    Demo {
        /// Seconds of generated traffic.
        #[arg(long, default_value_t = 30)]
        duration: u64,
        /// Distinct leads.
        #[arg(long, default_value_t = 2_000)]
        leads: u32,
        /// Events per second.
        #[arg(long, default_value_t = 500)]
        rate: u32,
        /// Seed of the generated stream.
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Model file; defaults to the built-in example model.
        #[arg(long, short)]
        model: Option<PathBuf>,
    },
    /// Write a synthetic event stream as NDJSON to stdout, or with `--kafka`
    /// produce it to the events topic at `--rate` events per second.
    Generate {
        /// Number of events; with `--kafka`, 0 produces until SIGTERM.
        #[arg(long, default_value_t = 10_000)]
        events: u64,
        /// Produce to Kafka (`kafka.*` and `topics.events` from the config)
        /// instead of writing NDJSON, with event times from now on.
        #[arg(long)]
        kafka: bool,
        /// Config file for `--kafka`; `LEADPULSE_SECTION__KEY` variables override it.
        #[arg(long, short, requires = "kafka")]
        config: Option<PathBuf>,
        /// Events per second with `--kafka`; 0 is as fast as possible.
        #[arg(long, default_value_t = 200, requires = "kafka")]
        rate: u32,
        /// Distinct leads.
        #[arg(long, default_value_t = 1_000)]
        leads: u32,
        /// Share of leads that behave like buyers.
        #[arg(long, default_value_t = 0.05)]
        hot_fraction: f64,
        /// Seed of the stream.
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Event time of the first event (RFC 3339).
        #[arg(long, default_value = "2026-11-20T09:00:00Z")]
        start: String,
        /// Mean event-time gap between events, in milliseconds.
        #[arg(long, default_value_t = 50.0)]
        mean_gap_ms: f64,
        #[command(flatten)]
        shape: leadpulse::generate::ShapeArgs,
    },
    /// Write the protobuf FileDescriptorSet of the outputs and events to
    /// stdout, for clients in other languages (no protoc needed).
    ProtoDescriptors,
    /// Work with model files.
    Model {
        #[command(subcommand)]
        command: ModelCommand,
    },
    /// Work with config files.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
}

#[derive(Subcommand)]
enum ModelCommand {
    /// Validate a model and summarise what it means.
    Check { file: PathBuf },
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Validate a config file (with environment overrides applied).
    Check { file: Option<PathBuf> },
}

/// The model built into the binary, used by `demo` when none is given.
const EXAMPLE_MODEL: &str = include_str!("../examples/model.toml");

fn load_model(path: &Path) -> anyhow::Result<Arc<Model>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read model file {}", path.display()))?;
    Ok(Arc::new(Model::from_toml(
        &path.display().to_string(),
        &text,
    )?))
}

fn now_ms() -> Millis {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as Millis)
}

fn stop_flag() -> anyhow::Result<Arc<AtomicBool>> {
    let flag = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        // A second signal while stopping exits at once.
        signal_hook::flag::register_conditional_shutdown(sig, 130, flag.clone())?;
        signal_hook::flag::register(sig, flag.clone())?;
    }
    Ok(flag)
}

/// Bounds a shutdown: once `stop` is set, the process exits after `grace`
/// even if the loop is still busy (connecting, restoring, committing). An
/// open transaction left behind is aborted by the broker or fenced by the
/// next instance, so nothing is lost or duplicated; its events are scored
/// again by the partition's next owner.
fn shutdown_deadline(stop: Arc<AtomicBool>, status: Arc<Status>, grace: Duration) {
    std::thread::spawn(move || {
        while !stop.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(50));
        }
        status.set_stopping();
        tracing::info!(
            grace_period_secs = grace.as_secs(),
            "stop requested: finishing the open transaction and leaving the group"
        );
        std::thread::sleep(grace);
        tracing::warn!(
            grace_period_secs = grace.as_secs(),
            "grace period expired before a clean stop; exiting now (the open transaction, \
             if any, is aborted and its events are scored again by the next owner)"
        );
        std::process::exit(0);
    });
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Run { config, model } => {
            let settings = match Settings::load(config.as_deref(), std::env::vars()) {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("leadpulse: {e}");
                    return ExitCode::from(1);
                }
            };
            telemetry::init(&settings.log);
            let result = (|| -> anyhow::Result<kafka::RunSummary> {
                let path = model.unwrap_or_else(|| settings.model.path.clone());
                let current = load_model(&path)?;
                let watcher = (settings.model.reload_interval_ms > 0).then(|| {
                    kafka::ModelWatcher::new(
                        path,
                        Duration::from_millis(settings.model.reload_interval_ms),
                    )
                });
                let stop = stop_flag()?;
                let status = Arc::new(Status::default());
                if settings.admin.enabled {
                    let prometheus =
                        telemetry::install_prometheus().map_err(|e| anyhow::anyhow!(e))?;
                    admin::spawn(&settings, status.clone(), prometheus).with_context(|| {
                        format!("admin HTTP cannot listen on {}", settings.admin.listen)
                    })?;
                }
                shutdown_deadline(
                    stop.clone(),
                    status.clone(),
                    Duration::from_secs(settings.shutdown.grace_period_secs),
                );
                Ok(kafka::run_with_status(
                    &settings, current, watcher, &stop, status,
                )?)
            })();
            match result {
                Ok(_) => ExitCode::SUCCESS,
                Err(e) => {
                    tracing::error!("leadpulse stopped: {e:#}");
                    ExitCode::from(2)
                }
            }
        }
        other => {
            telemetry::init(&LogSettings {
                level: "warn".into(),
                ..LogSettings::default()
            });
            match offline(other) {
                Ok(code) => code,
                Err(e) => {
                    eprintln!("leadpulse: {e:#}");
                    ExitCode::from(1)
                }
            }
        }
    }
}

fn offline(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Run { .. } => unreachable!("handled in main"),
        Command::Replay {
            model,
            events,
            scores,
            reference_time,
            max_future_skew_secs,
            report,
            compare,
        } => {
            let model = load_model(&model)?;
            let reference_time = match reference_time {
                Some(t) => {
                    parse_rfc3339(&t).map_err(|e| anyhow::anyhow!("--reference-time: {e}"))?
                }
                None => now_ms(),
            };
            let options = replay::ReplayOptions {
                reference_time,
                max_future_skew: max_future_skew_secs.saturating_mul(1000),
            };
            let input: Box<dyn io::BufRead> = match events.as_deref() {
                None => Box::new(io::stdin().lock()),
                Some(p) if p == Path::new("-") => Box::new(io::stdin().lock()),
                Some(p) => Box::new(BufReader::new(
                    File::open(p).with_context(|| format!("cannot open {}", p.display()))?,
                )),
            };
            if report {
                return backtest_report(model, input, &options, compare.as_deref());
            }
            let stdout = io::stdout();
            let mut out = BufWriter::new(stdout.lock());
            let mut write_err = None;
            let outcome = replay::replay(
                model.clone(),
                input,
                &options,
                |alert| {
                    let mut line = codec::encode_alert(alert, Format::Json);
                    line.push(b'\n');
                    if let Err(e) = out.write_all(&line) {
                        write_err.get_or_insert(e);
                    }
                },
                |line, rejection| eprintln!("line {line}: {} ({})", rejection, rejection.code()),
            )?;
            out.flush()?;
            if let Some(e) = write_err {
                return Err(e.into());
            }
            if let Some(path) = scores {
                let mut f = BufWriter::new(File::create(&path)?);
                for s in outcome.scores(&Scorer::new(model)) {
                    f.write_all(&codec::encode_score(&s, Format::Json))?;
                    f.write_all(b"\n")?;
                }
                f.flush()?;
            }
            let c = &outcome.counts;
            eprintln!(
                "replay: {} events, {} scored, {} leads, {} alerts, {} dead-lettered {:?}",
                c.consumed,
                c.scored,
                outcome.leads.len(),
                c.alerts,
                c.dead_lettered_total(),
                c.dead_lettered
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Demo {
            duration,
            leads,
            rate,
            seed,
            model,
        } => {
            let model = match model {
                Some(p) => load_model(&p)?,
                None => Arc::new(Model::from_toml(
                    "examples/model.toml (built in)",
                    EXAMPLE_MODEL,
                )?),
            };
            let stop = stop_flag()?;
            let options = demo::DemoOptions {
                duration: Duration::from_secs(duration),
                leads,
                rate,
                seed,
                partitions: 3,
            };
            let summary = demo::run(model, &options, stop, io::stdout())?;
            let c = &summary.service.counts;
            let mut alerted: Vec<_> = summary.alerts_seen.iter().collect();
            alerted.sort_by(|a, b| b.score.total_cmp(&a.score));
            println!("\n== demo summary ==");
            println!("events produced      {}", summary.produced);
            println!("events scored        {}", c.scored);
            println!(
                "dead-lettered        {} {:?}",
                c.dead_lettered_total(),
                c.dead_lettered
            );
            println!("hot-lead alerts      {}", c.alerts);
            println!("score updates        {}", c.score_updates);
            println!(
                "transactions         {} committed, {} aborted",
                summary.service.transactions, summary.service.aborted
            );
            if !alerted.is_empty() {
                println!("hottest leads:");
                for a in alerted.iter().take(5) {
                    println!(
                        "  {}  {:>5}  {}",
                        a.lead_id,
                        a.score,
                        a.company_domain.as_deref().unwrap_or("-")
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Generate {
            events,
            kafka: true,
            config,
            rate,
            leads,
            hot_fraction,
            seed,
            shape,
            ..
        } => {
            let settings = Settings::load(config.as_deref(), std::env::vars())?;
            let stop = stop_flag()?;
            let options = produce::ProduceOptions {
                events: (events > 0).then_some(events),
                rate,
                leads,
                hot_fraction,
                seed,
                shape,
            };
            let sent =
                produce::produce(&settings, &options, &stop).map_err(|e| anyhow::anyhow!(e))?;
            eprintln!(
                "generate: {sent} events produced to `{}`",
                settings.topics.events
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Generate {
            events,
            leads,
            hot_fraction,
            seed,
            start,
            mean_gap_ms,
            shape,
            ..
        } => {
            let start = parse_rfc3339(&start).map_err(|e| anyhow::anyhow!("--start: {e}"))?;
            let generator = Generator::new(
                shape
                    .apply(GeneratorConfig {
                        leads,
                        hot_fraction,
                        seed,
                        start,
                        mean_gap_ms,
                        ..GeneratorConfig::default()
                    })
                    .map_err(|e| anyhow::anyhow!(e))?,
            );
            let stdout = io::stdout();
            let mut out = BufWriter::new(stdout.lock());
            for e in generator.take(events as usize) {
                out.write_all(&codec::encode_event(&e, Format::Json))?;
                out.write_all(b"\n")?;
            }
            out.flush()?;
            Ok(ExitCode::SUCCESS)
        }
        Command::ProtoDescriptors => {
            io::stdout().write_all(leadpulse::proto::FILE_DESCRIPTOR_SET)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Model {
            command: ModelCommand::Check { file },
        } => match load_model(&file) {
            Ok(model) => {
                print!("{}", model.summary());
                Ok(ExitCode::SUCCESS)
            }
            Err(e) => {
                eprintln!("{e:#}");
                Ok(ExitCode::from(1))
            }
        },
        Command::Config {
            command: ConfigCommand::Check { file },
        } => match Settings::load(file.as_deref(), std::env::vars()) {
            Ok(s) => {
                println!(
                    "config ok: bootstrap {}, group {}, transactional.id {}, events topic `{}`",
                    s.kafka.bootstrap_servers,
                    s.kafka.group_id,
                    s.kafka.transactional_id(),
                    s.topics.events
                );
                Ok(ExitCode::SUCCESS)
            }
            Err(e) => {
                eprintln!("{e}");
                Ok(ExitCode::from(1))
            }
        },
    }
}

/// `replay --report [--compare OTHER]`: the backtest of one model, or two
/// side by side on the same events.
fn backtest_report(
    model: Arc<Model>,
    mut input: Box<dyn io::BufRead>,
    options: &replay::ReplayOptions,
    compare: Option<&Path>,
) -> anyhow::Result<ExitCode> {
    let mut events = Vec::new();
    input.read_to_end(&mut events)?;
    let run = |model: Arc<Model>| -> anyhow::Result<backtest::Backtest> {
        let outcome = replay::replay(model.clone(), &events[..], options, |_| {}, |_, _| {})?;
        Ok(backtest::Backtest::new(&Scorer::new(model), &outcome))
    };
    let a = run(model)?;
    let b = match compare {
        Some(p) => Some(run(load_model(p)?)?),
        None => None,
    };
    print!("{}", backtest::render(&a, b.as_ref()));
    Ok(ExitCode::SUCCESS)
}
