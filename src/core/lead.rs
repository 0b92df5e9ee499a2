//! Per-lead state: everything the scorer remembers about one lead.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::event::Millis;

/// What leadpulse knows about one lead. Engagement is kept per rule, not
/// only as a total, so scores can be explained and re-scored under a new
/// model.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LeadState {
    /// Engagement per rule, in the order the rules first counted.
    pub contributions: Vec<Contribution>,
    /// Fit points under `model_version`, from `attributes`.
    pub fit: f64,
    /// True from an alert until the lead re-arms (falls below the re-arm
    /// level, or the cooldown passes); this is what makes alerts fire once
    /// per crossing.
    pub alerted: bool,
    /// Event time of the latest alert.
    pub last_alert_at: Option<Millis>,
    /// How many alerts this lead has raised; part of each alert's id.
    pub alerts: u32,
    /// The latest event time seen for this lead. Scores are evaluated at it.
    pub updated_at: Millis,
    /// The model that last scored this lead.
    pub model_version: Arc<str>,
    /// Profile attributes: `profile_update` attributes, form fields,
    /// `company_domain`, `account_id`, and `email_domain` derived from `email`.
    pub attributes: BTreeMap<String, String>,
    /// Why the lead may not be handed to sales, if it may not.
    pub disqualified: Option<Disqualification>,
    /// While the lead qualifies but lacks required attributes: which.
    pub held: Vec<String>,
}

/// A disqualification and where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Disqualification {
    /// The disqualifier's id.
    pub rule_id: Arc<str>,
    /// Event time it was found.
    pub at: Millis,
    /// Event-based disqualifications (unsubscribe, hard bounce) stay;
    /// attribute-based ones are lifted when the attribute changes.
    pub sticky: bool,
}

/// One engagement rule's share of a lead's score. Stores matches, not
/// points, so a new model with other points can re-score it.
#[derive(Debug, Clone, PartialEq)]
pub struct Contribution {
    /// The rule that counted.
    pub rule_id: Arc<str>,
    /// Index of the rule in the scorer's model; resolved when the model is
    /// adopted, `u32::MAX` until then.
    pub rule: u32,
    /// Counted matches, decayed to `as_of` when the rule's group has a half-life.
    pub weight: f64,
    /// Event time `weight` is valid at.
    pub as_of: Millis,
    /// Counted matches, ever.
    pub count: u32,
    /// Event time of the latest counted match.
    pub last_seen: Millis,
    /// For window decay: counted matches per day (day number, count), oldest first.
    pub days: Vec<(i64, u32)>,
    /// For `cap = { max, per_days }`: event times of recent counted matches.
    pub capped: Vec<Millis>,
}

impl Contribution {
    /// An empty contribution of a rule.
    pub fn new(rule_id: Arc<str>, rule: u32, at: Millis) -> Self {
        Contribution {
            rule_id,
            rule,
            weight: 0.0,
            as_of: at,
            count: 0,
            last_seen: at,
            days: Vec::new(),
            capped: Vec::new(),
        }
    }
}
