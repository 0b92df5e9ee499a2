//! Logging setup and the names of every metric leadpulse exports
//! (documented in `docs/metrics.md`). Metrics are recorded only through the
//! functions here, so each name lives in one place: `clippy.toml` forbids
//! the `metrics` macros everywhere else.
#![allow(clippy::disallowed_macros)]

use std::io::Write;

use metrics::{counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::{fmt, EnvFilter};

use crate::config::{LogFormat, LogSettings};
pub use crate::core::tally::{BatchCounts, SalesCounts};

mod redact;
pub use redact::{redact, redact_emails};

/// Installs the global tracing subscriber, writing to stderr. `RUST_LOG`
/// overrides the configured level. Email addresses are redacted from every
/// line, whatever logged them.
pub fn init(log: &LogSettings) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&log.level));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(RedactingStderr);
    let _ = match log.format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

/// A `MakeWriter` that buffers each log line and writes it to stderr with
/// email addresses replaced by `[email]`.
struct RedactingStderr;

impl<'a> MakeWriter<'a> for RedactingStderr {
    type Writer = RedactedLine;
    fn make_writer(&'a self) -> RedactedLine {
        RedactedLine(Vec::with_capacity(256))
    }
}

struct RedactedLine(Vec<u8>);

impl Write for RedactedLine {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for RedactedLine {
    fn drop(&mut self) {
        let line = String::from_utf8_lossy(&self.0);
        let _ = std::io::stderr().lock().write_all(redact(&line).as_bytes());
    }
}

/// Every metric leadpulse exports: (name, type). Tests check that
/// `docs/metrics.md` and the Grafana dashboard use no other name.
pub const METRICS: &[(&str, &str)] = &[
    (EVENTS_CONSUMED, "counter"),
    (EVENTS_SCORED, "counter"),
    (EVENTS_DUPLICATE, "counter"),
    (EVENTS_DEAD_LETTERED, "counter"),
    (ALERTS, "counter"),
    (SCORE_UPDATES, "counter"),
    (TRANSACTIONS, "counter"),
    (TRANSACTION_COMMIT_SECONDS, "histogram"),
    (EVENT_TO_ALERT_SECONDS, "histogram"),
    (LEADS, "gauge"),
    (RESTORED_LEADS, "counter"),
    (RESTORE_RECORDS, "counter"),
    (RESTORE_REMAINING, "gauge"),
    (CONSUMER_LAG, "gauge"),
    (READY, "gauge"),
    (ENRICHMENT_HOLDS, "counter"),
    (MODEL_RELOADS, "counter"),
    (HANDOFFS, "counter"),
    (FIRST_CONTACT_SECONDS, "histogram"),
    (SLA, "counter"),
    (SLA_BREACHES, "counter"),
    (FEEDBACK_OVERDUE, "counter"),
    (STAGE_TRANSITIONS, "counter"),
    (REJECTIONS, "counter"),
    (DEALS, "counter"),
    (DEAL_AMOUNT, "counter"),
    (ADMIN_CONNECTIONS_REFUSED, "counter"),
    (NOTIFY_ATTEMPTS, "counter"),
    (NOTIFY_DELIVERED, "counter"),
    (NOTIFY_FAILURES, "counter"),
    (NOTIFY_DEAD_LETTERED, "counter"),
    (NOTIFY_DELIVERY_SECONDS, "histogram"),
    (NOTIFY_IN_FLIGHT, "gauge"),
    (FEEDBACK_CLICKS, "counter"),
    (FEEDBACK_REFUSED, "counter"),
    (SCHEMA_LOOKUPS, "counter"),
    (SCHEMA_WAITING, "gauge"),
    (ACCOUNT_CONTRIBUTIONS, "counter"),
    (ACCOUNT_SCORE_UPDATES, "counter"),
    (ACCOUNT_ALERTS, "counter"),
    (ACCOUNTS, "gauge"),
    (SHADOW_ALERTS, "counter"),
    (SHADOW_AGREEMENT, "counter"),
];

const EVENTS_CONSUMED: &str = "leadpulse_events_consumed_total";
const ACCOUNT_CONTRIBUTIONS: &str = "leadpulse_account_contributions_consumed_total";
const ACCOUNT_SCORE_UPDATES: &str = "leadpulse_account_score_updates_total";
const ACCOUNT_ALERTS: &str = "leadpulse_account_alerts_total";
const ACCOUNTS: &str = "leadpulse_accounts";
const EVENTS_SCORED: &str = "leadpulse_events_scored_total";
const EVENTS_DUPLICATE: &str = "leadpulse_events_duplicate_total";
const EVENTS_DEAD_LETTERED: &str = "leadpulse_events_dead_lettered_total";
const ALERTS: &str = "leadpulse_alerts_total";
const SCORE_UPDATES: &str = "leadpulse_score_updates_total";
const TRANSACTIONS: &str = "leadpulse_transactions_total";
const TRANSACTION_COMMIT_SECONDS: &str = "leadpulse_transaction_commit_seconds";
const EVENT_TO_ALERT_SECONDS: &str = "leadpulse_event_to_alert_seconds";
const LEADS: &str = "leadpulse_leads";
const RESTORED_LEADS: &str = "leadpulse_restored_leads_total";
const RESTORE_RECORDS: &str = "leadpulse_restore_records_total";
const RESTORE_REMAINING: &str = "leadpulse_restore_remaining_records";
const CONSUMER_LAG: &str = "leadpulse_consumer_lag_records";
const READY: &str = "leadpulse_ready";
const ENRICHMENT_HOLDS: &str = "leadpulse_enrichment_holds_total";
const MODEL_RELOADS: &str = "leadpulse_model_reloads_total";
const HANDOFFS: &str = "leadpulse_handoffs_total";
const FIRST_CONTACT_SECONDS: &str = "leadpulse_time_to_first_contact_seconds";
/// Buckets of the time to first contact: 1 min … 3 days.
const FOLLOW_UP_SECONDS: &[f64] = &[
    60.0, 300.0, 900.0, 1800.0, 3600.0, 7200.0, 14400.0, 28800.0, 86400.0, 259200.0,
];
const SLA: &str = "leadpulse_sla_total";
const SLA_BREACHES: &str = "leadpulse_sla_breaches_total";
const FEEDBACK_OVERDUE: &str = "leadpulse_feedback_overdue_total";
const STAGE_TRANSITIONS: &str = "leadpulse_stage_transitions_total";
const REJECTIONS: &str = "leadpulse_rejections_total";
const DEALS: &str = "leadpulse_deals_total";
const DEAL_AMOUNT: &str = "leadpulse_deal_amount_total";
const ADMIN_CONNECTIONS_REFUSED: &str = "leadpulse_admin_connections_refused_total";
const NOTIFY_ATTEMPTS: &str = "leadpulse_notify_attempts_total";
const NOTIFY_DELIVERED: &str = "leadpulse_notify_delivered_total";
const NOTIFY_FAILURES: &str = "leadpulse_notify_failures_total";
const NOTIFY_DEAD_LETTERED: &str = "leadpulse_notify_dead_lettered_total";
const NOTIFY_DELIVERY_SECONDS: &str = "leadpulse_notify_delivery_seconds";
/// Buckets of record → delivered: retries stretch it to minutes.
const DELIVERY_SECONDS: &[f64] = &[
    0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0,
];
const NOTIFY_IN_FLIGHT: &str = "leadpulse_notify_in_flight_records";
const FEEDBACK_CLICKS: &str = "leadpulse_feedback_clicks_total";
const FEEDBACK_REFUSED: &str = "leadpulse_feedback_refused_total";
const SCHEMA_LOOKUPS: &str = "leadpulse_schema_registry_lookups_total";
const SCHEMA_WAITING: &str = "leadpulse_schema_registry_waiting_partitions";
const SHADOW_ALERTS: &str = "leadpulse_shadow_alerts_total";
const SHADOW_AGREEMENT: &str = "leadpulse_shadow_agreement_total";

/// Installs the Prometheus recorder; the handle renders `/metrics`.
pub fn install_prometheus() -> Result<PrometheusHandle, String> {
    const SECONDS: &[f64] = &[
        0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
    ];
    let handle = PrometheusBuilder::new()
        // Follow-up is minutes to days, not milliseconds.
        .set_buckets_for_metric(
            Matcher::Full(FIRST_CONTACT_SECONDS.into()),
            FOLLOW_UP_SECONDS,
        )
        .map_err(|e| e.to_string())?
        .set_buckets_for_metric(
            Matcher::Full(NOTIFY_DELIVERY_SECONDS.into()),
            DELIVERY_SECONDS,
        )
        .map_err(|e| e.to_string())?
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), SECONDS)
        .map_err(|e| e.to_string())?
        .install_recorder()
        .map_err(|e| format!("cannot install the metrics recorder: {e}"))?;
    describe_counter!(
        EVENTS_CONSUMED,
        "Records read from the events topic (committed)."
    );
    describe_counter!(EVENTS_SCORED, "Events that were scored (committed).");
    describe_counter!(
        ACCOUNT_CONTRIBUTIONS,
        "lead-accounts records applied to their accounts (committed)."
    );
    describe_counter!(
        ACCOUNT_SCORE_UPDATES,
        "Account score records published to account-scores (committed)."
    );
    describe_counter!(
        ACCOUNT_ALERTS,
        "Account alerts published to account-alerts (committed)."
    );
    describe_gauge!(
        ACCOUNTS,
        "Accounts held in committed state on this instance."
    );
    describe_counter!(
        EVENTS_DUPLICATE,
        "Re-sent events (an event_id the lead already had) counted once and not scored again (committed)."
    );
    describe_counter!(
        EVENTS_DEAD_LETTERED,
        "Records sent to the dead-letter topic, by reason."
    );
    describe_counter!(ALERTS, "Hot-lead alerts published (committed).");
    describe_counter!(
        SCORE_UPDATES,
        "Records published on lead-scores (committed)."
    );
    describe_counter!(TRANSACTIONS, "Kafka transactions, by outcome.");
    describe_histogram!(
        TRANSACTION_COMMIT_SECONDS,
        metrics::Unit::Seconds,
        "Time to publish state, send offsets and commit a transaction."
    );
    describe_histogram!(
        EVENT_TO_ALERT_SECONDS,
        metrics::Unit::Seconds,
        "From the Kafka timestamp of the event that crossed the threshold to the commit of its alert."
    );
    describe_gauge!(LEADS, "Leads held in committed state on this instance.");
    describe_counter!(
        SCHEMA_LOOKUPS,
        "Schema ids asked of the schema registry (cache misses), by result."
    );
    describe_gauge!(
        SCHEMA_WAITING,
        "Input partitions paused until the schema registry answers."
    );
    describe_counter!(
        SHADOW_ALERTS,
        "With [[shadow]]: alerts on lead events under each model (committed)."
    );
    describe_counter!(
        SHADOW_AGREEMENT,
        "With [[shadow]]: lead events alerted on by both models, or by one only (committed)."
    );
    describe_counter!(RESTORED_LEADS, "Leads restored from the changelog.");
    describe_counter!(RESTORE_RECORDS, "Changelog records read while restoring.");
    describe_gauge!(
        RESTORE_REMAINING,
        "Changelog records left to restore, per partition."
    );
    describe_gauge!(
        CONSUMER_LAG,
        "Records between the consumer position and the end of the partition."
    );
    describe_gauge!(
        READY,
        "1 when every assigned partition is restored and the instance is ready."
    );
    describe_counter!(
        HANDOFFS,
        "Leads passed to sales (alerts with an owner), by team."
    );
    describe_histogram!(
        FIRST_CONTACT_SECONDS,
        metrics::Unit::Seconds,
        "From handoff to the rep's first contact (or acceptance), in event time."
    );
    describe_counter!(
        SLA,
        "Handoffs whose first-contact SLA was met or breached, by outcome."
    );
    describe_counter!(
        SLA_BREACHES,
        "SLA breach records, including breaches after a reassignment."
    );
    describe_counter!(
        FEEDBACK_OVERDUE,
        "Handoffs neither accepted nor rejected by the feedback deadline."
    );
    describe_counter!(
        STAGE_TRANSITIONS,
        "Lifecycle transitions, by from and to stage."
    );
    describe_counter!(REJECTIONS, "Leads rejected by sales, by reason.");
    describe_counter!(
        DEALS,
        "Deals won or lost, by the rule that qualified the lead."
    );
    describe_counter!(
        DEAL_AMOUNT,
        "Amount of won deals, by the rule that qualified the lead."
    );
    describe_counter!(
        ADMIN_CONNECTIONS_REFUSED,
        "Admin HTTP connections refused because admin.max_connections were open."
    );
    describe_counter!(
        NOTIFY_ATTEMPTS,
        "Notification delivery attempts, by channel, kind and outcome (delivered, retry, refused)."
    );
    describe_counter!(
        NOTIFY_DELIVERED,
        "Notifications delivered, by channel and kind."
    );
    describe_counter!(
        NOTIFY_FAILURES,
        "Notifications given up on (dead-lettered), by channel and reason."
    );
    describe_counter!(
        NOTIFY_DEAD_LETTERED,
        "Records written to notifications-dlq, by reason."
    );
    describe_histogram!(
        NOTIFY_DELIVERY_SECONDS,
        "From the input record's timestamp to its notification delivered, by channel."
    );
    describe_gauge!(NOTIFY_IN_FLIGHT, "Records the notifier is delivering.");
    describe_counter!(
        FEEDBACK_CLICKS,
        "One-click feedback recorded, by action, reason (the roster's vocabulary), channel and repeat."
    );
    describe_counter!(
        FEEDBACK_REFUSED,
        "Feedback requests refused, by why (bad_signature, expired, malformed, unknown_reason)."
    );
    Ok(handle)
}

