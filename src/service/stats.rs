//! librdkafka statistics → metrics, and the inputs' last stable offsets.
//! Both consumers emit statistics every `statistics.interval.ms` (1 s unless
//! overridden in `[kafka.consumer]`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use rdkafka::client::ClientContext;
use rdkafka::consumer::ConsumerContext;
use rdkafka::statistics::Statistics;

use crate::telemetry;

/// Records the consumer lag of every partition in the statistics. librdkafka
/// reports -1 for a partition it no longer fetches (revoked, or not yet
/// started): that is recorded as 0, so a partition that moved to another
/// instance is not counted twice when lag is summed over instances.
pub fn record_consumer_lag(stats: &Statistics) {
    for (topic, t) in &stats.topics {
        for (&partition, p) in &t.partitions {
            // -1 is librdkafka's internal "unassigned" partition.
            if partition < 0 {
                continue;
            }
            telemetry::consumer_lag(topic, partition, p.consumer_lag.max(0));
        }
    }
}

/// The last stable offset of every input partition, from the consumers'
/// statistics: librdkafka keeps it from each fetch response but offers no
/// call for it. A read_committed consumer never reads past it, so a
/// partition whose position reached it has read everything committed, even
/// while another producer's transaction stays open above it and keeps the
/// high watermark out of reach.
#[derive(Debug, Clone, Default)]
pub struct StableOffsets(Arc<Mutex<HashMap<(String, i32), i64>>>);

impl StableOffsets {
    /// Takes the stable offsets from a statistics report.
    pub fn record(&self, stats: &Statistics) {
        let Ok(mut offsets) = self.0.lock() else {
            return;
        };
        for (topic, t) in &stats.topics {
            for (&partition, p) in &t.partitions {
                if partition >= 0 && p.ls_offset >= 0 {
                    offsets.insert((topic.clone(), partition), p.ls_offset);
                }
            }
        }
    }

    /// The partition's last stable offset as of the latest report.
    pub fn get(&self, topic: &str, partition: i32) -> Option<i64> {
        let offsets = self.0.lock().ok()?;
        offsets.get(&(topic.to_owned(), partition)).copied()
    }
}

/// The feedback reader's context: it only reports stable offsets.
pub struct FeedbackReader(pub StableOffsets);

impl ClientContext for FeedbackReader {
    fn stats(&self, statistics: Statistics) {
        self.0.record(&statistics);
    }

    fn error(&self, error: rdkafka::error::KafkaError, reason: &str) {
        FEEDBACK_ERRORS.report(&error, reason);
    }
}

static FEEDBACK_ERRORS: ErrorLog = ErrorLog::new("feedback reader");

impl ConsumerContext for FeedbackReader {}

/// Whether the client is connected to any broker (bootstrap entries aside):
/// an instance that reaches none can neither read nor commit.
pub fn any_broker_up(stats: &Statistics) -> bool {
    stats
        .brokers
        .values()
        .any(|b| b.nodeid >= 0 && b.state == "UP")
}

/// librdkafka's global errors, logged at most once per 10 s per client with
/// how many there were: while the brokers are away it reports the same
/// failures several times a second.
pub struct ErrorLog {
    client: &'static str,
    state: Mutex<(Option<std::time::Instant>, u64)>,
}

impl ErrorLog {
    pub const fn new(client: &'static str) -> Self {
        ErrorLog {
            client,
            state: Mutex::new((None, 0)),
        }
    }

    pub fn report(&self, error: &rdkafka::error::KafkaError, reason: &str) {
        let Ok(mut s) = self.state.lock() else {
            return;
        };
        s.1 += 1;
        if s.0
            .is_none_or(|t| t.elapsed() >= std::time::Duration::from_secs(10))
        {
            tracing::warn!(client = self.client, errors = s.1, %error, reason, "kafka client error");
            *s = (Some(std::time::Instant::now()), 0);
        }
    }
}
