//! The scorer: applies one event to one lead's state and decides whether the
//! lead just became sales-ready. Pure and deterministic on event time.

use std::sync::Arc;

use xxhash_rust::xxh3::xxh3_128;

use super::event::{Event, EventKind, Millis};
use super::lead::LeadState;
use super::model::Model;

/// A hot-lead alert: the lead crossed the threshold upwards.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    /// Deterministic: the same events under the same model give the same id,
    /// so consumers can de-duplicate and replays can be compared.
    pub alert_id: String,
    pub lead_id: String,
    pub score: f64,
    pub threshold: f64,
    /// Event time of the event that crossed the threshold.
    pub crossed_at: Millis,
    /// `crossed_at` plus the model's response window.
    pub respond_by: Millis,
    pub model_version: Arc<str>,
    /// The event that crossed the threshold.
    pub event_id: String,
    /// Why the lead scores what it does, largest share first.
    pub reasons: Vec<Reason>,
    pub company_domain: Option<String>,
    pub account_id: Option<String>,
}

/// One rule's share of a score, as shown to people.
#[derive(Debug, Clone, PartialEq)]
pub struct Reason {
    pub rule_id: Arc<str>,
    pub label: Arc<str>,
    pub points: f64,
    pub count: u32,
    pub last_seen: Millis,
}

/// A lead's current score, as published on `lead-scores`.
#[derive(Debug, Clone, PartialEq)]
pub struct LeadScore {
    pub lead_id: String,
    pub score: f64,
    pub threshold: f64,
    pub above_threshold: bool,
    pub updated_at: Millis,
    pub model_version: Arc<str>,
    pub reasons: Vec<Reason>,
}

/// What applying one event changed.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Outcome {
    /// The score or its explanation changed, so `lead-scores` needs a new record.
    pub score_changed: bool,
    /// Set when this event made the lead cross the threshold.
    pub alert: Option<Alert>,
}

/// Applies a model to leads.
#[derive(Debug, Clone)]
pub struct Scorer {
    model: Arc<Model>,
}

impl Scorer {
    pub fn new(model: Arc<Model>) -> Self {
        Scorer { model }
    }

    /// The model in use.
    pub fn model(&self) -> &Arc<Model> {
        &self.model
    }

    /// Applies `event` to `lead` and reports what changed.
    pub fn apply(&self, lead: &mut LeadState, event: &Event) -> Outcome {
        let model = &*self.model;
        if let Some(d) = &event.company_domain {
            lead.company_domain = Some(d.clone());
        }
        if let Some(a) = &event.account_id {
            lead.account_id = Some(a.clone());
        }
        match &event.kind {
            EventKind::ProfileUpdate { attributes } => {
                lead.attributes
                    .extend(attributes.iter().map(|(k, v)| (k.clone(), v.clone())));
            }
            EventKind::FormSubmit { fields, .. } => {
                lead.attributes
                    .extend(fields.iter().map(|(k, v)| (k.clone(), v.clone())));
            }
            _ => {}
        }

        let mut score_changed = false;
        for rule in model.rules_for(event.kind.event_type()) {
            if rule.matches(event) {
                let c = lead.contribution_mut(&rule.id);
                c.points += rule.points;
                c.count += 1;
                c.last_seen = c.last_seen.max(event.occurred_at);
                score_changed = true;
            }
        }
        if event.occurred_at > lead.updated_at {
            // The score record carries `updated_at`, so it changes too.
            lead.updated_at = event.occurred_at;
            score_changed = true;
        }
        if lead.model_version != model.version {
            lead.model_version = model.version.clone();
            score_changed = true;
        }

        let score = lead.score();
        let alert = if score >= model.threshold {
            if lead.above_threshold {
                None
            } else {
                lead.above_threshold = true;
                lead.alerts += 1;
                Some(self.alert(lead, event, score))
            }
        } else {
            lead.above_threshold = false;
            None
        };
        Outcome {
            score_changed,
            alert,
        }
    }

    fn alert(&self, lead: &LeadState, event: &Event, score: f64) -> Alert {
        let model = &*self.model;
        Alert {
            alert_id: alert_id(&model.version, &event.lead_id, &event.event_id, lead.alerts),
            lead_id: event.lead_id.clone(),
            score,
            threshold: model.threshold,
            crossed_at: event.occurred_at,
            respond_by: event.occurred_at + model.respond_within,
            model_version: model.version.clone(),
            event_id: event.event_id.clone(),
            reasons: self.reasons(lead),
            company_domain: lead.company_domain.clone(),
            account_id: lead.account_id.clone(),
        }
    }

    /// Every rule's share of the lead's score, largest first. They add up to
    /// the score.
    pub fn reasons(&self, lead: &LeadState) -> Vec<Reason> {
        let mut reasons: Vec<Reason> = lead
            .contributions
            .iter()
            .filter(|c| c.count > 0)
            .map(|c| Reason {
                rule_id: c.rule_id.clone(),
                label: self
                    .model
                    .rule(&c.rule_id)
                    .map_or_else(|| c.rule_id.clone(), |r| r.label.clone()),
                points: c.points,
                count: c.count,
                last_seen: c.last_seen,
            })
            .collect();
        reasons.sort_by(|a, b| {
            b.points
                .abs()
                .total_cmp(&a.points.abs())
                .then_with(|| a.rule_id.cmp(&b.rule_id))
        });
        reasons
    }

    /// The lead's current score record.
    pub fn score_of(&self, lead_id: &str, lead: &LeadState) -> LeadScore {
        LeadScore {
            lead_id: lead_id.to_owned(),
            score: lead.score(),
            threshold: self.model.threshold,
            above_threshold: lead.above_threshold,
            updated_at: lead.updated_at,
            model_version: lead.model_version.clone(),
            reasons: self.reasons(lead),
        }
    }
}

/// A stable 128-bit id, hex encoded. xxh3 is specified, so ids stay the same
/// across builds and platforms.
fn alert_id(model_version: &str, lead_id: &str, event_id: &str, nth: u32) -> String {
    let mut buf = Vec::with_capacity(model_version.len() + lead_id.len() + event_id.len() + 8);
    for part in [model_version, lead_id, event_id] {
        buf.extend_from_slice(part.as_bytes());
        buf.push(0);
    }
    buf.extend_from_slice(&nth.to_le_bytes());
    format!("{:032x}", xxh3_128(&buf))
}
