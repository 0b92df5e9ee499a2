//! Framed inputs: the schema of a record in the Schema Registry wire format
//! is resolved before the record joins the transaction.
//!
//! A known id decodes with its cached verdict, an unknown id goes to the
//! DLQ (`unknown_schema`), an incompatible schema too
//! (`incompatible_schema`). While the registry cannot say, the record's
//! partition waits: it is paused and rewound to that record, and asked
//! again with backoff; the other partitions go on, and nothing is aborted.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::{Offset, TopicPartitionList};

use super::engine::{Consumed, Engine};
use super::rebalance::RebalanceHandler;
use super::registry::Lookup;
use super::PipelineError;
use crate::codec;
use crate::codec::registry::{self as wire, Verdict};
use crate::config::Topic;
use crate::core::{admit, Event, Rejection};

/// The input partitions waiting for the registry.
pub(super) type Holds = BTreeMap<(Topic, i32), Held>;

/// A partition paused at a record whose schema the registry did not give.
pub(super) struct Held {
    offset: i64,
    schema_id: u32,
    retry_at: Instant,
    backoff: Duration,
}

/// What decoding a record needs from the registry.
pub(super) enum Schema {
    /// Not framed (or no registry configured): JSON or protobuf as ever.
    Plain,
    Known(Arc<Verdict>),
    Unknown(u32),
}

const FIRST_RETRY: Duration = Duration::from_millis(200);
const MAX_RETRY: Duration = Duration::from_secs(5);

impl Engine {
    /// The schema `m` needs, or `None` when its partition waits (then `m`
    /// is read again once the registry answers).
    pub(super) fn resolve_schema(
        &mut self,
        consumer: &BaseConsumer<RebalanceHandler>,
        m: &Consumed<'_>,
        source: Topic,
    ) -> Result<Option<Schema>, PipelineError> {
        let key = (source, m.partition());
        if self.held.contains_key(&key) {
            return Ok(None); // fetched before the pause took effect
        }
        let Some(registry) = self.registry.as_mut() else {
            return Ok(Some(Schema::Plain));
        };
        let Some(id) = wire::schema_id(m.payload().unwrap_or_default()) else {
            return Ok(Some(Schema::Plain));
        };
        let why = match registry.lookup(id) {
            Lookup::Known(v) => return Ok(Some(Schema::Known(v))),
            Lookup::Unknown => return Ok(Some(Schema::Unknown(id))),
            Lookup::Unavailable(why) => why,
        };
        tracing::warn!(
            topic = m.topic(),
            partition = m.partition(),
            offset = m.offset(),
            schema_id = id,
            error = %why,
            "the schema registry cannot give this record's schema; its partition waits"
        );
        self.pause(consumer, source, m.partition(), true)?;
        self.held.insert(
            key,
            Held {
                offset: m.offset(),
                schema_id: id,
                retry_at: Instant::now() + FIRST_RETRY,
                backoff: FIRST_RETRY,
            },
        );
        Ok(None)
    }

    /// Asks the registry again for each waiting partition that is due; one
    /// that gets an answer is rewound to its record and resumed.
    pub(super) fn retry_holds(
        &mut self,
        consumer: &BaseConsumer<RebalanceHandler>,
    ) -> Result<(), PipelineError> {
        if self.registry.is_none() {
            return Ok(());
        }
        crate::telemetry::schema_registry_waiting(self.held.len());
        let now = Instant::now();
        let due: Vec<((Topic, i32), u32)> = self
            .held
            .iter()
            .filter(|(_, h)| h.retry_at <= now)
            .map(|(k, h)| (*k, h.schema_id))
            .collect();
        for (key, id) in due {
            let Some(registry) = self.registry.as_mut() else {
                break;
            };
            if let Lookup::Unavailable(why) = registry.lookup(id) {
                if let Some(h) = self.held.get_mut(&key) {
                    h.backoff = (h.backoff * 2).min(MAX_RETRY);
                    h.retry_at = Instant::now() + h.backoff;
                    tracing::debug!(partition = key.1, error = %why, "schema registry still away");
                }
                continue;
            }
            let Some(held) = self.held.remove(&key) else {
                continue;
            };
            let (source, partition) = key;
            let topic = self.topic_of(source).to_owned();
            let timeout = self.txn.timeout();
            let offset = Offset::Offset(held.offset);
            let rewound = if source == Topic::Feedback {
                self.feedback.seek(&topic, partition, offset, timeout)
            } else {
                consumer.seek(&topic, partition, offset, timeout)
            };
            rewound.map_err(|source| PipelineError::Kafka {
                during: "rewind a partition that waited for the schema registry",
                source,
            })?;
            self.pause(consumer, source, partition, false)?;
            tracing::info!(
                topic,
                partition,
                offset = held.offset,
                "the schema registry answers again; the partition goes on"
            );
        }
        Ok(())
    }

    /// After an abort rewinds the inputs, a waiting partition resumes from
    /// the batch's first record, not from the one it waited at.
    pub(super) fn rewind_holds(&mut self, first: &BTreeMap<(Topic, i32), i64>) {
        for (key, &offset) in first {
            if let Some(h) = self.held.get_mut(key) {
                h.offset = h.offset.min(offset);
            }
        }
    }

    fn pause(
        &self,
        consumer: &BaseConsumer<RebalanceHandler>,
        source: Topic,
        partition: i32,
        pause: bool,
    ) -> Result<(), PipelineError> {
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition(self.topic_of(source), partition);
        let done = match (source == Topic::Feedback, pause) {
            (true, true) => self.feedback.pause(&tpl),
            (true, false) => self.feedback.resume(&tpl),
            (false, true) => consumer.pause(&tpl),
            (false, false) => consumer.resume(&tpl),
        };
        done.map_err(|source| PipelineError::Kafka {
            during: "pause or resume a partition waiting for the schema registry",
            source,
        })
    }

    /// Decodes a record (framed ones with their schema's verdict) and
    /// checks its key and event time.
    pub(super) fn decode(&self, m: &Consumed<'_>, schema: Schema) -> Result<Event, Rejection> {
        let payload = m.payload().unwrap_or_default();
        let event = match schema {
            Schema::Plain => {
                let content_type = m.headers().and_then(|h| {
                    h.iter()
                        .find(|h| h.key.eq_ignore_ascii_case("content-type"))
                        .and_then(|h| h.value)
                });
                codec::decode_event(payload, content_type)?
            }
            Schema::Known(verdict) => wire::decode_framed(payload, &verdict)?,
            Schema::Unknown(id) => return Err(Rejection::UnknownSchema(id)),
        };
        if m.key() != Some(event.lead_id.as_bytes()) {
            return Err(Rejection::KeyMismatch);
        }
        if let Some(written) = m.timestamp().to_millis() {
            admit(&event, written, self.max_future_skew)?;
        }
        Ok(event)
    }
}
