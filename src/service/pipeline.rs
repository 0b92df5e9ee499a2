//! The transactional loop: consume events, score them, and publish outputs
//! plus the consumer offsets in one Kafka transaction per commit interval.
//!
//! Exactly-once rests on four rules, each enforced here:
//! - outputs, changelog and offsets commit or abort together;
//! - lead state changes are staged and become visible only after the commit;
//! - an aborted transaction rewinds the consumer to the first offset of the
//!   batch, so the batch is scored again from the committed state;
//! - a fenced or fatal producer exits the process.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use rdkafka::client::ClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext, Rebalance};
use rdkafka::error::{KafkaError, RDKafkaError};
use rdkafka::message::{BorrowedMessage, Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use rdkafka::statistics::Statistics;
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{Offset, TopicPartitionList};

use super::status::{LeadView, Status};
use super::topics::TopicNames;
use super::PipelineError;
use crate::codec::{self, Format};
use crate::config::Settings;
use crate::core::{
    admit, Desk, HandoffRecord, LeadStore, Millis, Model, Outcome, Rejection, Roster, Scorer,
    Timers, ROUTING_KEY,
};
use crate::telemetry::{self, BatchCounts, SalesCounts};

const TXN_TIMEOUT: Duration = Duration::from_secs(30);

/// What a run did, counting committed work only.
#[derive(Debug, Clone, Default)]
pub struct RunSummary {
    pub counts: BatchCounts,
    pub transactions: u64,
    pub aborted: u64,
    pub leads_restored: u64,
}

/// Runs the service until `shutdown` is set, then commits the open
/// transaction, leaves the group and returns. Blocks the calling thread.
pub fn run(
    settings: &Settings,
    model: Arc<Model>,
    roster: Option<Arc<Roster>>,
    watcher: Option<super::ModelWatcher>,
    shutdown: &AtomicBool,
) -> Result<RunSummary, PipelineError> {
    run_with_status(settings, model, roster, watcher, shutdown, Arc::default())
}

/// [`run`], sharing readiness and committed lead state through `status`
/// (the admin HTTP edge reads it).
pub fn run_with_status(
    settings: &Settings,
    model: Arc<Model>,
    roster: Option<Arc<Roster>>,
    mut watcher: Option<super::ModelWatcher>,
    shutdown: &AtomicBool,
    status: Arc<Status>,
) -> Result<RunSummary, PipelineError> {
    let partitions = super::ensure_topics(settings)?;
    status.set_partitions(partitions);
    let topics = TopicNames::from_settings(settings);
    tracing::info!(
        events = %topics.events,
        partitions,
        model = %model.version,
        transactional_id = %settings.kafka.transactional_id(),
        "starting"
    );

    let producer: ThreadedProducer<DefaultProducerContext> = super::producer_config(settings)
        .create()
        .map_err(|e| PipelineError::Client(e.to_string()))?;
    producer.init_transactions(TXN_TIMEOUT).map_err(|e| {
        classify(&e, settings).unwrap_or_else(|| PipelineError::Fatal(e.to_string()))
    })?;

    let feedback: BaseConsumer = super::reader_config(settings)
        .set(
            "group.id",
            format!("{}-feedback-reader", settings.kafka.group_id),
        )
        .set("enable.partition.eof", "false")
        .create()
        .map_err(|e| PipelineError::Client(e.to_string()))?;
    let engine = Arc::new(Mutex::new(Engine {
        settings: settings.clone(),
        producer,
        desk: Desk::new(Scorer::new(model), roster),
        feedback: Arc::new(feedback),
        timers: BTreeMap::new(),
        stream_time: BTreeMap::new(),
        positions: BTreeMap::new(),
        topics,
        format: settings.pipeline.output_format,
        max_future_skew: settings.pipeline.max_future_skew_secs.saturating_mul(1000),
        stores: BTreeMap::new(),
        batch: Batch::default(),
        summary: RunSummary::default(),
        fatal: None,
        status,
    }));
    let consumer: BaseConsumer<RebalanceHandler> = super::consumer_config(settings)
        .create_with_context(RebalanceHandler {
            engine: engine.clone(),
        })
        .map_err(|e| PipelineError::Client(e.to_string()))?;
    consumer
        .subscribe(&[&settings.topics.events])
        .map_err(|e| PipelineError::Client(e.to_string()))?;

    let interval = Duration::from_millis(settings.pipeline.commit_interval_ms);
    while !shutdown.load(Ordering::Relaxed) {
        let wait = {
            let e = lock(&engine);
            match e.batch.started {
                Some(t) => interval.saturating_sub(t.elapsed()),
                None => Duration::from_millis(100),
            }
        };
        // Rebalance callbacks run inside poll and take the engine lock.
        let polled = consumer.poll(wait);
        let mut e = lock(&engine);
        if let Some(err) = e.fatal.take() {
            return Err(err);
        }
        match polled {
            Some(Ok(m)) => e.process(&consumer, &m, Source::Events),
            Some(Err(err)) => e.consumer_error(err),
            None => {}
        }
        e.poll_feedback(&consumer);
        e.fire_timers(&consumer);
        if e.batch.started.is_some_and(|t| t.elapsed() >= interval) {
            e.commit(&consumer);
        }
        // State is changed in place, so it is the committed state only
        // between transactions: look-ups wait for the commit.
        if e.batch.started.is_none() {
            e.answer_queries();
        }
        // A new model takes effect between transactions.
        if e.batch.started.is_none() {
            if let Some(model) = watcher.as_mut().and_then(super::ModelWatcher::poll) {
                tracing::info!(
                    from = %e.desk.scorer().model().version,
                    to = %model.version,
                    "model reloaded; leads are re-scored under it at their next event"
                );
                telemetry::model_reload(true);
                e.desk = Desk::new(Scorer::new(model), e.desk.roster().cloned());
            }
        }
        if let Some(err) = e.fatal.take() {
            return Err(err);
        }
    }

    tracing::info!("shutting down: committing the open transaction");
    {
        let mut e = lock(&engine);
        e.status.set_stopping();
        e.commit(&consumer);
        if let Some(err) = e.fatal.take() {
            return Err(err);
        }
    }
    // Closing the consumer leaves the group; the revoke callback finds
    // nothing left to commit.
    drop(consumer);
    let e = lock(&engine);
    if let Some(err) = &e.fatal {
        return Err(PipelineError::Fatal(err.to_string()));
    }
    tracing::info!(
        consumed = e.summary.counts.consumed,
        alerts = e.summary.counts.alerts,
        dead_lettered = e.summary.counts.dead_lettered_total(),
        transactions = e.summary.transactions,
        aborted = e.summary.aborted,
        "stopped"
    );
    Ok(e.summary.clone())
}

fn lock(engine: &Mutex<Engine>) -> MutexGuard<'_, Engine> {
    engine.lock().unwrap_or_else(|p| p.into_inner())
}

