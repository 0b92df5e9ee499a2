//! The two ends of `scripts/chaos.sh`: the input it produces while the
//! instances are killed, and the check of what they committed against
//! `leadpulse replay` of the same input.
//!
//! - `chaos-produce` generates a deterministic stream (JSON and protobuf,
//!   every `--malformed-every`th record malformed), writes its replay file
//!   (`events.ndjson`) and the payloads the DLQ must hold
//!   (`dlq-expected.hex`), and produces it at a steady rate with an
//!   idempotent producer whose deliveries outlast a broker bounce, so each
//!   partition holds the records in the file's order, once.
//! - `chaos-check` reads every output topic with read_committed and compares
//!   it with `replay --outputs`: alerts by `alert_id` and content, the final
//!   score of every lead, the final record of every handoff, holds,
//!   lifecycle changes, breaches and overdue notices as multisets, and the
//!   DLQ's payloads. It prints one JSON line and fails on any difference.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::{BaseRecord, DeliveryResult, ProducerContext, ThreadedProducer};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{ClientContext, Offset, TopicPartitionList};
use serde_json::Value;

use leadpulse::codec::{self, Format};
use leadpulse::config::Settings;
use leadpulse::service::{reader_config, TopicNames};
use leadpulse::tools::generate::{malformed, Generator, GeneratorConfig};

/// What `chaos-produce` makes.
pub struct Input {
    pub events: usize,
    pub leads: u32,
    pub seed: u64,
    pub malformed_every: usize,
    /// Events per second.
    pub rate: u32,
}

/// Counts the records the brokers refused for good.
struct Deliveries {
    failed: Arc<AtomicU64>,
}

impl ClientContext for Deliveries {}

impl ProducerContext for Deliveries {
    type DeliveryOpaque = ();
    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        if let Err((e, _)) = result {
            if self.failed.fetch_add(1, Ordering::Relaxed) == 0 {
                eprintln!("chaos-produce: a record was not delivered: {e}");
            }
        }
    }
}

/// Generates, records and produces the chaos input; returns how many
/// records were produced and how many of them are malformed.
pub fn produce(
    settings: &Settings,
    input: &Input,
    dir: &Path,
    stop: &AtomicBool,
) -> anyhow::Result<(u64, u64)> {
    std::fs::create_dir_all(dir)?;
    let mut ndjson = BufWriter::new(std::fs::File::create(dir.join("events.ndjson"))?);
    let mut dlq = BufWriter::new(std::fs::File::create(dir.join("dlq-expected.hex"))?);
    let failed = Arc::new(AtomicU64::new(0));
    let producer: ThreadedProducer<Deliveries> = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", &settings.kafka.bootstrap_servers)
        .set("enable.idempotence", "true")
        .set("partitioner", "murmur2_random")
        .set("linger.ms", "5")
        // Deliveries wait out a broker bounce instead of failing.
        .set("message.timeout.ms", "900000")
        .create_with_context(Deliveries {
            failed: failed.clone(),
        })
        .map_err(|e| anyhow!(leadpulse::service::client_error(&e)))?;
    let mut generator = Generator::new(GeneratorConfig {
        leads: input.leads,
        seed: input.seed,
        hot_fraction: 0.1,
        start: super::now_ms() - 86_400_000,
        mean_gap_ms: 100.0,
        ..GeneratorConfig::default()
    });
    let topic = &settings.topics.events;
    let started = Instant::now();
    let mut bad = 0u64;
    let mut sent = 0u64;
    for i in 0..input.events {
        if stop.load(Ordering::Relaxed) {
            return Err(anyhow!("stopped after {sent} records"));
        }
        if input.rate > 0 {
            let due = Duration::from_secs_f64(i as f64 / f64::from(input.rate));
            if let Some(wait) = due.checked_sub(started.elapsed()) {
                std::thread::sleep(wait);
            }
        }
        let event = generator.next_event();
        let (key, payload, line, content_type) = if (i + 1) % input.malformed_every.max(1) == 0 {
            let (key, payload, line) = malformed(bad, &event.lead_id, event.occurred_at);
            writeln!(dlq, "{}", hex(&payload))?;
            bad += 1;
            (key, payload, line, None)
        } else {
            let format = if i % 2 == 0 {
                Format::Json
            } else {
                Format::Protobuf
            };
            let line = String::from_utf8(codec::encode_event(&event, Format::Json))?;
            (
                event.lead_id.clone(),
                codec::encode_event(&event, format),
                line,
                // Half without a header: the format is sniffed.
                (i % 4 < 2).then(|| format.content_type()),
            )
        };
        writeln!(ndjson, "{line}")?;
        let mut record = BaseRecord::to(topic).key(&key).payload(&payload);
        if let Some(ct) = content_type {
            record = record.headers(OwnedHeaders::new().insert(Header {
                key: "content-type",
                value: Some(ct),
            }));
        }
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    record = back;
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err((e, _)) => return Err(anyhow!("cannot produce record {i}: {e}")),
            }
        }
        sent += 1;
        if sent % 50_000 == 0 {
            eprintln!(
                "chaos-produce: {sent} records in {:.0} s",
                started.elapsed().as_secs_f64()
            );
        }
    }
    ndjson.flush()?;
    dlq.flush()?;
    rdkafka::producer::Producer::flush(&producer, Duration::from_secs(900))
        .context("the last records were not delivered")?;
    let failed = failed.load(Ordering::Relaxed);
    if failed > 0 {
        return Err(anyhow!("{failed} records were not delivered"));
    }
    Ok((sent, bad))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// One committed record of an output topic.
