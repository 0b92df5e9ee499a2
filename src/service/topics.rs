//! Topic setup at startup: create what is missing, check co-partitioning.

use std::collections::HashMap;
use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::types::RDKafkaErrorCode;

use super::PipelineError;
use crate::config::Settings;

const TIMEOUT: Duration = Duration::from_secs(30);

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
}

impl TopicNames {
    pub fn from_settings(settings: &Settings) -> Self {
        let t = &settings.topics;
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
            changelog: t.changelog(&settings.kafka.group_id),
        }
    }
}

/// Creates missing topics and checks that the changelog has exactly as many
/// partitions as the events topic (state for input partition N lives in
/// changelog partition N). Returns the events topic's partition count.
pub fn ensure_topics(settings: &Settings) -> Result<i32, PipelineError> {
    super::check_connection(settings)?;
    let names = TopicNames::from_settings(settings);
    let admin: AdminClient<DefaultClientContext> = super::client_base(settings)
        .create()
        .map_err(|e| PipelineError::Client(e.to_string()))?;
    let existing = partition_counts(&admin)?;
    let t = &settings.topics;
    let rf = t.replication_factor;

    let events_partitions = match existing.get(&names.events) {
        Some(&n) => n,
        None if t.create_missing => {
            create(&admin, &names.events, t.partitions, rf, &[])?;
            t.partitions
        }
        None => {
            return Err(PipelineError::Topics(format!(
                "input topic `{}` does not exist and topics.create_missing is false",
                names.events
            )))
        }
    };

    let compacted: &[(&str, &str)] = &[("cleanup.policy", "compact")];
    // The changelog gets one record per changed lead per transaction; only
    // closed segments are compacted, so segments close at 64 MiB or an hour
    // and a tenth of superseded records is enough to clean. A restore then
    // reads about one record per lead instead of one per transaction.
    let changelog: &[(&str, &str)] = &[
        ("cleanup.policy", "compact"),
        ("segment.bytes", "67108864"),
        ("segment.ms", "3600000"),
        ("min.cleanable.dirty.ratio", "0.1"),
    ];
    let outputs: [(&String, &[(&str, &str)]); 10] = [
        (&names.changelog, changelog),
        (&names.feedback, &[]),
        (&names.scores, compacted),
        (&names.alerts, &[]),
        (&names.dlq, &[]),
        (&names.enrichment, &[]),
        (&names.breaches, &[]),
        (&names.overdue, &[]),
        (&names.lifecycle, &[]),
        (&names.handoffs, compacted),
    ];
    for (name, config) in outputs {
        match existing.get(name) {
            Some(&n) if *name == names.changelog && n != events_partitions => {
                return Err(PipelineError::Topics(format!(
                    "changelog topic `{name}` has {n} partitions but input topic `{}` has {events_partitions}; \
                     they must match because lead state is co-partitioned with the input. \
                     Delete the changelog (state is then rebuilt only from new events) or use a new group id",
                    names.events
                )))
            }
            Some(&n) if *name == names.feedback && n != events_partitions => {
                return Err(PipelineError::Topics(format!(
                    "feedback topic `{name}` has {n} partitions but events topic `{}` has {events_partitions}; \
                     they must match (and use the same partitioner) so that a lead's feedback reaches \
                     the instance that holds its state",
                    names.events
                )))
            }
            Some(_) => {}
            None if t.create_missing => create(&admin, name, events_partitions, rf, config)?,
            None => {
                return Err(PipelineError::Topics(format!(
                    "topic `{name}` does not exist and topics.create_missing is false"
                )))
            }
        }
    }
    Ok(events_partitions)
}

fn partition_counts(
    admin: &AdminClient<DefaultClientContext>,
) -> Result<HashMap<String, i32>, PipelineError> {
    let md = admin
        .inner()
        .fetch_metadata(None, TIMEOUT)
        .map_err(|e| PipelineError::Topics(format!("cannot read cluster metadata: {e}")))?;
    Ok(md
        .topics()
        .iter()
        .filter(|t| t.error().is_none())
        .map(|t| (t.name().to_owned(), t.partitions().len() as i32))
        .collect())
}

fn create(
    admin: &AdminClient<DefaultClientContext>,
    name: &str,
    partitions: i32,
    replication: i32,
    config: &[(&str, &str)],
) -> Result<(), PipelineError> {
    let mut topic = NewTopic::new(name, partitions, TopicReplication::Fixed(replication));
    for (k, v) in config {
        topic = topic.set(k, v);
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| PipelineError::Topics(e.to_string()))?;
    let opts = AdminOptions::new().operation_timeout(Some(TIMEOUT));
    let results = rt
        .block_on(admin.create_topics([&topic], &opts))
        .map_err(|e| PipelineError::Topics(format!("cannot create topic `{name}`: {e}")))?;
    for r in results {
        match r {
            Ok(_) => tracing::info!(topic = name, partitions, "created topic"),
            Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((_, code)) => {
                return Err(PipelineError::Topics(format!(
                    "cannot create topic `{name}`: {code}"
                )))
            }
        }
    }
    Ok(())
}
