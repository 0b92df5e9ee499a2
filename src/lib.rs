//! leadpulse turns website and engagement events on Kafka into explainable
//! lead scores and hot-lead alerts, exactly once.
//!
//! # Layout
//! - [`core`]: the pure scoring core (event → lead state → alert). No I/O,
//!   no clocks; every mode below drives it.
//! - [`codec`]: JSON and protobuf bytes ⇄ domain types, with errors that
//!   name the field.
//! - [`kafka`]: the Kafka edge: topics, the transactional
//!   consume-score-produce loop, rebalances and changelog restore.
//! - [`replay`]: the same core over an NDJSON file; the oracle for `run`.
//! - [`backtest`]: the `replay --report` backtest of one model or two.
//! - [`demo`]: the whole service on an in-process Kafka cluster.
//! - [`generate`]: a deterministic synthetic event stream.
//! - [`settings`]: the service configuration file.
//! - [`telemetry`]: logging setup and every metric name.
//! - [`admin`]: the admin HTTP edge (`/metrics`, `/healthz`, `/readyz`,
//!   `/leads/{id}`).
//! - [`produce`]: `leadpulse generate --kafka`: the generator to Kafka.
//! - [`report`]: the sales check-in report (pure), as Markdown or HTML;
//!   [`report_input`] reads its records from a replay folder or Kafka.
//! - [`simulate`]: a deterministic sales team giving feedback on alerts.
//! - [`passthrough`]: the I/O floor for benchmarks: the Kafka loop's
//!   transactions with no scoring.

pub mod admin;
pub mod backtest;
pub mod codec;
pub mod core;
pub mod demo;
pub mod generate;
pub mod kafka;
pub mod passthrough;
pub mod produce;
pub mod replay;
pub mod report;
pub mod report_input;
pub mod settings;
pub mod simulate;
pub mod telemetry;

/// Generated protobuf types (`proto/leadpulse/v1`).
pub mod proto {
    include!(concat!(env!("OUT_DIR"), "/leadpulse.v1.rs"));

    /// The `FileDescriptorSet` of `proto/`, for clients in other languages
    /// (`leadpulse proto-descriptors > leadpulse.fds`).
    pub const FILE_DESCRIPTOR_SET: &[u8] =
        include_bytes!(concat!(env!("OUT_DIR"), "/leadpulse.fds"));
}