/// Records the sales-loop figures of a committed transaction. Rejection
/// reasons are free text on the wire; as a label they are the roster's
/// `rejection_reasons` (or the defaults), anything else `other`, so the
/// label set stays bounded.
pub fn sales_committed(s: &SalesCounts, roster: Option<&crate::core::Roster>) {
    for team in &s.handoffs {
        counter!(HANDOFFS, "team" => team.clone()).increment(1);
    }
    for secs in &s.first_contact_secs {
        histogram!(FIRST_CONTACT_SECONDS).record(*secs);
    }
    if s.sla_met > 0 {
        counter!(SLA, "outcome" => "met").increment(s.sla_met);
    }
    if s.sla_breached > 0 {
        counter!(SLA, "outcome" => "breached").increment(s.sla_breached);
    }
    counter!(SLA_BREACHES).increment(s.breaches);
    counter!(FEEDBACK_OVERDUE).increment(s.overdue);
    for (from, to) in &s.transitions {
        counter!(STAGE_TRANSITIONS, "from" => *from, "to" => *to).increment(1);
    }
    for reason in &s.rejections {
        let label = match roster {
            Some(r) => r.reason_label(reason).to_owned(),
            None => {
                let r = reason.trim().replace([' ', '-'], "_").to_lowercase();
                crate::core::DEFAULT_REJECTION_REASONS
                    .iter()
                    .find(|d| **d == r)
                    .map_or("other", |d| d)
                    .to_owned()
            }
        };
        counter!(REJECTIONS, "reason" => label).increment(1);
    }
    for (won, rule, amount) in &s.deals {
        let outcome = if *won { "won" } else { "lost" };
        counter!(DEALS, "outcome" => outcome, "rule" => rule.clone()).increment(1);
        if *won {
            counter!(DEAL_AMOUNT, "rule" => rule.clone()).increment(amount.round() as u64);
        }
    }
}