struct Committed {
    payload: Vec<u8>,
    headers: Vec<String>,
}

/// Every committed record of `topic`, each partition in order.
fn read_topic(settings: &Settings, topic: &str) -> anyhow::Result<Vec<Committed>> {
    let consumer: BaseConsumer = reader_config(settings)
        .set(
            "group.id",
            format!("{}-chaos-check", settings.kafka.group_id),
        )
        .create()?;
    let partitions = super::partitions_of(&consumer, topic)?;
    let mut tpl = TopicPartitionList::new();
    let mut pending = std::collections::BTreeSet::new();
    for &p in &partitions {
        let (low, high) = consumer.fetch_watermarks(topic, p, Duration::from_secs(30))?;
        if high > low {
            tpl.add_partition_offset(topic, p, Offset::Beginning)?;
            pending.insert(p);
        }
    }
    let mut out = Vec::new();
    if pending.is_empty() {
        return Ok(out);
    }
    consumer.assign(&tpl)?;
    let deadline = Instant::now() + Duration::from_secs(600);
    while !pending.is_empty() {
        if Instant::now() > deadline {
            return Err(anyhow!("`{topic}` was not read to its end in 600 s"));
        }
        match consumer.poll(Duration::from_millis(500)) {
            None => {}
            Some(Err(KafkaError::PartitionEOF(p))) => {
                pending.remove(&p);
            }
            Some(Err(e)) => return Err(anyhow!("reading `{topic}`: {e}")),
            Some(Ok(m)) => out.push(Committed {
                payload: m.payload().unwrap_or_default().to_vec(),
                headers: m.headers().map_or(Vec::new(), |hs| {
                    hs.iter().map(|h| h.key.to_owned()).collect()
                }),
            }),
        }
    }
    Ok(out)
}

fn json(bytes: &[u8], what: &str) -> anyhow::Result<Value> {
    serde_json::from_slice(bytes).with_context(|| {
        format!(
            "a {what} record is not JSON: {}",
            String::from_utf8_lossy(bytes)
        )
    })
}

fn read_ndjson(path: &Path) -> anyhow::Result<Vec<Value>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| json(l.as_bytes(), &path.display().to_string()))
        .collect()
}

