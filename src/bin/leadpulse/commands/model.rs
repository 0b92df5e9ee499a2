//! `leadpulse model check`: validate a model and say what it means.

use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Subcommand)]
pub enum Command {
    /// Validate a model and summarise what it means.
    Check { file: PathBuf },
}

pub fn run(command: Command) -> anyhow::Result<ExitCode> {
    let Command::Check { file } = command;
    match super::load_model(&file) {
        Ok(model) => {
            print!("{}", model.summary());
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("{e:#}");
            Ok(ExitCode::from(1))
        }
    }
}
