//! The reps' watches as a global table: every instance reads the whole
//! compacted `lead-watches` topic with a consumer of its own (assigned
//! every partition, outside the group, `read_committed`), so a company
//! watch sees events on every partition. The service reads the table to
//! its end before it scores anything (like a Kafka Streams global store)
//! and keeps reading it between polls.
//!
//! A record's key is the watch id; a value is the watch (with
//! `deleted_at` once deleted, so it still applies to older events), a
//! tombstone forgets it. The admin edge and `leadpulse watch` write it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Offset, TopicPartitionList};

use super::client::{reader_config, Reader};
use super::PipelineError;
use crate::codec;
use crate::config::Settings;
use crate::core::{Roster, Watch, Watches};

const METADATA_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a start waits for brokers that do not answer (a bounce).
const BROKERS_AWAY: Duration = Duration::from_secs(120);

/// The watch table of one instance.
pub struct WatchTable {
    consumer: BaseConsumer<Reader>,
    topic: String,
    watches: Arc<Watches>,
    /// Records that did not decode, so far (they are skipped).
    pub skipped: u64,
}

impl WatchTable {
    /// Assigns every partition of the watches topic from its start.
    pub fn open(settings: &Settings) -> Result<WatchTable, PipelineError> {
        let topic = settings.topics.watches.clone();
        let consumer: BaseConsumer<Reader> = reader_config(settings)
            .set(
                "group.id",
                format!("{}-watches-reader", settings.kafka.group_id),
            )
            .create_with_context(Reader)
            .map_err(PipelineError::ClientSetup)?;
        // Just after the topic is created the brokers may not list its
        // partitions yet: ask again for a while.
        let started = Instant::now();
        let partitions: Vec<i32> = loop {
            let md = match consumer.fetch_metadata(Some(&topic), METADATA_TIMEOUT) {
                Ok(md) => md,
                // A start during a broker bounce waits for the brokers.
                Err(source) if started.elapsed() < BROKERS_AWAY => {
                    tracing::warn!(error = %source, "cannot read the watches topic's metadata yet; retrying");
                    std::thread::sleep(Duration::from_secs(1));
                    continue;
                }
                Err(source) => {
                    return Err(PipelineError::Unavailable {
                        during: "reading the watches topic's metadata",
                        source,
                    })
                }
            };
            let partitions: Vec<i32> = md
                .topics()
                .iter()
                .filter(|t| t.name() == topic && t.error().is_none())
                .flat_map(|t| t.partitions().iter().map(|p| p.id()))
                .collect();
            if !partitions.is_empty() {
                break partitions;
            }
            if started.elapsed() > Duration::from_secs(30) {
                return Err(PipelineError::Topics(format!(
                    "watches topic `{topic}` (topics.watches) does not exist"
                )));
            }
            std::thread::sleep(Duration::from_millis(200));
        };
        let mut assignment = TopicPartitionList::new();
        for p in &partitions {
            assignment
                .add_partition_offset(&topic, *p, Offset::Beginning)
                .map_err(|source| PipelineError::Kafka {
                    during: "assigning the watches topic",
                    source,
                })?;
        }
        consumer
            .assign(&assignment)
            .map_err(|source| PipelineError::Kafka {
                during: "assigning the watches topic",
                source,
            })?;
        Ok(WatchTable {
            consumer,
            topic,
            watches: Arc::default(),
            skipped: 0,
        })
    }

    /// The watches read so far.
    pub fn watches(&self) -> &Arc<Watches> {
        &self.watches
    }

    /// Reads the table up to the end every partition had when this was
    /// called, so nothing is scored against a table missing an older watch.
    pub fn bootstrap(&mut self, timeout: Duration) -> Result<usize, PipelineError> {
        let started = Instant::now();
        let mut ends = Vec::new();
        for p in self.assigned() {
            let high = loop {
                match self
                    .consumer
                    .fetch_watermarks(&self.topic, p, METADATA_TIMEOUT)
                {
                    Ok((_, high)) => break high,
                    // A broker bounce (say, its partitions have no leader
                    // yet): ask again while the bound allows.
                    Err(source) if started.elapsed() < timeout => {
                        tracing::warn!(error = %source, partition = p, "cannot read the watches topic's end yet; retrying");
                        std::thread::sleep(Duration::from_secs(1));
                    }
                    Err(source) => {
                        return Err(PipelineError::Unavailable {
                            during: "reading the watches topic's end",
                            source,
                        })
                    }
                }
            };
            ends.push((p, high));
        }
        let mut watches = Watches::clone(&self.watches);
        loop {
            let done = ends.iter().all(|&(p, high)| self.position(p) >= high);
            if done {
                break;
            }
            if started.elapsed() > timeout {
                return Err(PipelineError::Fatal(format!(
                    "the watches topic `{}` was not read to its end within {} s",
                    self.topic,
                    timeout.as_secs()
                )));
            }
            if let Some(m) = self.consumer.poll(Duration::from_millis(100)) {
                match m {
                    Ok(m) => apply(&mut watches, &mut self.skipped, &m),
                    Err(KafkaError::PartitionEOF(_)) => {}
                    Err(e) => tracing::warn!(error = %e, "watches topic read error"),
                }
            }
        }
        self.watches = Arc::new(watches);
        Ok(self.watches.len())
    }

