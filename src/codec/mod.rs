//! Codecs: bytes on Kafka ⇄ domain types.
//!
//! Events arrive as JSON or protobuf on the same topic. The `content-type`
//! header decides; without it the first byte does (`{` means JSON: a valid
//! `LeadEvent` protobuf never starts with that byte). Every decode error is a
//! [`Rejection`] that names the field.

mod json;
mod proto;
mod time;

use crate::core::{Alert, EnrichmentHold, Event, LeadScore, LeadState, Rejection};

pub use self::time::{format_rfc3339, parse_rfc3339};

/// The wire format of a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Json,
    Protobuf,
}

impl Format {
    /// The `content-type` header value leadpulse writes for this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Json => "application/json",
            Format::Protobuf => "application/x-protobuf",
        }
    }

    /// The format a `content-type` header names, if it names one.
    pub fn from_content_type(value: &[u8]) -> Option<Format> {
        let value = std::str::from_utf8(value).ok()?;
        let essence = value.split(';').next()?.trim().to_ascii_lowercase();
        match essence.as_str() {
            "application/json" | "text/json" => Some(Format::Json),
            "application/x-protobuf"
            | "application/protobuf"
            | "application/vnd.google.protobuf" => Some(Format::Protobuf),
            _ => None,
        }
    }

    /// Guesses the format from the payload's first non-blank byte.
    pub fn sniff(bytes: &[u8]) -> Format {
        match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
            Some(b'{') => Format::Json,
            _ => Format::Protobuf,
        }
    }
}

/// Decodes and validates one event. `content_type` is the record's header, if any.
pub fn decode_event(bytes: &[u8], content_type: Option<&[u8]>) -> Result<Event, Rejection> {
    let format = content_type
        .and_then(Format::from_content_type)
        .unwrap_or_else(|| Format::sniff(bytes));
    match format {
        Format::Json => json::decode_event(bytes),
        Format::Protobuf => proto::decode_event(bytes),
    }
}

/// Encodes an event (used by the generator, the demo and tests).
pub fn encode_event(event: &Event, format: Format) -> Vec<u8> {
    match format {
        Format::Json => json::encode_event(event),
        Format::Protobuf => proto::encode_event(event),
    }
}

/// Encodes a hot-lead alert for `hot-lead-alerts`.
pub fn encode_alert(alert: &Alert, format: Format) -> Vec<u8> {
    match format {
        Format::Json => json::encode_alert(alert),
        Format::Protobuf => proto::encode_alert(alert),
    }
}

/// Encodes a score record for `lead-scores`.
pub fn encode_score(score: &LeadScore, format: Format) -> Vec<u8> {
    match format {
        Format::Json => json::encode_score(score),
        Format::Protobuf => proto::encode_score(score),
    }
}

/// Decodes an alert written by [`encode_alert`] in either format.
pub fn decode_alert(bytes: &[u8]) -> Result<Alert, Rejection> {
    match Format::sniff(bytes) {
        Format::Json => json::decode_alert(bytes),
        Format::Protobuf => proto::decode_alert(bytes),
    }
}

/// Decodes a score record written by [`encode_score`] in either format.
pub fn decode_score(bytes: &[u8]) -> Result<LeadScore, Rejection> {
    match Format::sniff(bytes) {
        Format::Json => json::decode_score(bytes),
        Format::Protobuf => proto::decode_score(bytes),
    }
}

/// Encodes an enrichment hold for `leads-needing-enrichment`.
pub fn encode_hold(hold: &EnrichmentHold, format: Format) -> Vec<u8> {
    match format {
        Format::Json => json::encode_hold(hold),
        Format::Protobuf => proto::encode_hold(hold),
    }
}

/// Decodes an enrichment hold written by [`encode_hold`] in either format.
pub fn decode_hold(bytes: &[u8]) -> Result<EnrichmentHold, Rejection> {
    match Format::sniff(bytes) {
        Format::Json => json::decode_hold(bytes),
        Format::Protobuf => proto::decode_hold(bytes),
    }
}

/// Encodes a lead's state for the changelog (always protobuf: compact and
/// fast to restore).
pub fn encode_state(lead_id: &str, state: &LeadState) -> Vec<u8> {
    proto::encode_state(lead_id, state)
}

/// Decodes a changelog record.
pub fn decode_state(bytes: &[u8]) -> Result<LeadState, Rejection> {
    proto::decode_state(bytes)
}

/// Checks the fields every event needs, whatever its wire format.
fn validate(event: &Event) -> Result<(), Rejection> {
    use crate::core::EventKind::*;
    let required: &[(&str, &str)] = match &event.kind {
        PageView { url, .. } => &[("url", url)],
        FormSubmit { form_id, .. } => &[("form_id", form_id)],
        EmailOpen { campaign_id } => &[("campaign_id", campaign_id)],
        EmailClick { campaign_id, url } => &[("campaign_id", campaign_id), ("url", url)],
        ContentDownload { asset_id } => &[("asset_id", asset_id)],
        EmailBounce { campaign_id, .. } => &[("campaign_id", campaign_id)],
        WebinarAttended { webinar_id } => &[("webinar_id", webinar_id)],
        ProfileUpdate { .. } | Unsubscribe => &[],
    };
    for (name, value) in [("event_id", &*event.event_id), ("lead_id", &*event.lead_id)]
        .into_iter()
        .chain(required.iter().copied())
    {
        if value.trim().is_empty() {
            return Err(Rejection::MissingField(name.to_owned()));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
