//! Conditions: tests on profile attributes (fit rules, disqualifiers) and
//! on an event's fields (engagement rules, disqualifiers), with the checks
//! that make a condition that can never hold an error.

use std::collections::BTreeSet;
use std::ops::Range;

use globset::GlobBuilder;
use regex::Regex;
use toml::Spanned;

use super::error::{regex_error, Source};
use super::url::UrlGlob;
use super::ModelError;
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

    pub(super) fn describe(&self) -> String {
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
pub(super) struct EventMatcher {
    url: Option<UrlGlob>,
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

pub(super) fn attr_condition(
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

/// Checks that event conditions apply to the event type and builds them.
pub(super) fn event_matcher(
    owner: &str,
    event: EventType,
    f: EventFields<'_>,
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
    if let Some(v) = f.url {
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
    if let Some(v) = f.url_regex {
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
    if let Some(v) = f.form {
        applies("form", v.span(), &[EventType::FormSubmit])?;
        m.form = Some(v.get_ref().clone());
    }
    if let Some(v) = f.asset {
        applies("asset", v.span(), &[EventType::ContentDownload])?;
        m.asset = Some(v.get_ref().clone());
    }
    if let Some(v) = f.campaign {
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
    if let Some(v) = f.webinar {
        applies("webinar", v.span(), &[EventType::WebinarAttended])?;
        m.webinar = Some(v.get_ref().clone());
    }
    if let Some(v) = f.bounce {
        applies("bounce", v.span(), &[EventType::EmailBounce])?;
        m.bounce = Some(*v.get_ref());
    }
    Ok(m)
}
