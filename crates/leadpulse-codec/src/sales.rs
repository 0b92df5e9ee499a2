//! Records of the sales loop: SLA breaches, overdue feedback, lifecycle
//! transitions and handoffs, in JSON and protobuf.

use prost::Message;
use serde::{Deserialize, Serialize};

use super::protobuf::{ms, ts};
use super::time::{format_rfc3339, parse_rfc3339};
use super::Format;
use crate::proto as pb;
use leadpulse_core::{
    Contact, FeedbackOverdue, Handoff, HandoffRecord, Millis, Rejection, SlaBreach, SlaStatus,
    Stage, StageCause, StageChange,
};

pub(super) fn time_in(field: &str, s: &str) -> Result<Millis, Rejection> {
    parse_rfc3339(s).map_err(|detail| Rejection::InvalidField {
        field: field.to_owned(),
        detail,
    })
}

fn opt_time_in(field: &str, s: &Option<String>) -> Result<Option<Millis>, Rejection> {
    s.as_deref().map(|s| time_in(field, s)).transpose()
}

fn stage_in(field: &str, s: &str) -> Result<Stage, Rejection> {
    Stage::parse(s).ok_or_else(|| Rejection::InvalidField {
        field: field.to_owned(),
        detail: format!("unknown stage {s:?}"),
    })
}

pub(super) fn json_error(e: serde_json::Error) -> Rejection {
    Rejection::Malformed {
        format: "json",
        detail: e.to_string(),
    }
}

fn proto_error(e: prost::DecodeError) -> Rejection {
    Rejection::Malformed {
        format: "protobuf",
        detail: e.to_string(),
    }
}

pub(super) fn to_vec(v: &impl Serialize) -> Vec<u8> {
    serde_json::to_vec(v).expect("serializing plain data cannot fail")
}

// ---- SLA breaches ------------------------------------------------------------

#[derive(Serialize, Deserialize)]
struct BreachJson {
    breach_id: String,
    lead_id: String,
    alert_id: String,
    team: String,
    rep: String,
    escalate_to: String,
    respond_by: String,
    breach_number: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    reassigned_to: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    new_respond_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    lead_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    company: Option<String>,
}

/// Encodes an SLA breach for `sla-breaches`.
pub fn encode_breach(b: &SlaBreach, format: Format) -> Vec<u8> {
    match format {
        Format::Json => to_vec(&BreachJson {
            breach_id: b.breach_id.clone(),
            lead_id: b.lead_id.clone(),
            alert_id: b.alert_id.clone(),
            team: b.team.clone(),
            rep: b.rep.clone(),
            escalate_to: b.escalate_to.clone(),
            respond_by: format_rfc3339(b.respond_by),
            breach_number: b.breach_number,
            reassigned_to: b.reassigned_to.clone(),
            new_respond_by: b.new_respond_by.map(format_rfc3339),
            lead_name: b.contact.name.clone(),
            title: b.contact.title.clone(),
            company: b.contact.company.clone(),
        }),
        Format::Protobuf => pb::SlaBreach {
            breach_id: b.breach_id.clone(),
            lead_id: b.lead_id.clone(),
            alert_id: b.alert_id.clone(),
            team: b.team.clone(),
            rep: b.rep.clone(),
            escalate_to: b.escalate_to.clone(),
            respond_by: ts(b.respond_by),
            breach_number: b.breach_number,
            reassigned_to: b.reassigned_to.clone(),
            new_respond_by: b.new_respond_by.and_then(ts),
            lead_name: b.contact.name.clone(),
            title: b.contact.title.clone(),
            company: b.contact.company.clone(),
        }
        .encode_to_vec(),
    }
}

