//! The Kafka edge: topic setup, the transactional consume → score → produce
//! loop, rebalance handling and changelog restore.
//!
//! Everything here is blocking and runs on a dedicated thread: librdkafka's
//! transactional calls block, and rebalance callbacks are synchronous.

pub mod admin;
mod client;
mod model_watch;
mod pipeline;
mod preflight;
mod restore;
mod stats;
pub mod status;
mod topics;

pub(crate) use client::client_base;
pub use client::{consumer_config, producer_config, reader_config, Reader};
pub use model_watch::ModelWatcher;
pub use pipeline::wait_delivered;
pub use pipeline::{run, run_with_status, RunSummary};
pub use preflight::{check_connection, check_reachable};
pub use topics::{ensure_topics, TopicNames};

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
    /// Another instance with the same transactional id took over.
    #[error("producer fenced: another instance with transactional.id `{0}` is running; exiting")]
    Fenced(String),
    /// librdkafka reported an unrecoverable error.
    #[error("fatal kafka error: {0}")]
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
}
