//! The sales desk: what happens around a score. Routes alerts to reps,
//! times the follow-up SLA and the feedback deadline, takes sales feedback,
//! and moves leads through lifecycle stages. Pure and deterministic: timers
//! fire at a time the caller gives (the wall clock in `run`, stream time in
//! `replay`).

use std::sync::Arc;

use xxhash_rust::xxh3::xxh3_128;

use super::account::{account_key, default_account_key, AccountAlert, AccountKey};
use super::event::{Event, EventKind, Feedback, Millis};
use super::lead::{Handoff, LeadState, SlaStatus, Stage};
use super::outcome::{
    Alert, Contact, FeedbackOverdue, Outcome, ReasonKind, SlaBreach, StageCause, StageChange,
};
use super::routing::{Roster, RoutingState};
use super::scorer::Scorer;

/// Scoring plus the sales loop.
#[derive(Debug, Clone)]
pub struct Desk {
    scorer: Scorer,
    roster: Option<Arc<Roster>>,
}

impl Desk {
    /// Without a roster, alerts have no owner and no timers run.
    pub fn new(scorer: Scorer, roster: Option<Arc<Roster>>) -> Self {
        Desk { scorer, roster }
    }

    pub fn scorer(&self) -> &Scorer {
        &self.scorer
    }

    pub fn roster(&self) -> Option<&Arc<Roster>> {
        self.roster.as_ref()
    }

    /// Names the owner of an account alert: the rep the roster's named
    /// account gives, when they are available. Otherwise the alert has no
    /// owner and `notify` sends it to its configured recipients.
    pub fn own_account_alert(&self, alert: &mut AccountAlert) {
        let owner = self
            .roster
            .as_ref()
            .and_then(|r| r.named_account_owner(&alert.account));
        if let Some(owner) = owner {
            alert.owner_team = Some(owner.team.to_string());
            alert.owner_rep = Some(owner.rep.to_string());
        }
    }

    /// The next time [`Desk::fire`] has work for this lead: a decay
    /// refresh, an SLA deadline or a feedback deadline.
    pub fn next_deadline(lead: &LeadState) -> Option<Millis> {
        // Handoffs without an owner (no roster) have no timers.
        let sales = lead
            .handoff
            .as_ref()
            .filter(|h| !h.team.is_empty())
            .and_then(|h| {
                let feedback =
                    (h.feedback.is_none() && !h.feedback_overdue).then_some(h.feedback_by);
                h.contact_due.into_iter().chain(feedback).min()
            });
        sales.into_iter().chain(lead.next_refresh_at).min()
    }

    /// Applies an engagement or feedback event. A re-sent one (`[dedup]`)
    /// does nothing. Timers of this lead that are due by the event's time
    /// fire first.
    pub fn apply(
        &self,
        routing: &mut RoutingState,
        lead: &mut LeadState,
        event: &Event,
    ) -> Outcome {
        let dedup = self.scorer.model().dedup;
        if !lead.first_time(
            &event.event_id,
            event.occurred_at,
            dedup.window,
            dedup.max_ids,
        ) {
            // Already applied: its timers have fired and it has counted.
            return Outcome {
                duplicate: true,
                ..Outcome::default()
            };
        }
        let mut out = self.fire(routing, &event.lead_id, lead, event.occurred_at);
        let at = event.occurred_at;
        if lead.stage.is_none() {
            self.move_to(
                lead,
                &event.lead_id,
                Stage::Subscriber,
                at,
                StageCause::FirstEvent,
                None,
                &mut out,
            );
        }
        if let EventKind::Feedback { feedback, rep_id } = &event.kind {
            self.feedback(lead, event, feedback, rep_id.as_deref(), &mut out);
            out.handoff_changed |= !out.stages.is_empty() && lead.handoff.is_some();
            return out;
        }
        let scored = self.scorer.apply(lead, event);
        out.score_changed |= scored.score_changed;
        self.schedule_refresh(lead);
        out.hold = scored.hold;
        if lead.stage == Some(Stage::Subscriber) && is_lead_signal(&event.kind) {
            self.move_to(
                lead,
                &event.lead_id,
                Stage::Lead,
                at,
                StageCause::Event(event.kind.event_type()),
                None,
                &mut out,
            );
        }
        match (&lead.disqualified, lead.stage) {
            (Some(_), Some(s)) if s != Stage::Disqualified && s != Stage::Customer => {
                self.move_to(
                    lead,
                    &event.lead_id,
                    Stage::Disqualified,
                    at,
                    StageCause::Disqualified,
                    None,
                    &mut out,
                );
            }
            (None, Some(Stage::Disqualified)) => {
                self.move_to(
                    lead,
                    &event.lead_id,
                    Stage::Lead,
                    at,
                    StageCause::Requalified,
                    None,
                    &mut out,
                );
            }
            _ => {}
        }
        if let Some(mut alert) = scored.alert {
            self.hand_off(routing, lead, &mut alert);
            out.handoff_changed = true;
            let (team, rep) = (alert.owner_team.clone(), alert.owner_rep.clone());
            let alert_id = Some(alert.alert_id.clone());
            self.move_to_with(
                lead,
                &event.lead_id,
                Stage::Mql,
                alert.crossed_at,
                StageCause::Alert,
                alert_id,
                team,
                rep,
                None,
                &mut out,
            );
            out.alert = Some(alert);
        }
        // The handoff record carries the lead's stage: a new stage is a new
        // record, so what is published never depends on where transactions
        // (or replay's steps) begin and end.
        out.handoff_changed |= !out.stages.is_empty() && lead.handoff.is_some();
        out
    }

