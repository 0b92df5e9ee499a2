//! The protobuf wire format (`proto/leadpulse/v1`).

use std::sync::Arc;

use prost::Message;
use prost_types::Timestamp;

use super::bounce_type;
use super::json::{grade_in, kind_in};
use crate::proto::{self as pb, lead_event::Payload};
use leadpulse_core::{
    Alert, Contact, DisqualifiedBy, EnrichmentHold, Event, EventKind, EventType, Handoff,
    LeadScore, Millis, Reason, Rejection, RoutingState, SlaStatus,
};
#[cfg(test)]
use leadpulse_core::{Contribution, Disqualification, LeadState, Stage};

/// Event-time milliseconds as a protobuf timestamp.
pub(super) fn ts(ms: Millis) -> Option<Timestamp> {
    Some(Timestamp {
        seconds: ms.div_euclid(1000),
        nanos: (ms.rem_euclid(1000) * 1_000_000) as i32,
    })
}

/// A required protobuf timestamp as event-time milliseconds, checked.
pub(super) fn ms(field: &str, t: Option<Timestamp>) -> Result<Millis, Rejection> {
    let t = t.ok_or_else(|| Rejection::MissingField(field.to_owned()))?;
    if !(0..1_000_000_000).contains(&t.nanos) {
        return Err(Rejection::InvalidField {
            field: field.to_owned(),
            detail: format!("nanos {} out of range", t.nanos),
        });
    }
    t.seconds
        .checked_mul(1000)
        .and_then(|s| s.checked_add(i64::from(t.nanos) / 1_000_000))
        .ok_or_else(|| Rejection::InvalidField {
            field: field.to_owned(),
            detail: "timestamp out of range".into(),
        })
}

pub(super) fn malformed(e: prost::DecodeError) -> Rejection {
    Rejection::Malformed {
        format: "protobuf",
        detail: e.to_string(),
    }
}

pub(super) fn decode_event(bytes: &[u8]) -> Result<Event, Rejection> {
    event_from(pb::LeadEvent::decode(bytes).map_err(malformed)?)
}