/// Classifies an error from a transactional call: `None` means abortable.
fn classify(err: &KafkaError, settings: &Settings) -> Option<PipelineError> {
    let KafkaError::Transaction(e) = err else {
        return None;
    };
    if is_fenced(e) {
        return Some(PipelineError::Fenced(settings.kafka.transactional_id()));
    }
    e.is_fatal().then(|| PipelineError::Fatal(e.to_string()))
}

fn is_fenced(e: &RDKafkaError) -> bool {
    matches!(
        e.code(),
        RDKafkaErrorCode::Fenced
            | RDKafkaErrorCode::ProducerFenced
            | RDKafkaErrorCode::InvalidProducerEpoch
            | RDKafkaErrorCode::TransactionalIdAuthorizationFailed
    ) && e.is_fatal()
}

/// The open transaction.
#[derive(Default)]
struct Batch {
    /// When the first record of the batch was read; `None` when no
    /// transaction is open.
    started: Option<Instant>,
    /// Per input partition, the offset of the first record in the batch:
    /// where to rewind to on abort.
    first: BTreeMap<(Source, i32), i64>,
    /// Per input partition, the next offset to consume: what the
    /// transaction commits.
    next: BTreeMap<(Source, i32), i64>,
    /// Per partition, the stream time before the batch's first event: what
    /// an abort puts back.
    stream_time: BTreeMap<i32, Millis>,
    counts: BatchCounts,
    /// Sales-loop figures of the batch, recorded once it commits.
    sales: SalesCounts,
    /// Kafka timestamps of the events that raised this batch's alerts.
    alert_event_times: Vec<i64>,
    /// The transaction's span; each record and the commit run inside it.
    span: Option<tracing::Span>,
}

