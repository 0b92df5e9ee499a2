//! The merges topic (`lead-merges`): the hop between an anonymous
//! visitor's partition and its lead's (`core::visitor`), as a Kafka
//! Streams repartition topic. Its records are produced in the transaction
//! of the step that caused them, to the partition their key hashes to
//! (murmur2, as producers of the events topic partition), and read by the
//! assign-only reader that follows this instance's events partitions, so
//! their offsets commit in the same transaction as what they caused.

use rdkafka::message::Message;
use rdkafka::producer::BaseRecord;

use super::engine::Engine;
use super::topics::TopicNames;
use super::txn::{Transactions, TxnError};
use crate::codec;
use crate::core::partitioner::partition_for_key;
use crate::core::visitor::visitor_key;
use crate::core::{Event, Merge, PartitionState, Rejection};

type Consumed<'a> = rdkafka::message::BorrowedMessage<'a>;

impl Engine {
    /// An anonymous event, on its visitor's partition: kept, or sent on to
    /// the lead the visitor identified as.
    pub(super) fn visit(&mut self, partition: i32, event: &Event) -> Result<(), TxnError> {
        let part = self
            .partitions
            .get_mut(&partition)
            .expect("checked by process");
        let before = part.stream_time();
        let merge = part.visit(&self.desk, event);
        self.batch.stream_time.entry(partition).or_insert(before);
        self.batch.counts.scored += 1;
        merge.map_or(Ok(()), |m| self.send_merge(&m))
    }

    /// Produces a merges record in the open transaction.
    pub(super) fn send_merge(&self, merge: &Merge) -> Result<(), TxnError> {
        let key = merge.key();
        let partition = partition_for_key(key.as_bytes(), self.partition_count);
        self.txn.send(
            BaseRecord::to(&self.topics.merges)
                .partition(partition)
                .key(key.as_bytes())
                .payload(&codec::encode_merge(merge)),
        )
    }

    /// A merges record: a link, answered with the visitor's history; or a
    /// history, applied to the lead event by event as its own. A merged
    /// event the lead's state limits refuse is left out (as in `replay`).
    pub(super) fn merge_record(
        &mut self,
        m: &Consumed<'_>,
        partition: i32,
    ) -> Result<Result<(), TxnError>, Rejection> {
        let merge = codec::decode_merge(m.payload().unwrap_or_default())?;
        if m.key() != Some(merge.key().as_bytes()) {
            return Err(Rejection::KeyMismatch);
        }
        match merge {
            Merge::Link {
                visitor_id,
                lead_id,
                identified_at,
            } => {
                let part = self
                    .partitions
                    .get_mut(&partition)
                    .expect("checked by process");
                let history = part.link(&self.desk, &visitor_id, &lead_id, identified_at);
                Ok(history.map_or(Ok(()), |h| self.send_merge(&h)))
            }
            Merge::History { events, .. } => {
                for event in &events {
                    match self.score(m, partition, event) {
                        Ok(Ok(())) | Err(_) => {}
                        Ok(Err(e)) => return Ok(Err(e)),
                    }
                }
                Ok(Ok(()))
            }
        }
    }
}

/// The changelog records of the visitors a transaction changed: their
/// state, or a tombstone for one that expired.
pub(super) fn publish_visitors(
    txn: &Transactions,
    topics: &TopicNames,
    partition: i32,
    part: &PartitionState,
) -> Result<(), TxnError> {
    for (visitor_id, state) in part.visitors().staged() {
        let key = visitor_key(visitor_id);
        let payload = state.map(|v| codec::encode_visitor(visitor_id, v));
        let record: BaseRecord<'_, [u8], Vec<u8>> = BaseRecord::to(&topics.changelog)
            .partition(partition)
            .key(key.as_bytes());
        txn.send(match &payload {
            Some(p) => record.payload(p),
            None => record,
        })?;
    }
    Ok(())
}
