//! Admission: why an input is refused and sent to the dead-letter topic.

use std::fmt;

use super::event::{Event, Millis};

/// Text from an input, safe to show in a one-line report: control
/// characters (newlines above all), line and paragraph separators and
/// bidirectional overrides are written as `\u{..}` escapes (`\n`, `\r`,
/// `\t` as such), so a refused value can never forge report lines or
/// reorder what is shown. Everything else is shown as it is.
#[derive(Debug, Clone, Copy)]
pub struct Shown<'a>(pub &'a str);

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        while let Some(i) = rest.find(needs_escape) {
            f.write_str(&rest[..i])?;
            let c = rest[i..].chars().next().expect("a char at a found index");
            match c {
                '\n' => f.write_str("\\n")?,
                '\r' => f.write_str("\\r")?,
                '\t' => f.write_str("\\t")?,
                c => write!(f, "\\u{{{:x}}}", c as u32)?,
            }
            rest = &rest[i + c.len_utf8()..];
        }
        f.write_str(rest)
    }
}

fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{2028}' | '\u{2029}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
        )
}

/// Why an input record was not scored. Each goes to the dead-letter topic
/// with its [`code`](Rejection::code) and message; none stops a partition.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// The bytes are not valid JSON or protobuf.
    #[error("malformed {format}: {}", Shown(.detail))]
    Malformed {
        format: &'static str,
        detail: String,
    },
    /// A required field is absent or empty.
    #[error("missing field `{}`", Shown(.0))]
    MissingField(String),
    /// A field is present but its value is unusable.
    #[error("invalid field `{}`: {}", Shown(.field), Shown(.detail))]
    InvalidField { field: String, detail: String },
    /// The `type` is not one leadpulse knows.
    #[error("unknown event type `{}`", Shown(.0))]
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
    #[error("lead `{}` would exceed its state limit: {}", Shown(.lead_id), Shown(.detail))]
    StateLimit { lead_id: String, detail: String },
}

impl Rejection {
    /// The field a missing or invalid field rejection names; empty otherwise.
    pub fn field(&self) -> &str {
        match self {
            Rejection::MissingField(f) => f,
            Rejection::InvalidField { field, .. } => field,
            _ => "",
        }
    }

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refused_values_cannot_forge_report_lines() {
        let forged =
            "x\nline 7: unknown event type `y`\r\n12000 events, 0 dead-lettered\u{2028}\u{202e}";
        let shown = Rejection::UnknownType(forged.into()).to_string();
        assert!(
            !shown.contains(['\n', '\r', '\u{2028}', '\u{202e}']),
            "{shown}"
        );
        assert_eq!(
            shown,
            "unknown event type `x\\nline 7: unknown event type `y`\\r\\n12000 events, 0 dead-lettered\\u{2028}\\u{202e}`"
        );
        for r in [
            Rejection::MissingField("a\nb".into()),
            Rejection::InvalidField {
                field: "attributes.a\nb".into(),
                detail: "c\u{0}d".into(),
            },
            Rejection::Malformed {
                format: "json",
                detail: "e\nf".into(),
            },
            Rejection::StateLimit {
                lead_id: "L\n1".into(),
                detail: "g\x1bh".into(),
            },
        ] {
            let s = r.to_string();
            assert!(!s.chars().any(char::is_control), "{s:?}");
        }
        assert_eq!(Shown("Zoë, ünïcode ✓").to_string(), "Zoë, ünïcode ✓");
    }
}
