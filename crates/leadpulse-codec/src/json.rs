//! The JSON wire format. Canonical event:
//! `{"event_id":"e-1","lead_id":"L-42","type":"page_view","occurred_at":"2026-11-20T10:00:00Z","url":"https://example.com/pricing"}`

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::time::{format_rfc3339, parse_rfc3339};

mod refusal;
use leadpulse_core::{
    DisqualifiedBy, EnrichmentHold, Event, EventKind, EventType, Grade, LeadScore, Reason,
    ReasonKind, Rejection,
};
use refusal::{explain, not_an_object};

/// Every field any event type may carry; which are required depends on `type`.
/// Unknown fields are ignored so producers can add data ahead of leadpulse.
#[derive(Deserialize)]
struct RawEvent<'a> {
    event_id: Option<String>,
    lead_id: Option<String>,
    visitor_id: Option<String>,
    /// Borrowed from the input unless it holds escapes.
    #[serde(rename = "type", borrow)]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow)]
    occurred_at: Option<Cow<'a, str>>,
    company_domain: Option<String>,
    account_id: Option<String>,
    url: Option<String>,
    referrer: Option<String>,
    duration_ms: Option<u64>,
    form_id: Option<String>,
    fields: Option<BTreeMap<String, Value>>,
    campaign_id: Option<String>,
    asset_id: Option<String>,
    webinar_id: Option<String>,
    attributes: Option<BTreeMap<String, Value>>,
    bounce_type: Option<String>,
    rep_id: Option<String>,
    reason: Option<String>,
    amount: Option<f64>,
    opportunity_id: Option<String>,
}

fn required<T>(value: Option<T>, field: &str) -> Result<T, Rejection> {
    value.ok_or_else(|| Rejection::MissingField(field.to_owned()))
}

/// Scalar values become strings; nested objects and arrays are refused.
fn flat_map(
    map: Option<BTreeMap<String, Value>>,
    field: &str,
) -> Result<BTreeMap<String, String>, Rejection> {
    let mut out = BTreeMap::new();
    for (k, v) in map.unwrap_or_default() {
        let s = match v {
            Value::String(s) => s,
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            Value::Null => continue,
            Value::Array(_) | Value::Object(_) => {
                return Err(Rejection::InvalidField {
                    field: format!("{field}.{k}"),
                    detail: "must be a string, number or boolean".into(),
                })
            }
        };
        out.insert(k, s);
    }
    Ok(out)
}

pub(super) fn decode_event(bytes: &[u8]) -> Result<Event, Rejection> {
    // serde would read an array as the struct's fields by position.
    let start = bytes.iter().position(|b| !b.is_ascii_whitespace());
    if start.map(|i| bytes[i]) != Some(b'{') {
        return Err(not_an_object(bytes, start));
    }
    // Decoding again to learn the failing field's path costs only on
    // failure; tracking the path costs on every event.
    let raw: RawEvent = match serde_json::from_slice(bytes) {
        Ok(raw) => raw,
        Err(_) => return Err(explain(bytes)),
    };
    let type_name = required(raw.kind, "type")?;
    let event_type: EventType = type_name
        .parse()
        .map_err(|_| Rejection::UnknownType(type_name.to_string()))?;
    let occurred_at = required(raw.occurred_at, "occurred_at")?;
    let occurred_at = parse_rfc3339(&occurred_at).map_err(|detail| Rejection::InvalidField {
        field: "occurred_at".into(),
        detail,
    })?;
    let kind = match event_type {
        EventType::PageView => EventKind::PageView {
            url: required(raw.url, "url")?,
            referrer: raw.referrer,
            duration_ms: raw.duration_ms,
        },
        EventType::FormSubmit => EventKind::FormSubmit {
            form_id: required(raw.form_id, "form_id")?,
            fields: flat_map(raw.fields, "fields")?,
        },
        EventType::EmailOpen => EventKind::EmailOpen {
            campaign_id: required(raw.campaign_id, "campaign_id")?,
        },
        EventType::EmailClick => EventKind::EmailClick {
            campaign_id: required(raw.campaign_id, "campaign_id")?,
            url: required(raw.url, "url")?,
        },
        EventType::ContentDownload => EventKind::ContentDownload {
            asset_id: required(raw.asset_id, "asset_id")?,
        },
        EventType::WebinarAttended => EventKind::WebinarAttended {
            webinar_id: required(raw.webinar_id, "webinar_id")?,
        },
        EventType::ProfileUpdate => EventKind::ProfileUpdate {
            attributes: flat_map(raw.attributes, "attributes")?,
        },
        EventType::Unsubscribe => EventKind::Unsubscribe,
        EventType::Identify => EventKind::Identify,
        EventType::EmailBounce => EventKind::EmailBounce {
            campaign_id: required(raw.campaign_id, "campaign_id")?,
            bounce_type: super::bounce_type(&required(raw.bounce_type, "bounce_type")?)?,
        },
        t => super::feedback(t, raw.rep_id, raw.reason, raw.amount, raw.opportunity_id)?,
    };
    let event = Event {
        event_id: required(raw.event_id, "event_id")?,
        lead_id: raw.lead_id.unwrap_or_default(),
        visitor_id: raw.visitor_id,
        occurred_at,
        company_domain: raw.company_domain,
        account_id: raw.account_id,
        kind,
    };
    super::validate(event)
}