/// The two inputs. Feedback partitions follow the events partitions this
/// instance owns (co-partitioning), read by a second, assign-only consumer;
/// both topics' offsets go into the same transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Source {
    Events,
    Feedback,
}

struct Engine {
    settings: Settings,
    producer: ThreadedProducer<DefaultProducerContext>,
    desk: Desk,
    feedback: Arc<BaseConsumer>,
    /// Open SLA and feedback timers of each assigned partition, from staged
    /// state while a transaction is open.
    timers: BTreeMap<i32, Timers>,
    /// Latest event time read on each partition (both inputs).
    stream_time: BTreeMap<i32, Millis>,
    /// Next offset to read per input partition, to tell when it is caught up.
    positions: BTreeMap<(Source, i32), i64>,
    topics: TopicNames,
    format: Format,
    max_future_skew: i64,
    /// Lead state of each assigned partition.
    stores: BTreeMap<i32, LeadStore>,
    batch: Batch,
    summary: RunSummary,
    /// Set when the service must stop; checked after every poll.
    fatal: Option<PipelineError>,
    status: Arc<Status>,
}

impl Engine {
    fn begin(&mut self) -> bool {
        if self.batch.started.is_some() {
            return true;
        }
        match self.producer.begin_transaction() {
            Ok(()) => {
                self.batch.started = Some(Instant::now());
                self.batch.span = Some(tracing::info_span!(
                    "transaction",
                    seq = self.summary.transactions + 1
                ));
                true
            }
            Err(e) => {
                self.fatal =
                    Some(classify(&e, &self.settings).unwrap_or_else(|| {
                        PipelineError::Fatal(format!("begin_transaction: {e}"))
                    }));
                false
            }
        }
    }

    fn process(
        &mut self,
        consumer: &BaseConsumer<RebalanceHandler>,
        m: &BorrowedMessage<'_>,
        source: Source,
    ) {
        let partition = m.partition();
        if !self.stores.contains_key(&partition) {
            tracing::warn!(
                partition,
                offset = m.offset(),
                "record for an unassigned partition skipped"
            );
            return;
        }
        if !self.begin() {
            return;
        }
        self.batch
            .first
            .entry((source, partition))
            .or_insert(m.offset());
        self.batch.next.insert((source, partition), m.offset() + 1);
        self.positions.insert((source, partition), m.offset() + 1);
        self.batch.counts.consumed += 1;

        let payload = m.payload().unwrap_or_default();
        let content_type = m.headers().and_then(|h| {
            h.iter()
                .find(|h| h.key.eq_ignore_ascii_case("content-type"))
                .and_then(|h| h.value)
        });
        let decoded = codec::decode_event(payload, content_type).and_then(|event| {
            if m.key() != Some(event.lead_id.as_bytes()) {
                return Err(Rejection::KeyMismatch);
            }
            if let Some(written) = m.timestamp().to_millis() {
                admit(&event, written, self.max_future_skew)?;
            }
            Ok(event)
        });
        let sent = match decoded {
            Err(rejection) => self.dead_letter(m, &rejection),
            Ok(event) => {
                let stream = self.stream_time.entry(partition).or_insert(Millis::MIN);
                self.batch.stream_time.entry(partition).or_insert(*stream);
                *stream = (*stream).max(event.occurred_at);
                let store = self.stores.get_mut(&partition).expect("checked above");
                let (staged, routing) = store.stage_routed(&event.lead_id);
                let contacted = first_contact(&staged.state);
                let outcome = self.desk.apply(routing, &mut staged.state, &event);
                staged.score_changed |= outcome.score_changed;
                staged.handoff_changed |= outcome.handoff_changed;
                self.batch.sales.observe(contacted, &staged.state, &outcome);
                self.timers
                    .entry(partition)
                    .or_default()
                    .update(&event.lead_id, &staged.state);
                self.batch.counts.scored += 1;
                if outcome.alert.is_some() {
                    if let Some(t) = m.timestamp().to_millis() {
                        self.batch.alert_event_times.push(t);
                    }
                }
                self.emit(&outcome)
            }
        };
        if let Err(e) = sent {
            tracing::warn!(error = %e, "produce failed; aborting the transaction");
            self.abort(consumer);
        }
    }

