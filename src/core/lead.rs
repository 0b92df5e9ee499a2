//! Per-lead state: everything the scorer remembers about one lead.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::event::Millis;

/// What leadpulse knows about one lead. Kept per rule, not only as a total,
/// so that scores can be explained and re-scored under a new model.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LeadState {
    /// Points earned per rule, in the order the rules first fired.
    pub contributions: Vec<Contribution>,
    /// True from an alert until the score falls below the threshold again;
    /// this is what makes alerts fire on the upward crossing only.
    pub above_threshold: bool,
    /// How many alerts this lead has raised; part of each alert's id.
    pub alerts: u32,
    /// The latest event time seen for this lead.
    pub updated_at: Millis,
    /// The model that last scored this lead.
    pub model_version: Arc<str>,
    /// Latest known company domain.
    pub company_domain: Option<String>,
    /// Latest known CRM account.
    pub account_id: Option<String>,
    /// Profile attributes from `profile_update` events and form fields.
    pub attributes: BTreeMap<String, String>,
}

/// One rule's share of a lead's score.
#[derive(Debug, Clone, PartialEq)]
pub struct Contribution {
    /// The rule that earned these points.
    pub rule_id: Arc<str>,
    /// Points earned by this rule so far.
    pub points: f64,
    /// How many events matched the rule.
    pub count: u32,
    /// Event time of the latest match.
    pub last_seen: Millis,
}

impl LeadState {
    /// The total score: the sum of every rule's contribution.
    pub fn score(&self) -> f64 {
        self.contributions.iter().map(|c| c.points).sum()
    }

    /// The contribution of `rule_id`, created empty when missing.
    pub fn contribution_mut(&mut self, rule_id: &Arc<str>) -> &mut Contribution {
        let i = match self
            .contributions
            .iter()
            .position(|c| c.rule_id == *rule_id)
        {
            Some(i) => i,
            None => {
                self.contributions.push(Contribution {
                    rule_id: rule_id.clone(),
                    points: 0.0,
                    count: 0,
                    last_seen: Millis::MIN,
                });
                self.contributions.len() - 1
            }
        };
        &mut self.contributions[i]
    }
}
