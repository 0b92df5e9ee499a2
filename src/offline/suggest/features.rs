//! The training rows: one per lead, one feature per rule (the model's and
//! those drawn from the data), from the lead's events before its cutoff.
//!
//! Candidate rules are written as model rules and loaded with the model
//! (the "probe" model), so a feature is exactly what the rule would match
//! in `run`: the core's own URL globs, attribute tests and counting.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::core::{Cap, Event, EventKind, LeadState, Millis, Model, Scorer};

use super::{lasso, Evidence, History, Scale, SuggestError, SuggestOptions};

/// Attributes that identify a lead or its company rather than describe
/// it: never drawn as candidate fit rules.
const IDENTITIES: &[&str] = &[
    "email",
    "email_domain",
    "company_domain",
    "account_id",
    "company",
    "name",
    "first_name",
    "last_name",
    "phone",
];

/// One training lead: its events before the cutoff (its outcome, or the
/// holdout's start) and whether it had the outcome before the holdout.
pub(crate) struct Example<'a> {
    pub(crate) events: &'a [Event],
    pub(crate) label: bool,
}

/// The leads the fit learns from: seen before `split`, and not with an
/// outcome before their first event (nothing they did led to it).
pub(crate) fn training_leads(history: &History, split: Millis) -> Vec<Example<'_>> {
    let mut out = Vec::new();
    for lead in history.leads.values() {
        let Some(first) = lead.events.first() else {
            continue;
        };
        if first.occurred_at >= split || lead.outcome_at.is_some_and(|o| o <= first.occurred_at) {
            continue;
        }
        let cutoff = lead.outcome_at.map_or(split, |o| o.min(split));
        let n = lead.events.partition_point(|e| e.occurred_at < cutoff);
        out.push(Example {
            events: &lead.events[..n],
            label: lead.outcome_at.is_some_and(|o| o < split),
        });
    }
    out
}

/// A lead's state after `events`, re-sent ones counted once, and the
/// highest score it had on the way.
pub(crate) fn walk(scorer: &Scorer, events: &[Event]) -> (LeadState, f64) {
    let mut state = LeadState::default();
    let mut best = f64::NEG_INFINITY;
    let d = scorer.model().dedup;
    for e in events {
        if state.first_time(&e.event_id, e.occurred_at, d.window, d.max_ids) {
            let _ = scorer.apply(&mut state, e);
            best = best.max(scorer.score_at(&state, state.updated_at));
        }
    }
    (state, best)
}

/// A rule drawn from the data.
#[derive(Debug, Clone)]
pub(crate) struct Candidate {
    pub(crate) id: String,
    pub(crate) label: String,
    pub(crate) fit: bool,
    /// Its TOML lines after `id` and `label`, without `points`.
    pub(crate) body: String,
}

impl Candidate {
    /// The rule as a TOML table with these points.
    pub(crate) fn table(&self, points: f64) -> String {
        let header = if self.fit {
            "[[fit.rule]]"
        } else {
            "[[engagement.rule]]"
        };
        format!(
            "{header}\nid = {}\nlabel = {}\n{}points = {points}\n",
            quote(&self.id),
            quote(&self.label),
            self.body
        )
    }
}

/// A TOML basic string.
pub(crate) fn quote(s: &str) -> String {
    toml::Value::String(s.to_owned()).to_string()
}

/// What a candidate is keyed by, while counting its support.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Key {
    Page(String),
    Form(String),
    Asset(String),
    Webinar(String),
    /// Attribute name and lower-cased value.
    Attribute(String, String),
}

/// A page's path: the URL without scheme, host, query and fragment.
fn path_of(url: &str) -> Option<String> {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let path = rest.find('/').map_or("/", |i| &rest[i..]);
    let path = path.split(['?', '#']).next().unwrap_or("/");
    (!path.is_empty() && !path.contains(['*', '?', '[', ']', '{', '}', '\\', '"']))
        .then(|| path.to_owned())
}

