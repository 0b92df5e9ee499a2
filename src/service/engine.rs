//! The engine of the transactional loop: what happens to one consumed
//! record, to a due timer, and at commit and abort.
//!
//! Exactly-once rests on four rules, each enforced here:
//! - outputs, changelog and offsets commit or abort together ([`Transactions`]);
//! - lead state changed in a transaction counts (metrics, look-ups) only
//!   after the commit;
//! - an aborted transaction restores the partitions it changed from the
//!   changelog and rewinds every input to the batch's first offset, so the
//!   batch is scored again from the committed state;
//! - a producer lost to a long broker outage is re-created, and every
//!   partition rebuilt from the changelog and read again from the group's
//!   committed offsets ([`Engine::recover`]);
//! - a fenced or fatal error stops the loop, and the process exits 2.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{BorrowedMessage, Message};
use rdkafka::producer::BaseRecord;
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{Offset, TopicPartitionList};

use super::outputs::Outputs;
use super::rebalance::RebalanceHandler;
use super::status::{LeadView, Status};
use super::topics::TopicNames;
use super::txn::TxnError;
use super::{PipelineError, RunSummary};
use crate::codec::{self, Format};
use crate::config::Settings;
use crate::config::Topic;
use crate::core::tally::{BatchCounts, SalesCounts};
use crate::core::{Desk, HandoffRecord, Millis, PartitionState, Rejection, ROUTING_KEY};
use crate::telemetry;

mod recovery;

/// What the open transaction has read and produced. Its inputs are the
/// events topic and the feedback topic, whose partitions follow the events
/// partitions this instance owns (co-partitioning), read by a second,
/// assign-only consumer; both topics' offsets go into the same transaction.
#[derive(Default)]
pub(super) struct Batch {
    /// Per input partition, the offset of the first record in the batch:
    /// where to rewind to on abort.
    first: BTreeMap<(Topic, i32), i64>,
    /// Per input partition, the next offset to consume: what the
    /// transaction commits.
    next: BTreeMap<(Topic, i32), i64>,
    /// Per partition, the stream time before the batch's first event: what
    /// an abort puts back.
    pub(super) stream_time: BTreeMap<i32, Millis>,
    pub(super) counts: BatchCounts,
    /// Sales-loop figures of the batch, recorded once it commits.
    sales: SalesCounts,
    /// Kafka timestamps of the events that raised this batch's alerts.
    alert_event_times: Vec<i64>,
    /// The champion's and the challenger's alerts compared (`super::shadow`).
    pub(super) shadow: crate::core::ShadowTally,
}

pub(super) struct Engine {
    pub(super) settings: Settings,
    pub(super) txn: super::txn::Transactions,
    pub(super) desk: Desk,
    pub(super) feedback: Arc<BaseConsumer<super::stats::FeedbackReader>>,
    /// Lead state, timers and stream time of each assigned partition.
    pub(super) partitions: BTreeMap<i32, PartitionState>,
    /// The accounts of each assigned partition (`super::accounts`).
    pub(super) accounts: BTreeMap<i32, super::accounts::AccountBook>,
    /// The challenger of `[[shadow]]`, and each assigned partition's shadow
    /// lead state (`super::shadow`).
    pub(super) shadow: Option<crate::core::Shadow>,
    pub(super) shadows: BTreeMap<i32, crate::core::LeadStore>,
    /// Next offset to read per input partition, to tell when it is caught up.
    pub(super) positions: BTreeMap<(Topic, i32), i64>,
    pub(super) topics: TopicNames,
    pub(super) format: Format,
    pub(super) max_future_skew: i64,
    /// The producer's `message.max.bytes`: no record may be larger.
    pub(super) max_record: usize,
    pub(super) batch: Batch,
    pub(super) summary: RunSummary,
    /// An error raised inside a rebalance callback, which cannot return
    /// one: the loop stops on it after `poll` returns.
    pub(super) deferred: Option<PipelineError>,
    pub(super) status: Arc<Status>,
    /// The inputs' last stable offsets, from the consumers' statistics.
    pub(super) stable: super::stats::StableOffsets,
    /// Consumer errors since the last one logged, and when that was.
    pub(super) consumer_errors: u64,
    pub(super) last_consumer_warning: Option<Instant>,
    /// The reps' watches: the whole `lead-watches` table (`super::watches`).
    pub(super) watches: super::watches::WatchTable,
    /// The Schema Registry of framed inputs, and the partitions waiting
    /// for it (`super::schemas`).
    pub(super) registry: Option<super::registry::Registry>,
    pub(super) held: super::schemas::Holds,
    /// How the outputs are framed (none without `schema_registry.outputs`).
    pub(super) framing: super::registry::OutputFraming,
    /// The events topic's partitions: what a merges record's key is
    /// partitioned over (`super::merges`).
    pub(super) partition_count: i32,
}