    /// Publishes what one event or timer produced (in the open transaction).
    fn emit(&mut self, outcome: &Outcome) -> Result<(), KafkaError> {
        let f = self.format;
        if let Some(alert) = &outcome.alert {
            self.batch.counts.alerts += 1;
            self.publish(
                &self.topics.alerts,
                &alert.lead_id,
                &codec::encode_alert(alert, f),
            )?;
        }
        if let Some(hold) = &outcome.hold {
            self.batch.counts.holds += 1;
            self.publish(
                &self.topics.enrichment,
                &hold.lead_id,
                &codec::encode_hold(hold, f),
            )?;
        }
        for b in &outcome.breaches {
            self.publish(
                &self.topics.breaches,
                &b.lead_id,
                &codec::encode_breach(b, f),
            )?;
        }
        if let Some(o) = &outcome.overdue {
            self.publish(
                &self.topics.overdue,
                &o.lead_id,
                &codec::encode_overdue(o, f),
            )?;
        }
        for c in &outcome.stages {
            self.publish(
                &self.topics.lifecycle,
                &c.lead_id,
                &codec::encode_stage(c, f),
            )?;
        }
        Ok(())
    }

    fn publish(&self, topic: &str, key: &str, payload: &[u8]) -> Result<(), KafkaError> {
        send(
            &self.producer,
            BaseRecord::to(topic)
                .key(key.as_bytes())
                .payload(payload)
                .headers(self.output_headers()),
        )
    }

    /// Reads what the feedback consumer has buffered (it follows this
    /// instance's partitions), without waiting.
    fn poll_feedback(&mut self, consumer: &BaseConsumer<RebalanceHandler>) {
        let feedback = self.feedback.clone();
        for _ in 0..1_000 {
            match feedback.poll(Duration::ZERO) {
                None => return,
                Some(Ok(m)) => self.process(consumer, &m, Source::Feedback),
                Some(Err(err)) => self.consumer_error(err),
            }
            if self.fatal.is_some() {
                return;
            }
        }
    }

    /// True when both inputs of `partition` have been read up to their
    /// latest known end, so nothing older is still waiting.
    fn caught_up(&self, partition: i32, consumer: &BaseConsumer<RebalanceHandler>) -> bool {
        use super::client::cached_watermarks;
        let ends = [
            (
                Source::Events,
                cached_watermarks(consumer, &self.topics.events, partition),
            ),
            (
                Source::Feedback,
                cached_watermarks(&self.feedback, &self.topics.feedback, partition),
            ),
        ];
        ends.iter().all(|(source, marks)| match marks {
            // Nothing read yet from a partition without committed offsets:
            // it starts at its low watermark.
            Some((low, high)) => {
                self.positions
                    .get(&(*source, partition))
                    .copied()
                    .unwrap_or(*low)
                    >= *high
            }
            None => false,
        })
    }

    /// Fires due SLA and feedback timers. A caught-up partition uses the
    /// wall clock; one still reading a backlog (after a restart, say) uses
    /// its stream time, so a contact waiting in the backlog is seen before
    /// its deadline is judged, as in `replay`.
    fn fire_timers(&mut self, consumer: &BaseConsumer<RebalanceHandler>) {
        if self.desk.roster().is_none() || self.fatal.is_some() {
            return;
        }
        let wall = wall_clock_ms();
        let due: Vec<i32> = self
            .timers
            .iter()
            .filter(|(_, t)| t.earliest().is_some_and(|d| d <= wall))
            .map(|(p, _)| *p)
            .collect();
        for partition in due {
            let now = if self.caught_up(partition, consumer) {
                wall
            } else {
                self.stream_time
                    .get(&partition)
                    .copied()
                    .unwrap_or(Millis::MIN)
            };
            while let Some(lead_id) = self.timers.get_mut(&partition).and_then(|t| t.pop_due(now)) {
                if !self.begin() {
                    return;
                }
                let Some(store) = self.stores.get_mut(&partition) else {
                    break;
                };
                let (staged, routing) = store.stage_routed(&lead_id);
                let Some(deadline) = Desk::next_deadline(&staged.state) else {
                    continue;
                };
                let outcome = self
                    .desk
                    .fire(routing, &lead_id, &mut staged.state, deadline);
                staged.handoff_changed |= outcome.handoff_changed;
                staged.score_changed |= outcome.score_changed;
                self.batch.sales.observe(None, &staged.state, &outcome);
                if Desk::next_deadline(&staged.state) == Some(deadline) {
                    tracing::error!(lead_id = %lead_id, deadline, "a due timer did not advance; dropping it");
                    continue;
                }
                self.timers
                    .entry(partition)
                    .or_default()
                    .update(&lead_id, &staged.state);
                if let Err(e) = self.emit(&outcome) {
                    tracing::warn!(error = %e, "produce failed; aborting the transaction");
                    self.abort(consumer);
                    return;
                }
            }
        }
    }

