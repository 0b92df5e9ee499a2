//! Admission: why an input is refused and sent to the dead-letter topic.

use super::event::{Event, Millis};

/// Why an input record was not scored. Each goes to the dead-letter topic
/// with its [`code`](Rejection::code) and message; none stops a partition.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// The bytes are not valid JSON or protobuf.
    #[error("malformed {format}: {detail}")]
    Malformed {
        format: &'static str,
        detail: String,
    },
    /// A required field is absent or empty.
    #[error("missing field `{0}`")]
    MissingField(String),
    /// A field is present but its value is unusable.
    #[error("invalid field `{field}`: {detail}")]
    InvalidField { field: String, detail: String },
    /// The `type` is not one leadpulse knows.
    #[error("unknown event type `{0}`")]
    UnknownType(String),
    /// `occurred_at` is implausibly far ahead of when the record was written.
    #[error("occurred_at is {ahead_secs} s ahead of the record time (limit {limit_secs} s)")]
    FutureTimestamp { ahead_secs: i64, limit_secs: i64 },
    /// The record key is not the event's `lead_id`, so the lead's events may
    /// be split across partitions and its score would be wrong.
    #[error("record key does not match lead_id")]
    KeyMismatch,
    /// Applying the event would take its lead's state past a limit
    /// (docs/events.md), so the lead's record would no longer fit Kafka.
    #[error("lead `{lead_id}` would exceed its state limit: {detail}")]
    StateLimit { lead_id: String, detail: String },
}

impl Rejection {
    /// A short, stable code for metrics and the `leadpulse-dlq-reason` header.
    pub fn code(&self) -> &'static str {
        match self {
            Rejection::Malformed { .. } => "malformed",
            Rejection::MissingField(_) => "missing_field",
            Rejection::InvalidField { .. } => "invalid_field",
            Rejection::UnknownType(_) => "unknown_type",
            Rejection::FutureTimestamp { .. } => "future_timestamp",
            Rejection::KeyMismatch => "key_mismatch",
            Rejection::StateLimit { .. } => "state_limit",
        }
    }
}

/// Refuses an event dated more than `max_future_skew` after `reference`, the
/// time the record was written (the Kafka record timestamp in `run`, the
/// replay's reference time in `replay`). Such events would otherwise pin a
/// lead's event time in the future.
pub fn admit(event: &Event, reference: Millis, max_future_skew: Millis) -> Result<(), Rejection> {
    let ahead = event.occurred_at.saturating_sub(reference);
    if ahead > max_future_skew {
        return Err(Rejection::FutureTimestamp {
            ahead_secs: ahead / 1000,
            limit_secs: max_future_skew / 1000,
        });
    }
    Ok(())
}
