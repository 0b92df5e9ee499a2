//! `[topics]` and the topic registry: every topic leadpulse reads or
//! writes, its role, its settings key and its name in one deployment.
//! Config validation, topic creation, the report reader and the docs tests
//! all walk [`Topic::ALL`], so a topic added here is checked everywhere.

use serde::Deserialize;

use super::{Settings, SettingsError};

/// Every topic leadpulse reads or writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Topic {
    /// `topics.events`: engagement events, keyed by lead id.
    Events,
    /// `topics.feedback`: sales feedback, co-partitioned with `events`.
    Feedback,
    /// `topics.scores`: the latest score of each lead.
    Scores,
    /// `topics.alerts`: hot-lead alerts.
    Alerts,
    /// `topics.enrichment`: qualified leads held for missing attributes.
    Enrichment,
    /// `topics.breaches`: missed follow-up deadlines.
    Breaches,
    /// `topics.overdue`: handoffs neither accepted nor rejected in time.
    Overdue,
    /// `topics.lifecycle`: lifecycle stage transitions.
    Lifecycle,
    /// `topics.handoffs`: the state of each handoff, keyed by alert id.
    Handoffs,
    /// `topics.dlq`: records that could not be scored.
    Dlq,
    /// `topics.changelog`: per-lead state, co-partitioned with `events`.
    Changelog,
    /// `topics.notifications_dlq`: notifications `leadpulse notify` could
    /// not deliver, with the reason in headers.
    NotificationsDlq,
    /// `topics.watches`: the reps' watches, a compacted table every
    /// instance reads whole.
    Watches,
    /// `topics.watch_alerts`: activity a rep's watch asked about.
    WatchAlerts,
    /// `topics.merges`: anonymous visitors' links and histories between
    /// the partitions of a visitor and of its lead, co-partitioned with
    /// `events`.
    Merges,
    /// `topics.accounts`: each changed lead score's contribution to its
    /// account, from the lead's partition to the account's, co-partitioned
    /// with `events`.
    Accounts,
    /// `topics.account_scores`: the latest score of each account.
    AccountScores,
    /// `topics.account_alerts`: accounts that became in market.
    AccountAlerts,
    /// `topics.shadow_alerts`: the alerts a challenger model (`[[shadow]]`)
    /// would have raised; never routed, never notified.
    ShadowAlerts,
}

/// What leadpulse does with a topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Consumed by the group consumer.
    Input,
    /// Published in the transaction, for downstream consumers.
    Output,
    /// Lead state: written in the transaction, read back on restore.
    Changelog,
    /// Records that could not be scored or delivered, with the reason in
    /// headers.
    DeadLetter,
    /// A compacted table every instance reads whole, outside the group
    /// (like a Kafka Streams global table); written by the admin edge and
    /// the CLI.
    Table,
    /// Written in the transaction, keyed for the partition that must read
    /// it, and read back by the instance that owns that partition (a Kafka
    /// Streams repartition topic).
    Repartition,
}

/// `cleanup.policy=compact`.
const COMPACT: &[(&str, &str)] = &[("cleanup.policy", "compact")];

/// The changelog gets one record per changed lead per transaction; only
/// closed segments are compacted, so segments close at 64 MiB or an hour
/// and a tenth of superseded records is enough to clean. A restore then
/// reads about one record per lead instead of one per transaction.
const CHANGELOG: &[(&str, &str)] = &[
    ("cleanup.policy", "compact"),
    ("segment.bytes", "67108864"),
    ("segment.ms", "3600000"),
    ("min.cleanable.dirty.ratio", "0.1"),
];

impl Topic {
    /// Every topic, inputs first.
    pub const ALL: [Topic; 19] = [
        Topic::Events,
        Topic::Feedback,
        Topic::Scores,
        Topic::Alerts,
        Topic::Enrichment,
        Topic::Breaches,
        Topic::Overdue,
        Topic::Lifecycle,
        Topic::Handoffs,
        Topic::Dlq,
        Topic::Changelog,
        Topic::NotificationsDlq,
        Topic::Watches,
        Topic::WatchAlerts,
        Topic::Merges,
        Topic::Accounts,
        Topic::AccountScores,
        Topic::AccountAlerts,
        Topic::ShadowAlerts,
    ];