pub(super) type Consumed<'a> = BorrowedMessage<'a>;

impl Engine {
    /// Decodes, admits and scores one record in the open transaction.
    pub(super) fn process(
        &mut self,
        consumer: &BaseConsumer<RebalanceHandler>,
        m: &Consumed<'_>,
        source: Topic,
    ) -> Result<(), PipelineError> {
        let partition = m.partition();
        if !self.partitions.contains_key(&partition) {
            tracing::warn!(
                partition,
                offset = m.offset(),
                "record for an unassigned partition skipped"
            );
            return Ok(());
        }
        // A framed record whose schema the registry cannot give yet waits,
        // with its partition, before it joins the transaction.
        let Some(schema) = self.resolve_schema(consumer, m, source)? else {
            return Ok(());
        };
        if !self.begin(consumer)? {
            // The producer was re-created: the consumer now reads again
            // from the committed offsets, this record included.
            return Ok(());
        }
        self.batch
            .first
            .entry((source, partition))
            .or_insert(m.offset());
        self.batch.next.insert((source, partition), m.offset() + 1);
        self.positions.insert((source, partition), m.offset() + 1);
        self.batch.counts.consumed += 1;

        let sent = if source == Topic::Merges {
            self.merge_record(m, partition)
        } else if source == Topic::Accounts {
            self.account_record(m, partition)
        } else {
            self.decode(m, schema).and_then(|event| {
                if event.is_anonymous() {
                    Ok(self.visit(partition, &event))
                } else {
                    self.score(m, partition, &event)
                }
            })
        };
        let sent = match sent {
            Err(rejection) => self.dead_letter(m, &rejection),
            Ok(sent) => sent,
        };
        self.settle(consumer, sent)
    }

    /// Applies an admitted event to its partition and publishes what it
    /// did; a refusal (its lead's state limit) leaves the state untouched.
    pub(super) fn score(
        &mut self,
        m: &Consumed<'_>,
        partition: i32,
        event: &crate::core::Event,
    ) -> Result<Result<(), TxnError>, Rejection> {
        let Engine {
            partitions,
            desk,
            batch,
            txn,
            topics,
            format,
            watches,
            framing,
            partition_count,
            ..
        } = self;
        let part = partitions.get_mut(&partition).expect("checked by process");
        let before = part.stream_time();
        let mut step = part.apply_watched(desk, watches.watches(), event)?;
        batch.stream_time.entry(partition).or_insert(before);
        batch
            .sales
            .observe(step.contact_before, step.lead, &step.outcome);
        if step.outcome.duplicate {
            batch.counts.duplicates += 1;
        } else {
            batch.counts.scored += 1;
        }
        if step.outcome.alert.is_some() {
            if let Some(t) = m.timestamp().to_millis() {
                batch.alert_event_times.push(t);
            }
        }
        let merge = step.merge.take();
        let champion_alerted = step.outcome.alert.is_some();
        let outputs = Outputs::new(txn, topics, *format, desk, framing);
        let sent = outputs
            .emit(&step.outcome, &mut batch.counts)
            .and_then(|()| outputs.emit_watch_alerts(&step.watch_alerts))
            .and_then(|()| match step.outcome.score_changed {
                true => super::accounts::contribute(
                    txn,
                    topics,
                    *partition_count,
                    desk.scorer(),
                    &event.lead_id,
                    step.lead,
                ),
                false => Ok(()),
            });
        let sent = sent.and_then(|()| merge.map_or(Ok(()), |m| self.send_merge(&m)));
        Ok(sent.and_then(|()| self.shadow_event(partition, event, champion_alerted)))
    }