#[derive(Serialize)]
struct EventOut<'a> {
    event_id: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    lead_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    visitor_id: Option<&'a str>,
    #[serde(rename = "type")]
    kind: &'static str,
    occurred_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    company_domain: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    account_id: Option<&'a str>,
    #[serde(flatten)]
    payload: Value,
}

pub(super) fn encode_event(e: &Event) -> Vec<u8> {
    use serde_json::json;
    let payload = match &e.kind {
        EventKind::PageView {
            url,
            referrer,
            duration_ms,
        } => {
            let mut v = json!({ "url": url });
            if let Some(r) = referrer {
                v["referrer"] = json!(r);
            }
            if let Some(d) = duration_ms {
                v["duration_ms"] = json!(d);
            }
            v
        }
        EventKind::FormSubmit { form_id, fields } => {
            json!({ "form_id": form_id, "fields": fields })
        }
        EventKind::EmailOpen { campaign_id } => json!({ "campaign_id": campaign_id }),
        EventKind::EmailClick { campaign_id, url } => {
            json!({ "campaign_id": campaign_id, "url": url })
        }
        EventKind::ContentDownload { asset_id } => json!({ "asset_id": asset_id }),
        EventKind::WebinarAttended { webinar_id } => json!({ "webinar_id": webinar_id }),
        EventKind::ProfileUpdate { attributes } => json!({ "attributes": attributes }),
        EventKind::Unsubscribe | EventKind::Identify => json!({}),
        EventKind::EmailBounce {
            campaign_id,
            bounce_type,
        } => json!({ "campaign_id": campaign_id, "bounce_type": bounce_type.as_str() }),
        EventKind::Feedback { .. } => {
            let (_, rep_id, reason, amount, opp) =
                super::feedback_fields(&e.kind).expect("a feedback kind");
            let mut v = json!({});
            for (k, val) in [
                ("rep_id", rep_id),
                ("reason", reason),
                ("opportunity_id", opp),
            ] {
                if let Some(val) = val {
                    v[k] = json!(val);
                }
            }
            if let Some(a) = amount {
                v["amount"] = json!(a);
            }
            v
        }
    };
    let out = EventOut {
        event_id: &e.event_id,
        lead_id: &e.lead_id,
        visitor_id: e.visitor_id.as_deref(),
        kind: e.kind.event_type().as_str(),
        occurred_at: format_rfc3339(e.occurred_at),
        company_domain: e.company_domain.as_deref(),
        account_id: e.account_id.as_deref(),
        payload,
    };
    serde_json::to_vec(&out).expect("serializing plain data cannot fail")
}