    /// Applies what has arrived since, without waiting; true when the
    /// table changed.
    pub fn poll(&mut self) -> bool {
        let mut changed: Option<Watches> = None;
        for _ in 0..1_000 {
            match self.consumer.poll(Duration::ZERO) {
                None => break,
                Some(Ok(m)) => {
                    let watches = changed.get_or_insert_with(|| Watches::clone(&self.watches));
                    apply(watches, &mut self.skipped, &m);
                }
                Some(Err(KafkaError::PartitionEOF(_))) => {}
                Some(Err(e)) => tracing::warn!(error = %e, "watches topic read error"),
            }
        }
        match changed {
            Some(w) => {
                self.watches = Arc::new(w);
                true
            }
            None => false,
        }
    }

    fn assigned(&self) -> Vec<i32> {
        self.consumer
            .assignment()
            .map(|a| a.elements().iter().map(|e| e.partition()).collect())
            .unwrap_or_default()
    }

    fn position(&self, partition: i32) -> i64 {
        self.consumer
            .position()
            .ok()
            .and_then(|tpl| {
                tpl.find_partition(&self.topic, partition)
                    .and_then(|e| e.offset().to_raw())
            })
            .filter(|&o| o >= 0)
            .unwrap_or(0)
    }
}

/// Applies one `lead-watches` record; one that does not decode is
/// skipped (counted and logged with its offset).
fn apply(watches: &mut Watches, skipped: &mut u64, m: &rdkafka::message::BorrowedMessage<'_>) {
    let mut skip = |why: &str| {
        *skipped += 1;
        tracing::warn!(
            partition = m.partition(),
            offset = m.offset(),
            reason = why,
            "watch record skipped"
        );
    };
    let Some(key) = m.key().and_then(|k| std::str::from_utf8(k).ok()) else {
        skip("no UTF-8 key");
        return;
    };
    match m.payload() {
        None => {
            watches.remove(key);
        }
        Some(value) => match codec::decode_watch(value) {
            Ok(w) if *w.id == *key => watches.upsert(w),
            Ok(_) => skip("the key is not the watch_id"),
            Err(e) => skip(&e),
        },
    }
}

/// Every watch on the topic now (for `watch ls` and tests).
pub fn read_watches(settings: &Settings, timeout: Duration) -> Result<Arc<Watches>, PipelineError> {
    let mut table = WatchTable::open(settings)?;
    table.bootstrap(timeout)?;
    Ok(table.watches.clone())
}

/// Checks a new watch against the roster: its rep must be one of it.
pub fn check_rep(watch: &Watch, roster: Option<&Roster>) -> Result<(), String> {
    let Some(roster) = roster else {
        return Err(format!(
            "rep `{}` cannot be checked: no roster is configured (routing.path)",
            watch.rep
        ));
    };
    if roster.team_of_rep(&watch.rep).is_none() {
        return Err(format!("unknown rep `{}`: not in the roster", watch.rep));
    }
    Ok(())
}

/// Writes watch records (`None`: a tombstone) and waits for the brokers
/// to acknowledge them.
pub struct WatchWriter {
    producer: FutureProducer,
    topic: String,
}

impl WatchWriter {
    pub fn new(settings: &Settings) -> Result<WatchWriter, String> {
        let producer: FutureProducer = super::client_base(settings)
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("message.timeout.ms", "30000")
            .create()
            .map_err(|e| format!("cannot create the producer: {}", super::client_error(&e)))?;
        Ok(WatchWriter {
            producer,
            topic: settings.topics.watches.clone(),
        })
    }

    /// Writes the watch (or its deletion, when `deleted_at` is set).
    pub async fn put(&self, watch: &Watch) -> Result<(), String> {
        self.send(&watch.id, Some(&codec::encode_watch(watch)))
            .await
    }

    /// Forgets a watch entirely (compaction drops it).
    pub async fn purge(&self, id: &str) -> Result<(), String> {
        self.send(id, None).await
    }

    async fn send(&self, key: &str, value: Option<&Vec<u8>>) -> Result<(), String> {
        let mut record: FutureRecord<'_, str, Vec<u8>> = FutureRecord::to(&self.topic).key(key);
        if let Some(v) = value {
            record = record.payload(v);
        }
        self.producer
            .send(record, Duration::from_secs(30))
            .await
            .map(|_| ())
            .map_err(|(e, _)| format!("cannot write to `{}`: {e}", self.topic))
    }
}

/// A new watch id: `w-` and 16 hex digits, from the wall clock, the
/// process and a counter (unique enough for ids people create by hand).
pub fn new_watch_id(seed: &[u8]) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let mut buf = seed.to_vec();
    buf.extend(nanos.to_le_bytes());
    buf.extend(std::process::id().to_le_bytes());
    buf.extend(COUNTER.fetch_add(1, Ordering::Relaxed).to_le_bytes());
    format!("w-{:016x}", xxhash_rust::xxh3::xxh3_64(&buf))
}