    fn output_headers(&self) -> OwnedHeaders {
        OwnedHeaders::new_with_capacity(2)
            .insert(Header {
                key: "content-type",
                value: Some(self.format.content_type()),
            })
            .insert(Header {
                key: "leadpulse-model-version",
                value: Some(&*self.desk.scorer().model().version),
            })
    }

    /// Sends the original record to the DLQ with the reason in headers.
    fn dead_letter(
        &mut self,
        m: &BorrowedMessage<'_>,
        rejection: &Rejection,
    ) -> Result<(), KafkaError> {
        let code = rejection.code();
        self.batch.counts.dead_letter(code);
        tracing::debug!(
            partition = m.partition(),
            offset = m.offset(),
            reason = code,
            field = rejection_field(rejection),
            "event sent to the dead-letter topic"
        );
        let detail = rejection.to_string();
        let partition = m.partition().to_string();
        let offset = m.offset().to_string();
        let mut headers = OwnedHeaders::new_with_capacity(6)
            .insert(Header {
                key: "leadpulse-dlq-reason",
                value: Some(code),
            })
            .insert(Header {
                key: "leadpulse-dlq-detail",
                value: Some(&detail),
            })
            .insert(Header {
                key: "leadpulse-source-topic",
                value: Some(m.topic()),
            })
            .insert(Header {
                key: "leadpulse-source-partition",
                value: Some(&partition),
            })
            .insert(Header {
                key: "leadpulse-source-offset",
                value: Some(&offset),
            });
        if let Some(original) = m.headers() {
            for h in original.iter() {
                headers = headers.insert(h);
            }
        }
        let mut record = BaseRecord::<[u8], [u8]>::to(&self.topics.dlq).headers(headers);
        if let Some(k) = m.key() {
            record = record.key(k);
        }
        if let Some(p) = m.payload() {
            record = record.payload(p);
        }
        send(&self.producer, record)
    }

    fn consumer_error(&mut self, err: KafkaError) {
        if let KafkaError::MessageConsumption(RDKafkaErrorCode::Fatal) = err {
            self.fatal = Some(PipelineError::Fatal(format!("consumer: {err}")));
        } else {
            tracing::warn!(error = %err, "consumer error");
        }
    }