#[derive(Serialize, Deserialize)]
pub(super) struct ReasonJson {
    rule_id: String,
    label: String,
    kind: String,
    points: f64,
    count: u32,
    last_seen: String,
}

#[derive(Serialize, Deserialize)]
struct DisqualifiedJson {
    rule_id: String,
    label: String,
    at: String,
}

#[derive(Serialize, Deserialize)]
struct ScoreJson {
    lead_id: String,
    score: f64,
    fit: f64,
    engagement: f64,
    grade: String,
    threshold: f64,
    qualified: bool,
    alerted: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    disqualified: Option<DisqualifiedJson>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    missing: Vec<String>,
    updated_at: String,
    model_version: String,
    reasons: Vec<ReasonJson>,
}

#[derive(Serialize, Deserialize)]
struct HoldJson {
    lead_id: String,
    missing: Vec<String>,
    score: f64,
    fit: f64,
    engagement: f64,
    grade: String,
    held_at: String,
    model_version: String,
    event_id: String,
    reasons: Vec<ReasonJson>,
}

pub(super) fn reasons_out(reasons: &[Reason]) -> Vec<ReasonJson> {
    reasons
        .iter()
        .map(|r| ReasonJson {
            rule_id: r.rule_id.to_string(),
            label: r.label.to_string(),
            kind: r.kind.as_str().to_owned(),
            points: r.points,
            count: r.count,
            last_seen: format_rfc3339(r.last_seen),
        })
        .collect()
}

pub(super) fn time_in(field: &str, s: &str) -> Result<i64, Rejection> {
    parse_rfc3339(s).map_err(|detail| Rejection::InvalidField {
        field: field.to_owned(),
        detail,
    })
}

pub(super) fn grade_in(field: &str, s: &str) -> Result<Grade, Rejection> {
    match s {
        "A" => Ok(Grade::A),
        "B" => Ok(Grade::B),
        "C" => Ok(Grade::C),
        "D" => Ok(Grade::D),
        _ => Err(Rejection::InvalidField {
            field: field.to_owned(),
            detail: format!("not a grade A-D: {s:?}"),
        }),
    }
}

pub(super) fn kind_in(s: &str) -> Result<ReasonKind, Rejection> {
    match s {
        "fit" => Ok(ReasonKind::Fit),
        "engagement" => Ok(ReasonKind::Engagement),
        _ => Err(Rejection::InvalidField {
            field: "reasons.kind".into(),
            detail: format!("not fit or engagement: {s:?}"),
        }),
    }
}

pub(super) fn reasons_in(reasons: Vec<ReasonJson>) -> Result<Vec<Reason>, Rejection> {
    reasons
        .into_iter()
        .map(|r| {
            Ok(Reason {
                last_seen: time_in("reasons.last_seen", &r.last_seen)?,
                kind: kind_in(&r.kind)?,
                rule_id: Arc::from(r.rule_id),
                label: Arc::from(r.label),
                points: r.points,
                count: r.count,
            })
        })
        .collect()
}

pub(super) fn malformed(e: serde_json::Error) -> Rejection {
    Rejection::Malformed {
        format: "json",
        detail: e.to_string(),
    }
}

pub(super) fn to_vec(value: &impl Serialize) -> Vec<u8> {
    serde_json::to_vec(value).expect("serializing plain data cannot fail")
}

/// A timestamp written as RFC 3339 text without allocating.
struct Ts(i64);

impl Serialize for Ts {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match super::time::Rfc3339Text::new(self.0) {
            Some(t) => serializer.serialize_str(t.as_str()),
            None => serializer.serialize_str(&format_rfc3339(self.0)),
        }
    }
}