/// A decoded `LeadEvent`, checked as any event is.
pub(super) fn event_from(m: pb::LeadEvent) -> Result<Event, Rejection> {
    let kind = match m.payload {
        None => return Err(Rejection::MissingField("payload (the event type)".into())),
        Some(Payload::PageView(p)) => EventKind::PageView {
            url: p.url,
            referrer: p.referrer,
            duration_ms: p.duration_ms,
        },
        Some(Payload::FormSubmit(p)) => EventKind::FormSubmit {
            form_id: p.form_id,
            fields: p.fields,
        },
        Some(Payload::EmailOpen(p)) => EventKind::EmailOpen {
            campaign_id: p.campaign_id,
        },
        Some(Payload::EmailClick(p)) => EventKind::EmailClick {
            campaign_id: p.campaign_id,
            url: p.url,
        },
        Some(Payload::ContentDownload(p)) => EventKind::ContentDownload {
            asset_id: p.asset_id,
        },
        Some(Payload::WebinarAttended(p)) => EventKind::WebinarAttended {
            webinar_id: p.webinar_id,
        },
        Some(Payload::ProfileUpdate(p)) => EventKind::ProfileUpdate {
            attributes: p.attributes,
        },
        Some(Payload::Unsubscribe(_)) => EventKind::Unsubscribe,
        Some(Payload::Identify(_)) => EventKind::Identify,
        Some(Payload::Feedback(f)) => {
            let t: EventType = f
                .r#type
                .parse()
                .map_err(|_| Rejection::UnknownType(f.r#type.clone()))?;
            if !t.is_feedback() {
                return Err(Rejection::InvalidField {
                    field: "feedback.type".into(),
                    detail: format!("`{}` is not a feedback type", f.r#type),
                });
            }
            super::feedback(t, f.rep_id, f.reason, f.amount, f.opportunity_id)?
        }
        Some(Payload::EmailBounce(p)) => EventKind::EmailBounce {
            bounce_type: bounce_type(&p.bounce_type)?,
            campaign_id: p.campaign_id,
        },
    };
    let event = Event {
        occurred_at: ms("occurred_at", m.occurred_at)?,
        event_id: m.event_id,
        lead_id: m.lead_id,
        visitor_id: m.visitor_id,
        company_domain: m.company_domain,
        account_id: m.account_id,
        kind,
    };
    super::validate(event)
}

pub(super) fn encode_event(e: &Event) -> Vec<u8> {
    event_message(e).encode_to_vec()
}

/// The `LeadEvent` of an event.
pub(super) fn event_message(e: &Event) -> pb::LeadEvent {
    let payload = match &e.kind {
        EventKind::PageView {
            url,
            referrer,
            duration_ms,
        } => Payload::PageView(pb::PageView {
            url: url.clone(),
            referrer: referrer.clone(),
            duration_ms: *duration_ms,
        }),
        EventKind::FormSubmit { form_id, fields } => Payload::FormSubmit(pb::FormSubmit {
            form_id: form_id.clone(),
            fields: fields.clone(),
        }),
        EventKind::EmailOpen { campaign_id } => Payload::EmailOpen(pb::EmailOpen {
            campaign_id: campaign_id.clone(),
        }),
        EventKind::EmailClick { campaign_id, url } => Payload::EmailClick(pb::EmailClick {
            campaign_id: campaign_id.clone(),
            url: url.clone(),
        }),
        EventKind::ContentDownload { asset_id } => Payload::ContentDownload(pb::ContentDownload {
            asset_id: asset_id.clone(),
        }),
        EventKind::WebinarAttended { webinar_id } => {
            Payload::WebinarAttended(pb::WebinarAttended {
                webinar_id: webinar_id.clone(),
            })
        }
        EventKind::ProfileUpdate { attributes } => Payload::ProfileUpdate(pb::ProfileUpdate {
            attributes: attributes.clone(),
        }),
        EventKind::Unsubscribe => Payload::Unsubscribe(pb::Unsubscribe {}),
        EventKind::Identify => Payload::Identify(pb::Identify {}),
        EventKind::Feedback { .. } => {
            let (t, rep_id, reason, amount, opp) =
                super::feedback_fields(&e.kind).expect("a feedback kind");
            Payload::Feedback(pb::LeadFeedback {
                r#type: t.as_str().to_owned(),
                rep_id: rep_id.map(str::to_owned),
                reason: reason.map(str::to_owned),
                amount,
                opportunity_id: opp.map(str::to_owned),
            })
        }
        EventKind::EmailBounce {
            campaign_id,
            bounce_type,
        } => Payload::EmailBounce(pb::EmailBounce {
            campaign_id: campaign_id.clone(),
            bounce_type: bounce_type.as_str().to_owned(),
        }),
    };
    pb::LeadEvent {
        event_id: e.event_id.clone(),
        lead_id: e.lead_id.clone(),
        occurred_at: ts(e.occurred_at),
        company_domain: e.company_domain.clone(),
        account_id: e.account_id.clone(),
        visitor_id: e.visitor_id.clone(),
        payload: Some(payload),
    }
}

fn reasons_out(reasons: &[Reason]) -> Vec<pb::Reason> {
    reasons
        .iter()
        .map(|r| pb::Reason {
            rule_id: r.rule_id.to_string(),
            label: r.label.to_string(),
            kind: r.kind.as_str().to_owned(),
            points: r.points,
            count: r.count,
            last_seen: ts(r.last_seen),
        })
        .collect()
}

fn reasons_in(reasons: Vec<pb::Reason>) -> Result<Vec<Reason>, Rejection> {
    reasons
        .into_iter()
        .map(|r| {
            Ok(Reason {
                last_seen: ms("reasons.last_seen", r.last_seen)?,
                kind: kind_in(&r.kind)?,
                rule_id: Arc::from(r.rule_id),
                label: Arc::from(r.label),
                points: r.points,
                count: r.count,
            })
        })
        .collect()
}

pub(super) fn encode_alert(a: &Alert) -> Vec<u8> {
    pb::HotLeadAlert {
        alert_id: a.alert_id.clone(),
        lead_id: a.lead_id.clone(),
        score: a.score,
        fit: a.fit,
        engagement: a.engagement,
        grade: a.grade.as_str().to_owned(),
        threshold: a.threshold,
        qualification: a.qualification.clone(),
        crossed_at: ts(a.crossed_at),
        respond_by: ts(a.respond_by),
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
    }
    .encode_to_vec()
}

pub(super) fn decode_alert(bytes: &[u8]) -> Result<Alert, Rejection> {
    let a = pb::HotLeadAlert::decode(bytes).map_err(malformed)?;
    Ok(Alert {
        crossed_at: ms("crossed_at", a.crossed_at)?,
        respond_by: ms("respond_by", a.respond_by)?,
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

pub(super) fn encode_score(s: &LeadScore) -> Vec<u8> {
    pb::LeadScore {
        lead_id: s.lead_id.clone(),
        score: s.score,
        fit: s.fit,
        engagement: s.engagement,
        grade: s.grade.as_str().to_owned(),
        threshold: s.threshold,
        qualified: s.qualified,
        alerted: s.alerted,
        disqualified: s.disqualified.as_ref().map(|d| pb::Disqualified {
            rule_id: d.rule_id.to_string(),
            label: d.label.to_string(),
            at: ts(d.at),
        }),
        missing: s.missing.clone(),
        updated_at: ts(s.updated_at),
        model_version: s.model_version.to_string(),
        reasons: reasons_out(&s.reasons),
    }
    .encode_to_vec()
}

pub(super) fn decode_score(bytes: &[u8]) -> Result<LeadScore, Rejection> {
    let s = pb::LeadScore::decode(bytes).map_err(malformed)?;
    Ok(LeadScore {
        updated_at: ms("updated_at", s.updated_at)?,
        reasons: reasons_in(s.reasons)?,
        grade: grade_in("grade", &s.grade)?,
        disqualified: match s.disqualified {
            None => None,
            Some(d) => Some(DisqualifiedBy {
                at: ms("disqualified.at", d.at)?,
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
    pb::EnrichmentHold {
        lead_id: h.lead_id.clone(),
        missing: h.missing.clone(),
        score: h.score,
        fit: h.fit,
        engagement: h.engagement,
        grade: h.grade.as_str().to_owned(),
        held_at: ts(h.held_at),
        model_version: h.model_version.to_string(),
        event_id: h.event_id.clone(),
        reasons: reasons_out(&h.reasons),
    }
    .encode_to_vec()
}

pub(super) fn decode_hold(bytes: &[u8]) -> Result<EnrichmentHold, Rejection> {
    let h = pb::EnrichmentHold::decode(bytes).map_err(malformed)?;
    Ok(EnrichmentHold {
        held_at: ms("held_at", h.held_at)?,
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

/// The changelog record built as a prost message: the reference the direct
/// writer (`state_writer`) is checked against.
#[cfg(test)]
pub(super) fn state_message(lead_id: &str, s: &LeadState) -> pb::LeadState {
    pb::LeadState {
        lead_id: lead_id.to_owned(),
        contributions: s
            .contributions
            .iter()
            .map(|c| pb::RuleContribution {
                rule_id: c.rule_id.to_string(),
                weight: c.weight,
                count: c.count,
                last_seen_ms: c.last_seen,
                as_of_ms: c.as_of,
                days: Vec::new(),
                capped_ms: c.capped.clone(),
                window_ms: c.window.clone(),
            })
            .collect(),
        alerted: s.alerted,
        alerts: s.alerts,
        updated_at_ms: s.updated_at,
        model_version: s.model_version.to_string(),
        attributes: s
            .attributes
            .iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
        fit: s.fit,
        last_alert_at_ms: s.last_alert_at,
        disqualified: s.disqualified.as_ref().map(|d| pb::Disqualification {
            rule_id: d.rule_id.to_string(),
            at_ms: d.at,
            sticky: d.sticky,
        }),
        held: s.held.clone(),
        stage: s.stage.map_or(String::new(), |st| st.as_str().to_owned()),
        seen_ids: s.seen.iter().map(|&(id, _)| id).collect(),
        seen_age_ms: s
            .seen
            .iter()
            .map(|&(_, t)| s.updated_at.saturating_sub(t))
            .collect(),
        handoff: s.handoff.as_ref().map(|h| pb::Handoff {
            alert_id: h.alert_id.clone(),
            team: h.team.clone(),
            rep: h.rep.clone(),
            via: h.via.clone(),
            handed_at_ms: h.handed_at,
            respond_by_ms: h.respond_by,
            contact_due_ms: h.contact_due,
            first_contact_at_ms: h.first_contact_at,
            sla: h.sla.as_str().to_owned(),
            breaches: h.breaches,
            reassignments: h.reassignments,
            feedback_by_ms: h.feedback_by,
            feedback: h.feedback.as_ref().map(|f| f.0.clone()),
            feedback_at_ms: h.feedback.as_ref().map(|f| f.1),
            feedback_reason: h.feedback.as_ref().and_then(|f| f.2.clone()),
            feedback_overdue: h.feedback_overdue,
            qualified_by: h.qualified_by.clone(),
            grade: h.grade.clone(),
            score: h.score,
            won_amount: h.won_amount,
            lost_reason: h.lost_reason.clone(),
        }),
        watch_cooldowns: s
            .watch_cooldowns
            .iter()
            .map(|c| pb::WatchCooldown {
                watch_id: c.watch_id.to_string(),
                fired_at_ms: c.fired_at,
                quiet_until_ms: c.quiet_until,
            })
            .collect(),
        next_refresh_at_ms: s.next_refresh_at,
        refreshed_at_ms: s.refreshed_at,
        linked_visitors: s.linked_visitors.clone(),
    }
}

pub(super) fn encode_routing(r: &RoutingState) -> Vec<u8> {
    pb::RoutingState {
        reps: r
            .assigned
            .iter()
            .map(|(rep, counts)| pb::routing_state::RepCounts {
                rep_id: rep.clone(),
                per_grade: counts.to_vec(),
            })
            .collect(),
    }
    .encode_to_vec()
}

pub(super) fn decode_routing(bytes: &[u8]) -> Result<RoutingState, Rejection> {
    let r = pb::RoutingState::decode(bytes).map_err(malformed)?;
    Ok(RoutingState {
        assigned: r
            .reps
            .into_iter()
            .map(|c| {
                let mut counts = [0u32; 4];
                for (i, n) in c.per_grade.into_iter().take(4).enumerate() {
                    counts[i] = n;
                }
                (c.rep_id, counts)
            })
            .collect(),
    })
}

/// The changelog record read through the prost message: the reference the
/// direct reader (`state_reader`) is checked against.
#[cfg(test)]
pub(super) fn decode_state(bytes: &[u8]) -> Result<LeadState, Rejection> {
    let s = pb::LeadState::decode(bytes).map_err(malformed)?;
    Ok(LeadState {
        contributions: s
            .contributions
            .into_iter()
            .map(|c| Contribution {
                rule_id: Arc::from(c.rule_id),
                // Resolved against the model on the lead's next event.
                rule: u32::MAX,
                weight: c.weight,
                as_of: c.as_of_ms,
                count: c.count,
                last_seen: c.last_seen_ms,
                window: if c.window_ms.is_empty() {
                    let days: Vec<_> = c.days.iter().map(|d| (d.day, d.count)).collect();
                    super::state_reader::window_from_days(&days)
                } else {
                    let mut w = c.window_ms;
                    w.sort_unstable();
                    w
                },
                capped: c.capped_ms,
            })
            .collect(),
        fit: s.fit,
        alerted: s.alerted,
        last_alert_at: s.last_alert_at_ms,
        alerts: s.alerts,
        updated_at: s.updated_at_ms,
        model_version: Arc::from(s.model_version),
        attributes: s.attributes.iter().collect(),
        disqualified: s.disqualified.map(|d| {
            Box::new(Disqualification {
                rule_id: Arc::from(d.rule_id),
                at: d.at_ms,
                sticky: d.sticky,
            })
        }),
        held: s.held,
        stage: Stage::parse(&s.stage),
        seen: super::state_reader::seen_from(&s.seen_ids, &s.seen_age_ms, s.updated_at_ms)
            .map_err(|detail| Rejection::Malformed {
                format: "protobuf",
                detail,
            })?,
        handoff: s.handoff.map(|h| Box::new(handoff_from(h))),
        watch_cooldowns: s
            .watch_cooldowns
            .into_iter()
            .map(|c| leadpulse_core::WatchCooldown {
                watch_id: Arc::from(c.watch_id),
                fired_at: c.fired_at_ms,
                quiet_until: c.quiet_until_ms,
            })
            .collect(),
        next_refresh_at: s.next_refresh_at_ms,
        refreshed_at: s.refreshed_at_ms,
        linked_visitors: s.linked_visitors,
        watch_miss: Default::default(),
    })
}

pub(super) fn handoff_from(h: pb::Handoff) -> Handoff {
    Handoff {
        sla: SlaStatus::parse(&h.sla).unwrap_or_default(),
        feedback: h
            .feedback
            .map(|f| (f, h.feedback_at_ms.unwrap_or_default(), h.feedback_reason)),
        alert_id: h.alert_id,
        team: h.team,
        rep: h.rep,
        via: h.via,
        handed_at: h.handed_at_ms,
        respond_by: h.respond_by_ms,
        contact_due: h.contact_due_ms,
        first_contact_at: h.first_contact_at_ms,
        breaches: h.breaches,
        reassignments: h.reassignments,
        feedback_by: h.feedback_by_ms,
        feedback_overdue: h.feedback_overdue,
        qualified_by: h.qualified_by,
        grade: h.grade,
        score: h.score,
        won_amount: h.won_amount,
        lost_reason: h.lost_reason,
    }
}
