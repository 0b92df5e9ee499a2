//! librdkafka client configuration.

use rdkafka::error::KafkaError;
use rdkafka::ClientConfig;

use crate::config::Settings;

/// A Kafka client error as text fit for a log. rust-rdkafka's own text of
/// a configuration error repeats the property's value, which may be a
/// secret (a misspelt `sasl.password`, say); this names the property only.
/// `config check` refuses such properties already; this is the last guard.
pub fn client_error(e: &KafkaError) -> String {
    match e {
        KafkaError::ClientConfig(_, _, key, _) => format!(
            "librdkafka refuses the configuration property `{key}` (its value is not shown)"
        ),
        other => other.to_string(),
    }
}

/// Properties every client shares: bootstrap, client id, `[kafka.security]`,
/// `[kafka.properties]`. The result holds secrets: never log it.
pub(crate) fn client_base(settings: &Settings) -> ClientConfig {
    let k = &settings.kafka;
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", &k.bootstrap_servers)
        .set("client.id", format!("leadpulse-{}", k.instance_id()));
    for (key, value) in k.security.properties() {
        c.set(key, value);
    }
    for (key, value) in &k.properties {
        c.set(key, value);
    }
    c
}

/// The group consumer: read_committed, cooperative-sticky, offsets committed
/// only through the producer's transactions.
pub fn consumer_config(settings: &Settings) -> ClientConfig {
    let mut c = client_base(settings);
    c.set("group.id", &settings.kafka.group_id)
        .set("isolation.level", "read_committed")
        .set("partition.assignment.strategy", "cooperative-sticky")
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        // Statistics feed the per-partition consumer lag metric and the
        // last stable offsets that tell when a partition is caught up.
        .set("statistics.interval.ms", "1000");
    for (key, value) in &settings.kafka.consumer {
        c.set(key, value);
    }
    c
}

/// The transactional producer for all outputs.
pub fn producer_config(settings: &Settings) -> ClientConfig {
    let mut c = client_base(settings);
    let txn_timeout = settings.pipeline.transaction_timeout_ms;
    c.set("transactional.id", settings.kafka.transactional_id())
        .set("enable.idempotence", "true")
        .set("transaction.timeout.ms", txn_timeout.to_string())
        // Under exactly-once, delivery must give up before the transaction does.
        .set("message.timeout.ms", (txn_timeout - 500).to_string())
        // Outputs are read only once their transaction commits, and the
        // commit flushes whatever lingers: waiting longer costs no latency
        // and gives the broker fewer, larger batches.
        .set("linger.ms", "50")
        .set("compression.type", "lz4");
    for (key, value) in &settings.kafka.producer {
        c.set(key, value);
    }
    c
}

/// A plain consumer for reading topics from the start (restore, tooling).
pub fn reader_config(settings: &Settings) -> ClientConfig {
    let mut c = client_base(settings);
    // librdkafka wants a group id even for assign(); this one never joins
    // the group nor commits.
    c.set("group.id", format!("{}-reader", settings.kafka.group_id))
        .set("isolation.level", "read_committed")
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "true")
        .set("auto.offset.reset", "earliest")
        .set("fetch.max.bytes", "104857600")
        .set("max.partition.fetch.bytes", "16777216");
    c
}

/// Context of the readers that stop at the end of a partition (restore,
/// reports): reaching the end is how they know they are done, not an error,
/// yet librdkafka also reports it as a client error. Everything else is
/// logged as rust-rdkafka's default context would.
pub struct Reader;

impl rdkafka::ClientContext for Reader {
    fn error(&self, error: rdkafka::error::KafkaError, reason: &str) {
        if error.rdkafka_error_code() == Some(rdkafka::types::RDKafkaErrorCode::PartitionEOF) {
            tracing::debug!(%reason, "reached the end of a partition");
        } else {
            tracing::error!(error = %error, %reason, "librdkafka error");
        }
    }
}

impl rdkafka::consumer::ConsumerContext for Reader {}

/// The partition's (low, high) watermarks as of the consumer's last fetch
/// response, without a broker round trip; `None` before the first fetch.
pub fn cached_watermarks<C: rdkafka::consumer::ConsumerContext>(
    consumer: &rdkafka::consumer::BaseConsumer<C>,
    topic: &str,
    partition: i32,
) -> Option<(i64, i64)> {
    use rdkafka::consumer::Consumer;
    let topic = std::ffi::CString::new(topic).ok()?;
    let (mut low, mut high) = (-1i64, -1i64);
    // SAFETY: the client pointer lives as long as `consumer`, `topic` is a
    // NUL-terminated string that outlives the call, and librdkafka only
    // writes the two out-parameters.
    let err = unsafe {
        rdkafka::bindings::rd_kafka_get_watermark_offsets(
            consumer.client().native_ptr(),
            topic.as_ptr(),
            partition,
            &mut low,
            &mut high,
        )
    };
    (err == rdkafka::bindings::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR && high >= 0)
        .then_some((low.max(0), high))
}

/// The producer's `message.max.bytes` (librdkafka's default unless the
/// config sets it): the largest record the service may write.
pub fn max_record_bytes(settings: &Settings) -> usize {
    const DEFAULT: usize = 1_000_000;
    let k = &settings.kafka;
    k.producer
        .get("message.max.bytes")
        .or_else(|| k.properties.get("message.max.bytes"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(DEFAULT)
}
