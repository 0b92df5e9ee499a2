//! The holdout: how the current and the suggested model would have done
//! on the leads active from the holdout's first day, and the report.
//!
//! Each model is judged as `run` would have run it: alerts come from
//! `replay` over the same events (so `replay --report` shows the same
//! alerts per day), and a lead's score is the core's, over its whole
//! history before its outcome.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Arc;

use crate::codec::format_rfc3339;
use crate::core::{Event, LeadState, Millis, Model, Scorer, DAY_MS};
use crate::offline::replay::{replay, ReplayOptions};

use super::features::{Example, Scaled};
use super::{lasso, Evidence, History, SuggestError, SuggestOptions, Target};

/// A holdout lead: its events before its outcome (all, if none), and
/// whether it had the outcome.
pub(crate) struct HoldoutLead<'a> {
    id: &'a str,
    events: &'a [Event],
    cutoff: Millis,
    label: bool,
}

/// The leads with an event from `split` on, before their outcome; a lead
/// with its outcome before `split` is not one.
pub(crate) fn holdout_leads(history: &History, split: Millis) -> Vec<HoldoutLead<'_>> {
    let mut out = Vec::new();
    for (id, lead) in &history.leads {
        if lead.outcome_at.is_some_and(|o| o < split) {
            continue;
        }
        let cutoff = lead.outcome_at.unwrap_or(Millis::MAX);
        let n = lead.events.partition_point(|e| e.occurred_at < cutoff);
        if lead.events[..n].iter().any(|e| e.occurred_at >= split) {
            out.push(HoldoutLead {
                id,
                events: &lead.events[..n],
                cutoff,
                label: lead.outcome_at.is_some(),
            });
        }
    }
    out
}

/// One model's figures on the holdout.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    pub version: String,
    /// Holdout leads, and of them those with the outcome.
    pub leads: usize,
    pub outcomes: usize,
    /// AUC of each lead's highest score from the holdout's start to its
    /// outcome; `None` without leads of both kinds.
    pub auc: Option<f64>,
    /// Holdout leads alerted before their outcome (or the end).
    pub alerted: usize,
    /// Of those, leads with the outcome.
    pub hits: usize,
    /// Alerts (MQLs) from the holdout's first day on, every lead, by day
    /// (days since the epoch).
    pub alerts_per_day: BTreeMap<i64, u64>,
    /// Days from the holdout's first day to the last event's, both included.
    pub days: i64,
}

impl Evaluation {
    /// Alerts in the holdout.
    pub fn alerts(&self) -> u64 {
        self.alerts_per_day.values().sum()
    }

    /// MQLs (alerts) per day in the holdout.
    pub fn mqls_per_day(&self) -> f64 {
        self.alerts() as f64 / self.days.max(1) as f64
    }
}

pub(crate) fn evaluate(
    model: Arc<Model>,
    events: &[u8],
    history: &History,
    holdout: &[HoldoutLead<'_>],
    split: Millis,
    options: &ReplayOptions,
) -> Result<Evaluation, SuggestError> {
    let outcome = replay(model.clone(), events, options, |_| {}, |_, _| {})?;
    let mut alerts_at: BTreeMap<&str, Vec<Millis>> = BTreeMap::new();
    let mut alerts_per_day = BTreeMap::new();
    for a in &outcome.alerts {
        alerts_at.entry(&a.lead_id).or_default().push(a.crossed_at);
        if a.crossed_at >= split {
            *alerts_per_day
                .entry(a.crossed_at.div_euclid(DAY_MS))
                .or_insert(0) += 1;
        }
    }
    let scorer = Scorer::new(model.clone());
    let dedup = model.dedup;
    let mut scored = Vec::with_capacity(holdout.len());
    let (mut alerted, mut hits) = (0, 0);
    for lead in holdout {
        let mut state = LeadState::default();
        let mut best = f64::NEG_INFINITY;
        for e in lead.events {
            if state.first_time(&e.event_id, e.occurred_at, dedup.window, dedup.max_ids) {
                let _ = scorer.apply(&mut state, e);
            }
            if e.occurred_at >= split {
                best = best.max(scorer.score_at(&state, state.updated_at));
            }
        }
        scored.push((best, lead.label));
        let was_alerted = alerts_at
            .get(lead.id)
            .is_some_and(|ts| ts.iter().any(|&t| t < lead.cutoff));
        if was_alerted {
            alerted += 1;
            hits += usize::from(lead.label);
        }
    }
    let days = history.span.1.div_euclid(DAY_MS) - split.div_euclid(DAY_MS) + 1;
    Ok(Evaluation {
        version: model.version.to_string(),
        leads: holdout.len(),
        outcomes: holdout.iter().filter(|l| l.label).count(),
        auc: lasso::auc(&scored),
        alerted,
        hits,
        alerts_per_day,
        days: days.max(1),
    })
}

/// What the report shows.
pub(crate) struct Summary<'a> {
    pub(crate) target: Target,
    pub(crate) history: &'a History,
    pub(crate) split: Millis,
    pub(crate) training: &'a [Example<'a>],
    pub(crate) options: &'a SuggestOptions,
    pub(crate) rules: &'a [Evidence],
    pub(crate) scaled: Scaled,
    pub(crate) threshold: Option<f64>,
    pub(crate) current: &'a Evaluation,
    pub(crate) suggested: &'a Evaluation,
}