/// `ScoreJson`, borrowed: score records go out for every changed lead at
/// every commit, so they are written without copying the score's strings.
#[derive(Serialize)]
struct ScoreOut<'a> {
    lead_id: &'a str,
    score: f64,
    fit: f64,
    engagement: f64,
    grade: &'static str,
    threshold: f64,
    qualified: bool,
    alerted: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    disqualified: Option<DisqualifiedOut<'a>>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    missing: &'a [String],
    updated_at: Ts,
    model_version: &'a str,
    reasons: Vec<ReasonOut<'a>>,
}

#[derive(Serialize)]
struct DisqualifiedOut<'a> {
    rule_id: &'a str,
    label: &'a str,
    at: Ts,
}

#[derive(Serialize)]
struct ReasonOut<'a> {
    rule_id: &'a str,
    label: &'a str,
    kind: &'static str,
    points: f64,
    count: u32,
    last_seen: Ts,
}

pub(super) fn encode_score(s: &LeadScore) -> Vec<u8> {
    let mut out = Vec::with_capacity(256 + 160 * s.reasons.len());
    serde_json::to_writer(
        &mut out,
        &ScoreOut {
            lead_id: &s.lead_id,
            score: s.score,
            fit: s.fit,
            engagement: s.engagement,
            grade: s.grade.as_str(),
            threshold: s.threshold,
            qualified: s.qualified,
            alerted: s.alerted,
            disqualified: s.disqualified.as_ref().map(|d| DisqualifiedOut {
                rule_id: &d.rule_id,
                label: &d.label,
                at: Ts(d.at),
            }),
            missing: &s.missing,
            updated_at: Ts(s.updated_at),
            model_version: &s.model_version,
            reasons: s
                .reasons
                .iter()
                .map(|r| ReasonOut {
                    rule_id: &r.rule_id,
                    label: &r.label,
                    kind: r.kind.as_str(),
                    points: r.points,
                    count: r.count,
                    last_seen: Ts(r.last_seen),
                })
                .collect(),
        },
    )
    .expect("serializing plain data cannot fail");
    out
}

pub(super) fn decode_score(bytes: &[u8]) -> Result<LeadScore, Rejection> {
    let s: ScoreJson = serde_json::from_slice(bytes).map_err(malformed)?;
    Ok(LeadScore {
        updated_at: time_in("updated_at", &s.updated_at)?,
        reasons: reasons_in(s.reasons)?,
        grade: grade_in("grade", &s.grade)?,
        disqualified: match s.disqualified {
            None => None,
            Some(d) => Some(DisqualifiedBy {
                at: time_in("disqualified.at", &d.at)?,
                rule_id: Arc::from(d.rule_id),
                label: Arc::from(d.label),
            }),
        },
        lead_id: s.lead_id,
        score: s.score,
        fit: s.fit,
        engagement: s.engagement,
        threshold: s.threshold,
        qualified: s.qualified,
        alerted: s.alerted,
        missing: s.missing,
        model_version: Arc::from(s.model_version),
    })
}

pub(super) fn encode_hold(h: &EnrichmentHold) -> Vec<u8> {
    to_vec(&HoldJson {
        lead_id: h.lead_id.clone(),
        missing: h.missing.clone(),
        score: h.score,
        fit: h.fit,
        engagement: h.engagement,
        grade: h.grade.as_str().to_owned(),
        held_at: format_rfc3339(h.held_at),
        model_version: h.model_version.to_string(),
        event_id: h.event_id.clone(),
        reasons: reasons_out(&h.reasons),
    })
}

pub(super) fn decode_hold(bytes: &[u8]) -> Result<EnrichmentHold, Rejection> {
    let h: HoldJson = serde_json::from_slice(bytes).map_err(malformed)?;
    Ok(EnrichmentHold {
        held_at: time_in("held_at", &h.held_at)?,
        reasons: reasons_in(h.reasons)?,
        grade: grade_in("grade", &h.grade)?,
        lead_id: h.lead_id,
        missing: h.missing,
        score: h.score,
        fit: h.fit,
        engagement: h.engagement,
        model_version: Arc::from(h.model_version),
        event_id: h.event_id,
    })
}
