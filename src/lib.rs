//! leadpulse turns website and engagement events on Kafka into explainable
//! lead scores and hot-lead alerts, exactly once.
//!
//! # Layout
//! The workspace's crates are its layering, so the compiler checks it:
//! - [`core`] (`crates/leadpulse-core`): the pure scoring core (event → lead
//!   state → decisions), the sales desk and the per-partition driver. No
//!   I/O, no clocks, no Kafka; every mode below drives it.
//! - [`codec`] (`crates/leadpulse-codec`): JSON and protobuf bytes ⇄ the
//!   core's types, with errors that name the field; `proto/`'s generated
//!   types.
//!
//! This crate holds the edges, one folder per audience:
//! - [`service`]: everything `leadpulse run` needs: topics, the
//!   transactional consume-score-produce loop, rebalances, changelog
//!   restore and the admin HTTP edge.
//! - [`offline`]: what marketing ops run on files: `replay` (the oracle for
//!   `run`), the `replay --report` backtest and the sales check-in report.
//! - [`tools`]: developer tools: the event generator, `generate --kafka`,
//!   the embedded demo and the simulated sales team.
//! - [`notify`]: `leadpulse notify`, which delivers alerts to people (Standard
//!   Webhooks, Slack, email, Teams) and takes their one-click feedback.
//! - [`config`]: the service's configuration file and its checks.
//! - [`telemetry`]: logging setup and every metric name.
//!
//! The binaries are `src/bin/leadpulse` (one file per subcommand under
//! `commands/`) and `src/bin/leadpulse-bench` (benchmarks, with the I/O
//! floor).

pub use leadpulse_codec as codec;
pub use leadpulse_codec::proto;
pub use leadpulse_core as core;

pub mod config;
pub mod notify;
pub mod offline;
pub mod service;
pub mod telemetry;
pub mod tools;
