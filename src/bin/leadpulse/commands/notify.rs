//! `leadpulse notify`: the role that tells people (docs/notify.md).

use std::path::PathBuf;
use std::process::ExitCode;

use leadpulse::config::Settings;
use leadpulse::telemetry;

#[derive(clap::Args)]
pub struct Args {
    /// Config file (TOML) with a `[notify]` section; `LEADPULSE_SECTION__KEY`
    /// variables override it.
    #[arg(long, short)]
    config: Option<PathBuf>,
}

/// Exit status: 0 after a clean stop, 1 for a bad config, 2 when the
/// notifier cannot go on.
pub fn run(args: Args) -> ExitCode {
    let settings = match Settings::load(args.config.as_deref(), std::env::vars()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("leadpulse: {e}");
            return ExitCode::from(1);
        }
    };
    telemetry::init(&settings.log);
    match serve(&settings) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("leadpulse notify stopped: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn serve(settings: &Settings) -> anyhow::Result<()> {
    if settings.notify.channels.is_empty() {
        tracing::warn!("[notify] has no channel: records are read and committed, nobody is told");
    }
    let roster = settings
        .routing
        .path
        .as_deref()
        .map(super::load_roster)
        .transpose()?;
    let stop = super::stop_flag()?;
    let prometheus = telemetry::install_prometheus().map_err(|e| anyhow::anyhow!(e))?;
    leadpulse::notify::run(settings, roster, stop, Some(prometheus))?;
    Ok(())
}
