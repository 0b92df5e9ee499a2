//! `leadpulse config check`: validate a config file with its environment
//! overrides applied.

use std::path::PathBuf;
use std::process::ExitCode;

use leadpulse::config::Settings;

#[derive(clap::Subcommand)]
pub enum Command {
    /// Validate a config file (with environment overrides applied).
    Check { file: Option<PathBuf> },
}

pub fn run(command: Command) -> anyhow::Result<ExitCode> {
    let Command::Check { file } = command;
    match Settings::load(file.as_deref(), std::env::vars()) {
        Ok(s) => {
            // The roster `run` would load, checked the same way: a bad team,
            // rep or named account is refused here, naming its line. A path
            // of another machine (a container's) is noted, not refused.
            if let Some(path) = &s.routing.path {
                if !path.exists() {
                    eprintln!(
                        "config check: routing file {} is not here; not checked",
                        path.display()
                    );
                } else if let Err(e) = super::load_roster(path) {
                    eprintln!("{e:#}");
                    return Ok(ExitCode::from(1));
                }
            }
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
    }
}
