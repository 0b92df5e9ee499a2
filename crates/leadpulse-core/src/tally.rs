//! Pure tallies of what a transaction (or a replay) did: the counts the
//! service turns into metrics once a transaction commits, and that `replay`
//! and the demo summarise.

use super::event::{EventType, Millis};
use super::lead::{LeadState, SlaStatus, Stage};
use super::outcome::{Outcome, StageCause};

/// Counts of one committed transaction.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchCounts {
    /// Records read from the events topic.
    pub consumed: u64,
    /// Events that were scored.
    pub scored: u64,
    /// Re-sent events (an `event_id` the lead already had), not scored.
    pub duplicates: u64,
    /// Hot-lead alerts published.
    pub alerts: u64,
    /// Records sent to the dead-letter topic, by reason code.
    pub dead_lettered: Vec<(&'static str, u64)>,
    /// Score records published.
    pub score_updates: u64,
    /// Leads held for enrichment.
    pub holds: u64,
    /// `lead-accounts` records applied to their accounts.
    pub account_contributions: u64,
    /// Account score records published.
    pub account_score_updates: u64,
    /// Account alerts published.
    pub account_alerts: u64,
}

impl BatchCounts {
    /// Counts one rejection with the given reason code.
    pub fn dead_letter(&mut self, reason: &'static str) {
        match self.dead_lettered.iter_mut().find(|(r, _)| *r == reason) {
            Some((_, n)) => *n += 1,
            None => self.dead_lettered.push((reason, 1)),
        }
    }

    /// Total records sent to the dead-letter topic.
    pub fn dead_lettered_total(&self) -> u64 {
        self.dead_lettered.iter().map(|(_, n)| n).sum()
    }

    /// Adds another batch's counts.
    pub fn add(&mut self, other: &BatchCounts) {
        self.consumed += other.consumed;
        self.scored += other.scored;
        self.duplicates += other.duplicates;
        self.alerts += other.alerts;
        self.score_updates += other.score_updates;
        self.holds += other.holds;
        self.account_contributions += other.account_contributions;
        self.account_score_updates += other.account_score_updates;
        self.account_alerts += other.account_alerts;
        for (r, n) in &other.dead_lettered {
            for _ in 0..*n {
                self.dead_letter(r);
            }
        }
    }
}

/// Sales-loop figures of one transaction, recorded once it commits.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SalesCounts {
    /// Team of each new handoff.
    pub handoffs: Vec<String>,
    /// Seconds from handoff to first contact, for contacts made now.
    pub first_contact_secs: Vec<f64>,
    pub sla_met: u64,
    /// Handoffs breached for the first time.
    pub sla_breached: u64,
    /// Every breach record.
    pub breaches: u64,
    pub overdue: u64,
    /// (from, to) stage of every transition.
    pub transitions: Vec<(&'static str, &'static str)>,
    /// Rejection reasons, normalised.
    pub rejections: Vec<String>,
    /// (won, qualifying rule, amount) of closed deals.
    pub deals: Vec<(bool, String, f64)>,
}

impl SalesCounts {
    /// Adds what one event or timer did. `contact_before` is the handoff's
    /// first contact before it (`None` without a handoff).
    pub fn observe(
        &mut self,
        contact_before: Option<Option<Millis>>,
        lead: &LeadState,
        outcome: &Outcome,
    ) {
        if let Some(team) = outcome.alert.as_ref().and_then(|a| a.owner_team.clone()) {
            self.handoffs.push(team);
        }
        for b in &outcome.breaches {
            self.breaches += 1;
            if b.breach_number == 1 {
                self.sla_breached += 1;
            }
        }
        self.overdue += u64::from(outcome.overdue.is_some());
        if let (Some(None), Some(h)) = (contact_before, &lead.handoff) {
            if let Some(at) = h.first_contact_at {
                self.first_contact_secs
                    .push((at - h.handed_at).max(0) as f64 / 1000.0);
                if h.sla == SlaStatus::Met {
                    self.sla_met += 1;
                }
            }
        }
        for c in &outcome.stages {
            self.transitions
                .push((c.from.map_or("none", Stage::as_str), c.to.as_str()));
            let rule = lead
                .handoff
                .as_ref()
                .map_or_else(String::new, |h| h.qualified_by.clone());
            match c.cause {
                StageCause::Event(EventType::LeadRejected) => {
                    self.rejections.push(normalise_reason(c.reason.as_deref()))
                }
                StageCause::Event(EventType::DealWon) => {
                    let amount = lead
                        .handoff
                        .as_ref()
                        .and_then(|h| h.won_amount)
                        .unwrap_or(0.0);
                    self.deals.push((true, rule, amount));
                }
                StageCause::Event(EventType::DealLost) => self.deals.push((false, rule, 0.0)),
                _ => {}
            }
        }
    }
}

/// Reasons are free text: keep label values few and short.
fn normalise_reason(reason: Option<&str>) -> String {
    let r: String = reason
        .unwrap_or("unspecified")
        .trim()
        .to_lowercase()
        .chars()
        .take(40)
        .collect();
    if r.is_empty() {
        "unspecified".into()
    } else {
        r
    }
}
