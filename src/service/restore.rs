//! Restore: rebuild the lead state of newly assigned partitions from the
//! changelog before any of their events are scored.
//!
//! Two threads in a pipeline: this one reads the changelog and hands the
//! records over in batches; a second decodes them into the partitions'
//! stores, a later record of a lead replacing the state of an earlier one.
//! The partition's anonymous visitors, accounts and shadow leads
//! (`[[shadow]]`) are read with its leads:
//! their keys have prefixes of their own.
//! Reading and decoding then overlap on two cores, and memory holds the
//! states plus a few batches, never every record.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};

use super::status::Status;
use super::PipelineError;
use crate::codec;
use crate::config::Settings;
use crate::core::{
    AccountKey, AccountState, LeadId, LeadStore, PartitionState, Rejection, VisitorLimits,
    VisitorStore, ACCOUNT_KEY_PREFIX, ROUTING_KEY, SHADOW_KEY_PREFIX, VISITOR_KEY_PREFIX,
};

/// Records handed from the reader to the decoder, their payloads in one
/// buffer.
#[derive(Default)]
struct Batch {
    bytes: Vec<u8>,
    records: Vec<Record>,
}

/// A partition's leads, anonymous visitors and accounts, read back.
#[derive(Default)]
pub struct Restored {
    pub leads: LeadStore,
    pub visitors: VisitorStore,
    pub accounts: BTreeMap<AccountKey, AccountState>,
    /// The challenger's lead state (`[[shadow]]`).
    pub shadow: LeadStore,
}

struct Record {
    partition: i32,
    offset: i64,
    key: LeadId,
    /// The payload's range in `Batch::bytes`; `None` for a tombstone.
    payload: Option<std::ops::Range<usize>>,
}

/// Records per batch.
const BATCH_RECORDS: usize = 4_096;
/// Batches in flight between the threads.
const BATCHES_IN_FLIGHT: usize = 4;

