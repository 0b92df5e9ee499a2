//! Topic setup at startup: create what is missing, check co-partitioning.

use std::collections::HashMap;
use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::types::RDKafkaErrorCode;

use super::PipelineError;
pub use crate::config::TopicNames;
use crate::config::{Settings, Topic};

const TIMEOUT: Duration = Duration::from_secs(30);

/// Creates missing topics and checks that every co-partitioned topic
/// ([`Topic::co_partitioned`]: the changelog and feedback) has exactly as
/// many partitions as the events topic. Returns the events topic's
/// partition count.
pub fn ensure_topics(settings: &Settings) -> Result<i32, PipelineError> {
    super::check_connection(settings)?;
    let names = TopicNames::from_settings(settings);
    let admin: AdminClient<DefaultClientContext> = super::client_base(settings)
        .create()
        .map_err(|e| PipelineError::Client(super::client_error(&e)))?;
    let existing = partition_counts(&admin)?;
    let t = &settings.topics;
    let rf = t.replication_factor;

    let events_partitions = match existing.get(&names.events) {
        Some(&n) => n,
        None if t.create_missing => {
            create(
                &admin,
                &names.events,
                t.partitions,
                rf,
                Topic::Events.creation_config(),
            )?;
            t.partitions
        }
        None => {
            return Err(PipelineError::Topics(format!(
                "input topic `{}` does not exist and topics.create_missing is false",
                names.events
            )))
        }
    };

    // `leadpulse notify` owns its dead-letter topic and creates it itself.
    let scoring = |t: Topic| t != Topic::Events && t != Topic::NotificationsDlq;
    for (topic, name) in names.iter().filter(|(t, _)| scoring(*t)) {
        match existing.get(name) {
            Some(&n) if topic.co_partitioned() && n != events_partitions => {
                return Err(PipelineError::Topics(mismatch(
                    topic,
                    name,
                    n,
                    &names.events,
                    events_partitions,
                )))
            }
            Some(_) => {}
            None if t.create_missing => {
                create(&admin, name, events_partitions, rf, topic.creation_config())?
            }
            None => {
                return Err(PipelineError::Topics(format!(
                    "topic `{name}` ({}) does not exist and topics.create_missing is false",
                    topic.key()
                )))
            }
        }
    }
    Ok(events_partitions)
}

/// Why a co-partitioned topic with another partition count cannot be used.
fn mismatch(topic: Topic, name: &str, n: i32, events: &str, events_partitions: i32) -> String {
    match topic {
        Topic::Changelog => format!(
            "changelog topic `{name}` has {n} partitions but input topic `{events}` has {events_partitions}; \
             they must match because lead state is co-partitioned with the input. \
             Delete the changelog (state is then rebuilt only from new events) or use a new group id"
        ),
        _ => format!(
            "{} topic `{name}` has {n} partitions but events topic `{events}` has {events_partitions}; \
             they must match (and use the same partitioner) so that a lead's feedback reaches \
             the instance that holds its state",
            topic.field()
        ),
    }
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