fn field(v: &Value, name: &str) -> String {
    v.get(name)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// Expected against committed, by a key: what is missing, twice, extra,
/// or different.
#[derive(Default, serde::Serialize)]
struct Keyed {
    expected: usize,
    got: usize,
    missing: usize,
    duplicate: usize,
    extra: usize,
    different: usize,
}

impl Keyed {
    fn ok(&self) -> bool {
        self.missing == 0 && self.duplicate == 0 && self.extra == 0 && self.different == 0
    }
}

/// Every record once, equal to replay's (alerts by `alert_id`).
fn once_each(expected: &[Value], got: &[Value], key: &str, examples: &mut Vec<String>) -> Keyed {
    let want: BTreeMap<String, &Value> = expected.iter().map(|v| (field(v, key), v)).collect();
    let mut seen: BTreeMap<String, &Value> = BTreeMap::new();
    let mut k = Keyed {
        expected: want.len(),
        got: got.len(),
        ..Keyed::default()
    };
    for v in got {
        let id = field(v, key);
        if seen.insert(id.clone(), v).is_some() {
            k.duplicate += 1;
            note(examples, format!("{key} {id} committed twice"));
        }
    }
    for (id, w) in &want {
        match seen.get(id) {
            None => {
                k.missing += 1;
                note(examples, format!("{key} {id} missing"));
            }
            Some(g) if g != w => {
                k.different += 1;
                note(examples, format!("{key} {id}: committed {g}, replay {w}"));
            }
            Some(_) => {}
        }
    }
    k.extra = seen.keys().filter(|id| !want.contains_key(*id)).count();
    k
}

/// The last committed record per key equals replay's final one (scores by
/// lead, handoffs by alert).
fn last_each(expected: &[Value], got: &[Value], key: &str, examples: &mut Vec<String>) -> Keyed {
    let want: BTreeMap<String, &Value> = expected.iter().map(|v| (field(v, key), v)).collect();
    let last: BTreeMap<String, &Value> = got.iter().map(|v| (field(v, key), v)).collect();
    let mut k = Keyed {
        expected: want.len(),
        got: last.len(),
        ..Keyed::default()
    };
    for (id, w) in &want {
        match last.get(id) {
            None => {
                k.missing += 1;
                note(examples, format!("{key} {id}: no record"));
            }
            Some(g) if g != w => {
                k.different += 1;
                note(examples, format!("{key} {id}: committed {g}, replay {w}"));
            }
            Some(_) => {}
        }
    }
    k.extra = last.keys().filter(|id| !want.contains_key(*id)).count();
    k
}

/// The same records as replay's, each as often.
fn multiset(expected: &[Value], got: &[Value], what: &str, examples: &mut Vec<String>) -> Keyed {
    let count = |vs: &[Value]| {
        let mut m: BTreeMap<String, i64> = BTreeMap::new();
        for v in vs {
            *m.entry(v.to_string()).or_default() += 1;
        }
        m
    };
    let (want, have) = (count(expected), count(got));
    let mut k = Keyed {
        expected: expected.len(),
        got: got.len(),
        ..Keyed::default()
    };
    for (v, &n) in &want {
        let g = have.get(v).copied().unwrap_or(0);
        if g < n {
            k.missing += (n - g) as usize;
            note(examples, format!("{what} missing: {v}"));
        } else if g > n {
            k.duplicate += (g - n) as usize;
            note(
                examples,
                format!("{what} committed {g} times, replay {n}: {v}"),
            );
        }
    }
    k.extra = have
        .iter()
        .filter(|(v, _)| !want.contains_key(*v))
        .map(|(_, &n)| n as usize)
        .sum();
    k
}

fn note(examples: &mut Vec<String>, s: String) {
    if examples.len() < 20 {
        examples.push(s);
    }
}

/// The comparison `chaos-check` prints.
#[derive(serde::Serialize)]
pub struct Report {
    alerts: Keyed,
    scores: Keyed,
    handoffs: Keyed,
    holds: Keyed,
    lifecycle: Keyed,
    breaches: Keyed,
    overdue: Keyed,
    dlq: Keyed,
    /// DLQ records without the reason and source headers.
    dlq_without_headers: usize,
    examples: Vec<String>,
}

impl Report {
    pub fn ok(&self) -> bool {
        [
            &self.alerts,
            &self.scores,
            &self.handoffs,
            &self.holds,
            &self.lifecycle,
            &self.breaches,
            &self.overdue,
            &self.dlq,
        ]
        .iter()
        .all(|k| k.ok())
            && self.dlq_without_headers == 0
            && self.alerts.expected > 0
    }
}

/// Compares the committed outputs with `replay --outputs <replay>` and the
/// DLQ with `dir/dlq-expected.hex`.
pub fn check(settings: &Settings, dir: &Path, replay: &Path) -> anyhow::Result<Report> {
    let t = TopicNames::from_settings(settings);
    let mut examples = Vec::new();
    let committed = |topic: &str, what: &str| -> anyhow::Result<Vec<Value>> {
        read_topic(settings, topic)?
            .iter()
            .map(|r| json(&r.payload, what))
            .collect()
    };
    let expected = |file: &str| read_ndjson(&replay.join(file));

    let alerts = once_each(
        &expected("hot-lead-alerts.ndjson")?,
        &committed(&t.alerts, "alert")?,
        "alert_id",
        &mut examples,
    );
    let scores = last_each(
        &expected("lead-scores.ndjson")?,
        &committed(&t.scores, "score")?,
        "lead_id",
        &mut examples,
    );
    let handoffs = last_each(
        &expected("lead-handoffs.ndjson")?,
        &committed(&t.handoffs, "handoff")?,
        "alert_id",
        &mut examples,
    );
    let holds = multiset(
        &expected("leads-needing-enrichment.ndjson")?,
        &committed(&t.enrichment, "hold")?,
        "hold",
        &mut examples,
    );
    let lifecycle = multiset(
        &expected("lead-lifecycle.ndjson")?,
        &committed(&t.lifecycle, "stage change")?,
        "stage change",
        &mut examples,
    );
    let breaches = multiset(
        &expected("sla-breaches.ndjson")?,
        &committed(&t.breaches, "breach")?,
        "breach",
        &mut examples,
    );
    let overdue = multiset(
        &expected("feedback-overdue.ndjson")?,
        &committed(&t.overdue, "overdue notice")?,
        "overdue notice",
        &mut examples,
    );

    let dlq_records = read_topic(settings, &t.dlq)?;
    let dlq_without_headers = dlq_records
        .iter()
        .filter(|r| {
            [
                "leadpulse-dlq-reason",
                "leadpulse-source-partition",
                "leadpulse-source-offset",
            ]
            .iter()
            .any(|h| !r.headers.iter().any(|k| k == h))
        })
        .count();
    let want_dlq: Vec<Value> = std::fs::read_to_string(dir.join("dlq-expected.hex"))?
        .lines()
        .map(|l| Value::String(l.to_owned()))
        .collect();
    let got_dlq: Vec<Value> = dlq_records
        .iter()
        .map(|r| Value::String(hex(&r.payload)))
        .collect();
    let dlq = multiset(&want_dlq, &got_dlq, "dead letter", &mut examples);
    Ok(Report {
        alerts,
        scores,
        handoffs,
        holds,
        lifecycle,
        breaches,
        overdue,
        dlq,
        dlq_without_headers,
        examples,
    })
}