/// Reads `partitions` of the changelog from the beginning up to the last
/// committed record (read_committed: aborted writes are skipped) and returns
/// each partition's leads. Progress goes to `status` and to the restore
/// metrics as it happens.
pub fn restore(
    settings: &Settings,
    changelog: &str,
    partitions: &[i32],
    status: &Status,
    limits: &VisitorLimits,
) -> Result<BTreeMap<i32, Restored>, PipelineError> {
    let mut stores: BTreeMap<i32, Restored> = partitions
        .iter()
        .map(|&p| (p, Restored::default()))
        .collect();
    if partitions.is_empty() {
        return Ok(stores);
    }
    let started = Instant::now();
    let _span = tracing::info_span!("restore", ?partitions).entered();
    let (sender, receiver) = std::sync::mpsc::sync_channel::<Batch>(BATCHES_IN_FLIGHT);
    let (read, decoded) = std::thread::scope(|scope| {
        let decoder = scope.spawn(|| decode(receiver, &mut stores, changelog, limits));
        let read = read(settings, changelog, partitions, status, sender);
        (read, decoder.join().expect("decoding does not panic"))
    });
    let (records, read_ms) = read?;
    decoded?;
    let leads: usize = stores.values().map(|r| r.leads.len()).sum();
    let visitors: usize = stores.values().map(|r| r.visitors.len()).sum();
    tracing::info!(
        ?partitions,
        leads,
        visitors,
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

impl super::engine::Engine {
    /// Restores `partitions` from the changelog; returns the number of leads
    /// restored. The caller reports the end to `status`. While the brokers
    /// do not answer (or do not know the changelog's partitions yet, just
    /// after it was created) it tries again, backing off up to 5 s; a
    /// changelog that does not decode stops the service.
    pub(super) fn restore_partitions(
        &mut self,
        partitions: &[i32],
    ) -> Result<usize, PipelineError> {
        self.status.restore_started(partitions);
        let mut backoff = Duration::from_millis(200);
        let stores = loop {
            match restore(
                &self.settings,
                &self.topics.changelog,
                partitions,
                &self.status,
                &self.desk.scorer().model().visitors,
            ) {
                Ok(stores) => break stores,
                Err(PipelineError::Unavailable { during, source }) => {
                    tracing::warn!(error = %source, during, "cannot restore yet; retrying");
                    std::thread::sleep(backoff);
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
                Err(e) => return Err(e),
            }
        };
        let leads = stores.values().map(|r| r.leads.len()).sum();
        for (p, restored) in stores {
            let mut part = PartitionState::new(restored.leads);
            *part.visitors_mut() = restored.visitors;
            self.partitions.insert(p, part);
            let accounts = super::accounts::AccountBook::restored(restored.accounts);
            self.accounts.insert(p, accounts);
            self.shadows.insert(p, restored.shadow);
        }
        Ok(leads)
    }
}

/// Reads `partitions` of the changelog to their end and sends the records
/// to the decoder; returns the number read and the milliseconds it took.
fn read(
    settings: &Settings,
    changelog: &str,
    partitions: &[i32],
    status: &Status,
    decoder: std::sync::mpsc::SyncSender<Batch>,
) -> Result<(u64, u64), PipelineError> {
    let started = Instant::now();
    let consumer: BaseConsumer<super::Reader> = super::reader_config(settings)
        .create_with_context(super::Reader)
        .map_err(|e| PipelineError::Client(super::client_error(&e)))?;
    let mut tpl = TopicPartitionList::new();
    let mut pending = BTreeSet::new();
    // Per partition: the end of the changelog and the records read so far.
    let mut progress: BTreeMap<i32, (i64, u64)> = BTreeMap::new();
    for &p in partitions {
        let (low, high) = consumer
            .fetch_watermarks(changelog, p, Duration::from_secs(30))
            .map_err(|source| PipelineError::Unavailable {
                during: "reading the changelog's watermarks",
                source,
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

    let mut batch = Batch::default();
    let mut records = 0u64;
    let mut last_log = Instant::now();
    while !pending.is_empty() {
        match consumer.poll(Duration::from_millis(500)) {
            None => {}
            Some(Err(KafkaError::PartitionEOF(p))) => {
                pending.remove(&p);
                crate::telemetry::restore_remaining(p, 0);
            }
            Some(Err(source)) => {
                return Err(PipelineError::Unavailable {
                    during: "reading the changelog",
                    source,
                })
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
                let payload = m.payload().map(|payload| {
                    let at = batch.bytes.len();
                    batch.bytes.extend_from_slice(payload);
                    at..batch.bytes.len()
                });
                batch.records.push(Record {
                    partition: m.partition(),
                    offset: m.offset(),
                    key: LeadId::from(key),
                    payload,
                });
                if batch.records.len() >= BATCH_RECORDS {
                    let full = std::mem::take(&mut batch);
                    if decoder.send(full).is_err() {
                        // The decoder stopped on an error; it reports it.
                        break;
                    }
                }
                if records % 4096 == 0 && last_log.elapsed() > Duration::from_secs(5) {
                    tracing::info!(records, pending = pending.len(), "restoring lead state");
                    last_log = Instant::now();
                }
            }
        }
    }
    if !batch.records.is_empty() {
        // An error here means the decoder stopped on one; it reports it.
        let _ = decoder.send(batch);
    }
    // The records not yet counted in steps of 1000.
    crate::telemetry::restore_records(progress.values().map(|(_, read)| read % 1000).sum());
    Ok((records, started.elapsed().as_millis() as u64))
}

/// Decodes the batches into the stores until the reader is done. A record
/// that does not decode fails the restore unless a later record of the same
/// lead replaces it (a compacted changelog would no longer hold it).
fn decode(
    batches: std::sync::mpsc::Receiver<Batch>,
    stores: &mut BTreeMap<i32, Restored>,
    changelog: &str,
    limits: &VisitorLimits,
) -> Result<(), PipelineError> {
    let mut reader = codec::StateReader::default();
    // Keyed by partition too: every partition has its own routing record.
    let mut broken: HashMap<(i32, LeadId), (i64, Rejection)> = HashMap::new();
    for batch in batches {
        for record in batch.records {
            let Record {
                partition: p,
                offset,
                key,
                payload,
            } = record;
            let Restored {
                leads: store,
                visitors,
                accounts,
                shadow,
            } = stores
                .get_mut(&p)
                .expect("only assigned partitions are read");
            let payload = payload.map(|range| &batch.bytes[range]);
            if let Some(visitor_id) = key.strip_prefix(VISITOR_KEY_PREFIX) {
                let decoded = match payload {
                    None => {
                        visitors.forget(visitor_id);
                        Ok(())
                    }
                    Some(bytes) => codec::decode_visitor(bytes)
                        .map(|(_, state)| visitors.restore(visitor_id, state, limits)),
                };
                match decoded {
                    Ok(()) => {
                        broken.remove(&(p, key));
                    }
                    Err(e) => {
                        visitors.forget(visitor_id);
                        broken.insert((p, key), (offset, e));
                    }
                }
                continue;
            }
            if let Some(lead_id) = key.strip_prefix(SHADOW_KEY_PREFIX) {
                let decoded = match payload {
                    None => {
                        shadow.forget(lead_id);
                        Ok(())
                    }
                    Some(bytes) => reader.read(bytes).map(|s| shadow.restore(lead_id, s)),
                };
                match decoded {
                    Ok(()) => broken.remove(&(p, key)),
                    Err(e) => {
                        shadow.forget(lead_id);
                        broken.insert((p, key), (offset, e))
                    }
                };
                continue;
            }
            if let Some(account) = key.strip_prefix(ACCOUNT_KEY_PREFIX) {
                match restore_account(accounts, account, payload) {
                    Ok(()) => {
                        broken.remove(&(p, key));
                    }
                    Err(e) => {
                        broken.insert((p, key), (offset, e));
                    }
                }
                continue;
            }
            let decoded = match (key.as_str() == ROUTING_KEY, payload) {
                (_, None) => {
                    store.forget(&key);
                    Ok(())
                }
                (true, Some(bytes)) => {
                    codec::decode_routing(bytes).map(|r| store.restore_routing(r))
                }
                (false, Some(bytes)) => reader.read(bytes).map(|state| store.restore(&key, state)),
            };
            match decoded {
                Ok(()) => {
                    if !broken.is_empty() {
                        broken.remove(&(p, key));
                    }
                }
                Err(e) => {
                    store.forget(&key);
                    broken.insert((p, key), (offset, e));
                }
            }
        }
    }
    match broken
        .into_iter()
        .min_by_key(|((p, _), (offset, _))| (*p, *offset))
    {
        None => Ok(()),
        Some(((p, _), (offset, e))) => Err(PipelineError::Restore(format!(
            "`{changelog}` partition {p} offset {offset}: {e}"
        ))),
    }
}

/// An account's changelog record, its state or a tombstone, in place of
/// what an earlier one said; one that does not decode leaves it out.
fn restore_account(
    accounts: &mut BTreeMap<AccountKey, AccountState>,
    key: &str,
    payload: Option<&[u8]>,
) -> Result<(), Rejection> {
    let account = AccountKey::parse(key).ok_or(Rejection::KeyMismatch)?;
    accounts.remove(&account);
    let Some(bytes) = payload else {
        return Ok(());
    };
    let (decoded, state) = codec::decode_account_state(bytes)?;
    if decoded != account {
        return Err(Rejection::KeyMismatch);
    }
    accounts.insert(account, state);
    Ok(())
}
