//! `leadpulse model suggest`: let the outcomes tune the agreed model.
//!
//! From past events and what became of the leads (sales feedback in the
//! stream, or `lead-lifecycle` records of a `replay --outputs` folder), it
//! learns which of the model's rules, and which rules drawn from the data
//! (pages, forms, assets, webinars, attribute values seen on at least
//! `min_support` leads), predict the chosen outcome, and writes a
//! candidate model with those points plus a report on a held-out time
//! split: the current model versus the suggestion.
//!
//! - **Features**, one per rule and lead: a fit rule holds (1 or 0); an
//!   engagement rule's counted matches (the core's own counting, caps and
//!   `once` included), capped at the rule's cap (`once`: 1, `cap.max`, or
//!   `max_count` without a cap) and divided by it, so every feature lies
//!   in [0, 1]. New engagement rules are `once = true`.
//! - **No leakage**: a lead's features come only from its events before
//!   its outcome, and the fit only from what happened before the holdout:
//!   training leads' events and outcomes before `holdout_from`. The
//!   holdout judges each model on the leads active from `holdout_from`
//!   on, with their whole history before the outcome, as `run` would.
//! - **Method**: L1-regularised logistic regression (`lasso`, why our own
//!   is there). A coefficient is log-odds per unit of the feature; points
//!   are coefficients times one scale, chosen so that the strongest rule
//!   of the suggestion is worth as much as the strongest of the current
//!   model (points times its cap), rounded to whole points. A rule whose
//!   points round to 0 is removed; a model rule on fewer than
//!   `min_support` training leads is kept as it is (too little evidence).
//! - Thresholds, grades, decay, groups, disqualifiers and handoff stay as
//!   they were; only points change, rules go, and rules are added.
//!
//! The same input gives the same output, byte for byte: leads are walked
//! in id order, features in model order, and the solver's loops in a
//! fixed order.

mod evaluate;
mod features;
mod lasso;
mod write;

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::codec::{self, format_rfc3339};
use crate::core::{admit, Event, EventKind, Feedback, Millis, Model, Stage, StageChange, DAY_MS};
use crate::offline::replay::ReplayOptions;

pub use evaluate::Evaluation;
pub use features::Scaled;
pub use lasso::auc;

/// The outcome the suggestion predicts: a lead that reached at least this
/// stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Target {
    /// Sales accepted it (`lead_accepted`, or any later stage).
    Accepted,
    /// Sales qualified it (`lead_qualified`, an opportunity, or a win).
    Sql,
    /// The deal was won (`deal_won`).
    Won,
}

impl Target {
    pub fn as_str(self) -> &'static str {
        match self {
            Target::Accepted => "accepted",
            Target::Sql => "sql",
            Target::Won => "won",
        }
    }

    /// What it is, for people: "won leads".
    fn leads(self) -> &'static str {
        match self {
            Target::Accepted => "accepted leads",
            Target::Sql => "sales-qualified leads",
            Target::Won => "won leads",
        }
    }

    fn by_feedback(self, f: &Feedback) -> bool {
        let stage = match f {
            Feedback::Accepted => Stage::Sal,
            Feedback::Qualified => Stage::Sql,
            Feedback::OpportunityCreated { .. } => Stage::Opportunity,
            Feedback::DealWon { .. } => Stage::Customer,
            _ => return false,
        };
        self.by_stage(stage)
    }

    fn by_stage(self, s: Stage) -> bool {
        let least = match self {
            Target::Accepted => Stage::Sal,
            Target::Sql => Stage::Sql,
            Target::Won => Stage::Customer,
        };
        s >= least && s <= Stage::Customer
    }
}

/// How coefficients become points.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Scale {
    /// As many training leads reach `score_at_least` as under the current
    /// model: the agreed threshold keeps sales' load, and picks other leads.
    Volume,
    /// The strongest rule is worth as much as the current model's strongest.
    Range,
}