    /// Publishes the staged lead state and scores, then commits outputs and
    /// offsets in one transaction. On an abortable error the batch is rolled
    /// back and re-read; on a fatal one `self.fatal` is set.
    fn commit(&mut self, consumer: &BaseConsumer<RebalanceHandler>) {
        if self.batch.started.is_none() {
            return;
        }
        let _entered = self.batch.span.clone().map(tracing::Span::entered);
        let started = Instant::now();
        if let Err(e) = self.publish_state() {
            tracing::warn!(error = %e, "produce failed; aborting the transaction");
            self.abort(consumer);
            return;
        }
        let result = self.send_offsets(consumer).and_then(|()| {
            wait_delivered(&self.producer, TXN_TIMEOUT);
            let mut attempt = 0;
            loop {
                match self.producer.commit_transaction(TXN_TIMEOUT) {
                    Err(KafkaError::Transaction(e)) if e.is_retriable() && attempt < 5 => {
                        attempt += 1;
                        tracing::warn!(error = %e, attempt, "retrying commit");
                    }
                    other => break other,
                }
            }
        });
        match result {
            Ok(()) => {
                for store in self.stores.values_mut() {
                    store.commit();
                }
                let batch = std::mem::take(&mut self.batch);
                tracing::debug!(
                    consumed = batch.counts.consumed,
                    open_ms = batch.started.map_or(0, |t| t.elapsed().as_millis() as u64),
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
                telemetry::sales_committed(&batch.sales);
                self.leads_changed();
                self.summary.counts.add(&batch.counts);
                self.summary.transactions += 1;
            }
            Err(e) => match classify(&e, &self.settings) {
                Some(fatal) => self.fatal = Some(fatal),
                None => {
                    tracing::warn!(error = %e, "transaction failed; aborting and rewinding");
                    self.abort(consumer);
                }
            },
        }
    }

    fn send_offsets(&self, consumer: &BaseConsumer<RebalanceHandler>) -> Result<(), KafkaError> {
        let mut offsets = TopicPartitionList::new();
        for (&(source, p), &next) in &self.batch.next {
            offsets.add_partition_offset(self.topic_of(source), p, Offset::Offset(next))?;
        }
        let group = consumer
            .group_metadata()
            .ok_or_else(|| KafkaError::MetadataFetch(RDKafkaErrorCode::Fail))?;
        self.producer
            .send_offsets_to_transaction(&offsets, &group, TXN_TIMEOUT)
    }

    fn topic_of(&self, source: Source) -> &str {
        match source {
            Source::Events => &self.topics.events,
            Source::Feedback => &self.topics.feedback,
        }
    }

    /// Writes the changelog (to the input's partition), and the score and
    /// handoff records of every lead changed in this batch.
    fn publish_state(&mut self) -> Result<(), KafkaError> {
        let mut score_updates = 0;
        for (&partition, store) in &self.stores {
            if let Some(routing) = store.staged_routing() {
                send(
                    &self.producer,
                    BaseRecord::to(&self.topics.changelog)
                        .partition(partition)
                        .key(ROUTING_KEY.as_bytes())
                        .payload(&codec::encode_routing(routing)),
                )?;
            }
            for (lead_id, staged) in store.staged() {
                let state = codec::encode_state(lead_id, &staged.state);
                send(
                    &self.producer,
                    BaseRecord::to(&self.topics.changelog)
                        .partition(partition)
                        .key(lead_id.as_bytes())
                        .payload(&state),
                )?;
                if let (true, Some(h)) = (staged.handoff_changed, &staged.state.handoff) {
                    let record = HandoffRecord {
                        lead_id: lead_id.to_string(),
                        stage: staged.state.stage,
                        handoff: crate::core::Handoff::clone(h),
                    };
                    let payload = codec::encode_handoff(&record, self.format);
                    self.publish(&self.topics.handoffs, &h.alert_id, &payload)?;
                }
                if staged.score_changed {
                    score_updates += 1;
                    let score = self.desk.scorer().score_of(lead_id, &staged.state);
                    let payload = codec::encode_score(&score, self.format);
                    send(
                        &self.producer,
                        BaseRecord::to(&self.topics.scores)
                            .key(lead_id.as_bytes())
                            .payload(&payload)
                            .headers(self.output_headers()),
                    )?;
                }
            }
        }
        self.batch.counts.score_updates = score_updates;
        Ok(())
    }

    /// Aborts the open transaction, drops its staged state and rewinds each
    /// partition to the batch's first offset.
    fn abort(&mut self, consumer: &BaseConsumer<RebalanceHandler>) {
        if self.batch.started.is_none() {
            return;
        }
        if let Err(e) = self.producer.abort_transaction(TXN_TIMEOUT) {
            self.fatal = Some(
                classify(&e, &self.settings)
                    .unwrap_or_else(|| PipelineError::Fatal(format!("abort_transaction: {e}"))),
            );
            return;
        }
        let batch = std::mem::take(&mut self.batch);
        // The batch changed state in place: rebuild what it touched from
        // the changelog, which holds exactly the committed states.
        let dirty: Vec<i32> = self
            .stores
            .iter()
            .filter(|(_, s)| s.is_dirty())
            .map(|(&p, _)| p)
            .collect();
        if !dirty.is_empty() {
            for p in &dirty {
                self.stores.remove(p);
            }
            tracing::info!(partitions = ?dirty, "restoring the state the aborted transaction changed");
            let restored = self.restore_stores(&dirty);
            self.status
                .restore_finished(&dirty, restored.is_ok(), self.leads_changed());
            if let Err(e) = restored {
                self.fatal = Some(e);
                return;
            }
        }
        // The batch is read again: so is its event time. A stream time left
        // at the aborted batch's latest event would fire SLA timers before
        // the re-read events that come earlier (a contact, say) are applied.
        self.stream_time.extend(&batch.stream_time);
        self.rebuild_timers();
        for (&(source, p), &first) in &batch.first {
            if !self.stores.contains_key(&p) {
                continue;
            }
            self.positions.insert((source, p), first);
            let topic = self.topic_of(source).to_owned();
            let rewound = match source {
                Source::Events => {
                    consumer.seek(&topic, p, Offset::Offset(first), Duration::from_secs(10))
                }
                Source::Feedback => {
                    self.feedback
                        .seek(&topic, p, Offset::Offset(first), Duration::from_secs(10))
                }
            };
            if let Err(e) = rewound {
                self.fatal = Some(PipelineError::Fatal(format!(
                    "cannot rewind partition {p} to offset {first} after an abort: {e}"
                )));
                return;
            }
        }
        telemetry::transaction_aborted();
        self.summary.aborted += 1;
    }

    fn on_revoke(&mut self, consumer: &BaseConsumer<RebalanceHandler>, partitions: &[i32]) {
        if consumer.assignment_lost() {
            tracing::warn!(
                ?partitions,
                "assignment lost; aborting the open transaction"
            );
            // Their state is dropped below; do not rebuild it first.
            for p in partitions {
                self.stores.remove(p);
            }
            self.abort(consumer);
        } else {
            self.commit(consumer);
        }
        for p in partitions {
            self.stores.remove(p);
            self.timers.remove(p);
            self.stream_time.remove(p);
            self.positions.remove(&(Source::Events, *p));
            self.positions.remove(&(Source::Feedback, *p));
        }
        let mut feedback = TopicPartitionList::new();
        for &p in partitions {
            feedback.add_partition(&self.topics.feedback, p);
        }
        if let Err(e) = self.feedback.incremental_unassign(&feedback) {
            self.fatal = Some(PipelineError::Fatal(format!(
                "cannot stop reading feedback: {e}"
            )));
        }
        tracing::info!(
            ?partitions,
            "partitions revoked; their lead state is dropped"
        );
        self.status.revoked(partitions, self.leads_changed());
    }

    fn on_assign(&mut self, consumer: &BaseConsumer<RebalanceHandler>, partitions: &[i32]) {
        // Keep the open transaction short: commit it before a long restore.
        self.commit(consumer);
        let fresh: Vec<i32> = partitions
            .iter()
            .copied()
            .filter(|p| !self.stores.contains_key(p))
            .collect();
        tracing::info!(partitions = ?fresh, "partitions assigned; restoring lead state");
        let restored = self.restore_stores(&fresh);
        let ok = restored.is_ok();
        match restored {
            Ok(leads) => {
                self.summary.leads_restored += leads as u64;
                if let Err(e) = self.follow_feedback(consumer, &fresh) {
                    self.fatal = Some(e);
                }
                self.rebuild_timers();
            }
            Err(e) => self.fatal = Some(e),
        }
        self.status
            .restore_finished(&fresh, ok, self.leads_changed());
    }

    /// Restores `partitions`' stores from the changelog; returns the number
    /// of leads restored. The caller reports the end to `status`.
    fn restore_stores(&mut self, partitions: &[i32]) -> Result<usize, PipelineError> {
        self.status.restore_started(partitions);
        let stores = super::restore::restore(
            &self.settings,
            &self.topics.changelog,
            partitions,
            &self.status,
        )?;
        let leads = stores.values().map(LeadStore::len).sum();
        self.stores.extend(stores);
        Ok(leads)
    }

    /// Starts reading the feedback partitions that match newly assigned
    /// events partitions, from the group's committed offsets.
    fn follow_feedback(
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
        }
        let committed = consumer
            .committed_offsets(wanted, Duration::from_secs(30))
            .map_err(|e| PipelineError::Fatal(format!("cannot read committed offsets: {e}")))?;
        let mut feedback = TopicPartitionList::new();
        for e in committed.elements() {
            let source = if e.topic() == self.topics.events {
                Source::Events
            } else {
                Source::Feedback
            };
            let offset = match e.offset() {
                Offset::Offset(o) => {
                    self.positions.insert((source, e.partition()), o);
                    Offset::Offset(o)
                }
                _ => Offset::Beginning,
            };
            if source == Source::Feedback {
                feedback
                    .add_partition_offset(&self.topics.feedback, e.partition(), offset)
                    .map_err(|e| PipelineError::Fatal(e.to_string()))?;
            }
        }
        self.feedback
            .incremental_assign(&feedback)
            .map_err(|e| PipelineError::Fatal(format!("cannot read feedback: {e}")))
    }