/// Decodes an SLA breach in either format.
pub fn decode_breach(bytes: &[u8]) -> Result<SlaBreach, Rejection> {
    let bytes = crate::registry::unframed(bytes);
    match Format::sniff(bytes) {
        Format::Json => {
            let b: BreachJson = serde_json::from_slice(bytes).map_err(json_error)?;
            Ok(SlaBreach {
                respond_by: time_in("respond_by", &b.respond_by)?,
                new_respond_by: opt_time_in("new_respond_by", &b.new_respond_by)?,
                breach_id: b.breach_id,
                lead_id: b.lead_id,
                alert_id: b.alert_id,
                team: b.team,
                rep: b.rep,
                escalate_to: b.escalate_to,
                breach_number: b.breach_number,
                reassigned_to: b.reassigned_to,
                contact: Contact {
                    name: b.lead_name,
                    title: b.title,
                    company: b.company,
                },
            })
        }
        Format::Protobuf => {
            let b = pb::SlaBreach::decode(bytes).map_err(proto_error)?;
            Ok(SlaBreach {
                respond_by: ms("respond_by", b.respond_by)?,
                new_respond_by: b
                    .new_respond_by
                    .map(|t| ms("new_respond_by", Some(t)))
                    .transpose()?,
                breach_id: b.breach_id,
                lead_id: b.lead_id,
                alert_id: b.alert_id,
                team: b.team,
                rep: b.rep,
                escalate_to: b.escalate_to,
                breach_number: b.breach_number,
                reassigned_to: b.reassigned_to,
                contact: Contact {
                    name: b.lead_name,
                    title: b.title,
                    company: b.company,
                },
            })
        }
    }
}

// ---- overdue feedback ----------------------------------------------------------

#[derive(Serialize, Deserialize)]
struct OverdueJson {
    lead_id: String,
    alert_id: String,
    team: String,
    rep: String,
    escalate_to: String,
    handed_at: String,
    feedback_by: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    lead_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    company: Option<String>,
}

/// Encodes an overdue-feedback notice for `feedback-overdue`.
pub fn encode_overdue(o: &FeedbackOverdue, format: Format) -> Vec<u8> {
    match format {
        Format::Json => to_vec(&OverdueJson {
            lead_id: o.lead_id.clone(),
            alert_id: o.alert_id.clone(),
            team: o.team.clone(),
            rep: o.rep.clone(),
            escalate_to: o.escalate_to.clone(),
            handed_at: format_rfc3339(o.handed_at),
            feedback_by: format_rfc3339(o.feedback_by),
            lead_name: o.contact.name.clone(),
            title: o.contact.title.clone(),
            company: o.contact.company.clone(),
        }),
        Format::Protobuf => pb::FeedbackOverdue {
            lead_id: o.lead_id.clone(),
            alert_id: o.alert_id.clone(),
            team: o.team.clone(),
            rep: o.rep.clone(),
            escalate_to: o.escalate_to.clone(),
            handed_at: ts(o.handed_at),
            feedback_by: ts(o.feedback_by),
            lead_name: o.contact.name.clone(),
            title: o.contact.title.clone(),
            company: o.contact.company.clone(),
        }
        .encode_to_vec(),
    }
}

/// Decodes an overdue-feedback notice in either format.
pub fn decode_overdue(bytes: &[u8]) -> Result<FeedbackOverdue, Rejection> {
    let bytes = crate::registry::unframed(bytes);
    match Format::sniff(bytes) {
        Format::Json => {
            let o: OverdueJson = serde_json::from_slice(bytes).map_err(json_error)?;
            Ok(FeedbackOverdue {
                handed_at: time_in("handed_at", &o.handed_at)?,
                feedback_by: time_in("feedback_by", &o.feedback_by)?,
                lead_id: o.lead_id,
                alert_id: o.alert_id,
                team: o.team,
                rep: o.rep,
                escalate_to: o.escalate_to,
                contact: Contact {
                    name: o.lead_name,
                    title: o.title,
                    company: o.company,
                },
            })
        }
        Format::Protobuf => {
            let o = pb::FeedbackOverdue::decode(bytes).map_err(proto_error)?;
            Ok(FeedbackOverdue {
                handed_at: ms("handed_at", o.handed_at)?,
                feedback_by: ms("feedback_by", o.feedback_by)?,
                lead_id: o.lead_id,
                alert_id: o.alert_id,
                team: o.team,
                rep: o.rep,
                escalate_to: o.escalate_to,
                contact: Contact {
                    name: o.lead_name,
                    title: o.title,
                    company: o.company,
                },
            })
        }
    }
}

// ---- lifecycle ---------------------------------------------------------------

#[derive(Serialize, Deserialize)]
struct StageJson {
    lead_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    from: Option<String>,
    to: String,
    at: String,
    cause: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    alert_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    team: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    rep: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
}

