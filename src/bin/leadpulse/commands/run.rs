//! `leadpulse run`: the service.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

use leadpulse::config::Settings;
use leadpulse::service::{self, admin, status::Status};
use leadpulse::telemetry;

#[derive(clap::Args)]
pub struct Args {
    /// Config file (TOML); `LEADPULSE_SECTION__KEY` variables override it.
    #[arg(long, short)]
    config: Option<PathBuf>,
    /// Model file; overrides `model.path`.
    #[arg(long, short)]
    model: Option<PathBuf>,
}

/// Exit status: 0 after a clean stop, 1 for a bad config, 2 when the
/// service cannot go on (a bad model, a fatal or fenced Kafka error).
pub fn run(args: Args) -> ExitCode {
    let settings = match Settings::load(args.config.as_deref(), std::env::vars()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("leadpulse: {e}");
            return ExitCode::from(1);
        }
    };
    telemetry::init(&settings.log);
    match serve(&settings, args.model) {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("leadpulse stopped: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn serve(settings: &Settings, model: Option<PathBuf>) -> anyhow::Result<service::RunSummary> {
    let path = model.unwrap_or_else(|| settings.model.path.clone());
    let current = super::load_model(&path)?;
    let watcher = (settings.model.reload_interval_ms > 0).then(|| {
        service::ModelWatcher::new(
            path,
            Duration::from_millis(settings.model.reload_interval_ms),
        )
    });
    let stop = super::stop_flag()?;
    let status = Arc::new(Status::default());
    let roster = settings
        .routing
        .path
        .as_deref()
        .map(super::load_roster)
        .transpose()?;
    if settings.admin.enabled {
        let prometheus = telemetry::install_prometheus().map_err(|e| anyhow::anyhow!(e))?;
        admin::spawn_with_roster(settings, status.clone(), prometheus, roster.clone())
            .with_context(|| format!("admin HTTP cannot listen on {}", settings.admin.listen))?;
    }
    shutdown_deadline(
        stop.clone(),
        status.clone(),
        Duration::from_secs(settings.shutdown.grace_period_secs),
    );
    Ok(service::run_with_status(
        settings, current, roster, watcher, &stop, status,
    )?)
}

/// Bounds a shutdown: once `stop` is set, the process exits after `grace`
/// even if the loop is still busy (connecting, restoring, committing). An
/// open transaction left behind is aborted by the broker or fenced by the
/// next instance, so nothing is lost or duplicated; its events are scored
/// again by the partition's next owner.
fn shutdown_deadline(stop: Arc<AtomicBool>, status: Arc<Status>, grace: Duration) {
    std::thread::spawn(move || {
        while !stop.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(50));
        }
        status.set_stopping();
        tracing::info!(
            grace_period_secs = grace.as_secs(),
            "stop requested: finishing the open transaction and leaving the group"
        );
        std::thread::sleep(grace);
        tracing::warn!(
            grace_period_secs = grace.as_secs(),
            "grace period expired before a clean stop; exiting now (the open transaction, \
             if any, is aborted and its events are scored again by the next owner)"
        );
        std::process::exit(0);
    });
}
