//! RFC 3339 timestamps ⇄ event-time milliseconds.

use ::time::format_description::well_known::Rfc3339;
use ::time::OffsetDateTime;

use crate::core::Millis;

/// Parses an RFC 3339 timestamp (`2026-11-20T10:00:00Z`) to epoch milliseconds.
pub fn parse_rfc3339(s: &str) -> Result<Millis, String> {
    let t = OffsetDateTime::parse(s, &Rfc3339)
        .map_err(|e| format!("not an RFC 3339 timestamp: {e}"))?;
    Ok((t.unix_timestamp_nanos() / 1_000_000) as Millis)
}

/// Formats epoch milliseconds as RFC 3339 in UTC.
pub fn format_rfc3339(ms: Millis) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| ms.to_string())
}
