//! The scorer: applies one event to one lead's state and decides whether the
//! lead just became sales-ready. Pure and deterministic on event time.

use std::sync::Arc;

use smallvec::SmallVec;
use xxhash_rust::xxh3::xxh3_128;

use super::admit::Rejection;
use super::attributes::Attributes;
use super::event::{Event, EventKind, Millis};
use super::lead::{Contribution, Disqualification, LeadState, MAX_WINDOW_MATCHES};
use super::model::{Cap, Decay, DisqualifyWhen, Grade, Model, Rule};
use super::outcome::{
    Alert, Contact, DisqualifiedBy, EnrichmentHold, LeadScore, Reason, ReasonKind, Scored,
};

/// Applies a model to leads.
#[derive(Debug, Clone)]
pub struct Scorer {
    model: Arc<Model>,
}

/// Rounded to hundredths, as records show points (never -0).
pub(crate) fn round2(x: f64) -> f64 {
    let r = (x * 100.0).round() / 100.0;
    if r == 0.0 {
        0.0
    } else {
        r
    }
}

/// 2^(-elapsed / half_life).
pub(crate) fn halving(elapsed: Millis, half_life: Millis) -> f64 {
    if elapsed <= 0 {
        1.0
    } else {
        (-(elapsed as f64) / half_life as f64 * std::f64::consts::LN_2).exp()
    }
}