/// Records a committed transaction. Called only after the commit succeeded,
/// so the counters never include work that was rolled back.
pub fn transaction_committed(counts: &BatchCounts, commit_seconds: f64) {
    counter!(EVENTS_CONSUMED).increment(counts.consumed);
    counter!(EVENTS_SCORED).increment(counts.scored);
    counter!(EVENTS_DUPLICATE).increment(counts.duplicates);
    counter!(ALERTS).increment(counts.alerts);
    counter!(SCORE_UPDATES).increment(counts.score_updates);
    counter!(ENRICHMENT_HOLDS).increment(counts.holds);
    counter!(ACCOUNT_CONTRIBUTIONS).increment(counts.account_contributions);
    counter!(ACCOUNT_SCORE_UPDATES).increment(counts.account_score_updates);
    counter!(ACCOUNT_ALERTS).increment(counts.account_alerts);
    for (reason, n) in &counts.dead_lettered {
        counter!(EVENTS_DEAD_LETTERED, "reason" => *reason).increment(*n);
    }
    counter!(TRANSACTIONS, "outcome" => "committed").increment(1);
    histogram!(TRANSACTION_COMMIT_SECONDS).record(commit_seconds);
}

/// Records an aborted transaction.
pub fn transaction_aborted() {
    counter!(TRANSACTIONS, "outcome" => "aborted").increment(1);
}

