//! The scoring model: the shared, versioned definition of a sales-ready lead.
//!
//! A lead's score is its **fit** (who they are: profile attributes, graded
//! A–D) plus its **engagement** (what they do: events, with caps and decay).
//! Disqualifiers stop a lead from ever alerting; `[qualify]` says when a lead
//! is sales-ready; `[handoff]` lists what must be known before sales gets it.
//!
//! Parsed from TOML (see `docs/model.md`). Unknown keys are errors, and every
//! validation error names the line and column it is about.

use std::collections::{BTreeMap, BTreeSet};

use super::attributes::Attributes;
use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use globset::{GlobBuilder, GlobMatcher};
use regex::Regex;
use serde::Deserialize;
use toml::Spanned;

use super::event::{BounceType, Event, EventKind, EventType, Millis, HOUR_MS};

/// One day of event time.
pub const DAY_MS: Millis = 24 * HOUR_MS;

/// A model that failed to load. The message is meant for the person editing
/// the file: it says where, and what to change.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ModelError {
    /// Not valid TOML, or a key/value of the wrong shape.
    #[error("{origin}: {message}")]
    Syntax { origin: String, message: String },
    /// Valid TOML that does not make a usable model.
    #[error("{origin}:{line}:{column}: {message}")]
    Invalid {
        origin: String,
        line: usize,
        column: usize,
        message: String,
    },
}

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

    fn parse(c: char) -> Option<Grade> {
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
    /// Points count only for matches within this many milliseconds (whole
    /// days) before the lead's latest event.
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

/// A test on one profile attribute.
#[derive(Debug, Clone)]
pub struct AttrCondition {
    /// The attribute it reads, e.g. `job_title`.
    pub attribute: String,
    test: AttrTest,
}

#[derive(Debug, Clone)]
enum AttrTest {
    Equals(String),
    /// Lower-cased for matching, and as written for people.
    In(BTreeSet<String>, Vec<String>),
    Matches(Regex),
    Contains(String),
    AtLeast(f64),
    Below(f64),
}

impl AttrCondition {
    /// True when the attribute is present and passes the test.
    pub fn holds(&self, attributes: &Attributes) -> bool {
        let Some(value) = attributes.get(&self.attribute) else {
            return false;
        };
        match &self.test {
            AttrTest::Equals(want) => value.eq_ignore_ascii_case(want),
            AttrTest::In(set, _) => set.contains(&value.to_ascii_lowercase()),
            AttrTest::Matches(re) => re.is_match(value),
            AttrTest::Contains(part) => value.to_ascii_lowercase().contains(part.as_str()),
            AttrTest::AtLeast(n) => value.trim().parse::<f64>().is_ok_and(|v| v >= *n),
            AttrTest::Below(n) => value.trim().parse::<f64>().is_ok_and(|v| v < *n),
        }
    }

    fn describe(&self) -> String {
        let a = &self.attribute;
        match &self.test {
            AttrTest::Equals(v) => format!("{a} = {v}"),
            AttrTest::In(_, written) => format!("{a} in [{}]", written.join(", ")),
            AttrTest::Matches(re) => format!("{a} matches /{}/", re.as_str()),
            AttrTest::Contains(v) => format!("{a} contains \"{v}\""),
            AttrTest::AtLeast(n) => format!("{a} ≥ {n}"),
            AttrTest::Below(n) => format!("{a} < {n}"),
        }
    }
}

/// Conditions an event must meet, besides its type.
#[derive(Debug, Clone, Default)]
struct EventMatcher {
    url: Option<UrlGlob>,
    url_regex: Option<Regex>,
    form: Option<String>,
    asset: Option<String>,
    campaign: Option<String>,
    webinar: Option<String>,
    bounce: Option<BounceType>,
}

impl EventMatcher {
    fn matches(&self, kind: &EventKind) -> bool {
        if self.url.is_some() || self.url_regex.is_some() {
            let Some(url) = kind.url() else {
                return false;
            };
            if self.url.as_ref().is_some_and(|g| !g.is_match(url))
                || self.url_regex.as_ref().is_some_and(|r| !r.is_match(url))
            {
                return false;
            }
        }
        match kind {
            EventKind::FormSubmit { form_id, .. } => eq_opt(&self.form, form_id),
            EventKind::ContentDownload { asset_id } => eq_opt(&self.asset, asset_id),
            EventKind::EmailOpen { campaign_id } | EventKind::EmailClick { campaign_id, .. } => {
                eq_opt(&self.campaign, campaign_id)
            }
            EventKind::EmailBounce {
                campaign_id,
                bounce_type,
            } => {
                eq_opt(&self.campaign, campaign_id) && self.bounce.is_none_or(|b| b == *bounce_type)
            }
            EventKind::WebinarAttended { webinar_id } => eq_opt(&self.webinar, webinar_id),
            _ => true,
        }
    }
}

/// A `url` glob. Most are literal text around `*`s (`*/pricing*`), matched
/// with substring searches; any other glob goes to globset's regex.
#[derive(Debug, Clone)]
enum UrlGlob {
    /// The literal pieces between `*`s, and whether the glob starts and
    /// ends with a `*`.
    Pieces {
        parts: Vec<memchr::memmem::Finder<'static>>,
        open_start: bool,
        open_end: bool,
    },
    Glob(GlobMatcher),
}

impl UrlGlob {
    fn new(text: &str, glob: &globset::Glob) -> UrlGlob {
        if text.contains(['?', '[', ']', '{', '}', '\\']) {
            return UrlGlob::Glob(glob.compile_matcher());
        }
        UrlGlob::Pieces {
            parts: text
                .split('*')
                .filter(|p| !p.is_empty())
                .map(|p| memchr::memmem::Finder::new(p).into_owned())
                .collect(),
            open_start: text.starts_with('*'),
            open_end: text.ends_with('*'),
        }
    }

    fn is_match(&self, url: &str) -> bool {
        let (parts, open_start, open_end) = match self {
            UrlGlob::Glob(g) => return g.is_match(url),
            UrlGlob::Pieces {
                parts,
                open_start,
                open_end,
            } => (parts, *open_start, *open_end),
        };
        let mut rest = url;
        let last = parts.len().saturating_sub(1);
        for (i, part) in parts.iter().enumerate() {
            let needle = part.needle();
            if i == 0 && !open_start {
                let Some(after) = rest.as_bytes().strip_prefix(needle) else {
                    return false;
                };
                rest = &rest[rest.len() - after.len()..];
                if parts.len() == 1 && !open_end {
                    return rest.is_empty();
                }
                continue;
            }
            if i == last && !open_end {
                return rest.as_bytes().ends_with(needle);
            }
            match part.find(rest.as_bytes()) {
                Some(at) => rest = &rest[at + needle.len()..],
                None => return false,
            }
        }
        !parts.is_empty() || open_start || open_end || url.is_empty()
    }
}

fn eq_opt(want: &Option<String>, got: &str) -> bool {
    want.as_deref().is_none_or(|w| w == got)
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

impl Qualify {
    /// True when a lead with these parts is sales-ready.
    pub fn holds(&self, fit_grade: Grade, engagement: f64, score: f64) -> bool {
        self.score_at_least.is_none_or(|min| score >= min)
            && self.engagement_at_least.is_none_or(|min| engagement >= min)
            && self.fit_grade_at_least.is_none_or(|g| fit_grade <= g)
            && self
                .matrix
                .as_ref()
                .is_none_or(|m| m.cells.contains(&(fit_grade, m.level(engagement))))
    }

    /// The number published as `threshold`: the score (or engagement) a
    /// lead needs.
    pub fn threshold(&self) -> f64 {
        self.score_at_least
            .or(self.engagement_at_least)
            .unwrap_or(0.0)
    }

    /// The condition in words, e.g. `score ≥ 60 and fit grade ≥ C`.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(s) = self.score_at_least {
            parts.push(format!("score ≥ {s}"));
        }
        if let Some(e) = self.engagement_at_least {
            parts.push(format!("engagement ≥ {e}"));
        }
        if let Some(g) = self.fit_grade_at_least {
            parts.push(format!("fit grade {g} or better"));
        }
        if let Some(m) = &self.matrix {
            let cells: Vec<String> = m.cells.iter().map(|(g, l)| format!("{g}{l}")).collect();
            parts.push(format!("matrix cell in {}", cells.join("/")));
        }
        parts.join(" and ")
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
    by_type: [Vec<usize>; EventType::ALL.len()],
    dq_by_type: [Vec<usize>; EventType::ALL.len()],
}

// ---- the file format --------------------------------------------------------

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ModelFile {
    version: Spanned<String>,
    respond_within_minutes: Option<Spanned<u32>>,
    #[serde(default)]
    fit: FitFile,
    #[serde(default)]
    engagement: EngagementFile,
    #[serde(default)]
    disqualify: Vec<DisqualifyFile>,
    qualify: Spanned<QualifyFile>,
    #[serde(default)]
    handoff: HandoffFile,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FitFile {
    grades: Option<Spanned<GradesFile>>,
    #[serde(default, rename = "rule")]
    rules: Vec<FitRuleFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GradesFile {
    #[serde(rename = "A")]
    a: Spanned<f64>,
    #[serde(rename = "B")]
    b: Spanned<f64>,
    #[serde(rename = "C")]
    c: Spanned<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FitRuleFile {
    id: Spanned<String>,
    label: Option<String>,
    attribute: Spanned<String>,
    equals: Option<Spanned<String>>,
    #[serde(rename = "in")]
    in_: Option<Spanned<Vec<String>>>,
    matches: Option<Spanned<String>>,
    contains: Option<Spanned<String>>,
    at_least: Option<Spanned<f64>>,
    below: Option<Spanned<f64>>,
    points: Spanned<f64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct EngagementFile {
    #[serde(default)]
    groups: BTreeMap<String, Spanned<GroupFile>>,
    #[serde(default, rename = "rule")]
    rules: Vec<RuleFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GroupFile {
    half_life_days: Option<f64>,
    window_days: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    id: Spanned<String>,
    label: Option<String>,
    group: Option<Spanned<String>>,
    event: Spanned<EventType>,
    url: Option<Spanned<String>>,
    url_regex: Option<Spanned<String>>,
    form: Option<Spanned<String>>,
    asset: Option<Spanned<String>>,
    campaign: Option<Spanned<String>>,
    webinar: Option<Spanned<String>>,
    bounce: Option<Spanned<BounceType>>,
    points: Spanned<f64>,
    once: Option<Spanned<bool>>,
    cap: Option<Spanned<CapFile>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CapFile {
    max: u32,
    per_days: f64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DisqualifyFile {
    id: Spanned<String>,
    label: Option<String>,
    event: Option<Spanned<EventType>>,
    url: Option<Spanned<String>>,
    campaign: Option<Spanned<String>>,
    bounce: Option<Spanned<BounceType>>,
    attribute: Option<Spanned<String>>,
    equals: Option<Spanned<String>>,
    #[serde(rename = "in")]
    in_: Option<Spanned<Vec<String>>>,
    matches: Option<Spanned<String>>,
    contains: Option<Spanned<String>>,
    at_least: Option<Spanned<f64>>,
    below: Option<Spanned<f64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct QualifyFile {
    score_at_least: Option<Spanned<f64>>,
    engagement_at_least: Option<Spanned<f64>>,
    fit_grade_at_least: Option<Spanned<Grade>>,
    engagement_levels: Option<Spanned<Vec<f64>>>,
    cells: Option<Spanned<Vec<String>>>,
    rearm_below: Option<Spanned<f64>>,
    cooldown_days: Option<Spanned<f64>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct HandoffFile {
    #[serde(default)]
    require: Vec<String>,
}

// ---- loading and validation ---------------------------------------------------

/// Builds errors that point into the file.
struct Source<'a> {
    origin: &'a str,
    text: &'a str,
}

impl Source<'_> {
    fn at(&self, span: Range<usize>, message: impl Into<String>) -> ModelError {
        let (line, column) = line_col(self.text, span.start);
        ModelError::Invalid {
            origin: self.origin.to_owned(),
            line,
            column,
            message: message.into(),
        }
    }
}

/// The useful last line of a regex error ("unclosed group").
fn regex_error(e: &regex::Error) -> String {
    let text = e.to_string();
    let last = text.lines().last().unwrap_or_default().trim();
    last.strip_prefix("error: ").unwrap_or(last).to_owned()
}

fn days(span: Range<usize>, d: f64, what: &str, src: &Source<'_>) -> Result<Millis, ModelError> {
    if !d.is_finite() || d <= 0.0 {
        return Err(src.at(
            span,
            format!("`{what}` must be a positive number of days, not {d}"),
        ));
    }
    Ok((d * DAY_MS as f64).round() as Millis)
}

/// Attribute condition keys shared by fit rules and disqualifiers.
struct AttrFields<'a> {
    equals: &'a Option<Spanned<String>>,
    in_: &'a Option<Spanned<Vec<String>>>,
    matches: &'a Option<Spanned<String>>,
    contains: &'a Option<Spanned<String>>,
    at_least: &'a Option<Spanned<f64>>,
    below: &'a Option<Spanned<f64>>,
}

fn attr_condition(
    owner: &str,
    attribute: &Spanned<String>,
    f: AttrFields<'_>,
    src: &Source<'_>,
) -> Result<AttrCondition, ModelError> {
    let name = attribute.get_ref().trim().to_owned();
    if name.is_empty() {
        return Err(src.at(
            attribute.span(),
            format!("{owner}: `attribute` must not be empty"),
        ));
    }
    let mut tests = Vec::new();
    if let Some(v) = f.equals {
        tests.push(AttrTest::Equals(v.get_ref().clone()));
    }
    if let Some(v) = f.in_ {
        if v.get_ref().is_empty() {
            return Err(src.at(
                v.span(),
                format!("{owner} can never match: `in` is an empty list"),
            ));
        }
        tests.push(AttrTest::In(
            v.get_ref().iter().map(|s| s.to_ascii_lowercase()).collect(),
            v.get_ref().clone(),
        ));
    }
    if let Some(v) = f.matches {
        let re = Regex::new(v.get_ref()).map_err(|e| {
            src.at(
                v.span(),
                format!(
                    "{owner}: `matches` is not a valid regex: {}",
                    regex_error(&e)
                ),
            )
        })?;
        tests.push(AttrTest::Matches(re));
    }
    if let Some(v) = f.contains {
        tests.push(AttrTest::Contains(v.get_ref().to_ascii_lowercase()));
    }
    if let Some(v) = f.at_least {
        tests.push(AttrTest::AtLeast(*v.get_ref()));
    }
    if let Some(v) = f.below {
        tests.push(AttrTest::Below(*v.get_ref()));
    }
    match tests.len() {
        1 => Ok(AttrCondition {
            attribute: name,
            test: tests.pop().expect("one test"),
        }),
        0 => Err(src.at(
            attribute.span(),
            format!("{owner}: give exactly one test for `{name}`: equals, in, matches, contains, at_least or below"),
        )),
        _ => Err(src.at(
            attribute.span(),
            format!("{owner}: give only one test for `{name}` (split it into several rules)"),
        )),
    }
}

/// Checks that event conditions apply to the event type and builds them.
#[allow(clippy::too_many_arguments)]
fn event_matcher(
    owner: &str,
    event: EventType,
    url: &Option<Spanned<String>>,
    url_regex: &Option<Spanned<String>>,
    form: &Option<Spanned<String>>,
    asset: &Option<Spanned<String>>,
    campaign: &Option<Spanned<String>>,
    webinar: &Option<Spanned<String>>,
    bounce: &Option<Spanned<BounceType>>,
    src: &Source<'_>,
) -> Result<EventMatcher, ModelError> {
    let applies = |key: &str, span: Range<usize>, types: &[EventType]| {
        if types.contains(&event) {
            Ok(())
        } else {
            let names: Vec<_> = types.iter().map(|t| t.as_str()).collect();
            Err(src.at(
                span,
                format!(
                    "{owner} can never match: `{key}` applies only to {} events, not {event}",
                    names.join(" and ")
                ),
            ))
        }
    };
    let mut m = EventMatcher::default();
    if let Some(v) = url {
        applies(
            "url",
            v.span(),
            &[EventType::PageView, EventType::EmailClick],
        )?;
        let glob = GlobBuilder::new(v.get_ref())
            .literal_separator(false)
            .build()
            .map_err(|e| {
                src.at(
                    v.span(),
                    format!("{owner}: `url` is not a valid glob: {}", e.kind()),
                )
            })?;
        m.url = Some(UrlGlob::new(v.get_ref(), &glob));
    }
    if let Some(v) = url_regex {
        applies(
            "url_regex",
            v.span(),
            &[EventType::PageView, EventType::EmailClick],
        )?;
        m.url_regex = Some(Regex::new(v.get_ref()).map_err(|e| {
            src.at(
                v.span(),
                format!(
                    "{owner}: `url_regex` is not a valid regex: {}",
                    regex_error(&e)
                ),
            )
        })?);
    }
    if let Some(v) = form {
        applies("form", v.span(), &[EventType::FormSubmit])?;
        m.form = Some(v.get_ref().clone());
    }
    if let Some(v) = asset {
        applies("asset", v.span(), &[EventType::ContentDownload])?;
        m.asset = Some(v.get_ref().clone());
    }
    if let Some(v) = campaign {
        applies(
            "campaign",
            v.span(),
            &[
                EventType::EmailOpen,
                EventType::EmailClick,
                EventType::EmailBounce,
            ],
        )?;
        m.campaign = Some(v.get_ref().clone());
    }
    if let Some(v) = webinar {
        applies("webinar", v.span(), &[EventType::WebinarAttended])?;
        m.webinar = Some(v.get_ref().clone());
    }
    if let Some(v) = bounce {
        applies("bounce", v.span(), &[EventType::EmailBounce])?;
        m.bounce = Some(*v.get_ref());
    }
    Ok(m)
}

fn unique_id(
    kind: &str,
    id: &Spanned<String>,
    seen: &mut BTreeSet<String>,
    src: &Source<'_>,
) -> Result<String, ModelError> {
    let name = id.get_ref().trim().to_owned();
    if name.is_empty() {
        return Err(src.at(id.span(), format!("{kind} `id` must not be empty")));
    }
    if !seen.insert(name.clone()) {
        return Err(src.at(
            id.span(),
            format!("id `{name}` is used twice; rule ids must be unique across the model"),
        ));
    }
    Ok(name)
}

fn points(owner: &str, p: &Spanned<f64>, src: &Source<'_>) -> Result<f64, ModelError> {
    let v = *p.get_ref();
    if !v.is_finite() || v == 0.0 {
        return Err(src.at(
            p.span(),
            format!("{owner}: `points` must be a non-zero number"),
        ));
    }
    Ok(v)
}

impl Model {
    /// Parses and validates a model. `origin` names the file in errors.
    pub fn from_toml(origin: &str, text: &str) -> Result<Model, ModelError> {
        let file: ModelFile = toml::from_str(text).map_err(|e| ModelError::Syntax {
            origin: origin.to_owned(),
            message: e.to_string().trim_end().to_owned(),
        })?;
        let src = Source { origin, text };
        let mut ids = BTreeSet::new();

        let version = file.version.get_ref().trim();
        if version.is_empty() {
            return Err(src.at(
                file.version.span(),
                "`version` must not be empty: it is named in every output",
            ));
        }
        let respond_within = match &file.respond_within_minutes {
            None => HOUR_MS,
            Some(m) if *m.get_ref() == 0 => {
                return Err(src.at(m.span(), "`respond_within_minutes` must be at least 1"))
            }
            Some(m) => Millis::from(*m.get_ref()) * 60_000,
        };

        // Fit.
        let grades = match &file.fit.grades {
            None => Grades {
                a: f64::INFINITY,
                b: f64::INFINITY,
                c: f64::INFINITY,
            },
            Some(g) => {
                let f = g.get_ref();
                let (a, b, c) = (*f.a.get_ref(), *f.b.get_ref(), *f.c.get_ref());
                if a <= b {
                    return Err(src.at(
                        f.b.span(),
                        format!("grade bands overlap: A starts at {a} fit points, so B must start below it, not at {b}"),
                    ));
                }
                if b <= c {
                    return Err(src.at(
                        f.c.span(),
                        format!("grade bands overlap: B starts at {b} fit points, so C must start below it, not at {c}"),
                    ));
                }
                Grades { a, b, c }
            }
        };
        let mut fit_rules = Vec::new();
        for r in &file.fit.rules {
            let id = unique_id("fit rule", &r.id, &mut ids, &src)?;
            let owner = format!("fit rule `{id}`");
            let condition = attr_condition(
                &owner,
                &r.attribute,
                AttrFields {
                    equals: &r.equals,
                    in_: &r.in_,
                    matches: &r.matches,
                    contains: &r.contains,
                    at_least: &r.at_least,
                    below: &r.below,
                },
                &src,
            )?;
            fit_rules.push(FitRule {
                points: points(&owner, &r.points, &src)?,
                label: r.label.clone().unwrap_or_else(|| id.clone()).into(),
                id: id.into(),
                condition,
            });
        }
        if let Some(g) = &file.fit.grades {
            let max_fit: f64 = fit_rules.iter().map(|r| r.points.max(0.0)).sum::<f64>() + 0.0;
            let c = g.get_ref().c.get_ref();
            if *c > max_fit {
                return Err(src.at(
                    g.get_ref().c.span(),
                    format!("grade C needs {c} fit points but the fit rules give at most {max_fit}, so every lead would be grade D"),
                ));
            }
        }

        // Engagement.
        let mut groups = vec![Group {
            name: "default".into(),
            decay: Decay::None,
        }];
        for (name, g) in &file.engagement.groups {
            let decay = match (g.get_ref().half_life_days, g.get_ref().window_days) {
                (None, None) => Decay::None,
                (Some(h), None) => Decay::HalfLife(days(g.span(), h, "half_life_days", &src)?),
                (None, Some(w)) => Decay::Window(days(g.span(), w, "window_days", &src)?),
                (Some(_), Some(_)) => {
                    return Err(src.at(
                        g.span(),
                        format!(
                        "group `{name}`: choose either `half_life_days` or `window_days`, not both"
                    ),
                    ))
                }
            };
            if name == "default" {
                groups[0].decay = decay;
            } else {
                groups.push(Group {
                    name: name.as_str().into(),
                    decay,
                });
            }
        }
        let mut rules = Vec::new();
        let mut by_type: [Vec<usize>; EventType::ALL.len()] = Default::default();
        for r in &file.engagement.rules {
            let id = unique_id("rule", &r.id, &mut ids, &src)?;
            let owner = format!("rule `{id}`");
            let event = *r.event.get_ref();
            let matcher = event_matcher(
                &owner,
                event,
                &r.url,
                &r.url_regex,
                &r.form,
                &r.asset,
                &r.campaign,
                &r.webinar,
                &r.bounce,
                &src,
            )?;
            let group = match &r.group {
                None => 0,
                Some(g) => groups
                    .iter()
                    .position(|x| *x.name == *g.get_ref())
                    .ok_or_else(|| {
                        let known: Vec<&str> = groups.iter().map(|g| &*g.name).collect();
                        src.at(
                            g.span(),
                            format!(
                                "{owner}: group `{}` is not defined under [engagement.groups] (known: {})",
                                g.get_ref(),
                                known.join(", ")
                            ),
                        )
                    })?,
            };
            let cap = match (&r.once, &r.cap) {
                (Some(o), Some(_)) if *o.get_ref() => {
                    return Err(src.at(
                        o.span(),
                        format!("{owner}: use either `once` or `cap`, not both"),
                    ))
                }
                (Some(o), _) if *o.get_ref() => Cap::Once,
                (_, Some(c)) => {
                    let f = c.get_ref();
                    if f.max == 0 {
                        return Err(
                            src.at(c.span(), format!("{owner} can never count: `cap.max` is 0"))
                        );
                    }
                    Cap::PerWindow {
                        max: f.max,
                        window: days(c.span(), f.per_days, "cap.per_days", &src)?,
                    }
                }
                _ => Cap::None,
            };
            by_type[event.index()].push(rules.len());
            rules.push(Rule {
                points: points(&owner, &r.points, &src)?,
                label: r.label.clone().unwrap_or_else(|| id.clone()).into(),
                id: id.into(),
                event,
                group,
                cap,
                matcher,
            });
        }

        // Disqualifiers.
        let mut disqualifiers = Vec::new();
        let mut dq_by_type: [Vec<usize>; EventType::ALL.len()] = Default::default();
        for d in &file.disqualify {
            let id = unique_id("disqualifier", &d.id, &mut ids, &src)?;
            let owner = format!("disqualifier `{id}`");
            let when = match (&d.event, &d.attribute) {
                (Some(e), None) => {
                    let t = *e.get_ref();
                    let m = event_matcher(
                        &owner,
                        t,
                        &d.url,
                        &None,
                        &None,
                        &None,
                        &d.campaign,
                        &None,
                        &d.bounce,
                        &src,
                    )?;
                    dq_by_type[t.index()].push(disqualifiers.len());
                    DisqualifyWhen::Event(t, EventMatcherHandle(m))
                }
                (None, Some(a)) => DisqualifyWhen::Attribute(attr_condition(
                    &owner,
                    a,
                    AttrFields {
                        equals: &d.equals,
                        in_: &d.in_,
                        matches: &d.matches,
                        contains: &d.contains,
                        at_least: &d.at_least,
                        below: &d.below,
                    },
                    &src,
                )?),
                _ => {
                    return Err(src.at(
                        d.id.span(),
                        format!("{owner}: give either `event` or `attribute` (exactly one)"),
                    ))
                }
            };
            disqualifiers.push(Disqualifier {
                label: d.label.clone().unwrap_or_else(|| id.clone()).into(),
                id: id.into(),
                when,
            });
        }

        let qualify = Self::qualify(&file.qualify, &src)?;
        let model = Model {
            version: version.into(),
            respond_within,
            fit_rules,
            grades,
            groups,
            rules,
            disqualifiers,
            qualify,
            require: file.handoff.require.clone(),
            by_type,
            dq_by_type,
        };
        model.check_reachable(&file.qualify, &src)?;
        Ok(model)
    }

    fn qualify(q: &Spanned<QualifyFile>, src: &Source<'_>) -> Result<Qualify, ModelError> {
        let f = q.get_ref();
        let matrix = match (&f.engagement_levels, &f.cells) {
            (None, None) => None,
            (Some(levels), Some(cells)) => {
                let l = levels.get_ref();
                if l.is_empty() || l.windows(2).any(|w| w[0] <= w[1]) {
                    return Err(src.at(
                        levels.span(),
                        "`engagement_levels` must list decreasing engagement scores, level 1 first",
                    ));
                }
                let mut set = BTreeSet::new();
                for c in cells.get_ref() {
                    let mut chars = c.chars();
                    let cell = match (
                        chars.next().and_then(Grade::parse),
                        chars.as_str().parse::<u8>(),
                    ) {
                        (Some(g), Ok(n)) if n >= 1 && usize::from(n) <= l.len() + 1 => (g, n),
                        _ => {
                            return Err(src.at(
                                cells.span(),
                                format!(
                                    "cell `{c}` is not a grade A–D followed by a level 1–{}",
                                    l.len() + 1
                                ),
                            ))
                        }
                    };
                    set.insert(cell);
                }
                if set.is_empty() {
                    return Err(src.at(
                        cells.span(),
                        "`cells` is empty, so no lead can ever qualify",
                    ));
                }
                Some(Matrix {
                    levels: l.clone(),
                    cells: set,
                })
            }
            (Some(s), None) => {
                return Err(src.at(
                    s.span(),
                    "`engagement_levels` needs `cells` (e.g. [\"A1\", \"A2\", \"B1\"])",
                ))
            }
            (None, Some(s)) => {
                return Err(src.at(
                    s.span(),
                    "`cells` needs `engagement_levels` (e.g. [50, 30, 15])",
                ))
            }
        };
        let qualify = Qualify {
            score_at_least: f.score_at_least.as_ref().map(|s| *s.get_ref()),
            engagement_at_least: f.engagement_at_least.as_ref().map(|s| *s.get_ref()),
            fit_grade_at_least: f.fit_grade_at_least.as_ref().map(|s| *s.get_ref()),
            matrix,
            rearm_below: f.rearm_below.as_ref().map(|s| *s.get_ref()),
            cooldown: match &f.cooldown_days {
                None => None,
                Some(c) => Some(days(c.span(), *c.get_ref(), "cooldown_days", src)?),
            },
        };
        if qualify.score_at_least.is_none()
            && qualify.engagement_at_least.is_none()
            && qualify.matrix.is_none()
        {
            return Err(src.at(
                q.span(),
                "[qualify] needs a score condition: `score_at_least`, `engagement_at_least`, or a matrix (`engagement_levels` + `cells`)",
            ));
        }
        for (name, v) in [
            ("score_at_least", &f.score_at_least),
            ("engagement_at_least", &f.engagement_at_least),
        ] {
            if let Some(v) = v {
                if !v.get_ref().is_finite() || *v.get_ref() <= 0.0 {
                    return Err(src.at(v.span(), format!("`{name}` must be a positive number")));
                }
            }
        }
        if let (Some(r), Some(s)) = (&f.rearm_below, qualify.score_at_least) {
            if *r.get_ref() >= s {
                return Err(src.at(
                    r.span(),
                    format!("`rearm_below` ({}) must be below `score_at_least` ({s}), or leads would alert on every event", r.get_ref()),
                ));
            }
        }
        Ok(qualify)
    }

    /// The most engagement points a lead could ever hold, if bounded.
    pub fn max_engagement(&self) -> Option<f64> {
        let mut total = 0.0;
        for r in self.rules.iter().filter(|r| r.points > 0.0) {
            match r.cap {
                Cap::Once => total += r.points,
                _ => return None,
            }
        }
        Some(total)
    }

    /// The most fit points a lead could ever hold.
    pub fn max_fit(&self) -> f64 {
        // `+ 0.0` turns the empty sum's -0 into 0 for messages.
        self.fit_rules
            .iter()
            .map(|r| r.points.max(0.0))
            .sum::<f64>()
            + 0.0
    }

    fn check_reachable(
        &self,
        q: &Spanned<QualifyFile>,
        src: &Source<'_>,
    ) -> Result<(), ModelError> {
        let f = q.get_ref();
        let max_eng = self.max_engagement();
        let bound = |v: Option<f64>| v.map_or("unbounded".to_owned(), |v| v.to_string());
        if let (Some(e), Some(max)) = (&f.engagement_at_least, max_eng) {
            if *e.get_ref() > max {
                return Err(src.at(
                    e.span(),
                    format!(
                        "no lead can reach engagement {}: the engagement rules give at most {max}",
                        e.get_ref()
                    ),
                ));
            }
        }
        if let Some(s) = &f.score_at_least {
            let max = max_eng.map(|m| m + self.max_fit());
            if max.is_some_and(|m| *s.get_ref() > m) {
                return Err(src.at(
                    s.span(),
                    format!(
                        "no lead can reach score {}: fit gives at most {} and engagement at most {}",
                        s.get_ref(),
                        self.max_fit(),
                        bound(max_eng)
                    ),
                ));
            }
        }
        if let Some(g) = &f.fit_grade_at_least {
            let best = self.grades.grade(self.max_fit());
            if best > *g.get_ref() {
                return Err(src.at(
                    g.span(),
                    format!(
                        "no lead can reach fit grade {}: the fit rules give at most {} points (grade {best})",
                        g.get_ref(),
                        self.max_fit()
                    ),
                ));
            }
        }
        if !self.rules.iter().any(|r| r.points > 0.0) && self.max_fit() <= 0.0 {
            return Err(src.at(
                q.span(),
                "no rule gives positive points, so no lead can ever qualify",
            ));
        }
        Ok(())
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
                let _ = writeln!(out, "After an alert it alerts again only once its score falls below {r} or {} days pass.", c / DAY_MS);
            }
            (Some(r), None) => {
                let _ = writeln!(
                    out,
                    "After an alert it alerts again only once its score falls below {r}."
                );
            }
            (None, Some(c)) => {
                let _ = writeln!(
                    out,
                    "After an alert it alerts again only once it stops qualifying or {} days pass.",
                    c / DAY_MS
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
                Decay::HalfLife(h) => format!(", halves every {} days", h / DAY_MS),
                Decay::Window(w) => format!(", counts for {} days", w / DAY_MS),
            };
            let cap = match r.cap {
                Cap::None => String::new(),
                Cap::Once => ", first time only".into(),
                Cap::PerWindow { max, window } => {
                    format!(", at most {max}× per {} days", window / DAY_MS)
                }
            };
            let decay = if r.points < 0.0 { String::new() } else { decay };
            let _ = writeln!(
                out,
                "  {:>+6}  {:<40} {}{cap}{decay}",
                r.points, r.label, r.event
            );
        }
        if !self.disqualifiers.is_empty() {
            let _ = writeln!(out, "\nNever alerts when:");
            for d in &self.disqualifiers {
                let when = match &d.when {
                    DisqualifyWhen::Event(t, _) => format!("on any {t} event that matches"),
                    DisqualifyWhen::Attribute(c) => c.describe(),
                };
                let _ = writeln!(out, "  {:<40} {}", d.label, when);
            }
        }
        out
    }
}

/// 1-based line and column of a byte offset.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.chars().count()
        - before
            .rfind('\n')
            .map_or(0, |i| before[..=i].chars().count())
        + 1;
    (line, column)
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod url_glob_tests {
    use super::UrlGlob;

    #[test]
    fn literal_globs_match_like_globset() {
        let patterns = [
            "*/pricing*",
            "*/customers/*",
            "https://a.io/*",
            "*.pdf",
            "*",
            "**",
            "",
            "exact",
            "a*b*c",
            "*a*a*",
            "/docs/*/intro",
            "*ab*ab",
            "ab*ab*",
        ];
        let urls = [
            "",
            "a",
            "ab",
            "abab",
            "aab",
            "abcab",
            "exact",
            "exactly",
            "https://a.io/",
            "https://a.io/pricing?x=1",
            "http://b.io/pricing",
            "/customers/x",
            "x.pdf",
            "x.pdf.html",
            "abc",
            "aXbYc",
            "acb",
            "/docs/x/intro",
            "/docs/intro",
            "ababab",
            "https://ex.com/customers/",
            "é/pricing",
        ];
        for p in patterns {
            let glob = globset::GlobBuilder::new(p)
                .literal_separator(false)
                .build()
                .unwrap();
            let reference = glob.compile_matcher();
            let fast = UrlGlob::new(p, &glob);
            assert!(matches!(fast, UrlGlob::Pieces { .. }), "{p} is literal");
            for u in urls {
                assert_eq!(
                    fast.is_match(u),
                    reference.is_match(u),
                    "glob {p:?} on {u:?}"
                );
            }
        }
        let glob = globset::Glob::new("*/page?").unwrap();
        assert!(matches!(UrlGlob::new("*/page?", &glob), UrlGlob::Glob(_)));
    }
}
