//! Decay refresh: a quiet lead's score keeps decaying, and the model's
//! `[refresh]` re-publishes it once decay alone has moved it by a step, or
//! taken it below a level the model decides on. The desk fires it as a
//! timer of the lead (`LeadState::next_refresh_at`), like the SLA timers,
//! so it fires in event time, once, in `run` and in `replay` alike.
//!
//! Scheduling needs no search: between events a score only falls (negative
//! points never decay), and its half-life part falls no faster than if all
//! of it had the shortest half-life. That bound gives the earliest time the
//! score can have reached the next target; a window rule's points drop at
//! known day ends. The timer fires at the earlier of the two (rounded up to
//! a whole second), checks, and publishes or reschedules. With one
//! half-life group the bound is exact, so the record appears when the
//! score has moved by the step.

use super::event::Millis;
use super::lead::LeadState;
use super::model::{Decay, Refresh};
use super::scorer::Scorer;

impl Scorer {
    /// The score a refresh checks against: `published - step`, or the
    /// highest decision level at or below the published score, if higher
    /// (falling below it changes what the score means).
    fn refresh_target(&self, lead: &LeadState, published: f64, step: f64) -> f64 {
        let q = &self.model().qualify;
        let mut target = published - step;
        let mut level = |l: f64| {
            if l <= published && l > target {
                target = l;
            }
        };
        if let Some(s) = q.score_at_least {
            level(s);
        }
        if let Some(e) = q.engagement_at_least {
            level(lead.fit + e);
        }
        if let Some(m) = &q.matrix {
            for &e in &m.levels {
                level(lead.fit + e);
            }
        }
        if let Some(r) = q.rearm_below {
            level(r);
        }
        target
    }

    /// Whether decay has moved the lead's score at `t` far enough from the
    /// one published to publish it again.
    pub fn refresh_due(&self, lead: &LeadState, refresh: &Refresh, t: Millis) -> bool {
        let published = self.score_at(lead, lead.scored_at());
        let now = self.score_at(lead, t);
        let step = published - refresh.step;
        let target = self.refresh_target(lead, published, refresh.step);
        now <= step || (target > step && now < target)
    }

    /// The earliest time after `from` at which decay can have made a
    /// refresh due; `None` when decay cannot move the score that far.
    pub fn next_refresh(
        &self,
        lead: &LeadState,
        refresh: &Refresh,
        from: Millis,
    ) -> Option<Millis> {
        let published = self.score_at(lead, lead.scored_at());
        let target = self.refresh_target(lead, published, refresh.step);
        let mut score = lead.fit;
        let mut decaying = 0.0;
        let mut fastest = Millis::MAX;
        let mut window_end: Option<Millis> = None;
        for c in &lead.contributions {
            let Some(rule) = self.rule_of(c) else {
                continue;
            };
            let points = self.points_at(rule, c, from);
            score += points;
            if rule.points <= 0.0 {
                continue;
            }
            match self.effective_decay(rule) {
                Decay::None => {}
                Decay::HalfLife(h) => {
                    decaying += points;
                    fastest = fastest.min(h);
                }
                Decay::Window(w) => {
                    // A match counts for `w` from its own event time.
                    for &t in &c.window {
                        let end = t.saturating_add(w);
                        if end > from {
                            window_end = Some(window_end.map_or(end, |x| x.min(end)));
                        }
                    }
                }
            }
        }
        let gap = (score - target).max(0.0);
        let by_half_life = (decaying > 0.0 && gap < decaying).then(|| {
            // score(from + d) ≥ score(from) − decaying × (1 − 2^(−d/h_min)).
            let d = -(fastest as f64) * (1.0 - gap / decaying).log2();
            from.saturating_add(d.clamp(0.0, 1e15).ceil() as Millis)
        });
        let next = by_half_life.into_iter().chain(window_end).min()?;
        // Whole seconds, and always later than `from`, so a timer moves on.
        let next = next.max(from.saturating_add(1));
        Some(
            next.saturating_add(999)
                .div_euclid(1000)
                .saturating_mul(1000),
        )
    }
}
