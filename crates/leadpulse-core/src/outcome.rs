//! The records the core produces: what the scorer and the sales desk
//! decide, in the shape the codecs publish. Both produce these and neither
//! imports the other's types for it.

use std::sync::Arc;

use super::attributes::Attributes;
use super::event::{EventType, Millis};
use super::lead::{Handoff, LeadState, Stage};
use super::model::Grade;

/// Which part of the score a reason belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReasonKind {
    /// Who the lead is.
    Fit,
    /// What the lead did.
    Engagement,
}

impl ReasonKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ReasonKind::Fit => "fit",
            ReasonKind::Engagement => "engagement",
        }
    }
}

/// One rule's share of a score, as shown to people.
#[derive(Debug, Clone, PartialEq)]
pub struct Reason {
    pub rule_id: Arc<str>,
    pub label: Arc<str>,
    pub kind: ReasonKind,
    /// Points after decay, rounded to hundredths.
    pub points: f64,
    /// Counted matches (1 for fit).
    pub count: u32,
    /// Event time of the latest counted match (fit: of the lead's latest event).
    pub last_seen: Millis,
}

/// A disqualification as published.
#[derive(Debug, Clone, PartialEq)]
pub struct DisqualifiedBy {
    pub rule_id: Arc<str>,
    pub label: Arc<str>,
    pub at: Millis,
}

/// A hot-lead alert: the lead became sales-ready.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    /// Deterministic: the same events under the same model give the same id,
    /// so consumers can de-duplicate and replays can be compared.
    pub alert_id: String,
    pub lead_id: String,
    pub score: f64,
    pub fit: f64,
    pub engagement: f64,
    pub grade: Grade,
    /// The score the model asks for (see `qualification` for the full rule).
    pub threshold: f64,
    /// The qualification rule in words.
    pub qualification: String,
    /// Event time at which the lead became sales-ready.
    pub crossed_at: Millis,
    /// `crossed_at` plus the model's response window.
    pub respond_by: Millis,
    pub model_version: Arc<str>,
    /// The event that made the lead sales-ready.
    pub event_id: String,
    /// Why the lead scores what it does, largest share first.
    pub reasons: Vec<Reason>,
    pub company_domain: Option<String>,
    pub account_id: Option<String>,
    /// The owning team, when a roster routes alerts.
    pub owner_team: Option<String>,
    /// The owning rep.
    pub owner_rep: Option<String>,
    /// How the owner was chosen: `owner`, `named_account`, `account_owner`,
    /// `territory` or `team_lead`.
    pub routed_via: Option<String>,
    /// Who the lead is, as far as its attributes say.
    pub contact: Contact,
}

/// Who a lead is, as a rep reads it before calling: the person's name,
/// job title and company, from the lead's attributes when known.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Contact {
    /// `name`, or `first_name` and `last_name` joined.
    pub name: Option<String>,
    /// `title`, or `job_title`.
    pub title: Option<String>,
    /// The company's name: `company`, or `company_name`.
    pub company: Option<String>,
}

impl Contact {
    /// The contact details in a lead's attributes (empty values are absent).
    pub fn of(lead: &LeadState) -> Contact {
        Contact::from_attributes(&lead.attributes)
    }

    /// The contact details in these attributes; for callers that hold
    /// another part of the lead mutably.
    pub fn from_attributes(attributes: &Attributes) -> Contact {
        Contact::from_values(attributes.get_each([
            "name",
            "first_name",
            "last_name",
            "title",
            "job_title",
            "company",
            "company_name",
        ]))
    }

    /// The contact details from the values of `name`, `first_name`,
    /// `last_name`, `title`, `job_title`, `company` and `company_name`, for
    /// a caller that reads other attributes in the same pass.
    pub fn from_values(values: [Option<&str>; 7]) -> Contact {
        let [name, first, last, title, job_title, company, company_name] =
            values.map(|v| v.map(str::trim).filter(|v| !v.is_empty()));
        let name = name.map(str::to_owned).or_else(|| match (first, last) {
            (Some(f), Some(l)) => Some(format!("{f} {l}")),
            (f, l) => f.or(l).map(str::to_owned),
        });
        Contact {
            name,
            title: title.or(job_title).map(str::to_owned),
            company: company.or(company_name).map(str::to_owned),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.name.is_none() && self.title.is_none() && self.company.is_none()
    }
}

/// A lead that qualifies but lacks attributes sales needs: it waits on
/// `leads-needing-enrichment` and alerts once they arrive.
#[derive(Debug, Clone, PartialEq)]
pub struct EnrichmentHold {
    pub lead_id: String,
    /// Required attributes that are missing.
    pub missing: Vec<String>,
    pub score: f64,
    pub fit: f64,
    pub engagement: f64,
    pub grade: Grade,
    /// Event time at which the lead was held.
    pub held_at: Millis,
    pub model_version: Arc<str>,
    pub event_id: String,
    pub reasons: Vec<Reason>,
}

/// A lead's current score, as published on `lead-scores`.
#[derive(Debug, Clone, PartialEq)]
pub struct LeadScore {
    pub lead_id: String,
    pub score: f64,
    pub fit: f64,
    pub engagement: f64,
    pub grade: Grade,
    pub threshold: f64,
    /// The qualification rule holds now.
    pub qualified: bool,
    /// The lead has alerted and not re-armed since.
    pub alerted: bool,
    pub disqualified: Option<DisqualifiedBy>,
    /// Required attributes still missing while the lead is held.
    pub missing: Vec<String>,
    pub updated_at: Millis,
    pub model_version: Arc<str>,
    pub reasons: Vec<Reason>,
}

/// A follow-up deadline passed without contact.
#[derive(Debug, Clone, PartialEq)]
pub struct SlaBreach {
    /// Deterministic: alert id and breach number.
    pub breach_id: String,
    pub lead_id: String,
    pub alert_id: String,
    pub team: String,
    /// The rep who missed the deadline.
    pub rep: String,
    /// The team lead it escalates to.
    pub escalate_to: String,
    /// The deadline that passed; also when the breach happened.
    pub respond_by: Millis,
    /// 1 for the first breach of a handoff, 2 after a reassignment, ...
    pub breach_number: u32,
    /// The rep the lead was reassigned to, with a fresh deadline.
    pub reassigned_to: Option<String>,
    pub new_respond_by: Option<Millis>,
    /// Who the lead is, so the escalation can name them.
    pub contact: Contact,
}

/// Sales neither accepted nor rejected a lead by the feedback deadline.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedbackOverdue {
    pub lead_id: String,
    pub alert_id: String,
    pub team: String,
    pub rep: String,
    pub escalate_to: String,
    pub handed_at: Millis,
    pub feedback_by: Millis,
    /// Who the lead is, so the reminder can name them.
    pub contact: Contact,
}

