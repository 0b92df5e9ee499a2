//! The engine's way back to committed state: the abort of a failed
//! transaction, and the recovery of a lost producer. Both rebuild lead
//! state from the changelog and rewind the inputs, so what follows is scored
//! again from exactly what committed.

use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::{Offset, TopicPartitionList};

use super::super::rebalance::RebalanceHandler;
use super::super::txn::TxnError;
use super::super::PipelineError;
use super::{Batch, Engine};
use crate::config::Topic;
use crate::core::Millis;
use crate::telemetry;

impl Engine {
    /// Aborts the open transaction, restores the state it changed and
    /// rewinds each input to the batch's first offset.
    pub(in crate::service) fn abort(
        &mut self,
        consumer: &BaseConsumer<RebalanceHandler>,
    ) -> Result<(), PipelineError> {
        if !self.txn.is_open() {
            return Ok(());
        }
        // Not ready until a transaction commits again.
        self.status.set_kafka_available(false);
        match self.txn.abort() {
            Ok(()) => {}
            Err(TxnError::Lost(e) | TxnError::Abortable(e)) => return self.recover(consumer, &e),
            Err(TxnError::Fatal(e)) => return Err(e),
        }
        let batch = std::mem::take(&mut self.batch);
        // Accounts keep what the batch changed apart: drop it.
        for book in self.accounts.values_mut() {
            book.discard();
        }
        // The batch changed state in place: rebuild what it touched from
        // the changelog, which holds exactly the committed states.
        let dirty: Vec<(i32, Millis)> = self
            .partitions
            .iter()
            .filter(|(&p, part)| part.is_dirty() || self.shadow_dirty(p))
            .map(|(&p, part)| (p, part.stream_time()))
            .collect();
        if !dirty.is_empty() {
            let ids: Vec<i32> = dirty.iter().map(|(p, _)| *p).collect();
            for p in &ids {
                self.partitions.remove(p);
                self.shadows.remove(p);
            }
            tracing::info!(partitions = ?ids, "restoring the state the aborted transaction changed");
            let restored = self.restore_partitions(&ids);
            self.status
                .restore_finished(&ids, restored.is_ok(), self.leads_changed());
            restored?;
            for (p, t) in dirty {
                if let Some(part) = self.partitions.get_mut(&p) {
                    part.set_stream_time(t);
                }
            }
        }
        // The batch is read again: so is its event time. A stream time left
        // at the aborted batch's latest event would fire SLA timers before
        // the re-read events that come earlier (a contact, say) are applied.
        for (p, t) in &batch.stream_time {
            if let Some(part) = self.partitions.get_mut(p) {
                part.set_stream_time(*t);
            }
        }
        for part in self.partitions.values_mut() {
            part.rebuild();
        }
        let timeout = self.txn.timeout();
        for (&(source, p), &first) in &batch.first {
            if !self.partitions.contains_key(&p) {
                continue;
            }
            self.positions.insert((source, p), first);
            let topic = self.topic_of(source).to_owned();
            // The events are the group consumer's; the feedback, the
            // merges and the accounts the assign-only reader's.
            let rewound = if source != Topic::Events {
                self.feedback
                    .seek(&topic, p, Offset::Offset(first), timeout)
            } else {
                consumer.seek(&topic, p, Offset::Offset(first), timeout)
            };
            rewound.map_err(|source| PipelineError::Kafka {
                during: "rewind after an abort",
                source,
            })?;
        }
        self.rewind_holds(&batch.first);
        telemetry::transaction_aborted();
        self.summary.aborted += 1;
        Ok(())
    }

    /// After the producer is lost (a broker outage longer than the
    /// transaction timeout, say): re-creates it, whose `init_transactions`
    /// ends what the old one left open, drops the lead state of every
    /// partition, restores it from the changelog and reads every input
    /// again from the group's committed offsets. What committed and what
    /// did not is then read from the brokers, not assumed: a commit whose
    /// answer was lost may have committed.
    pub(in crate::service) fn recover(
        &mut self,
        consumer: &BaseConsumer<RebalanceHandler>,
        cause: &KafkaError,
    ) -> Result<(), PipelineError> {
        tracing::warn!(
            error = %cause,
            "the transactional producer cannot go on; re-creating it and rebuilding every \
             partition from committed state"
        );
        self.status.set_kafka_available(false);
        self.txn.reset(&self.settings)?;
        self.batch = Batch::default();
        let owned: Vec<i32> = self.partitions.keys().copied().collect();
        self.partitions.clear();
        self.accounts.clear();
        self.shadows.clear();
        let restored = self.restore_partitions(&owned);
        self.status
            .restore_finished(&owned, restored.is_ok(), self.leads_changed());
        restored?;
        self.rewind_to_committed(consumer, &owned)?;
        // A partition waiting for the schema registry resumes from where
        // it is read again, not from the record it waited at.
        let committed = self.positions.clone().into_iter().collect();
        self.rewind_holds(&committed);
        telemetry::transaction_aborted();
        self.summary.aborted += 1;
        // `init_transactions` answered: the brokers take transactions again.
        self.status.set_kafka_available(true);
        tracing::info!(partitions = ?owned, "transactional producer re-created; reading again from the committed offsets");
        Ok(())
    }

    /// Seeks both inputs of `partitions` to the group's committed offsets
    /// (the start of a partition without any), asking again while the
    /// brokers are away.
    fn rewind_to_committed(
        &mut self,
        consumer: &BaseConsumer<RebalanceHandler>,
        partitions: &[i32],
    ) -> Result<(), PipelineError> {
        if partitions.is_empty() {
            return Ok(());
        }
        let mut wanted = TopicPartitionList::new();
        for &p in partitions {
            wanted.add_partition(&self.topics.events, p);
            wanted.add_partition(&self.topics.feedback, p);
            wanted.add_partition(&self.topics.merges, p);
            wanted.add_partition(&self.topics.accounts, p);
        }
        let timeout = self.txn.timeout();
        let mut backoff = Duration::from_millis(200);
        let committed = loop {
            match consumer.committed_offsets(wanted.clone(), timeout) {
                Ok(c) => break c,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read the committed offsets yet; retrying");
                    std::thread::sleep(backoff);
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
        };
        for e in committed.elements() {
            let Some(source) = self.topics.topic_of(e.topic()) else {
                continue;
            };
            let p = e.partition();
            let offset = match e.offset() {
                Offset::Offset(o) => {
                    self.positions.insert((source, p), o);
                    Offset::Offset(o)
                }
                _ => {
                    self.positions.remove(&(source, p));
                    Offset::Beginning
                }
            };
            let rewound = if source != Topic::Events {
                self.feedback.seek(e.topic(), p, offset, timeout)
            } else {
                consumer.seek(e.topic(), p, offset, timeout)
            };
            rewound.map_err(|source| PipelineError::Kafka {
                during: "rewind to the committed offsets",
                source,
            })?;
        }
        Ok(())
    }
}
