//! `leadpulse run`'s loop: poll, score, fire timers, commit every interval.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, Consumer};

use super::engine::{Batch, Engine};
use super::rebalance::{lock, RebalanceHandler};
use super::registry::{OutputFraming, Registry};
use super::stats::{FeedbackReader, StableOffsets};
use super::status::Status;
use super::topics::TopicNames;
use super::txn::Transactions;
use super::PipelineError;
use crate::config::Settings;
use crate::config::Topic;
use crate::core::tally::BatchCounts;
use crate::core::{Desk, Model, Roster, Scorer};
use crate::telemetry;

/// The registry client of framed inputs and the outputs' framing, their
/// schemas registered (`[schema_registry]`; neither without the section).
fn schema_registry(
    settings: &Settings,
    shutdown: &AtomicBool,
) -> Result<(Option<Registry>, OutputFraming), PipelineError> {
    let Some(s) = &settings.schema_registry else {
        return Ok((None, OutputFraming::default()));
    };
    let registry = Registry::new(s).map_err(PipelineError::SchemaRegistry)?;
    // A registry away at the start delays only the records that need it;
    // one that answers something else than its API is a wrong URL.
    match registry.check() {
        Ok(true) => tracing::info!("schema registry answers"),
        Ok(false) => tracing::warn!("schema registry not answering yet"),
        Err(e) => {
            return Err(PipelineError::SchemaRegistry(format!(
                "{e} for GET /subjects: is schema_registry.url the base of its Confluent API, \
                 and are its credentials right?"
            )))
        }
    }
    let framing = if s.outputs {
        let stop = || shutdown.load(Ordering::Relaxed);
        super::registry::register_outputs(settings, &registry, &stop)
            .map_err(PipelineError::SchemaRegistry)?
    } else {
        OutputFraming::default()
    };
    Ok((Some(registry), framing))
}

/// At most this many fetched events are scored between two polls of the
/// watch and feedback readers and two timer checks.
const EVENTS_PER_ROUND: usize = 1_000;

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
    // Every watch written before the start applies from its first event.
    let mut watches = super::watches::WatchTable::open(settings)?;
    let read = watches.bootstrap(Duration::from_secs(120))?;
    tracing::info!(watches = read, topic = %topics.watches, "watch table read");
    status.set_watches(watches.watches().clone());
    let (registry, framing) = schema_registry(settings, shutdown)?;
    let txn = Transactions::init(settings)?;
    let stable = StableOffsets::default();
    let feedback: BaseConsumer<FeedbackReader> = super::reader_config(settings)
        .set(
            "group.id",
            format!("{}-feedback-reader", settings.kafka.group_id),
        )
        .set("enable.partition.eof", "false")
        .set("statistics.interval.ms", "1000")
        .create_with_context(FeedbackReader(stable.clone()))
        .map_err(PipelineError::ClientSetup)?;
    let engine = Arc::new(Mutex::new(Engine {
        settings: settings.clone(),
        txn,
        desk: Desk::new(Scorer::new(model), roster),
        feedback: Arc::new(feedback),
        partitions: BTreeMap::new(),
        accounts: BTreeMap::new(),
        shadow: super::shadow::load(settings)?,
        shadows: BTreeMap::new(),
        positions: BTreeMap::new(),
        topics,
        format: settings.pipeline.output_format,
        max_future_skew: settings.pipeline.max_future_skew_secs.saturating_mul(1000),
        max_record: super::max_record_bytes(settings),
        batch: Batch::default(),
        summary: RunSummary::default(),
        deferred: None,
        status,
        stable: stable.clone(),
        consumer_errors: 0,
        last_consumer_warning: None,
        watches,
        registry,
        held: Default::default(),
        framing,
        partition_count: partitions,
    }));
    let consumer: BaseConsumer<RebalanceHandler> = super::consumer_config(settings)
        .create_with_context(RebalanceHandler {
            engine: engine.clone(),
            stable,
        })
        .map_err(PipelineError::ClientSetup)?;
    consumer
        .subscribe(&[&settings.topics.events])
        .map_err(|source| PipelineError::Kafka {
            during: "subscribe",
            source,
        })?;

    let interval = Duration::from_millis(settings.pipeline.commit_interval_ms);
    while !shutdown.load(Ordering::Relaxed) {
        let wait = lock(&engine)?
            .txn
            .open_since()
            .map_or(Duration::from_millis(100), |t| {
                interval.saturating_sub(t.elapsed())
            });
        // Rebalance callbacks run inside poll and take the engine lock.
        let polled = consumer.poll(wait);
        let mut e = lock(&engine)?;
        if let Some(err) = e.deferred.take() {
            return Err(err);
        }
        let mut more = match polled {
            Some(Ok(m)) => {
                e.process(&consumer, &m, Topic::Events)?;
                true
            }
            Some(Err(err)) => {
                e.consumer_error(err)?;
                false
            }
            None => false,
        };
        // Take what is already fetched before the once-a-round work below:
        // polling the watch and feedback readers and the timers costs more
        // than scoring an event, so doing it per event would dominate.
        let mut taken = 1;
        while more && taken < EVENTS_PER_ROUND {
            if e.txn.open_since().is_some_and(|t| t.elapsed() >= interval) {
                break;
            }
            // Rebalance callbacks run inside poll and take the engine lock.
            drop(e);
            let next = consumer.poll(Duration::ZERO);
            e = lock(&engine)?;
            if let Some(err) = e.deferred.take() {
                return Err(err);
            }
            more = match next {
                Some(Ok(m)) => {
                    e.process(&consumer, &m, Topic::Events)?;
                    true
                }
                Some(Err(err)) => {
                    e.consumer_error(err)?;
                    false
                }
                None => false,
            };
            taken += 1;
        }
        // New watches; the admin edge shows what the loop matches against.
        if e.watches.poll() {
            e.status.set_watches(e.watches.watches().clone());
        }
        e.poll_feedback(&consumer)?;
        e.retry_holds(&consumer)?;
        e.fire_timers(&consumer)?;
        if e.txn.open_since().is_some_and(|t| t.elapsed() >= interval) {
            e.commit(&consumer)?;
        }
        if !e.txn.is_open() {
            // State is changed in place, so it is the committed state only
            // between transactions: look-ups wait for the commit.
            e.answer_queries();
            // A new model takes effect between transactions.
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
    }

    tracing::info!("shutting down: committing the open transaction");
    {
        let mut e = lock(&engine)?;
        e.status.set_stopping();
        e.commit(&consumer)?;
    }
    // Closing the consumer leaves the group; the revoke callback finds
    // nothing left to commit. An error it meets keeps its kind.
    drop(consumer);
    let mut e = lock(&engine)?;
    if let Some(err) = e.deferred.take() {
        return Err(err);
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
