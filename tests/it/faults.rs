//! Aborted transactions change no output. The service runs in-process on
//! librdkafka's mock cluster, which fails one transaction at each of several
//! points mid-stream; what the service committed must still equal
//! `leadpulse replay` of the same events: every alert once, the same final
//! scores, every dead letter once.
//!
//! The fault: `AddPartitionsToTxn` answered with TOPIC_AUTHORIZATION_FAILED.
//! librdkafka (rdkafka_txnmgr.c, `rd_kafka_txn_handle_AddPartitionsToTxn`)
//! treats that partition-level error as permanent but not fatal and raises
//! it as an *abortable* transaction error: it purges the records waiting in
//! the producer, refuses new ones (the next `send` fails), fails
//! `send_offsets_to_transaction` and `commit_transaction`, and
//! `abort_transaction` recovers the producer. librdkafka's own transaction
//! tests (0105-transactions_mock.c) inject it the same way and expect just
//! that. The service then takes its whole abort path: it aborts, drops the
//! lead state of the partitions the batch changed in place, restores them
//! from the changelog and reads the batch again.
//!
//! Why registration, and not `EndTxn`, `AddOffsetsToTxn` or
//! `TxnOffsetCommit`: the mock cluster accepts transactional requests but
//! keeps no transaction state. It writes no commit or abort markers, reports
//! the log end as the last stable offset and stores no transactional
//! offsets, so a read_committed reader sees every record that reached the
//! log, aborted or not. A transaction failing at commit has already written
//! its outputs and changelog records; on the mock they would read back as
//! committed, and so would the changelog the service restores from. A
//! transaction whose partitions were never registered has written nothing:
//! librdkafka sends a partition's records only once the partition is
//! registered in the open transaction. So each fault is injected while the
//! service is idle (everything produced so far is committed and nothing else
//! is pending) and fails the registrations of the next transaction, which
//! has by then changed lead state in place but written no record. What the
//! mock cannot show, that read_committed hides the records of an aborted
//! transaction, is the broker's part; tests/e2e.rs runs the service against
//! a real broker.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use leadpulse::codec::{self, Format};
use leadpulse::config::Settings;
use leadpulse::core::partitioner::partition_for_key;
use leadpulse::core::{Event, EventKind, Model};
use leadpulse::service::status::{LeadQuery, Status};
use leadpulse::service::{self, RunSummary};
use leadpulse::tools::generate::GeneratorConfig;
use metrics_exporter_prometheus::PrometheusBuilder;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::mocking::MockCluster;
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use rdkafka::types::{RDKafkaApiKey, RDKafkaRespErr};

use crate::support::*;

const PARTITIONS: i32 = 3;
/// The stream is produced in chunks; a fault precedes every chunk but the
/// first, so each abort finds committed state to restore.
const CHUNKS: usize = 4;
const CHUNK_EVENTS: usize = 2_000;
const LEADS: u32 = 500;
/// How long the service may take to commit a chunk before the test fails.
const CHUNK_TIMEOUT: Duration = Duration::from_secs(120);

/// The counters the test reads, as `/metrics` names them.
const ABORTED: &str = "leadpulse_transactions_total{outcome=\"aborted\"}";
const RESTORED_LEADS: &str = "leadpulse_restored_leads_total";

