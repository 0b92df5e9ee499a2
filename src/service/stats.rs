//! librdkafka statistics → metrics. The group consumer emits statistics
//! every `statistics.interval.ms` (5 s unless overridden in
//! `[kafka.consumer]`).

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