    /// Acts on the result of producing in the open transaction: an
    /// abortable error aborts and rewinds it.
    fn settle(
        &mut self,
        consumer: &BaseConsumer<RebalanceHandler>,
        sent: Result<(), TxnError>,
    ) -> Result<(), PipelineError> {
        match sent {
            Ok(()) => Ok(()),
            Err(TxnError::Abortable(e)) => {
                tracing::warn!(error = %e, "produce failed; aborting the transaction");
                self.abort(consumer)
            }
            Err(TxnError::Lost(e)) => self.recover(consumer, &e),
            Err(TxnError::Fatal(e)) => Err(e),
        }
    }

    /// Opens a transaction unless one is open. `false`: the producer was
    /// lost and has been re-created, the state rebuilt and the inputs
    /// rewound, so what the caller was about to do is done again later.
    fn begin(&mut self, consumer: &BaseConsumer<RebalanceHandler>) -> Result<bool, PipelineError> {
        match self.txn.begin() {
            Ok(()) => Ok(true),
            Err(TxnError::Lost(e)) => self.recover(consumer, &e).map(|()| false),
            Err(TxnError::Fatal(e)) => Err(e),
            Err(TxnError::Abortable(e)) => Err(PipelineError::Kafka {
                during: "begin_transaction",
                source: e,
            }),
        }
    }

    /// Sends the original record to the DLQ with the reason in headers.
    fn dead_letter(&mut self, m: &Consumed<'_>, rejection: &Rejection) -> Result<(), TxnError> {
        let code = rejection.code();
        self.batch.counts.dead_letter(code);
        tracing::debug!(
            partition = m.partition(),
            offset = m.offset(),
            reason = code,
            field = rejection.field(),
            "event sent to the dead-letter topic"
        );
        super::outputs::dead_letter(&self.txn, &self.topics.dlq, self.max_record, m, rejection)
    }

    pub(super) fn consumer_error(&mut self, err: KafkaError) -> Result<(), PipelineError> {
        if let KafkaError::MessageConsumption(RDKafkaErrorCode::Fatal) = err {
            return Err(PipelineError::Kafka {
                during: "consume",
                source: err,
            });
        }
        // While the brokers are away librdkafka reports the same errors on
        // every poll: say so once per 10 s, with how many there were.
        self.consumer_errors += 1;
        if self
            .last_consumer_warning
            .is_none_or(|t| t.elapsed() >= Duration::from_secs(10))
        {
            tracing::warn!(error = %err, errors = self.consumer_errors, "consumer error");
            self.consumer_errors = 0;
            self.last_consumer_warning = Some(Instant::now());
        }
        Ok(())
    }

    /// Reads what the feedback consumer has buffered (it follows this
    /// instance's partitions of the feedback and merges topics), without
    /// waiting.
    pub(super) fn poll_feedback(
        &mut self,
        consumer: &BaseConsumer<RebalanceHandler>,
    ) -> Result<(), PipelineError> {
        let feedback = self.feedback.clone();
        for _ in 0..1_000 {
            match feedback.poll(Duration::ZERO) {
                None => break,
                Some(Ok(m)) => {
                    // The reader follows the feedback and the merges.
                    let source = self.topics.topic_of(m.topic()).unwrap_or(Topic::Feedback);
                    self.process(consumer, &m, source)?
                }
                Some(Err(err)) => self.consumer_error(err)?,
            }
        }
        Ok(())
    }

    /// True when both inputs of `partition` have been read up to their
    /// latest known end, so nothing older is still waiting: the high
    /// watermark, or the last stable offset when the records between the
    /// two belong to a transaction still open (another producer's, which
    /// may never end). The stable offset comes from statistics at most a
    /// second old. `lead-merges` is left out: it holds no feedback, and its
    /// transactional writes end in markers the reader never reaches.
    fn caught_up(&self, partition: i32, consumer: &BaseConsumer<RebalanceHandler>) -> bool {
        use super::client::cached_watermarks;
        let ends = [
            (
                Topic::Events,
                cached_watermarks(consumer, &self.topics.events, partition),
            ),
            (
                Topic::Feedback,
                cached_watermarks(&*self.feedback, &self.topics.feedback, partition),
            ),
        ];
        ends.iter().all(|(source, marks)| match marks {
            // Nothing read yet from a partition without committed offsets:
            // it starts at its low watermark.
            Some((low, high)) => {
                let position = self
                    .positions
                    .get(&(*source, partition))
                    .copied()
                    .unwrap_or(*low);
                let stable = self.stable.get(self.topic_of(*source), partition);
                position >= *high || stable.is_some_and(|s| s < *high && position >= s)
            }
            None => false,
        })
    }