/// Calls `f` with the attributes an event sets: its company domain and
/// account, profile attributes and form fields, and `email_domain` derived
/// from `email`; `None` when it sets none.
fn with_attribute_pairs<R>(event: &Event, f: impl FnOnce(&[(&str, &str)]) -> R) -> Option<R> {
    let fields = match &event.kind {
        EventKind::ProfileUpdate { attributes: map }
        | EventKind::FormSubmit { fields: map, .. } => Some(map),
        _ => None,
    };
    // Derived: follows its source, so an email without `@` clears it
    // (an empty value removes an attribute).
    let email_domain = fields.and_then(|map| map.get("email")).map(|email| {
        email.rsplit_once('@').map_or(String::new(), |(_, domain)| {
            domain.trim().to_ascii_lowercase()
        })
    });
    // Most events carry a domain and an account and nothing else.
    let mut pairs: SmallVec<[(&str, &str); 8]> = SmallVec::new();
    if let Some(d) = &event.company_domain {
        pairs.push(("company_domain", d));
    }
    if let Some(a) = &event.account_id {
        pairs.push(("account_id", a));
    }
    // Derived before the fields, so an `email_domain` sent explicitly wins.
    if let Some(domain) = &email_domain {
        pairs.push(("email_domain", domain));
    }
    if let Some(map) = fields {
        pairs.extend(map.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    }
    (!pairs.is_empty()).then(|| f(&pairs))
}

/// Sets the attributes `event` carries; true if any value changed.
fn update_attributes(lead: &mut LeadState, event: &Event) -> bool {
    with_attribute_pairs(event, |pairs| lead.attributes.update(pairs)).unwrap_or(false)
}

/// Refuses an event that would take the lead's state past its limits, so
/// that the lead's changelog and score records always fit a Kafka record.
pub fn check_state_limits(lead: &LeadState, event: &Event) -> Result<(), Rejection> {
    match with_attribute_pairs(event, |pairs| lead.attributes.check_update(pairs)) {
        Some(Err(detail)) => Err(Rejection::StateLimit {
            lead_id: event.lead_id.clone(),
            detail,
        }),
        _ => Ok(()),
    }
}

impl Scorer {
    pub fn new(model: Arc<Model>) -> Self {
        Scorer { model }
    }

    /// The model in use.
    pub fn model(&self) -> &Arc<Model> {
        &self.model
    }

    /// Brings a lead's state under this model: resolves rule indexes, drops
    /// engagement of rules the model no longer has, recomputes fit and
    /// attribute disqualifications. Returns true if the version changed.
    fn adopt(&self, lead: &mut LeadState) -> bool {
        let m = &*self.model;
        lead.contributions
            .retain_mut(|c| match m.rules.iter().position(|r| r.id == c.rule_id) {
                Some(i) => {
                    c.rule = i as u32;
                    true
                }
                None => false,
            });
        lead.fit = self.fit_of(&lead.attributes);
        self.reassess_attributes(lead, lead.updated_at);
        if lead.model_version != m.version {
            lead.model_version = m.version.clone();
            true
        } else {
            false
        }
    }

    fn fit_of(&self, attributes: &Attributes) -> f64 {
        self.model
            .fit_rules
            .iter()
            .filter(|r| r.condition.holds(attributes))
            .map(|r| r.points)
            .sum()
    }

    /// Re-evaluates attribute-based disqualifiers after attributes changed.
    fn reassess_attributes(&self, lead: &mut LeadState, at: Millis) {
        if lead.disqualified.as_ref().is_some_and(|d| d.sticky) {
            return;
        }
        let hit = self.model.disqualifiers.iter().find(|d| match &d.when {
            DisqualifyWhen::Attribute(c) => c.holds(&lead.attributes),
            DisqualifyWhen::Event(..) => false,
        });
        lead.disqualified = match (hit, lead.disqualified.take()) {
            (Some(d), Some(old)) if old.rule_id == d.id => Some(old),
            (Some(d), _) => Some(Box::new(Disqualification {
                rule_id: d.id.clone(),
                at,
                sticky: false,
            })),
            (None, _) => None,
        };
    }

    /// Applies `event` to `lead` and reports what changed.
    pub fn apply(&self, lead: &mut LeadState, event: &Event) -> Scored {
        let m = &*self.model;
        let mut changed = false;
        let unresolved = lead
            .contributions
            .first()
            .is_some_and(|c| c.rule == u32::MAX);
        if lead.model_version != m.version || unresolved {
            changed |= self.adopt(lead);
        }

        // Who they are.
        let attrs_changed = update_attributes(lead, event);
        if attrs_changed {
            lead.fit = self.fit_of(&lead.attributes);
            self.reassess_attributes(lead, event.occurred_at);
            changed = true;
        }
        if lead.disqualified.as_ref().is_none_or(|d| !d.sticky) {
            if let Some(d) = m
                .disqualifiers_for(event.kind.event_type())
                .find(|d| d.matches_event(event))
            {
                lead.disqualified = Some(Box::new(Disqualification {
                    rule_id: d.id.clone(),
                    at: event.occurred_at,
                    sticky: true,
                }));
                changed = true;
            }
        }

        // What they do.
        let now = lead.updated_at.max(event.occurred_at);
        for &i in m.rule_indexes_for(event.kind.event_type()) {
            let rule = &m.rules[i];
            if rule.matches(event) {
                changed |= self.count(lead, i, rule, event.occurred_at, now);
            }
        }
        if event.occurred_at > lead.updated_at {
            lead.updated_at = event.occurred_at;
            changed = true;
        }

        // Decisions, at the lead's latest event time.
        let t = lead.updated_at;
        let engagement = self.engagement_at(lead, t);
        let score = lead.fit + engagement;
        let grade = m.grades.grade(lead.fit);
        let qualifies = m.qualify.holds(grade, engagement, score);
        if lead.alerted {
            let fell = match m.qualify.rearm_below {
                Some(level) => score < level,
                None => !qualifies,
            };
            let cooled = m
                .qualify
                .cooldown
                .zip(lead.last_alert_at)
                .is_some_and(|(cooldown, at)| t >= at + cooldown);
            if fell || cooled {
                lead.alerted = false;
                changed = true;
            }
        }
        let mut outcome = Scored::default();
        if qualifies && !lead.alerted && lead.disqualified.is_none() {
            let missing: Vec<String> = m
                .require
                .iter()
                .filter(|k| lead.attributes.get(k).is_none_or(|v| v.trim().is_empty()))
                .cloned()
                .collect();
            if missing.is_empty() {
                lead.alerted = true;
                lead.alerts += 1;
                lead.last_alert_at = Some(t);
                lead.held.clear();
                changed = true;
                outcome.alert = Some(self.alert(lead, event, t, score, engagement, grade));
            } else if lead.held != missing {
                lead.held = missing;
                changed = true;
                outcome.hold = Some(EnrichmentHold {
                    lead_id: event.lead_id.clone(),
                    missing: lead.held.clone(),
                    score: round2(score),
                    fit: round2(lead.fit),
                    engagement: round2(engagement),
                    grade,
                    held_at: t,
                    model_version: m.version.clone(),
                    event_id: event.event_id.clone(),
                    reasons: self.reasons(lead),
                });
            }
        } else if !lead.held.is_empty() && (!qualifies || lead.disqualified.is_some()) {
            lead.held.clear();
            changed = true;
        }
        outcome.score_changed = changed;
        outcome
    }

    /// Counts one match of `rule` at `at` unless its cap refuses it.
    fn count(
        &self,
        lead: &mut LeadState,
        index: usize,
        rule: &Rule,
        at: Millis,
        now: Millis,
    ) -> bool {
        let pos = match lead
            .contributions
            .iter()
            .position(|c| c.rule as usize == index)
        {
            Some(p) => p,
            None => {
                // Exact growth: most leads count a rule or two, and `Vec`'s
                // first allocation would hold four.
                lead.contributions.reserve_exact(1);
                lead.contributions
                    .push(Contribution::new(rule.id.clone(), index as u32, at));
                lead.contributions.len() - 1
            }
        };
        let c = &mut lead.contributions[pos];
        match rule.cap {
            Cap::None => {}
            Cap::Once => {
                if c.count > 0 {
                    return false;
                }
            }
            Cap::PerWindow { max, window } => {
                // Counted when fewer than `max` counted matches lie within
                // `window` on either side: then no window of that length
                // holds more than `max`, whatever order events arrive in.
                let latest = c.capped.iter().copied().max().unwrap_or(at);
                if at <= latest - window {
                    return false; // too late to judge against pruned history
                }
                let near = c
                    .capped
                    .iter()
                    .filter(|&&x| x > at - window && x < at + window)
                    .count();
                if near >= max as usize {
                    return false;
                }
                c.capped.reserve_exact(1);
                c.capped.push(at);
                let horizon = latest.max(at) - 2 * window;
                c.capped.retain(|&x| x > horizon);
            }
        }
        c.count += 1;
        c.last_seen = c.last_seen.max(at);
        match self.effective_decay(rule) {
            Decay::None => c.weight += 1.0,
            Decay::HalfLife(h) => {
                let base = c.as_of.max(at);
                c.weight = c.weight * halving(base - c.as_of, h) + halving(base - at, h);
                c.as_of = base;
            }
            Decay::Window(w) => {
                // Exact: a match counts while `at + w > now`, so each keeps
                // its own time; the dead ones are dropped as `now` moves.
                c.window.retain(|&m| m + w > now);
                if at + w > now {
                    let i = c.window.partition_point(|&m| m <= at);
                    c.window.reserve_exact(1);
                    c.window.insert(i, at);
                    if c.window.len() > MAX_WINDOW_MATCHES {
                        c.window.remove(0);
                    }
                }
            }
        }
        true
    }

    /// Negative points never decay, so waiting never raises a score.
    pub(crate) fn effective_decay(&self, rule: &Rule) -> Decay {
        if rule.points < 0.0 {
            Decay::None
        } else {
            self.model.decay_of(rule)
        }
    }

    /// The rule of a contribution: by its cached index when that still
    /// points at the same rule, else by id (state restored or made under
    /// another model and not yet adopted).
    pub(crate) fn rule_of(&self, c: &Contribution) -> Option<&Rule> {
        let rules = &self.model.rules;
        match rules.get(c.rule as usize) {
            Some(r) if Arc::ptr_eq(&r.id, &c.rule_id) || r.id == c.rule_id => Some(r),
            _ => rules.iter().find(|r| r.id == c.rule_id),
        }
    }

    pub(crate) fn points_at(&self, rule: &Rule, c: &Contribution, t: Millis) -> f64 {
        let weight = match self.effective_decay(rule) {
            Decay::None => c.weight,
            Decay::HalfLife(h) => c.weight * halving(t - c.as_of, h),
            Decay::Window(w) => Self::live_in_window(c, w, t) as f64,
        };
        rule.points * weight
    }

    /// How many of a window rule's matches still count at `t`.
    fn live_in_window(c: &Contribution, w: Millis, t: Millis) -> usize {
        c.window.len() - c.window.partition_point(|&m| m + w <= t)
    }

    /// The matches of `c` that still contribute at `t`: those inside a
    /// window rule's window, or every counted one.
    fn contributing(&self, rule: &Rule, c: &Contribution, t: Millis) -> u32 {
        match self.effective_decay(rule) {
            Decay::Window(w) => Self::live_in_window(c, w, t) as u32,
            Decay::None | Decay::HalfLife(_) => c.count,
        }
    }

    /// Engagement points at event time `t` (not before the lead's latest event).
    pub fn engagement_at(&self, lead: &LeadState, t: Millis) -> f64 {
        lead.contributions
            .iter()
            .filter_map(|c| self.rule_of(c).map(|r| self.points_at(r, c, t)))
            .sum()
    }

    /// The full score at event time `t`: fit plus decayed engagement.
    pub fn score_at(&self, lead: &LeadState, t: Millis) -> f64 {
        lead.fit + self.engagement_at(lead, t)
    }

    fn alert(
        &self,
        lead: &LeadState,
        event: &Event,
        t: Millis,
        score: f64,
        engagement: f64,
        grade: Grade,
    ) -> Alert {
        let m = &*self.model;
        Alert {
            alert_id: alert_id(&m.version, &event.lead_id, &event.event_id, lead.alerts),
            lead_id: event.lead_id.clone(),
            score: round2(score),
            fit: round2(lead.fit),
            engagement: round2(engagement),
            grade,
            threshold: m.qualify.threshold(),
            qualification: m.qualify.describe(),
            crossed_at: t,
            respond_by: t + m.respond_within,
            model_version: m.version.clone(),
            event_id: event.event_id.clone(),
            reasons: self.reasons(lead),
            company_domain: lead.attributes.get("company_domain").map(str::to_owned),
            account_id: lead.attributes.get("account_id").map(str::to_owned),
            owner_team: None,
            owner_rep: None,
            routed_via: None,
            contact: Contact::of(lead),
        }
    }

    /// Every rule's share of the lead's score at its latest event, largest
    /// first. They add up to the score, within rounding.
    pub fn reasons(&self, lead: &LeadState) -> Vec<Reason> {
        self.reasons_at(lead, lead.updated_at)
    }

    /// Every rule's share of the lead's score at `t`.
    fn reasons_at(&self, lead: &LeadState, t: Millis) -> Vec<Reason> {
        self.explain_at(lead, t).1
    }

    /// The full score at `t` ([`Scorer::score_at`]) and its reasons, from
    /// one pass over the lead's engagement: a watch alert needs both, and
    /// decaying every contribution twice cost more than building the alert.
    pub fn explain_at(&self, lead: &LeadState, t: Millis) -> (f64, Vec<Reason>) {
        let m = &*self.model;
        let mut reasons: Vec<Reason> = m
            .fit_rules
            .iter()
            .filter(|r| r.condition.holds(&lead.attributes))
            .map(|r| Reason {
                rule_id: r.id.clone(),
                label: r.label.clone(),
                kind: ReasonKind::Fit,
                points: round2(r.points),
                count: 1,
                last_seen: t,
            })
            .collect();
        // Summed as `engagement_at` sums, so the score is the same bits.
        let mut engagement = -0.0;
        for c in &lead.contributions {
            let Some(rule) = self.rule_of(c) else {
                continue;
            };
            let exact = self.points_at(rule, c, t);
            engagement += exact;
            let points = round2(exact);
            if points != 0.0 {
                reasons.push(Reason {
                    rule_id: rule.id.clone(),
                    label: rule.label.clone(),
                    kind: ReasonKind::Engagement,
                    points,
                    count: self.contributing(rule, c, t),
                    last_seen: c.last_seen,
                });
            }
        }
        reasons.sort_by(|a, b| {
            b.points
                .abs()
                .total_cmp(&a.points.abs())
                .then_with(|| a.rule_id.cmp(&b.rule_id))
        });
        (lead.fit + engagement, reasons)
    }

    /// The lead's current score record, evaluated at its latest event or
    /// the decay refresh since ([`LeadState::scored_at`]).
    pub fn score_of(&self, lead_id: &str, lead: &LeadState) -> LeadScore {
        let m = &*self.model;
        let t = lead.scored_at();
        let engagement = self.engagement_at(lead, t);
        let score = lead.fit + engagement;
        let grade = m.grades.grade(lead.fit);
        LeadScore {
            lead_id: lead_id.to_owned(),
            score: round2(score),
            fit: round2(lead.fit),
            engagement: round2(engagement),
            grade,
            threshold: m.qualify.threshold(),
            qualified: m.qualify.holds(grade, engagement, score),
            alerted: lead.alerted,
            disqualified: lead.disqualified.as_ref().map(|d| DisqualifiedBy {
                label: m
                    .disqualifiers
                    .iter()
                    .find(|x| x.id == d.rule_id)
                    .map_or_else(|| d.rule_id.clone(), |x| x.label.clone()),
                rule_id: d.rule_id.clone(),
                at: d.at,
            }),
            missing: lead.held.clone(),
            updated_at: t,
            model_version: lead.model_version.clone(),
            reasons: self.reasons_at(lead, t),
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
