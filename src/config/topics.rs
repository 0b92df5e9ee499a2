//! `[topics]`: the names of the topics leadpulse reads and writes, and how
//! missing ones are created.

use serde::Deserialize;

/// Topic names and how missing topics are created.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TopicSettings {
    /// Input: engagement events, keyed by lead_id.
    pub events: String,
    /// Output: compacted latest score per lead.
    pub scores: String,
    /// Output: hot-lead alerts.
    pub alerts: String,
    /// Output: events that could not be scored, with the reason in headers.
    pub dlq: String,
    /// Output: qualified leads waiting for required attributes.
    pub enrichment: String,
    /// Input: sales feedback, keyed by lead_id, co-partitioned with `events`.
    pub feedback: String,
    /// Output: follow-up SLA breaches.
    pub breaches: String,
    /// Output: handoffs neither accepted nor rejected in time.
    pub overdue: String,
    /// Output: lifecycle stage transitions.
    pub lifecycle: String,
    /// Output: compacted state of each handoff, keyed by alert id.
    pub handoffs: String,
    /// Internal: compacted per-lead state, co-partitioned with `events`.
    /// Defaults to `<group_id>-lead-state-changelog`.
    pub changelog: Option<String>,
    /// Create missing topics at startup.
    pub create_missing: bool,
    /// Partitions for a created `events` topic (outputs follow it).
    pub partitions: i32,
    /// Replication factor for created topics; -1 takes the broker default.
    pub replication_factor: i32,
}

impl Default for TopicSettings {
    fn default() -> Self {
        TopicSettings {
            events: "lead-events".into(),
            scores: "lead-scores".into(),
            alerts: "hot-lead-alerts".into(),
            dlq: "lead-events-dlq".into(),
            enrichment: "leads-needing-enrichment".into(),
            feedback: "lead-feedback".into(),
            breaches: "sla-breaches".into(),
            overdue: "feedback-overdue".into(),
            lifecycle: "lead-lifecycle".into(),
            handoffs: "lead-handoffs".into(),
            changelog: None,
            create_missing: true,
            partitions: 6,
            replication_factor: -1,
        }
    }
}

impl TopicSettings {
    /// The changelog topic name.
    pub fn changelog(&self, group_id: &str) -> String {
        self.changelog
            .clone()
            .unwrap_or_else(|| format!("{group_id}-lead-state-changelog"))
    }
}