/// Encodes a lifecycle transition for `lead-lifecycle`.
pub fn encode_stage(c: &StageChange, format: Format) -> Vec<u8> {
    match format {
        Format::Json => to_vec(&StageJson {
            lead_id: c.lead_id.clone(),
            from: c.from.map(|s| s.as_str().to_owned()),
            to: c.to.as_str().to_owned(),
            at: format_rfc3339(c.at),
            cause: c.cause.as_str().to_owned(),
            alert_id: c.alert_id.clone(),
            team: c.team.clone(),
            rep: c.rep.clone(),
            reason: c.reason.clone(),
        }),
        Format::Protobuf => pb::StageChange {
            lead_id: c.lead_id.clone(),
            from: c.from.map_or(String::new(), |s| s.as_str().to_owned()),
            to: c.to.as_str().to_owned(),
            at: ts(c.at),
            cause: c.cause.as_str().to_owned(),
            alert_id: c.alert_id.clone(),
            team: c.team.clone(),
            rep: c.rep.clone(),
            reason: c.reason.clone(),
        }
        .encode_to_vec(),
    }
}

/// Decodes a lifecycle transition in either format.
pub fn decode_stage(bytes: &[u8]) -> Result<StageChange, Rejection> {
    let bytes = crate::registry::unframed(bytes);
    match Format::sniff(bytes) {
        Format::Json => {
            let c: StageJson = serde_json::from_slice(bytes).map_err(json_error)?;
            Ok(StageChange {
                from: c.from.as_deref().map(|s| stage_in("from", s)).transpose()?,
                to: stage_in("to", &c.to)?,
                at: time_in("at", &c.at)?,
                lead_id: c.lead_id,
                cause: cause_in(&c.cause)?,
                alert_id: c.alert_id,
                team: c.team,
                rep: c.rep,
                reason: c.reason,
            })
        }
        Format::Protobuf => {
            let c = pb::StageChange::decode(bytes).map_err(proto_error)?;
            Ok(StageChange {
                from: if c.from.is_empty() {
                    None
                } else {
                    Some(stage_in("from", &c.from)?)
                },
                to: stage_in("to", &c.to)?,
                at: ms("at", c.at)?,
                lead_id: c.lead_id,
                cause: cause_in(&c.cause)?,
                alert_id: c.alert_id,
                team: c.team,
                rep: c.rep,
                reason: c.reason,
            })
        }
    }
}

fn cause_in(s: &str) -> Result<StageCause, Rejection> {
    StageCause::parse(s).ok_or_else(|| Rejection::InvalidField {
        field: "cause".into(),
        detail: format!("unknown stage cause {s:?}"),
    })
}

// ---- handoffs ----------------------------------------------------------------

#[derive(Serialize, Deserialize)]
struct HandoffJson {
    alert_id: String,
    lead_id: String,
    team: String,
    rep: String,
    via: String,
    handed_at: String,
    respond_by: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    first_contact_at: Option<String>,
    sla: String,
    breaches: u32,
    reassignments: u32,
    feedback_by: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    feedback: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    feedback_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    rejection_reason: Option<String>,
    feedback_overdue: bool,
    qualified_by: String,
    grade: String,
    score: f64,
    stage: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    won_amount: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    lost_reason: Option<String>,
}

/// Encodes a handoff for `lead-handoffs`.
pub fn encode_handoff(r: &HandoffRecord, format: Format) -> Vec<u8> {
    let h = &r.handoff;
    let stage = r.stage.map_or(String::new(), |s| s.as_str().to_owned());
    match format {
        Format::Json => to_vec(&HandoffJson {
            alert_id: h.alert_id.clone(),
            lead_id: r.lead_id.clone(),
            team: h.team.clone(),
            rep: h.rep.clone(),
            via: h.via.clone(),
            handed_at: format_rfc3339(h.handed_at),
            respond_by: format_rfc3339(h.respond_by),
            first_contact_at: h.first_contact_at.map(format_rfc3339),
            sla: h.sla.as_str().to_owned(),
            breaches: h.breaches,
            reassignments: h.reassignments,
            feedback_by: format_rfc3339(h.feedback_by),
            feedback: h.feedback.as_ref().map(|f| f.0.clone()),
            feedback_at: h.feedback.as_ref().map(|f| format_rfc3339(f.1)),
            rejection_reason: h.feedback.as_ref().and_then(|f| f.2.clone()),
            feedback_overdue: h.feedback_overdue,
            qualified_by: h.qualified_by.clone(),
            grade: h.grade.clone(),
            score: h.score,
            stage,
            won_amount: h.won_amount,
            lost_reason: h.lost_reason.clone(),
        }),
        Format::Protobuf => pb::HandoffRecord {
            alert_id: h.alert_id.clone(),
            lead_id: r.lead_id.clone(),
            team: h.team.clone(),
            rep: h.rep.clone(),
            via: h.via.clone(),
            handed_at: ts(h.handed_at),
            respond_by: ts(h.respond_by),
            first_contact_at: h.first_contact_at.and_then(ts),
            sla: h.sla.as_str().to_owned(),
            breaches: h.breaches,
            reassignments: h.reassignments,
            feedback_by: ts(h.feedback_by),
            feedback: h.feedback.as_ref().map(|f| f.0.clone()),
            feedback_at: h.feedback.as_ref().and_then(|f| ts(f.1)),
            rejection_reason: h.feedback.as_ref().and_then(|f| f.2.clone()),
            feedback_overdue: h.feedback_overdue,
            qualified_by: h.qualified_by.clone(),
            grade: h.grade.clone(),
            score: h.score,
            stage,
            won_amount: h.won_amount,
            lost_reason: h.lost_reason.clone(),
        }
        .encode_to_vec(),
    }
}

