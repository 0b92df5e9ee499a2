//! Codecs: bytes on Kafka ⇄ domain types.
//!
//! Events arrive as JSON or protobuf on the same topic. The `content-type`
//! header decides; without it the first byte does (`{` means JSON: a valid
//! `LeadEvent` protobuf never starts with that byte). Every decode error is a
//! [`Rejection`] that names the field.

/// Generated protobuf types (`proto/leadpulse/v1`).
pub mod proto {
    include!(concat!(env!("OUT_DIR"), "/leadpulse.v1.rs"));

    /// The `FileDescriptorSet` of `proto/`, for clients in other languages
    /// (`leadpulse proto-descriptors > leadpulse.fds`).
    pub const FILE_DESCRIPTOR_SET: &[u8] =
        include_bytes!(concat!(env!("OUT_DIR"), "/leadpulse.fds"));
}

mod account;
mod alert_json;
mod json;
mod protobuf;
pub mod registry;
mod sales;
mod state_reader;
mod state_writer;
mod time;
mod visitor;
mod watch;

use leadpulse_core::{
    Alert, EnrichmentHold, Event, EventKind, EventType, LeadScore, LeadState, Rejection,
};

pub use self::account::{
    decode_account_alert, decode_account_score, decode_account_state, decode_contribution,
    encode_account_alert, encode_account_score, encode_account_state, encode_contribution,
};
pub use self::sales::{
    decode_breach, decode_handoff, decode_overdue, decode_stage, encode_breach, encode_handoff,
    encode_overdue, encode_stage,
};
pub use self::time::{format_rfc3339, parse_rfc3339};
pub use self::visitor::{decode_merge, decode_visitor, encode_merge, encode_visitor};
pub use self::watch::{
    decode_watch, decode_watch_alert, encode_watch, encode_watch_alert, TargetJson, WatchJson,
    MAX_WATCH_TEXT,
};

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
        Format::Protobuf => protobuf::decode_event(bytes),
    }
}

/// Encodes an event (used by the generator, the demo and tests).
pub fn encode_event(event: &Event, format: Format) -> Vec<u8> {
    match format {
        Format::Json => json::encode_event(event),
        Format::Protobuf => protobuf::encode_event(event),
    }
}

/// Encodes a hot-lead alert for `hot-lead-alerts`.
pub fn encode_alert(alert: &Alert, format: Format) -> Vec<u8> {
    match format {
        Format::Json => alert_json::encode_alert(alert),
        Format::Protobuf => protobuf::encode_alert(alert),
    }
}

/// Encodes a score record for `lead-scores`.
pub fn encode_score(score: &LeadScore, format: Format) -> Vec<u8> {
    match format {
        Format::Json => json::encode_score(score),
        Format::Protobuf => protobuf::encode_score(score),
    }
}

/// Decodes an alert written by [`encode_alert`] in either format.
pub fn decode_alert(bytes: &[u8]) -> Result<Alert, Rejection> {
    let bytes = crate::registry::unframed(bytes);
    match Format::sniff(bytes) {
        Format::Json => alert_json::decode_alert(bytes),
        Format::Protobuf => protobuf::decode_alert(bytes),
    }
}

/// Decodes a score record written by [`encode_score`] in either format.
pub fn decode_score(bytes: &[u8]) -> Result<LeadScore, Rejection> {
    let bytes = crate::registry::unframed(bytes);
    match Format::sniff(bytes) {
        Format::Json => json::decode_score(bytes),
        Format::Protobuf => protobuf::decode_score(bytes),
    }
}

/// Encodes an enrichment hold for `leads-needing-enrichment`.
pub fn encode_hold(hold: &EnrichmentHold, format: Format) -> Vec<u8> {
    match format {
        Format::Json => json::encode_hold(hold),
        Format::Protobuf => protobuf::encode_hold(hold),
    }
}

/// Decodes an enrichment hold written by [`encode_hold`] in either format.
pub fn decode_hold(bytes: &[u8]) -> Result<EnrichmentHold, Rejection> {
    let bytes = crate::registry::unframed(bytes);
    match Format::sniff(bytes) {
        Format::Json => json::decode_hold(bytes),
        Format::Protobuf => protobuf::decode_hold(bytes),
    }
}

/// Encodes a lead's state for the changelog (always protobuf: compact and
/// fast to restore).
pub fn encode_state(lead_id: &str, state: &LeadState) -> Vec<u8> {
    state_writer::encode_state(lead_id, state)
}

/// Encodes a partition's routing balance for the changelog.
pub fn encode_routing(r: &leadpulse_core::RoutingState) -> Vec<u8> {
    protobuf::encode_routing(r)
}

/// Decodes a partition's routing balance.
pub fn decode_routing(bytes: &[u8]) -> Result<leadpulse_core::RoutingState, Rejection> {
    protobuf::decode_routing(bytes)
}

