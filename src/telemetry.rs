//! Logging setup and the names of every metric leadpulse exports
//! (documented in `docs/metrics.md`). Metrics are recorded only through the
//! functions here, so each name lives in one place.

use metrics::{counter, gauge, histogram};
use tracing_subscriber::{fmt, EnvFilter};

use crate::settings::{LogFormat, LogSettings};

/// Installs the global tracing subscriber, writing to stderr. `RUST_LOG`
/// overrides the configured level.
pub fn init(log: &LogSettings) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&log.level));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr);
    let _ = match log.format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

/// Counts of one committed transaction.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchCounts {
    /// Records read from the events topic.
    pub consumed: u64,
    /// Events that were scored.
    pub scored: u64,
    /// Hot-lead alerts published.
    pub alerts: u64,
    /// Records sent to the dead-letter topic, by reason code.
    pub dead_lettered: Vec<(&'static str, u64)>,
    /// Score records published.
    pub score_updates: u64,
    /// Leads held for enrichment.
    pub holds: u64,
}

impl BatchCounts {
    /// Counts one rejection with the given reason code.
    pub fn dead_letter(&mut self, reason: &'static str) {
        match self.dead_lettered.iter_mut().find(|(r, _)| *r == reason) {
            Some((_, n)) => *n += 1,
            None => self.dead_lettered.push((reason, 1)),
        }
    }

    /// Total records sent to the dead-letter topic.
    pub fn dead_lettered_total(&self) -> u64 {
        self.dead_lettered.iter().map(|(_, n)| n).sum()
    }

    /// Adds another batch's counts.
    pub fn add(&mut self, other: &BatchCounts) {
        self.consumed += other.consumed;
        self.scored += other.scored;
        self.alerts += other.alerts;
        self.score_updates += other.score_updates;
        self.holds += other.holds;
        for (r, n) in &other.dead_lettered {
            for _ in 0..*n {
                self.dead_letter(r);
            }
        }
    }
}

/// Records a committed transaction. Called only after the commit succeeded,
/// so the counters never include work that was rolled back.
pub fn transaction_committed(counts: &BatchCounts, commit_seconds: f64) {
    counter!("leadpulse_events_consumed_total").increment(counts.consumed);
    counter!("leadpulse_events_scored_total").increment(counts.scored);
    counter!("leadpulse_alerts_total").increment(counts.alerts);
    counter!("leadpulse_score_updates_total").increment(counts.score_updates);
    counter!("leadpulse_enrichment_holds_total").increment(counts.holds);
    for (reason, n) in &counts.dead_lettered {
        counter!("leadpulse_events_dead_lettered_total", "reason" => *reason).increment(*n);
    }
    counter!("leadpulse_transactions_total", "outcome" => "committed").increment(1);
    histogram!("leadpulse_transaction_commit_seconds").record(commit_seconds);
}

/// Records an aborted transaction.
pub fn transaction_aborted() {
    counter!("leadpulse_transactions_total", "outcome" => "aborted").increment(1);
}

/// Records the number of leads held in memory.
pub fn leads_in_state(n: usize) {
    gauge!("leadpulse_leads").set(n as f64);
}

/// Records leads restored from the changelog.
pub fn leads_restored(n: u64) {
    counter!("leadpulse_restored_leads_total").increment(n);
}

/// Records a model reload attempt: `true` when the new model took effect.
pub fn model_reload(ok: bool) {
    let outcome = if ok { "loaded" } else { "rejected" };
    counter!("leadpulse_model_reloads_total", "outcome" => outcome).increment(1);
}