    /// After an event: the published score is the event's again (unless a
    /// refresh already published a later one), and the refresh timer
    /// restarts from it. The state change is committed with the lead; the
    /// score record is the event's own.
    fn schedule_refresh(&self, lead: &mut LeadState) {
        let Some(refresh) = &self.scorer.model().refresh else {
            return;
        };
        if lead.refreshed_at.is_some_and(|r| r <= lead.updated_at) {
            lead.refreshed_at = None;
        }
        lead.next_refresh_at = self.scorer.next_refresh(lead, refresh, lead.scored_at());
    }

    /// Fires a lead's decay refresh due at `now`: publishes the score as of
    /// the refresh time if decay has moved it far enough (and, with
    /// `mql_to_lead`, takes an MQL that no longer qualifies back to `lead`),
    /// then sets the next refresh.
    fn fire_refresh(&self, lead_id: &str, lead: &mut LeadState, now: Millis, out: &mut Outcome) {
        let Some(at) = lead.next_refresh_at.filter(|&t| t <= now) else {
            return;
        };
        let Some(refresh) = &self.scorer.model().refresh else {
            // A model without `[refresh]` took over: the timer stops.
            lead.next_refresh_at = None;
            return;
        };
        if self.scorer.refresh_due(lead, refresh, at) {
            lead.refreshed_at = Some(at);
            out.score_changed = true;
            if refresh.mql_to_lead && lead.stage == Some(Stage::Mql) {
                let m = self.scorer.model();
                let engagement = self.scorer.engagement_at(lead, at);
                let grade = m.grades.grade(lead.fit);
                if !m.qualify.holds(grade, engagement, lead.fit + engagement) {
                    let (alert_id, team, rep) = match lead.handoff.as_deref() {
                        Some(h) => (
                            Some(h.alert_id.clone()),
                            Some(h.team.clone()),
                            Some(h.rep.clone()),
                        ),
                        None => (None, None, None),
                    };
                    self.move_to_with(
                        lead,
                        lead_id,
                        Stage::Lead,
                        at,
                        StageCause::Decayed,
                        alert_id,
                        team,
                        rep,
                        None,
                        out,
                    );
                    out.handoff_changed |= lead.handoff.is_some();
                }
            }
        }
        // Staged, the lead's state (with the timer moved on) is committed
        // with the transaction even when nothing is published.
        lead.next_refresh_at = self.scorer.next_refresh(lead, refresh, at);
    }

    /// The lead's account, when the roster names accounts: by the model's
    /// `[account]` keys, or the default free-mail list without one, so a
    /// named account is the account that `account-scores` shows.
    fn account_for_routing(&self, roster: &Roster, lead: &LeadState) -> Option<AccountKey> {
        if !roster.account_owners.names_accounts() {
            return None;
        }
        match &self.scorer.model().account {
            Some(rules) => account_key(&lead.attributes, rules),
            None => default_account_key(&lead.attributes),
        }
    }

    /// Routes a new alert, stamps its owner and SLA deadline, and opens the
    /// handoff with its timers.
    fn hand_off(&self, routing: &mut RoutingState, lead: &mut LeadState, alert: &mut Alert) {
        let qualified_by = alert
            .reasons
            .iter()
            .find(|r| r.kind == ReasonKind::Engagement)
            .map_or_else(String::new, |r| r.rule_id.to_string());
        let mut handoff = Handoff {
            alert_id: alert.alert_id.clone(),
            handed_at: alert.crossed_at,
            respond_by: alert.respond_by,
            qualified_by,
            grade: alert.grade.as_str().to_owned(),
            score: alert.score,
            ..Handoff::default()
        };
        if let Some(roster) = &self.roster {
            let account = self.account_for_routing(roster, lead);
            let owner = roster.route(
                routing,
                &lead.attributes,
                account.as_ref(),
                alert.grade,
                None,
                None,
            );
            let team = roster
                .team(&owner.team)
                .expect("route returns a roster team");
            alert.respond_by = team.deadline(alert.crossed_at, team.sla);
            alert.owner_team = Some(owner.team.to_string());
            alert.owner_rep = Some(owner.rep.to_string());
            alert.routed_via = Some(owner.via.to_owned());
            handoff.team = owner.team.to_string();
            handoff.rep = owner.rep.to_string();
            handoff.via = owner.via.to_owned();
            handoff.respond_by = alert.respond_by;
            handoff.contact_due = Some(alert.respond_by);
            handoff.feedback_by = roster.feedback_by(team, alert.crossed_at);
        }
        lead.handoff = Some(Box::new(handoff));
    }