    /// The key under `[topics]`, e.g. `feedback`.
    pub fn field(self) -> &'static str {
        match self {
            Topic::Events => "events",
            Topic::Feedback => "feedback",
            Topic::Scores => "scores",
            Topic::Alerts => "alerts",
            Topic::Enrichment => "enrichment",
            Topic::Breaches => "breaches",
            Topic::Overdue => "overdue",
            Topic::Lifecycle => "lifecycle",
            Topic::Handoffs => "handoffs",
            Topic::Dlq => "dlq",
            Topic::Changelog => "changelog",
            Topic::NotificationsDlq => "notifications_dlq",
            Topic::Watches => "watches",
            Topic::WatchAlerts => "watch_alerts",
            Topic::Merges => "merges",
            Topic::Accounts => "accounts",
            Topic::AccountScores => "account_scores",
            Topic::AccountAlerts => "account_alerts",
            Topic::ShadowAlerts => "shadow_alerts",
        }
    }

    /// The settings key, e.g. `topics.feedback`, as config errors name it.
    pub fn key(self) -> &'static str {
        match self {
            Topic::Events => "topics.events",
            Topic::Feedback => "topics.feedback",
            Topic::Scores => "topics.scores",
            Topic::Alerts => "topics.alerts",
            Topic::Enrichment => "topics.enrichment",
            Topic::Breaches => "topics.breaches",
            Topic::Overdue => "topics.overdue",
            Topic::Lifecycle => "topics.lifecycle",
            Topic::Handoffs => "topics.handoffs",
            Topic::Dlq => "topics.dlq",
            Topic::Changelog => "topics.changelog",
            Topic::NotificationsDlq => "topics.notifications_dlq",
            Topic::Watches => "topics.watches",
            Topic::WatchAlerts => "topics.watch_alerts",
            Topic::Merges => "topics.merges",
            Topic::Accounts => "topics.accounts",
            Topic::AccountScores => "topics.account_scores",
            Topic::AccountAlerts => "topics.account_alerts",
            Topic::ShadowAlerts => "topics.shadow_alerts",
        }
    }

    pub fn role(self) -> Role {
        match self {
            Topic::Events | Topic::Feedback => Role::Input,
            Topic::Dlq | Topic::NotificationsDlq => Role::DeadLetter,
            Topic::Changelog => Role::Changelog,
            Topic::Watches => Role::Table,
            Topic::Merges | Topic::Accounts => Role::Repartition,
            _ => Role::Output,
        }
    }

    /// Keeps only the latest record per key (`cleanup.policy=compact`).
    pub fn compacted(self) -> bool {
        use Topic::*;
        matches!(
            self,
            Scores | Handoffs | Changelog | Watches | AccountScores
        )
    }

    /// Must have as many partitions as `events`: lead state for input
    /// partition N lives in changelog partition N, and a lead's feedback
    /// must reach the instance that holds its state.
    pub fn co_partitioned(self) -> bool {
        matches!(
            self,
            Topic::Feedback | Topic::Changelog | Topic::Merges | Topic::Accounts
        )
    }

    /// Topic configuration leadpulse sets when it creates the topic.
    pub fn creation_config(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Topic::Changelog => CHANGELOG,
            t if t.compacted() => COMPACT,
            _ => &[],
        }
    }

    /// The name when `[topics]` does not set one; the changelog's follows
    /// the consumer group.
    pub fn default_name(self, group_id: &str) -> String {
        match self {
            Topic::Events => "lead-events".into(),
            Topic::Feedback => "lead-feedback".into(),
            Topic::Scores => "lead-scores".into(),
            Topic::Alerts => "hot-lead-alerts".into(),
            Topic::Enrichment => "leads-needing-enrichment".into(),
            Topic::Breaches => "sla-breaches".into(),
            Topic::Overdue => "feedback-overdue".into(),
            Topic::Lifecycle => "lead-lifecycle".into(),
            Topic::Handoffs => "lead-handoffs".into(),
            Topic::Dlq => "lead-events-dlq".into(),
            Topic::Changelog => format!("{group_id}-lead-state-changelog"),
            Topic::NotificationsDlq => "notifications-dlq".into(),
            Topic::Watches => "lead-watches".into(),
            Topic::WatchAlerts => "watch-alerts".into(),
            Topic::Merges => "lead-merges".into(),
            Topic::Accounts => "lead-accounts".into(),
            Topic::AccountScores => "account-scores".into(),
            Topic::AccountAlerts => "account-alerts".into(),
            Topic::ShadowAlerts => "shadow-alerts".into(),
        }
    }

    /// The file `replay --outputs` writes this output to (named after the
    /// default topic name); `None` for topics replay does not write.
    pub fn replay_file(self) -> Option<String> {
        (self.role() == Role::Output).then(|| format!("{}.ndjson", self.default_name("")))
    }
}

