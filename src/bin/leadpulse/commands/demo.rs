//! `leadpulse demo`: the whole job on an in-process Kafka cluster.

use std::io;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use leadpulse::core::{Model, Roster};
use leadpulse::tools::demo;
use time::UtcOffset;

#[derive(clap::Args)]
pub struct Args {
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
    /// Follow-up SLA of every team, in seconds (the example roster's hour,
    /// shortened so that a demo shows contacts and breaches).
    #[arg(long, default_value_t = 20.0)]
    sla_secs: f64,
    /// Model file; defaults to the built-in example model.
    #[arg(long, short)]
    model: Option<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    // Before any thread starts: `time` reads the local offset only then.
    let utc_offset = UtcOffset::current_local_offset().unwrap_or(UtcOffset::UTC);
    let model = match args.model {
        Some(p) => super::load_model(&p)?,
        None => Arc::new(Model::from_toml(
            "examples/model.toml (built in)",
            super::EXAMPLE_MODEL,
        )?),
    };
    let stop = super::stop_flag()?;
    let options = demo::DemoOptions {
        duration: Duration::from_secs(args.duration),
        leads: args.leads,
        rate: args.rate,
        seed: args.seed,
        partitions: 3,
        roster: Some(Arc::new(demo_roster(super::seconds(
            "--sla-secs",
            args.sla_secs,
        )?)?)),
        utc_offset,
    };
    let summary = demo::run(model, &options, stop, io::stdout())?;
    print!("{}", render_summary(&summary));
    Ok(ExitCode::SUCCESS)
}

/// The closing summary: every line adds up, from the records produced to
/// what became of each alert.
fn render_summary(summary: &demo::DemoSummary) -> String {
    use std::fmt::Write;
    let c = &summary.service.counts;
    let f = &summary.follow_ups;
    let mut out = String::from("\n== demo summary ==\n");
    let mut line = |label: &str, text: String| {
        let _ = writeln!(out, "{label:<20}{text}");
    };
    line(
        "engagement events",
        format!(
            "{} produced, {} of them malformed on purpose{}",
            summary.produced,
            summary.malformed,
            if summary.malformed > 0 {
                " (dead letters below)"
            } else {
                ""
            }
        ),
    );
    line(
        "feedback events",
        format!(
            "{} sent by the simulated reps (one `contacted` per lead reached, each a click on \
             the notification's one-click link)",
            summary.feedback
        ),
    );
    let i = &summary.inbox;
    line(
        "notifications",
        format!(
            "{} delivered by `leadpulse notify` to the rep's inbox ({} hot leads, {} SLA and \
             feedback notices), signatures checked, {} redeliveries de-duplicated by \
             webhook-id; {} \"Contacted\" clicks recorded",
            i.received,
            i.hot,
            i.received - i.hot,
            i.duplicates,
            i.clicks
        ),
    );
    let sent = summary.produced + summary.feedback;
    let unread = if c.consumed < sent {
        format!(
            " ({} of the {sent} sent were not read before the demo stopped)",
            sent - c.consumed
        )
    } else {
        String::new()
    };
    line(
        "records read",
        format!(
            "{} = {} scored + {} dead-lettered{unread}",
            c.consumed,
            c.scored,
            c.dead_lettered_total()
        ),
    );
    let why_open = match (
        f.open_deadlines,
        summary.stopped_early,
        summary.gave_up_waiting,
    ) {
        (0, _, _) => String::new(),
        (n, true, _) => {
            format!(" (stopped early with Ctrl-C: {n} follow-up deadlines had not passed yet)")
        }
        (n, _, true) => format!(" (the demo stopped waiting for {n} follow-up deadlines)"),
        (n, _, _) => format!(" ({n} follow-up deadlines open)"),
    };
    let shown = summary.alerts_seen.len() as u64;
    let unshown = if shown < c.alerts {
        format!("; {} committed but not shown", c.alerts - shown)
    } else {
        String::new()
    };
    line(
        "hot-lead alerts",
        format!(
            "{shown} = {} contacted within the SLA + {} breached + {} still open{why_open}{unshown}",
            f.contacted, f.breached, f.open
        ),
    );
    let reassigned = if f.reassigned > 0 {
        format!(
            " ({} of the {} handed to another rep, with a fresh deadline)",
            f.reassigned, f.first_breaches
        )
    } else {
        String::new()
    };
    line(
        "SLA breaches",
        format!(
            "{} = {} first deadlines missed + {} missed again after a reassignment{reassigned}",
            f.breach_records,
            f.first_breaches,
            f.breach_records.saturating_sub(f.first_breaches),
        ),
    );
    line("score updates", c.score_updates.to_string());
    line(
        "transactions",
        format!(
            "{} committed, {} aborted",
            summary.service.transactions, summary.service.aborted
        ),
    );
    if c.dead_lettered_total() > 0 {
        let _ = writeln!(
            out,
            "dead letters (injected on purpose: every 200th record is malformed, to show the \
             dead-letter topic `lead-events-dlq`):"
        );
        out.push_str(&super::dead_letter_table(&c.dead_lettered, "  "));
    }
    let mut alerted: Vec<_> = summary.alerts_seen.iter().collect();
    alerted.sort_by(|a, b| b.score.total_cmp(&a.score));
    if !alerted.is_empty() {
        let _ = writeln!(out, "hottest leads (score, company, follow-up):");
        for a in alerted.iter().take(5) {
            let outcome = summary.outcomes.get(&a.alert_id).copied().unwrap_or("-");
            let _ = writeln!(
                out,
                "  {}  {:>6}  {:<20}  {outcome}",
                a.lead_id,
                demo::console::points(a.score),
                a.company_domain.as_deref().unwrap_or("-")
            );
        }
    }
    out
}

/// The example roster with a short follow-up SLA (20 s by default), so that
/// a short demo shows contacts within the SLA and breaches.
fn demo_roster(sla: Duration) -> anyhow::Result<Roster> {
    let origin = "examples/routing.toml (built in)";
    let mut roster = Roster::from_toml(origin, super::EXAMPLE_ROUTING)?;
    super::warn_about(origin, &roster);
    for team in &mut roster.teams {
        team.sla = sla.as_millis() as leadpulse::core::Millis;
    }
    Ok(roster)
}
