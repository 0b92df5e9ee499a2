//! `leadpulse model check`: validate a model and say what it means;
//! `leadpulse model suggest`: a candidate model tuned to the outcomes.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use leadpulse::codec::{self, parse_rfc3339};
use leadpulse::offline::replay::ReplayOptions;
use leadpulse::offline::suggest::{self, Holdout, Scale, SuggestOptions, Target};

#[derive(clap::Subcommand)]
pub enum Command {
    /// Validate a model and summarise what it means.
    Check { file: PathBuf },
    /// Learn from past events and outcomes which rules predict them, and
    /// write a candidate model with those points, with a report on a
    /// held-out time split (docs/model.md).
    Suggest(SuggestArgs),
}

#[derive(clap::Args)]
pub struct SuggestArgs {
    /// The current model.
    #[arg(long, short)]
    model: PathBuf,
    /// Past events (NDJSON, as `replay` reads them), sales feedback included.
    #[arg(long, short)]
    events: PathBuf,
    /// A `replay --outputs` folder whose `lead-lifecycle.ndjson` (and
    /// `lead-feedback.ndjson`, if there) also give outcomes.
    #[arg(long)]
    outputs: Option<PathBuf>,
    /// Where to write the candidate model.
    #[arg(long)]
    out: PathBuf,
    /// The outcome to predict.
    #[arg(long, value_enum, default_value = "won")]
    outcome: Target,
    /// The holdout starts at this time or date (floored to midnight UTC).
    #[arg(long, conflicts_with = "holdout")]
    holdout_from: Option<String>,
    /// Or: the holdout is this last share of the events' time span.
    #[arg(long, default_value_t = 0.3)]
    holdout: f64,
    /// Leads a rule must match in the training window to be fitted (and
    /// a rule drawn from the data, to be considered).
    #[arg(long, default_value_t = 30)]
    min_support: usize,
    /// Outcomes the training window must hold.
    #[arg(long, default_value_t = 50)]
    min_outcomes: usize,
    /// The L1 penalty: higher keeps fewer rules.
    #[arg(long, default_value_t = 0.005)]
    penalty: f64,
    /// Matches counted per rule without a cap.
    #[arg(long, default_value_t = 3,
          value_parser = clap::value_parser!(u32).range(1..=1000))]
    max_count: u32,
    /// How coefficients become points: `volume` keeps as many training
    /// leads over `score_at_least` as the current model has; `range`
    /// gives the strongest rule the current strongest rule's points.
    #[arg(long, value_enum, default_value = "volume")]
    scale: Scale,
    /// Record time to judge future-dated events against (RFC 3339), as
    /// for `replay`; defaults to now.
    #[arg(long)]
    reference_time: Option<String>,
    /// Events dated more than this after the reference time are refused.
    #[arg(long, default_value_t = 86_400)]
    max_future_skew_secs: i64,
}

pub fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Check { file } => match super::load_model(&file) {
            Ok(model) => {
                print!("{}", model.summary());
                Ok(ExitCode::SUCCESS)
            }
            Err(e) => {
                eprintln!("{e:#}");
                Ok(ExitCode::from(1))
            }
        },
        Command::Suggest(args) => suggest_model(args),
    }
}

fn suggest_model(args: SuggestArgs) -> anyhow::Result<ExitCode> {
    let text = std::fs::read_to_string(&args.model)
        .with_context(|| format!("cannot read model file {}", args.model.display()))?;
    let events = std::fs::read(&args.events)
        .with_context(|| format!("cannot read {}", args.events.display()))?;
    let reference_time = match &args.reference_time {
        Some(t) => parse_rfc3339(t).map_err(|e| anyhow::anyhow!("--reference-time: {e}"))?,
        None => super::now_ms(),
    };
    if !(args.penalty.is_finite() && args.penalty >= 0.0) {
        anyhow::bail!("--penalty must be a number ≥ 0, not {}", args.penalty);
    }
    if !(args.holdout > 0.0 && args.holdout < 1.0) {
        anyhow::bail!(
            "--holdout must be a share between 0 and 1, not {}",
            args.holdout
        );
    }
    let mut stages = Vec::new();
    let mut feedback = Vec::new();
    if let Some(dir) = &args.outputs {
        let lifecycle = dir.join("lead-lifecycle.ndjson");
        for (i, line) in super::read_lines(&lifecycle)?.iter().enumerate() {
            stages.push(
                codec::decode_stage(line)
                    .map_err(|e| anyhow::anyhow!("{} line {}: {e}", lifecycle.display(), i + 1))?,
            );
        }
        let path = dir.join("lead-feedback.ndjson");
        if path.exists() {
            feedback =
                std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
        }
    }
    let mut all = events;
    if !feedback.is_empty() {
        all.push(b'\n');
        all.extend_from_slice(&feedback);
    }
    let mut options = SuggestOptions::new(ReplayOptions::new(
        reference_time,
        args.max_future_skew_secs.saturating_mul(1000),
    ));
    options.target = args.outcome;
    options.holdout = match &args.holdout_from {
        Some(t) => Holdout::From(super::parse_time("--holdout-from")(t)?),
        None => Holdout::Fraction(args.holdout),
    };
    options.min_support = args.min_support;
    options.min_outcomes = args.min_outcomes;
    options.penalty = args.penalty;
    options.max_count = args.max_count;
    options.scale = args.scale;
    let origin = args.model.display().to_string();
    let s = suggest::suggest(&origin, &text, &all, &stages, &options)?;
    std::fs::write(&args.out, &s.toml)
        .with_context(|| format!("cannot write {}", args.out.display()))?;
    print!("{}", s.report);
    println!("\ncandidate model written to {}", args.out.display());
    Ok(ExitCode::SUCCESS)
}