#[test]
fn aborted_transactions_change_no_output() {
    let cluster = MockCluster::new(1).unwrap();
    let d = Deployment::on(
        "faults",
        PARTITIONS,
        Access {
            bootstrap: cluster.bootstrap_servers(),
            properties: Vec::new(),
            service_toml: String::new(),
        },
    );
    let mut settings = Settings::load(
        Some(&d.config("a", "")),
        std::iter::empty::<(String, String)>(),
    )
    .unwrap();
    settings.topics.create_missing = false;
    for what in [
        "events",
        "scores",
        "alerts",
        "dlq",
        "enrichment",
        "feedback",
        "breaches",
        "overdue",
        "lifecycle",
        "handoffs",
        "changelog",
        "watches",
        "watch-alerts",
        "merges",
        "accounts",
        "account-scores",
        "account-alerts",
        "shadow-alerts",
    ] {
        cluster.create_topic(&d.topic(what), PARTITIONS, 1).unwrap();
    }
    let model_text = std::fs::read_to_string(model_path()).unwrap();
    let model = Arc::new(Model::from_toml("examples/model.toml", &model_text).unwrap());

    // The service's metrics go to a recorder of its own thread, rendered
    // as `/metrics` would; its log is kept only to explain a failure.
    let recorder = PrometheusBuilder::new().build_recorder();
    let metrics = recorder.handle();
    let logs = Logs::default();
    let status = Arc::new(Status::default());
    let stop = Arc::new(AtomicBool::new(false));
    let service = {
        let (logs, status, stop) = (logs.clone(), status.clone(), stop.clone());
        thread::Builder::new()
            .name("leadpulse-run".into())
            .spawn(move || {
                let subscriber = tracing_subscriber::fmt()
                    .with_writer(move || logs.clone())
                    .with_ansi(false)
                    .with_max_level(tracing::Level::INFO)
                    .finish();
                ::metrics::with_local_recorder(&recorder, || {
                    tracing::subscriber::with_default(subscriber, || {
                        service::run_with_status(&settings, model, None, None, &stop, status)
                    })
                })
            })
            .unwrap()
    };

    let producer: ThreadedProducer<DefaultProducerContext> = d
        .access
        .client()
        .set("enable.idempotence", "true")
        .set("linger.ms", "5")
        .create()
        .unwrap();
    let events_topic = d.topic("events");
    // More buyers than the default stream: more leads cross the threshold.
    let generated = dataset_from(
        CHUNKS * CHUNK_EVENTS,
        GeneratorConfig {
            hot_fraction: 0.2,
            hot_event_share: 0.5,
            ..generator_config(LEADS, 11)
        },
    );
    let mut input: Vec<InputRecord> = Vec::new();
    // Leads restored from the changelog while each faulted chunk was read.
    let mut restored = Vec::new();
    for (k, chunk) in generated.chunks(CHUNK_EVENTS).enumerate() {
        let restored_before = metric(&metrics.render(), RESTORED_LEADS);
        if k > 0 {
            // The service is idle: the next AddPartitionsToTxn request is
            // the first of the transaction that reads this chunk.
            cluster.request_errors(RDKafkaApiKey::AddPartitionsToTxn, &fault(k));
        }
        // One fence lead per partition closes the chunk: once all of them
        // are committed, so is everything produced before them.
        let fences = fences(k, chunk);
        let records: Vec<InputRecord> = chunk
            .iter()
            .cloned()
            .chain(fences.iter().map(|(_, r)| r.clone()))
            .collect();
        produce_keyed(&producer, &events_topic, &records);
        input.extend(records);
        for (partition, fence) in &fences {
            wait_committed(&status, *partition, &fence.key, &service, &logs);
        }
        let text = metrics.render();
        assert_eq!(
            metric(&text, ABORTED),
            k as f64,
            "after chunk {k}, each injected fault must have aborted exactly one transaction:\n\
             {text}\n{}",
            logs.excerpt()
        );
        if k > 0 {
            restored.push(metric(&text, RESTORED_LEADS) - restored_before);
        }
    }

    stop.store(true, Ordering::Relaxed);
    let summary: RunSummary = service
        .join()
        .expect("the service thread panicked")
        .unwrap_or_else(|e| panic!("the service failed: {e}\n{}", logs.excerpt()));

    // The faults aborted transactions, and each abort rebuilt the changed
    // partitions from committed state (non-empty: earlier chunks were
    // committed before it).
    let faults = (CHUNKS - 1) as u64;
    assert_eq!(
        summary.aborted,
        faults,
        "one abort per fault:\n{}",
        logs.excerpt()
    );
    assert_eq!(
        metric(&metrics.render(), ABORTED),
        faults as f64,
        "the aborted-transactions counter agrees with the run summary"
    );
    assert_eq!(restored.len(), CHUNKS - 1, "{}", logs.excerpt());
    assert!(
        restored.iter().all(|&leads| leads > 0.0),
        "each abort restores committed leads from the changelog: {restored:?}\n{}",
        logs.excerpt()
    );

    // Committed work counts every record once, aborted batches not at all.
    assert_eq!(summary.counts.consumed, input.len() as u64);

    // The committed outputs equal replay's: each alert once, none missing,
    // every dead letter once, every lead's final score.
    let oracle = oracle(&input, d.dir.path());
    assert!(
        oracle.alerts.len() >= 20,
        "the stream must cross the threshold often: {} alerts",
        oracle.alerts.len()
    );
    assert_eq!(summary.counts.alerts, oracle.alerts.len() as u64);
    assert_matches_oracle(&d, &input, &oracle);
    drop(cluster);
}