/// Where the holdout starts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Holdout {
    /// At this time (floored to midnight UTC).
    From(Millis),
    /// The last this share of the events' time span (floored to midnight UTC).
    Fraction(f64),
}

/// How `model suggest` fits and judges.
#[derive(Debug, Clone)]
pub struct SuggestOptions {
    pub target: Target,
    pub holdout: Holdout,
    /// Leads a rule must match in the training window to be fitted.
    pub min_support: usize,
    /// Outcomes the training window must hold.
    pub min_outcomes: usize,
    /// The L1 penalty on the mean log-loss.
    pub penalty: f64,
    /// Matches counted per uncapped rule.
    pub max_count: u32,
    pub scale: Scale,
    /// As for `replay` (reference time, future skew).
    pub replay: ReplayOptions,
}

impl SuggestOptions {
    /// The defaults: won deals, the last 30% as holdout, 30 leads of
    /// support, 50 outcomes, penalty 0.005, counts capped at 3, volume scale.
    pub fn new(replay: ReplayOptions) -> Self {
        SuggestOptions {
            target: Target::Won,
            holdout: Holdout::Fraction(0.3),
            min_support: 30,
            min_outcomes: 50,
            penalty: 0.005,
            max_count: 3,
            scale: Scale::Volume,
            replay,
        }
    }
}

/// Why there is no suggestion.
#[derive(Debug, thiserror::Error)]
pub enum SuggestError {
    #[error("{0}")]
    Model(String),
    #[error("no events to learn from")]
    NoEvents,
    #[error(
        "needs at least {need} {what} in the training window (before {before}), found {found}: \
         give a longer window of events, an earlier --holdout-from, or lower --min-outcomes"
    )]
    TooFewOutcomes {
        need: usize,
        found: usize,
        what: &'static str,
        before: String,
    },
    #[error(
        "no rule predicts {0} at penalty {1}: every coefficient is 0; lower --penalty \
         or give more data"
    )]
    NothingLearned(&'static str, f64),
    #[error(
        "the suggested points do not make a valid model, so none was written:\n{0}\n\
         thresholds and grades stay as agreed: lower --penalty to keep more rules, \
         or change them in the current model first"
    )]
    Invalid(String),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// What the suggestion says about one rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Evidence {
    pub id: String,
    pub label: String,
    /// A fit rule (else engagement).
    pub fit: bool,
    /// Drawn from the data, not in the current model.
    pub new: bool,
    /// Training leads the rule matched before their cutoff.
    pub support: usize,
    /// Of those, leads with the outcome.
    pub outcomes: usize,
    /// Outcome rate of those leads over the training window's rate.
    pub lift: f64,
    /// Log-odds per unit of the feature; `None`: not fitted (too little support).
    pub coefficient: Option<f64>,
    /// Points per match now; `None` for a new rule.
    pub points_before: Option<f64>,
    /// Points per match suggested; `None`: removed or not added.
    pub points_after: Option<f64>,
}

/// A suggestion: the candidate model and the report.
#[derive(Debug)]
pub struct Suggestion {
    /// The candidate model file; it passes `model check`.
    pub toml: String,
    pub model: Arc<Model>,
    /// The report, as `model suggest` prints it.
    pub report: String,
    pub rules: Vec<Evidence>,
    pub scaled: Scaled,
    pub current: Evaluation,
    pub suggested: Evaluation,
    /// Midnight UTC of the holdout's first day.
    pub holdout_from: Millis,
}

/// One lead's engagement events (in time order) and outcome time.
#[derive(Debug, Default)]
pub(crate) struct Lead {
    pub(crate) events: Vec<Event>,
    pub(crate) outcome_at: Option<Millis>,
}

/// The events, by lead, with the outcomes; and the time span of the events.
pub(crate) struct History {
    pub(crate) leads: BTreeMap<String, Lead>,
    pub(crate) span: (Millis, Millis),
    pub(crate) events: usize,
    pub(crate) refused: usize,
}

