//! The scoring model: the shared, versioned definition of a sales-ready lead.
//!
//! A lead's score is its **fit** (who they are: profile attributes, graded
//! A–D) plus its **engagement** (what they do: events, with caps and decay).
//! Disqualifiers stop a lead from ever alerting; `[qualify]` says when a lead
//! is sales-ready; `[handoff]` lists what must be known before sales gets it.
//!
//! Parsed from TOML (see `docs/model.md`). Unknown keys are errors, and every
//! validation error names the line and column it is about.
//!
//! The parts: `file` is the TOML schema as written, `load` turns it into a
//! [`Model`] section by section (`fit`, `engagement`, `disqualify`,
//! `qualify`, `account`), `condition` holds the attribute and event tests,
//! `summary` says what a model means in plain words.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::Arc;

use serde::Deserialize;

use super::event::{Event, EventType, Millis, HOUR_MS};

mod account;
mod condition;
mod disqualify;
mod engagement;
mod error;
mod event_condition;
mod file;
mod fit;
mod load;
mod numbers;
mod qualify;
mod summary;
mod url;

pub use account::{
    is_default_free_mail, normalise_domain, AccountModel, Aggregate, ACCOUNT_ATTRIBUTE,
    DEFAULT_FREE_MAIL_DOMAINS,
};
pub use condition::AttrCondition;
use condition::EventMatcher;
pub use error::{ModelError, ModelWarning};
pub use event_condition::{EventCondition, EventConditionSpec};

/// One day of event time.
pub const DAY_MS: Millis = 24 * HOUR_MS;

/// A fit grade: A is the best fit, D the worst.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
pub enum Grade {
    A,
    B,
    C,
    D,
}

impl Grade {
    pub fn as_str(self) -> &'static str {
        match self {
            Grade::A => "A",
            Grade::B => "B",
            Grade::C => "C",
            Grade::D => "D",
        }
    }

    pub(super) fn parse(c: char) -> Option<Grade> {
        match c {
            'A' => Some(Grade::A),
            'B' => Some(Grade::B),
            'C' => Some(Grade::C),
            'D' => Some(Grade::D),
            _ => None,
        }
    }
}

impl fmt::Display for Grade {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// How a rule group's points fade with event time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Decay {
    /// Points never fade.
    None,
    /// Points halve every this many milliseconds.
    HalfLife(Millis),
    /// A match counts in full for this many milliseconds of event time
    /// after it, then not at all.
    Window(Millis),
}

/// How often a rule may count.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Cap {
    /// Every match counts.
    None,
    /// Only the first match ever counts.
    Once,
    /// At most `max` matches count within any `window` of event time.
    PerWindow { max: u32, window: Millis },
}

/// A named set of engagement rules sharing a decay.
#[derive(Debug, Clone)]
pub struct Group {
    pub name: Arc<str>,
    pub decay: Decay,
}

/// One engagement rule: matching events give it points.
#[derive(Debug, Clone)]
pub struct Rule {
    /// Stable identifier; state and explanations refer to rules by it.
    pub id: Arc<str>,
    /// What the rule means to a person, shown in alerts.
    pub label: Arc<str>,
    /// The event type it matches.
    pub event: EventType,
    /// Points per counted match; negative points lower the score and never
    /// decay.
    pub points: f64,
    /// Index into [`Model::groups`].
    pub group: usize,
    /// How often it may count.
    pub cap: Cap,
    matcher: EventMatcher,
}

impl Rule {
    /// True when `event` is of the rule's type and passes every condition.
    pub fn matches(&self, event: &Event) -> bool {
        event.kind.event_type() == self.event && self.matcher.matches(&event.kind)
    }
}

/// One fit rule: a profile attribute that says the lead is (or is not) a
/// good fit. Counts once while it holds.
#[derive(Debug, Clone)]
pub struct FitRule {
    pub id: Arc<str>,
    pub label: Arc<str>,
    pub condition: AttrCondition,
    pub points: f64,
}