fn slug(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let out = out.trim_matches('-');
    let out: String = out.chars().take(48).collect();
    if out.is_empty() {
        "root".into()
    } else {
        out.trim_end_matches('-').to_owned()
    }
}

fn keys_of(events: &[Event], state: &LeadState) -> BTreeSet<Key> {
    let mut keys = BTreeSet::new();
    for e in events {
        match &e.kind {
            EventKind::PageView { url, .. } => {
                if let Some(p) = path_of(url) {
                    keys.insert(Key::Page(p));
                }
            }
            EventKind::FormSubmit { form_id, .. } => {
                keys.insert(Key::Form(form_id.clone()));
            }
            EventKind::ContentDownload { asset_id } => {
                keys.insert(Key::Asset(asset_id.clone()));
            }
            EventKind::WebinarAttended { webinar_id } => {
                keys.insert(Key::Webinar(webinar_id.clone()));
            }
            _ => {}
        }
    }
    for (name, value) in &state.attributes {
        if !IDENTITIES.contains(&name) && !value.trim().is_empty() && value.len() <= 100 {
            keys.insert(Key::Attribute(name.to_owned(), value.to_ascii_lowercase()));
        }
    }
    keys
}

/// The candidates with at least `min_support` training leads, in key
/// order; and how many training leads reach the current model's
/// `score_at_least`.
fn candidates(
    current: &Arc<Model>,
    training: &[Example<'_>],
    min_support: usize,
) -> (Vec<(Key, String)>, usize) {
    let scorer = Scorer::new(current.clone());
    let threshold = current.qualify.score_at_least;
    let mut reached = 0;
    let mut support: BTreeMap<Key, (usize, String)> = BTreeMap::new();
    for ex in training {
        let (state, best) = walk(&scorer, ex.events);
        reached += usize::from(threshold.is_some_and(|t| best >= t));
        for key in keys_of(ex.events, &state) {
            let shown = match &key {
                Key::Attribute(name, _) => state.attributes.get(name).unwrap_or("").to_owned(),
                _ => String::new(),
            };
            support.entry(key).or_insert((0, shown)).0 += 1;
        }
    }
    let keys = support
        .into_iter()
        .filter(|(_, (n, _))| *n >= min_support.max(1))
        .map(|(k, (_, shown))| (k, shown))
        .collect();
    (keys, reached)
}

/// One column of the training rows.
#[derive(Debug, Clone)]
pub(crate) struct Column {
    pub(crate) id: String,
    pub(crate) label: String,
    pub(crate) fit: bool,
    /// Index into [`Probe::candidates`] for a rule drawn from the data.
    pub(crate) candidate: Option<usize>,
    /// Matches a feature counts up to (1 for fit rules and `once`).
    pub(crate) cap: u32,
    /// Points per match in the current model.
    pub(crate) points: Option<f64>,
}

/// The model with the candidates added, the columns and the rows.
pub(crate) struct Probe {
    pub(crate) candidates: Vec<Candidate>,
    pub(crate) columns: Vec<Column>,
    rows: Vec<Vec<f64>>,
    /// Training leads at or over the current `score_at_least`.
    reached: usize,
}

impl Probe {
    pub(crate) fn new(
        model_text: &str,
        current: &Arc<Model>,
        training: &[Example<'_>],
        options: &SuggestOptions,
    ) -> Result<Probe, SuggestError> {
        let mut ids: BTreeSet<String> = current
            .fit_rules
            .iter()
            .map(|r| r.id.to_string())
            .chain(current.rules.iter().map(|r| r.id.to_string()))
            .chain(current.disqualifiers.iter().map(|d| d.id.to_string()))
            .collect();
        let mut unique = |base: String| {
            let mut id = base.clone();
            let mut n = 2;
            while !ids.insert(id.clone()) {
                id = format!("{base}-{n}");
                n += 1;
            }
            id
        };
        let mut cands = Vec::new();
        let (keys, reached) = candidates(current, training, options.min_support);
        for (key, shown) in keys {
            let (id, label, fit, body) = match &key {
                Key::Page(p) => (
                    format!("page-{}", slug(p)),
                    format!("Viewed {p}"),
                    false,
                    format!(
                        "event = \"page_view\"\nurl = {}\nonce = true\n",
                        quote(&format!("*{p}"))
                    ),
                ),
                Key::Form(f) => (
                    format!("form-{}", slug(f)),
                    format!("Submitted the {f} form"),
                    false,
                    format!(
                        "event = \"form_submit\"\nform = {}\nonce = true\n",
                        quote(f)
                    ),
                ),
                Key::Asset(a) => (
                    format!("asset-{}", slug(a)),
                    format!("Downloaded {a}"),
                    false,
                    format!(
                        "event = \"content_download\"\nasset = {}\nonce = true\n",
                        quote(a)
                    ),
                ),
                Key::Webinar(w) => (
                    format!("webinar-{}", slug(w)),
                    format!("Attended {w}"),
                    false,
                    format!(
                        "event = \"webinar_attended\"\nwebinar = {}\nonce = true\n",
                        quote(w)
                    ),
                ),
                Key::Attribute(name, _) => (
                    format!("{}-{}", slug(name), slug(&shown)),
                    format!("{name} is {shown}"),
                    true,
                    format!("attribute = {}\nequals = {}\n", quote(name), quote(&shown)),
                ),
            };
            cands.push(Candidate {
                id: unique(id),
                label,
                fit,
                body,
            });
        }
        let mut text = model_text.trim_end().to_owned();
        for c in &cands {
            text.push_str("\n\n");
            text.push_str(&c.table(1.0));
        }
        let probe = Model::from_toml("suggest probe", &text)
            .map_err(|e| SuggestError::Model(format!("candidate rules do not load: {e}")))?;
        let by_id: BTreeMap<&str, usize> = cands
            .iter()
            .enumerate()
            .map(|(i, c)| (c.id.as_str(), i))
            .collect();
        let mut columns = Vec::new();
        for r in &probe.fit_rules {
            let candidate = by_id.get(&*r.id).copied();
            columns.push(Column {
                id: r.id.to_string(),
                label: r.label.to_string(),
                fit: true,
                candidate,
                cap: 1,
                points: candidate.is_none().then_some(r.points),
            });
        }
        for r in &probe.rules {
            let candidate = by_id.get(&*r.id).copied();
            let cap = match r.cap {
                Cap::Once => 1,
                Cap::PerWindow { max, .. } => max,
                Cap::None => options.max_count.max(1),
            };
            columns.push(Column {
                id: r.id.to_string(),
                label: r.label.to_string(),
                fit: false,
                candidate,
                cap,
                points: candidate.is_none().then_some(r.points),
            });
        }
        let scorer = Scorer::new(Arc::new(probe));
        let rows = training
            .iter()
            .map(|ex| row(&scorer, &columns, ex.events))
            .collect();
        Ok(Probe {
            candidates: cands,
            columns,
            rows,
            reached,
        })
    }

    /// Fits the rows and turns coefficients into points: the evidence for
    /// every column, in column order.
    pub(crate) fn fit(
        &self,
        current: &Model,
        training: &[Example<'_>],
        options: &SuggestOptions,
    ) -> Result<(Vec<Evidence>, Scaled), SuggestError> {
        let labels: Vec<bool> = training.iter().map(|e| e.label).collect();
        let n = labels.len().max(1) as f64;
        let rate = labels.iter().filter(|&&y| y).count() as f64 / n;
        let eligible: Vec<usize> = (0..self.columns.len())
            .filter(|&j| {
                self.columns[j].candidate.is_some()
                    || self.rows.iter().filter(|r| r[j] > 0.0).count() >= options.min_support
            })
            .collect();
        let x: Vec<Vec<f64>> = self
            .rows
            .iter()
            .map(|r| eligible.iter().map(|&j| r[j]).collect())
            .collect();
        let fitted = lasso::fit(&x, &labels, options.penalty);
        let strongest = fitted.weights.iter().fold(0.0_f64, |m, w| m.max(w.abs()));
        if strongest == 0.0 {
            return Err(SuggestError::NothingLearned(
                options.target.leads(),
                options.penalty,
            ));
        }
        let widest = self
            .columns
            .iter()
            .filter_map(|c| c.points.map(|p| p.abs() * f64::from(c.cap)))
            .fold(0.0_f64, f64::max);
        let widest = if widest > 0.0 { widest } else { 10.0 };
        let by_range = widest / strongest;
        // The suggestion's score of each training lead, per point of scale.
        let mut linear: Vec<f64> = x
            .iter()
            .map(|r| r.iter().zip(&fitted.weights).map(|(x, w)| x * w).sum())
            .collect();
        linear.sort_by(|a, b| b.total_cmp(a));
        let by_volume = match (options.scale, current.qualify.score_at_least) {
            (Scale::Volume, Some(t)) if self.reached > 0 => Some(linear[self.reached - 1])
                .filter(|&v| v > 0.0)
                .map(|v| t / v),
            _ => None,
        };
        let scale = by_volume.unwrap_or(by_range);
        let scaled = Scaled {
            by_volume: by_volume.is_some(),
            reached: self.reached,
            points_per_logit: scale,
            intercept: fitted.intercept,
        };
        let mut out = Vec::new();
        for (j, c) in self.columns.iter().enumerate() {
            let matched: Vec<bool> = self.rows.iter().map(|r| r[j] > 0.0).collect();
            let support = matched.iter().filter(|&&m| m).count();
            let outcomes = matched
                .iter()
                .zip(&labels)
                .filter(|(m, y)| **m && **y)
                .count();
            let lift = if support > 0 && rate > 0.0 {
                outcomes as f64 / support as f64 / rate
            } else {
                0.0
            };
            let coefficient = eligible
                .iter()
                .position(|&e| e == j)
                .map(|k| fitted.weights[k]);
            let points_after = match coefficient {
                None => c.points,
                Some(w) => {
                    let p = (scale * w / f64::from(c.cap))
                        .round()
                        .clamp(-10_000.0, 10_000.0);
                    (p != 0.0).then_some(p)
                }
            };
            out.push(Evidence {
                id: c.id.clone(),
                label: c.label.clone(),
                fit: c.fit,
                new: c.candidate.is_some(),
                support,
                outcomes,
                lift,
                coefficient,
                points_before: c.points,
                points_after,
            });
        }
        Ok((out, scaled))
    }
}

/// How coefficients became points.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scaled {
    /// Scaled so that as many training leads reach `score_at_least` as
    /// under the current model (else by the current model's point range).
    pub by_volume: bool,
    /// Training leads at or over the current `score_at_least`.
    pub reached: usize,
    /// Points per unit of log-odds.
    pub points_per_logit: f64,
    /// The fit's intercept (log-odds of a lead no rule matches).
    pub intercept: f64,
}

/// One lead's features: fit rules hold (1/0); engagement rules' counted
/// matches, capped and divided by the cap.
fn row(scorer: &Scorer, columns: &[Column], events: &[Event]) -> Vec<f64> {
    let (state, _) = walk(scorer, events);
    let model = scorer.model();
    let counts: BTreeMap<&str, u32> = state
        .contributions
        .iter()
        .map(|c| (&*c.rule_id, c.count))
        .collect();
    let mut out = Vec::with_capacity(columns.len());
    for (r, _) in model.fit_rules.iter().zip(columns) {
        out.push(if r.condition.holds(&state.attributes) {
            1.0
        } else {
            0.0
        });
    }
    for (r, c) in model.rules.iter().zip(&columns[model.fit_rules.len()..]) {
        let n = counts.get(&*r.id).copied().unwrap_or(0).min(c.cap);
        out.push(f64::from(n) / f64::from(c.cap));
    }
    out
}
