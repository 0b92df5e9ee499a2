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
