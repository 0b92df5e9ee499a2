//! What a model means in plain words: the text `model check` prints, for
//! marketing ops and sales to check a model against what they agreed.

use super::numbers::number;
use super::{AccountModel, Cap, Decay, DisqualifyWhen, Model, DAY_MS};
use crate::event::{Millis, HOUR_MS};

impl Model {
    /// A short human summary of what the model means, for `model check`.
    pub fn summary(&self) -> String {
        use std::fmt::Write;
        let mut out = String::new();
        let q = &self.qualify;
        let _ = writeln!(out, "model {}", self.version);
        let _ = writeln!(
            out,
            "A lead is sales-ready when {}; reps then have {} minutes to respond.",
            q.describe(),
            self.respond_within / 60_000
        );
        match (q.rearm_below, q.cooldown) {
            (Some(r), Some(c)) => {
                let _ = writeln!(
                    out,
                    "After an alert it alerts again only once its score falls below {} or {} pass.",
                    number(r),
                    days(c)
                );
            }
            (Some(r), None) => {
                let _ = writeln!(
                    out,
                    "After an alert it alerts again only once its score falls below {}.",
                    number(r)
                );
            }
            (None, Some(c)) => {
                let _ = writeln!(
                    out,
                    "After an alert it alerts again only once it stops qualifying or {} pass.",
                    days(c)
                );
            }
            (None, None) => {
                let _ = writeln!(
                    out,
                    "After an alert it alerts again only once it stops qualifying."
                );
            }
        }
        if !self.require.is_empty() {
            let _ = writeln!(
                out,
                "Before handoff these must be known: {} (otherwise the lead waits on leads-needing-enrichment).",
                self.require.join(", ")
            );
        }
        let d = self.dedup;
        if d.is_on() {
            let _ = writeln!(
                out,
                "A re-sent event (same event_id) counts once, if it comes within {} of the lead's latest event and its {} latest ids.",
                hours(d.window),
                d.max_ids
            );
        } else {
            let _ = writeln!(
                out,
                "Re-sent events (same event_id) count again: [dedup] is off."
            );
        }
        if !self.fit_rules.is_empty() {
            let g = &self.grades;
            let _ = writeln!(
                out,
                "\nFit (who they are), at most {} points; grade A ≥ {}, B ≥ {}, C ≥ {}, else D:",
                self.max_fit(),
                g.a,
                g.b,
                g.c
            );
            for r in &self.fit_rules {
                let _ = writeln!(
                    out,
                    "  {:>+6}  {:<40} {}",
                    r.points,
                    r.label,
                    r.condition.describe()
                );
            }
        }
        let _ = writeln!(out, "\nEngagement (what they do):");
        for r in &self.rules {
            let decay = match self.decay_of(r) {
                Decay::None => String::new(),
                Decay::HalfLife(h) => format!(", halves every {}", days(h)),
                Decay::Window(w) => format!(", counts for {}", days(w)),
            };
            let cap = match r.cap {
                Cap::None => String::new(),
                Cap::Once => ", first time only".into(),
                Cap::PerWindow { max, window } => {
                    format!(", at most {max}× per {}", days(window))
                }
            };
            let decay = if r.points < 0.0 { String::new() } else { decay };
            let _ = writeln!(
                out,
                "  {:>+6}  {:<40} {}{}{cap}{decay}",
                r.points,
                r.label,
                r.event,
                conditions(&r.matcher.describe())
            );
        }
        if !self.disqualifiers.is_empty() {
            let _ = writeln!(out, "\nNever alerts when:");
            for d in &self.disqualifiers {
                let when = match &d.when {
                    DisqualifyWhen::Event(t, m) => match m.0.describe() {
                        c if c.is_empty() => format!("on any {t} event"),
                        c => format!("on {t} events{}", conditions(&c)),
                    },
                    DisqualifyWhen::Attribute(c) => c.describe(),
                };
                let _ = writeln!(out, "  {:<40} {}", d.label, when);
            }
        }
        if let Some(a) = &self.account {
            account(&mut out, a);
        }
        if !self.warnings.is_empty() {
            let _ = writeln!(out);
            for w in &self.warnings {
                let _ = writeln!(out, "{w}");
            }
        }
        out
    }
}

/// `[account]` in words.
fn account(out: &mut String, a: &AccountModel) {
    use std::fmt::Write;
    let _ = writeln!(
        out,
        "\nAccounts (not yet scored by `leadpulse run`): a lead belongs to its account_id, else its company or email domain, never one of {} free-mail domains.",
        a.free_mail.len()
    );
    let decay = a
        .half_life
        .map_or(String::new(), |h| format!(", halving every {}", days(h)));
    let mut when = Vec::new();
    if let Some(s) = a.score_at_least {
        when.push(format!(
            "its score (fit + the {} of its people's engagement{decay}) reaches {}",
            a.aggregate.as_str(),
            number(s)
        ));
    }
    if let Some(n) = a.breadth_at_least {
        when.push(format!(
            "{n} people were engaged (engagement above {}) within {}",
            number(a.engaged_above),
            days(a.breadth_window)
        ));
    }
    let _ = writeln!(out, "An account alerts when {}.", when.join(", or when "));
    let mut fallen = Vec::new();
    if let Some(s) = a.score_at_least {
        fallen.push(format!(
            "its score is below {}",
            number(a.rearm_below.unwrap_or(s))
        ));
    }
    if let Some(n) = a.breadth_at_least {
        fallen.push(format!("fewer than {n} people are engaged"));
    }
    let again = fallen.join(" and ");
    let cooldown = a
        .cooldown
        .map_or(String::new(), |c| format!(", or once {} pass", days(c)));
    let _ = writeln!(
        out,
        "After an alert it alerts again only once {again}{cooldown}; it keeps at most {} people.",
        a.max_people
    );
    for r in &a.fit_rules {
        let _ = writeln!(
            out,
            "  {:>+6}  {:<40} {}",
            r.points,
            r.label,
            r.condition.describe()
        );
    }
}

/// An event rule's conditions, e.g. ` where url matches "*/pricing*"`.
fn conditions(parts: &[String]) -> String {
    if parts.is_empty() {
        String::new()
    } else {
        format!(" where {}", parts.join(" and "))
    }
}

/// A duration in days as the model gave it: `7 days`, `1 day`, `0.5 days
/// (12 hours)`; never rounded to a whole day.
fn days(ms: Millis) -> String {
    if ms % DAY_MS == 0 {
        return count(ms / DAY_MS, "day");
    }
    let d = ms as f64 / DAY_MS as f64;
    let shown = format!("{d:.4}");
    let shown = shown.trim_end_matches('0').trim_end_matches('.');
    let about = if shown.parse::<f64>().is_ok_and(|s| s == d) {
        ""
    } else {
        "about "
    };
    let exact = if ms % HOUR_MS == 0 {
        count(ms / HOUR_MS, "hour")
    } else if ms % 60_000 == 0 {
        count(ms / 60_000, "minute")
    } else {
        format!("{} seconds", number(ms as f64 / 1000.0))
    };
    format!("{about}{shown} days ({exact})")
}

/// `1 day`, `2 days`.
fn count(n: Millis, unit: &str) -> String {
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

/// `168 hours`, `1.5 hours`: a dedup window as it is written.
fn hours(ms: Millis) -> String {
    if ms % HOUR_MS == 0 {
        count(ms / HOUR_MS, "hour")
    } else {
        format!("{} hours", number(ms as f64 / HOUR_MS as f64))
    }
}