    /// Fires due SLA and feedback timers. A caught-up partition uses the
    /// wall clock; one still reading a backlog (after a restart, say) uses
    /// its stream time, so a contact waiting in the backlog is seen before
    /// its deadline is judged, as in `replay`.
    pub(super) fn fire_timers(
        &mut self,
        consumer: &BaseConsumer<RebalanceHandler>,
    ) -> Result<(), PipelineError> {
        // Timers are the sales loop's (with a roster) and the decay refresh's.
        if self.desk.roster().is_none() && self.desk.scorer().model().refresh.is_none() {
            return Ok(());
        }
        let wall = wall_clock_ms();
        let due: Vec<i32> = self
            .partitions
            .iter()
            .filter(|(_, part)| part.earliest_deadline().is_some_and(|d| d <= wall))
            .map(|(p, _)| *p)
            .collect();
        for partition in due {
            let Some(part) = self.partitions.get(&partition) else {
                continue;
            };
            let now = if self.caught_up(partition, consumer) {
                wall
            } else {
                part.stream_time()
            };
            while self
                .partitions
                .get(&partition)
                .is_some_and(|p| p.next_due(now).is_some())
            {
                if !self.begin(consumer)? {
                    return Ok(());
                }
                let Engine {
                    partitions,
                    desk,
                    batch,
                    txn,
                    topics,
                    format,
                    framing,
                    partition_count,
                    ..
                } = self;
                let part = partitions.get_mut(&partition).expect("checked above");
                let Some((lead_id, step)) = part.fire_next(desk, now) else {
                    break;
                };
                batch.sales.observe(None, step.lead, &step.outcome);
                let sent = Outputs::new(txn, topics, *format, desk, framing)
                    .emit(&step.outcome, &mut batch.counts)
                    .and_then(|()| match step.outcome.score_changed {
                        true => super::accounts::contribute(
                            txn,
                            topics,
                            *partition_count,
                            desk.scorer(),
                            &lead_id,
                            step.lead,
                        ),
                        false => Ok(()),
                    });
                if sent.is_err() {
                    return self.settle(consumer, sent);
                }
            }
        }
        Ok(())
    }

    /// Publishes the changed lead state and scores, then commits outputs
    /// and offsets in one transaction. An abortable error rolls the batch
    /// back to be read again.
    pub(super) fn commit(
        &mut self,
        consumer: &BaseConsumer<RebalanceHandler>,
    ) -> Result<(), PipelineError> {
        if !self.txn.is_open() {
            return Ok(());
        }
        let _entered = self.txn.span().map(tracing::Span::entered);
        let started = Instant::now();
        let published = self.publish_state();
        if published.is_err() {
            return self.settle(consumer, published);
        }
        let offsets = self.offsets()?;
        let group = consumer
            .group_metadata()
            .ok_or_else(|| PipelineError::Fatal("the consumer has no group metadata".into()))?;
        self.status.commit_started(self.txn.timeout() * 2);
        let committed = self.txn.commit(&offsets, &group);
        self.status.commit_ended();
        match committed {
            Ok(open_for) => {
                for part in self.partitions.values_mut() {
                    part.commit();
                }
                for book in self.accounts.values_mut() {
                    book.commit();
                }
                self.shadow_committed();
                let batch = std::mem::take(&mut self.batch);
                tracing::debug!(
                    consumed = batch.counts.consumed,
                    open_ms = open_for.as_millis() as u64,
                    commit_ms = started.elapsed().as_millis() as u64,
                    "transaction committed"
                );
                if batch.counts.dead_lettered_total() > 0 {
                    tracing::info!(
                        dead_lettered = ?batch.counts.dead_lettered,
                        "events sent to the dead-letter topic"
                    );
                }
                telemetry::transaction_committed(&batch.counts, started.elapsed().as_secs_f64());
                telemetry::alerts_committed(&batch.alert_event_times);
                telemetry::sales_committed(&batch.sales, self.desk.roster().map(|r| &**r));
                self.leads_changed();
                self.summary.counts.add(&batch.counts);
                self.summary.transactions += 1;
                self.status.set_kafka_available(true);
                Ok(())
            }
            Err(TxnError::Abortable(e)) => {
                tracing::warn!(error = %e, "transaction failed; aborting and rewinding");
                self.abort(consumer)
            }
            Err(TxnError::Lost(e)) => self.recover(consumer, &e),
            Err(TxnError::Fatal(e)) => Err(e),
        }
    }

