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
use leadpulse::core::{Millis, Model, Roster, Scorer};
use leadpulse::generate::{Generator, GeneratorConfig};
use leadpulse::kafka::status::Status;
use leadpulse::settings::{LogSettings, Settings};
use leadpulse::{
    admin, backtest, demo, kafka, produce, replay, report, report_input, simulate, telemetry,
};

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
        /// Roster to route alerts with (and run the SLA loop on stream time).
        #[arg(long)]
        routing: Option<PathBuf>,
        /// Partitions of the events topic of the deployment being
        /// reproduced (routing balance is kept per partition).
        #[arg(long, default_value_t = 1)]
        partitions: i32,
        /// After the last event, fire timers due up to this time (RFC 3339).
        #[arg(long)]
        until: Option<String>,
        /// Also write every output as NDJSON into this folder, one file per
        /// topic (hot-lead-alerts, lead-scores, leads-needing-enrichment,
        /// sla-breaches, feedback-overdue, lead-lifecycle, lead-handoffs).
        #[arg(long)]
        outputs: Option<PathBuf>,
    },
    /// The sales check-in report: leads passed, follow-up SLA and time,
    /// conversion by stage, rejections, wins and losses, per team and rep
    /// (docs/report.md).
    Report {
        /// A `replay --outputs` folder to read.
        #[arg(long, required_unless_present = "config", conflicts_with = "config")]
        from: Option<PathBuf>,
        /// Read the topics of a running deployment instead (`kafka.*` and
        /// `topics.*` of this config; environment overrides apply).
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// Handoffs from this time on (RFC 3339, or a date: 2026-11-01).
        #[arg(long)]
        since: Option<String>,
        /// Handoffs before this time (exclusive).
        #[arg(long)]
        until: Option<String>,
        #[arg(long, value_enum, default_value = "markdown")]
        format: ReportFormat,
        /// Write the report to this file instead of stdout.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Simulate a sales team: feedback events (NDJSON) for the alerts of a
    /// run, deterministic for a seed.
    SimulateSales {
        /// NDJSON alerts (`replay` stdout or `hot-lead-alerts.ndjson`).
        #[arg(long)]
        alerts: PathBuf,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Of the leads a rep answers, the share contacted within the SLA.
        #[arg(long, default_value_t = 0.7)]
        on_time: f64,
        /// Share of leads nobody answers.
        #[arg(long, default_value_t = 0.1)]
        silent: f64,
        /// Write these NDJSON events and the feedback merged in event-time order.
        #[arg(long)]
        merge: Option<PathBuf>,
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

#[derive(Clone, Copy, clap::ValueEnum)]
enum ReportFormat {
    Markdown,
    Html,
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
/// The roster built into the binary, used by `demo`.
const EXAMPLE_ROUTING: &str = include_str!("../examples/routing.toml");

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

/// mimalloc: millions of small, long-lived lead states fragment glibc's
/// allocator; with mimalloc resident memory per lead is about a fifth lower
/// and scoring faster (BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
                let roster = settings
                    .routing
                    .path
                    .as_deref()
                    .map(load_roster)
                    .transpose()?;
                Ok(kafka::run_with_status(
                    &settings, current, roster, watcher, &stop, status,
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
            routing,
            partitions,
            until,
            outputs,
        } => {
            let model = load_model(&model)?;
            let reference_time = match reference_time {
                Some(t) => {
                    parse_rfc3339(&t).map_err(|e| anyhow::anyhow!("--reference-time: {e}"))?
                }
                None => now_ms(),
            };
            let mut options = replay::ReplayOptions::new(
                reference_time,
                max_future_skew_secs.saturating_mul(1000),
            );
            options.roster = routing.as_deref().map(load_roster).transpose()?;
            options.partitions = partitions;
            options.until = until
                .map(|t| parse_rfc3339(&t).map_err(|e| anyhow::anyhow!("--until: {e}")))
                .transpose()?;
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
            let final_scores = outcome.scores(&Scorer::new(model));
            if let Some(path) = scores {
                write_ndjson(
                    &path,
                    final_scores
                        .iter()
                        .map(|s| codec::encode_score(s, Format::Json)),
                )?;
            }
            if let Some(dir) = outputs {
                write_outputs(&dir, &outcome, &final_scores)?;
            }
            let c = &outcome.counts;
            eprintln!(
                "replay: {} events, {} scored, {} leads, {} alerts, {} dead-lettered {:?}; \
                 {} SLA breaches, {} overdue feedback, {} stage changes",
                c.consumed,
                c.scored,
                outcome.leads.len(),
                c.alerts,
                c.dead_lettered_total(),
                c.dead_lettered,
                outcome.breaches.len(),
                outcome.overdue.len(),
                outcome.stages.len()
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
                roster: Some(Arc::new(demo_roster()?)),
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
            println!(
                "contacted in SLA     {} (simulated reps)",
                summary.contacted
            );
            println!("SLA breaches         {}", summary.breaches);
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
        Command::Report {
            from,
            config,
            since,
            until,
            format,
            out,
        } => {
            let period = report::Period {
                since: since.as_deref().map(parse_time("--since")).transpose()?,
                until: until.as_deref().map(parse_time("--until")).transpose()?,
            };
            let (input, skipped) = match (from, config) {
                (Some(dir), _) => report_input::from_dir(&dir)?,
                (None, config) => {
                    let settings = Settings::load(config.as_deref(), std::env::vars())?;
                    report_input::from_kafka(&settings, Duration::from_secs(30))?
                }
            };
            if let Some(first) = &skipped.first {
                eprintln!(
                    "report: left out {} record(s) that do not decode (first: {first})",
                    skipped.count
                );
            }
            let r = report::Report::new(&input, period);
            let text = match format {
                ReportFormat::Markdown => report::markdown::render(&r),
                ReportFormat::Html => report::html::render(&r),
            };
            match out {
                Some(path) => std::fs::write(&path, text)
                    .with_context(|| format!("cannot write {}", path.display()))?,
                None => io::stdout().write_all(text.as_bytes())?,
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::SimulateSales {
            alerts,
            seed,
            on_time,
            silent,
            merge,
        } => {
            let options = simulate::SimOptions {
                seed,
                on_time,
                silent,
                ..simulate::SimOptions::default()
            };
            options.validate().map_err(|e| anyhow::anyhow!(e))?;
            let mut decoded = Vec::new();
            for (i, line) in read_lines(&alerts)?.iter().enumerate() {
                decoded
                    .push(codec::decode_alert(line).map_err(|e| {
                        anyhow::anyhow!("{} line {}: {e}", alerts.display(), i + 1)
                    })?);
            }
            let feedback: Vec<Vec<u8>> = simulate::simulate(&decoded, &options)
                .iter()
                .map(|e| codec::encode_event(e, Format::Json))
                .collect();
            let lines = match merge {
                Some(events) => simulate::merge_by_time(&read_lines(&events)?, &feedback),
                None => feedback,
            };
            let stdout = io::stdout();
            let mut out = BufWriter::new(stdout.lock());
            for line in lines {
                out.write_all(&line)?;
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

/// An RFC 3339 time, or a date (midnight UTC).
fn parse_time(flag: &'static str) -> impl Fn(&str) -> anyhow::Result<Millis> {
    move |s| {
        let full = if s.len() == 10 {
            format!("{s}T00:00:00Z")
        } else {
            s.to_owned()
        };
        parse_rfc3339(&full).map_err(|e| {
            anyhow::anyhow!("{flag}: expected an RFC 3339 time or a date like 2026-11-01 ({e})")
        })
    }
}

/// The non-blank lines of a file.
fn read_lines(path: &Path) -> anyhow::Result<Vec<Vec<u8>>> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(bytes
        .split(|&b| b == b'\n')
        .filter(|l| !l.iter().all(u8::is_ascii_whitespace))
        .map(<[u8]>::to_vec)
        .collect())
}

/// The example roster with a 20-second follow-up SLA, so that a short demo
/// shows contacts within the SLA and breaches.
fn demo_roster() -> anyhow::Result<Roster> {
    let mut roster = Roster::from_toml("examples/routing.toml (built in)", EXAMPLE_ROUTING)?;
    for team in &mut roster.teams {
        team.sla = 20_000;
    }
    Ok(roster)
}

fn load_roster(path: &Path) -> anyhow::Result<Arc<Roster>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read routing file {}", path.display()))?;
    Ok(Arc::new(Roster::from_toml(
        &path.display().to_string(),
        &text,
    )?))
}

fn write_ndjson(path: &Path, records: impl Iterator<Item = Vec<u8>>) -> anyhow::Result<()> {
    let mut f = BufWriter::new(
        File::create(path).with_context(|| format!("cannot create {}", path.display()))?,
    );
    for r in records {
        f.write_all(&r)?;
        f.write_all(b"\n")?;
    }
    f.flush()?;
    Ok(())
}

/// `replay --outputs DIR`: one NDJSON file per output topic, as `run`
/// would publish them (scores and handoffs: the final record of each).
fn write_outputs(
    dir: &Path,
    outcome: &replay::ReplayOutcome,
    scores: &[leadpulse::core::LeadScore],
) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let j = Format::Json;
    write_ndjson(
        &dir.join("hot-lead-alerts.ndjson"),
        outcome.alerts.iter().map(|a| codec::encode_alert(a, j)),
    )?;
    write_ndjson(
        &dir.join("lead-scores.ndjson"),
        scores.iter().map(|s| codec::encode_score(s, j)),
    )?;
    write_ndjson(
        &dir.join("leads-needing-enrichment.ndjson"),
        outcome.holds.iter().map(|h| codec::encode_hold(h, j)),
    )?;
    write_ndjson(
        &dir.join("sla-breaches.ndjson"),
        outcome.breaches.iter().map(|b| codec::encode_breach(b, j)),
    )?;
    write_ndjson(
        &dir.join("feedback-overdue.ndjson"),
        outcome.overdue.iter().map(|o| codec::encode_overdue(o, j)),
    )?;
    write_ndjson(
        &dir.join("lead-lifecycle.ndjson"),
        outcome.stages.iter().map(|c| codec::encode_stage(c, j)),
    )?;
    write_ndjson(
        &dir.join("lead-handoffs.ndjson"),
        outcome
            .handoffs
            .values()
            .map(|h| codec::encode_handoff(h, j)),
    )?;
    Ok(())
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
