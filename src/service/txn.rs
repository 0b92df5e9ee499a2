//! The transaction: the one type that calls librdkafka's transactional
//! producer API, and the one place its errors are classified (as Kafka
//! Streams' `StreamsProducer` does).
//!
//! | state | call     | ok   | abortable error          | fatal or fenced |
//! |-------|----------|------|--------------------------|-----------------|
//! | Idle  | `begin`  | Open | —                        | exit 2          |
//! | Idle  | `send`, `commit`, `abort` | — (a bug: refused) | | |
//! | Open  | `begin`  | Open (no-op: begun lazily by the first record) | | |
//! | Open  | `send`   | Open | caller aborts            | exit 2          |
//! | Open  | `commit` | Idle (retried while the brokers are away) | stays Open; caller aborts | lost, or exit 2 |
//! | Open  | `abort`  | Idle | retried while the brokers are away; else lost | lost, or exit 2 |
//!
//! Every call is bounded by one timeout, half of `transaction.timeout.ms`,
//! so a call that gives up leaves time for the abort that follows it before
//! the broker aborts the transaction itself. A commit call the brokers do
//! not answer in time is made again until they do: librdkafka resumes it,
//! and refuses any other call (the abort included) while it is under way.
//!
//! **Lost** is an error fatal to this producer but not to the service: the
//! brokers were away for longer than the transaction timeout, the
//! coordinator aborted the transaction and bumped the producer's epoch, and
//! librdkafka now refuses the abort (`INVALID_TXN_STATE`, a fatal error, an
//! epoch fence). The engine then re-creates the producer ([`Transactions::reset`],
//! whose `init_transactions` finishes whatever the old one left open) and
//! rebuilds every partition from committed state, as Kafka Streams does for
//! a corrupted task. A fence met by a transaction younger than the
//! transaction timeout cannot come from the coordinator's own abort: another
//! instance with the same `transactional.id` took over, and the service
//! exits 2.

use std::time::{Duration, Instant};

use rdkafka::consumer::ConsumerGroupMetadata;
use rdkafka::error::{KafkaError, RDKafkaError};
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::TopicPartitionList;

use super::PipelineError;
use crate::config::Settings;

/// Whether a transaction is open, and since when.
enum Txn {
    Idle,
    Open {
        started: Instant,
        /// Each record and the commit run inside it.
        span: tracing::Span,
    },
}

/// A failed call inside an open transaction.
#[derive(Debug)]
pub(super) enum TxnError {
    /// Abort, rewind the inputs and read the batch again.
    Abortable(KafkaError),
    /// This producer cannot go on, the service can: re-create the producer
    /// and rebuild every partition from committed state (module doc).
    Lost(KafkaError),
    /// The service cannot go on.
    Fatal(PipelineError),
}

/// The transactional producer and the state of its transaction.
pub(super) struct Transactions {
    producer: ThreadedProducer<DefaultProducerContext>,
    state: Txn,
    /// The bound of every call (see the module doc).
    timeout: Duration,
    /// `transaction.timeout.ms`: a transaction open longer may have been
    /// aborted by the coordinator.
    transaction_timeout: Duration,
    transactional_id: String,
    /// Transactions begun so far, for the span's sequence number.
    begun: u64,
}

impl Transactions {
    /// Creates the producer and fences any predecessor with the same
    /// transactional id (which aborts what it left open).
    pub(super) fn init(settings: &Settings) -> Result<Self, PipelineError> {
        let mut t = Transactions {
            producer: Self::producer(settings)?,
            state: Txn::Idle,
            timeout: call_timeout(settings),
            transaction_timeout: Duration::from_millis(settings.pipeline.transaction_timeout_ms),
            transactional_id: settings.kafka.transactional_id(),
            begun: 0,
        };
        t.init_transactions()?;
        Ok(t)
    }

    fn producer(
        settings: &Settings,
    ) -> Result<ThreadedProducer<DefaultProducerContext>, PipelineError> {
        super::producer_config(settings)
            .create()
            .map_err(PipelineError::ClientSetup)
    }