/// Decodes a handoff in either format.
pub fn decode_handoff(bytes: &[u8]) -> Result<HandoffRecord, Rejection> {
    let bytes = crate::registry::unframed(bytes);
    let sla = |s: &str| {
        SlaStatus::parse(s).ok_or_else(|| Rejection::InvalidField {
            field: "sla".into(),
            detail: format!("unknown SLA status {s:?}"),
        })
    };
    let stage = |s: &str| {
        if s.is_empty() {
            Ok(None)
        } else {
            stage_in("stage", s).map(Some)
        }
    };
    match Format::sniff(bytes) {
        Format::Json => {
            let h: HandoffJson = serde_json::from_slice(bytes).map_err(json_error)?;
            let feedback = match (h.feedback, h.feedback_at) {
                (Some(f), Some(at)) => Some((f, time_in("feedback_at", &at)?, h.rejection_reason)),
                _ => None,
            };
            Ok(HandoffRecord {
                lead_id: h.lead_id,
                stage: stage(&h.stage)?,
                handoff: Handoff {
                    handed_at: time_in("handed_at", &h.handed_at)?,
                    respond_by: time_in("respond_by", &h.respond_by)?,
                    first_contact_at: opt_time_in("first_contact_at", &h.first_contact_at)?,
                    feedback_by: time_in("feedback_by", &h.feedback_by)?,
                    sla: sla(&h.sla)?,
                    contact_due: None,
                    feedback,
                    alert_id: h.alert_id,
                    team: h.team,
                    rep: h.rep,
                    via: h.via,
                    breaches: h.breaches,
                    reassignments: h.reassignments,
                    feedback_overdue: h.feedback_overdue,
                    qualified_by: h.qualified_by,
                    grade: h.grade,
                    score: h.score,
                    won_amount: h.won_amount,
                    lost_reason: h.lost_reason,
                },
            })
        }
        Format::Protobuf => {
            let h = pb::HandoffRecord::decode(bytes).map_err(proto_error)?;
            let feedback = match (h.feedback, h.feedback_at) {
                (Some(f), Some(at)) => Some((f, ms("feedback_at", Some(at))?, h.rejection_reason)),
                _ => None,
            };
            Ok(HandoffRecord {
                lead_id: h.lead_id,
                stage: stage(&h.stage)?,
                handoff: Handoff {
                    handed_at: ms("handed_at", h.handed_at)?,
                    respond_by: ms("respond_by", h.respond_by)?,
                    first_contact_at: h
                        .first_contact_at
                        .map(|t| ms("first_contact_at", Some(t)))
                        .transpose()?,
                    feedback_by: ms("feedback_by", h.feedback_by)?,
                    sla: sla(&h.sla)?,
                    contact_due: None,
                    feedback,
                    alert_id: h.alert_id,
                    team: h.team,
                    rep: h.rep,
                    via: h.via,
                    breaches: h.breaches,
                    reassignments: h.reassignments,
                    feedback_overdue: h.feedback_overdue,
                    qualified_by: h.qualified_by,
                    grade: h.grade,
                    score: h.score,
                    won_amount: h.won_amount,
                    lost_reason: h.lost_reason,
                },
            })
        }
    }
}
