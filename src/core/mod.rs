//! The scoring core: event → lead state → decisions.
//!
//! Pure and deterministic on event time: no clocks, no I/O, no async. The
//! Kafka service (`run`), file replay (`replay`) and the embedded demo all
//! drive this same code, which is why `replay` can serve as the oracle for
//! the service.

pub mod admit;
pub mod event;
pub mod lead;
pub mod model;
pub mod scorer;
pub mod store;

pub use admit::{admit, Rejection};
pub use event::{Event, EventKind, EventType, Millis, HOUR_MS};
pub use lead::{Contribution, LeadState};
pub use model::{Model, ModelError, Rule};
pub use scorer::{Alert, LeadScore, Outcome, Reason, Scorer};
pub use store::LeadStore;

#[cfg(test)]
pub(crate) mod tests;