/// What makes a lead disqualified.
#[derive(Debug, Clone)]
pub enum DisqualifyWhen {
    /// An event of this type (and conditions) happened: sticky.
    Event(EventType, EventMatcherHandle),
    /// A profile attribute holds: lifted if the attribute changes.
    Attribute(AttrCondition),
}

/// Opaque event conditions of a disqualifier.
#[derive(Debug, Clone)]
pub struct EventMatcherHandle(EventMatcher);

/// A disqualifying condition.
#[derive(Debug, Clone)]
pub struct Disqualifier {
    pub id: Arc<str>,
    pub label: Arc<str>,
    pub when: DisqualifyWhen,
}

impl Disqualifier {
    /// True when `event` triggers this (event-based) disqualifier.
    pub fn matches_event(&self, event: &Event) -> bool {
        match &self.when {
            DisqualifyWhen::Event(t, m) => {
                event.kind.event_type() == *t && m.0.matches(&event.kind)
            }
            DisqualifyWhen::Attribute(_) => false,
        }
    }
}

/// Grade bands: the minimum fit points for A, B and C; below C is D.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Grades {
    pub a: f64,
    pub b: f64,
    pub c: f64,
}

impl Grades {
    pub fn grade(&self, fit: f64) -> Grade {
        if fit >= self.a {
            Grade::A
        } else if fit >= self.b {
            Grade::B
        } else if fit >= self.c {
            Grade::C
        } else {
            Grade::D
        }
    }
}

/// When a lead is sales-ready. Every condition given must hold.
#[derive(Debug, Clone)]
pub struct Qualify {
    /// Minimum total score (fit + engagement).
    pub score_at_least: Option<f64>,
    /// Minimum engagement score.
    pub engagement_at_least: Option<f64>,
    /// Minimum fit grade (A is best).
    pub fit_grade_at_least: Option<Grade>,
    /// An A1–D4 matrix: engagement level thresholds (level 1 first) and the
    /// accepted (grade, level) cells.
    pub matrix: Option<Matrix>,
    /// After an alert, the lead alerts again only once its score has fallen
    /// below this (default: once it no longer qualifies) ...
    pub rearm_below: Option<f64>,
    /// ... or once this much event time has passed since the alert.
    pub cooldown: Option<Millis>,
}

/// `[refresh]`: a lead's score is re-published when decay alone has moved
/// it by `step` points since it was last published, or taken it below a
/// level the model decides on (`score_at_least`, `engagement_at_least`,
/// an engagement level, `rearm_below`).
#[derive(Debug, Clone, PartialEq)]
pub struct Refresh {
    /// Points of decay that re-publish a score (default 1).
    pub step: f64,
    /// An `mql` whose decayed score no longer qualifies goes back to
    /// `lead` (default off).
    pub mql_to_lead: bool,
}

/// The grade × engagement-level matrix.
#[derive(Debug, Clone)]
pub struct Matrix {
    /// Engagement needed for level 1, 2, 3, ...; below the last is the next level.
    pub levels: Vec<f64>,
    /// Accepted cells, e.g. (A, 1).
    pub cells: BTreeSet<(Grade, u8)>,
}

impl Matrix {
    /// The engagement level (1 is the most engaged).
    pub fn level(&self, engagement: f64) -> u8 {
        self.levels
            .iter()
            .position(|&min| engagement >= min)
            .unwrap_or(self.levels.len()) as u8
            + 1
    }
}

/// Which events count as re-sent: an `event_id` a lead has already had
/// counts once, if the first one is among the lead's latest `max_ids` ids
/// and less than `window` of event time older than its latest event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dedup {
    pub window: Millis,
    pub max_ids: usize,
}

impl Dedup {
    /// 7 days and 256 ids: at-least-once collectors re-send within
    /// minutes to hours, and few leads have 256 events in a week.
    pub const DEFAULT: Dedup = Dedup {
        window: 7 * DAY_MS,
        max_ids: 256,
    };

