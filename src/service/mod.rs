//! The Kafka edge: topic setup, the transactional consume → score → produce
//! loop, rebalance handling and changelog restore.
//!
//! Everything here is blocking and runs on a dedicated thread: librdkafka's
//! transactional calls block, and rebalance callbacks are synchronous.

mod accounts;
pub mod admin;
mod client;
mod engine;
mod merges;
mod model_watch;
mod outputs;
mod preflight;
mod rebalance;
pub mod registry;
mod restore;
mod run;
mod schemas;
mod shadow;
mod stats;
pub mod status;
mod topics;
mod txn;
pub mod watches;

pub(crate) use client::client_base;
pub use client::{
    client_error, consumer_config, max_record_bytes, producer_config, reader_config, Reader,
};
pub use model_watch::ModelWatcher;
pub use preflight::{check_connection, check_reachable};
pub use run::{run, run_with_status, RunSummary};
pub use topics::{ensure_topics, TopicNames};
pub use txn::wait_delivered;

/// Why the service stopped with an error. Each is logged once and makes the
/// process exit non-zero so an orchestrator restarts it.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// Topics are missing, mismatched or could not be created.
    #[error("topic setup failed: {0}")]
    Topics(String),
    /// A Kafka client could not be created or configured.
    #[error("kafka client setup failed: {0}")]
    Client(String),
    /// librdkafka refused a client's configuration. Not a `#[source]`:
    /// rust-rdkafka's text of a configuration error repeats the property's
    /// value, which may be a secret, so only [`client_error`]'s is shown.
    #[error("kafka client setup failed: {}", client_error(.0))]
    ClientSetup(rdkafka::error::KafkaError),
    /// Another instance with the same transactional id took over.
    #[error("producer fenced: another instance with transactional.id `{transactional_id}` is running; exiting")]
    Fenced {
        transactional_id: String,
        #[source]
        source: rdkafka::error::KafkaError,
    },
    /// A Kafka call failed in a way the loop cannot recover from.
    #[error("fatal kafka error during {during}")]
    Kafka {
        during: &'static str,
        #[source]
        source: rdkafka::error::KafkaError,
    },
    /// The brokers did not answer in time; the caller retries, and the
    /// instance is not ready meanwhile.
    #[error("kafka unavailable during {during}")]
    Unavailable {
        during: &'static str,
        #[source]
        source: rdkafka::error::KafkaError,
    },
    /// The service's own state cannot be trusted any more.
    #[error("fatal error: {0}")]
    Fatal(String),
    /// State could not be restored from the changelog.
    #[error("restore from changelog failed: {0}")]
    Restore(String),
    /// No broker answered at all (wrong address, broker down).
    #[error("{0}")]
    Unreachable(String),
    /// The brokers refused our credentials or TLS identity.
    #[error("{0}")]
    Authentication(String),
    /// The Schema Registry refused the outputs' schemas, or cannot be used.
    #[error("schema registry: {0}")]
    SchemaRegistry(String),
}
