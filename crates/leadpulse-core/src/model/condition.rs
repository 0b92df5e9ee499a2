//! Conditions: tests on profile attributes (fit rules, disqualifiers) and
//! on an event's fields (engagement rules, disqualifiers), with the checks
//! that make a condition that can never hold an error.

use std::collections::BTreeSet;

use globset::GlobBuilder;
use regex::Regex;
use toml::Spanned;

use super::error::{regex_error, Source};
use super::numbers::{number, ATTRIBUTE_NUMBER};
use super::url::UrlGlob;
use crate::attributes::Attributes;
use crate::event::{BounceType, EventKind, EventType};

/// A test on one profile attribute.
#[derive(Debug, Clone)]
pub struct AttrCondition {
    /// The attribute it reads, e.g. `job_title`.
    pub attribute: String,
    test: AttrTest,
}

#[derive(Debug, Clone)]
pub(super) enum AttrTest {
    Equals(String),
    /// Lower-cased for matching, and as written for people.
    In(BTreeSet<String>, Vec<String>),
    Matches(Regex),
    Contains(String),
    AtLeast(f64),
    Below(f64),
}

/// An attribute value as a number for `at_least` / `below`: spaces around
/// it are ignored, and `nan` or `inf` is not a number.
fn numeric(value: &str) -> Option<f64> {
    value.trim().parse::<f64>().ok().filter(|v| v.is_finite())
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
            AttrTest::AtLeast(n) => numeric(value).is_some_and(|v| v >= *n),
            AttrTest::Below(n) => numeric(value).is_some_and(|v| v < *n),
        }
    }

    pub(super) fn describe(&self) -> String {
        let a = &self.attribute;
        match &self.test {
            AttrTest::Equals(v) => format!("{a} = {v}"),
            AttrTest::In(_, written) => format!("{a} in [{}]", written.join(", ")),
            AttrTest::Matches(re) => format!("{a} matches /{}/", re.as_str()),
            AttrTest::Contains(v) => format!("{a} contains \"{v}\""),
            AttrTest::AtLeast(n) => format!("{a} ≥ {}", number(*n)),
            AttrTest::Below(n) => format!("{a} < {}", number(*n)),
        }
    }
}

/// Conditions an event must meet, besides its type.
#[derive(Debug, Clone, Default)]
pub(super) struct EventMatcher {
    /// The glob as written, for people, and compiled.
    url: Option<(String, UrlGlob)>,
    url_regex: Option<Regex>,
    form: Option<String>,
    asset: Option<String>,
    campaign: Option<String>,
    webinar: Option<String>,
    bounce: Option<BounceType>,
}

impl EventMatcher {
    pub(super) fn matches(&self, kind: &EventKind) -> bool {
        if self.url.is_some() || self.url_regex.is_some() {
            let Some(url) = kind.url() else {
                return false;
            };
            if self.url.as_ref().is_some_and(|(_, g)| !g.is_match(url))
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

    /// Every condition in words, e.g. `url matches "*/pricing*"`; empty
    /// when the event type alone decides.
    pub(super) fn describe(&self) -> Vec<String> {
        let mut parts = Vec::new();
        if let Some((glob, _)) = &self.url {
            parts.push(format!("url matches \"{glob}\""));
        }
        if let Some(re) = &self.url_regex {
            parts.push(format!("url matches regex '{}'", re.as_str()));
        }
        for (key, v) in [
            ("form", &self.form),
            ("asset", &self.asset),
            ("campaign", &self.campaign),
            ("webinar", &self.webinar),
        ] {
            if let Some(v) = v {
                parts.push(format!("{key} = \"{v}\""));
            }
        }
        if let Some(b) = self.bounce {
            parts.push(format!("bounce = \"{}\"", b.as_str()));
        }
        parts
    }
}

fn eq_opt(want: &Option<String>, got: &str) -> bool {
    want.as_deref().is_none_or(|w| w == got)
}

/// Attribute condition keys shared by fit rules and disqualifiers.
pub(super) struct AttrFields<'a> {
    pub(super) equals: &'a Option<Spanned<String>>,
    pub(super) in_: &'a Option<Spanned<Vec<String>>>,
    pub(super) matches: &'a Option<Spanned<String>>,
    pub(super) contains: &'a Option<Spanned<String>>,
    pub(super) at_least: &'a Option<Spanned<f64>>,
    pub(super) below: &'a Option<Spanned<f64>>,
}

/// Builds an attribute test, reporting every problem with it; `None` if
/// there was one.
pub(super) fn attr_condition(
    owner: &str,
    attribute: &Spanned<String>,
    f: AttrFields<'_>,
    src: &Source<'_>,
) -> Option<AttrCondition> {
    let errors = src.error_count();
    let name = attribute.get_ref().trim().to_owned();
    if name.is_empty() {
        src.report(
            attribute.span(),
            format!("{owner}: `attribute` must not be empty"),
        );
    }
    let given = [
        f.equals.is_some(),
        f.in_.is_some(),
        f.matches.is_some(),
        f.contains.is_some(),
        f.at_least.is_some(),
        f.below.is_some(),
    ];
    let mut tests = Vec::new();
    if let Some(v) = f.equals {
        tests.push(AttrTest::Equals(v.get_ref().clone()));
    }
    if let Some(v) = f.in_ {
        if v.get_ref().is_empty() {
            src.report(
                v.span(),
                format!("{owner} can never match: `in` is an empty list"),
            );
        }
        tests.push(AttrTest::In(
            v.get_ref().iter().map(|s| s.to_ascii_lowercase()).collect(),
            v.get_ref().clone(),
        ));
    }
    if let Some(v) = f.matches {
        match Regex::new(v.get_ref()) {
            Ok(re) => tests.push(AttrTest::Matches(re)),
            Err(e) => src.report(
                v.span(),
                format!(
                    "{owner}: `matches` is not a valid regex: {}",
                    regex_error(&e)
                ),
            ),
        }
    }
    if let Some(v) = f.contains {
        tests.push(AttrTest::Contains(v.get_ref().to_ascii_lowercase()));
    }
    if let Some(v) = f.at_least {
        if let Some(n) = ATTRIBUTE_NUMBER.check("at_least", v, src) {
            tests.push(AttrTest::AtLeast(n));
        }
    }
    if let Some(v) = f.below {
        if let Some(n) = ATTRIBUTE_NUMBER.check("below", v, src) {
            tests.push(AttrTest::Below(n));
        }
    }
    match given.iter().filter(|&&g| g).count() {
        1 => {}
        0 => src.report(
            attribute.span(),
            format!("{owner}: give exactly one test for `{name}`: equals, in, matches, contains, at_least or below"),
        ),
        _ => src.report(
            attribute.span(),
            format!("{owner}: give only one test for `{name}` (split it into several rules)"),
        ),
    }
    if src.error_count() > errors {
        return None;
    }
    Some(AttrCondition {
        attribute: name,
        test: tests.pop().expect("exactly one test"),
    })
}

/// Event condition keys shared by engagement rules and disqualifiers.
#[derive(Default)]
pub(super) struct EventFields<'a> {
    pub(super) url: Option<&'a Spanned<String>>,
    pub(super) url_regex: Option<&'a Spanned<String>>,
    pub(super) form: Option<&'a Spanned<String>>,
    pub(super) asset: Option<&'a Spanned<String>>,
    pub(super) campaign: Option<&'a Spanned<String>>,
    pub(super) webinar: Option<&'a Spanned<String>>,
    pub(super) bounce: Option<&'a Spanned<BounceType>>,
}

