//! Hot-lead alerts as JSON (`hot-lead-alerts`, docs/topics.md).

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::json::{grade_in, malformed, reasons_in, reasons_out, time_in, to_vec, ReasonJson};
use super::time::format_rfc3339;
use leadpulse_core::{Alert, Contact, Rejection};

#[derive(Serialize, Deserialize)]
struct AlertJson {
    alert_id: String,
    lead_id: String,
    score: f64,
    fit: f64,
    engagement: f64,
    grade: String,
    threshold: f64,
    qualification: String,
    crossed_at: String,
    respond_by: String,
    model_version: String,
    event_id: String,
    reasons: Vec<ReasonJson>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    company_domain: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    account_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    owner_team: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    owner_rep: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    routed_via: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    lead_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    company: Option<String>,
}

pub(super) fn encode_alert(a: &Alert) -> Vec<u8> {
    to_vec(&AlertJson {
        alert_id: a.alert_id.clone(),
        lead_id: a.lead_id.clone(),
        score: a.score,
        fit: a.fit,
        engagement: a.engagement,
        grade: a.grade.as_str().to_owned(),
        threshold: a.threshold,
        qualification: a.qualification.clone(),
        crossed_at: format_rfc3339(a.crossed_at),
        respond_by: format_rfc3339(a.respond_by),
        model_version: a.model_version.to_string(),
        event_id: a.event_id.clone(),
        reasons: reasons_out(&a.reasons),
        company_domain: a.company_domain.clone(),
        account_id: a.account_id.clone(),
        owner_team: a.owner_team.clone(),
        owner_rep: a.owner_rep.clone(),
        routed_via: a.routed_via.clone(),
        lead_name: a.contact.name.clone(),
        title: a.contact.title.clone(),
        company: a.contact.company.clone(),
    })
}

pub(super) fn decode_alert(bytes: &[u8]) -> Result<Alert, Rejection> {
    let a: AlertJson = serde_json::from_slice(bytes).map_err(malformed)?;
    Ok(Alert {
        crossed_at: time_in("crossed_at", &a.crossed_at)?,
        respond_by: time_in("respond_by", &a.respond_by)?,
        reasons: reasons_in(a.reasons)?,
        grade: grade_in("grade", &a.grade)?,
        alert_id: a.alert_id,
        lead_id: a.lead_id,
        score: a.score,
        fit: a.fit,
        engagement: a.engagement,
        threshold: a.threshold,
        qualification: a.qualification,
        model_version: Arc::from(a.model_version),
        event_id: a.event_id,
        company_domain: a.company_domain,
        account_id: a.account_id,
        owner_team: a.owner_team,
        owner_rep: a.owner_rep,
        routed_via: a.routed_via,
        contact: Contact {
            name: a.lead_name,
            title: a.title,
            company: a.company,
        },
    })
}