/// A lifecycle transition.
#[derive(Debug, Clone, PartialEq)]
pub struct StageChange {
    pub lead_id: String,
    /// `None` for a lead's first stage.
    pub from: Option<Stage>,
    pub to: Stage,
    /// Event time of the transition.
    pub at: Millis,
    /// What caused it.
    pub cause: StageCause,
    /// The handoff it belongs to, if any.
    pub alert_id: Option<String>,
    pub team: Option<String>,
    pub rep: Option<String>,
    /// Rejection or loss reason.
    pub reason: Option<String>,
}

/// One handoff as published on `lead-handoffs`.
#[derive(Debug, Clone, PartialEq)]
pub struct HandoffRecord {
    pub lead_id: String,
    /// The lead's stage when the record was written.
    pub stage: Option<Stage>,
    pub handoff: Handoff,
}

/// What applying one event to a lead changed in its score.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Scored {
    /// The score record changed, so `lead-scores` needs a new record.
    pub score_changed: bool,
    /// Set when this event made the lead sales-ready.
    pub alert: Option<Alert>,
    /// Set when the lead qualified without the required attributes.
    pub hold: Option<EnrichmentHold>,
}

/// What one step of the sales desk (an event, or a due timer) produced.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Outcome {
    /// The score record changed, so `lead-scores` needs a new record.
    pub score_changed: bool,
    /// Set when this event made the lead sales-ready.
    pub alert: Option<Alert>,
    /// Set when the lead qualified without the required attributes.
    pub hold: Option<EnrichmentHold>,
    /// Follow-up deadlines that passed without contact.
    pub breaches: Vec<SlaBreach>,
    /// The feedback deadline passed without accept or reject.
    pub overdue: Option<FeedbackOverdue>,
    /// Lifecycle transitions, in order.
    pub stages: Vec<StageChange>,
    /// The handoff (`lead-handoffs`) or the stage it carries changed.
    pub handoff_changed: bool,
    /// The event was a re-sent one (its `event_id` already applied to the
    /// lead): nothing else happened.
    pub duplicate: bool,
}

impl HandoffRecord {
    /// The record of a lead's current handoff, from its state: the one
    /// place it is built, so `run` and `replay` publish the same fields
    /// whatever the transaction boundaries.
    pub fn of(lead_id: &str, lead: &LeadState) -> Option<HandoffRecord> {
        let handoff = lead.handoff.as_deref()?;
        Some(HandoffRecord {
            lead_id: lead_id.to_owned(),
            stage: lead.stage,
            handoff: handoff.clone(),
        })
    }
}

/// What moved a lead to a new stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StageCause {
    /// The lead's first event made it a subscriber.
    FirstEvent,
    /// An event that shows more than newsletter interest, or sales feedback.
    Event(EventType),
    /// The lead crossed the threshold and was handed to sales.
    Alert,
    /// A disqualifier took effect.
    Disqualified,
    /// The disqualification no longer holds.
    Requalified,
    /// Decay took an MQL's score out of qualification (the model's
    /// `[refresh] mql_to_lead`).
    Decayed,
}

impl StageCause {
    /// The wire name: an event type, `first_event`, `alert`,
    /// `disqualified`, `requalified` or `decayed`.
    pub fn as_str(self) -> &'static str {
        match self {
            StageCause::FirstEvent => "first_event",
            StageCause::Event(t) => t.as_str(),
            StageCause::Alert => "alert",
            StageCause::Disqualified => "disqualified",
            StageCause::Requalified => "requalified",
            StageCause::Decayed => "decayed",
        }
    }

    /// The cause named `s`, as [`StageCause::as_str`] writes it.
    pub fn parse(s: &str) -> Option<StageCause> {
        Some(match s {
            "first_event" => StageCause::FirstEvent,
            "alert" => StageCause::Alert,
            "disqualified" => StageCause::Disqualified,
            "requalified" => StageCause::Requalified,
            "decayed" => StageCause::Decayed,
            other => StageCause::Event(other.parse().ok()?),
        })
    }
}