    /// Rebuilds the timer index and stream times from committed state.
    fn rebuild_timers(&mut self) {
        self.timers.clear();
        for (&p, store) in &self.stores {
            let timers = self.timers.entry(p).or_default();
            let mut latest = Millis::MIN;
            for (id, lead) in store.iter() {
                timers.update(id, lead);
                latest = latest.max(lead.updated_at);
            }
            let stream = self.stream_time.entry(p).or_insert(Millis::MIN);
            *stream = (*stream).max(latest);
        }
    }

    /// Publishes the number of committed leads; returns it.
    fn leads_changed(&self) -> usize {
        let leads = self.stores.values().map(LeadStore::len).sum();
        telemetry::leads_in_state(leads);
        self.status.set_leads(leads);
        leads
    }

    /// Answers the admin edge's look-ups from committed state.
    fn answer_queries(&self) {
        self.status.answer(|partition, lead_id| {
            let state = self.stores.get(&partition)?.get(lead_id)?;
            Some(LeadView::new(self.desk.scorer(), lead_id, state))
        });
    }
}

fn wall_clock_ms() -> Millis {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as Millis)
}

/// When the lead was first contacted, before an event is applied.
fn first_contact(lead: &crate::core::LeadState) -> Option<Option<Millis>> {
    lead.handoff.as_ref().map(|h| h.first_contact_at)
}