    /// Fires this lead's timers that are due at `now`: SLA breaches
    /// (escalation, optional reassignment) and overdue feedback. Each fires
    /// once: the handoff remembers it, and the handoff is committed with the
    /// breach it produced.
    pub fn fire(
        &self,
        routing: &mut RoutingState,
        lead_id: &str,
        lead: &mut LeadState,
        now: Millis,
    ) -> Outcome {
        let mut out = Outcome::default();
        self.fire_refresh(lead_id, lead, now, &mut out);
        let Some(roster) = &self.roster else {
            return out;
        };
        let grade = self.scorer.model().grades.grade(lead.fit);
        let Some(h) = lead.handoff.as_mut() else {
            return out;
        };
        while let Some(due) = h.contact_due.filter(|&d| d <= now) {
            h.breaches += 1;
            if h.sla == SlaStatus::Open {
                h.sla = SlaStatus::Breached;
            }
            let team = roster.team(&h.team);
            let escalate_to = team.map_or_else(String::new, |t| t.lead.to_string());
            let mut breach = SlaBreach {
                breach_id: format!(
                    "{:032x}",
                    xxh3_128(format!("{}\0{}", h.alert_id, h.breaches).as_bytes())
                ),
                lead_id: lead_id.to_owned(),
                alert_id: h.alert_id.clone(),
                team: h.team.clone(),
                rep: h.rep.clone(),
                escalate_to,
                respond_by: due,
                breach_number: h.breaches,
                reassigned_to: None,
                new_respond_by: None,
                contact: Contact::from_attributes(&lead.attributes),
            };
            h.contact_due = None;
            if let Some(team) =
                team.filter(|t| t.reassign_on_breach && h.reassignments < roster.max_reassignments)
            {
                let owner = roster.route(
                    routing,
                    &lead.attributes,
                    None,
                    grade,
                    Some(&h.rep),
                    Some(&team.id),
                );
                if *owner.rep != *h.rep && owner.via != "team_lead" {
                    h.rep = owner.rep.to_string();
                    h.reassignments += 1;
                    h.contact_due = Some(team.deadline(due, team.sla));
                    breach.reassigned_to = Some(h.rep.clone());
                    breach.new_respond_by = h.contact_due;
                }
            }
            out.breaches.push(breach);
            out.handoff_changed = true;
        }
        if h.feedback.is_none() && !h.feedback_overdue && !h.team.is_empty() && h.feedback_by <= now
        {
            h.feedback_overdue = true;
            out.overdue = Some(FeedbackOverdue {
                lead_id: lead_id.to_owned(),
                alert_id: h.alert_id.clone(),
                team: h.team.clone(),
                rep: h.rep.clone(),
                escalate_to: roster
                    .team(&h.team)
                    .map_or_else(String::new, |t| t.lead.to_string()),
                handed_at: h.handed_at,
                feedback_by: h.feedback_by,
                contact: Contact::from_attributes(&lead.attributes),
            });
            out.handoff_changed = true;
        }
        out
    }

