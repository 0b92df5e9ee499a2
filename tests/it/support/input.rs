//! Input records: generated datasets (JSON, protobuf, malformed) with their
//! replay-file equivalent, and producing them to a topic.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use leadpulse::codec::{self, Format};
use leadpulse::core::{Event, EventKind};
use leadpulse::tools::generate::{malformed, Generator, GeneratorConfig};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use rdkafka::ClientConfig;

use super::broker::{now_ms, Access};

/// One input record and its replay-file equivalent.
#[derive(Clone)]
pub struct InputRecord {
    pub key: String,
    pub payload: Vec<u8>,
    pub content_type: Option<&'static str>,
    pub ndjson: String,
    pub malformed: bool,
}

/// `events` events for `leads` leads, alternating JSON and protobuf (half of
/// them without a content-type header, so the format is sniffed), with every
/// 100th record malformed.
pub fn dataset(events: usize, leads: u32, seed: u64) -> Arc<Vec<InputRecord>> {
    dataset_from(events, generator_config(leads, seed))
}

/// The generator settings of [`dataset`]: events dated from a day ago.
pub fn generator_config(leads: u32, seed: u64) -> GeneratorConfig {
    GeneratorConfig {
        leads,
        seed,
        start: now_ms() - 86_400_000,
        mean_gap_ms: 100.0,
        ..GeneratorConfig::default()
    }
}

/// [`dataset`] from a given generator configuration.
pub fn dataset_from(events: usize, config: GeneratorConfig) -> Arc<Vec<InputRecord>> {
    let mut generator = Generator::new(config);
    (0..events)
        .map(|i| {
            let event = generator.next_event();
            if i % 100 == 99 {
                let (key, payload, line) =
                    malformed(i as u64 / 100, &event.lead_id, event.occurred_at);
                return InputRecord {
                    key,
                    payload,
                    content_type: None,
                    ndjson: line,
                    malformed: true,
                };
            }
            let format = if i % 2 == 0 {
                Format::Json
            } else {
                Format::Protobuf
            };
            InputRecord {
                key: event.lead_id.clone(),
                payload: codec::encode_event(&event, format),
                content_type: (i % 4 < 2).then(|| format.content_type()),
                ndjson: String::from_utf8(codec::encode_event(&event, Format::Json)).unwrap(),
                malformed: false,
            }
        })
        .collect::<Vec<_>>()
        .into()
}

/// Produces records in order (idempotent producer, so order holds per
/// partition), sleeping `pause` between chunks of `chunk`.
pub fn produce(topic: &str, records: &[InputRecord], chunk: usize, pause: Duration) {
    produce_on(&Access::plain().client(), topic, records, chunk, pause)
}

/// [`produce`] with a given client config (e.g. SASL, or
/// `partitioner=murmur2_random`).
pub fn produce_on(
    client: &ClientConfig,
    topic: &str,
    records: &[InputRecord],
    chunk: usize,
    pause: Duration,
) {
    let producer: ThreadedProducer<DefaultProducerContext> = client
        .clone()
        .set("enable.idempotence", "true")
        // Kafka's default (murmur2), as docs/events.md asks of producers, so
        // `replay --partitions` sees the same partitions.
        .set("partitioner", "murmur2_random")
        .set("linger.ms", "5")
        .create()
        .unwrap();
    for (i, r) in records.iter().enumerate() {
        let mut record = BaseRecord::to(topic).key(&r.key).payload(&r.payload);
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
                    std::thread::sleep(Duration::from_millis(5));
                }
            }
        }
        if chunk > 0 && (i + 1) % chunk == 0 {
            producer.flush(Duration::from_secs(30)).unwrap();
            std::thread::sleep(pause);
        }
    }
    producer.flush(Duration::from_secs(30)).unwrap();
}

/// The JSON record of `event`, keyed by its lead (or, anonymous, by its
/// visitor).
pub fn record(event: &Event) -> InputRecord {
    let json = codec::encode_event(event, Format::Json);
    InputRecord {
        key: event.key().to_owned(),
        payload: json.clone(),
        content_type: Some("application/json"),
        ndjson: String::from_utf8(json).unwrap(),
        malformed: false,
    }
}

/// Events that make `lead` sales-ready at `at` under the example model.
pub fn hot_lead(lead: &str, at: i64) -> Vec<InputRecord> {
    let ev = |n: i64, kind: EventKind| Event {
        event_id: format!("{lead}-{n}"),
        lead_id: lead.into(),
        visitor_id: None,
        occurred_at: at - 3 + n,
        company_domain: Some("initech.com".into()),
        account_id: None,
        kind,
    };
    let attributes = [
        ("email", "pat@initech.com"),
        ("job_title", "CTO"),
        ("company_size", "1001-5000"),
        ("country", "US"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    [
        ev(0, EventKind::ProfileUpdate { attributes }),
        ev(
            1,
            EventKind::FormSubmit {
                form_id: "demo-request".into(),
                fields: BTreeMap::new(),
            },
        ),
        ev(
            2,
            EventKind::PageView {
                url: "https://leadpulse.example/pricing".into(),
                referrer: None,
                duration_ms: None,
            },
        ),
    ]
    .iter()
    .map(record)
    .collect()
}
