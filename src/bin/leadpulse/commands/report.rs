//! `leadpulse report`: the sales check-in.

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use leadpulse::config::Settings;
use leadpulse::offline::{report, report_input};

#[derive(clap::Args)]
pub struct Args {
    /// A `replay --outputs` folder to read.
    #[arg(long, required_unless_present = "config", conflicts_with = "config")]
    from: Option<PathBuf>,
    /// Read the topics of a running deployment instead (`kafka.*` and
    /// `topics.*` of this config; environment overrides apply).
    #[arg(long, short)]
    config: Option<PathBuf>,
    /// With `--config`: seconds to wait for a broker to answer before giving
    /// up (exit status 1), and for each read.
    #[arg(long, default_value_t = 30.0, requires = "config")]
    kafka_timeout: f64,
    /// Handoffs from this time on (RFC 3339, or a date: 2026-11-01).
    #[arg(long)]
    since: Option<String>,
    /// Handoffs before this time (exclusive).
    #[arg(long)]
    until: Option<String>,
    #[arg(long, value_enum, default_value = "markdown")]
    format: Format,
    /// The ISO 4217 code of the currency deal amounts are in (the records
    /// carry bare numbers): it labels them, nothing is converted.
    #[arg(long, default_value = "USD", value_parser = report::Currency::parse)]
    currency: report::Currency,
    /// Write the report to this file instead of stdout.
    #[arg(long)]
    out: Option<PathBuf>,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Format {
    Markdown,
    Html,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let period = report::Period {
        since: args
            .since
            .as_deref()
            .map(super::parse_time("--since"))
            .transpose()?,
        until: args
            .until
            .as_deref()
            .map(super::parse_time("--until"))
            .transpose()?,
    };
    let (input, skipped) = match (args.from, args.config) {
        (Some(dir), _) => report_input::from_dir(&dir)?,
        (None, config) => {
            let settings = Settings::load(config.as_deref(), std::env::vars())?;
            let timeout = super::seconds("--kafka-timeout", args.kafka_timeout)?;
            report_input::from_kafka(&settings, timeout)?
        }
    };
    if let Some(first) = &skipped.first {
        eprintln!(
            "report: left out {} record(s) that do not decode (first: {first})",
            skipped.count
        );
    }
    let r = report::Report::new(&input, period);
    let text = match args.format {
        Format::Markdown => report::markdown::render(&r, &args.currency),
        Format::Html => report::html::render(&r, &args.currency),
    };
    match args.out {
        Some(path) => std::fs::write(&path, text)
            .with_context(|| format!("cannot write {}", path.display()))?,
        None => io::stdout().write_all(text.as_bytes())?,
    }
    Ok(ExitCode::SUCCESS)
}