    fn feedback(
        &self,
        lead: &mut LeadState,
        event: &Event,
        feedback: &Feedback,
        rep: Option<&str>,
        out: &mut Outcome,
    ) {
        let at = event.occurred_at;
        let cause = StageCause::Event(feedback.event_type());
        let contact = matches!(feedback, Feedback::Contacted | Feedback::Accepted);
        // A handoff is accepted or rejected once: the same verdict again (a
        // double click, a tool that retries) changes nothing, rather than
        // moving the stage back or recycling engagement earned since.
        if let Some(h) = lead.handoff.as_deref() {
            let verdict = h.feedback.as_ref().map(|(v, _, _)| v.as_str());
            let repeat = match feedback {
                Feedback::Accepted => verdict == Some("accepted"),
                Feedback::Rejected { .. } => verdict == Some("rejected"),
                _ => false,
            };
            if repeat {
                return;
            }
        }
        if let Some(h) = lead.handoff.as_mut() {
            if contact && h.first_contact_at.is_none() {
                h.first_contact_at = Some(at);
                if h.contact_due.is_some() && h.sla == SlaStatus::Open {
                    h.sla = SlaStatus::Met;
                }
                h.contact_due = None;
                out.handoff_changed = true;
            }
            match feedback {
                Feedback::Accepted if h.feedback.is_none() => {
                    h.feedback = Some(("accepted".into(), at, None));
                    out.handoff_changed = true;
                }
                Feedback::Rejected { reason } if h.feedback.is_none() => {
                    h.feedback = Some(("rejected".into(), at, Some(reason.clone())));
                    if h.sla == SlaStatus::Open {
                        h.sla = SlaStatus::Closed;
                    }
                    h.contact_due = None;
                    out.handoff_changed = true;
                }
                Feedback::DealWon { amount } => {
                    h.won_amount = Some(*amount);
                    out.handoff_changed = true;
                }
                Feedback::DealLost { reason } => {
                    h.lost_reason = Some(reason.clone());
                    out.handoff_changed = true;
                }
                _ => {}
            }
        }
        let handoff = lead
            .handoff
            .as_ref()
            .map(|h| (h.alert_id.clone(), h.team.clone(), h.rep.clone()));
        let (alert_id, team, rep_of_handoff) = match handoff {
            Some((a, t, r)) => (Some(a), Some(t), Some(r)),
            None => (None, None, None),
        };
        let rep = rep.map(str::to_owned).or(rep_of_handoff);
        let go = |desk: &Desk,
                  lead: &mut LeadState,
                  to: Stage,
                  reason: Option<String>,
                  out: &mut Outcome| {
            desk.move_to_with(
                lead,
                &event.lead_id,
                to,
                at,
                cause,
                alert_id.clone(),
                team.clone(),
                rep.clone(),
                reason,
                out,
            );
        };
        match feedback {
            Feedback::Contacted => {}
            Feedback::Accepted => go(self, lead, Stage::Sal, None, out),
            Feedback::Qualified => go(self, lead, Stage::Sql, None, out),
            Feedback::OpportunityCreated { .. } => go(self, lead, Stage::Opportunity, None, out),
            Feedback::DealWon { .. } => go(self, lead, Stage::Customer, None, out),
            Feedback::Rejected { reason } | Feedback::DealLost { reason } => {
                self.recycle(lead, out);
                go(self, lead, Stage::Recycled, Some(reason.clone()), out);
            }
            Feedback::Recycled { reason } => {
                self.recycle(lead, out);
                go(self, lead, Stage::Recycled, reason.clone(), out);
            }
        }
    }

    /// Back to nurture: engagement restarts from zero (fit stays), the lead
    /// re-arms, and open timers stop. A new handoff needs a new alert.
    fn recycle(&self, lead: &mut LeadState, out: &mut Outcome) {
        lead.contributions.clear();
        lead.alerted = false;
        lead.held.clear();
        if let Some(h) = lead.handoff.as_mut() {
            if h.contact_due.take().is_some() {
                out.handoff_changed = true;
            }
        }
        out.score_changed = true;
    }

    #[allow(clippy::too_many_arguments)]
    fn move_to(
        &self,
        lead: &mut LeadState,
        lead_id: &str,
        to: Stage,
        at: Millis,
        cause: StageCause,
        reason: Option<String>,
        out: &mut Outcome,
    ) {
        self.move_to_with(lead, lead_id, to, at, cause, None, None, None, reason, out);
    }

    #[allow(clippy::too_many_arguments)]
    fn move_to_with(
        &self,
        lead: &mut LeadState,
        lead_id: &str,
        to: Stage,
        at: Millis,
        cause: StageCause,
        alert_id: Option<String>,
        team: Option<String>,
        rep: Option<String>,
        reason: Option<String>,
        out: &mut Outcome,
    ) {
        if lead.stage == Some(to) {
            return;
        }
        out.stages.push(StageChange {
            lead_id: lead_id.to_owned(),
            from: lead.stage,
            to,
            at,
            cause,
            alert_id,
            team: team.filter(|t| !t.is_empty()),
            rep: rep.filter(|r| !r.is_empty()),
            reason,
        });
        lead.stage = Some(to);
        out.score_changed = true;
    }
}

/// Events that show more than newsletter-level interest.
fn is_lead_signal(kind: &EventKind) -> bool {
    match kind {
        EventKind::FormSubmit { form_id, .. } => form_id != "newsletter",
        EventKind::ContentDownload { .. } | EventKind::WebinarAttended { .. } => true,
        EventKind::ProfileUpdate { attributes } => attributes.contains_key("job_title"),
        _ => false,
    }
}