/// Decodes a changelog record.
pub fn decode_state(bytes: &[u8]) -> Result<LeadState, Rejection> {
    StateReader::default().read(bytes)
}

pub use state_reader::StateReader;

/// `hard` or `soft`.
fn bounce_type(s: &str) -> Result<leadpulse_core::BounceType, Rejection> {
    leadpulse_core::BounceType::parse(s).ok_or_else(|| Rejection::InvalidField {
        field: "bounce_type".into(),
        detail: format!("must be \"hard\" or \"soft\", not {s:?}"),
    })
}

/// Builds a feedback payload from its wire fields, checking what each
/// feedback type requires.
fn feedback(
    event_type: EventType,
    rep_id: Option<String>,
    reason: Option<String>,
    amount: Option<f64>,
    opportunity_id: Option<String>,
) -> Result<EventKind, Rejection> {
    use leadpulse_core::Feedback as F;
    let reason_required = |r: Option<String>| {
        r.filter(|r| !r.trim().is_empty())
            .ok_or_else(|| Rejection::MissingField("reason".into()))
    };
    let feedback = match event_type {
        EventType::LeadContacted => F::Contacted,
        EventType::LeadAccepted => F::Accepted,
        EventType::LeadRejected => F::Rejected {
            reason: reason_required(reason)?,
        },
        EventType::LeadQualified => F::Qualified,
        EventType::OpportunityCreated => F::OpportunityCreated { opportunity_id },
        EventType::DealWon => {
            let amount = amount.ok_or_else(|| Rejection::MissingField("amount".into()))?;
            if !amount.is_finite() || amount < 0.0 {
                return Err(Rejection::InvalidField {
                    field: "amount".into(),
                    detail: format!("must be a non-negative number, not {amount}"),
                });
            }
            F::DealWon { amount }
        }
        EventType::DealLost => F::DealLost {
            reason: reason_required(reason)?,
        },
        EventType::LeadRecycled => F::Recycled { reason },
        other => return Err(Rejection::UnknownType(other.as_str().to_owned())),
    };
    Ok(EventKind::Feedback { feedback, rep_id })
}

/// The wire fields of a feedback payload: (type, rep_id, reason, amount, opportunity_id).
/// (type, rep_id, reason, amount, opportunity_id).
type FeedbackFields<'a> = (
    EventType,
    Option<&'a str>,
    Option<&'a str>,
    Option<f64>,
    Option<&'a str>,
);

fn feedback_fields(kind: &EventKind) -> Option<FeedbackFields<'_>> {
    use leadpulse_core::Feedback as F;
    let EventKind::Feedback { feedback, rep_id } = kind else {
        return None;
    };
    let (reason, amount, opp) = match feedback {
        F::Rejected { reason } | F::DealLost { reason } => (Some(reason.as_str()), None, None),
        F::Recycled { reason } => (reason.as_deref(), None, None),
        F::DealWon { amount } => (None, Some(*amount), None),
        F::OpportunityCreated { opportunity_id } => (None, None, opportunity_id.as_deref()),
        F::Contacted | F::Accepted | F::Qualified => (None, None, None),
    };
    Some((
        feedback.event_type(),
        rep_id.as_deref(),
        reason,
        amount,
        opp,
    ))
}

/// The event times accepted: 1970-01-01T00:00:00Z ..= 9999-12-31T23:59:59.999Z.
/// Event time starts at the Unix epoch, and RFC 3339 text has four digits
/// for the year.
pub const EVENT_TIME_RANGE: std::ops::RangeInclusive<leadpulse_core::Millis> =
    0..=253_402_300_799_999;

/// An empty (or blank) optional string says nothing, in JSON and protobuf
/// alike: it is dropped, so it never erases what a lead is known to be.
fn drop_empty(event: &mut Event) {
    fn blank(s: &Option<String>) -> bool {
        s.as_deref().is_some_and(|s| s.trim().is_empty())
    }
    fn clear(s: &mut Option<String>) {
        if blank(s) {
            *s = None;
        }
    }
    clear(&mut event.company_domain);
    clear(&mut event.account_id);
    clear(&mut event.visitor_id);
    if event.lead_id.trim().is_empty() {
        event.lead_id.clear();
    }
    match &mut event.kind {
        EventKind::PageView { referrer, .. } => clear(referrer),
        EventKind::FormSubmit { fields: map, .. }
        | EventKind::ProfileUpdate { attributes: map } => {
            map.retain(|_, v| !v.trim().is_empty());
        }
        EventKind::Feedback { feedback, rep_id } => {
            clear(rep_id);
            use leadpulse_core::Feedback as F;
            match feedback {
                F::Recycled { reason } => clear(reason),
                F::OpportunityCreated { opportunity_id } => clear(opportunity_id),
                _ => {}
            }
        }
        _ => {}
    }
}