/// The resolved topic names of one deployment.
#[derive(Debug, Clone)]
pub struct TopicNames {
    pub events: String,
    pub scores: String,
    pub alerts: String,
    pub dlq: String,
    pub enrichment: String,
    pub feedback: String,
    pub breaches: String,
    pub overdue: String,
    pub lifecycle: String,
    pub handoffs: String,
    pub changelog: String,
    pub notifications_dlq: String,
    pub watches: String,
    pub watch_alerts: String,
    pub merges: String,
    pub accounts: String,
    pub account_scores: String,
    pub account_alerts: String,
    pub shadow_alerts: String,
}

impl TopicNames {
    pub fn from_settings(settings: &Settings) -> Self {
        TopicNames::new(&settings.topics, &settings.kafka.group_id)
    }

    fn new(t: &TopicSettings, group_id: &str) -> Self {
        TopicNames {
            events: t.events.clone(),
            scores: t.scores.clone(),
            alerts: t.alerts.clone(),
            dlq: t.dlq.clone(),
            enrichment: t.enrichment.clone(),
            feedback: t.feedback.clone(),
            breaches: t.breaches.clone(),
            overdue: t.overdue.clone(),
            lifecycle: t.lifecycle.clone(),
            handoffs: t.handoffs.clone(),
            changelog: t.changelog(group_id),
            notifications_dlq: t.notifications_dlq.clone(),
            watches: t.watches.clone(),
            watch_alerts: t.watch_alerts.clone(),
            merges: t.merges.clone(),
            accounts: t.accounts.clone(),
            account_scores: t.account_scores.clone(),
            account_alerts: t.account_alerts.clone(),
            shadow_alerts: t.shadow_alerts.clone(),
        }
    }

    /// The name of `topic` in this deployment.
    pub fn name(&self, topic: Topic) -> &str {
        match topic {
            Topic::Events => &self.events,
            Topic::Feedback => &self.feedback,
            Topic::Scores => &self.scores,
            Topic::Alerts => &self.alerts,
            Topic::Enrichment => &self.enrichment,
            Topic::Breaches => &self.breaches,
            Topic::Overdue => &self.overdue,
            Topic::Lifecycle => &self.lifecycle,
            Topic::Handoffs => &self.handoffs,
            Topic::Dlq => &self.dlq,
            Topic::Changelog => &self.changelog,
            Topic::NotificationsDlq => &self.notifications_dlq,
            Topic::Watches => &self.watches,
            Topic::WatchAlerts => &self.watch_alerts,
            Topic::Merges => &self.merges,
            Topic::Accounts => &self.accounts,
            Topic::AccountScores => &self.account_scores,
            Topic::AccountAlerts => &self.account_alerts,
            Topic::ShadowAlerts => &self.shadow_alerts,
        }
    }

    /// Every topic with its name, in [`Topic::ALL`] order.
    pub fn iter(&self) -> impl Iterator<Item = (Topic, &str)> {
        Topic::ALL.into_iter().map(|t| (t, self.name(t)))
    }

    /// Which topic a record came from, by its topic name (e.g. a consumed
    /// record's `topic()`); `None` for a name this deployment does not use.
    /// Names are distinct once [`Settings::load`] has passed, so the answer
    /// is unique.
    pub fn topic_of(&self, name: &str) -> Option<Topic> {
        self.iter().find(|(_, n)| *n == name).map(|(t, _)| t)
    }
}

/// Most partitions of a created topic, and of `replay --partitions`: above
/// any real deployment's input topic, far below what would exhaust memory.
pub const MAX_PARTITIONS: i32 = 100_000;

/// Kafka keeps a replication factor in 16 bits.
pub const MAX_REPLICATION_FACTOR: i32 = i16::MAX as i32;

/// Kafka's longest topic name.
pub const MAX_TOPIC_NAME_LEN: usize = 249;