fn day(t: Millis) -> String {
    format_rfc3339(t.div_euclid(DAY_MS) * DAY_MS)[..10].to_owned()
}

fn share(n: usize, of: usize) -> String {
    if of == 0 {
        format!("n/a ({n}/{of})")
    } else {
        format!("{:.1}% ({n}/{of})", 100.0 * n as f64 / of as f64)
    }
}

fn points(p: Option<f64>) -> String {
    p.map_or("—".to_owned(), |p| format!("{p}"))
}

/// The report `model suggest` prints.
pub(crate) fn render(s: &Summary<'_>) -> String {
    let mut out = String::new();
    let (a, b) = (s.current, s.suggested);
    let h = s.history;
    let what = s.target.leads();
    let _ = writeln!(out, "# Model suggestion: {what}\n");
    let _ = writeln!(out, "{:<12} {} → {}", "model", a.version, b.version);
    let _ = writeln!(
        out,
        "{:<12} {} ({} refused), {} leads, {} to {}",
        "events",
        h.events,
        h.refused,
        h.leads.len(),
        day(h.span.0),
        day(h.span.1)
    );
    let _ = writeln!(
        out,
        "{:<12} before {}: {} leads, {} {what}",
        "training",
        day(s.split),
        s.training.len(),
        s.training.iter().filter(|e| e.label).count()
    );
    let _ = writeln!(
        out,
        "{:<12} from {} ({} days): {} leads, {} {what}",
        "holdout",
        day(s.split),
        a.days,
        a.leads,
        a.outcomes
    );
    let o = s.options;
    let _ = writeln!(
        out,
        "{:<12} L1 logistic regression, penalty {}; rules on at least {} leads; \
         uncapped counts capped at {}",
        "fit", o.penalty, o.min_support, o.max_count
    );
    let sc = s.scaled;
    let how = if sc.by_volume {
        format!(
            "{} training leads reach the threshold, as under the current model",
            sc.reached
        )
    } else {
        "the strongest rule is worth as much as the current model's strongest".to_owned()
    };
    let _ = writeln!(
        out,
        "{:<12} {:.2} points per unit of log-odds: {how}",
        "scale", sc.points_per_logit
    );
    if let Some(t) = s.threshold {
        let p = 1.0 / (1.0 + (-(sc.intercept + t / sc.points_per_logit)).exp());
        let _ = writeln!(
            out,
            "{:<12} a score of {t} is a {:.0}% chance of the outcome (fit and counted matches, before decay)",
            "threshold",
            100.0 * p
        );
    }

    let _ = writeln!(out, "\n## Rules\n");
    let _ = writeln!(
        out,
        "{:<32} {:>7} {:>7} {:>6} {:>7}  points",
        "rule",
        "support",
        s.target.as_str(),
        "lift",
        "coef"
    );
    for e in s
        .rules
        .iter()
        .filter(|e| !e.new || e.points_after.is_some())
    {
        let coef = e.coefficient.map_or("—".to_owned(), |c| format!("{c:+.3}"));
        let change = match (e.new, e.coefficient, e.points_after) {
            (true, _, p) => format!("new → {}", points(p)),
            (false, None, p) => format!("{} (kept: too few leads)", points(p)),
            (false, Some(_), None) => format!("{} → removed", points(e.points_before)),
            (false, Some(_), p) if p == e.points_before => format!("{} (unchanged)", points(p)),
            (false, Some(_), p) => format!("{} → {}", points(e.points_before), points(p)),
        };
        let _ = writeln!(
            out,
            "{:<32} {:>7} {:>7} {:>6.2} {:>7}  {change}",
            e.id, e.support, e.outcomes, e.lift, coef
        );
    }

    let _ = writeln!(
        out,
        "\n## Holdout: the current model versus the suggestion\n"
    );
    let row = |name: &str, f: &dyn Fn(&Evaluation) -> String| {
        format!("{name:<34} {:>24} {:>28}\n", f(a), f(b))
    };
    out.push_str(&row("", &|e| e.version.clone()));
    out.push_str(&row("AUC (highest score before outcome)", &|e| {
        e.auc.map_or("n/a".to_owned(), |x| format!("{x:.3}"))
    }));
    out.push_str(&row("precision of alerts", &|e| share(e.hits, e.alerted)));
    out.push_str(&row(&format!("{what} alerted before"), &|e| {
        share(e.hits, e.outcomes)
    }));
    out.push_str(&row("MQLs (alerts) per day", &|e| {
        format!("{:.2}", e.mqls_per_day())
    }));
    out.push_str(&row("alerts in the holdout", &|e| e.alerts().to_string()));

    let _ = writeln!(out, "\n## Alerts per day in the holdout\n");
    let days: std::collections::BTreeSet<i64> = a
        .alerts_per_day
        .keys()
        .chain(b.alerts_per_day.keys())
        .copied()
        .collect();
    if days.is_empty() {
        let _ = writeln!(out, "(no alerts)");
    }
    for d in days {
        let n = |e: &Evaluation| e.alerts_per_day.get(&d).copied().unwrap_or(0);
        let _ = writeln!(out, "{}  {:>5} {:>5}", day(d * DAY_MS), n(a), n(b));
    }
    out
}