fn rejection_field(r: &Rejection) -> &str {
    match r {
        Rejection::MissingField(f) => f,
        Rejection::InvalidField { field, .. } => field,
        _ => "",
    }
}

/// Waits (up to `timeout`) until every record sent is acknowledged and its
/// delivery report served, so that `commit_transaction` finds nothing left
/// to flush. rust-rdkafka's `commit_transaction` flushes first, and its
/// flush waits in `poll` steps of up to 100 ms on the queue that the
/// `ThreadedProducer`'s own thread drains: with anything in flight, every
/// commit slept a whole step (measured: 100 ms of each ~110 ms commit).
/// Waiting here in short steps costs only the broker's acknowledgement.
pub fn wait_delivered(producer: &ThreadedProducer<DefaultProducerContext>, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    while producer.in_flight_count() > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_micros(200));
    }
}

/// Enqueues a record, waiting while the producer queue is full.
fn send<K, P>(
    producer: &ThreadedProducer<DefaultProducerContext>,
    mut record: BaseRecord<'_, K, P>,
) -> Result<(), KafkaError>
where
    K: rdkafka::message::ToBytes + ?Sized,
    P: rdkafka::message::ToBytes + ?Sized,
{
    loop {
        match producer.send(record) {
            Ok(()) => return Ok(()),
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                record = r;
                std::thread::sleep(Duration::from_millis(1));
            }
            Err((e, _)) => return Err(e),
        }
    }
}

/// Consumer context that commits, restores and drops lead state around
/// rebalances. Callbacks run on the loop thread, inside `poll`.
struct RebalanceHandler {
    engine: Arc<Mutex<Engine>>,
}

impl ClientContext for RebalanceHandler {
    fn stats(&self, statistics: Statistics) {
        super::stats::record_consumer_lag(&statistics);
    }
}

impl RebalanceHandler {
    fn partitions(&self, tpl: &TopicPartitionList, engine: &Engine) -> Vec<i32> {
        tpl.elements()
            .iter()
            .filter(|e| e.topic() == engine.topics.events)
            .map(|e| e.partition())
            .collect()
    }
}

impl ConsumerContext for RebalanceHandler {
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Revoke(tpl) = rebalance {
            let mut e = lock(&self.engine);
            let partitions = self.partitions(tpl, &e);
            e.on_revoke(consumer, &partitions);
        }
    }

    fn post_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        match rebalance {
            Rebalance::Assign(tpl) => {
                let mut e = lock(&self.engine);
                let partitions = self.partitions(tpl, &e);
                e.on_assign(consumer, &partitions);
            }
            Rebalance::Error(err) => tracing::warn!(error = %err, "rebalance error"),
            Rebalance::Revoke(_) => {}
        }
    }
}