/// What Kafka would refuse in a topic name: characters outside
/// `[a-zA-Z0-9._-]`, more than 249 of them, or `.` / `..`.
fn name_problem(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("must not be empty".into());
    }
    if name == "." || name == ".." {
        return Some(format!("`{name}` is not a topic name Kafka accepts"));
    }
    if name.len() > MAX_TOPIC_NAME_LEN {
        return Some(format!(
            "is {} characters long; Kafka allows at most {MAX_TOPIC_NAME_LEN}",
            name.len()
        ));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        return Some(format!(
            "`{name}` holds {c:?}; Kafka topic names are made of ASCII letters, digits, `.`, `_` and `-`"
        ));
    }
    None
}

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
    /// `leadpulse notify`'s dead letters: notifications refused for good or
    /// out of retries, with the reason in headers.
    pub notifications_dlq: String,
    /// Table: compacted reps' watches, key = watch id, read whole by every
    /// instance.
    pub watches: String,
    /// Output: activity a rep's watch asked about.
    pub watch_alerts: String,
    /// Repartition: anonymous visitors' links and histories, co-partitioned
    /// with `events`.
    pub merges: String,
    /// Repartition: leads' contributions to their accounts (the model's
    /// `[account]`), keyed by account, co-partitioned with `events`.
    pub accounts: String,
    /// Output: compacted latest score per account.
    pub account_scores: String,
    /// Output: accounts that became in market.
    pub account_alerts: String,
    /// Output: the alerts of the challenger model (`[[shadow]]`).
    pub shadow_alerts: String,
    /// Create missing topics at startup.
    pub create_missing: bool,
    /// Partitions for a created `events` topic (outputs follow it).
    pub partitions: i32,
    /// Replication factor for created topics; -1 takes the broker default.
    pub replication_factor: i32,
}

impl Default for TopicSettings {
    fn default() -> Self {
        let name = |t: Topic| t.default_name("");
        TopicSettings {
            events: name(Topic::Events),
            scores: name(Topic::Scores),
            alerts: name(Topic::Alerts),
            dlq: name(Topic::Dlq),
            enrichment: name(Topic::Enrichment),
            feedback: name(Topic::Feedback),
            breaches: name(Topic::Breaches),
            overdue: name(Topic::Overdue),
            lifecycle: name(Topic::Lifecycle),
            handoffs: name(Topic::Handoffs),
            changelog: None,
            notifications_dlq: name(Topic::NotificationsDlq),
            watches: name(Topic::Watches),
            watch_alerts: name(Topic::WatchAlerts),
            merges: name(Topic::Merges),
            accounts: name(Topic::Accounts),
            account_scores: name(Topic::AccountScores),
            account_alerts: name(Topic::AccountAlerts),
            shadow_alerts: name(Topic::ShadowAlerts),
            create_missing: true,
            partitions: 6,
            replication_factor: -1,
        }
    }
}

impl TopicSettings {
    /// Names Kafka accepts, one per topic, and creation bounds Kafka accepts.
    /// A shared name would, for instance, feed every event back in as
    /// feedback.
    pub(super) fn check(&self, group_id: &str) -> Result<(), SettingsError> {
        let invalid = |key, message: String| Err(SettingsError::Invalid { key, message });
        if !(1..=MAX_PARTITIONS).contains(&self.partitions) {
            return invalid(
                "topics.partitions",
                format!("must be between 1 and {MAX_PARTITIONS}"),
            );
        }
        let rf = self.replication_factor;
        if rf != -1 && !(1..=MAX_REPLICATION_FACTOR).contains(&rf) {
            return invalid(
                "topics.replication_factor",
                format!(
                    "must be -1 (the broker's default) or between 1 and {MAX_REPLICATION_FACTOR}"
                ),
            );
        }
        let names = TopicNames::new(self, group_id);
        let all: Vec<(Topic, &str)> = names.iter().collect();
        for (i, &(topic, name)) in all.iter().enumerate() {
            if let Some(problem) = name_problem(name) {
                if topic == Topic::Changelog && self.changelog.is_none() {
                    return invalid(
                        "kafka.group_id",
                        format!(
                            "names the changelog topic `{name}`, which Kafka refuses: {problem}; \
                             set topics.changelog or choose another group id"
                        ),
                    );
                }
                return invalid(topic.key(), problem);
            }
            if let Some(&(first, _)) = all[..i].iter().find(|(_, n)| *n == name) {
                return Err(SettingsError::TopicClash {
                    key: topic.key(),
                    other: first.key(),
                    name: name.to_owned(),
                });
            }
            // Kafka refuses a topic whose name differs from another's only in
            // `.` versus `_`: its metric names would be the same.
            let folded = name.replace('.', "_");
            if let Some(&(first, other)) =
                all[..i].iter().find(|(_, n)| n.replace('.', "_") == folded)
            {
                return invalid(
                    topic.key(),
                    format!(
                        "`{name}` and `{}` (`{other}`) differ only in `.` and `_`, \
                         which Kafka does not allow in one cluster",
                        first.key()
                    ),
                );
            }
        }
        Ok(())
    }

    /// The changelog topic name.
    pub fn changelog(&self, group_id: &str) -> String {
        self.changelog
            .clone()
            .unwrap_or_else(|| Topic::Changelog.default_name(group_id))
    }
}

#[cfg(test)]
#[path = "topics_tests.rs"]
mod tests;
