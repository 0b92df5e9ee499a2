//! `leadpulse replay`: the same scoring over a file, the oracle for `run`;
//! with `--report`, the backtest.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;

use leadpulse::codec::{self, parse_rfc3339, Format};
use leadpulse::config::MAX_PARTITIONS;
use leadpulse::core::{AccountScorer, LeadScore, Model, Scorer, Shadow};
use leadpulse::offline::{backtest, replay};

#[derive(clap::Args)]
pub struct Args {
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
    /// reproduced (routing balance is kept per partition); at most
    /// 100000, as for `topics.partitions`.
    #[arg(long, default_value_t = 1,
          value_parser = clap::value_parser!(i32).range(1..=i64::from(MAX_PARTITIONS)))]
    partitions: i32,
    /// After the last event, fire timers due up to this time (RFC 3339).
    #[arg(long)]
    until: Option<String>,
    /// Also write every output as NDJSON into this folder, one file per
    /// topic (hot-lead-alerts, lead-scores, leads-needing-enrichment,
    /// sla-breaches, feedback-overdue, lead-lifecycle, lead-handoffs,
    /// watch-alerts; with the model's `[account]`, account-scores and
    /// account-alerts too; with `--shadow`, shadow-alerts).
    #[arg(long)]
    outputs: Option<PathBuf>,
    /// The reps' watches to match events against: NDJSON (one
    /// `lead-watches` record per line, as `watch ls --ndjson` prints) or
    /// TOML (`[[watch]]` tables), by extension. Their alerts go to
    /// `--outputs DIR/watch-alerts.ndjson` and `--watch-alerts`.
    #[arg(long)]
    watches: Option<PathBuf>,
    /// Also write every watch alert as NDJSON to this file.
    #[arg(long, requires = "watches")]
    watch_alerts: Option<PathBuf>,
    /// A challenger model scored in shadow on the same lead events, as
    /// `[[shadow]]` in `run`; its alerts go to `--outputs
    /// DIR/shadow-alerts.ndjson`. The champion's outputs are unchanged.
    #[arg(long, conflicts_with = "report")]
    shadow: Option<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let model = super::load_model(&args.model)?;
    let reference_time = match args.reference_time {
        Some(t) => parse_rfc3339(&t).map_err(|e| anyhow::anyhow!("--reference-time: {e}"))?,
        None => super::now_ms(),
    };
    let mut options = replay::ReplayOptions::new(
        reference_time,
        args.max_future_skew_secs.saturating_mul(1000),
    );
    options.roster = args
        .routing
        .as_deref()
        .map(super::load_roster)
        .transpose()?;
    options.partitions = args.partitions;
    if let Some(path) = &args.watches {
        options.watches = Arc::new(super::watch::load_file(path, options.roster.as_deref())?);
    }
    options.shadow = match &args.shadow {
        Some(path) => Some(Shadow::new(super::load_model(path)?)),
        None => None,
    };
    options.until = args
        .until
        .map(|t| parse_rfc3339(&t).map_err(|e| anyhow::anyhow!("--until: {e}")))
        .transpose()?;
    let input: Box<dyn io::BufRead> = match args.events.as_deref() {
        None => Box::new(io::stdin().lock()),
        Some(p) if p == Path::new("-") => Box::new(io::stdin().lock()),
        Some(p) => Box::new(BufReader::new(
            File::open(p).with_context(|| format!("cannot open {}", p.display()))?,
        )),
    };
    if args.report {
        return backtest_report(model, input, &options, args.compare.as_deref());
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
    let account_scores = AccountScorer::new(model.clone()).map(|a| outcome.account_scores(&a));
    let final_scores = outcome.scores(&Scorer::new(model));
    if let Some(path) = args.scores {
        super::write_ndjson(
            &path,
            final_scores
                .iter()
                .map(|s| codec::encode_score(s, Format::Json)),
        )?;
    }
    if let Some(path) = &args.watch_alerts {
        super::write_ndjson(
            path,
            outcome.watch_alerts.iter().map(codec::encode_watch_alert),
        )?;
    }
    if let Some(dir) = args.outputs {
        write_outputs(&dir, &outcome, &final_scores, account_scores.as_deref())?;
        if options.shadow.is_some() {
            super::write_ndjson(
                &dir.join("shadow-alerts.ndjson"),
                outcome
                    .shadow_alerts
                    .iter()
                    .map(|a| codec::encode_alert(a, Format::Json)),
            )?;
        }
    }
    let c = &outcome.counts;
    eprintln!(
        "replay: {} events, {} scored, {} re-sent, {} leads, {} alerts, {} dead-lettered; \
         {} SLA breaches, {} overdue feedback, {} stage changes, {} watch alerts{}{}",
        c.consumed,
        c.scored,
        c.duplicates,
        outcome.leads.len(),
        c.alerts,
        c.dead_lettered_total(),
        outcome.breaches.len(),
        outcome.overdue.len(),
        outcome.stages.len(),
        outcome.watch_alerts.len(),
        match account_scores {
            Some(a) => format!(
                "; {} accounts, {} account alerts",
                a.len(),
                outcome.account_alerts.len()
            ),
            None => String::new(),
        },
        match &options.shadow {
            Some(_) => {
                let t = &outcome.shadow;
                format!(
                    "; shadow: {} challenger alerts, {} on the same event as the champion's, \
                     {} champion only, {} challenger only",
                    outcome.shadow_alerts.len(),
                    t.both,
                    t.champion_only,
                    t.challenger_only
                )
            }
            None => String::new(),
        }
    );
    if c.dead_lettered_total() > 0 {
        eprint!(
            "dead-lettered by reason (the lines above say which):\n{}",
            super::dead_letter_table(&c.dead_lettered, "  ")
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `replay --outputs DIR`: one NDJSON file per output topic, as `run`
/// would publish them (scores and handoffs: the final record of each).
fn write_outputs(
    dir: &Path,
    outcome: &replay::ReplayOutcome,
    scores: &[LeadScore],
    account_scores: Option<&[leadpulse::core::AccountScore]>,
) -> anyhow::Result<()> {
    use super::write_ndjson;
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
    write_ndjson(
        &dir.join("watch-alerts.ndjson"),
        outcome.watch_alerts.iter().map(codec::encode_watch_alert),
    )?;
    // Only with the model's [account]: without it the folder is as before.
    if let Some(account_scores) = account_scores {
        write_ndjson(
            &dir.join("account-scores.ndjson"),
            account_scores
                .iter()
                .map(|s| codec::encode_account_score(s, j)),
        )?;
        write_ndjson(
            &dir.join("account-alerts.ndjson"),
            outcome
                .account_alerts
                .iter()
                .map(|a| codec::encode_account_alert(a, j)),
        )?;
    }
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
        Some(p) => Some(run(super::load_model(p)?)?),
        None => None,
    };
    print!("{}", backtest::render(&a, b.as_ref()));
    Ok(ExitCode::SUCCESS)
}