    /// The consumer offsets the open transaction commits.
    fn offsets(&self) -> Result<TopicPartitionList, PipelineError> {
        let mut offsets = TopicPartitionList::new();
        for (&(source, p), &next) in &self.batch.next {
            offsets
                .add_partition_offset(self.topic_of(source), p, Offset::Offset(next))
                .map_err(|source| PipelineError::Kafka {
                    during: "offsets",
                    source,
                })?;
        }
        Ok(offsets)
    }

    pub(super) fn topic_of(&self, input: Topic) -> &str {
        self.topics.name(input)
    }

    /// Writes the changelog (to the input's partition), and the score and
    /// handoff records of every lead changed in this batch, from the state
    /// the transaction commits.
    fn publish_state(&mut self) -> Result<(), TxnError> {
        let outputs = Outputs::new(
            &self.txn,
            &self.topics,
            self.format,
            &self.desk,
            &self.framing,
        );
        self.batch.counts.account_score_updates = self.publish_accounts()?;
        self.publish_shadow()?;
        let mut score_updates = 0;
        for (&partition, part) in &self.partitions {
            let store = part.store();
            if let Some(routing) = store.staged_routing() {
                self.txn.send(
                    BaseRecord::to(&self.topics.changelog)
                        .partition(partition)
                        .key(ROUTING_KEY.as_bytes())
                        .payload(&codec::encode_routing(routing)),
                )?;
            }
            super::merges::publish_visitors(&self.txn, &self.topics, partition, part)?;
            for (lead_id, staged) in store.staged() {
                let state = codec::encode_state(lead_id, &staged.state);
                self.txn.send(
                    BaseRecord::to(&self.topics.changelog)
                        .partition(partition)
                        .key(lead_id.as_bytes())
                        .payload(&state),
                )?;
                if staged.handoff_changed {
                    if let Some(record) = HandoffRecord::of(lead_id, &staged.state) {
                        let payload = codec::encode_handoff(&record, self.format);
                        outputs.publish(
                            &self.topics.handoffs,
                            &record.handoff.alert_id,
                            &payload,
                        )?;
                    }
                }
                if staged.score_changed {
                    score_updates += 1;
                    let score = self.desk.scorer().score_of(lead_id, &staged.state);
                    let payload = codec::encode_score(&score, self.format);
                    outputs.publish(&self.topics.scores, lead_id, &payload)?;
                }
            }
        }
        self.batch.counts.score_updates = score_updates;
        Ok(())
    }

    /// Publishes the number of committed leads; returns it.
    pub(super) fn leads_changed(&self) -> usize {
        let leads = self.partitions.values().map(|p| p.store().len()).sum();
        telemetry::leads_in_state(leads);
        telemetry::accounts_in_state(self.accounts_held());
        self.status.set_leads(leads);
        leads
    }

    /// Answers the admin edge's look-ups from committed state.
    pub(super) fn answer_queries(&self) {
        self.status.answer(|partition, lead_id| {
            let state = self.partitions.get(&partition)?.store().get(lead_id)?;
            Some(LeadView::new(self.desk.scorer(), lead_id, state))
        });
        self.status.answer_accounts(|partition, account| {
            let scorer = crate::core::AccountScorer::new(self.desk.scorer().model().clone())?;
            let state = self.accounts.get(&partition)?.committed(account)?;
            Some(scorer.score_of(account, state))
        });
    }
}

fn wall_clock_ms() -> Millis {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as Millis)
}
