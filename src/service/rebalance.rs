//! Rebalances: what moves with a partition. Callbacks run on the loop
//! thread, inside `poll`, and share the engine through a mutex the loop
//! never holds while polling.

use std::sync::{Arc, Mutex, MutexGuard};

use rdkafka::client::ClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext, Rebalance};
use rdkafka::statistics::Statistics;
use rdkafka::{Offset, TopicPartitionList};

use super::engine::Engine;
use super::PipelineError;
use crate::config::Topic;

/// Consumer context that commits, restores and drops lead state around
/// rebalances.
pub(super) struct RebalanceHandler {
    pub(super) engine: Arc<Mutex<Engine>>,
    pub(super) stable: super::stats::StableOffsets,
}

/// The engine, unless a panic poisoned its lock: state half-changed by a
/// panic is never used, the service stops instead.
pub(super) fn lock(engine: &Mutex<Engine>) -> Result<MutexGuard<'_, Engine>, PipelineError> {
    engine
        .lock()
        .map_err(|_| PipelineError::Fatal("the engine lock is poisoned by a panic".into()))
}

static CONSUMER_ERRORS: super::stats::ErrorLog = super::stats::ErrorLog::new("group consumer");

impl ClientContext for RebalanceHandler {
    fn error(&self, error: rdkafka::error::KafkaError, reason: &str) {
        CONSUMER_ERRORS.report(&error, reason);
    }

    fn stats(&self, statistics: Statistics) {
        super::stats::record_consumer_lag(&statistics);
        self.stable.record(&statistics);
        if let Ok(e) = self.engine.try_lock() {
            e.status
                .set_brokers_up(super::stats::any_broker_up(&statistics));
        }
    }
}

impl RebalanceHandler {
    /// Runs `f` on the engine; an error is kept for the loop, which stops on
    /// it once `poll` returns (a callback cannot return one).
    fn with_engine(&self, f: impl FnOnce(&mut Engine) -> Result<(), PipelineError>) {
        match lock(&self.engine) {
            Ok(mut e) => {
                if e.deferred.is_none() {
                    if let Err(err) = f(&mut e) {
                        e.deferred = Some(err);
                    }
                }
            }
            // The loop finds the lock poisoned too, and stops.
            Err(err) => tracing::error!(error = %err, "rebalance skipped"),
        }
    }
}

fn events_partitions(tpl: &TopicPartitionList, engine: &Engine) -> Vec<i32> {
    tpl.elements()
        .iter()
        .filter(|e| engine.topics.topic_of(e.topic()) == Some(Topic::Events))
        .map(|e| e.partition())
        .collect()
}

impl ConsumerContext for RebalanceHandler {
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Revoke(tpl) = rebalance {
            self.with_engine(|e| {
                let partitions = events_partitions(tpl, e);
                e.on_revoke(consumer, &partitions)
            });
        }
    }

    fn post_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        match rebalance {
            Rebalance::Assign(tpl) => self.with_engine(|e| {
                let partitions = events_partitions(tpl, e);
                e.on_assign(consumer, &partitions)
            }),
            Rebalance::Error(err) => tracing::warn!(error = %err, "rebalance error"),
            Rebalance::Revoke(_) => {}
        }
    }
}

impl Engine {
    /// Cooperative revoke: only the partitions that move. The open
    /// transaction is committed first, so the next owner starts exactly
    /// where this instance stopped; a lost assignment aborts it instead.
    fn on_revoke(
        &mut self,
        consumer: &BaseConsumer<RebalanceHandler>,
        partitions: &[i32],
    ) -> Result<(), PipelineError> {
        if consumer.assignment_lost() {
            tracing::warn!(
                ?partitions,
                "assignment lost; aborting the open transaction"
            );
            // Their state is dropped below; do not rebuild it first.
            for p in partitions {
                self.partitions.remove(p);
            }
            self.abort(consumer)?;
        } else {
            self.commit(consumer)?;
        }
        for p in partitions {
            self.partitions.remove(p);
            self.positions.remove(&(Topic::Events, *p));
            self.positions.remove(&(Topic::Feedback, *p));
            self.held.remove(&(Topic::Events, *p));
            self.held.remove(&(Topic::Feedback, *p));
            self.positions.remove(&(Topic::Merges, *p));
            self.positions.remove(&(Topic::Accounts, *p));
            self.accounts.remove(p);
            self.shadows.remove(p);
        }
        let mut feedback = TopicPartitionList::new();
        for &p in partitions {
            feedback.add_partition(&self.topics.feedback, p);
            feedback.add_partition(&self.topics.merges, p);
            feedback.add_partition(&self.topics.accounts, p);
        }
        self.feedback
            .incremental_unassign(&feedback)
            .map_err(|source| PipelineError::Kafka {
                during: "stop reading feedback",
                source,
            })?;
        tracing::info!(
            ?partitions,
            "partitions revoked; their lead state is dropped"
        );
        self.status.revoked(partitions, self.leads_changed());
        Ok(())
    }

    /// Assign: commit the open transaction (to keep it short), restore the
    /// new partitions from the changelog, and follow their feedback.
    fn on_assign(
        &mut self,
        consumer: &BaseConsumer<RebalanceHandler>,
        partitions: &[i32],
    ) -> Result<(), PipelineError> {
        self.commit(consumer)?;
        let fresh: Vec<i32> = partitions
            .iter()
            .copied()
            .filter(|p| !self.partitions.contains_key(p))
            .collect();
        tracing::info!(partitions = ?fresh, "partitions assigned; restoring lead state");
        let restored = self
            .restore_partitions(&fresh)
            .and_then(|leads| self.follow_feedback(consumer, &fresh).map(|()| leads));
        self.status
            .restore_finished(&fresh, restored.is_ok(), self.leads_changed());
        self.summary.leads_restored += restored? as u64;
        Ok(())
    }

    /// Starts reading the feedback, merges and accounts partitions that match newly
    /// assigned events partitions, from the group's committed offsets.
    fn follow_feedback(
        &mut self,
        consumer: &BaseConsumer<RebalanceHandler>,
        partitions: &[i32],
    ) -> Result<(), PipelineError> {
        if partitions.is_empty() {
            return Ok(());
        }
        let kafka = |during| move |source| PipelineError::Kafka { during, source };
        let mut wanted = TopicPartitionList::new();
        for &p in partitions {
            wanted.add_partition(&self.topics.events, p);
            wanted.add_partition(&self.topics.feedback, p);
            wanted.add_partition(&self.topics.merges, p);
            wanted.add_partition(&self.topics.accounts, p);
        }
        let committed = consumer
            .committed_offsets(wanted, self.txn.timeout())
            .map_err(kafka("read committed offsets"))?;
        let mut feedback = TopicPartitionList::new();
        for e in committed.elements() {
            let Some(source) = self.topics.topic_of(e.topic()) else {
                continue;
            };
            let offset = match e.offset() {
                Offset::Offset(o) => {
                    self.positions.insert((source, e.partition()), o);
                    Offset::Offset(o)
                }
                _ => Offset::Beginning,
            };
            if source != Topic::Events {
                feedback
                    .add_partition_offset(e.topic(), e.partition(), offset)
                    .map_err(kafka("follow feedback"))?;
            }
        }
        self.feedback
            .incremental_assign(&feedback)
            .map_err(kafka("read feedback"))
    }
}
