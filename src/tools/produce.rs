//! `leadpulse generate --kafka`: the synthetic event stream of
//! [`crate::tools::generate`], produced to the events topic at a steady rate (or as
//! fast as the producer goes, with rate 0). Each event's `occurred_at` is
//! the wall-clock time it is sent, so an alert's `crossed_at` tells when its
//! event entered Kafka: `scripts/bench/e2e.sh` measures event → alert
//! latency from it. The events themselves (leads, types, ids) are the
//! seed's deterministic stream. Used by `docker compose` to feed the
//! service, and for load tests. Records are keyed by `lead_id` and
//! partitioned with murmur2, like the Java client's default partitioner.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};

use crate::codec::{self, Format};
use crate::config::Settings;
use crate::tools::generate::{Generator, GeneratorConfig, ShapeArgs};

/// What to produce.
#[derive(Debug, Clone)]
pub struct ProduceOptions {
    /// Stop after this many events; `None` runs until `stop`.
    pub events: Option<u64>,
    /// Events per second; 0 produces as fast as the producer accepts them.
    pub rate: u32,
    pub leads: u32,
    pub hot_fraction: f64,
    pub seed: u64,
    /// Mix of event types and hot leads' share of the events.
    pub shape: ShapeArgs,
    /// How long to wait for a broker to answer before giving up, and for
    /// the last events to be delivered.
    pub kafka_timeout: Duration,
}

/// Produces generated events to `settings.topics.events` until done or
/// `stop` is set. Returns the number of events produced. When no broker
/// answers within `options.kafka_timeout` it fails at once with one error,
/// before producing anything.
pub fn produce(
    settings: &Settings,
    options: &ProduceOptions,
    stop: &AtomicBool,
) -> Result<u64, String> {
    crate::service::check_reachable(settings, options.kafka_timeout).map_err(|e| e.to_string())?;
    let producer: ThreadedProducer<DefaultProducerContext> = crate::service::client_base(settings)
        .set("enable.idempotence", "true")
        // Short, so event → alert latency measured from `occurred_at`
        // mostly shows the service; at high rates batches fill anyway.
        .set("linger.ms", "5")
        .set("partitioner", "murmur2_random")
        .create()
        .map_err(|e| {
            format!(
                "cannot create the producer: {}",
                crate::service::client_error(&e)
            )
        })?;
    let topic = &settings.topics.events;
    let metadata = producer
        .client()
        .fetch_metadata(Some(topic), options.kafka_timeout)
        .map_err(|e| format!("cannot read the metadata of `{topic}`: {e}"))?;
    if !metadata
        .topics()
        .iter()
        .any(|t| t.name() == topic && t.error().is_none() && !t.partitions().is_empty())
    {
        return Err(format!(
            "topic `{topic}` does not exist on `{}`; create it (compose's kafka-init does), or \
             start `leadpulse run` once, which creates the topics it needs",
            settings.kafka.bootstrap_servers
        ));
    }
    let rate = options.rate;
    let mut generator = Generator::new(options.shape.apply(GeneratorConfig {
        leads: options.leads,
        hot_fraction: options.hot_fraction,
        seed: options.seed,
        start: now_ms(),
        mean_gap_ms: 1000.0 / f64::from(rate.max(1)),
        ..GeneratorConfig::default()
    })?);
    let started = Instant::now();
    let mut sent = 0u64;
    let log_every = if rate == 0 {
        1_000_000
    } else {
        u64::from(rate) * 10
    };
    while !stop.load(Ordering::Relaxed) && options.events.is_none_or(|n| sent < n) {
        // Pace: event n goes out at n / rate seconds.
        if rate > 0 {
            let due = Duration::from_secs_f64(sent as f64 / f64::from(rate));
            if let Some(wait) = due.checked_sub(started.elapsed()) {
                std::thread::sleep(wait.min(Duration::from_millis(100)));
                continue;
            }
        }
        let mut event = generator.next_event();
        event.occurred_at = now_ms();
        let payload = codec::encode_event(&event, Format::Json);
        let mut record = BaseRecord::to(topic)
            .key(event.lead_id.as_bytes())
            .payload(&payload)
            .headers(OwnedHeaders::new().insert(Header {
                key: "content-type",
                value: Some(Format::Json.content_type()),
            }));
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((e, back)) => {
                    tracing::debug!(error = %e, "producer queue full");
                    record = back;
                    std::thread::sleep(Duration::from_millis(5));
                }
            }
        }
        sent += 1;
        if sent % log_every == 0 {
            tracing::info!(sent, "events produced");
        }
    }
    producer.flush(options.kafka_timeout).map_err(|e| {
        format!(
            "the last events were not delivered to `{}` within {} s ({e})",
            settings.kafka.bootstrap_servers,
            options.kafka_timeout.as_secs_f64()
        )
    })?;
    Ok(sent)
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