/// Records the number of leads held in memory.
pub fn leads_in_state(n: usize) {
    gauge!(LEADS).set(n as f64);
}

/// Records the number of accounts held in memory.
pub fn accounts_in_state(n: usize) {
    gauge!(ACCOUNTS).set(n as f64);
}

/// Records leads restored from the changelog.
pub fn leads_restored(n: u64) {
    counter!(RESTORED_LEADS).increment(n);
}

/// Records the commit of alerts raised by events written at `event_times`
/// (Kafka timestamps, ms): the event → alert latency.
pub fn alerts_committed(event_times: &[i64]) {
    if event_times.is_empty() {
        return;
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    for &t in event_times {
        histogram!(EVENT_TO_ALERT_SECONDS).record((now - t).max(0) as f64 / 1000.0);
    }
}

/// Records the committed comparison of the champion's and the
/// challenger's alerts (`[[shadow]]`).
pub fn shadow_committed(t: &crate::core::ShadowTally) {
    counter!(SHADOW_ALERTS, "model" => "champion").increment(t.champion_alerts);
    counter!(SHADOW_ALERTS, "model" => "challenger").increment(t.challenger_alerts);
    counter!(SHADOW_AGREEMENT, "agreement" => "both").increment(t.both);
    counter!(SHADOW_AGREEMENT, "agreement" => "champion_only").increment(t.champion_only);
    counter!(SHADOW_AGREEMENT, "agreement" => "challenger_only").increment(t.challenger_only);
}

/// Records changelog records read during a restore.
pub fn restore_records(n: u64) {
    counter!(RESTORE_RECORDS).increment(n);
}

/// Records how many changelog records of `partition` are left to restore.
pub fn restore_remaining(partition: i32, records: u64) {
    gauge!(RESTORE_REMAINING, "partition" => partition.to_string()).set(records as f64);
}

/// Records a partition's consumer lag, from librdkafka statistics.
pub fn consumer_lag(topic: &str, partition: i32, lag: i64) {
    gauge!(CONSUMER_LAG, "topic" => topic.to_owned(), "partition" => partition.to_string())
        .set(lag as f64);
}

/// Records readiness (set when `/metrics` or `/readyz` is served).
pub fn ready(ready: bool) {
    gauge!(READY).set(if ready { 1.0 } else { 0.0 });
}

/// Records an admin connection refused at the connection cap.
pub fn admin_connection_refused() {
    counter!(ADMIN_CONNECTIONS_REFUSED).increment(1);
}

/// Records one delivery attempt of `leadpulse notify` and its outcome
/// (`delivered`, `retry` or `refused`).
pub fn notify_attempt(channel: &str, kind: &'static str, outcome: &'static str) {
    counter!(NOTIFY_ATTEMPTS, "channel" => channel.to_owned(), "kind" => kind, "outcome" => outcome)
        .increment(1);
}

/// Records a delivered notification and its latency from the input
/// record's timestamp.
pub fn notify_delivered(channel: &str, kind: &'static str, latency_secs: Option<f64>) {
    counter!(NOTIFY_DELIVERED, "channel" => channel.to_owned(), "kind" => kind).increment(1);
    if let Some(s) = latency_secs {
        histogram!(NOTIFY_DELIVERY_SECONDS, "channel" => channel.to_owned()).record(s);
    }
}

/// Records a notification given up on: `refused`, `retries_exhausted`
/// or `unbuildable`.
pub fn notify_failed(channel: &str, reason: &'static str) {
    counter!(NOTIFY_FAILURES, "channel" => channel.to_owned(), "reason" => reason).increment(1);
}

/// Records a record written to `notifications-dlq`.
pub fn notify_dead_lettered(reason: &str) {
    let reason = match reason {
        "refused" => "refused",
        "retries_exhausted" => "retries_exhausted",
        "unbuildable" => "unbuildable",
        "malformed" => "malformed",
        _ => "other",
    };
    counter!(NOTIFY_DEAD_LETTERED, "reason" => reason).increment(1);
}

/// Records the notifier's records in flight.
pub fn notify_in_flight(n: usize) {
    gauge!(NOTIFY_IN_FLIGHT).set(n as f64);
}

/// Records a one-click feedback. `reason` is already bounded by the
/// roster's vocabulary (`other` otherwise); `repeat` marks a double click.
pub fn feedback_click(action: &'static str, reason: &str, via: &'static str, repeat: bool) {
    let reason = if reason.is_empty() { "none" } else { reason };
    counter!(FEEDBACK_CLICKS, "action" => action, "reason" => reason.to_owned(), "via" => via,
        "repeat" => if repeat { "true" } else { "false" })
    .increment(1);
}

/// Records a refused feedback request: `bad_signature`, `expired`,
/// `malformed` or `unknown_reason`.
pub fn feedback_refused(why: &'static str) {
    counter!(FEEDBACK_REFUSED, "why" => why).increment(1);
}

/// Records a model reload attempt: `true` when the new model took effect.
pub fn model_reload(ok: bool) {
    let outcome = if ok { "loaded" } else { "rejected" };
    counter!(MODEL_RELOADS, "outcome" => outcome).increment(1);
}

/// A schema id asked of the registry: `known`, `unknown` or `unavailable`.
pub fn schema_registry_lookup(result: &'static str) {
    counter!(SCHEMA_LOOKUPS, "result" => result).increment(1);
}

/// How many input partitions wait for the registry.
pub fn schema_registry_waiting(partitions: usize) {
    gauge!(SCHEMA_WAITING).set(partitions as f64);
}