    /// `init_transactions`, tried again while the brokers are away: a new
    /// producer cannot be refused for that, only for a fatal reason.
    fn init_transactions(&mut self) -> Result<(), PipelineError> {
        let mut backoff = Duration::from_millis(200);
        let mut attempts = 0u32;
        loop {
            match self.producer.init_transactions(self.timeout) {
                Ok(()) => return Ok(()),
                Err(KafkaError::Transaction(e)) if e.is_retriable() && !e.is_fatal() => {
                    attempts += 1;
                    tracing::warn!(error = %e, attempts, "cannot initialise the transactional producer yet; retrying");
                    std::thread::sleep(backoff);
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
                Err(e) => return Err(self.fatal("init_transactions", e)),
            }
        }
    }

    /// Replaces a lost producer by a new one with the same transactional
    /// id. Its `init_transactions` fences the old producer and completes
    /// (aborts) the transaction it left open, so afterwards the changelog
    /// and the group's offsets read with read_committed are the committed
    /// state. Waits while the brokers are away.
    pub(super) fn reset(&mut self, settings: &Settings) -> Result<(), PipelineError> {
        self.state = Txn::Idle;
        // The old producer is dropped (its queue purged) as it is replaced.
        self.producer = Self::producer(settings)?;
        self.init_transactions()
    }

    /// The bound of every transactional call.
    pub(super) fn timeout(&self) -> Duration {
        self.timeout
    }

    pub(super) fn is_open(&self) -> bool {
        matches!(self.state, Txn::Open { .. })
    }

    /// When the open transaction began.
    pub(super) fn open_since(&self) -> Option<Instant> {
        match &self.state {
            Txn::Open { started, .. } => Some(*started),
            Txn::Idle => None,
        }
    }

    /// The open transaction's span.
    pub(super) fn span(&self) -> Option<tracing::Span> {
        match &self.state {
            Txn::Open { span, .. } => Some(span.clone()),
            Txn::Idle => None,
        }
    }

    /// Opens a transaction unless one is open.
    pub(super) fn begin(&mut self) -> Result<(), TxnError> {
        if self.is_open() {
            return Ok(());
        }
        self.producer.begin_transaction().map_err(|e| {
            match self.classify("begin_transaction", e) {
                TxnError::Abortable(e) => TxnError::Fatal(PipelineError::Kafka {
                    during: "begin_transaction",
                    source: e,
                }),
                other => other,
            }
        })?;
        self.begun += 1;
        self.state = Txn::Open {
            started: Instant::now(),
            span: tracing::info_span!("transaction", seq = self.begun),
        };
        Ok(())
    }

    /// Enqueues a record in the open transaction, waiting (at most one call
    /// timeout) while the producer queue is full.
    pub(super) fn send<K, P>(&self, mut record: BaseRecord<'_, K, P>) -> Result<(), TxnError>
    where
        K: rdkafka::message::ToBytes + ?Sized,
        P: rdkafka::message::ToBytes + ?Sized,
    {
        if !self.is_open() {
            return Err(TxnError::Fatal(PipelineError::Fatal(
                "a record was sent outside a transaction".into(),
            )));
        }
        let deadline = Instant::now() + self.timeout;
        loop {
            match self.producer.send(record) {
                Ok(()) => return Ok(()),
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r))
                    if Instant::now() < deadline =>
                {
                    record = r;
                    std::thread::sleep(Duration::from_millis(1));
                }
                Err((e, _)) => return Err(self.classify("send", e)),
            }
        }
    }

    /// Adds the consumer offsets and commits. On success the transaction is
    /// closed and how long it was open is returned; on an abortable error it
    /// stays open for the caller to abort.
    pub(super) fn commit(
        &mut self,
        offsets: &TopicPartitionList,
        group: &ConsumerGroupMetadata,
    ) -> Result<Duration, TxnError> {
        let Some(started) = self.open_since() else {
            return Err(TxnError::Fatal(PipelineError::Fatal(
                "commit without an open transaction".into(),
            )));
        };
        // A call that timed out must be called again to resume: librdkafka
        // refuses any other (an abort included) while it is under way.
        self.resume("send_offsets_to_transaction", |p, t| {
            p.send_offsets_to_transaction(offsets, group, t)
        })?;
        wait_delivered(&self.producer, self.timeout);
        self.resume("commit_transaction", |p, t| p.commit_transaction(t))?;
        self.state = Txn::Idle;
        Ok(started.elapsed())
    }