/// The answers to the `AddPartitionsToTxn` requests of the transaction that
/// reads chunk `k`: refused outright, or first put off with
/// CONCURRENT_TRANSACTIONS, which librdkafka retries every 20 ms while the
/// service goes on reading (its records wait in the producer until their
/// partitions are registered). The later the refusal, the more of the batch
/// is read before the transaction fails, at the next record or at commit.
fn fault(k: usize) -> Vec<RDKafkaRespErr> {
    let put_off = [0, 3, 8][(k - 1) % 3];
    let mut answers = vec![RDKafkaRespErr::RD_KAFKA_RESP_ERR_CONCURRENT_TRANSACTIONS; put_off];
    answers.push(RDKafkaRespErr::RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED);
    answers
}

/// For each partition, a page view by a lead of its own, keyed to
/// that partition, dated at the chunk's last event.
fn fences(chunk_no: usize, chunk: &[InputRecord]) -> Vec<(i32, InputRecord)> {
    let at = chunk
        .iter()
        .rev()
        .find(|r| !r.malformed)
        .map(|r| codec::decode_event(&r.payload, r.content_type.map(str::as_bytes)).unwrap())
        .map(|e| e.occurred_at)
        .expect("a chunk holds events");
    (0..PARTITIONS)
        .map(|partition| {
            let lead_id = (0..)
                .map(|n| format!("fence-{chunk_no}-{partition}-{n}"))
                .find(|id| partition_for_key(id.as_bytes(), PARTITIONS) == partition)
                .unwrap();
            let event = Event {
                event_id: format!("{lead_id}-view"),
                lead_id: lead_id.clone(),
                visitor_id: None,
                occurred_at: at,
                company_domain: None,
                account_id: None,
                kind: EventKind::PageView {
                    url: "https://leadpulse.example/blog".into(),
                    referrer: None,
                    duration_ms: None,
                },
            };
            let json = codec::encode_event(&event, Format::Json);
            let record = InputRecord {
                key: lead_id,
                payload: json.clone(),
                content_type: Some(Format::Json.content_type()),
                ndjson: String::from_utf8(json).unwrap(),
                malformed: false,
            };
            (partition, record)
        })
        .collect()
}

/// Produces `records` in order, each to the partition its key hashes to.
fn produce_keyed(
    producer: &ThreadedProducer<DefaultProducerContext>,
    topic: &str,
    records: &[InputRecord],
) {
    for r in records {
        let mut record = BaseRecord::to(topic)
            .key(&r.key)
            .payload(&r.payload)
            .partition(partition_for_key(r.key.as_bytes(), PARTITIONS));
        if let Some(ct) = r.content_type {
            record = record.headers(OwnedHeaders::new().insert(Header {
                key: "content-type",
                value: Some(ct),
            }));
        }
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((_, back)) => {
                    record = back;
                    thread::sleep(Duration::from_millis(5));
                }
            }
        }
    }
    producer.flush(Duration::from_secs(30)).unwrap();
}

/// Waits until `lead_id` is in the service's committed state. The service
/// answers look-ups only between transactions, from committed state.
fn wait_committed(
    status: &Status,
    partition: i32,
    lead_id: &str,
    service: &thread::JoinHandle<Result<RunSummary, service::PipelineError>>,
    logs: &Logs,
) {
    let deadline = Instant::now() + CHUNK_TIMEOUT;
    loop {
        let (reply, mut answer) = tokio::sync::oneshot::channel();
        status.query(LeadQuery {
            partition,
            lead_id: lead_id.to_owned(),
            reply,
        });
        loop {
            match answer.try_recv() {
                Ok(Some(_)) => return,
                Ok(None) => break,
                Err(tokio::sync::oneshot::error::TryRecvError::Empty) => {}
                Err(e) => panic!("look-up of {lead_id}: {e}"),
            }
            assert!(
                !service.is_finished(),
                "the service stopped while {lead_id} was pending:\n{}",
                logs.excerpt()
            );
            assert!(
                Instant::now() < deadline,
                "{lead_id} not committed within {CHUNK_TIMEOUT:?}:\n{}",
                logs.excerpt()
            );
            thread::sleep(Duration::from_millis(20));
        }
        thread::sleep(Duration::from_millis(50));
    }
}

/// The service's log, captured in memory.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl Logs {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }

    /// The lines worth reading when an assertion fails.
    fn excerpt(&self) -> String {
        self.text()
            .lines()
            .filter(|l| !l.contains(" INFO ") || l.contains("restor") || l.contains("abort"))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
