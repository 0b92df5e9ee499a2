//! `leadpulse generate`: a deterministic synthetic event stream, as NDJSON
//! or produced to Kafka.

use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use leadpulse::codec::{self, parse_rfc3339, Format};
use leadpulse::config::Settings;
use leadpulse::tools::generate::{outcomes, Generator, GeneratorConfig, ShapeArgs};
use leadpulse::tools::produce;

#[derive(clap::Args)]
pub struct Args {
    /// Number of events; with `--kafka`, 0 produces until SIGTERM.
    /// Not with `--outcomes`, where each lead has its own history.
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
    /// With `--kafka`: seconds to wait for a broker to answer before giving
    /// up (exit status 1), and for the last events to be delivered.
    #[arg(long, default_value_t = 30.0, requires = "kafka")]
    kafka_timeout: f64,
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
    /// Write a stream with known causes of won deals instead: a driver
    /// page and form truly raise the odds of a `deal_won` feedback event
    /// (written into the stream), a noise page does not (docs/model.md,
    /// "Tuning the model from outcomes").
    #[arg(long, conflicts_with_all = ["kafka", "events"])]
    outcomes: bool,
    /// With `--outcomes`: leads arrive over this many days, and the
    /// stream ends after them.
    #[arg(long, default_value_t = 30.0, requires = "outcomes")]
    days: f64,
    #[command(flatten)]
    shape: ShapeArgs,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if args.kafka {
        return to_kafka(args);
    }
    let start = parse_rfc3339(&args.start).map_err(|e| anyhow::anyhow!("--start: {e}"))?;
    if args.outcomes {
        let events = outcomes::generate(&outcomes::OutcomeConfig {
            leads: args.leads,
            start,
            days: args.days,
            seed: args.seed,
        });
        let stdout = io::stdout();
        let mut out = BufWriter::new(stdout.lock());
        for e in &events {
            out.write_all(&codec::encode_event(e, Format::Json))?;
            out.write_all(b"\n")?;
        }
        out.flush()?;
        return Ok(ExitCode::SUCCESS);
    }
    let generator = Generator::new(
        args.shape
            .apply(GeneratorConfig {
                leads: args.leads,
                hot_fraction: args.hot_fraction,
                seed: args.seed,
                start,
                mean_gap_ms: args.mean_gap_ms,
                ..GeneratorConfig::default()
            })
            .map_err(|e| anyhow::anyhow!(e))?,
    );
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    for e in generator.take(args.events as usize) {
        out.write_all(&codec::encode_event(&e, Format::Json))?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

fn to_kafka(args: Args) -> anyhow::Result<ExitCode> {
    let settings = Settings::load(args.config.as_deref(), std::env::vars())?;
    let stop = super::stop_flag()?;
    let options = produce::ProduceOptions {
        events: (args.events > 0).then_some(args.events),
        rate: args.rate,
        leads: args.leads,
        hot_fraction: args.hot_fraction,
        seed: args.seed,
        shape: args.shape,
        kafka_timeout: super::seconds("--kafka-timeout", args.kafka_timeout)?,
    };
    let sent = produce::produce(&settings, &options, &stop).map_err(|e| anyhow::anyhow!(e))?;
    eprintln!(
        "generate: {sent} events produced to `{}`",
        settings.topics.events
    );
    Ok(ExitCode::SUCCESS)
}