    /// Calls `call` until it is done, again while it times out (the
    /// brokers are away: librdkafka asks for the same call to resume it,
    /// and refuses any other meanwhile), backing off up to 5 s. Any other
    /// error is classified.
    fn resume(
        &self,
        during: &'static str,
        mut call: impl FnMut(
            &ThreadedProducer<DefaultProducerContext>,
            Duration,
        ) -> rdkafka::error::KafkaResult<()>,
    ) -> Result<(), TxnError> {
        let mut backoff = Duration::from_millis(100);
        let mut attempts = 0u32;
        loop {
            match call(&self.producer, self.timeout) {
                Ok(()) => return Ok(()),
                // Only a timeout leaves the call under way; any other error
                // ends it (and a rebalance, say, needs the loop to poll).
                Err(KafkaError::Transaction(e))
                    if e.code() == RDKafkaErrorCode::OperationTimedOut
                        && !e.is_fatal()
                        && !e.txn_requires_abort() =>
                {
                    attempts += 1;
                    tracing::warn!(error = %e, attempts, during, "retrying");
                    std::thread::sleep(backoff);
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
                Err(e) => return Err(self.classify(during, e)),
            }
        }
    }

    /// Aborts the open transaction. While the brokers do not answer (a
    /// retriable timeout) it tries again, backing off up to 5 s, for as
    /// long as they stay away: the loop cannot go on before the abort, and
    /// exiting would only restart into the same wait. Any other failure
    /// loses this producer (or, fenced, stops the service): the new
    /// producer's `init_transactions` aborts the transaction instead.
    pub(super) fn abort(&mut self) -> Result<(), TxnError> {
        if !self.is_open() {
            return Ok(());
        }
        let mut backoff = Duration::from_millis(200);
        let mut attempts = 0u32;
        loop {
            match self.producer.abort_transaction(self.timeout) {
                Ok(()) => break,
                Err(KafkaError::Transaction(e)) if e.is_retriable() && !e.is_fatal() => {
                    attempts += 1;
                    tracing::warn!(error = %e, attempts, "cannot abort the transaction yet; retrying");
                    std::thread::sleep(backoff);
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
                Err(e) => {
                    return Err(match self.classify("abort_transaction", e) {
                        TxnError::Abortable(e) => TxnError::Lost(e),
                        other => other,
                    })
                }
            }
        }
        self.state = Txn::Idle;
        Ok(())
    }

    /// Classifies an error of a call inside an open transaction.
    fn classify(&self, during: &'static str, e: KafkaError) -> TxnError {
        match &e {
            KafkaError::Transaction(t) if is_fenced(t) && !self.outlived_timeout() => {
                TxnError::Fatal(PipelineError::Fenced {
                    transactional_id: self.transactional_id.clone(),
                    source: e,
                })
            }
            KafkaError::Transaction(t) if is_fenced(t) || t.is_fatal() => {
                tracing::warn!(error = %t, during, "the transactional producer is lost");
                TxnError::Lost(e)
            }
            _ => TxnError::Abortable(e),
        }
    }

    /// Whether the open transaction has been open for the transaction
    /// timeout: only then can the coordinator have aborted it and bumped
    /// this producer's epoch, so that a fence is this producer's own.
    fn outlived_timeout(&self) -> bool {
        self.open_since()
            .is_some_and(|t| t.elapsed() >= self.transaction_timeout)
    }

    /// An error of a call that has no abortable outcome (nor a lost one:
    /// `init_transactions` is how a lost producer is replaced).
    fn fatal(&self, during: &'static str, e: KafkaError) -> PipelineError {
        match self.classify(during, e) {
            TxnError::Fatal(f) => f,
            TxnError::Abortable(source) | TxnError::Lost(source) => {
                PipelineError::Kafka { during, source }
            }
        }
    }
}

/// Half the transaction timeout: see the module doc.
pub(super) fn call_timeout(settings: &Settings) -> Duration {
    Duration::from_millis(settings.pipeline.transaction_timeout_ms / 2)
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

#[cfg(test)]
mod tests {
    use super::call_timeout;
    use crate::config::Settings;

    #[test]
    fn every_client_timeout_fits_inside_the_transaction_timeout() {
        for txn_ms in [1_500u64, 10_000, 60_000] {
            let mut settings = Settings::default();
            settings.pipeline.transaction_timeout_ms = txn_ms;
            let call = call_timeout(&settings).as_millis() as u64;
            // A call that gives up leaves time for the abort after it.
            assert!(2 * call <= txn_ms, "{call} ms of {txn_ms}");
            let producer = super::super::producer_config(&settings);
            let message: u64 = producer.get("message.timeout.ms").unwrap().parse().unwrap();
            let txn: u64 = producer
                .get("transaction.timeout.ms")
                .unwrap()
                .parse()
                .unwrap();
            assert_eq!(txn, txn_ms);
            assert!(message < txn, "delivery gives up before the transaction");
        }
    }
}