/// Checks that the event type is engagement and that every condition
/// applies to it, and builds them; reports every problem, `None` if any.
pub(super) fn event_matcher(
    owner: &str,
    event: &Spanned<EventType>,
    f: EventFields<'_>,
    src: &Source<'_>,
) -> Option<EventMatcher> {
    let errors = src.error_count();
    let t = *event.get_ref();
    if t.is_feedback() {
        src.report(
            event.span(),
            format!("{owner} can never match: `{t}` is sales feedback (read from the feedback topic), not engagement; feedback events are never scored"),
        );
        return None;
    }
    let applies = |key: &str, span: std::ops::Range<usize>, types: &[EventType]| {
        if types.contains(&t) {
            true
        } else {
            let names: Vec<_> = types.iter().map(|t| t.as_str()).collect();
            src.report(
                span,
                format!(
                    "{owner} can never match: `{key}` applies only to {} events, not {t}",
                    names.join(" and ")
                ),
            );
            false
        }
    };
    const URL: &[EventType] = &[EventType::PageView, EventType::EmailClick];
    let mut m = EventMatcher::default();
    if let Some(v) = f.url.filter(|v| applies("url", v.span(), URL)) {
        match GlobBuilder::new(v.get_ref())
            .literal_separator(false)
            .build()
        {
            Ok(glob) => m.url = Some((v.get_ref().clone(), UrlGlob::new(v.get_ref(), &glob))),
            Err(e) => src.report(
                v.span(),
                format!("{owner}: `url` is not a valid glob: {}", e.kind()),
            ),
        }
    }
    if let Some(v) = f.url_regex.filter(|v| applies("url_regex", v.span(), URL)) {
        match Regex::new(v.get_ref()) {
            Ok(re) => m.url_regex = Some(re),
            Err(e) => src.report(
                v.span(),
                format!(
                    "{owner}: `url_regex` is not a valid regex: {}",
                    regex_error(&e)
                ),
            ),
        }
    }
    if let Some(v) = f
        .form
        .filter(|v| applies("form", v.span(), &[EventType::FormSubmit]))
    {
        m.form = Some(v.get_ref().clone());
    }
    if let Some(v) = f
        .asset
        .filter(|v| applies("asset", v.span(), &[EventType::ContentDownload]))
    {
        m.asset = Some(v.get_ref().clone());
    }
    let email = &[
        EventType::EmailOpen,
        EventType::EmailClick,
        EventType::EmailBounce,
    ];
    if let Some(v) = f.campaign.filter(|v| applies("campaign", v.span(), email)) {
        m.campaign = Some(v.get_ref().clone());
    }
    if let Some(v) = f
        .webinar
        .filter(|v| applies("webinar", v.span(), &[EventType::WebinarAttended]))
    {
        m.webinar = Some(v.get_ref().clone());
    }
    if let Some(v) = f
        .bounce
        .filter(|v| applies("bounce", v.span(), &[EventType::EmailBounce]))
    {
        m.bounce = Some(*v.get_ref());
    }
    (src.error_count() == errors).then_some(m)
}
