//! `leadpulse simulate-sales`: a deterministic sales team answering the
//! alerts of a run, for tests and demos.

use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use leadpulse::codec::{self, Format};
use leadpulse::tools::simulate;

#[derive(clap::Args)]
pub struct Args {
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
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let options = simulate::SimOptions {
        seed: args.seed,
        on_time: args.on_time,
        silent: args.silent,
        ..simulate::SimOptions::default()
    };
    options.validate().map_err(|e| anyhow::anyhow!(e))?;
    let mut decoded = Vec::new();
    for (i, line) in super::read_lines(&args.alerts)?.iter().enumerate() {
        decoded.push(
            codec::decode_alert(line)
                .map_err(|e| anyhow::anyhow!("{} line {}: {e}", args.alerts.display(), i + 1))?,
        );
    }
    let feedback: Vec<Vec<u8>> = simulate::simulate(&decoded, &options)
        .iter()
        .map(|e| codec::encode_event(e, Format::Json))
        .collect();
    let lines = match args.merge {
        Some(events) => simulate::merge_by_time(&super::read_lines(&events)?, &feedback),
        None => feedback,
    };
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    for line in &lines {
        out.write_all(line)?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}
