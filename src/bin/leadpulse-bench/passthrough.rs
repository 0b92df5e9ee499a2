//! The I/O floor for benchmarks: what the Kafka clients alone can move on
//! this broker, with the service's transaction shape and no scoring.
//!
//! It consumes the events topic with the service's consumer settings and,
//! in one transaction per commit interval, writes for every lead seen in the
//! interval one record to the changelog (to the input's partition) and one
//! to the scores topic, each carrying the lead's latest event bytes, then
//! commits the consumer offsets with the group's metadata. That is the
//! service's output pattern (one changelog and one score record per changed
//! lead per transaction) with decoding, scoring and encoding left out.
//! `scripts/bench/e2e.sh` reports the service's throughput as a ratio of
//! this one, measured in the same run.
//!
//! A benchmark tool, not a service: one instance per group, and any Kafka
//! error stops it.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{Offset, TopicPartitionList};

use leadpulse::config::Settings;
use leadpulse::service::{
    consumer_config, ensure_topics, producer_config, wait_delivered, TopicNames,
};

const TXN_TIMEOUT: Duration = Duration::from_secs(30);

/// What a pass-through run moved, counting committed transactions only.
#[derive(Debug, Clone, Default)]
pub struct PassthroughSummary {
    pub consumed: u64,
    pub produced: u64,
    pub transactions: u64,
}

/// The open transaction: per lead, its partition and latest event bytes.
#[derive(Default)]
struct Batch {
    started: Option<Instant>,
    next: BTreeMap<i32, i64>,
    consumed: u64,
    latest: HashMap<Vec<u8>, (i32, Vec<u8>)>,
}

/// Runs until `stop` is set, then commits the open transaction and returns.
pub fn run(settings: &Settings, stop: &AtomicBool) -> Result<PassthroughSummary, String> {
    ensure_topics(settings).map_err(|e| e.to_string())?;
    let topics = TopicNames::from_settings(settings);
    let producer: ThreadedProducer<DefaultProducerContext> = producer_config(settings)
        .create()
        .map_err(|e| format!("producer: {e}"))?;
    producer
        .init_transactions(TXN_TIMEOUT)
        .map_err(|e| format!("init_transactions: {e}"))?;
    let consumer: BaseConsumer = consumer_config(settings)
        .create()
        .map_err(|e| format!("consumer: {e}"))?;
    consumer
        .subscribe(&[&topics.events])
        .map_err(|e| format!("subscribe: {e}"))?;

    let interval = Duration::from_millis(settings.pipeline.commit_interval_ms);
    let mut batch = Batch::default();
    let mut summary = PassthroughSummary::default();
    while !stop.load(Ordering::Relaxed) {
        let wait = batch.started.map_or(Duration::from_millis(100), |t| {
            interval.saturating_sub(t.elapsed())
        });
        match consumer.poll(wait) {
            Some(Ok(m)) => {
                if batch.started.is_none() {
                    producer
                        .begin_transaction()
                        .map_err(|e| format!("begin_transaction: {e}"))?;
                    batch.started = Some(Instant::now());
                }
                batch.next.insert(m.partition(), m.offset() + 1);
                batch.consumed += 1;
                let key = m.key().unwrap_or_default();
                let payload = m.payload().unwrap_or_default();
                match batch.latest.get_mut(key) {
                    Some(latest) => {
                        latest.0 = m.partition();
                        latest.1.clear();
                        latest.1.extend_from_slice(payload);
                    }
                    None => {
                        batch
                            .latest
                            .insert(key.to_vec(), (m.partition(), payload.to_vec()));
                    }
                }
            }
            Some(Err(e)) => tracing::warn!(error = %e, "consumer error"),
            None => {}
        }
        if batch.started.is_some_and(|t| t.elapsed() >= interval) {
            commit(&producer, &consumer, &topics, &mut batch, &mut summary)?;
        }
    }
    commit(&producer, &consumer, &topics, &mut batch, &mut summary)?;
    Ok(summary)
}

fn commit(
    producer: &ThreadedProducer<DefaultProducerContext>,
    consumer: &BaseConsumer,
    topics: &TopicNames,
    batch: &mut Batch,
    summary: &mut PassthroughSummary,
) -> Result<(), String> {
    if batch.started.is_none() {
        return Ok(());
    }
    let b = std::mem::take(batch);
    for (key, (partition, payload)) in &b.latest {
        send(
            producer,
            BaseRecord::to(&topics.changelog)
                .partition(*partition)
                .key(key.as_slice())
                .payload(payload.as_slice()),
        )?;
        send(
            producer,
            BaseRecord::to(&topics.scores)
                .key(key.as_slice())
                .payload(payload.as_slice()),
        )?;
    }
    let mut offsets = TopicPartitionList::new();
    for (&p, &next) in &b.next {
        offsets
            .add_partition_offset(&topics.events, p, Offset::Offset(next))
            .map_err(|e| e.to_string())?;
    }
    let group = consumer
        .group_metadata()
        .ok_or("no consumer group metadata")?;
    producer
        .send_offsets_to_transaction(&offsets, &group, TXN_TIMEOUT)
        .map_err(|e| format!("send_offsets_to_transaction: {e}"))?;
    // As the service does: without it every commit stalls ~100 ms (see
    // `kafka::wait_delivered`).
    wait_delivered(producer, TXN_TIMEOUT);
    producer
        .commit_transaction(TXN_TIMEOUT)
        .map_err(|e| format!("commit_transaction: {e}"))?;
    summary.consumed += b.consumed;
    summary.produced += 2 * b.latest.len() as u64;
    summary.transactions += 1;
    Ok(())
}

fn send(
    producer: &ThreadedProducer<DefaultProducerContext>,
    mut record: BaseRecord<'_, [u8], [u8]>,
) -> Result<(), String> {
    loop {
        match producer.send(record) {
            Ok(()) => return Ok(()),
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                record = r;
                std::thread::sleep(Duration::from_millis(1));
            }
            Err((e, _)) => return Err(format!("produce: {e}")),
        }
    }
}