/// Normalises and checks a decoded event, whatever its wire format.
fn validate(mut event: Event) -> Result<Event, Rejection> {
    drop_empty(&mut event);
    check(&event)?;
    Ok(event)
}

/// Checks the fields every event needs.
fn check(event: &Event) -> Result<(), Rejection> {
    if event.occurred_at < 0 {
        return Err(Rejection::InvalidField {
            field: "occurred_at".into(),
            detail: "is before 1970-01-01T00:00:00Z; event times start at the Unix epoch".into(),
        });
    }
    use leadpulse_core::attributes::{MAX_NAME_LEN, MAX_VALUE_LEN};
    use leadpulse_core::EventKind::*;
    let required: &[(&str, &str)] = match &event.kind {
        PageView { url, .. } => &[("url", url)],
        FormSubmit { form_id, .. } => &[("form_id", form_id)],
        EmailOpen { campaign_id } => &[("campaign_id", campaign_id)],
        EmailClick { campaign_id, url } => &[("campaign_id", campaign_id), ("url", url)],
        ContentDownload { asset_id } => &[("asset_id", asset_id)],
        EmailBounce { campaign_id, .. } => &[("campaign_id", campaign_id)],
        Feedback { .. } => &[],
        WebinarAttended { webinar_id } => &[("webinar_id", webinar_id)],
        ProfileUpdate { .. } | Unsubscribe | Identify => &[],
    };
    // Both wire formats must carry the event time back out: RFC 3339 text
    // has four digits for the year.
    if !EVENT_TIME_RANGE.contains(&event.occurred_at) {
        return Err(Rejection::InvalidField {
            field: "occurred_at".into(),
            detail: format!(
                "{} ms since the epoch is outside 1970-01-01T00:00:00Z..=9999-12-31T23:59:59.999Z",
                event.occurred_at
            ),
        });
    }
    check_ids(event)?;
    for (name, value) in [("event_id", &*event.event_id)]
        .into_iter()
        .chain(required.iter().copied())
    {
        if value.trim().is_empty() {
            return Err(Rejection::MissingField(name.to_owned()));
        }
    }
    // Lead state keeps attributes up to these sizes; longer ones are
    // refused here rather than cut there.
    let (map, field) = match &event.kind {
        FormSubmit { fields, .. } => (Some(fields), "fields"),
        ProfileUpdate { attributes } => (Some(attributes), "attributes"),
        _ => (None, ""),
    };
    let pairs = map
        .into_iter()
        .flatten()
        .map(|(k, v)| (field, k.as_str(), v.as_str()));
    let named = [
        ("", "company_domain", event.company_domain.as_deref()),
        ("", "account_id", event.account_id.as_deref()),
    ];
    let named = named
        .into_iter()
        .filter_map(|(f, k, v)| v.map(|v| (f, k, v)));
    for (field, name, value) in pairs.chain(named) {
        let path = |name: &str| {
            if field.is_empty() {
                name.to_owned()
            } else {
                format!("{field}.{name}")
            }
        };
        if name.len() > MAX_NAME_LEN {
            let cut = &name[..(0..=64)
                .rev()
                .find(|&i| name.is_char_boundary(i))
                .unwrap_or(0)];
            return Err(Rejection::InvalidField {
                field: path(&format!("{cut}…")),
                detail: format!("attribute names are limited to {MAX_NAME_LEN} bytes"),
            });
        }
        if value.len() > MAX_VALUE_LEN {
            return Err(Rejection::InvalidField {
                field: path(name),
                detail: format!(
                    "{} bytes; attribute values are limited to {MAX_VALUE_LEN} bytes",
                    value.len()
                ),
            });
        }
    }
    Ok(())
}

/// Who the event is about: a lead, or an anonymous visitor for the types
/// a web page sees before a form; `identify` names both.
fn check_ids(event: &Event) -> Result<(), Rejection> {
    let t = event.kind.event_type();
    use leadpulse_core::visitor::MAX_VISITOR_ID_LEN;
    if let Some(v) = event
        .visitor_id
        .as_ref()
        .filter(|v| v.len() > MAX_VISITOR_ID_LEN)
    {
        return Err(Rejection::InvalidField {
            field: "visitor_id".into(),
            detail: format!("{} bytes; at most {MAX_VISITOR_ID_LEN}", v.len()),
        });
    }
    match (event.is_anonymous(), &event.visitor_id) {
        (true, None) => Err(Rejection::MissingField("lead_id".into())),
        (true, Some(_)) if !t.may_be_anonymous() => Err(Rejection::InvalidField {
            field: "lead_id".into(),
            detail: format!(
                "is required for {t}: only page_view, email_click and content_download \
                 may come from an anonymous visitor_id alone"
            ),
        }),
        (false, None) if t == EventType::Identify => {
            Err(Rejection::MissingField("visitor_id".into()))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod visitor_tests;
