//! `leadpulse generate --kafka`: the synthetic event stream of
//! [`crate::generate`], produced to the events topic at a steady rate with
//! event times close to now. Used by `docker compose` to feed the service,
//! and handy for load tests. Records are keyed by `lead_id` and partitioned
//! with murmur2, like the Java client's default partitioner.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};

use crate::codec::{self, Format};
use crate::generate::{Generator, GeneratorConfig};
use crate::settings::Settings;

/// What to produce.
#[derive(Debug, Clone)]
pub struct ProduceOptions {
    /// Stop after this many events; `None` runs until `stop`.
    pub events: Option<u64>,
    /// Events per second.
    pub rate: u32,
    pub leads: u32,
    pub hot_fraction: f64,
    pub seed: u64,
}

/// Produces generated events to `settings.topics.events` until done or
/// `stop` is set. Returns the number of events produced.
pub fn produce(
    settings: &Settings,
    options: &ProduceOptions,
    stop: &AtomicBool,
) -> Result<u64, String> {
    let producer: ThreadedProducer<DefaultProducerContext> = crate::kafka::client_base(settings)
        .set("enable.idempotence", "true")
        .set("linger.ms", "20")
        .set("partitioner", "murmur2_random")
        .create()
        .map_err(|e| format!("cannot create the producer: {e}"))?;
    let rate = options.rate.max(1);
    let started_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let mut generator = Generator::new(GeneratorConfig {
        leads: options.leads,
        hot_fraction: options.hot_fraction,
        seed: options.seed,
        start: started_ms,
        mean_gap_ms: 1000.0 / f64::from(rate),
        ..GeneratorConfig::default()
    });
    let topic = &settings.topics.events;
    let started = Instant::now();
    let mut sent = 0u64;
    while !stop.load(Ordering::Relaxed) && options.events.is_none_or(|n| sent < n) {
        // Pace: event n goes out at n / rate seconds.
        let due = Duration::from_secs_f64(sent as f64 / f64::from(rate));
        if let Some(wait) = due.checked_sub(started.elapsed()) {
            std::thread::sleep(wait.min(Duration::from_millis(100)));
            continue;
        }
        let event = generator.next_event();
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
        if sent % (u64::from(rate) * 10) == 0 {
            tracing::info!(sent, "events produced");
        }
    }
    producer
        .flush(Duration::from_secs(30))
        .map_err(|e| format!("flushing: {e}"))?;
    Ok(sent)
}
