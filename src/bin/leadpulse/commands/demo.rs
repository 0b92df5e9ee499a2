//! `leadpulse demo`: the whole job on an in-process Kafka cluster.

use std::io;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use leadpulse::core::{Model, Roster};
use leadpulse::tools::demo;

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
    /// Model file; defaults to the built-in example model.
    #[arg(long, short)]
    model: Option<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
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

/// The example roster with a 20-second follow-up SLA, so that a short demo
/// shows contacts within the SLA and breaches.
fn demo_roster() -> anyhow::Result<Roster> {
    let mut roster = Roster::from_toml("examples/routing.toml (built in)", super::EXAMPLE_ROUTING)?;
    for team in &mut roster.teams {
        team.sla = 20_000;
    }
    Ok(roster)
}
