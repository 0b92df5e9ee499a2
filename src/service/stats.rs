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
}

impl ConsumerContext for FeedbackReader {}