fn read_history(
    events: &[u8],
    stages: &[StageChange],
    target: Target,
    options: &ReplayOptions,
) -> Result<History, SuggestError> {
    let mut leads: BTreeMap<String, Lead> = BTreeMap::new();
    let mut span: Option<(Millis, Millis)> = None;
    let (mut count, mut refused) = (0, 0);
    for line in events.split(|&b| b == b'\n') {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        count += 1;
        let decoded = codec::decode_event(line, Some(b"application/json"))
            .and_then(|e| admit(&e, options.reference_time, options.max_future_skew).map(|()| e));
        let Ok(event) = decoded else {
            refused += 1;
            continue;
        };
        let t = event.occurred_at;
        span = Some(span.map_or((t, t), |(a, b)| (a.min(t), b.max(t))));
        let lead = leads.entry(event.lead_id.clone()).or_default();
        match &event.kind {
            EventKind::Feedback { feedback, .. } => {
                if target.by_feedback(feedback) {
                    lead.outcome_at = Some(lead.outcome_at.map_or(t, |o| o.min(t)));
                }
            }
            _ => lead.events.push(event),
        }
    }
    for c in stages.iter().filter(|c| target.by_stage(c.to)) {
        let lead = leads.entry(c.lead_id.clone()).or_default();
        lead.outcome_at = Some(lead.outcome_at.map_or(c.at, |o| o.min(c.at)));
    }
    for lead in leads.values_mut() {
        lead.events.sort_by_key(|e| e.occurred_at);
    }
    let span = span.ok_or(SuggestError::NoEvents)?;
    Ok(History {
        leads,
        span,
        events: count,
        refused,
    })
}

/// Suggests a model from `model_text`'s model, past `events` (NDJSON,
/// engagement and feedback) and lifecycle `stages`.
pub fn suggest(
    origin: &str,
    model_text: &str,
    events: &[u8],
    stages: &[StageChange],
    options: &SuggestOptions,
) -> Result<Suggestion, SuggestError> {
    let current = Arc::new(
        Model::from_toml(origin, model_text).map_err(|e| SuggestError::Model(e.to_string()))?,
    );
    let history = read_history(events, stages, options.target, &options.replay)?;
    let (first, last) = history.span;
    let split = match options.holdout {
        Holdout::From(t) => t,
        Holdout::Fraction(f) => last - ((last - first) as f64 * f.clamp(0.0, 1.0)) as Millis,
    }
    .div_euclid(DAY_MS)
        * DAY_MS;
    let training = features::training_leads(&history, split);
    let found = training.iter().filter(|t| t.label).count();
    if found < options.min_outcomes {
        return Err(SuggestError::TooFewOutcomes {
            need: options.min_outcomes,
            found,
            what: options.target.leads(),
            before: format_rfc3339(split)[..10].to_owned(),
        });
    }
    let probe = features::Probe::new(model_text, &current, &training, options)?;
    let (rules, scaled) = probe.fit(&current, &training, options)?;
    let text = write::candidate(model_text, &current, &probe, &rules, options);
    let model = Arc::new(
        Model::from_toml("suggested model", &text)
            .map_err(|e| SuggestError::Invalid(e.to_string()))?,
    );
    let holdout = evaluate::holdout_leads(&history, split);
    let judge = |m: &Arc<Model>| {
        evaluate::evaluate(
            m.clone(),
            events,
            &history,
            &holdout,
            split,
            &options.replay,
        )
    };
    let before = judge(&current)?;
    let after = judge(&model)?;
    let report = evaluate::render(&evaluate::Summary {
        target: options.target,
        history: &history,
        split,
        training: &training,
        options,
        rules: &rules,
        scaled,
        threshold: current.qualify.score_at_least,
        current: &before,
        suggested: &after,
    });
    Ok(Suggestion {
        toml: text,
        model,
        report,
        rules,
        scaled,
        current: before,
        suggested: after,
        holdout_from: split,
    })
}

#[cfg(test)]
mod tests;
