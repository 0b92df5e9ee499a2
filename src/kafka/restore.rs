//! Restore: rebuild the lead state of newly assigned partitions from the
//! changelog before any of their events are scored.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};

use super::status::Status;
use super::PipelineError;
use crate::codec;
use crate::core::{LeadId, LeadMap, LeadState, LeadStore, Rejection, ROUTING_KEY};
use crate::settings::Settings;

/// A lead's latest changelog record while restoring.
#[derive(Default)]
struct Latest {
    offset: i64,
    tombstone: bool,
    payload: Vec<u8>,
}

/// Reads `partitions` of the changelog from the beginning up to the last
/// committed record (read_committed: aborted writes are skipped) and returns
/// each partition's leads. Progress goes to `status` and to the restore
/// metrics as it happens.
pub fn restore(
    settings: &Settings,
    changelog: &str,
    partitions: &[i32],
    status: &Status,
) -> Result<BTreeMap<i32, LeadStore>, PipelineError> {
    let mut stores: BTreeMap<i32, LeadStore> = partitions
        .iter()
        .map(|&p| (p, LeadStore::default()))
        .collect();
    if partitions.is_empty() {
        return Ok(stores);
    }
    let started = Instant::now();
    let _span = tracing::info_span!("restore", ?partitions).entered();
    // Reading the partitions with one consumer per core measured no faster
    // (the broker and librdkafka share the same cores), so one reads all.
    let (latest, records) = read(settings, changelog, partitions, status)?;
    let read_ms = started.elapsed().as_millis() as u64;
    for (p, mut leads) in latest {
        let store = stores.get_mut(&p).expect("one store per partition");
        if let Some(record) = leads.remove(ROUTING_KEY) {
            if !record.tombstone {
                let routing = codec::decode_routing(&record.payload).map_err(|e| {
                    PipelineError::Restore(format!(
                        "`{changelog}` partition {p} offset {}: {e}",
                        record.offset
                    ))
                })?;
                store.restore_routing(routing);
            }
        }
        store.reserve(leads.len());
        // In slices, each freed before the next is decoded, so the records'
        // memory is reused for the states instead of the process growing by
        // both.
        let mut leads = leads.into_iter().filter(|(_, r)| !r.tombstone);
        loop {
            let slice: Vec<(LeadId, Latest)> = leads.by_ref().take(DECODE_SLICE).collect();
            if slice.is_empty() {
                break;
            }
            for (id, state) in decode_all(&slice) {
                let state = state.map_err(|(offset, e)| {
                    PipelineError::Restore(format!(
                        "`{changelog}` partition {p} offset {offset}: {e}"
                    ))
                })?;
                store.restore(id, state);
            }
        }
    }
    let leads: usize = stores.values().map(LeadStore::len).sum();
    tracing::info!(
        ?partitions,
        leads,
        records,
        elapsed_ms = started.elapsed().as_millis() as u64,
        read_ms,
        "restored lead state from changelog"
    );
    crate::telemetry::leads_restored(leads as u64);
    for &p in partitions {
        crate::telemetry::restore_remaining(p, 0);
    }
    Ok(stores)
}

/// Each partition's leads with their latest record, and the records read.
type Read = (BTreeMap<i32, LeadMap<Latest>>, u64);