    /// True unless `window_hours` or `max_ids` is 0.
    pub fn is_on(&self) -> bool {
        self.window > 0 && self.max_ids > 0
    }
}

/// How much anonymous history a visitor keeps until it identifies: its
/// events for `ttl` of event time after its latest one, at most
/// `max_events` of them (the latest).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VisitorLimits {
    pub ttl: Millis,
    pub max_events: usize,
}

impl VisitorLimits {
    /// 30 days and 100 events: most B2B buyers fill a form within weeks of
    /// their first visit, and a visitor with more page views is a crawler.
    pub const DEFAULT: VisitorLimits = VisitorLimits {
        ttl: 30 * DAY_MS,
        max_events: 100,
    };

    /// True unless `visitor_ttl_days` or `max_events` is 0.
    pub fn is_on(&self) -> bool {
        self.ttl > 0 && self.max_events > 0
    }
}

/// A loaded, validated model. Immutable; share it behind an `Arc`.
#[derive(Debug)]
pub struct Model {
    /// Named in every output, so any score can be traced to the model that made it.
    pub version: Arc<str>,
    /// How long a rep has to respond to an alert.
    pub respond_within: Millis,
    /// Fit rules, in file order.
    pub fit_rules: Vec<FitRule>,
    /// Fit grade bands.
    pub grades: Grades,
    /// Engagement rule groups; index 0 is the implicit `default` group
    /// (no decay) for rules that name none.
    pub groups: Vec<Group>,
    /// Engagement rules, in file order.
    pub rules: Vec<Rule>,
    /// Disqualifiers, in file order.
    pub disqualifiers: Vec<Disqualifier>,
    /// When a lead is sales-ready.
    pub qualify: Qualify,
    /// Attributes that must be known before a lead goes to sales.
    pub require: Vec<String>,
    /// Which events count as re-sent and are not scored again.
    pub dedup: Dedup,
    /// How anonymous visitors' history is kept until they identify.
    pub visitors: VisitorLimits,
    /// Re-publishing of scores that decay has moved; `None`: scores are
    /// published on events only.
    pub refresh: Option<Refresh>,
    /// `[account]`: scoring accounts from their people; `None`: leads
    /// only, as before the section existed.
    pub account: Option<AccountModel>,
    by_type: [Vec<usize>; EventType::ALL.len()],
    dq_by_type: [Vec<usize>; EventType::ALL.len()],
    warnings: Vec<ModelWarning>,
}

impl Model {
    /// The most engagement points a lead could ever hold, if bounded.
    pub fn max_engagement(&self) -> Option<f64> {
        load::max_engagement(&self.rules)
    }

    /// The most fit points a lead could ever hold.
    pub fn max_fit(&self) -> f64 {
        load::max_fit(&self.fit_rules)
    }

    /// What is valid but probably not meant (a grade or matrix cell no lead
    /// can reach), in file order. `model check` shows them.
    pub fn warnings(&self) -> &[ModelWarning] {
        &self.warnings
    }

    /// The engagement rules that could match an event of type `t`, in file order.
    pub fn rules_for(&self, t: EventType) -> impl Iterator<Item = &Rule> {
        self.by_type[t.index()].iter().map(|&i| &self.rules[i])
    }

    /// Indexes into [`Model::rules`] of the rules for events of type `t`.
    pub fn rule_indexes_for(&self, t: EventType) -> &[usize] {
        &self.by_type[t.index()]
    }

    /// The event-based disqualifiers for events of type `t`.
    pub fn disqualifiers_for(&self, t: EventType) -> impl Iterator<Item = &Disqualifier> {
        self.dq_by_type[t.index()]
            .iter()
            .map(|&i| &self.disqualifiers[i])
    }

    /// Looks an engagement rule up by id.
    pub fn rule(&self, id: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| &*r.id == id)
    }

    /// The decay of a rule's group.
    pub fn decay_of(&self, rule: &Rule) -> Decay {
        self.groups[rule.group].decay
    }
}

#[cfg(test)]
mod contract_tests;
#[cfg(test)]
mod tests;