/// Reads `partitions` of the changelog to their end with one consumer.
fn read(
    settings: &Settings,
    changelog: &str,
    partitions: &[i32],
    status: &Status,
) -> Result<Read, PipelineError> {
    let consumer: BaseConsumer<super::Reader> = super::reader_config(settings)
        .create_with_context(super::Reader)
        .map_err(|e| PipelineError::Client(e.to_string()))?;
    let mut tpl = TopicPartitionList::new();
    let mut pending = BTreeSet::new();
    // Per partition: the end of the changelog and the records read so far.
    let mut progress: BTreeMap<i32, (i64, u64)> = BTreeMap::new();
    for &p in partitions {
        let (low, high) = consumer
            .fetch_watermarks(changelog, p, Duration::from_secs(30))
            .map_err(|e| {
                PipelineError::Restore(format!("watermarks of `{changelog}` [{p}]: {e}"))
            })?;
        crate::telemetry::restore_remaining(p, (high - low).max(0) as u64);
        progress.insert(p, (high, 0));
        if high > low {
            tpl.add_partition_offset(changelog, p, Offset::Beginning)
                .map_err(|e| PipelineError::Restore(e.to_string()))?;
            pending.insert(p);
        }
    }
    if !pending.is_empty() {
        consumer
            .assign(&tpl)
            .map_err(|e| PipelineError::Restore(e.to_string()))?;
    }

    // Each lead's latest record per partition. A changelog not yet
    // compacted holds one record per lead per transaction, and only the
    // last one counts, so states are decoded once per lead, at the end.
    let mut latest: BTreeMap<i32, LeadMap<Latest>> = partitions
        .iter()
        .map(|&p| (p, LeadMap::default()))
        .collect();
    let mut records = 0u64;
    let mut last_log = Instant::now();
    while !pending.is_empty() {
        match consumer.poll(Duration::from_millis(500)) {
            None => {}
            Some(Err(KafkaError::PartitionEOF(p))) => {
                pending.remove(&p);
                crate::telemetry::restore_remaining(p, 0);
            }
            Some(Err(e)) => {
                return Err(PipelineError::Restore(format!(
                    "reading `{changelog}`: {e}"
                )))
            }
            Some(Ok(m)) => {
                records += 1;
                if let Some((high, read)) = progress.get_mut(&m.partition()) {
                    *read += 1;
                    if *read % 1000 == 0 {
                        status.restore_progress(m.partition(), *read);
                        let remaining = (*high - m.offset() - 1).max(0) as u64;
                        crate::telemetry::restore_remaining(m.partition(), remaining);
                        crate::telemetry::restore_records(1000);
                    }
                }
                let key = m
                    .key()
                    .and_then(|k| std::str::from_utf8(k).ok())
                    .ok_or_else(|| {
                        PipelineError::Restore(format!(
                            "`{changelog}` partition {} offset {} has no UTF-8 key",
                            m.partition(),
                            m.offset()
                        ))
                    })?;
                let leads = latest
                    .get_mut(&m.partition())
                    .expect("only assigned partitions are fetched");
                let record = leads.entry_ref(key).or_default();
                record.offset = m.offset();
                record.payload.clear();
                record.tombstone = m.payload().is_none();
                record
                    .payload
                    .extend_from_slice(m.payload().unwrap_or_default());
                if records % 4096 == 0 && last_log.elapsed() > Duration::from_secs(5) {
                    tracing::info!(records, pending = pending.len(), "restoring lead state");
                    last_log = Instant::now();
                }
            }
        }
    }
    // The records not yet counted in steps of 1000.
    crate::telemetry::restore_records(progress.values().map(|(_, read)| read % 1000).sum());
    Ok((latest, records))
}

/// Leads decoded at a time (their records, then their states, in memory).
const DECODE_SLICE: usize = 65_536;

/// A lead's state, or the offset of its record and why it was refused.
type Decoded = Result<LeadState, (i64, Rejection)>;

/// Decodes the leads' latest records on every core: decoding is most of a
/// restore's CPU once the records are read.
fn decode_all(leads: &[(LeadId, Latest)]) -> Vec<(&str, Decoded)> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = leads.len().div_ceil(threads).max(4_096);
    std::thread::scope(|scope| {
        let workers: Vec<_> = leads
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    let mut reader = codec::StateReader::default();
                    part.iter()
                        .map(|(id, r)| {
                            (
                                id.as_str(),
                                reader.read(&r.payload).map_err(|e| (r.offset, e)),
                            )
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().expect("decoding does not panic"))
            .collect()
    })
}
